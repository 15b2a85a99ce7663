import { pipeline } from 'node:stream/promises';
import { Readable } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ErrorCode, ProtocolError } from '../../lib/protocol/errors.js';
import type { Frame, Role } from '../../lib/protocol/frame.js';
import { Opcode, Rsv } from '../../lib/protocol/opcodes.js';
import { FrameParser, type FrameParserOptions } from '../../lib/stream/frame-parser.js';
import { chunkings } from '../helpers/chunking.js';
import {
  binary,
  cont,
  counting,
  encodeFrames,
  encodeReference,
  type FrameView,
  frame,
  ping,
  pong,
  RFC_KEY,
  text,
  view,
} from '../helpers/frames.js';
import { collector, type Recording, record, runStage, settle } from '../helpers/stream-events.js';

/** Feeds chunks to a fresh parser, ends it, and returns what it emitted. */
function parse(options: FrameParserOptions, chunks: readonly Buffer[]): Promise<Recording<Frame>> {
  return runStage<Frame>(new FrameParser(options), chunks);
}

/**
 * The chunkings a vector is run through: all of them (whole, byte by byte, split at every
 * index, 20 seeded random) for small vectors; for large ones the split-at-every-index runs
 * are limited to the header boundaries and the ends.
 */
function* chunkingsOf(bytes: Buffer) {
  const keep = new Set([1, 2, 3, 4, 6, 8, 10, 14, bytes.length - 1]);
  for (const chunking of chunkings(bytes)) {
    const at = /^split at (\d+)$/.exec(chunking.label);
    if (bytes.length > 1024 && at !== null && !keep.has(Number(at[1]))) continue;
    yield chunking;
  }
}

interface Vector {
  name: string;
  role: Role;
  options?: Partial<FrameParserOptions>;
  bytes: Buffer;
  frames: Frame[];
}

const hello = Buffer.from('Hello');
const vectors: Vector[] = [
  {
    name: 'RFC 6455 §5.7 single-frame unmasked text',
    role: 'client',
    bytes: Buffer.from('810548656c6c6f', 'hex'),
    frames: [text('Hello')],
  },
  {
    name: 'RFC 6455 §5.7 single-frame masked text',
    role: 'server',
    bytes: Buffer.from('818537fa213d7f9f4d5158', 'hex'),
    frames: [text('Hello')],
  },
  {
    name: 'RFC 6455 §5.7 fragmented unmasked text',
    role: 'client',
    bytes: Buffer.from('010348656c80026c6f', 'hex'),
    frames: [text('Hel', false), cont('lo')],
  },
  {
    name: 'RFC 6455 §5.7 unmasked ping',
    role: 'client',
    bytes: Buffer.from('890548656c6c6f', 'hex'),
    frames: [ping(hello)],
  },
  {
    name: 'RFC 6455 §5.7 masked pong',
    role: 'server',
    bytes: Buffer.from('8a8537fa213d7f9f4d5158', 'hex'),
    frames: [pong(hello)],
  },
  {
    name: 'RFC 6455 §5.7 256-byte binary, 16-bit length',
    role: 'client',
    bytes: Buffer.concat([Buffer.from('827e0100', 'hex'), counting(256)]),
    frames: [binary(counting(256))],
  },
  {
    name: 'RFC 6455 §5.7 64 KiB binary, 64-bit length',
    role: 'client',
    bytes: Buffer.concat([Buffer.from('827f0000000000010000', 'hex'), counting(65_536)]),
    frames: [binary(counting(65_536))],
  },
  {
    name: 'length boundaries 0, 125, 126, masked',
    role: 'server',
    bytes: encodeFrames([binary(''), binary(counting(125)), binary(counting(126))], RFC_KEY),
    frames: [binary(''), binary(counting(125)), binary(counting(126))],
  },
  {
    name: 'a fragmented message with control frames and empty fragments between its pieces',
    role: 'server',
    bytes: encodeFrames(
      [
        text('ab', false),
        ping('p1'),
        cont('', false),
        pong(''),
        cont('c€', false),
        frame(Opcode.Close, Buffer.from([0x03, 0xe8])),
        cont('d'),
      ],
      Buffer.from([1, 2, 3, 4]),
    ),
    frames: [
      text('ab', false),
      ping('p1'),
      cont('', false),
      pong(''),
      cont('c€', false),
      frame(Opcode.Close, Buffer.from([0x03, 0xe8])),
      cont('d'),
    ],
  },
  {
    name: 'non-minimal length forms are accepted for data frames',
    role: 'client',
    bytes: Buffer.concat([
      encodeReference({ opcode: Opcode.Binary, payload: 'x', lengthForm: 16 }),
      encodeReference({ opcode: Opcode.Text, payload: 'yz', lengthForm: 64 }),
    ]),
    frames: [binary('x'), text('yz')],
  },
  {
    name: 'RSV1 on the first frame of a message when an extension claims it',
    role: 'client',
    options: { allowedRsv: Rsv.Rsv1 },
    bytes: Buffer.concat([
      encodeReference({ opcode: Opcode.Binary, payload: 'zz', rsv1: true, fin: false }),
      encodeReference({ opcode: Opcode.Continuation, payload: 'y' }),
    ]),
    frames: [{ ...binary('zz', false), rsv1: true }, cont('y')],
  },
];

describe('FrameParser: frames out of every chunking', () => {
  for (const vector of vectors) {
    it(vector.name, async () => {
      const expected = vector.frames.map(view);
      let runs = 0;
      for (const { label, chunks } of chunkingsOf(vector.bytes)) {
        const rec = await parse({ role: vector.role, ...vector.options }, chunks);
        expect(rec.data.map(view), label).toEqual(expected);
        expect(rec.errors, label).toEqual([]);
        expect(rec.counts, label).toEqual({ end: 1, finish: 1, close: 1, drain: rec.counts.drain });
        runs++;
      }
      expect(runs).toBeGreaterThanOrEqual(22);
    });
  }
});

describe('FrameParser: ownership and copies', () => {
  it('hands out a payload that lies within one chunk as a view of it, unmasked in place', async () => {
    const chunk = encodeReference({
      opcode: Opcode.Binary,
      payload: counting(300),
      maskKey: RFC_KEY,
    });
    const rec = await parse({ role: 'server' }, [chunk]);
    expect(rec.data).toHaveLength(1);
    const payload = rec.data[0]!.payload;
    expect(payload.buffer).toBe(chunk.buffer);
    expect(payload.byteOffset).toBe(chunk.byteOffset + 8);
    expect(chunk.subarray(8).equals(counting(300))).toBe(true);
  });

  it('copies a whole-frame payload spread over two chunks once, into a buffer of its size', async () => {
    const bytes = encodeReference({ opcode: Opcode.Binary, payload: counting(300) });
    const rec = await parse({ role: 'client' }, [bytes.subarray(0, 100), bytes.subarray(100)]);
    expect(rec.data).toHaveLength(1);
    expect(rec.data[0]!.payload.equals(counting(300))).toBe(true);
    expect(rec.data[0]!.payload.buffer).not.toBe(bytes.buffer);
  });
});

describe('FrameParser: streamed frames (streamingThreshold)', () => {
  interface StreamCase {
    name: string;
    options: Partial<FrameParserOptions>;
    /** The frames on the wire (masked with RFC_KEY for the server role). */
    wire: Frame[];
    role: Role;
  }
  const cases: StreamCase[] = [
    {
      name: 'a binary frame above the threshold',
      role: 'server',
      options: { streamingThreshold: 100 },
      wire: [binary(counting(200))],
    },
    {
      name: 'a non-final text frame above the threshold, then its continuation',
      role: 'client',
      options: { streamingThreshold: 10 },
      wire: [text('0123456789abcdef', false), cont('€€')],
    },
    {
      name: 'RSV1 stays on the first piece only',
      role: 'client',
      options: { streamingThreshold: 4, allowedRsv: Rsv.Rsv1 },
      wire: [{ ...binary(counting(40)), rsv1: true }],
    },
    {
      name: 'control frames are never streamed',
      role: 'server',
      options: { streamingThreshold: 0 },
      wire: [ping(counting(125)), binary('x')],
    },
  ];

  /** What the parser must hand out for a chunking: each data frame above the threshold cut where the chunks cut it. */
  function expectedPieces(c: StreamCase, bytes: Buffer, chunks: readonly Buffer[]): FrameView[] {
    const threshold = c.options.streamingThreshold ?? Number.POSITIVE_INFINITY;
    const cuts: number[] = [];
    let at = 0;
    for (const chunk of chunks) {
      at += chunk.length;
      cuts.push(at);
    }
    const out: FrameView[] = [];
    let offset = 0;
    for (const f of c.wire) {
      const size = encodeReference({
        ...f,
        maskKey: c.role === 'server' ? RFC_KEY : undefined,
      }).length;
      const start = offset + size - f.payload.length;
      offset += size;
      if ((f.opcode & 0x8) !== 0 || f.payload.length <= threshold) {
        out.push(view(f));
        continue;
      }
      const bounds = [start, ...cuts.filter((p) => p > start && p < offset), offset];
      for (let i = 0; i + 1 < bounds.length; i++) {
        const first = i === 0;
        const last = i + 2 === bounds.length;
        out.push(
          view({
            fin: last && f.fin,
            rsv1: first && f.rsv1,
            rsv2: first && f.rsv2,
            rsv3: first && f.rsv3,
            opcode: first ? f.opcode : Opcode.Continuation,
            payload: f.payload.subarray(bounds[i]! - start, bounds[i + 1]! - start),
          }),
        );
      }
    }
    expect(bytes.length).toBe(offset);
    return out;
  }

  for (const c of cases) {
    it(c.name, async () => {
      const bytes = encodeFrames(c.wire, c.role === 'server' ? RFC_KEY : undefined);
      let runs = 0;
      for (const { label, chunks } of chunkingsOf(bytes)) {
        const rec = await parse({ role: c.role, ...c.options }, chunks);
        expect(rec.data.map(view), label).toEqual(expectedPieces(c, bytes, chunks));
        expect(rec.errors, label).toEqual([]);
        expect(rec.counts.end, label).toBe(1);
        expect(rec.counts.close, label).toBe(1);
        runs++;
      }
      expect(runs).toBeGreaterThan(20);
    });
  }

  it('hands out the first piece before the rest of the frame has arrived', async () => {
    const parser = new FrameParser({ role: 'client', streamingThreshold: 1024 });
    const rec = record<Frame>(parser);
    const bytes = encodeReference({ opcode: Opcode.Binary, payload: counting(1_000_000) });
    parser.write(bytes.subarray(0, 5000));
    await settle();
    expect(rec.data.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([]);
    parser.write(bytes.subarray(5000, 9000));
    await settle();
    // The piece of the first chunk is out; the second is held back in case it is the last.
    expect(rec.data.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
      [Opcode.Binary, false, 5000 - 10],
    ]);
    parser.end(bytes.subarray(9000));
    await rec.closed;
    expect(rec.data.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
      [Opcode.Binary, false, 4990],
      [Opcode.Continuation, false, 4000],
      [Opcode.Continuation, true, 1_000_000 - 8990],
    ]);
    expect(Buffer.concat(rec.data.map((f) => f.payload)).equals(counting(1_000_000))).toBe(true);
  });
});

describe('FrameParser: protocol errors', () => {
  interface ErrorCase {
    name: string;
    role: Role;
    options?: Partial<FrameParserOptions>;
    bytes: Buffer;
    code: ErrorCode;
    closeCode: number;
    /** Frames handed out before the failure. */
    before: number;
  }
  const masked = (spec: Parameters<typeof encodeReference>[0]) =>
    encodeReference({ ...spec, maskKey: RFC_KEY });
  const cases: ErrorCase[] = [
    {
      name: 'reserved data opcode 3',
      role: 'client',
      bytes: Buffer.from([0x83, 0x00]),
      code: ErrorCode.InvalidOpcode,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'reserved control opcode 0xB',
      role: 'client',
      bytes: Buffer.from([0x8b, 0x00]),
      code: ErrorCode.InvalidOpcode,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'RSV1 without an extension',
      role: 'client',
      bytes: Buffer.from([0xc1, 0x00]),
      code: ErrorCode.ReservedBits,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'RSV2 when only RSV1 is claimed',
      role: 'client',
      options: { allowedRsv: Rsv.Rsv1 },
      bytes: Buffer.from([0xa2, 0x00]),
      code: ErrorCode.ReservedBits,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'RSV1 on a continuation even when claimed',
      role: 'client',
      options: { allowedRsv: Rsv.Rsv1 },
      bytes: Buffer.from([0x02, 0x00, 0xc0, 0x00]),
      code: ErrorCode.ReservedBits,
      closeCode: 1002,
      before: 1,
    },
    {
      name: 'a ping without FIN',
      role: 'client',
      bytes: Buffer.from([0x09, 0x00]),
      code: ErrorCode.FragmentedControlFrame,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'a ping with a 16-bit length',
      role: 'client',
      bytes: encodeReference({ opcode: Opcode.Ping, payload: 'a', lengthForm: 16 }),
      code: ErrorCode.ControlFrameTooLong,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'an unmasked frame to a server',
      role: 'server',
      bytes: Buffer.from('810548656c6c6f', 'hex'),
      code: ErrorCode.MaskRequired,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'a masked frame to a client',
      role: 'client',
      bytes: masked({ opcode: Opcode.Text, payload: 'Hello' }),
      code: ErrorCode.UnexpectedMask,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'a 64-bit length with its most significant bit set',
      role: 'client',
      bytes: encodeReference({ opcode: Opcode.Binary, lengthForm: 64, rawLength: 1n << 63n }),
      code: ErrorCode.InvalidLength,
      closeCode: 1002,
      before: 0,
    },
    {
      name: 'a 64-bit length above 2^53-1',
      role: 'client',
      bytes: encodeReference({ opcode: Opcode.Binary, lengthForm: 64, rawLength: 1n << 53n }),
      code: ErrorCode.FrameTooLarge,
      closeCode: CloseCode.MessageTooBig,
      before: 0,
    },
    {
      name: 'a frame above maxFrameSize, refused from its header alone',
      role: 'server',
      options: { maxFrameSize: 10 },
      bytes: Buffer.concat([
        masked({ opcode: Opcode.Binary, payload: counting(10) }),
        masked({ opcode: Opcode.Binary, payload: counting(11) }).subarray(0, 6),
      ]),
      code: ErrorCode.FrameTooLarge,
      closeCode: CloseCode.MessageTooBig,
      before: 1,
    },
    {
      name: 'a good frame, then a bad one in the same chunk',
      role: 'client',
      bytes: Buffer.from([0x81, 0x01, 0x61, 0x89, 0x00, 0x83, 0x00, 0x81, 0x01, 0x62]),
      code: ErrorCode.InvalidOpcode,
      closeCode: 1002,
      before: 2,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.code} (${c.closeCode}), one 'error', one 'close', no 'end'`, async () => {
      let runs = 0;
      for (const { label, chunks } of chunkingsOf(c.bytes)) {
        const rec = await parse({ role: c.role, ...c.options }, chunks);
        expect(rec.errors, label).toHaveLength(1);
        const err = rec.errors[0]!;
        expect(err, label).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).code, label).toBe(c.code);
        expect((err as ProtocolError).closeCode, label).toBe(c.closeCode);
        expect(rec.data, label).toHaveLength(c.before);
        expect(rec.counts.end, label).toBe(0);
        expect(rec.counts.close, label).toBe(1);
        runs++;
      }
      expect(runs).toBeGreaterThan(2);
    });
  }

  it('fails a pipeline with the same error and tears every stage down', async () => {
    const source = Readable.from([Buffer.from([0x81, 0x01, 0x61]), Buffer.from([0x83, 0x00])]);
    const parser = new FrameParser({ role: 'client' });
    const sink = collector<Frame>();
    const recs = [record(source, false), record(parser, false), record(sink, false)];
    const err = await pipeline(source, parser, sink).then(
      () => undefined,
      (e: unknown) => e,
    );
    await settle();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ErrorCode.InvalidOpcode);
    expect(sink.items.map(view)).toEqual([view(text('a'))]);
    expect(recs.map((r) => r.counts.close)).toEqual([1, 1, 1]);
    expect(parser.destroyed && source.destroyed && sink.destroyed).toBe(true);
    expect(recs[1]!.errors).toEqual([err]);
  });

  it('drops an unfinished frame at the end of the input without an error', async () => {
    const bytes = Buffer.concat([
      encodeReference({ opcode: Opcode.Text, payload: 'ok' }),
      encodeReference({ opcode: Opcode.Binary, payload: counting(50) }).subarray(0, 20),
    ]);
    const rec = await parse({ role: 'client' }, [bytes]);
    expect(rec.data.map(view)).toEqual([view(text('ok'))]);
    expect(rec.errors).toEqual([]);
    expect(rec.counts).toMatchObject({ end: 1, finish: 1, close: 1 });
  });

  it('takes RSV bits claimed later through setAllowedRsv', async () => {
    const parser = new FrameParser({ role: 'client' });
    const rec = record<Frame>(parser);
    parser.write(Buffer.from([0x81, 0x01, 0x61]));
    parser.setAllowedRsv(Rsv.Rsv1);
    parser.end(Buffer.from([0xc1, 0x01, 0x62]));
    await rec.closed;
    expect(rec.data.map(view)).toEqual([view(text('a')), view({ ...text('b'), rsv1: true })]);
    expect(rec.errors).toEqual([]);
  });
});

describe('FrameParser: destroy', () => {
  const cases: {
    name: string;
    first: Error | undefined;
    second: Error | undefined;
    errors: number;
  }[] = [
    { name: 'twice without an error', first: undefined, second: undefined, errors: 0 },
    {
      name: 'twice with errors: the first one is emitted',
      first: new Error('first'),
      second: new Error('second'),
      errors: 1,
    },
    {
      name: 'with an error, then without',
      first: new Error('first'),
      second: undefined,
      errors: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const parser = new FrameParser({ role: 'server' });
      const rec = record(parser);
      parser.destroy(c.first);
      parser.destroy(c.second);
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(c.errors);
      if (c.errors === 1) expect(rec.errors[0]).toBe(c.first);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
    });
  }
});

describe('FrameParser: backpressure', () => {
  it('holds its write callback while its readable side is full, and takes no more bytes', async () => {
    const parser = new FrameParser({ role: 'client', highWaterMark: 2 });
    const frames = Array.from({ length: 10 }, (_, i) => ping(`p${i}`));
    const chunk = () => encodeFrames(frames);
    let called = 0;
    parser.write(chunk(), () => called++);
    // Byte-mode writable side (16 KiB): it fills with chunks that the parser does not take.
    let accepted = 1;
    while (parser.write(chunk(), () => called++)) accepted++;
    await settle();
    expect(called).toBe(0);
    expect(parser.readableLength).toBe(10); // only the first chunk was parsed
    // The chunk being parsed counts until its callback is called.
    expect(parser.writableLength).toBe((accepted + 1) * chunk().length);

    const rec = record<Frame>(parser);
    await settle(10);
    expect(called).toBe(accepted + 1);
    expect(rec.data).toHaveLength((accepted + 1) * 10);
    expect(rec.counts.drain).toBe(1);
  });

  it('holds at most one chunk of frames (plus its high-water mark) while a slow reader takes one at a time', async () => {
    const parser = new FrameParser({ role: 'client', highWaterMark: 1 });
    const perChunk = 50;
    const chunks = 400; // 60 KB: more than the writable side's 16 KiB, so the source waits
    function* produce() {
      for (let i = 0; i < chunks; i++) {
        yield encodeFrames(Array.from({ length: perChunk }, () => binary('x')));
      }
    }
    const source = Readable.from(produce());
    let maxBuffered = 0;
    let maxBufferedAfterEnd = 0;
    let read = 0;
    source.pipe(parser as unknown as NodeJS.WritableStream);
    for await (const _ of parser) {
      read++;
      if (parser.writableEnded)
        maxBufferedAfterEnd = Math.max(maxBufferedAfterEnd, parser.readableLength);
      else maxBuffered = Math.max(maxBuffered, parser.readableLength);
      if (read % 97 === 0) await settle(1);
    }
    expect(read).toBe(perChunk * chunks);
    expect(maxBuffered).toBeLessThanOrEqual(perChunk + 1);
    // Once end() is called, a Transform (readable-stream, as Node core) no longer holds its
    // callback: what the writable side had buffered (at most its 16 KiB) is parsed at once.
    expect(maxBufferedAfterEnd).toBeLessThanOrEqual(
      Math.ceil((16 * 1024) / (3 * perChunk) + 1) * perChunk,
    );
  });
});
