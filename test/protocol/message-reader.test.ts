/**
 * MessageReader, without streams: frames (or the pieces of a frame) in, messages, streamed
 * messages, raw frames and control frames out through a recording handler. Every rule is
 * checked at the call that breaks it (the reader throws there), so that a test can say not
 * only which error but when.
 *
 * Byte vectors also go through the FrameDecoder (streamIncomplete, as the connection runs
 * it) whole, byte by byte, split at every index and at seeded random splits: the reader must
 * give the same messages however the bytes arrive, and fail with the same error.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ErrorCode, ProtocolError } from '../../lib/protocol/errors.js';
import type { Frame, FrameHeader } from '../../lib/protocol/frame.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import type { ReceiveMode } from '../../lib/protocol/limits.js';
import type { IncomingLimits, MessageCodec } from '../../lib/protocol/message-codec.js';
import {
  MessageReader,
  type MessageReaderHandler,
  type MessageReaderOptions,
  rsvOf,
} from '../../lib/protocol/message-reader.js';
import { Opcode, Rsv } from '../../lib/protocol/opcodes.js';
import { forEachChunking } from '../helpers/chunking.js';
import {
  binary,
  close,
  cont,
  counting,
  encodeFrames,
  frame,
  ping,
  pong,
  RFC_KEY,
  text,
} from '../helpers/frames.js';
import { ToyExtension } from '../helpers/toy-extension.js';

// ---------------------------------------------------------------------------------------
// Helpers

/** What the handler was given, in order, in a comparable form. */
type Event =
  | { control: number; payload: string }
  | { message: string }
  | { binary: string }
  | { start: 'text' | 'binary' }
  | { piece: string }
  | { end: true }
  | { frame: string }
  | { codecDone: string };

/** A handler that records everything, in the order it was called. */
class Recorder implements MessageReaderHandler {
  readonly events: Event[] = [];
  /** The Buffers handed to message() and frame(), as they were (for identity checks). */
  readonly raw: unknown[] = [];
  /** Resolves at the next codecDone. */
  #waiter: ((err: Error | undefined) => void) | undefined;

  control(f: Frame): void {
    this.events.push({ control: f.opcode, payload: f.payload.toString('hex') });
  }
  message(data: string | Buffer): void {
    this.raw.push(data);
    this.events.push(
      typeof data === 'string' ? { message: data } : { binary: data.toString('hex') },
    );
  }
  messageStart(isBinary: boolean): void {
    this.events.push({ start: isBinary ? 'binary' : 'text' });
  }
  messagePiece(data: Buffer): void {
    this.events.push({ piece: data.toString('hex') });
  }
  messageEnd(): void {
    this.events.push({ end: true });
  }
  frame(f: Frame): void {
    this.raw.push(f);
    this.events.push({ frame: frameText(f) });
  }
  codecDone(err: Error | undefined): void {
    this.events.push({ codecDone: err === undefined ? 'ok' : codeOf(err) });
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(err);
  }
  /** Resolves with the error of the next codecDone. */
  nextCodecDone(): Promise<Error | undefined> {
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }
}

function frameText(f: Frame): string {
  const rsv = `${+f.rsv1}${+f.rsv2}${+f.rsv3}`;
  return `fin=${+f.fin} rsv=${rsv} op=${f.opcode} ${f.payload.toString('hex')}`;
}

function codeOf(err: unknown): string {
  return (err as ProtocolError).code ?? String(err);
}

function reader(mode: ReceiveMode, options: Partial<MessageReaderOptions> = {}) {
  const handler = new Recorder();
  return { handler, reader: new MessageReader(handler, { mode, ...options }) };
}

/** A header for frameStart. */
function header(
  opcode: number,
  payloadLength: number,
  flags: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean } = {},
): FrameHeader {
  return {
    fin: flags.fin ?? true,
    rsv1: flags.rsv1 ?? false,
    rsv2: flags.rsv2 ?? false,
    rsv3: flags.rsv3 ?? false,
    opcode: opcode as FrameHeader['opcode'],
    payloadLength,
    maskKey: undefined,
  };
}

/** A frame with RSV bits. */
function rsvFrame(
  opcode: number,
  payload: Buffer | string,
  rsv: { rsv1?: boolean; rsv2?: boolean; rsv3?: boolean },
  fin = true,
): Frame {
  return { ...frame(opcode, payload, fin), ...rsv };
}

/** Calls `fn` and returns the ProtocolError it throws (fails when it throws nothing else). */
function thrown(fn: () => void): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

const hex = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s) : s).toString('hex');
const euro = Buffer.from('€'); // e2 82 ac

/** Inverts bytes, as the toy extension does on the wire. */
const inverted = (data: Buffer | string) =>
  Buffer.from([...(typeof data === 'string' ? Buffer.from(data) : data)].map((b) => b ^ 0xff));

/** A codec that calls back at once and doubles every byte (a toy "decompressor"). */
function doublingCodec(calls: Array<{ piece: string; last: boolean }> = []): MessageCodec {
  return {
    transform(piece, last, output, done) {
      calls.push({ piece: piece.toString('hex'), last });
      if (piece.length > 0) output(Buffer.concat([piece, piece]));
      done();
    },
  };
}

// ---------------------------------------------------------------------------------------
// 'messages' mode, whole frames

describe("MessageReader 'messages': whole frames", () => {
  it('hands a message in one plain frame on as it is (the fast path: the same Buffer, no copy)', () => {
    const { handler, reader: r } = reader('messages');
    const payload = counting(300);
    const f = binary(payload);
    r.frame(f);
    expect(handler.events).toEqual([{ binary: payload.toString('hex') }]);
    expect(handler.raw[0]).toBe(payload);
    expect(r.inMessage).toBe(false);
  });

  it('decodes a text frame to a string, multi-byte code points included', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(text('κόσμε €'));
    r.frame(text(''));
    r.frame(binary(''));
    expect(handler.events).toEqual([{ message: 'κόσμε €' }, { message: '' }, { binary: '' }]);
  });

  it('gathers fragments, a code point cut across them, empty ones included', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(text(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]), false));
    expect(r.inMessage).toBe(true);
    r.frame(cont('', false));
    r.frame(cont(euro.subarray(1, 2), false));
    r.frame(cont(Buffer.concat([euro.subarray(2), Buffer.from('b')]), true));
    expect(r.inMessage).toBe(false);
    expect(handler.events).toEqual([{ message: 'a€b' }]);
  });

  it('gathers large and tiny binary fragments alike', () => {
    const { handler, reader: r } = reader('messages');
    const payload = counting(70_000);
    const cuts = [0, 1, 2, 2000, 2001, 40_000, 70_000];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const piece = payload.subarray(cuts[i]!, cuts[i + 1]!);
      r.frame(i === 0 ? binary(piece, false) : cont(piece, i + 2 === cuts.length));
    }
    expect(handler.events).toEqual([{ binary: payload.toString('hex') }]);
  });

  it('hands control frames on in their place, before the message they interrupt', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(ping('p1'));
    r.frame(text('Hel', false));
    r.frame(pong('p2'));
    r.frame(ping(''));
    r.frame(cont('lo'));
    r.frame(close(Buffer.from([0x03, 0xe8])));
    expect(handler.events).toEqual([
      { control: Opcode.Ping, payload: hex('p1') },
      { control: Opcode.Pong, payload: hex('p2') },
      { control: Opcode.Ping, payload: '' },
      { message: 'Hello' },
      { control: Opcode.Close, payload: '03e8' },
    ]);
  });

  it('calls nothing but control() for a control frame (no message state touched)', () => {
    const { handler, reader: r } = reader('messages', { maxMessageSize: 0 });
    r.frame(ping(counting(125)));
    expect(handler.events).toHaveLength(1);
    expect(r.inMessage).toBe(false);
  });
});

describe("MessageReader 'messages': order errors (1002)", () => {
  const cases: Array<{ name: string; frames: Frame[]; code: string; at: number }> = [
    {
      name: 'a continuation with no message to continue',
      frames: [cont('x')],
      code: ErrorCode.UnexpectedContinuation,
      at: 0,
    },
    {
      name: 'a continuation after a finished message',
      frames: [text('a'), cont('x')],
      code: ErrorCode.UnexpectedContinuation,
      at: 1,
    },
    {
      name: 'a new text frame inside a fragmented message',
      frames: [binary('a', false), text('b')],
      code: ErrorCode.ExpectedContinuation,
      at: 1,
    },
    {
      name: 'a new binary frame inside a fragmented message, not final',
      frames: [text('a', false), binary('b', false)],
      code: ErrorCode.ExpectedContinuation,
      at: 1,
    },
    {
      name: 'a reserved data opcode (3)',
      frames: [frame(3, 'x')],
      code: ErrorCode.InvalidOpcode,
      at: 0,
    },
  ];
  for (const mode of ['messages', 'streams', 'frames'] as const) {
    for (const c of cases) {
      it(`${mode}: ${c.name}: ${c.code} at frame ${c.at}`, () => {
        const { reader: r } = reader(mode);
        for (let i = 0; i < c.frames.length; i++) {
          if (i < c.at) {
            r.frame(c.frames[i]!);
            continue;
          }
          const err = thrown(() => r.frame(c.frames[i]!));
          expect(err.code).toBe(c.code);
          expect(err.closeCode).toBe(CloseCode.ProtocolError);
          return;
        }
        throw new Error('the error frame was never reached');
      });
    }
  }
});

describe("MessageReader 'messages': UTF-8 (1007)", () => {
  it('refuses bad UTF-8 in a single frame', () => {
    const { handler, reader: r } = reader('messages');
    const err = thrown(() => r.frame(text(Buffer.from([0x61, 0xff]))));
    expect(err.code).toBe(ErrorCode.InvalidUtf8);
    expect(err.closeCode).toBe(CloseCode.InvalidPayload);
    expect(handler.events).toEqual([]);
  });

  it('fails at the first fragment that holds a bad byte, not at the end of the message', () => {
    const { reader: r } = reader('messages');
    r.frame(text('fine', false));
    const err = thrown(() => r.frame(cont(Buffer.from([0x61, 0xc0, 0x80]), false)));
    expect(err.code).toBe(ErrorCode.InvalidUtf8);
  });

  it('fails a message that ends inside a code point at its final frame', () => {
    const { reader: r } = reader('messages');
    r.frame(text(euro.subarray(0, 2), false)); // fine so far: the code point may go on
    const err = thrown(() => r.frame(cont('', true)));
    expect(err.code).toBe(ErrorCode.InvalidUtf8);
  });

  it('does not check binary payloads', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(binary(Buffer.from([0xff, 0xfe]), false));
    r.frame(cont(Buffer.from([0xc0])));
    expect(handler.events).toEqual([{ binary: 'fffec0' }]);
  });

  it('checks each message afresh: a bad message after a good one, and a good one after a cut-off one', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(text('€'));
    r.frame(text(euro.subarray(0, 1), false));
    r.frame(cont(euro.subarray(1)));
    expect(handler.events).toEqual([{ message: '€' }, { message: '€' }]);
  });
});

describe("MessageReader 'messages': the size limit (1009)", () => {
  it('takes a message of exactly the limit, in one frame and in fragments', () => {
    const { handler, reader: r } = reader('messages', { maxMessageSize: 10 });
    r.frame(binary(counting(10)));
    r.frame(binary(counting(4), false));
    r.frame(cont(counting(6, 4)));
    expect(handler.events).toEqual([
      { binary: counting(10).toString('hex') },
      { binary: counting(10).toString('hex') },
    ]);
  });

  it('refuses one byte over the limit, in one frame, naming the default option', () => {
    const { handler, reader: r } = reader('messages', { maxMessageSize: 10 });
    const err = thrown(() => r.frame(binary(counting(11))));
    expect(err.code).toBe(ErrorCode.MessageTooLarge);
    expect(err.closeCode).toBe(CloseCode.MessageTooBig);
    expect(err.message).toContain('maxMessageSize');
    expect(err.message).toContain('10 bytes');
    expect(handler.events).toEqual([]);
  });

  it('refuses at the fragment that crosses the limit, naming the option that set it', () => {
    const { reader: r } = reader('messages', {
      maxMessageSize: 10,
      maxMessageSizeOption: 'maxReceivedMessageSize',
    });
    r.frame(text('12345', false));
    r.frame(cont('12345', false));
    r.frame(cont('', false));
    const err = thrown(() => r.frame(cont('1', false)));
    expect(err.code).toBe(ErrorCode.MessageTooLarge);
    expect(err.message).toContain('maxReceivedMessageSize');
  });

  it('counts each message from zero', () => {
    const { handler, reader: r } = reader('messages', { maxMessageSize: 4 });
    for (let i = 0; i < 5; i++) {
      r.frame(binary(counting(2), false));
      r.frame(cont(counting(2, 2)));
    }
    expect(handler.events).toHaveLength(5);
  });

  it('has no limit by default', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(binary(Buffer.alloc(5 * 1024 * 1024), false));
    r.frame(cont(Buffer.alloc(5 * 1024 * 1024)));
    expect(handler.events).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------
// A frame in pieces (frameStart / frameData / frameEnd)

describe('MessageReader: a frame arriving in pieces', () => {
  it("'messages': gathers one frame's pieces into the message, handed out at frameEnd", () => {
    const { handler, reader: r } = reader('messages');
    const payload = counting(3000);
    r.frameStart(header(Opcode.Binary, 3000));
    r.frameData(payload.subarray(0, 1));
    r.frameData(payload.subarray(1, 2000));
    expect(handler.events).toEqual([]);
    r.frameData(payload.subarray(2000));
    expect(handler.events).toEqual([]);
    r.frameEnd();
    const expected = payload.toString('hex');
    expect(handler.events).toEqual([{ binary: expected }]);
    // Copied into a buffer of its own, not a view of the pieces: changing them changes nothing.
    payload.fill(0);
    expect((handler.raw[0] as Buffer).toString('hex')).toBe(expected);
  });

  it("'messages': a fragmented message whose fragments arrive whole and in pieces", () => {
    const { handler, reader: r } = reader('messages');
    r.frameStart(header(Opcode.Text, 4, { fin: false }));
    r.frameData(Buffer.from('ab'));
    r.frameData(Buffer.concat([Buffer.from('c'), euro.subarray(0, 1)]));
    r.frameEnd();
    r.frame(ping('x'));
    r.frame(cont(euro.subarray(1), false));
    r.frameStart(header(Opcode.Continuation, 3));
    r.frameData(Buffer.from('def'));
    r.frameEnd();
    expect(handler.events).toEqual([
      { control: Opcode.Ping, payload: hex('x') },
      { message: 'abc€def' },
    ]);
  });

  it("'messages': an empty piece changes nothing", () => {
    const { handler, reader: r } = reader('messages');
    r.frameStart(header(Opcode.Text, 2));
    r.frameData(Buffer.alloc(0));
    r.frameData(Buffer.from('hi'));
    r.frameData(Buffer.alloc(0));
    r.frameEnd();
    expect(handler.events).toEqual([{ message: 'hi' }]);
  });

  it("'streams': hands each piece on as it comes, before the frame ends", () => {
    const { handler, reader: r } = reader('streams');
    r.frameStart(header(Opcode.Text, 6, { fin: false }));
    expect(handler.events).toEqual([{ start: 'text' }]);
    r.frameData(Buffer.from('ab'));
    expect(handler.events).toEqual([{ start: 'text' }, { piece: hex('ab') }]);
    r.frameData(Buffer.from('cdef'));
    r.frameEnd();
    r.frameStart(header(Opcode.Continuation, 1));
    r.frameData(Buffer.from('g'));
    expect(handler.events.at(-1)).toEqual({ piece: hex('g') });
    r.frameEnd();
    expect(handler.events).toEqual([
      { start: 'text' },
      { piece: hex('ab') },
      { piece: hex('cdef') },
      { piece: hex('g') },
      { end: true },
    ]);
  });

  it('UTF-8 fails at the first bad piece INSIDE a frame, before the frame ends', () => {
    for (const mode of ['messages', 'streams'] as const) {
      const { handler, reader: r } = reader(mode);
      r.frameStart(header(Opcode.Text, 100));
      r.frameData(Buffer.from('abc'));
      const err = thrown(() => r.frameData(Buffer.from([0x64, 0xff])));
      expect(err.code, mode).toBe(ErrorCode.InvalidUtf8);
      // The bad piece was never handed on.
      expect(handler.events, mode).toEqual(
        mode === 'streams' ? [{ start: 'text' }, { piece: hex('abc') }] : [],
      );
    }
  });

  it('UTF-8: an overlong or surrogate sequence fails as soon as its second byte is seen', () => {
    for (const bad of [
      [0xe0, 0x80],
      [0xf0, 0x80],
      [0xed, 0xa0],
      [0xf4, 0x90],
    ]) {
      const { reader: r } = reader('messages');
      r.frameStart(header(Opcode.Text, 50));
      r.frameData(Buffer.from([bad[0]!]));
      expect(thrown(() => r.frameData(Buffer.from([bad[1]!]))).code).toBe(ErrorCode.InvalidUtf8);
    }
  });

  it('UTF-8: a final frame that ends inside a code point fails at frameEnd', () => {
    const { reader: r } = reader('messages');
    r.frameStart(header(Opcode.Text, 2));
    r.frameData(euro.subarray(0, 2));
    expect(thrown(() => r.frameEnd()).code).toBe(ErrorCode.InvalidUtf8);
  });

  it('UTF-8: a non-final frame may end inside a code point', () => {
    const { handler, reader: r } = reader('messages');
    r.frameStart(header(Opcode.Text, 2, { fin: false }));
    r.frameData(euro.subarray(0, 2));
    r.frameEnd();
    r.frame(cont(euro.subarray(2)));
    expect(handler.events).toEqual([{ message: '€' }]);
  });

  describe('limits', () => {
    for (const mode of ['messages', 'streams'] as const) {
      it(`${mode}: refuses an announced length over the limit at the header, naming the option`, () => {
        const { handler, reader: r } = reader(mode, {
          maxMessageSize: 1000,
          maxMessageSizeOption: 'maxStreamedMessageSize',
        });
        const err = thrown(() => r.frameStart(header(Opcode.Binary, 1001)));
        expect(err.code).toBe(ErrorCode.MessageTooLarge);
        expect(err.closeCode).toBe(CloseCode.MessageTooBig);
        expect(err.message).toContain('maxStreamedMessageSize');
        expect(err.message).toContain('1000 bytes');
        // Refused before anything was handed on (in 'streams' a message has begun).
        expect(handler.events.filter((e) => !('start' in e))).toEqual([]);
      });

      it(`${mode}: refuses a fragment whose announced length takes the message over`, () => {
        const { reader: r } = reader(mode, { maxMessageSize: 1000 });
        r.frame(binary(counting(600), false));
        r.frameStart(header(Opcode.Continuation, 400, { fin: false }));
        r.frameData(counting(400));
        r.frameEnd();
        expect(thrown(() => r.frameStart(header(Opcode.Continuation, 1))).code).toBe(
          ErrorCode.MessageTooLarge,
        );
      });

      it(`${mode}: takes an announced length of exactly the limit`, () => {
        const { handler, reader: r } = reader(mode, { maxMessageSize: 1000 });
        r.frameStart(header(Opcode.Binary, 1000));
        r.frameData(counting(1000));
        r.frameEnd();
        expect(handler.events.at(-1)).toEqual(
          mode === 'messages' ? { binary: counting(1000).toString('hex') } : { end: true },
        );
      });
    }

    it("'streams': refuses pieces as the bytes arrive (whole frames), handing on none over the limit", () => {
      const { handler, reader: r } = reader('streams', { maxMessageSize: 10 });
      r.frame(binary(counting(4), false));
      r.frame(cont(counting(4, 4), false));
      const err = thrown(() => r.frame(cont(counting(3, 8), false)));
      expect(err.code).toBe(ErrorCode.MessageTooLarge);
      expect(handler.events).toEqual([
        { start: 'binary' },
        { piece: counting(4).toString('hex') },
        { piece: counting(4, 4).toString('hex') },
      ]);
    });
  });
});

// ---------------------------------------------------------------------------------------
// 'streams' mode

describe("MessageReader 'streams'", () => {
  it('starts, pieces and ends a message in one frame; an empty message has no piece', () => {
    const { handler, reader: r } = reader('streams');
    r.frame(binary(counting(5)));
    r.frame(text(''));
    expect(handler.events).toEqual([
      { start: 'binary' },
      { piece: counting(5).toString('hex') },
      { end: true },
      { start: 'text' },
      { end: true },
    ]);
  });

  it('one start per message, a piece per non-empty fragment, control frames in between', () => {
    const { handler, reader: r } = reader('streams');
    r.frame(text('Hel', false));
    r.frame(ping('p'));
    r.frame(cont('', false));
    r.frame(cont('lo'));
    r.frame(binary('x'));
    expect(handler.events).toEqual([
      { start: 'text' },
      { piece: hex('Hel') },
      { control: Opcode.Ping, payload: hex('p') },
      { piece: hex('lo') },
      { end: true },
      { start: 'binary' },
      { piece: hex('x') },
      { end: true },
    ]);
  });

  it('fails bad UTF-8 without handing on the piece that holds it', () => {
    const { handler, reader: r } = reader('streams');
    r.frame(text('ok', false));
    expect(thrown(() => r.frame(cont(Buffer.from([0x61, 0xff]), false))).code).toBe(
      ErrorCode.InvalidUtf8,
    );
    expect(handler.events).toEqual([{ start: 'text' }, { piece: hex('ok') }]);
  });

  it('has no limit by default', () => {
    const { handler, reader: r } = reader('streams');
    r.frameStart(header(Opcode.Binary, Number.MAX_SAFE_INTEGER));
    expect(handler.events).toEqual([{ start: 'binary' }]);
  });
});

// ---------------------------------------------------------------------------------------
// 'frames' mode

describe("MessageReader 'frames'", () => {
  it('hands every data frame on as it is (the same object), control frames through control()', () => {
    const { handler, reader: r } = reader('frames');
    const frames = [text('Hel', false), ping('p'), cont('lo'), binary(counting(3))];
    for (const f of frames) r.frame(f);
    expect(handler.raw).toEqual([frames[0], frames[2], frames[3]]);
    expect(handler.raw[0]).toBe(frames[0]);
    expect(handler.events.map((e) => Object.keys(e)[0])).toEqual([
      'frame',
      'control',
      'frame',
      'frame',
    ]);
  });

  it('still checks UTF-8 across frames, and fails the frame that breaks it before handing it on', () => {
    const { handler, reader: r } = reader('frames');
    r.frame(text(euro.subarray(0, 1), false));
    r.frame(cont(euro.subarray(1)));
    r.frame(text('ok', false));
    expect(thrown(() => r.frame(cont(Buffer.from([0xff])))).code).toBe(ErrorCode.InvalidUtf8);
    expect(handler.events).toHaveLength(3);
  });

  it('fails a final frame that ends inside a code point', () => {
    const { reader: r } = reader('frames');
    expect(thrown(() => r.frame(text(euro.subarray(0, 2)))).code).toBe(ErrorCode.InvalidUtf8);
  });

  it('checks the size limit over the fragments of a message', () => {
    const { handler, reader: r } = reader('frames', {
      maxMessageSize: 5,
      maxMessageSizeOption: 'maxStreamedMessageSize',
    });
    r.frame(binary(counting(3), false));
    const err = thrown(() => r.frame(cont(counting(3))));
    expect(err.code).toBe(ErrorCode.MessageTooLarge);
    expect(err.message).toContain('maxStreamedMessageSize');
    expect(handler.events).toHaveLength(1);
  });

  it('passes a frame with RSV bits on untouched, without a codec, and does not check it as text', () => {
    const { handler, reader: r } = reader('frames');
    const compressed = rsvFrame(Opcode.Text, Buffer.from([0xff, 0x00]), { rsv1: true }, false);
    r.frame(compressed);
    r.frame(cont(Buffer.from([0xfe])));
    expect(handler.raw).toEqual([compressed, cont(Buffer.from([0xfe]))]);
    // The next message is plain text again, and checked.
    expect(thrown(() => r.frame(text(Buffer.from([0xff])))).code).toBe(ErrorCode.InvalidUtf8);
  });
});

// ---------------------------------------------------------------------------------------
// Extensions: RSV -> codec hand-off

describe('MessageReader: RSV bits and codecs', () => {
  it('without codecFor, a message with RSV bits fails with ERR_WS_RESERVED_BITS (1002)', () => {
    for (const mode of ['messages', 'streams'] as const) {
      for (const rsv of [{ rsv1: true }, { rsv2: true }, { rsv3: true }]) {
        const { handler, reader: r } = reader(mode);
        const err = thrown(() => r.frame(rsvFrame(Opcode.Binary, 'x', rsv)));
        expect(err.code).toBe(ErrorCode.ReservedBits);
        expect(err.closeCode).toBe(CloseCode.ProtocolError);
        expect(handler.events).toEqual([]);
      }
    }
  });

  it('fails RSV bits that no extension claims (the toy claims RSV2 only)', () => {
    const toy = new ToyExtension();
    const { reader: r } = reader('messages', {
      codecFor: (rsv, limits) => toy.incoming(rsv, limits),
    });
    expect(thrown(() => r.frame(rsvFrame(Opcode.Text, 'x', { rsv1: true }))).code).toBe(
      ErrorCode.ReservedBits,
    );
  });

  it('hands the codec the RSV bits of the first frame and the limits', () => {
    const seen: Array<{ rsv: number; limits: IncomingLimits }> = [];
    const { reader: r } = reader('messages', {
      maxMessageSize: 77,
      maxMessageSizeOption: 'maxReceivedMessageSize',
      codecFor: (rsv, limits) => {
        seen.push({ rsv, limits: { ...limits } });
        return doublingCodec();
      },
    });
    r.frame(rsvFrame(Opcode.Binary, 'x', { rsv1: true, rsv3: true }));
    expect(seen).toEqual([
      {
        rsv: Rsv.Rsv1 | Rsv.Rsv3,
        limits: { maxMessageSize: 77, maxMessageSizeOption: 'maxReceivedMessageSize' },
      },
    ]);
  });

  it('decodes a message through an async codec: busy until codecDone, then the message', async () => {
    const toy = new ToyExtension();
    const { handler, reader: r } = reader('messages', {
      codecFor: (rsv, limits) => toy.incoming(rsv, limits),
    });
    const done = handler.nextCodecDone();
    r.frame(rsvFrame(Opcode.Text, inverted('Hello'), { rsv2: true }));
    expect(r.busy).toBe(true);
    expect(handler.events).toEqual([]);
    expect(await done).toBeUndefined();
    expect(r.busy).toBe(false);
    expect(handler.events).toEqual([{ message: 'Hello' }, { codecDone: 'ok' }]);
  });

  it('decodes every fragment of a message through the same codec (continuations carry no RSV)', async () => {
    const toy = new ToyExtension();
    let codecs = 0;
    const { handler, reader: r } = reader('messages', {
      codecFor: (rsv, limits) => {
        codecs++;
        return toy.incoming(rsv, limits);
      },
    });
    const feed = async (f: Frame) => {
      const done = handler.nextCodecDone();
      r.frame(f);
      expect(r.busy).toBe(true);
      expect(await done).toBeUndefined();
    };
    await feed(rsvFrame(Opcode.Text, inverted('Hel'), { rsv2: true }, false));
    expect(r.busy).toBe(false);
    r.frame(ping('between')); // a control frame needs no codec
    await feed(cont(inverted('lo'), false));
    await feed(cont('', true));
    // A plain message after it goes through no codec.
    r.frame(text('plain'));
    expect(codecs).toBe(1);
    expect(handler.events).toEqual([
      { codecDone: 'ok' },
      { control: Opcode.Ping, payload: hex('between') },
      { codecDone: 'ok' },
      { message: 'Hello' },
      { codecDone: 'ok' },
      { message: 'plain' },
    ]);
  });

  it('calls codecDone on a later microtask even when the codec calls back at once', async () => {
    const { handler, reader: r } = reader('messages', { codecFor: () => doublingCodec() });
    r.frame(rsvFrame(Opcode.Binary, 'ab', { rsv1: true }));
    expect(r.busy).toBe(true);
    expect(handler.events).toEqual([]);
    await Promise.resolve();
    await Promise.resolve();
    expect(handler.events).toEqual([{ binary: hex('abab') }, { codecDone: 'ok' }]);
    expect(r.busy).toBe(false);
  });

  it("checks the codec's output as text and against the limit, and reports through codecDone", async () => {
    // The codec itself enforces no limit: the reader's own accounting refuses the output.
    const { handler, reader: r } = reader('messages', {
      maxMessageSize: 5,
      maxMessageSizeOption: 'maxReceivedMessageSize',
      codecFor: () => doublingCodec(),
    });
    const done = handler.nextCodecDone();
    r.frame(rsvFrame(Opcode.Binary, 'abc', { rsv1: true })); // decodes to 6 bytes
    const err = await done;
    expect((err as ProtocolError).code).toBe(ErrorCode.MessageTooLarge);
    expect(err?.message).toContain('maxReceivedMessageSize');
    expect(handler.events).toEqual([{ codecDone: ErrorCode.MessageTooLarge }]);
    // The reader is dead: nothing more is handed on.
    r.frame(text('after'));
    expect(handler.events).toHaveLength(1);

    const utf8 = reader('messages', {
      codecFor: () => ({
        transform(_piece, _last, output, d) {
          output(Buffer.from([0xff]));
          d();
        },
      }),
    });
    const bad = utf8.handler.nextCodecDone();
    utf8.reader.frame(rsvFrame(Opcode.Text, 'x', { rsv1: true }));
    expect(((await bad) as ProtocolError).code).toBe(ErrorCode.InvalidUtf8);
  });

  it("passes a codec's own error (the toy's limit) to codecDone", async () => {
    const toy = new ToyExtension();
    const { handler, reader: r } = reader('messages', {
      maxMessageSize: 3,
      codecFor: (rsv, limits) => toy.incoming(rsv, limits),
    });
    const done = handler.nextCodecDone();
    r.frame(rsvFrame(Opcode.Binary, inverted('abcd'), { rsv2: true }));
    expect(((await done) as ProtocolError).code).toBe(ErrorCode.MessageTooLarge);
    expect(r.busy).toBe(false);
  });

  it('fails the final frame of a decoded text that ends inside a code point', async () => {
    const toy = new ToyExtension();
    const { handler, reader: r } = reader('messages', {
      codecFor: (rsv, limits) => toy.incoming(rsv, limits),
    });
    const done = handler.nextCodecDone();
    r.frame(rsvFrame(Opcode.Text, inverted(euro.subarray(0, 2)), { rsv2: true }));
    expect(((await done) as ProtocolError).code).toBe(ErrorCode.InvalidUtf8);
  });

  it("'messages': gives the codec a frame's payload in one piece; 'streams': in pieces of 1 KiB", async () => {
    for (const [mode, sizes] of [
      ['messages', [3000]],
      ['streams', [1024, 1024, 952]],
    ] as const) {
      const calls: Array<{ piece: string; last: boolean }> = [];
      const { handler, reader: r } = reader(mode, { codecFor: () => doublingCodec(calls) });
      const payload = counting(3000);
      const done = handler.nextCodecDone();
      r.frame(rsvFrame(Opcode.Binary, payload, { rsv1: true }));
      expect(await done).toBeUndefined();
      expect(
        calls.map((c) => c.piece.length / 2),
        mode,
      ).toEqual(sizes);
      expect(
        calls.map((c) => c.last),
        mode,
      ).toEqual(sizes.map((_, i) => i === sizes.length - 1));
      // What came out is what the codec made, piece after piece.
      const out = handler.events
        .flatMap((e) => ('piece' in e ? [e.piece] : 'binary' in e ? [e.binary] : []))
        .join('');
      expect(out, mode).toBe(calls.map((c) => c.piece + c.piece).join(''));
      expect(calls.map((c) => c.piece).join(''), mode).toBe(payload.toString('hex'));
    }
  });

  it("'streams': a decoded message is started at once and its pieces handed on as the codec makes them", async () => {
    const toy = new ToyExtension();
    const { handler, reader: r } = reader('streams', {
      codecFor: (rsv, limits) => toy.incoming(rsv, limits),
    });
    const done = handler.nextCodecDone();
    r.frame(rsvFrame(Opcode.Text, inverted('Hey'), { rsv2: true }));
    expect(handler.events).toEqual([{ start: 'text' }]);
    await done;
    expect(handler.events).toEqual([
      { start: 'text' },
      { piece: hex('Hey') },
      { end: true },
      { codecDone: 'ok' },
    ]);
  });

  it('pieces of a compressed frame: no limit at the header (the decoded size is unknown), the rest through the codec', async () => {
    const calls: Array<{ piece: string; last: boolean }> = [];
    const { handler, reader: r } = reader('messages', {
      maxMessageSize: 4,
      codecFor: () => doublingCodec(calls),
    });
    r.frameStart(header(Opcode.Binary, 1_000_000, { rsv1: true })); // not refused here
    r.frameData(Buffer.alloc(0)); // an empty piece is not given to the codec
    expect(r.busy).toBe(false);
    let done = handler.nextCodecDone();
    r.frameData(Buffer.from('a'));
    expect(r.busy).toBe(true);
    await done;
    done = handler.nextCodecDone();
    r.frameEnd(); // the final (empty) piece with last = true
    await done;
    expect(calls).toEqual([
      { piece: hex('a'), last: false },
      { piece: '', last: true },
    ]);
    expect(handler.events).toEqual([
      { codecDone: 'ok' },
      { binary: hex('aa') },
      { codecDone: 'ok' },
    ]);
  });

  it('stop() while a codec works: nothing is handed on, codecDone is not called', async () => {
    const toy = new ToyExtension();
    const { handler, reader: r } = reader('messages', {
      codecFor: (rsv, limits) => toy.incoming(rsv, limits),
    });
    r.frame(rsvFrame(Opcode.Text, inverted('Hello'), { rsv2: true }));
    r.stop();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(handler.events).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// stop()

describe('MessageReader: stop()', () => {
  it('ignores everything after it, in every input method', () => {
    const { handler, reader: r } = reader('messages');
    r.frame(text('a', false));
    r.stop();
    r.frame(cont('b'));
    r.frame(ping(''));
    r.frameStart(header(Opcode.Continuation, 1));
    r.frameData(Buffer.from('c'));
    r.frameEnd();
    expect(handler.events).toEqual([]);
  });
});

describe('rsvOf', () => {
  it('gives the RSV bits as a mask of Rsv values', () => {
    const f = { rsv1: false, rsv2: false, rsv3: false };
    expect(rsvOf(f)).toBe(0);
    expect(rsvOf({ ...f, rsv1: true })).toBe(Rsv.Rsv1);
    expect(rsvOf({ ...f, rsv2: true })).toBe(Rsv.Rsv2);
    expect(rsvOf({ ...f, rsv3: true })).toBe(Rsv.Rsv3);
    expect(rsvOf({ rsv1: true, rsv2: true, rsv3: true })).toBe(0x70);
  });
});

// ---------------------------------------------------------------------------------------
// Byte vectors through the decoder, however they are chunked

/** The outcome of reading a vector: what was handed on, and the error, if any. */
interface Outcome {
  /** Whole messages, control frames, and streamed messages joined (complete ones only). */
  out: Array<Event | { streamed: string; kind: string }>;
  error: string | undefined;
  /** Bytes pushed into the decoder when the error was thrown. */
  errorAt: number | undefined;
}

/** Joins a streamed message's pieces, so that outcomes compare across chunkings. */
function normalise(events: Event[]): Outcome['out'] {
  const out: Outcome['out'] = [];
  let open: { kind: string; pieces: string[] } | undefined;
  for (const e of events) {
    if ('start' in e) open = { kind: e.start, pieces: [] };
    else if ('piece' in e) open!.pieces.push(e.piece);
    else if ('end' in e) {
      out.push({ streamed: open!.pieces.join(''), kind: open!.kind });
      open = undefined;
    } else out.push(e);
  }
  return out;
}

/** Feeds chunks through a FrameDecoder (as the connection runs it) into a reader. */
function readChunks(
  chunks: readonly Buffer[],
  mode: ReceiveMode,
  options: Partial<MessageReaderOptions> = {},
): Outcome {
  const decoder = new FrameDecoder({ role: 'server', streamIncomplete: mode !== 'frames' });
  const { handler, reader: r } = reader(mode, options);
  let pushed = 0;
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      pushed += chunk.length;
      for (let e = decoder.next(); e !== null; e = decoder.next()) {
        if (e.kind === 'frame') r.frame(e.frame);
        else if (e.kind === 'frame-start') r.frameStart(e.header);
        else if (e.kind === 'frame-data') r.frameData(e.data);
        else r.frameEnd();
      }
    }
  } catch (err) {
    return { out: normalise(handler.events), error: codeOf(err), errorAt: pushed };
  }
  return { out: normalise(handler.events), error: undefined, errorAt: undefined };
}

describe('MessageReader behind a FrameDecoder: every chunking gives the same outcome', () => {
  const masked = (frames: Frame[]) => encodeFrames(frames, RFC_KEY);
  const vectors: Array<{
    name: string;
    bytes: Buffer;
    options?: Partial<MessageReaderOptions>;
    error?: string;
  }> = [
    {
      name: 'text, binary, fragments, control frames in between',
      bytes: masked([
        text('Hello'),
        binary(counting(130), false),
        ping('x'),
        cont(counting(2)),
        text(Buffer.concat([Buffer.from('κό'), euro.subarray(0, 1)]), false),
        cont('', false),
        cont(euro.subarray(1)),
        pong(''),
      ]),
    },
    {
      name: 'bad UTF-8 in the middle of a text frame',
      bytes: masked([text('first'), text(Buffer.from('abc\xffdefghij', 'latin1'))]),
      error: ErrorCode.InvalidUtf8,
    },
    {
      name: 'a message over the limit (in fragments)',
      bytes: masked([binary(counting(20)), binary(counting(10), false), cont(counting(11))]),
      options: { maxMessageSize: 20 },
      error: ErrorCode.MessageTooLarge,
    },
    {
      name: 'a continuation with nothing to continue',
      bytes: masked([text('ok'), cont('x')]),
      error: ErrorCode.UnexpectedContinuation,
    },
  ];
  for (const mode of ['messages', 'streams', 'frames'] as const) {
    for (const v of vectors) {
      it(`${mode}: ${v.name}`, () => {
        const reference = readChunks([Buffer.from(v.bytes)], mode, v.options);
        expect(reference.error).toBe(v.error);
        const count = forEachChunking(v.bytes, (chunks) => {
          const outcome = readChunks(chunks, mode, v.options);
          expect(outcome.error).toBe(reference.error);
          // (A stream may have begun the failing message: only complete ones are compared.)
          expect(outcome.out).toEqual(reference.out);
        });
        expect(count).toBeGreaterThan(v.bytes.length);
      });
    }
  }

  it('fails bad UTF-8 as soon as the byte arrives, not when the frame is complete (byte by byte)', () => {
    const payload = Buffer.from('abc\xffdefghijklmnopqrstuvwxyz', 'latin1');
    const bytes = masked([text(payload)]);
    const badAt = 6 /* header + key */ + 3;
    for (const mode of ['messages', 'streams'] as const) {
      const chunks = [...bytes].map((b) => Buffer.from([b]));
      const outcome = readChunks(chunks, mode);
      expect(outcome.error, mode).toBe(ErrorCode.InvalidUtf8);
      expect(outcome.errorAt, mode).toBe(badAt + 1);
    }
  });

  it('refuses an announced length over the limit when only the header has arrived', () => {
    const bytes = masked([binary(counting(200))]);
    for (const mode of ['messages', 'streams'] as const) {
      const outcome = readChunks([bytes.subarray(0, 8), bytes.subarray(8)], mode, {
        maxMessageSize: 199,
      });
      expect(outcome.error, mode).toBe(ErrorCode.MessageTooLarge);
      expect(outcome.errorAt, mode).toBe(8);
    }
  });
});
