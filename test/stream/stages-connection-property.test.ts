/**
 * Property (issue 13's Constraints): the piped stages and the connection read the same
 * bytes the same way. Random frame sequences (text and binary messages, most of them
 * small, fragmented at random with empty fragments, pings and pongs between and inside
 * messages, compressed messages in some cases, a Close at the end), randomly re-chunked,
 * sometimes with one fault injected (bad UTF-8 anywhere in a text, a text ending inside a
 * code point, a continuation with nothing to continue, a new message inside one, a message
 * over the limit, a frame over the frame limit, unclaimed RSV bits, a reserved opcode, a
 * long or fragmented control frame, the wrong masking, corrupt compressed data), go through:
 *
 *   A. FrameParser -> MessageAssembler (with the extension when compressed)
 *   B. FrameParser -> MessageStreamer (uncompressed cases: the streamer takes no extensions)
 *   C. a WebSocketConnection over an in-memory duplex pair (whole messages)
 *   D. the same with messageStreams: true
 *   E. a raw-mode connection (assembleFragments: false) piped into
 *      `new MessageAssembler({ extensions: connection.extensionObjects })`
 *
 * Each must give exactly what the generator expects (an independent oracle: the messages
 * and control frames that went in, in their place; for a fault, what came before it and
 * the fault's error), so all give identical outputs and identical errors: the same error
 * code, and the same close code (the error's for the stages, the Close frame each
 * connection sends, for E the one the pipeline's destroy sends). A connection reports
 * control frames as events, so for D and E the order of messages and the order of control
 * frames are compared each on its own (C keeps them interleaved in place).
 *
 * Compressed cases run every path but B, raw mode included (E: the assembler holds the
 * connection's extensions past its close), and a fault found ahead by the FrameParser or
 * the raw connection waits for the assembler's inflation (fault-deferral.ts): no exception
 * is made, every path must give exactly the expected output and error.
 *
 * Each case has its own seed: PROPERTY_SEED (the base, default random) plus the case index.
 * A failure prints the case's seed; reproduce it alone with
 * `PROPERTY_SEED=<seed> PROPERTY_CASES=1 npx vitest run test/stream/stages-connection-property.test.ts`.
 * The run is bounded in count (PROPERTY_CASES, default 1500) and in time (PROPERTY_MS,
 * default 30 s; the cases not run in time are reported, never silently counted).
 */
import { pipeline } from 'node:stream/promises';
import { setImmediate as tick } from 'node:timers/promises';
import zlib from 'node:zlib';
import { Readable, Writable } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import type { Extension } from '../../lib/extensions/extension.js';
import { PerMessageDeflate } from '../../lib/extensions/permessage-deflate.js';
import { CLOSE_CODE_OF, ErrorCode } from '../../lib/protocol/errors.js';
import type { Role } from '../../lib/protocol/frame.js';
import { Opcode, Rsv } from '../../lib/protocol/opcodes.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { IncomingMessageStream } from '../../lib/stream/incoming-message-stream.js';
import { MessageAssembler } from '../../lib/stream/message-assembler.js';
import { MessageStreamer } from '../../lib/stream/message-streamer.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { baseSeed, cutAt, mulberry32, randomCuts } from '../helpers/chunking.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { encodeReference, isFrame } from '../helpers/frames.js';
import { WireReader } from '../helpers/wire-reader.js';

const CASES = Number(process.env.PROPERTY_CASES ?? 1500);
const BUDGET_MS = Number(process.env.PROPERTY_MS ?? 30_000);
const BASE_SEED = baseSeed(
  process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED),
);
/** How long one system may take to settle before the case fails as hung (not a timing assertion). */
const HANG_MS = 15_000;

type Random = () => number;
const int = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[int(random, 0, items.length - 1)]!;

// ---------------------------------------------------------------------------------------
// Payloads

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
      if (cp >= 0xd800) cp += 0x800; // no surrogates
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

/** Sizes 0-70,000, most of them small; the length-form boundaries come up often. */
function size(random: Random, max: number): number {
  const r = random();
  let n: number;
  if (r < 0.08) n = pick(random, [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]);
  else if (r < 0.65) n = int(random, 0, 40);
  else if (r < 0.9) n = int(random, 41, 1024);
  else if (r < 0.98) n = int(random, 1025, 16_384);
  else n = int(random, 16_385, 70_000);
  return Math.min(n, max);
}

/** A permessage-deflate payload as a peer sends it: sync-flushed, the trailer taken off. */
function deflated(payload: Buffer): Buffer {
  const out = zlib.deflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

/** Invalid UTF-8 sequences of every kind the validator must catch. */
const BAD_UTF8: readonly number[][] = [
  [0xff],
  [0x80],
  [0xc0, 0x80],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc3, 0x28],
];

// ---------------------------------------------------------------------------------------
// Scenarios and what each mode must give

/** One frame as it goes on the wire. */
interface WireSpec {
  opcode: number;
  payload: Buffer;
  fin: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** The wrong masking for the receiver's role (a fault). */
  wrongMask?: boolean;
}

/** What a receiver gives, in a comparable form. */
type Out =
  | { text: string }
  | { binary: string }
  | { ping: string }
  | { pong: string }
  | { close: [number, string] }
  | { stream: 'text' | 'binary'; data: string }
  | { stream: 'text' | 'binary'; outcome: string }
  /** A control frame that a raw connection reported as an event (E). */
  | { raw: true; ping: string }
  | { raw: true; pong: string };

interface Fault {
  kind: string;
  code: ErrorCode;
  closeCode: number;
}

interface Scenario {
  receiver: Role;
  compressed: boolean;
  /** Message limit (held messages, streamed messages, the assemblers'). */
  limit: number;
  /** Frame limit, given explicitly to every receiver. */
  frameLimit: number;
  /** maxStreamedMessageSize of the raw connection (E). */
  rawLimit: number;
  streamingThreshold: number;
  frames: WireSpec[];
  /** What 'messages' mode gives (A, C), and E's messages. */
  messages: Out[];
  /** What 'streams' mode gives (B, D). */
  streams: Out[];
  fault: Fault | undefined;
  maxChunk: number;
  bytes: number;
}

const FAULTS = [
  'utf8',
  'truncated',
  'continuation',
  'interleave',
  'too-big',
  'frame-too-big',
  'rsv',
  'opcode',
  'control-long',
  'control-fragmented',
  'mask',
  'corrupt',
] as const;
type FaultKind = (typeof FAULTS)[number];

function fault(kind: string, code: ErrorCode): Fault {
  return { kind, code, closeCode: CLOSE_CODE_OF[code]! };
}

function scenario(random: Random): Scenario {
  const receiver: Role = random() < 0.5 ? 'server' : 'client';
  const compressed = random() < 0.3;
  const limit = random() < 0.6 ? Number.POSITIVE_INFINITY : int(random, 0, 3000);
  const frames: WireSpec[] = [];
  const messages: Out[] = [];
  const streams: Out[] = [];
  let bytes = 0;

  const pingRate = random() < 0.3 ? 0 : random() * 0.4;
  const control = (): void => {
    const opcode = random() < 0.5 ? Opcode.Ping : Opcode.Pong;
    const payload = randomBytes(random, random() < 0.5 ? int(random, 0, 4) : int(random, 0, 125));
    frames.push({ opcode, payload, fin: true });
    const out: Out =
      opcode === Opcode.Ping
        ? { ping: payload.toString('hex') }
        : { pong: payload.toString('hex') };
    messages.push(out);
    streams.push(out);
  };
  const maybeControl = (): void => {
    if (random() < pingRate) control();
  };

  /**
   * Cuts a message's wire payload into frames (empty fragments allowed); `between` runs
   * between fragments. Returns the frames, first one with the message's opcode and RSV1.
   */
  const fragments = (
    opcode: number,
    wire: Buffer,
    rsv1: boolean,
    between: () => void = () => {},
    minPieces = 1,
  ): void => {
    const pieces = Math.max(
      minPieces,
      random() < 0.4 ? 1 : random() < 0.9 ? int(random, 2, 6) : int(random, 7, 40),
    );
    const cuts = Array.from({ length: pieces - 1 }, () => int(random, 0, wire.length)).sort(
      (a, b) => a - b,
    );
    const bounds = [0, ...cuts, wire.length];
    for (let k = 0; k + 1 < bounds.length; k++) {
      if (k > 0) between();
      frames.push({
        opcode: k === 0 ? opcode : Opcode.Continuation,
        payload: wire.subarray(bounds[k]!, bounds[k + 1]!),
        fin: k + 2 === bounds.length,
        rsv1: k === 0 && rsv1,
      });
    }
  };

  /** A valid message, recorded in both modes' expectations. */
  const message = (): void => {
    const isText = random() < 0.5;
    const length = size(random, limit);
    const payload = isText ? randomUtf8(random, length) : randomBytes(random, length);
    bytes += length;
    const squeeze = compressed && random() < 0.6;
    const kind = isText ? 'text' : 'binary';
    streams.push({ stream: kind, data: payload.toString('hex') });
    fragments(
      isText ? Opcode.Text : Opcode.Binary,
      squeeze ? deflated(payload) : payload,
      squeeze,
      maybeControl,
    );
    messages.push(
      isText ? { text: payload.toString('utf8') } : { binary: payload.toString('hex') },
    );
  };

  const count = random() < 0.1 ? int(random, 5, 15) : int(random, 1, 5);
  const faultAt = random() < 0.45 ? int(random, 0, count) : -1;
  let injected: Fault | undefined;
  let frameLimit = Number.POSITIVE_INFINITY;
  for (let m = 0; m <= count; m++) {
    maybeControl();
    if (m === faultAt) {
      const kinds = FAULTS.filter(
        (k) =>
          (k !== 'too-big' || limit !== Number.POSITIVE_INFINITY) &&
          ((k !== 'utf8' && k !== 'truncated') || limit >= 4) &&
          (k !== 'corrupt' || compressed),
      );
      injected = injectFault(pick(random, kinds));
      // Frames after the fault must not count: a few valid frames, maybe a Close.
      for (let j = int(random, 0, 3); j > 0; j--) {
        frames.push({ opcode: Opcode.Text, payload: Buffer.from('after'), fin: true });
      }
      break;
    }
    if (m === count) break;
    message();
  }
  if (injected === undefined) {
    maybeControl();
    // A Close ends every clean case: without a code, or with a code and a reason.
    const payload =
      random() < 0.3 ? Buffer.alloc(0) : closePayload(pick(random, [1000, 1001, 3000, 4999]));
    frames.push({ opcode: Opcode.Close, payload, fin: true });
    const out: Out = {
      close:
        payload.length === 0
          ? [1005, '']
          : [payload.readUInt16BE(0), payload.subarray(2).toString('utf8')],
    };
    messages.push(out);
    streams.push(out);
  }

  function closePayload(code: number): Buffer {
    const reason = randomUtf8(random, int(random, 0, 30));
    const out = Buffer.alloc(2 + reason.length);
    out.writeUInt16BE(code, 0);
    reason.copy(out, 2);
    return out;
  }

  /** Appends the frames of one fault and what comes out of them before the error. */
  function injectFault(kind: FaultKind): Fault {
    switch (kind) {
      case 'utf8':
      case 'truncated': {
        // Within the limit with the bad bytes, so that it fails for its UTF-8 alone.
        const good = randomUtf8(random, size(random, Math.min(2000, limit - 4)));
        let at = int(random, 0, good.length);
        while (at > 0 && (good[at]! & 0xc0) === 0x80) at--; // insert between code points
        const payload =
          kind === 'utf8'
            ? Buffer.concat([
                good.subarray(0, at),
                Buffer.from(pick(random, BAD_UTF8)),
                good.subarray(at),
              ])
            : Buffer.concat([good, Buffer.from([0xf0, 0x9f, 0x98].slice(0, int(random, 1, 3)))]);
        const squeeze = compressed && random() < 0.6;
        streams.push({ stream: 'text', outcome: `error ${ErrorCode.InvalidUtf8}` });
        fragments(Opcode.Text, squeeze ? deflated(payload) : payload, squeeze);
        return fault(kind, ErrorCode.InvalidUtf8);
      }
      case 'continuation':
        frames.push({
          opcode: Opcode.Continuation,
          payload: randomBytes(random, int(random, 0, 300)),
          fin: random() < 0.5,
        });
        return fault(kind, ErrorCode.UnexpectedContinuation);
      case 'interleave': {
        // A message begun, then a new data frame instead of its continuation.
        const isText = random() < 0.5;
        const payload = isText
          ? randomUtf8(random, size(random, Math.min(500, limit)))
          : randomBytes(random, size(random, Math.min(500, limit)));
        streams.push({
          stream: isText ? 'text' : 'binary',
          outcome: `error ${ErrorCode.ExpectedContinuation}`,
        });
        const before = frames.length;
        fragments(isText ? Opcode.Text : Opcode.Binary, payload, false);
        frames[frames.length - 1]!.fin = false; // the message stays open
        frames.splice(before + 1); // keep its first frame only
        frames.push({
          opcode: random() < 0.5 ? Opcode.Text : Opcode.Binary,
          payload: Buffer.from('new'),
          fin: random() < 0.5,
        });
        return fault(kind, ErrorCode.ExpectedContinuation);
      }
      case 'too-big': {
        const isText = random() < 0.5;
        const length = limit + 1 + int(random, 0, Math.min(limit, 2000));
        const payload = isText ? randomUtf8(random, length) : randomBytes(random, length);
        const squeeze = compressed && random() < 0.6;
        streams.push({
          stream: isText ? 'text' : 'binary',
          outcome: `error ${ErrorCode.MessageTooLarge}`,
        });
        fragments(
          isText ? Opcode.Text : Opcode.Binary,
          squeeze ? deflated(payload) : payload,
          squeeze,
        );
        return fault(kind, ErrorCode.MessageTooLarge);
      }
      case 'frame-too-big': {
        // Every frame before fits; this one is a byte or more over.
        const largest = Math.max(125, ...frames.map((f) => f.payload.length));
        frameLimit = largest + int(random, 0, 50);
        frames.push({
          opcode: Opcode.Binary,
          payload: randomBytes(random, frameLimit + 1 + int(random, 0, 1000)),
          fin: true,
        });
        return fault(kind, ErrorCode.FrameTooLarge);
      }
      case 'rsv': {
        const bits = pick(random, compressed ? [2, 3, 6] : [1, 2, 3, 5, 6, 7]);
        frames.push({
          opcode: pick(random, [Opcode.Text, Opcode.Binary, Opcode.Ping]),
          payload: Buffer.from('rsv'),
          fin: true,
          rsv1: (bits & 4) !== 0,
          rsv2: (bits & 2) !== 0,
          rsv3: (bits & 1) !== 0,
        });
        return fault(kind, ErrorCode.ReservedBits);
      }
      case 'opcode':
        frames.push({
          opcode: pick(random, [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]),
          payload: randomBytes(random, int(random, 0, 20)),
          fin: true,
        });
        return fault(kind, ErrorCode.InvalidOpcode);
      case 'control-long':
      case 'control-fragmented': {
        // Between two messages, or inside one (which then never completes).
        if (random() < 0.5) {
          const payload = randomBytes(random, int(random, 0, Math.min(300, limit)));
          streams.push({
            stream: 'binary',
            outcome: `error ${kind === 'control-long' ? ErrorCode.ControlFrameTooLong : ErrorCode.FragmentedControlFrame}`,
          });
          frames.push({ opcode: Opcode.Binary, payload, fin: false });
        }
        const opcode = pick(random, [Opcode.Ping, Opcode.Pong, Opcode.Close]);
        if (kind === 'control-long') {
          frames.push({ opcode, payload: randomBytes(random, int(random, 126, 300)), fin: true });
          return fault(kind, ErrorCode.ControlFrameTooLong);
        }
        frames.push({ opcode, payload: Buffer.alloc(0), fin: false });
        return fault(kind, ErrorCode.FragmentedControlFrame);
      }
      case 'mask':
        frames.push({
          opcode: pick(random, [Opcode.Text, Opcode.Binary, Opcode.Ping]),
          payload: Buffer.from('masked?'),
          fin: true,
          wrongMask: true,
        });
        return fault(
          kind,
          receiver === 'server' ? ErrorCode.MaskRequired : ErrorCode.UnexpectedMask,
        );
      case 'corrupt': {
        // A deflate block of the reserved type (BTYPE 11): invalid whatever follows.
        const payload = Buffer.concat([
          Buffer.from([0xff]),
          randomBytes(random, int(random, 0, 50)),
        ]);
        const isText = random() < 0.5;
        streams.push({
          stream: isText ? 'text' : 'binary',
          outcome: `error ${ErrorCode.ExtensionFailed}`,
        });
        fragments(isText ? Opcode.Text : Opcode.Binary, payload, true);
        return fault(kind, ErrorCode.ExtensionFailed);
      }
    }
  }

  const thresholds = [0, 1, 2, 125, 1000, 16_384];
  return {
    receiver,
    compressed,
    limit,
    frameLimit,
    rawLimit: compressed || random() < 0.5 ? Number.POSITIVE_INFINITY : limit,
    streamingThreshold: random() < 0.5 ? Number.POSITIVE_INFINITY : pick(random, thresholds),
    frames,
    messages,
    streams,
    fault: injected,
    maxChunk: pick(random, [1, 7, 64, 1024, 65_536]),
    bytes,
  };
}

/** Encodes the frames as the receiver's peer puts them on the wire. */
function wireBytes(s: Scenario, random: Random): Buffer {
  const peerMasks = s.receiver === 'server';
  return Buffer.concat(
    s.frames.map((f) => {
      const masked = f.wrongMask === true ? !peerMasks : peerMasks;
      return encodeReference({ ...f, maskKey: masked ? randomBytes(random, 4) : undefined });
    }),
  );
}

/**
 * Cuts the bytes into fresh chunks (receivers unmask in place): byte-sized pieces for small
 * cases, never so many that a case is only a measure of the stream machinery.
 */
function chunksOf(bytes: Buffer, maxChunk: number, random: Random): Buffer[] {
  let max = maxChunk;
  while (max < 65_536 && bytes.length / max > 3000) max *= 8;
  const points: number[] = [];
  let at = 0;
  for (;;) {
    at += Math.max(1, Math.min(max, Math.floor(Math.exp(random() * Math.log(max + 1)))));
    if (at >= bytes.length) break;
    points.push(at);
  }
  if (random() < 0.1) return cutAt(bytes, randomCuts(bytes.length, random, 8), random);
  return cutAt(bytes, points, random);
}

// ---------------------------------------------------------------------------------------
// The systems under test

/** What a system gave: its outputs, and its error (code and close code), if any. */
interface Result {
  out: Out[];
  error: { code: string; closeCode: number | undefined } | undefined;
}

function codeOf(err: unknown): string {
  return (err as { code?: string }).code ?? String(err);
}

function closeOfFrame(payload: Buffer): [number, string] {
  return payload.length === 0
    ? [1005, '']
    : [payload.readUInt16BE(0), payload.subarray(2).toString('utf8')];
}

/** Marks a control frame as reported by a raw connection's events. */
function rawControl(out: Out): Out {
  return 'ping' in out
    ? { raw: true, ping: out.ping }
    : { raw: true, pong: (out as { pong: string }).pong };
}

/** A comparable form of what a messages-mode stage hands out. */
function outOf(item: unknown): Out {
  if (typeof item === 'string') return { text: item };
  if (Buffer.isBuffer(item)) return { binary: item.toString('hex') };
  if (isFrame(item)) {
    if (item.opcode === Opcode.Ping) return { ping: item.payload.toString('hex') };
    if (item.opcode === Opcode.Pong) return { pong: item.payload.toString('hex') };
    if (item.opcode === Opcode.Close) return { close: closeOfFrame(item.payload) };
  }
  return { text: `unexpected ${String(item)}` };
}

/** Records an IncomingMessageStream to the end; `settled` resolves when it has. */
class StreamRecord {
  readonly kind: 'text' | 'binary';
  readonly chunks: Buffer[] = [];
  outcome = 'pending';
  readonly settled: Promise<void>;

  constructor(message: IncomingMessageStream) {
    this.kind = message.binary ? 'binary' : 'text';
    this.settled = new Promise((resolve) => {
      message.on('data', (chunk: Buffer) => this.chunks.push(chunk));
      message.on('end', () => {
        if (this.outcome === 'pending') this.outcome = 'end';
      });
      message.on('error', (err) => {
        if (this.outcome === 'pending') this.outcome = `error ${codeOf(err)}`;
      });
      message.on('close', () => {
        if (this.outcome === 'pending') this.outcome = 'cut';
        resolve();
      });
    });
  }

  out(): Out {
    return this.outcome === 'end'
      ? { stream: this.kind, data: Buffer.concat(this.chunks).toString('hex') }
      : { stream: this.kind, outcome: this.outcome };
  }
}

/** Fails after HANG_MS: a receiver that never settles is a failure, not a slow test. */
function guard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle in ${HANG_MS} ms`)), HANG_MS);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

/** A negotiated permessage-deflate extension for the receiver's end. */
function deflateFor(role: Role): Extension {
  const client = new PerMessageDeflate({}, 'client');
  const chosen = new PerMessageDeflate({}, 'server').negotiate(client.offer());
  if (chosen === null) throw new Error('permessage-deflate was declined');
  return role === 'server' ? chosen.extension : client.accept(chosen.answer);
}

/** A sink that records what it is written; message streams are recorded to their end. */
function sink(into: Array<Out | StreamRecord>): Writable {
  return new Writable({
    objectMode: true,
    write(item: unknown, _encoding, callback) {
      into.push(item instanceof IncomingMessageStream ? new StreamRecord(item) : outOf(item));
      callback();
    },
  });
}

async function settleRecords(items: Array<Out | StreamRecord>): Promise<Out[]> {
  await Promise.all(items.map((i) => (i instanceof StreamRecord ? i.settled : undefined)));
  return items.map((i) => (i instanceof StreamRecord ? i.out() : i));
}

/** A, B: FrameParser -> MessageAssembler or MessageStreamer, in a pipeline. */
async function runStages(s: Scenario, chunks: Buffer[], streamed: boolean): Promise<Result> {
  const extension = s.compressed && !streamed ? deflateFor(s.receiver) : undefined;
  const items: Array<Out | StreamRecord> = [];
  let error: Result['error'];
  try {
    await pipeline(
      Readable.from(chunks, { objectMode: false }),
      new FrameParser({
        role: s.receiver,
        maxFrameSize: s.frameLimit,
        allowedRsv: extension === undefined ? 0 : Rsv.Rsv1,
        streamingThreshold: s.streamingThreshold,
      }),
      streamed
        ? new MessageStreamer({ maxMessageSize: s.limit })
        : new MessageAssembler({
            maxMessageSize: s.limit,
            extensions: extension === undefined ? [] : [extension],
          }),
      sink(items),
    );
  } catch (err) {
    error = { code: codeOf(err), closeCode: (err as { closeCode?: number }).closeCode };
  } finally {
    extension?.dispose();
  }
  return { out: await settleRecords(items), error };
}

/**
 * C, D, E: a connection over an in-memory pair, the case's bytes written to the other end,
 * which answers a Close by ending, as a peer's TCP would after the handshake.
 */
async function runConnection(
  s: Scenario,
  chunks: Buffer[],
  mode: 'messages' | 'streams' | 'frames',
): Promise<Result & { wireClose: [number, string] | undefined; errors: number; clean: boolean }> {
  const [ours, theirs] = duplexPair();
  const connection = new WebSocketConnection<Incoming>(ours, {
    role: s.receiver,
    maxReceivedFrameSize: s.frameLimit,
    ...(mode === 'messages' && { maxReceivedMessageSize: s.limit }),
    ...(mode === 'streams' && { messageStreams: true, maxStreamedMessageSize: s.limit }),
    ...(mode === 'frames' && { assembleFragments: false, maxStreamedMessageSize: s.rawLimit }),
    extensions: s.compressed ? [deflateFor(s.receiver)] : [],
  });
  const items: Array<Out | StreamRecord> = [];
  const controls: Out[] = [];
  let errors = 0;
  let firstError: unknown;
  connection.on('error', (err) => {
    errors++;
    firstError ??= err;
  });
  const onControl = (kind: 'ping' | 'pong') => (payload: Buffer) => {
    const out = { [kind]: payload.toString('hex') } as Out;
    // In raw mode the messages come out of the assembler, and a message stream comes out as
    // the connection's readable side lets it (after those before it, which may be slow to
    // read), while a control frame's event is emitted as the frame is read: only the order
    // of each kind is compared.
    if (mode !== 'messages') controls.push(out);
    else items.push(out);
  };
  connection.on('ping', onControl('ping'));
  connection.on('pong', onControl('pong'));

  // The peer's end: reads what the connection sends, ends its side after a Close.
  const reader = new WireReader();
  let wireClose: [number, string] | undefined;
  theirs.on('data', (chunk: Buffer) => {
    for (const f of reader.push(chunk)) {
      if (f.opcode !== Opcode.Close || wireClose !== undefined) continue;
      wireClose = closeOfFrame(f.payload);
      theirs.end();
    }
  });
  theirs.on('error', () => {});
  const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));

  let piped: Promise<unknown> | undefined;
  if (mode === 'frames') {
    const assembler = new MessageAssembler({
      maxMessageSize: s.limit,
      extensions: connection.extensionObjects,
    });
    piped = pipeline(connection, assembler, sink(items)).catch((err: unknown) => {
      firstError ??= err;
    });
  } else {
    connection.on('data', (item: unknown) => {
      items.push(item instanceof IncomingMessageStream ? new StreamRecord(item) : outOf(item));
    });
  }
  await tick(); // flowing before the first byte
  for (const chunk of chunks) {
    if (theirs.destroyed || theirs.writableEnded) break;
    theirs.write(chunk);
  }
  await guard(closed, `the ${mode} connection`);
  await guard(Promise.resolve(piped), `the raw connection's pipeline`);
  const out = await guard(settleRecords(items), `the ${mode} connection's message streams`);
  // The peer's Close, as the connection reports it, ends what it gives (C, D, E alike).
  if (connection.wasClean || connection.closeCode !== 1006) {
    out.push({ close: [connection.closeCode, connection.closeReason] });
  }
  if (mode !== 'messages') out.push(...controls.map(rawControl));
  return {
    out,
    error:
      firstError === undefined
        ? undefined
        : { code: codeOf(firstError), closeCode: wireClose?.[0] },
    wireClose,
    errors,
    clean: connection.wasClean,
  };
}

// ---------------------------------------------------------------------------------------
// The property

interface Stats {
  cases: number;
  faults: Record<string, number>;
  compressed: number;
  messages: number;
  controls: number;
  bytes: number;
}

/** The case being run, described for a failure's message. */
let current = '';

async function runCase(seed: number, stats: Stats): Promise<void> {
  const random = mulberry32(seed);
  const s = scenario(random);
  const bytes = wireBytes(s, random);
  const expectedError =
    s.fault === undefined ? undefined : { code: s.fault.code, closeCode: s.fault.closeCode };
  const messagesOnly = s.messages.filter((o) => !('ping' in o) && !('pong' in o));
  const controlsOnly = s.messages.filter((o) => 'ping' in o || 'pong' in o).map(rawControl);

  current = `${s.receiver} receives ${s.frames.length} frames (${bytes.length} bytes), ${s.compressed ? 'compressed, ' : ''}limit ${s.limit}, fault ${s.fault?.kind ?? 'none'}`;
  const [a, b, c, d, e] = await Promise.all([
    runStages(s, chunksOf(bytes, s.maxChunk, random), false),
    s.compressed ? undefined : runStages(s, chunksOf(bytes, s.maxChunk, random), true),
    runConnection(s, chunksOf(bytes, s.maxChunk, random), 'messages'),
    runConnection(s, chunksOf(bytes, s.maxChunk, random), 'streams'),
    runConnection(s, chunksOf(bytes, s.maxChunk, random), 'frames'),
  ]);

  // A, C: every message and control frame, in place; the same error, the same close code.
  expect(a, 'A: FrameParser -> MessageAssembler').toEqual({
    out: s.messages,
    error: expectedError,
  });
  expect({ out: c.out, error: c.error }, 'C: connection').toEqual({
    out: s.messages,
    error: expectedError,
  });
  // B, D: the same as streams (a message stream begins at its first frame).
  if (b !== undefined) {
    expect(b, 'B: FrameParser -> MessageStreamer').toEqual({
      out: s.streams,
      error: expectedError,
    });
  }
  expect({ out: d.out, error: d.error }, 'D: connection, messageStreams').toEqual({
    out: [...s.streams.filter((o) => !('ping' in o) && !('pong' in o)), ...controlsOnly],
    error: expectedError,
  });
  // E: the raw connection's frames assembled later give the same messages (compressed
  // ones too); its control frames are the connection's events, in their own order.
  expect({ out: e.out, error: e.error }, 'E: raw connection -> MessageAssembler').toEqual({
    out: [...messagesOnly, ...controlsOnly],
    error: expectedError,
  });
  for (const [name, r] of [
    ['C', c],
    ['D', d],
    ['E', e],
  ] as const) {
    // One 'error' for a fault (E's may be the pipeline's, emitted on the connection too),
    // none for a clean case, which ends with both Close frames exchanged.
    expect(r.errors, `${name}: 'error' events`).toBe(s.fault === undefined ? 0 : 1);
    expect(r.clean, `${name}: clean close`).toBe(s.fault === undefined);
    if (s.fault === undefined) {
      const sent = (s.messages.at(-1) as { close: [number, string] }).close[0];
      expect(r.wireClose, `${name}: the Close echoed`).toEqual([sent, '']);
    }
  }

  stats.cases++;
  if (s.fault !== undefined) stats.faults[s.fault.kind] = (stats.faults[s.fault.kind] ?? 0) + 1;
  if (s.compressed) stats.compressed++;
  stats.messages += messagesOnly.length;
  stats.controls += controlsOnly.length;
  stats.bytes += s.bytes;
}

describe('the piped stages and the connection read every input alike', () => {
  it(`random frame sequences, re-chunked at random (up to ${CASES} cases in ${BUDGET_MS} ms, base seed ${BASE_SEED})`, {
    timeout: BUDGET_MS + 4 * HANG_MS,
  }, async () => {
    const stats: Stats = {
      cases: 0,
      faults: {},
      compressed: 0,
      messages: 0,
      controls: 0,
      bytes: 0,
    };
    const started = Date.now();
    for (let i = 0; i < CASES && Date.now() - started < BUDGET_MS; i++) {
      const seed = (BASE_SEED + i) >>> 0;
      try {
        await runCase(seed, stats);
      } catch (err) {
        const how = `PROPERTY_SEED=${seed} PROPERTY_CASES=1 npx vitest run test/stream/stages-connection-property.test.ts`;
        console.error(
          `property case ${i} failed: seed ${seed} (base ${BASE_SEED}); reproduce: ${how}`,
        );
        if (err instanceof Error)
          err.message = `[case ${i}, seed ${seed}: ${current}; reproduce: ${how}] ${err.message}`;
        throw err;
      }
    }
    console.log(`stages vs connection: ${JSON.stringify(stats)} in ${Date.now() - started} ms`);
    expect(stats.cases).toBeGreaterThan(0);
    // The generator covers what it claims to, once there are enough cases to tell.
    if (stats.cases >= 200) {
      expect(Object.keys(stats.faults).sort()).toEqual([...FAULTS].sort());
      expect(stats.compressed).toBeGreaterThan(stats.cases / 10);
      expect(stats.controls).toBeGreaterThan(stats.cases / 4);
    }
  });
});
