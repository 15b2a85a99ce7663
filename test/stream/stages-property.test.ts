/**
 * Property: random frame sequences (text and binary messages of 0-70,000 bytes, most of them
 * small, fragmented at random with empty fragments allowed, pings and pongs interleaved),
 * serialized by FrameSerializer, re-chunked at random, parsed by FrameParser (with random
 * streaming thresholds and high-water marks) and assembled by MessageAssembler, come out as
 * exactly the messages and control frames that went in, in order.
 *
 * Each case has its own seed: `PROPERTY_SEED` (the base seed, default random) plus the case
 * index. A failure prints the case's seed; reproduce it alone with
 * `PROPERTY_SEED=<seed> PROPERTY_CASES=1 npx vitest run test/stream/stages-property.test.ts`.
 */
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import type { Frame, Role } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { FrameSerializer } from '../../lib/stream/frame-serializer.js';
import { MessageAssembler } from '../../lib/stream/message-assembler.js';
import { baseSeed, mulberry32 } from '../helpers/chunking.js';
import { encodeReference, frame, isFrame, view } from '../helpers/frames.js';
import { collector } from '../helpers/stream-events.js';

const CASES = Number(process.env.PROPERTY_CASES ?? 10_000);
const BASE_SEED = baseSeed(
  process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED),
);
const BATCHES = CASES >= 4 ? 4 : 1;

type Random = () => number;

const int = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

/** Sizes 0-70,000, most of them small; the length-form boundaries come up often. */
function size(random: Random): number {
  const r = random();
  if (r < 0.08) return [0, 1, 125, 126, 127, 65_535, 65_536, 65_537, 70_000][int(random, 0, 8)]!;
  if (r < 0.6) return int(random, 0, 40);
  if (r < 0.85) return int(random, 41, 1024);
  if (r < 0.97) return int(random, 1025, 16_384);
  return int(random, 16_385, 70_000);
}

/** Random bytes from the seeded generator, four at a time. */
function randomBytes(random: Random, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let i = 0;
  for (; i + 4 <= length; i += 4) out.writeUInt32LE(Math.floor(random() * 4294967296), i);
  for (; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Valid UTF-8 of exactly `length` bytes: mostly ASCII, with 2-, 3- and 4-byte code points. */
function randomUtf8(random: Random, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let i = 0;
  while (i < length) {
    const left = length - i;
    const r = random();
    if (r < 0.7 || left < 4) {
      out[i++] = int(random, 0x20, 0x7e);
    } else if (r < 0.85) {
      const cp = int(random, 0x80, 0x7ff);
      out[i++] = 0xc0 | (cp >> 6);
      out[i++] = 0x80 | (cp & 0x3f);
    } else if (r < 0.95) {
      let cp = int(random, 0x800, 0xffff - 0x800);
      if (cp >= 0xd800) cp += 0x800; // skip the surrogates
      out[i++] = 0xe0 | (cp >> 12);
      out[i++] = 0x80 | ((cp >> 6) & 0x3f);
      out[i++] = 0x80 | (cp & 0x3f);
    } else {
      const cp = int(random, 0x10000, 0x10ffff);
      out[i++] = 0xf0 | (cp >> 18);
      out[i++] = 0x80 | ((cp >> 12) & 0x3f);
      out[i++] = 0x80 | ((cp >> 6) & 0x3f);
      out[i++] = 0x80 | (cp & 0x3f);
    }
  }
  return out;
}

/**
 * Pools that payloads are cut from (generating 70,000 random bytes per message would cost
 * more than the pipeline under test). Fixed seeds: the case seed picks the slice.
 */
const POOL_SIZE = 256 * 1024;
const BINARY_POOL = randomBytes(mulberry32(0x5eed), POOL_SIZE);
const UTF8_POOL = randomUtf8(mulberry32(0x7e47), POOL_SIZE);

/** `length` random bytes: a view of the binary pool at a random offset (payloads are never modified). */
function binaryPayload(random: Random, length: number): Buffer {
  const at = int(random, 0, POOL_SIZE - length);
  return BINARY_POOL.subarray(at, at + length);
}

/** Valid UTF-8 of exactly `length` bytes: a slice of the UTF-8 pool cut at code points, padded with ASCII. */
function textPayload(random: Random, length: number): Buffer {
  let start = int(random, 0, POOL_SIZE - length);
  while ((UTF8_POOL[start]! & 0xc0) === 0x80) start++;
  let end = Math.min(start + length, POOL_SIZE);
  while (end < POOL_SIZE && (UTF8_POOL[end]! & 0xc0) === 0x80) end--;
  const slice = UTF8_POOL.subarray(start, end);
  if (slice.length === length) return slice;
  return Buffer.concat([slice, Buffer.alloc(length - slice.length, 0x61)]);
}

/** A ping or a pong with 0-125 random bytes. */
function control(random: Random): Frame {
  const opcode = random() < 0.5 ? Opcode.Ping : Opcode.Pong;
  return frame(
    opcode,
    randomBytes(random, random() < 0.5 ? int(random, 0, 4) : int(random, 0, 125)),
  );
}

/** One generated case: the frames to send and what must come out of the assembler. */
interface Scenario {
  senderRole: Role;
  frames: Frame[];
  expected: unknown[];
  streamingThreshold: number;
  parserHwm: number;
  assemblerHwm: number;
  serializerHwm: number;
  /** Largest re-chunk size (the chunk sizes are log-uniform up to it). */
  maxChunk: number;
  totalBytes: number;
}

/**
 * Picks the largest re-chunk size: byte-by-byte and other tiny pieces for small cases, and
 * never so small that a case is cut into more than about 2,000 pieces (which would only
 * measure the stream machinery).
 */
function chunkLimit(random: Random, payloadBytes: number): number {
  const choices = [1, 7, 64, 1024, 65_536];
  let i = int(random, 0, choices.length - 1);
  // Log-uniform sizes in 1..max average about max / ln(max + 1).
  while (i < choices.length - 1 && payloadBytes / (choices[i]! / Math.log(choices[i]! + 1)) > 2000)
    i++;
  return choices[i]!;
}

function scenario(random: Random): Scenario {
  const frames: Frame[] = [];
  const expected: unknown[] = [];
  const pingRate = random() < 0.3 ? 0 : random() * 0.4;
  const maybeControl = () => {
    if (random() < pingRate) {
      const c = control(random);
      frames.push(c);
      expected.push(view(c));
    }
  };
  const messages = random() < 0.1 ? int(random, 5, 20) : int(random, 1, 4);
  let totalBytes = 0;
  for (let m = 0; m < messages; m++) {
    maybeControl();
    const isText = random() < 0.5;
    const length = size(random);
    const payload = isText ? textPayload(random, length) : binaryPayload(random, length);
    totalBytes += length;
    // Cut points anywhere, repeats allowed: fragments may be empty. Text may be cut inside a code point.
    const pieces = random() < 0.4 ? 1 : random() < 0.9 ? int(random, 2, 6) : int(random, 7, 60);
    const cuts = Array.from({ length: pieces - 1 }, () => int(random, 0, length)).sort(
      (a, b) => a - b,
    );
    const bounds = [0, ...cuts, length];
    for (let k = 0; k + 1 < bounds.length; k++) {
      if (k > 0) maybeControl();
      const first = k === 0;
      frames.push(
        frame(
          first ? (isText ? Opcode.Text : Opcode.Binary) : Opcode.Continuation,
          payload.subarray(bounds[k]!, bounds[k + 1]!),
          k + 2 === bounds.length,
        ),
      );
    }
    expected.push(
      isText ? { text: payload.toString('utf8') } : { binary: payload.toString('hex') },
    );
  }
  maybeControl();
  const thresholds = [0, 1, 2, 125, 1000, 16_384];
  return {
    senderRole: random() < 0.5 ? 'client' : 'server',
    frames,
    expected,
    streamingThreshold:
      random() < 0.5
        ? Number.POSITIVE_INFINITY
        : thresholds[int(random, 0, thresholds.length - 1)]!,
    parserHwm: int(random, 1, 16),
    assemblerHwm: int(random, 1, 16),
    serializerHwm: int(random, 1, 16),
    maxChunk: chunkLimit(random, totalBytes),
    totalBytes,
  };
}

/**
 * Re-cuts a byte stream into pieces of random sizes, joining and splitting the chunks it
 * gets, each piece a fresh copy (the parser unmasks in place).
 */
class Rechunker extends Transform {
  readonly #random: Random;
  readonly #max: number;
  readonly #pending: Buffer[] = [];
  #pendingBytes = 0;
  #target: number;

  constructor(random: Random, maxChunk: number) {
    super();
    this.#random = random;
    this.#max = maxChunk;
    this.#target = this.#nextSize();
  }

  #nextSize(): number {
    // Log-uniform in 1..max, so that tiny and large pieces are both common.
    return Math.max(
      1,
      Math.min(this.#max, Math.floor(Math.exp(this.#random() * Math.log(this.#max + 1)))),
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    while (this.#pendingBytes >= this.#target) {
      this.push(this.#take(this.#target));
      this.#target = this.#nextSize();
    }
    callback();
  }

  override _flush(callback: () => void): void {
    if (this.#pendingBytes > 0) this.push(this.#take(this.#pendingBytes));
    callback();
  }

  /** Copies the next `n` pending bytes into a fresh buffer and drops them from the queue. */
  #take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const head = this.#pending[0]!;
      const k = Math.min(n - copied, head.length);
      head.copy(out, copied, 0, k);
      copied += k;
      if (k === head.length) this.#pending.shift();
      else this.#pending[0] = head.subarray(k);
    }
    this.#pendingBytes -= n;
    return out;
  }
}

/** A comparable form of what the assembler hands out. */
function show(item: unknown): unknown {
  if (typeof item === 'string') return { text: item };
  if (Buffer.isBuffer(item)) return { binary: item.toString('hex') };
  if (isFrame(item)) return view(item);
  return { unexpected: String(item) };
}

interface Stats {
  frames: number;
  messages: number;
  controls: number;
  bytes: number;
  fragmented: number;
  streamed: number;
  above64k: number;
}

async function runCase(seed: number, stats: Stats): Promise<void> {
  const random = mulberry32(seed);
  const s = scenario(random);
  const parserRole: Role = s.senderRole === 'client' ? 'server' : 'client';
  const parser = new FrameParser({
    role: parserRole,
    streamingThreshold: s.streamingThreshold,
    highWaterMark: s.parserHwm,
  });
  const parsed: Frame[] = [];
  parser.on('data', (f: Frame) => parsed.push(f));
  const sink = collector();
  await pipeline(
    Readable.from(s.frames, { objectMode: true, highWaterMark: 4 }),
    new FrameSerializer({ role: s.senderRole, highWaterMark: s.serializerHwm }),
    new Rechunker(random, s.maxChunk),
    parser,
    new MessageAssembler({ highWaterMark: s.assemblerHwm }),
    sink,
  );
  expect(sink.items.map(show)).toEqual(s.expected);
  if (s.streamingThreshold === Number.POSITIVE_INFINITY) {
    // Without streaming the parser hands out exactly the frames that were serialized.
    expect(parsed.map(view)).toEqual(s.frames.map(view));
  } else {
    expect(parsed.length).toBeGreaterThanOrEqual(s.frames.length);
    if (parsed.length > s.frames.length) stats.streamed++;
  }
  if (s.senderRole === 'server') {
    // Unmasked, the serializer's bytes are exactly the reference encoding (checked on a sample).
    if ((seed & 7) === 0) {
      const bytes: Buffer[] = [];
      const serializer = new FrameSerializer({ role: 'server' });
      serializer.on('data', (b: Buffer) => bytes.push(b));
      await pipeline(Readable.from(s.frames), serializer);
      expect(
        Buffer.concat(bytes).equals(Buffer.concat(s.frames.map((f) => encodeReference(f)))),
      ).toBe(true);
    }
  }
  stats.frames += s.frames.length;
  stats.messages += s.expected.filter((e) => !('opcode' in (e as object))).length;
  stats.controls += s.expected.filter((e) => 'opcode' in (e as object)).length;
  stats.bytes += s.totalBytes;
  stats.fragmented += s.frames.filter((f) => f.opcode === Opcode.Continuation).length > 0 ? 1 : 0;
  stats.above64k += s.frames.some((f) => f.payload.length > 65_535) ? 1 : 0;
}

describe('serializer -> random re-chunking -> parser -> assembler equals the input', () => {
  const perBatch = Math.ceil(CASES / BATCHES);
  for (let batch = 0; batch < BATCHES; batch++) {
    const from = batch * perBatch;
    const to = Math.min(CASES, from + perBatch);
    it(`cases ${from}-${to - 1} (base seed ${BASE_SEED})`, { timeout: 120_000 }, async () => {
      const stats: Stats = {
        frames: 0,
        messages: 0,
        controls: 0,
        bytes: 0,
        fragmented: 0,
        streamed: 0,
        above64k: 0,
      };
      for (let i = from; i < to; i++) {
        const seed = (BASE_SEED + i) >>> 0;
        try {
          await runCase(seed, stats);
        } catch (err) {
          const how = `PROPERTY_SEED=${seed} PROPERTY_CASES=1 npx vitest run test/stream/stages-property.test.ts`;
          console.error(
            `property case ${i} failed: seed ${seed} (base ${BASE_SEED}); reproduce: ${how}`,
          );
          if (err instanceof Error) {
            err.message = `[case ${i}, seed ${seed}; reproduce: ${how}] ${err.message}`;
          }
          throw err;
        }
      }
      // The generator covers what it claims to (the counts scale with the number of cases).
      const n = to - from;
      expect(stats.messages).toBeGreaterThanOrEqual(n);
      if (n >= 1000) {
        expect(stats.controls).toBeGreaterThan(n / 4);
        expect(stats.fragmented).toBeGreaterThan(n / 4);
        expect(stats.streamed).toBeGreaterThan(n / 10);
        expect(stats.above64k).toBeGreaterThan(5);
      }
      console.log(`cases ${from}-${to - 1}: ${JSON.stringify(stats)}`);
    });
  }
});
