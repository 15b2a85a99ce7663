/**
 * MessageSender, the one ordered outbound queue's consumer, over a recording transport:
 * each kind of entry (a string, bytes, a tagged send, a prepared message, a raw frame, a
 * message stream's turn) goes out as the frames it must, read back with the reference wire
 * reader (no code shared with lib/); an extension's codec transforms a message with its
 * RSV bit on the first frame only; a turn holds the queue until it ends; the writer is
 * made lazily and honours a hold begun before it existed.
 */
import { Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { outboundReleased, type WriterOwner } from '../../lib/stream/connection-hooks.js';
import { checkRawFrame, MessageSender } from '../../lib/stream/message-sender.js';
import { StreamTurn, tagged } from '../../lib/stream/outbound-entry.js';
import { PreparedMessage } from '../../lib/stream/prepared-message.js';
import { counting, frame } from '../helpers/frames.js';
import { ToyExtension } from '../helpers/toy-extension.js';
import { type WireFrame, WireReader } from '../helpers/wire-reader.js';

/** A transport that records each write; with `held`, it calls back only when told. */
class Sink extends Duplex {
  readonly calls: Buffer[][] = [];
  held = false;
  #pending: Array<() => void> = [];

  constructor(highWaterMark = 16 * 1024) {
    super({ writableHighWaterMark: highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.calls.push([chunk]);
    this.#done(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: () => void): void {
    this.calls.push(chunks.map((c) => c.chunk));
    this.#done(callback);
  }

  override _read(): void {}

  release(): void {
    this.held = false;
    const pending = this.#pending;
    this.#pending = [];
    for (const callback of pending) callback();
  }

  frames(): WireFrame[] {
    return new WireReader().push(Buffer.concat(this.calls.flat()));
  }

  #done(callback: () => void): void {
    if (this.held) this.#pending.push(callback);
    else callback();
  }
}

interface Setup {
  mask?: boolean;
  budget?: number;
  threshold?: number;
  extension?: ToyExtension;
}

function sender(setup: Setup = {}) {
  const sink = new Sink();
  let released = 0;
  const owner: WriterOwner = {
    [outboundReleased]: () => {
      released++;
    },
  };
  const s = new MessageSender(
    sink,
    {
      mask: setup.mask ?? false,
      budget: setup.budget ?? 64 * 1024,
      fragmentationThreshold: setup.threshold ?? Number.POSITIVE_INFINITY,
      extensions: setup.extension === undefined ? [] : [setup.extension],
    },
    owner,
  );
  sink.on('drain', () => s.drained());
  return { sink, sender: s, released: () => released };
}

/** Writes one entry and resolves with its callback's error (as the Duplex's queue would). */
function send(s: MessageSender, chunk: unknown, encoding: BufferEncoding = 'utf8') {
  return new Promise<Error | null | undefined>((resolve) => s.write(chunk, encoding, resolve));
}

/** Lets batched frames reach the transport. */
async function flushed(): Promise<void> {
  await tick();
  await tick();
}

/** The encoding a Duplex without decodeStrings passes with a Buffer chunk. */
const BUFFER = 'buffer' as BufferEncoding;

const shape = (f: WireFrame) =>
  `${f.fin ? 'F' : '-'}${+f.rsv1}${+f.rsv2}${+f.rsv3} op${f.opcode} ${f.masked ? 'M' : 'U'} ${f.payload.length}`;

const inverted = (data: Buffer) => Buffer.from([...data].map((b) => b ^ 0xff));

describe('MessageSender: plain entries', () => {
  it('a string goes as one text frame, bytes as one binary frame, any Uint8Array too', async () => {
    const { sink, sender: s } = sender();
    expect(await send(s, 'héllo')).toBeUndefined();
    expect(await send(s, Buffer.from([1, 2, 3]))).toBeUndefined();
    expect(await send(s, new Uint16Array([0x0201, 0x0403]))).toBeUndefined();
    expect(await send(s, '')).toBeUndefined();
    await flushed();
    const frames = sink.frames();
    expect(frames.map(shape)).toEqual([
      'F000 op1 U 6',
      'F000 op2 U 3',
      'F000 op2 U 4',
      'F000 op1 U 0',
    ]);
    expect(frames[0]!.payload.toString()).toBe('héllo');
    expect([...frames[2]!.payload]).toEqual([1, 2, 3, 4]);
  });

  it('a string written with another encoding is decoded by it, and sent as UTF-8 text', async () => {
    const { sink, sender: s } = sender();
    await send(s, Buffer.from('κόσμε').toString('base64'), 'base64');
    await send(s, Buffer.from('hi').toString('hex'), 'hex');
    await send(s, 'x', 'utf-8');
    await flushed();
    expect(sink.frames().map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [Opcode.Text, 'κόσμε'],
      [Opcode.Text, 'hi'],
      [Opcode.Text, 'x'],
    ]);
  });

  it('cuts at the fragmentation threshold: opcode first, continuations, FIN on the last', async () => {
    const { sink, sender: s } = sender({ threshold: 100 });
    const payload = counting(250);
    await send(s, payload);
    await send(s, 'short');
    await flushed();
    const frames = sink.frames();
    expect(frames.map(shape)).toEqual([
      '-000 op2 U 100',
      '-000 op0 U 100',
      'F000 op0 U 50',
      'F000 op1 U 5',
    ]);
    expect(Buffer.concat(frames.slice(0, 3).map((f) => f.payload)).equals(payload)).toBe(true);
  });

  it('masks every frame when it is a client, and the payloads decode back', async () => {
    const { sink, sender: s } = sender({ mask: true, threshold: 1000 });
    const payload = counting(2500);
    await send(s, payload);
    await send(s, 'text');
    await flushed();
    const frames = sink.frames();
    expect(frames.every((f) => f.masked)).toBe(true);
    expect(Buffer.concat(frames.slice(0, 3).map((f) => f.payload)).equals(payload)).toBe(true);
    expect(frames[3]!.payload.toString()).toBe('text');
  });
});

describe('MessageSender: tagged entries', () => {
  it('send(data, { binary }) entries go with the type they say, whatever the bytes', async () => {
    const { sink, sender: s } = sender();
    await send(s, tagged(Buffer.from('as text'), { kind: 'send', binary: false, compress: true }));
    await send(s, tagged(Buffer.from('as binary'), { kind: 'send', binary: true, compress: true }));
    await flushed();
    expect(sink.frames().map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [Opcode.Text, 'as text'],
      [Opcode.Binary, 'as binary'],
    ]);
  });

  it('a prepared message goes out as its own bytes when unmasked and untransformed', async () => {
    const { sink, sender: s } = sender({ threshold: 50 });
    const prepared = new PreparedMessage(counting(120), true);
    await send(s, tagged(Buffer.alloc(0), { kind: 'prepared', message: prepared }));
    await flushed();
    // The shared bytes themselves are handed to the transport, not a copy.
    expect(sink.calls.flat()).toContain(prepared.bytes(50));
    expect(sink.frames().map(shape)).toEqual(['-000 op2 U 50', '-000 op0 U 50', 'F000 op0 U 20']);
  });

  it('a prepared message is framed and masked by a client itself', async () => {
    const { sink, sender: s } = sender({ mask: true });
    const prepared = new PreparedMessage(Buffer.from('to everyone'), false);
    await send(s, tagged(Buffer.alloc(0), { kind: 'prepared', message: prepared }));
    await flushed();
    expect(sink.calls.flat()).not.toContain(prepared.bytes(Number.POSITIVE_INFINITY));
    const [f] = sink.frames();
    expect([f!.masked, f!.opcode, f!.payload.toString()]).toEqual([
      true,
      Opcode.Text,
      'to everyone',
    ]);
  });

  it('a prepared message goes through the extension on a connection that has one', async () => {
    const extension = new ToyExtension();
    const { sink, sender: s } = sender({ extension });
    const prepared = new PreparedMessage(Buffer.from([1, 2, 3]), true);
    await send(s, tagged(Buffer.alloc(0), { kind: 'prepared', message: prepared }));
    await flushed();
    const [f] = sink.frames();
    expect([f!.rsv2, [...f!.payload]]).toEqual([true, [0xfe, 0xfd, 0xfc]]);
  });
});

describe('MessageSender: raw frames', () => {
  it('writes a Frame as it is: FIN, RSV bits, opcode and payload kept', async () => {
    const { sink, sender: s } = sender();
    const frames: Frame[] = [
      { ...frame(Opcode.Text, 'Hel', false), rsv3: true },
      frame(Opcode.Ping, 'p'),
      frame(Opcode.Continuation, 'lo'),
    ];
    for (const f of frames) expect(await send(s, f)).toBeUndefined();
    await flushed();
    expect(sink.frames().map(shape)).toEqual(['-001 op1 U 3', 'F000 op9 U 1', 'F000 op0 U 2']);
  });

  it('refuses a Close (close() sends it) and anything that is not a Frame, through the callback', async () => {
    const { sink, sender: s } = sender();
    const closeErr = await send(s, frame(Opcode.Close, Buffer.from([0x03, 0xe8])));
    expect(closeErr).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(closeErr?.message).toContain('close(code, reason)');
    const objectErr = await send(s, { opcode: 1, payload: 'not a buffer' });
    expect(objectErr).toBeInstanceOf(TypeError);
    await flushed();
    expect(sink.calls).toEqual([]);
    expect(() => checkRawFrame(null)).toThrow(TypeError);
    expect(checkRawFrame(frame(Opcode.Binary, 'x')).payload.toString()).toBe('x');
  });
});

describe('MessageSender: extensions', () => {
  it('transforms each message through its codec, RSV on the first frame only, in order', async () => {
    const extension = new ToyExtension();
    const { sink, sender: s, released } = sender({ extension, threshold: 4 });
    const messages = [Buffer.from('abcdefghij'), Buffer.from('xy')];
    for (const m of messages) expect(await send(s, m)).toBeUndefined();
    await flushed();
    const frames = sink.frames();
    expect(frames.map(shape)).toEqual([
      '-010 op2 U 4',
      '-000 op0 U 4',
      'F000 op0 U 2',
      'F010 op2 U 2',
    ]);
    expect(Buffer.concat(frames.slice(0, 3).map((f) => f.payload))).toEqual(inverted(messages[0]!));
    expect(frames[3]!.payload).toEqual(inverted(messages[1]!));
    // Each transformed message tells the owner when it is out (a deferred Close reply waits on it).
    expect(released()).toBe(2);
    expect(extension.outgoingCalls).toEqual([
      { binary: true, length: 10, compress: true },
      { binary: true, length: 2, compress: true },
    ]);
  });

  it('compress: false sends a message untransformed, and the extension is told', async () => {
    const extension = new ToyExtension();
    const { sink, sender: s } = sender({ extension });
    await send(s, tagged(Buffer.from('plain'), { kind: 'send', binary: false, compress: false }));
    await flushed();
    const [f] = sink.frames();
    expect([f!.rsv2, f!.payload.toString()]).toEqual([false, 'plain']);
    expect(extension.outgoingCalls).toEqual([{ binary: false, length: 5, compress: false }]);
  });
});

describe('MessageSender: a message stream holds the queue', () => {
  it("its turn's callback waits until the stream ends; its pieces go out meanwhile", async () => {
    const { sink, sender: s, released } = sender({ threshold: 3 });
    const turn = new StreamTurn();
    let turnDone = 0;
    s.write(tagged(Buffer.alloc(0), turn), BUFFER, () => turnDone++);
    expect(turn.started).toBe(true);
    expect(s.holdingTurn).toBe(true);
    await turn.ready;
    const message = s.streamMessage(false);
    await new Promise<void>((resolve) =>
      message.write(Buffer.from('abcd'), false, () => resolve()),
    );
    await new Promise<void>((resolve) => message.write(Buffer.from('ef'), true, () => resolve()));
    await flushed();
    expect(turnDone).toBe(0);
    expect(sink.frames().map(shape)).toEqual(['-000 op1 U 3', '-000 op0 U 1', 'F000 op0 U 2']);
    s.endTurn(turn);
    expect(turnDone).toBe(1);
    expect(s.holdingTurn).toBe(false);
    expect(released()).toBe(1);
    // Once only.
    s.endTurn(turn);
    expect(turnDone).toBe(1);
    expect(released()).toBe(1);
  });

  it('a turn that never started ends without releasing anything', () => {
    const { sender: s, released } = sender();
    const turn = new StreamTurn();
    s.endTurn(turn);
    expect(released()).toBe(0);
    expect(s.holdingTurn).toBe(false);
  });

  it('a streamed message goes through the extension, RSV on its first frame only', async () => {
    const extension = new ToyExtension();
    const { sink, sender: s } = sender({ extension });
    const message = s.streamMessage(true);
    await new Promise<void>((resolve) => message.write(Buffer.from([1]), false, () => resolve()));
    await new Promise<void>((resolve) => message.write(Buffer.from([2, 3]), true, () => resolve()));
    await flushed();
    expect(sink.frames().map(shape)).toEqual(['-010 op2 U 1', 'F000 op0 U 2']);
    expect(extension.outgoingCalls).toEqual([{ binary: true, length: undefined, compress: true }]);
  });
});

describe('MessageSender: the writer', () => {
  it('is made at the first write, honouring a hold begun before it existed', async () => {
    const { sink, sender: s } = sender();
    expect(s.queuedBytes).toBe(0);
    s.hold();
    await send(s, 'one');
    await send(s, 'two');
    s.control(Opcode.Ping, Buffer.from('p'));
    await flushed();
    expect(sink.calls).toEqual([]);
    s.release();
    await flushed();
    expect(sink.calls).toHaveLength(1);
    expect(sink.frames().map((f) => f.payload.toString())).toEqual(['one', 'two', 'p']);
  });

  it('flush() hands the batch over at once; pong() answers; abandon() releases waiting writes', async () => {
    const { sink, sender: s, released } = sender({ budget: 10 });
    sink.held = true;
    s.pong(Buffer.from('pong'));
    s.flush();
    expect(sink.frames().map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [Opcode.Pong, 'pong'],
    ]);
    // Over budget: the write waits for room.
    let called = 0;
    s.write(counting(50), BUFFER, () => called++);
    s.flush();
    expect(called).toBe(0);
    expect(s.queuedBytes).toBeGreaterThan(10);
    s.abandon();
    expect(called).toBe(1);
    expect(released()).toBe(1);
    sink.release();
  });
});
