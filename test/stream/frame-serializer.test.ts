import { pipeline } from 'node:stream/promises';
import { Readable } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidArgumentError } from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { FrameSerializer } from '../../lib/stream/frame-serializer.js';
import {
  binary,
  close,
  cont,
  counting,
  encodeReference,
  frame,
  ping,
  pong,
  text,
  view,
} from '../helpers/frames.js';
import { collector, record, runStage, settle } from '../helpers/stream-events.js';

/** Decodes one masked frame by hand: its header fields, key and unmasked payload. */
function decodeMasked(bytes: Buffer): { first: number; key: Buffer; payload: Buffer } {
  expect(bytes[1]! & 0x80).toBe(0x80);
  const len7 = bytes[1]! & 0x7f;
  const offset = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  const length =
    len7 < 126 ? len7 : len7 === 126 ? bytes.readUInt16BE(2) : Number(bytes.readBigUInt64BE(2));
  const key = bytes.subarray(offset, offset + 4);
  const payload = Buffer.from(bytes.subarray(offset + 4));
  expect(payload.length).toBe(length);
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
  return { first: bytes[0]!, key: Buffer.from(key), payload };
}

interface EncodeCase {
  name: string;
  frame: Frame;
  /** 'data' chunks a lone frame comes out as: 1 when it is small enough to join, else 2. */
  chunks: number;
}

const encodeCases: EncodeCase[] = [
  { name: 'empty text', frame: text(''), chunks: 1 },
  { name: 'RFC 6455 §5.7 "Hello"', frame: text('Hello'), chunks: 1 },
  { name: 'non-final text', frame: text('Hel', false), chunks: 1 },
  { name: 'final continuation', frame: cont('lo'), chunks: 1 },
  { name: '125-byte binary (7-bit length)', frame: binary(counting(125)), chunks: 1 },
  { name: '126-byte binary (16-bit length)', frame: binary(counting(126)), chunks: 1 },
  { name: '4095-byte binary, joined with its header', frame: binary(counting(4095)), chunks: 1 },
  { name: '4096-byte binary, header and payload apart', frame: binary(counting(4096)), chunks: 2 },
  { name: '65535-byte binary (largest 16-bit length)', frame: binary(counting(65_535)), chunks: 2 },
  { name: '65536-byte binary (64-bit length)', frame: binary(counting(65_536)), chunks: 2 },
  { name: 'ping with 125 bytes', frame: ping(counting(125)), chunks: 1 },
  { name: 'pong, empty', frame: pong(), chunks: 1 },
  { name: 'close 1000', frame: close(Buffer.from([0x03, 0xe8])), chunks: 1 },
  {
    name: 'RSV bits pass through',
    frame: { ...binary('x'), rsv1: true, rsv2: true, rsv3: true },
    chunks: 1,
  },
];

describe('FrameSerializer, server role: exact bytes, no masking', () => {
  for (const c of encodeCases) {
    it(`${c.name}: ${c.chunks} 'data'`, async () => {
      const rec = await runStage<Buffer>(new FrameSerializer({ role: 'server' }), [c.frame]);
      expect(rec.data).toHaveLength(c.chunks);
      expect(Buffer.concat(rec.data).equals(encodeReference(c.frame))).toBe(true);
      if (c.chunks === 2) expect(rec.data[1]).toBe(c.frame.payload); // not copied
      expect(rec.errors).toEqual([]);
      expect(rec.counts).toEqual({ end: 1, finish: 1, close: 1, drain: 0 });
    });
  }
});

describe('FrameSerializer, client role: masked with a fresh key', () => {
  for (const c of encodeCases) {
    it(`${c.name}: one 'data', masked, the payload left untouched`, async () => {
      const before = Buffer.from(c.frame.payload);
      const rec = await runStage<Buffer>(new FrameSerializer({ role: 'client' }), [c.frame]);
      expect(rec.data).toHaveLength(1);
      const { first, payload } = decodeMasked(rec.data[0]!);
      expect(first).toBe(encodeReference(c.frame)[0]);
      expect(payload.equals(c.frame.payload)).toBe(true);
      expect(c.frame.payload.equals(before)).toBe(true);
      expect(rec.errors).toEqual([]);
    });
  }

  it('uses a different key for each frame', async () => {
    const frames = Array.from({ length: 200 }, () => binary('same'));
    const serializer = new FrameSerializer({ role: 'client' });
    const rec = record<Buffer>(serializer);
    // One at a time, so that each frame is its own 'data' chunk.
    for (const f of frames)
      await new Promise<void>((resolve) => serializer.write(f, () => resolve()));
    serializer.end();
    await rec.closed;
    expect(rec.data).toHaveLength(200);
    const keys = new Set(rec.data.map((chunk) => decodeMasked(chunk).key.toString('hex')));
    expect(keys.size).toBe(200);
  });

  it('round-trips through a server parser at every size around the length boundaries', async () => {
    const sizes = [
      0, 1, 3, 4, 5, 125, 126, 127, 128, 129, 4095, 4096, 65_535, 65_536, 65_537, 200_001,
    ];
    const frames = sizes.map((n) => binary(counting(n, n)));
    const serializer = new FrameSerializer({ role: 'client' });
    const parser = new FrameParser({ role: 'server' });
    const sink = collector<Frame>();
    await pipeline(Readable.from(frames), serializer, parser, sink);
    expect(sink.items.map(view)).toEqual(frames.map(view));
  });
});

describe('FrameSerializer: batching', () => {
  interface BatchCase {
    name: string;
    frames: Frame[];
    /** Sizes of the 'data' chunks when all frames are written in one corked batch. */
    chunkSizes: number[];
  }
  const small = binary(counting(10));
  const big = binary(counting(5000));
  const cases: BatchCase[] = [
    {
      name: '100 small frames become one chunk',
      frames: Array.from({ length: 100 }, () => small),
      chunkSizes: [1200],
    },
    {
      name: 'a large payload splits the batch: joined run, payload, joined run',
      frames: [small, big, small, small],
      chunkSizes: [12 + 4, 5000, 24],
    },
    { name: 'two large payloads in a row', frames: [big, big], chunkSizes: [4, 5000, 4, 5000] },
    {
      name: 'control frames join the run',
      frames: [ping('a'), small, pong('b')],
      chunkSizes: [3 + 12 + 3],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.chunkSizes.length} 'data'`, async () => {
      const serializer = new FrameSerializer({ role: 'server', highWaterMark: 1000 });
      const rec = record<Buffer>(serializer);
      serializer.cork();
      for (const f of c.frames) serializer.write(f);
      serializer.uncork();
      serializer.end();
      await rec.closed;
      expect(rec.data.map((chunk) => chunk.length)).toEqual(c.chunkSizes);
      expect(
        Buffer.concat(rec.data).equals(Buffer.concat(c.frames.map((f) => encodeReference(f)))),
      ).toBe(true);
      expect(rec.counts).toEqual({ end: 1, finish: 1, close: 1, drain: 0 });
    });
  }

  it('encodes the frames that queued while the reader was slow together, once it reads', async () => {
    const serializer = new FrameSerializer({ role: 'server', highWaterMark: 64 });
    serializer.write(binary(counting(20_000))); // fills the 16 KiB readable side
    for (let i = 0; i < 50; i++) serializer.write(binary(counting(10)));
    await settle();
    expect(serializer.readableLength).toBe(20_004);
    expect(serializer.writableLength).toBe(51);
    const rec = record<Buffer>(serializer);
    serializer.end();
    await rec.closed;
    // Header and payload of the big frame, then the 50 queued frames in one chunk.
    expect(rec.data.map((chunk) => chunk.length)).toEqual([4, 20_000, 600]);
  });
});

describe('FrameSerializer: invalid input', () => {
  interface BadCase {
    name: string;
    inputs: unknown[];
    /** Frames before the bad one that must come out. */
    before: number;
    corked: boolean;
  }
  const cases: BadCase[] = [
    { name: 'a string', inputs: ['hello'], before: 0, corked: false },
    {
      name: 'an object without a Buffer payload',
      inputs: [{ ...text('x'), payload: 'x' }],
      before: 0,
      corked: false,
    },
    { name: 'a ping with 126 bytes', inputs: [ping(counting(126))], before: 0, corked: false },
    { name: 'a non-final ping', inputs: [frame(Opcode.Ping, '', false)], before: 0, corked: false },
    {
      name: 'an opcode above 15',
      inputs: [{ ...binary('x'), opcode: 16 }],
      before: 0,
      corked: false,
    },
    {
      name: 'after a good frame',
      inputs: [text('ok'), ping(counting(126)), text('never')],
      before: 1,
      corked: false,
    },
    {
      name: 'in the middle of a batch',
      inputs: [text('a'), 42, text('b')],
      before: 0,
      corked: true,
    },
    { name: 'at the end of a batch', inputs: [text('a'), text('b'), {}], before: 0, corked: true },
  ];
  for (const c of cases) {
    it(`${c.name}: InvalidArgumentError, one 'error', one 'close'`, async () => {
      const serializer = new FrameSerializer({ role: 'server' });
      const rec = record<Buffer>(serializer);
      if (c.corked) serializer.cork();
      for (const input of c.inputs) serializer.write(input);
      if (c.corked) serializer.uncork();
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(1);
      expect(rec.errors[0]).toBeInstanceOf(InvalidArgumentError);
      expect((rec.errors[0] as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
      expect(
        Buffer.concat(rec.data).equals(
          Buffer.concat(c.inputs.slice(0, c.before).map((f) => encodeReference(f as Frame))),
        ),
      ).toBe(true);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
    });
  }

  it('fails a pipeline with the same error and tears every stage down', async () => {
    const source = Readable.from([text('a'), ping(counting(200)), text('b')]);
    const serializer = new FrameSerializer({ role: 'client' });
    const parser = new FrameParser({ role: 'server' });
    const sink = collector<Frame>();
    const recs = [source, serializer, parser, sink].map((s) => record(s, false));
    const err = await pipeline(source, serializer, parser, sink).then(
      () => undefined,
      (e: unknown) => e,
    );
    await settle();
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(recs.map((r) => r.counts.close)).toEqual([1, 1, 1, 1]);
    expect(recs[1]!.errors).toEqual([err]);
    expect([source, serializer, parser, sink].every((s) => s.destroyed)).toBe(true);
  });
});

describe('FrameSerializer: destroy', () => {
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
      name: 'without an error, then with one',
      first: undefined,
      second: new Error('second'),
      errors: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const serializer = new FrameSerializer({ role: 'client' });
      const rec = record(serializer);
      serializer.write(text('pending'));
      serializer.destroy(c.first);
      serializer.destroy(c.second);
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(c.errors);
      if (c.errors === 1) expect(rec.errors[0]).toBe(c.first);
      expect(rec.counts.close).toBe(1);
      expect(rec.counts.end + rec.counts.finish).toBe(0);
    });
  }
});

describe('FrameSerializer: backpressure', () => {
  it('holds its write callback while its readable side is full', async () => {
    const serializer = new FrameSerializer({ role: 'server', highWaterMark: 4 });
    const readableHwm = serializer.readableHighWaterMark;
    const size = 1000;
    const encoded = size + 4;
    let called = 0;
    let writes = 0;
    while (serializer.write(binary(counting(size)), () => called++)) writes++;
    writes++;
    for (let i = 0; i < 20; i++) serializer.write(binary(counting(size)), () => called++);
    writes += 20;
    await settle();
    // Frames are encoded until the readable side reaches its mark; that last one holds its callback.
    const encodedFrames = Math.ceil(readableHwm / encoded);
    expect(serializer.readableLength).toBe(encodedFrames * encoded);
    expect(called).toBe(encodedFrames - 1);
    expect(serializer.writableLength).toBe(writes - encodedFrames + 1);

    const rec = record<Buffer>(serializer);
    serializer.end();
    await rec.closed;
    expect(called).toBe(writes);
    expect(Buffer.concat(rec.data).length).toBe(writes * encoded);
  });
});
