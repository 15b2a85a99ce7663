/**
 * Regression tests for the bugs listed in issue 13's "Why", each of which failed before the
 * redesign (a011ec5):
 *
 * 1. With messageStreams, a peer that drops mid-message while the application does
 *    `message.pipe(dest)` raised an uncaught ConnectionClosedError that killed the process.
 * 2. MessageAssembler ignored RSV bits: it could not rebuild what a raw-mode connection with
 *    permessage-deflate would have delivered.
 * 3. Limits: a connection with messageStreams (and raw mode) cut at the held-message limit;
 *    a large message in one frame was refused by the default limits.
 * 4. UTF-8 failed fast only at frame ends: one small text frame sent in chops, with a
 *    pause after the bad bytes, was answered with 1007 only once the rest had arrived
 *    (Autobahn 6.4.3 and 6.4.4, graded NON-STRICT).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import zlib from 'node:zlib';
import { Readable, Writable } from 'readable-stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { Extension } from '../../lib/extensions/extension.js';
import { PerMessageDeflate } from '../../lib/extensions/permessage-deflate.js';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ErrorCode } from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode, Rsv } from '../../lib/protocol/opcodes.js';
import { ConnectionCore } from '../../lib/stream/connection-core.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import type { ConnectionOptions } from '../../lib/stream/connection-options.js';
import { CONSUMER_GRACE_MS } from '../../lib/stream/fault-deferral.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { IncomingMessageStream } from '../../lib/stream/incoming-message-stream.js';
import { MessageAssembler } from '../../lib/stream/message-assembler.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { fails, text } from '../conformance/cases/build.js';
import { ConformanceEnv, runCase } from '../conformance/cases/runner.js';
import type { ConformanceCase } from '../conformance/cases/types.js';
import { startProgram, stopAll } from '../helpers/child-process.js';
import { closeOf } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { binary, cont, counting, encodeReference, frame, ping } from '../helpers/frames.js';
import { until } from '../helpers/loopback-server.js';
import { within } from '../helpers/peers.js';
import { runStage } from '../helpers/stream-events.js';
import { WireReader } from '../helpers/wire-reader.js';

const MiB = 1024 * 1024;
const KEY = Buffer.from([0x0a, 0x0b, 0x0c, 0x0d]);

const open: WebSocketConnection<Incoming>[] = [];
afterEach(async () => {
  for (const ws of open.splice(0)) ws.destroy();
  await stopAll();
});

/** A server connection over an in-memory pair, and the peer's end to write bytes to. */
function serverWithPeer(options: ConnectionOptions & { extensions?: readonly Extension[] } = {}) {
  const [ours, theirs] = duplexPair();
  const ws = new WebSocketConnection<Incoming>(ours, { role: 'server', ...options });
  open.push(ws);
  const received: Buffer[] = [];
  theirs.on('data', (chunk: Buffer) => received.push(chunk));
  theirs.on('error', () => {});
  /** The close code of the first Close the connection sent (read from the peer's bytes). */
  const sentClose = (): number | undefined => {
    const close = new WireReader()
      .push(Buffer.concat(received))
      .find((f) => f.opcode === Opcode.Close);
    return close?.payload.readUInt16BE(0);
  };
  return { ws, peer: theirs, sentClose };
}

/** Encodes frames as a client sends them (masked). */
function masked(...frames: Frame[]): Buffer {
  return Buffer.concat(frames.map((f) => encodeReference({ ...f, maskKey: KEY })));
}

// ---------------------------------------------------------------------------------------

describe('1. messageStreams: a peer that drops mid-message while the app pipes the message', () => {
  const script = join(import.meta.dirname, '../helpers/scripts/drop-mid-message.ts');

  for (const drop of ['fragment', 'frame'] as const) {
    it(`does not crash the process (the peer drops after a whole ${drop === 'fragment' ? 'fragment' : 'header and part of a frame'})`, async () => {
      const child = startProgram(
        `drop-mid-message (${drop})`,
        process.execPath,
        ['--import', 'tsx', script],
        { env: { DROP: drop } },
      );
      const { code, signal } = await child.exited;
      expect({ code, signal }, child.output).toEqual({ code: 0, signal: null });
      expect(child.matching(/^\[stderr\]/), child.output).toEqual([]);
      const events = child.lines.map(
        (line) => JSON.parse(line) as { event: string; code?: number },
      );
      expect(events.map((e) => e.event)).toEqual(['message', 'message closed', 'close', 'done']);
      expect(events[2]!.code).toBe(CloseCode.AbnormalClosure);
    });
  }
});

// ---------------------------------------------------------------------------------------

/** A client-side compressor with context takeover, as a browser compresses. */
function deflater(): (payload: Buffer) => Promise<Buffer> {
  const stream = zlib.createDeflateRaw();
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  return (payload) =>
    new Promise((resolve) => {
      stream.write(payload);
      stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const all = Buffer.concat(out.splice(0));
        resolve(all.subarray(0, all.length - 4)); // the 00 00 ff ff trailer, RFC 7692 §7.2.1
      });
    });
}

/** A negotiated permessage-deflate extension for our server's end. */
function serverDeflate(): Extension {
  const chosen = new PerMessageDeflate({}, 'server').negotiate(
    new PerMessageDeflate({}, 'client').offer(),
  );
  if (chosen === null) throw new Error('declined');
  return chosen.extension;
}

describe('2. MessageAssembler and RSV bits', () => {
  for (const [name, bits] of [
    ['RSV1', { rsv1: true }],
    ['RSV2', { rsv2: true }],
    ['RSV3', { rsv3: true }],
  ] as const) {
    it(`without extensions, a message with ${name} fails with ERR_WS_RESERVED_BITS (1002), nothing handed out`, async () => {
      for (const frames of [
        [{ ...binary('abc'), ...bits }],
        [ping('p'), { ...binary('ab', false), ...bits }, cont('c')],
      ]) {
        const rec = await runStage(new MessageAssembler(), frames);
        expect(rec.errors).toHaveLength(1);
        expect(rec.errors[0]).toMatchObject({
          code: ErrorCode.ReservedBits,
          closeCode: CloseCode.ProtocolError,
        });
        expect(
          rec.data.filter((d) => !(typeof d === 'object' && d !== null && 'opcode' in d)),
        ).toEqual([]);
      }
    });
  }

  it("with the connection's extensions, a raw-mode connection's compressed frames assemble into what a non-raw connection delivers", async () => {
    const messages: Array<string | Buffer> = [
      'Hello, compressed world',
      'Hello, compressed world', // the same again: decoded only with the shared context
      counting(5000),
      'κόσμε '.repeat(300),
      Buffer.alloc(0),
    ];
    // The same bytes for both connections: compressed with context takeover, some
    // fragmented (RSV1 on the first frame only), a ping inside one message.
    const compress = deflater();
    const frames: Frame[] = [];
    for (const [i, m] of messages.entries()) {
      const z = await compress(typeof m === 'string' ? Buffer.from(m) : m);
      const opcode = typeof m === 'string' ? Opcode.Text : Opcode.Binary;
      if (i % 2 === 0) {
        frames.push({ ...frame(opcode, z), rsv1: true });
      } else {
        const cut = z.length >> 1;
        frames.push({ ...frame(opcode, z.subarray(0, cut), false), rsv1: true });
        frames.push(ping('between'));
        frames.push(cont(z.subarray(cut)));
      }
    }
    const bytes = masked(...frames);

    // A non-raw connection.
    const plain = serverWithPeer({ extensions: [serverDeflate()] });
    const delivered: unknown[] = [];
    plain.ws.on('data', (m) => delivered.push(m));
    plain.peer.write(Buffer.from(bytes));

    // A raw-mode connection, its frames assembled later with its extensions.
    const raw = serverWithPeer({ assembleFragments: false, extensions: [serverDeflate()] });
    const assembled: unknown[] = [];
    const assembler = new MessageAssembler({ extensions: raw.ws.extensionObjects });
    const done = pipeline(
      raw.ws,
      assembler,
      new Writable({
        objectMode: true,
        write(m: unknown, _encoding, callback) {
          if (typeof m === 'string' || Buffer.isBuffer(m)) assembled.push(m);
          callback();
        },
      }),
    );
    raw.peer.write(Buffer.from(bytes));

    // Both have every message before the peer closes.
    await until(
      () => delivered.length >= messages.length && assembled.length >= messages.length,
      10_000,
      'every message, on both connections',
    );
    expect(delivered).toEqual(messages);
    expect(assembled).toEqual(messages);
    const closes = [closeOf(plain.ws), closeOf(raw.ws)];
    const bye = masked(frame(Opcode.Close, Buffer.from([0x03, 0xe8])));
    plain.peer.write(Buffer.from(bye));
    raw.peer.write(Buffer.from(bye));
    expect(await Promise.all(closes)).toEqual([
      [1000, ''],
      [1000, ''],
    ]);
    await done;
  });
});

// ---------------------------------------------------------------------------------------

/** Reads every message stream of a connection to its end: [bytes, sha256] of each. */
function readStreams(ws: WebSocketConnection<Incoming>): Array<Promise<[number, string]>> {
  const out: Array<Promise<[number, string]>> = [];
  ws.on('data', (m: unknown) => {
    const message = m as IncomingMessageStream;
    expect(message).toBeInstanceOf(IncomingMessageStream);
    out.push(
      (async () => {
        const hash = createHash('sha256');
        let length = 0;
        for await (const chunk of message) {
          hash.update(chunk as Buffer);
          length += (chunk as Buffer).length;
        }
        return [length, hash.digest('hex')] as [number, string];
      })(),
    );
  });
  return out;
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('3. limits by receive mode', () => {
  const payload = counting(5000);
  // In one frame, a streamed message meets the frame limit first (it follows the streaming
  // limit); in fragments, the message limit. Either is 1009, naming the streaming limit.
  const ways: Array<[string, Frame[], string]> = [
    ['in one frame', [binary(payload)], ErrorCode.FrameTooLarge],
    [
      'in fragments',
      [
        binary(payload.subarray(0, 1000), false),
        cont(payload.subarray(1000, 3000), false),
        cont(payload.subarray(3000)),
      ],
      ErrorCode.MessageTooLarge,
    ],
  ];

  for (const [way, frames, streamedCode] of ways) {
    it(`messageStreams: a message over maxReceivedMessageSize passes (${way})`, async () => {
      const { ws, peer } = serverWithPeer({ messageStreams: true, maxReceivedMessageSize: 1000 });
      const streams = readStreams(ws);
      const closed = closeOf(ws);
      peer.write(masked(...frames, frame(Opcode.Close, Buffer.from([0x03, 0xe8]))));
      expect(await within(closed, 10_000, 'the close')).toEqual([1000, '']);
      expect(await within(Promise.all(streams), 10_000, 'the message')).toEqual([
        [5000, sha(payload)],
      ]);
      expect(ws.closeError).toBeUndefined();
    });

    it(`messageStreams: maxStreamedMessageSize cuts it (1009, naming the option) (${way})`, async () => {
      const { ws, peer, sentClose } = serverWithPeer({
        messageStreams: true,
        maxStreamedMessageSize: 4000,
      });
      ws.on('data', (m: unknown) => (m as IncomingMessageStream).resume());
      const closed = closeOf(ws);
      peer.write(masked(...frames));
      await within(closed, 10_000, 'the close');
      expect(ws.closeError).toMatchObject({ code: streamedCode });
      expect(ws.closeError?.message).toContain('maxStreamedMessageSize');
      expect(sentClose()).toBe(CloseCode.MessageTooBig);
    });

    it(`raw mode: a message over maxReceivedMessageSize passes as its frames (${way})`, async () => {
      const { ws, peer } = serverWithPeer({
        assembleFragments: false,
        maxReceivedMessageSize: 1000,
        maxReceivedFrameSize: 10_000,
      });
      const got: Frame[] = [];
      ws.on('data', (f: unknown) => got.push(f as Frame));
      const closed = closeOf(ws);
      peer.write(masked(...frames, frame(Opcode.Close, Buffer.from([0x03, 0xe8]))));
      expect(await within(closed, 10_000, 'the close')).toEqual([1000, '']);
      expect(Buffer.concat(got.map((f) => f.payload))).toEqual(payload);
      expect(ws.closeError).toBeUndefined();
    });

    it(`raw mode: maxStreamedMessageSize cuts it (1009, naming the option) (${way})`, async () => {
      const { ws, peer, sentClose } = serverWithPeer({
        assembleFragments: false,
        maxStreamedMessageSize: 4000,
      });
      ws.resume();
      const closed = closeOf(ws);
      peer.write(masked(...frames));
      await within(closed, 10_000, 'the close');
      expect(ws.closeError).toMatchObject({ code: ErrorCode.MessageTooLarge });
      expect(ws.closeError?.message).toContain('maxStreamedMessageSize');
      expect(sentClose()).toBe(CloseCode.MessageTooBig);
    });
  }

  describe('a 20 MiB message in one frame passes the default limits', () => {
    const big = Buffer.allocUnsafe(20 * MiB);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const digest = sha(big);
    afterAll(() => {
      big.fill(0);
    });

    /** Sends `big` as one frame from a client connection to a server with default options. */
    async function send(serverOptions: ConnectionOptions) {
      const [a, b] = duplexPair(256 * 1024);
      const server = new WebSocketConnection<Incoming>(a, { role: 'server', ...serverOptions });
      const client = new WebSocketConnection<Incoming>(b, {
        role: 'client',
        fragmentOutgoingMessages: false,
      });
      open.push(server, client);
      client.write(big);
      client.end();
      return server;
    }

    it('whole messages', async () => {
      const server = await send({});
      const message = await within(
        new Promise<Buffer>((resolve) => server.once('data', (m) => resolve(m as Buffer))),
        20_000,
        'the message',
      );
      expect([message.length, sha(message)]).toEqual([big.length, digest]);
      expect(server.closeError).toBeUndefined();
    });

    it('messageStreams', async () => {
      const server = await send({ messageStreams: true });
      const streams = readStreams(server);
      await within(
        new Promise((resolve) => server.once('data', resolve)),
        20_000,
        'the message stream',
      );
      expect(await within(Promise.all(streams), 20_000, 'the message')).toEqual([
        [big.length, digest],
      ]);
      expect(server.closeError).toBeUndefined();
    });

    it('raw frames', async () => {
      const server = await send({ assembleFragments: false });
      const frames: Frame[] = [];
      const message = new Promise<unknown>((resolve, reject) => {
        pipeline(
          server,
          new Writable({
            objectMode: true,
            write(f: Frame, _encoding, callback) {
              frames.push(f);
              if (f.fin) resolve(undefined);
              callback();
            },
          }),
        ).catch(reject);
      });
      await within(message, 20_000, 'the frame');
      expect(frames.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
        [Opcode.Binary, true, big.length],
      ]);
      expect(sha(frames[0]!.payload)).toBe(digest);
      expect(server.closeError).toBeUndefined();
    });
  });
});

// ---------------------------------------------------------------------------------------

describe('4. UTF-8 fails fast inside one small text frame sent in chops (Autobahn 6.4.3, 6.4.4)', () => {
  const env = new ConformanceEnv();
  afterAll(() => env.close());

  const KOSME = Buffer.from('κόσμε'); // 11 bytes
  const h = (hex: string) => Buffer.from(hex, 'hex');
  // As 6.4.3 and 6.4.4, but the Close 1007 must arrive before the rest of the frame is sent.
  const cases: ConformanceCase[] = [
    {
      id: '6.4.3-strict',
      group: 'UTF-8',
      title: 'one frame in 3 chops; the 2nd holds U+110000; Close before the 3rd',
      steps: [
        {
          frameChops: {
            frame: text(Buffer.concat([KOSME, h('f4908080'), Buffer.from('edited')])),
            cuts: [11, 15],
            pauseMs: 50,
            closeBeforeLast: true,
          },
        },
      ],
      expect: fails(1007),
    },
    {
      id: '6.4.4-strict',
      group: 'UTF-8',
      title: 'one frame in 3 chops; the 2nd is 0xf4 0x90; Close before the 3rd',
      steps: [
        {
          frameChops: {
            frame: text(Buffer.concat([KOSME, h('f490'), h('8080'), Buffer.from('edited')])),
            cuts: [11, 13],
            pauseMs: 50,
            closeBeforeLast: true,
          },
        },
      ],
      expect: fails(1007),
    },
  ];

  for (const side of ['server', 'client'] as const) {
    for (const c of cases) {
      it(`our ${side}: ${c.id}: ${c.title}`, async () => {
        const result = await runCase(c, side, env);
        expect(result.problems, result.seen.join(', ')).toEqual([]);
        expect(result.passed).toBe(true);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------

describe('5. a normal close builds no ConnectionClosedError it does not need', () => {
  it('a clean close (the peer closes, we answer) makes none', async () => {
    const spy = vi.spyOn(ConnectionCore.prototype, 'closedError');
    try {
      const { ws, peer } = serverWithPeer();
      ws.resume();
      const closed = closeOf(ws);
      peer.write(masked(binary('hi'), frame(Opcode.Close, Buffer.from([0x03, 0xe8]))));
      peer.on('data', () => peer.end());
      expect(await within(closed, 10_000, 'the close')).toEqual([1000, '']);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('a Close in the middle of a streamed message still ends that message with one', async () => {
    const { ws, peer } = serverWithPeer({ messageStreams: true });
    const failed = new Promise<Error>((resolve) =>
      ws.once('data', (m) => (m as IncomingMessageStream).once('error', resolve).resume()),
    );
    peer.write(masked(binary('ab', false), frame(Opcode.Close, Buffer.from([0x03, 0xe8]))));
    const err = await within(failed, 10_000, 'the message stream error');
    expect(err).toMatchObject({ code: ErrorCode.ConnectionClosed });
    expect(err.message).toContain('The peer closed in the middle of a message');
  });
});

// ---------------------------------------------------------------------------------------

/** A permessage-deflate payload as a peer sends it: sync-flushed, the trailer taken off. */
function deflated(payload: string): Buffer {
  const out = zlib.deflateRawSync(Buffer.from(payload), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

/** A sink that records the messages (strings and Buffers) written to it. */
function messageSink(into: unknown[]): Writable {
  return new Writable({
    objectMode: true,
    write(m: unknown, _encoding, callback) {
      if (typeof m === 'string' || Buffer.isBuffer(m)) into.push(m);
      callback();
    },
  });
}

describe('6. compressed raw mode: the assembler decodes after the connection closed', () => {
  it('a compressed message and a Close in one chunk: the message, then a clean end', async () => {
    const extension = serverDeflate();
    const calls: string[] = [];
    const dispose = extension.dispose.bind(extension);
    const disposeOutgoing = extension.disposeOutgoing?.bind(extension);
    extension.dispose = () => {
      calls.push('dispose');
      dispose();
    };
    extension.disposeOutgoing = () => {
      calls.push('disposeOutgoing');
      disposeOutgoing?.();
    };
    const { ws, peer } = serverWithPeer({ assembleFragments: false, extensions: [extension] });
    peer.on('data', () => peer.end()); // our answer to the Close: the peer closes TCP
    const got: unknown[] = [];
    const done = pipeline(
      ws,
      new MessageAssembler({ extensions: ws.extensionObjects }),
      messageSink(got),
    );
    peer.write(
      masked(
        { ...frame(Opcode.Text, deflated('hello')), rsv1: true },
        frame(Opcode.Close, Buffer.from([0x03, 0xe8])),
      ),
    );
    await within(done, 10_000, 'the pipeline');
    expect(got).toEqual(['hello']);
    expect(ws.wasClean).toBe(true);
    // The deflater went at the close; the inflater, once, when the assembler ended.
    expect(calls).toEqual(['disposeOutgoing', 'dispose']);
  });

  it('without an assembler, the connection disposes its extensions at its close', async () => {
    const extension = serverDeflate();
    let disposed = 0;
    const dispose = extension.dispose.bind(extension);
    extension.dispose = () => {
      disposed++;
      dispose();
    };
    const { ws, peer } = serverWithPeer({ assembleFragments: false, extensions: [extension] });
    ws.resume();
    peer.on('data', () => peer.end());
    const closed = closeOf(ws);
    peer.write(masked(frame(Opcode.Close, Buffer.from([0x03, 0xe8]))));
    await within(closed, 10_000, 'the close');
    expect(disposed).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------

describe('7. a fault found ahead while the assembler inflates: the messages before it, then the error', () => {
  /** A compressed "hello" then a frame with the reserved opcode 3, in one chunk. */
  const bytes = () =>
    masked({ ...frame(Opcode.Text, deflated('hello')), rsv1: true }, frame(3, 'x'));

  it('FrameParser -> MessageAssembler', async () => {
    const extension = serverDeflate();
    const got: unknown[] = [];
    const done = pipeline(
      Readable.from([bytes()], { objectMode: false }),
      new FrameParser({ role: 'server', allowedRsv: Rsv.Rsv1 }),
      new MessageAssembler({ extensions: [extension] }),
      messageSink(got),
    );
    await expect(within(done, 10_000, 'the pipeline')).rejects.toMatchObject({
      code: ErrorCode.InvalidOpcode,
    });
    expect(got).toEqual(['hello']);
    extension.dispose();
  });

  it('a raw connection -> MessageAssembler, as a connection that decodes', async () => {
    for (const raw of [false, true]) {
      const { ws, peer, sentClose } = serverWithPeer({
        assembleFragments: !raw,
        extensions: [serverDeflate()],
      });
      const got: unknown[] = [];
      const done = raw
        ? pipeline(ws, new MessageAssembler({ extensions: ws.extensionObjects }), messageSink(got))
        : pipeline(ws, messageSink(got));
      peer.write(bytes());
      await expect(within(done, 10_000, 'the pipeline')).rejects.toMatchObject({
        code: ErrorCode.InvalidOpcode,
      });
      expect({ raw, got }).toEqual({ raw, got: ['hello'] });
      expect(sentClose()).toBe(CloseCode.ProtocolError);
    }
  });

  it('destroying the parser while it holds a fault back tears down at once', async () => {
    const parser = new FrameParser({ role: 'server', highWaterMark: 1 });
    parser.pipe(new MessageAssembler({ highWaterMark: 1 })); // nothing ever reads it
    const errors: unknown[] = [];
    parser.on('error', (err) => errors.push(err));
    parser.write(masked(binary('a'), binary('b'), frame(3, 'x')));
    await tick();
    expect(errors).toEqual([]); // held back: the assembler has not taken every frame
    const closed = new Promise((resolve) => parser.once('close', resolve));
    parser.destroy();
    await within(closed, 10_000, 'the close');
    expect(errors).toEqual([]);
  });

  it('a consumer that never settles holds the fault back for a bounded time only', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const parser = new FrameParser({ role: 'server', highWaterMark: 1 });
      const assembler = new MessageAssembler({ highWaterMark: 1 });
      parser.pipe(assembler); // nothing ever reads the assembler
      const failed = new Promise<unknown>((resolve) => parser.once('error', resolve));
      parser.write(masked(binary('a'), binary('b'), binary('c'), frame(3, 'x')));
      await tick();
      let error: unknown;
      void failed.then((err) => {
        error = err;
      });
      await tick();
      expect(error).toBeUndefined();
      vi.advanceTimersByTime(CONSUMER_GRACE_MS);
      expect(await failed).toMatchObject({ code: ErrorCode.InvalidOpcode });
    } finally {
      vi.useRealTimers();
    }
  });
});
