import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidArgumentError, ProtocolError } from '../../lib/protocol/errors.js';
import type { Frame, Role } from '../../lib/protocol/frame.js';
import {
  type DecoderEvent,
  FrameDecoder,
  type FrameDecoderOptions,
} from '../../lib/protocol/frame-decoder.js';
import { encodeFrame, encodeFrameHeader } from '../../lib/protocol/frame-encoder.js';
import { Opcode, Rsv } from '../../lib/protocol/opcodes.js';
import { baseSeed, forEachChunking, mulberry32 } from '../helpers/chunking.js';

// ---------------------------------------------------------------------------------------
// Helpers

/** A decoded frame, whole or reassembled from streamed pieces. */
interface Decoded {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  payload: Buffer;
  streamed: boolean;
}

/** Calls next() until it returns null, collecting the events. */
function drain(decoder: FrameDecoder, events: DecoderEvent[]): void {
  for (let event = decoder.next(); event !== null; event = decoder.next()) events.push(event);
}

/** Pushes every chunk into a fresh decoder, draining after each push. */
function decodeChunks(chunks: Buffer[], options: FrameDecoderOptions): DecoderEvent[] {
  const decoder = new FrameDecoder(options);
  const events: DecoderEvent[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    drain(decoder, events);
  }
  if (decoder.bufferedBytes !== 0) throw new Error(`${decoder.bufferedBytes} bytes left over`);
  return events;
}

/** Turns events into frames, checking that streamed pieces are well formed. */
function assemble(events: DecoderEvent[]): Decoded[] {
  const out: Decoded[] = [];
  let open:
    | { header: Omit<Decoded, 'payload' | 'streamed'>; length: number; pieces: Buffer[] }
    | undefined;
  for (const event of events) {
    if (event.kind === 'frame') {
      if (open !== undefined) throw new Error('whole frame inside a streamed frame');
      out.push({ ...fieldsOf(event.frame), payload: event.frame.payload, streamed: false });
    } else if (event.kind === 'frame-start') {
      if (open !== undefined) throw new Error('frame-start inside a streamed frame');
      open = { header: fieldsOf(event.header), length: event.header.payloadLength, pieces: [] };
    } else if (event.kind === 'frame-data') {
      if (open === undefined) throw new Error('frame-data outside a streamed frame');
      if (event.data.length === 0) throw new Error('empty frame-data');
      open.pieces.push(event.data);
    } else {
      if (open === undefined) throw new Error('frame-end outside a streamed frame');
      const payload = Buffer.concat(open.pieces);
      if (payload.length !== open.length)
        throw new Error(`streamed ${payload.length} of ${open.length}`);
      out.push({ ...open.header, payload, streamed: true });
      open = undefined;
    }
  }
  if (open !== undefined) throw new Error('streamed frame without frame-end');
  return out;
}

function fieldsOf(f: Omit<Frame, 'payload'>): Omit<Decoded, 'payload' | 'streamed'> {
  return { fin: f.fin, rsv1: f.rsv1, rsv2: f.rsv2, rsv3: f.rsv3, opcode: f.opcode };
}

/** Describes a frame compactly, for failure messages. */
function describeFrame(f: Decoded): string {
  const head = `fin=${+f.fin} rsv=${+f.rsv1}${+f.rsv2}${+f.rsv3} op=${f.opcode} len=${f.payload.length}`;
  return `${head}${f.streamed ? ' streamed' : ''} ${f.payload.subarray(0, 16).toString('hex')}`;
}

/** Throws unless the two frame lists are identical (cheaply: Buffer.equals on payloads). */
function expectSameFrames(actual: Decoded[], expected: Decoded[]): void {
  const same =
    actual.length === expected.length &&
    actual.every((a, i) => {
      const e = expected[i]!;
      return (
        a.fin === e.fin &&
        a.rsv1 === e.rsv1 &&
        a.rsv2 === e.rsv2 &&
        a.rsv3 === e.rsv3 &&
        a.opcode === e.opcode &&
        a.streamed === e.streamed &&
        a.payload.equals(e.payload)
      );
    });
  if (!same) {
    expect(actual.map(describeFrame)).toEqual(expected.map(describeFrame));
    throw new Error('frames differ');
  }
}

function frame(opcode: number, payload: Buffer | string, more: Partial<Decoded> = {}): Decoded {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return {
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    payload: bytes,
    streamed: false,
    ...more,
  };
}

/** Expects `fn` to throw a ProtocolError with this code and close code; returns it. */
function expectProtocolError(fn: () => unknown, code: string, closeCode: number): ProtocolError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  const err = caught as ProtocolError;
  expect(err.code).toBe(code);
  expect(err.closeCode).toBe(closeCode);
  return err;
}

function hexBytes(hex: string): Buffer {
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

// ---------------------------------------------------------------------------------------
// RFC 6455 §5.7 vectors

const HELLO = Buffer.from('Hello');
const B256 = Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 7 + 3) & 0xff));
const B64K = Buffer.from(Array.from({ length: 65_536 }, (_, i) => (i * 13 + 5) & 0xff));

interface Vector {
  name: string;
  role: Role;
  bytes: Buffer;
  frames: Decoded[];
}

const VECTORS: Vector[] = [
  {
    name: 'single-frame unmasked text "Hello"',
    role: 'client',
    bytes: hexBytes('81 05 48 65 6c 6c 6f'),
    frames: [frame(Opcode.Text, HELLO)],
  },
  {
    name: 'single-frame masked text "Hello"',
    role: 'server',
    bytes: hexBytes('81 85 37 fa 21 3d 7f 9f 4d 51 58'),
    frames: [frame(Opcode.Text, HELLO)],
  },
  {
    name: 'fragmented unmasked text "Hel" + "lo"',
    role: 'client',
    bytes: hexBytes('01 03 48 65 6c 80 02 6c 6f'),
    frames: [frame(Opcode.Text, 'Hel', { fin: false }), frame(Opcode.Continuation, 'lo')],
  },
  {
    name: 'unmasked ping "Hello"',
    role: 'client',
    bytes: hexBytes('89 05 48 65 6c 6c 6f'),
    frames: [frame(Opcode.Ping, HELLO)],
  },
  {
    name: 'masked pong "Hello"',
    role: 'server',
    bytes: hexBytes('8a 85 37 fa 21 3d 7f 9f 4d 51 58'),
    frames: [frame(Opcode.Pong, HELLO)],
  },
  {
    name: '256 bytes binary, 16-bit length',
    role: 'client',
    bytes: Buffer.concat([hexBytes('82 7e 01 00'), B256]),
    frames: [frame(Opcode.Binary, B256)],
  },
  {
    name: '64 KiB binary, 64-bit length',
    role: 'client',
    bytes: Buffer.concat([hexBytes('82 7f 00 00 00 00 00 01 00 00'), B64K]),
    frames: [frame(Opcode.Binary, B64K)],
  },
  {
    name: '64 KiB binary, 64-bit length, masked',
    role: 'server',
    bytes: Buffer.concat(
      encodeFrame(
        { ...frame(Opcode.Binary, B64K), opcode: Opcode.Binary },
        hexBytes('a1 b2 c3 d4'),
      ),
    ),
    frames: [frame(Opcode.Binary, B64K)],
  },
  {
    name: 'mixed stream: "Hel", ping, "lo", empty binary, close, masked',
    role: 'server',
    bytes: Buffer.concat([
      ...encodeFrame(
        { ...frame(Opcode.Text, 'Hel', { fin: false }), opcode: Opcode.Text },
        hexBytes('01 02 03 04'),
      ),
      ...encodeFrame({ ...frame(Opcode.Ping, 'p'), opcode: Opcode.Ping }, hexBytes('ff 00 ff 00')),
      ...encodeFrame(
        { ...frame(Opcode.Continuation, 'lo'), opcode: Opcode.Continuation },
        hexBytes('10 20 30 40'),
      ),
      ...encodeFrame(
        { ...frame(Opcode.Binary, ''), opcode: Opcode.Binary },
        hexBytes('55 66 77 88'),
      ),
      ...encodeFrame(
        { ...frame(Opcode.Close, hexBytes('03e8')), opcode: Opcode.Close },
        hexBytes('9a 8b 7c 6d'),
      ),
    ]),
    frames: [
      frame(Opcode.Text, 'Hel', { fin: false }),
      frame(Opcode.Ping, 'p'),
      frame(Opcode.Continuation, 'lo'),
      frame(Opcode.Binary, ''),
      frame(Opcode.Close, hexBytes('03e8')),
    ],
  },
];

/** Marks the data frames longer than `threshold` as streamed in the expected frames. */
function expectedFor(frames: Decoded[], threshold: number): Decoded[] {
  return frames.map((f) => ({
    ...f,
    streamed: (f.opcode & 8) === 0 && f.payload.length > threshold,
  }));
}

describe('FrameDecoder: RFC 6455 §5.7 vectors in every chunking', () => {
  for (const vector of VECTORS) {
    for (const streamingThreshold of [Number.POSITIVE_INFINITY, 0, 3]) {
      it(`${vector.name} (streamingThreshold ${streamingThreshold})`, () => {
        const expected = expectedFor(vector.frames, streamingThreshold);
        const count = forEachChunking(vector.bytes, (chunks) => {
          const events = decodeChunks(chunks, { role: vector.role, streamingThreshold });
          expectSameFrames(assemble(events), expected);
        });
        // whole + byte by byte + (length - 1) splits + 20 random
        expect(count).toBe(2 + (vector.bytes.length - 1) + 20);
      });
    }
  }

  it('decodes all unmasked vectors back to back from one stream', () => {
    const clientVectors = VECTORS.filter((v) => v.role === 'client');
    const bytes = Buffer.concat(clientVectors.map((v) => v.bytes));
    const expected = clientVectors.flatMap((v) => v.frames);
    forEachChunking(
      bytes,
      (chunks) => expectSameFrames(assemble(decodeChunks(chunks, { role: 'client' })), expected),
      { randomSplits: 50, maxRandomCuts: 200 },
    );
  });
});

describe('FrameDecoder: zero copy and buffering', () => {
  it('hands out a payload within one chunk as a view of that chunk, unmasked in place', () => {
    const chunk = hexBytes('81 85 37 fa 21 3d 7f 9f 4d 51 58 81 85 37 fa 21 3d 7f 9f 4d 51 58');
    const decoder = new FrameDecoder({ role: 'server' });
    decoder.push(chunk);
    const a = decoder.next();
    const b = decoder.next();
    expect(decoder.next()).toBeNull();
    if (a?.kind !== 'frame' || b?.kind !== 'frame') throw new Error('expected frames');
    expect(a.frame.payload.toString()).toBe('Hello');
    expect(b.frame.payload.toString()).toBe('Hello');
    expect(a.frame.payload.buffer).toBe(chunk.buffer);
    expect(a.frame.payload.byteOffset).toBe(chunk.byteOffset + 6);
    expect(b.frame.payload.byteOffset).toBe(chunk.byteOffset + 17);
    expect(chunk.subarray(6, 11).toString()).toBe('Hello');
  });

  it('counts bufferedBytes as pushed and not yet consumed', () => {
    const decoder = new FrameDecoder({ role: 'client' });
    expect(decoder.bufferedBytes).toBe(0);
    decoder.push(hexBytes('82 7e 01'));
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(3);
    decoder.push(Buffer.concat([hexBytes('00'), B256.subarray(0, 100)]));
    expect(decoder.next()).toBeNull();
    expect(decoder.bufferedBytes).toBe(100);
    decoder.push(Buffer.concat([B256.subarray(100), hexBytes('89')]));
    const event = decoder.next();
    expect(event?.kind === 'frame' && event.frame.payload.equals(B256)).toBe(true);
    expect(decoder.bufferedBytes).toBe(1);
    expect(decoder.next()).toBeNull();
    decoder.push(Buffer.alloc(0));
    expect(decoder.bufferedBytes).toBe(1);
  });

  it('accepts non-minimal length encodings for data frames (documented decision)', () => {
    for (const header of ['82 7e 00 05', '82 7f 00 00 00 00 00 00 00 05']) {
      const events = decodeChunks([Buffer.concat([hexBytes(header), HELLO])], { role: 'client' });
      expectSameFrames(assemble(events), [frame(Opcode.Binary, HELLO)]);
    }
  });

  it('decodes a 64 KiB chunk full of 64-byte frames', () => {
    const payload = Buffer.alloc(64, 0x61);
    const one = Buffer.concat(
      encodeFrame(
        { ...frame(Opcode.Binary, payload), opcode: Opcode.Binary },
        hexBytes('01020304'),
      ),
    );
    const count = Math.floor(65_536 / one.length);
    const decoder = new FrameDecoder({ role: 'server' });
    decoder.push(Buffer.concat(Array.from({ length: count }, () => one)));
    const events: DecoderEvent[] = [];
    drain(decoder, events);
    expect(events).toHaveLength(count);
    for (const e of events)
      expect(e.kind === 'frame' && e.frame.payload.equals(payload)).toBe(true);
  });
});

describe('FrameDecoder: streamed frames', () => {
  it('hands out a masked frame above streamingThreshold as start/data/end in every chunking', () => {
    const payload = Buffer.from(Array.from({ length: 1003 }, (_, i) => (i * 17) & 0xff));
    const key = hexBytes('de ad be ef');
    const bytes = Buffer.concat([
      ...encodeFrame(
        { ...frame(Opcode.Binary, payload, { fin: false }), opcode: Opcode.Binary },
        key,
      ),
      ...encodeFrame({ ...frame(Opcode.Ping, 'x'), opcode: Opcode.Ping }, key),
      ...encodeFrame({ ...frame(Opcode.Continuation, payload), opcode: Opcode.Continuation }, key),
    ]);
    const expected = [
      frame(Opcode.Binary, payload, { fin: false, streamed: true }),
      frame(Opcode.Ping, 'x'),
      frame(Opcode.Continuation, payload, { streamed: true }),
    ];
    forEachChunking(bytes, (chunks) => {
      const events = decodeChunks(chunks, { role: 'server', streamingThreshold: 10 });
      expectSameFrames(assemble(events), expected);
      const start = events.find((e) => e.kind === 'frame-start');
      if (start?.kind !== 'frame-start') throw new Error('no frame-start');
      expect(start.header.maskKey).toEqual(key);
      expect(start.header.payloadLength).toBe(1003);
      // Each piece is a view of a pushed chunk (zero copy).
      for (const e of events) {
        if (e.kind === 'frame-data')
          expect(chunks.some((c) => c.buffer === e.data.buffer)).toBe(true);
      }
    });
  });

  it('streams a frame of exactly streamingThreshold + 1 bytes, and keeps one of streamingThreshold whole', () => {
    const events = decodeChunks(
      [Buffer.concat([hexBytes('82 05'), HELLO, hexBytes('82 04'), HELLO.subarray(0, 4)])],
      { role: 'client', streamingThreshold: 4 },
    );
    expect(events.map((e) => e.kind)).toEqual(['frame-start', 'frame-data', 'frame-end', 'frame']);
  });

  it('hands out the pieces of a 64 MiB frame as they arrive, without waiting for the rest', () => {
    const length = 64 * 1024 * 1024;
    const key = hexBytes('0a 0b 0c 0d');
    const decoder = new FrameDecoder({ role: 'server', streamingThreshold: 1024 });
    const header = encodeFrameHeader({
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: Opcode.Binary,
      payloadLength: length,
      maskKey: key,
    });
    decoder.push(header);
    const start = decoder.next();
    expect(start?.kind).toBe('frame-start');
    if (start?.kind === 'frame-start') {
      expect(start.header.payloadLength).toBe(length);
      expect(start.header.maskKey).toEqual(key);
    }
    expect(decoder.next()).toBeNull();
    const plain = Buffer.from(Array.from({ length: 3 * 65_537 }, (_, i) => (i * 5) & 0xff));
    const wire = Buffer.from(plain);
    for (let i = 0; i < wire.length; i++) wire[i] = wire[i]! ^ key[i & 3]!;
    let offset = 0;
    for (const size of [65_537, 1, 3, 65_536, 65_537 - 4 + 65_537 - 65_537]) {
      const chunk = Buffer.from(wire.subarray(offset, offset + size));
      decoder.push(chunk);
      const piece = decoder.next();
      if (piece?.kind !== 'frame-data') throw new Error(`expected frame-data at ${offset}`);
      expect(piece.data.equals(plain.subarray(offset, offset + size))).toBe(true);
      expect(piece.data.buffer).toBe(chunk.buffer);
      expect(decoder.next()).toBeNull();
      expect(decoder.bufferedBytes).toBe(0);
      offset += size;
    }
  });

  it('keeps the data right for a consumer that stays one chunk behind for 10,000 chunks', () => {
    const length = 10_000 * 100;
    const key = hexBytes('13 57 9b df');
    const plain = Buffer.from(Array.from({ length }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    const wire = Buffer.concat(
      encodeFrame({ ...frame(Opcode.Binary, plain), opcode: Opcode.Binary }, key),
    );
    const decoder = new FrameDecoder({ role: 'server', streamingThreshold: 0 });
    const pieces: Buffer[] = [];
    const take = () => {
      const event = decoder.next();
      if (event?.kind === 'frame-data') pieces.push(event.data);
      return event;
    };
    decoder.push(wire.subarray(0, 14 + 100));
    for (let from = 114; from < wire.length; from += 100) {
      decoder.push(Buffer.from(wire.subarray(from, from + 100)));
      take(); // one event per push: the queue never empties
    }
    while (take() !== null) {
      // drain the rest
    }
    expect(Buffer.concat(pieces).equals(plain)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('hands out the bytes of a streamed frame and the next frame in the same chunk separately', () => {
    const decoder = new FrameDecoder({ role: 'client', streamingThreshold: 2 });
    decoder.push(Buffer.concat([hexBytes('82 05'), HELLO.subarray(0, 2)]));
    const kinds: string[] = [];
    const events: DecoderEvent[] = [];
    drain(decoder, events);
    decoder.push(Buffer.concat([HELLO.subarray(2), hexBytes('89 00')]));
    drain(decoder, events);
    for (const e of events) kinds.push(e.kind);
    expect(kinds).toEqual(['frame-start', 'frame-data', 'frame-data', 'frame-end', 'frame']);
  });
});

describe('FrameDecoder: encoder round trips', () => {
  const LENGTHS = [0, 1, 125, 126, 127, 65_535, 65_536];

  it('round-trips every length form, masked and unmasked, with random fields and splits', () => {
    const seed = baseSeed();
    const random = mulberry32(seed);
    for (const length of LENGTHS) {
      for (const masked of [false, true]) {
        for (let round = 0; round < 3; round++) {
          const opcodes = length <= 125 ? [0, 1, 2, 8, 9, 10] : [0, 1, 2];
          const opcode = opcodes[Math.floor(random() * opcodes.length)]!;
          const isData = opcode === 1 || opcode === 2;
          const payload = Buffer.alloc(length);
          for (let i = 0; i < length; i++) payload[i] = Math.floor(random() * 256);
          const f: Frame = {
            fin: (opcode & 8) !== 0 || random() < 0.5,
            rsv1: isData && random() < 0.5,
            rsv2: isData && random() < 0.5,
            rsv3: isData && random() < 0.5,
            opcode: opcode as Opcode,
            payload,
          };
          const key = masked
            ? Buffer.from([random() * 256, random() * 256, random() * 256, random() * 256])
            : undefined;
          const wire = Buffer.concat(encodeFrame(f, key));
          const options: FrameDecoderOptions = {
            role: masked ? 'server' : 'client',
            allowedRsv: Rsv.Rsv1 | Rsv.Rsv2 | Rsv.Rsv3,
          };
          const expected = [{ ...fieldsOf(f), payload: Buffer.from(payload), streamed: false }];
          forEachChunking(
            wire,
            (chunks) => expectSameFrames(assemble(decodeChunks(chunks, options)), expected),
            // Every split inside and just after the header; random splits for the rest.
            { seed, randomSplits: 5, splitIndicesBelow: 32 },
          );
        }
      }
    }
  });

  it('round-trips a 2^32 length header (masked and not) without allocating the payload', () => {
    for (const masked of [false, true]) {
      const key = masked ? hexBytes('11 22 33 44') : undefined;
      const length = 2 ** 32;
      const header = encodeFrameHeader({
        fin: false,
        rsv1: true,
        rsv2: false,
        rsv3: false,
        opcode: Opcode.Text,
        payloadLength: length,
        maskKey: key,
      });
      expect(header.length).toBe(masked ? 14 : 10);
      const plain = Buffer.from('a little payload');
      const body = Buffer.from(plain);
      if (key !== undefined) for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i & 3]!;
      forEachChunking(Buffer.concat([header, body]), (chunks) => {
        const decoder = new FrameDecoder({
          role: masked ? 'server' : 'client',
          streamingThreshold: 1000,
          allowedRsv: Rsv.Rsv1,
        });
        const events: DecoderEvent[] = [];
        for (const chunk of chunks) {
          decoder.push(chunk);
          drain(decoder, events);
        }
        const start = events[0];
        if (start?.kind !== 'frame-start') throw new Error('expected frame-start');
        expect(start.header).toEqual({
          fin: false,
          rsv1: true,
          rsv2: false,
          rsv3: false,
          opcode: Opcode.Text,
          payloadLength: length,
          maskKey: key,
        });
        const data = Buffer.concat(
          events.slice(1).map((e) => (e.kind === 'frame-data' ? e.data : Buffer.alloc(0))),
        );
        expect(data.equals(plain)).toBe(true);
        expect(events.every((e, i) => i === 0 || e.kind === 'frame-data')).toBe(true);
      });
    }
  });

  it('accepts a length of exactly 2^53-1 in the header', () => {
    const decoder = new FrameDecoder({ role: 'client', streamingThreshold: 0 });
    decoder.push(hexBytes('82 7f 00 1f ff ff ff ff ff ff'));
    const start = decoder.next();
    expect(start?.kind === 'frame-start' && start.header.payloadLength).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });
});

// ---------------------------------------------------------------------------------------
// Protocol errors

interface ErrorCase {
  name: string;
  bytes: Buffer;
  options: FrameDecoderOptions;
  code: string;
  closeCode: number;
}

const ERROR_CASES: ErrorCase[] = [
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((op) => ({
    name: `reserved opcode ${op}`,
    bytes: Buffer.from([0x80 | op, 0x00]),
    options: { role: 'client' as const },
    code: ErrorCode.InvalidOpcode,
    closeCode: 1002,
  })),
  {
    name: 'RSV1 without extension',
    bytes: hexBytes('c1 00'),
    options: { role: 'client' },
    code: ErrorCode.ReservedBits,
    closeCode: 1002,
  },
  {
    name: 'RSV2 without extension',
    bytes: hexBytes('a2 00'),
    options: { role: 'client' },
    code: ErrorCode.ReservedBits,
    closeCode: 1002,
  },
  {
    name: 'RSV3 without extension',
    bytes: hexBytes('92 00'),
    options: { role: 'client' },
    code: ErrorCode.ReservedBits,
    closeCode: 1002,
  },
  {
    name: 'RSV2 with only RSV1 allowed',
    bytes: hexBytes('e1 00'),
    options: { role: 'client', allowedRsv: Rsv.Rsv1 },
    code: ErrorCode.ReservedBits,
    closeCode: 1002,
  },
  {
    name: 'RSV1 on a continuation frame even when allowed',
    bytes: hexBytes('c0 00'),
    options: { role: 'client', allowedRsv: Rsv.Rsv1 },
    code: ErrorCode.ReservedBits,
    closeCode: 1002,
  },
  {
    name: 'RSV1 on a ping even when allowed',
    bytes: hexBytes('c9 00'),
    options: { role: 'client', allowedRsv: Rsv.Rsv1 },
    code: ErrorCode.ReservedBits,
    closeCode: 1002,
  },
  {
    name: 'ping with a 126-byte payload',
    bytes: Buffer.concat([hexBytes('89 7e 00 7e'), Buffer.alloc(126)]),
    options: { role: 'client' },
    code: ErrorCode.ControlFrameTooLong,
    closeCode: 1002,
  },
  {
    name: 'close with a 16-bit length form, even if short',
    bytes: hexBytes('88 7e 00 02 03 e8'),
    options: { role: 'client' },
    code: ErrorCode.ControlFrameTooLong,
    closeCode: 1002,
  },
  {
    name: 'pong with a 64-bit length form',
    bytes: hexBytes('8a ff 00 00 00 00 00 00 00 00 01 02 03 04'),
    options: { role: 'server' },
    code: ErrorCode.ControlFrameTooLong,
    closeCode: 1002,
  },
  {
    name: 'fragmented ping',
    bytes: hexBytes('09 00'),
    options: { role: 'client' },
    code: ErrorCode.FragmentedControlFrame,
    closeCode: 1002,
  },
  {
    name: 'fragmented close',
    bytes: hexBytes('08 02 03 e8'),
    options: { role: 'client' },
    code: ErrorCode.FragmentedControlFrame,
    closeCode: 1002,
  },
  {
    name: 'unmasked frame to a server',
    bytes: hexBytes('81 05 48 65 6c 6c 6f'),
    options: { role: 'server' },
    code: ErrorCode.MaskRequired,
    closeCode: 1002,
  },
  {
    name: 'masked frame to a client',
    bytes: hexBytes('81 85 37 fa 21 3d 7f 9f 4d 51 58'),
    options: { role: 'client' },
    code: ErrorCode.UnexpectedMask,
    closeCode: 1002,
  },
  {
    name: '64-bit length with the most significant bit set',
    bytes: hexBytes('82 7f 80 00 00 00 00 00 00 05 48 65 6c 6c 6f'),
    options: { role: 'client' },
    code: ErrorCode.InvalidLength,
    closeCode: 1002,
  },
  {
    name: '64-bit length of 2^53',
    bytes: hexBytes('82 7f 00 20 00 00 00 00 00 00'),
    options: { role: 'client' },
    code: ErrorCode.FrameTooLarge,
    closeCode: 1009,
  },
  {
    name: '64-bit length of 2^63-1',
    bytes: hexBytes('82 ff 7f ff ff ff ff ff ff ff 01 02 03 04'),
    options: { role: 'server' },
    code: ErrorCode.FrameTooLarge,
    closeCode: 1009,
  },
  {
    name: 'frame above maxFrameSize, header only',
    bytes: hexBytes('82 7e 01 00'),
    options: { role: 'client', maxFrameSize: 255 },
    code: ErrorCode.FrameTooLarge,
    closeCode: 1009,
  },
  {
    name: 'continuation above maxFrameSize, masked header only',
    bytes: hexBytes('00 fe 01 00 01 02 03 04'),
    options: { role: 'server', maxFrameSize: 100, streamingThreshold: 10 },
    code: ErrorCode.FrameTooLarge,
    closeCode: 1009,
  },
  {
    name: 'maxFrameSize 0 with a 1-byte frame after a valid empty one',
    bytes: hexBytes('82 00 82 01 61'),
    options: { role: 'client', maxFrameSize: 0 },
    code: ErrorCode.FrameTooLarge,
    closeCode: 1009,
  },
];

describe('FrameDecoder: protocol errors', () => {
  for (const c of ERROR_CASES) {
    it(`${c.name}: ${c.code} ${c.closeCode}, in every chunking, and stays dead`, () => {
      forEachChunking(c.bytes, (chunks) => {
        const decoder = new FrameDecoder(c.options);
        const err = expectProtocolError(
          () => {
            for (const chunk of chunks) {
              decoder.push(chunk);
              while (decoder.next() !== null) {
                // Valid frames before the bad one are fine.
              }
            }
          },
          c.code,
          c.closeCode,
        );
        expect(() => decoder.next()).toThrow(err);
        expect(() => decoder.next()).toThrow(err);
        expect(() => decoder.push(Buffer.from([0x82, 0x00]))).toThrow(err);
        expect(() => decoder.setAllowedRsv(0)).toThrow(err);
        let again: unknown;
        try {
          decoder.next();
        } catch (e) {
          again = e;
        }
        expect(again).toBe(err);
      });
    });
  }

  it('fails after the first two bytes, before the rest of the header arrives', () => {
    const decoder = new FrameDecoder({ role: 'server' });
    decoder.push(hexBytes('83'));
    expect(decoder.next()).toBeNull();
    decoder.push(hexBytes('ff'));
    expectProtocolError(() => decoder.next(), ErrorCode.InvalidOpcode, 1002);
  });

  it('raises FrameTooLarge from the header alone, for a huge announced frame', () => {
    const decoder = new FrameDecoder({ role: 'client', maxFrameSize: 1024 * 1024 });
    decoder.push(hexBytes('82 7f 00 00 00 01 00 00 00 00'));
    expectProtocolError(() => decoder.next(), ErrorCode.FrameTooLarge, 1009);
  });

  it('applies maxFrameSize to data frames only (control frames are bounded at 125)', () => {
    const events = decodeChunks(
      [Buffer.concat([hexBytes('89 05'), HELLO, hexBytes('82 02 68 69')])],
      {
        role: 'client',
        maxFrameSize: 2,
      },
    );
    expectSameFrames(assemble(events), [frame(Opcode.Ping, HELLO), frame(Opcode.Binary, 'hi')]);
  });

  it('accepts a frame of exactly maxFrameSize', () => {
    const events = decodeChunks([Buffer.concat([hexBytes('82 05'), HELLO])], {
      role: 'client',
      maxFrameSize: 5,
    });
    expectSameFrames(assemble(events), [frame(Opcode.Binary, HELLO)]);
  });
});

describe('FrameDecoder: allowedRsv', () => {
  it('lets text and binary frames carry the allowed bits', () => {
    const events = decodeChunks([hexBytes('c1 00 e2 00 f1 00')], {
      role: 'client',
      allowedRsv: Rsv.Rsv1 | Rsv.Rsv2 | Rsv.Rsv3,
    });
    expectSameFrames(assemble(events), [
      frame(Opcode.Text, '', { rsv1: true }),
      frame(Opcode.Binary, '', { rsv1: true, rsv2: true }),
      frame(Opcode.Text, '', { rsv1: true, rsv2: true, rsv3: true }),
    ]);
  });

  it('changes with setAllowedRsv from the next header on', () => {
    const decoder = new FrameDecoder({ role: 'client' });
    decoder.push(hexBytes('c1'));
    expect(decoder.next()).toBeNull();
    decoder.setAllowedRsv(Rsv.Rsv1);
    decoder.push(hexBytes('00'));
    expect(decoder.next()?.kind).toBe('frame');
    decoder.setAllowedRsv(0);
    decoder.push(hexBytes('c1 00'));
    expectProtocolError(() => decoder.next(), ErrorCode.ReservedBits, 1002);
  });
});

describe('FrameDecoder: options', () => {
  it('throws InvalidArgumentError for invalid options', () => {
    const bad: FrameDecoderOptions[] = [
      { role: 'peer' as Role },
      { role: 'client', maxFrameSize: -1 },
      { role: 'client', maxFrameSize: Number.NaN },
      { role: 'client', streamingThreshold: -1 },
      { role: 'client', streamingThreshold: Number.NaN },
      { role: 'client', allowedRsv: 0x80 },
      { role: 'client', allowedRsv: 0x0f },
      { role: 'client', allowedRsv: 1.5 },
    ];
    for (const options of bad) {
      expect(() => new FrameDecoder(options), JSON.stringify(options)).toThrow(
        InvalidArgumentError,
      );
    }
    expect(() => new FrameDecoder({ role: 'client' }).setAllowedRsv(0x01)).toThrow(
      InvalidArgumentError,
    );
  });
});
