/**
 * Differential fuzzing of FrameDecoder: seeded random and mutated byte streams go through
 * the decoder (whole, and cut into random chunks) and through a plain reference decoder
 * written from RFC 6455 §5.2 and the decoder's documented decisions; both must agree on the
 * frames and on the error (code and close code). No input may throw anything but a
 * ProtocolError with a valid close code, and a failed decoder must keep failing the same way.
 */
import { ErrorCode, ProtocolError } from '../../../lib/protocol/errors.js';
import type { Role } from '../../../lib/protocol/frame.js';
import { FrameDecoder, type FrameDecoderOptions } from '../../../lib/protocol/frame-decoder.js';
import { SeededRandom, withoutStackTraces } from '../../helpers/seeded-random.js';
import { mutateBytes, randomSplits } from './mutate.js';

/** A decoded frame, as both decoders report it. */
interface Decoded {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
}

interface Outcome {
  frames: Decoded[];
  error: { code: string; closeCode: number } | undefined;
  /**
   * A data frame whose header arrived but not all of its payload, with the payload that
   * did: a decoder that streams frames above a threshold has already handed it out.
   */
  partial?: Decoded & { announced: number };
}

const MAX_SAFE_HIGH = 0x1f_ffff;

/** Decodes `input` as RFC 6455 and the decoder's module note say, all at once. */
export function referenceDecode(
  input: Buffer,
  options: Pick<Required<FrameDecoderOptions>, 'role' | 'maxFrameSize' | 'allowedRsv'>,
): Outcome {
  const frames: Decoded[] = [];
  const fail = (code: string, closeCode = 1002): Outcome => ({
    frames,
    error: { code, closeCode },
  });
  const requireMask = options.role === 'server';
  let pos = 0;
  while (input.length - pos >= 2) {
    const b0 = input[pos]!;
    const b1 = input[pos + 1]!;
    const opcode = b0 & 0x0f;
    const rsv = b0 & 0x70;
    const fin = (b0 & 0x80) !== 0;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const control = opcode >= 0x8;
    if ((opcode >= 0x3 && opcode <= 0x7) || opcode >= 0xb) return fail(ErrorCode.InvalidOpcode);
    if (rsv !== 0 && (opcode === 0 || control || (rsv & ~options.allowedRsv) !== 0)) {
      return fail(ErrorCode.ReservedBits);
    }
    if (control && !fin) return fail(ErrorCode.FragmentedControlFrame);
    if (control && len7 > 125) return fail(ErrorCode.ControlFrameTooLong);
    if (masked !== requireMask)
      return fail(requireMask ? ErrorCode.MaskRequired : ErrorCode.UnexpectedMask);
    const headerSize = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (input.length - pos < headerSize) break;
    let length = len7;
    if (len7 === 126) length = input.readUInt16BE(pos + 2);
    if (len7 === 127) {
      const high = input.readUInt32BE(pos + 2);
      const low = input.readUInt32BE(pos + 6);
      if (high >= 0x8000_0000) return fail(ErrorCode.InvalidLength);
      if (high > MAX_SAFE_HIGH) return fail(ErrorCode.FrameTooLarge, 1009);
      length = high * 0x1_0000_0000 + low;
    }
    if (!control && length > options.maxFrameSize) return fail(ErrorCode.FrameTooLarge, 1009);
    if (input.length - pos - headerSize < length) {
      if (!control) {
        const payload = Buffer.from(input.subarray(pos + headerSize));
        unmask(payload, input, pos + headerSize - 4, masked);
        return {
          frames,
          error: undefined,
          partial: { fin, rsv, opcode, payload, announced: length },
        };
      }
      break;
    }
    const payload = Buffer.from(input.subarray(pos + headerSize, pos + headerSize + length));
    unmask(payload, input, pos + headerSize - 4, masked);
    frames.push({ fin, rsv, opcode, payload });
    pos += headerSize + length;
  }
  return { frames, error: undefined };
}

/** Unmasks `payload` in place with the key at `input[keyAt]`, when `masked`. */
function unmask(payload: Buffer, input: Buffer, keyAt: number, masked: boolean): void {
  if (!masked) return;
  for (let i = 0; i < payload.length; i++) payload[i]! ^= input[keyAt + (i & 3)]!;
}

/** Runs the library's decoder over the chunks; returns its outcome, or a harness problem. */
function libraryDecode(chunks: Buffer[], options: FrameDecoderOptions): Outcome | string {
  const decoder = new FrameDecoder(options);
  const frames: Decoded[] = [];
  let streamed: Decoded | undefined;
  const pieces: Buffer[] = [];
  let events = 0;
  const limit = 16 + chunks.reduce((n, c) => n + c.length, 0) * 4;
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      for (let event = decoder.next(); event !== null; event = decoder.next()) {
        if (++events > limit) return `more than ${limit} events: the decoder loops`;
        if (event.kind === 'frame') {
          const f = event.frame;
          frames.push({
            fin: f.fin,
            rsv: (f.rsv1 ? 0x40 : 0) | (f.rsv2 ? 0x20 : 0) | (f.rsv3 ? 0x10 : 0),
            opcode: f.opcode,
            payload: f.payload,
          });
        } else if (event.kind === 'frame-start') {
          const h = event.header;
          streamed = {
            fin: h.fin,
            rsv: (h.rsv1 ? 0x40 : 0) | (h.rsv2 ? 0x20 : 0) | (h.rsv3 ? 0x10 : 0),
            opcode: h.opcode,
            payload: Buffer.alloc(0),
          };
          pieces.length = 0;
        } else if (event.kind === 'frame-data') {
          pieces.push(event.data);
        } else {
          if (streamed === undefined) return 'frame-end without frame-start';
          frames.push({ ...streamed, payload: Buffer.concat(pieces) });
          streamed = undefined;
        }
      }
    }
    return { frames, error: undefined };
  } catch (err) {
    if (!(err instanceof ProtocolError))
      return `threw a ${(err as Error)?.name}: ${(err as Error)?.message}`;
    // A failed decoder keeps failing with the very same error.
    for (const again of [() => decoder.next(), () => decoder.push(Buffer.from([0]))]) {
      try {
        again();
        return 'a failed decoder accepted more input';
      } catch (later) {
        if (later !== err) return 'a failed decoder threw a different error';
      }
    }
    return { frames, error: { code: err.code, closeCode: err.closeCode } };
  }
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.frames.length !== b.frames.length) return false;
  for (let i = 0; i < a.frames.length; i++) {
    const x = a.frames[i]!;
    const y = b.frames[i]!;
    if (x.fin !== y.fin || x.rsv !== y.rsv || x.opcode !== y.opcode || !x.payload.equals(y.payload))
      return false;
  }
  if (a.error === undefined || b.error === undefined) return a.error === b.error;
  return a.error.code === b.error.code && a.error.closeCode === b.error.closeCode;
}

const VALID_CLOSE_CODES = new Set([1002, 1009]);
const PAYLOAD_LENGTHS = [
  0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 124, 125, 126, 127, 128, 200, 300,
];

/**
 * Encodes one frame (RFC 6455 §5.2), in the shortest length form unless `form` forces the
 * 16- or 64-bit one: a plain encoder of the test's own, for speed.
 */
export function encodeFast(
  opcode: number,
  fin: boolean,
  rsv: number,
  payload: Buffer,
  maskKey: Buffer | undefined,
  form?: 16 | 64,
): Buffer {
  const n = payload.length;
  const f = form === 64 || n > 0xffff ? 64 : form === 16 || n > 125 ? 16 : 7;
  const headerSize = 2 + (f === 16 ? 2 : f === 64 ? 8 : 0) + (maskKey === undefined ? 0 : 4);
  const out = Buffer.allocUnsafe(headerSize + n);
  out[0] = (fin ? 0x80 : 0) | rsv | opcode;
  const maskBit = maskKey === undefined ? 0 : 0x80;
  if (f === 7) out[1] = maskBit | n;
  else if (f === 16) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(0, 2);
    out.writeUInt32BE(n, 6);
  }
  if (maskKey === undefined) {
    payload.copy(out, headerSize);
    return out;
  }
  maskKey.copy(out, headerSize - 4);
  for (let i = 0; i < n; i++) out[headerSize + i] = payload[i]! ^ maskKey[i & 3]!;
  return out;
}

/** Builds a valid-looking frame sequence as a peer of the other role would send it. */
function validSequence(rng: SeededRandom, decoderRole: Role): Buffer {
  const frames: Buffer[] = [];
  const count = 1 + rng.int(4);
  for (let i = 0; i < count; i++) {
    const opcode = rng.pick([0x0, 0x1, 0x1, 0x2, 0x2, 0x8, 0x9, 0xa]);
    const control = opcode >= 0x8;
    let length = rng.pick(PAYLOAD_LENGTHS);
    if (control && length > 125) length = rng.int(126);
    if (!control && rng.chance(0.002)) length = 65_536 + rng.int(3);
    const masked = (decoderRole === 'server') !== rng.chance(0.03);
    const form = !control && rng.chance(0.1) ? rng.pick([16, 64] as const) : undefined;
    const rsv =
      (rng.chance(0.05) ? 0x40 : 0) | (rng.chance(0.01) ? 0x20 : 0) | (rng.chance(0.01) ? 0x10 : 0);
    const fin = control ? true : rng.chance(0.7);
    frames.push(
      encodeFast(opcode, fin, rsv, rng.view(length), masked ? rng.view(4) : undefined, form),
    );
  }
  return Buffer.concat(frames);
}

/** What a fuzz run found. */
export interface FuzzReport {
  inputs: number;
  /** Inputs that decoded to at least one frame / that failed with an error. */
  withFrames: number;
  withErrors: number;
  /** Error codes seen, with counts. */
  errors: Record<string, number>;
  /** The first few failures: seed, input index, input, and what went wrong. */
  failures: string[];
  ms: number;
}

/** Fuzzes the frame decoder with `count` inputs from `seed`. */
export function fuzzFrameDecoder(seed: number, count: number): FuzzReport {
  return withoutStackTraces(() => run(seed, count));
}

function run(seed: number, count: number): FuzzReport {
  const started = Date.now();
  const rng = new SeededRandom(seed);
  const report: FuzzReport = {
    inputs: 0,
    withFrames: 0,
    withErrors: 0,
    errors: {},
    failures: [],
    ms: 0,
  };
  let donor: Buffer = Buffer.alloc(0);
  for (let i = 0; i < count; i++) {
    const role: Role = rng.chance(0.5) ? 'server' : 'client';
    const options = {
      role,
      maxFrameSize: rng.pick([
        Number.MAX_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
        16 * 1024 * 1024,
        125,
        126,
        0,
        1000,
      ]),
      allowedRsv: rng.pick([0, 0, 0x40, 0x70, 0x20]),
    };
    const streamingThreshold = rng.pick([
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      0,
      1,
      16,
      125,
    ]);
    const kind = rng.int(10);
    let input: Buffer;
    if (kind === 0) input = rng.view(rng.length(64));
    else if (kind <= 3) input = validSequence(rng, role);
    else input = mutateBytes(rng, validSequence(rng, role), donor);
    donor = input;
    const expected = referenceDecode(input, options);
    // The decoder owns what it is given (it unmasks in place): it gets a copy.
    const copy = Buffer.from(input);
    const chunks = rng.chance(0.5) ? [copy] : randomSplits(rng, copy);
    const actual = libraryDecode(chunks, { ...options, streamingThreshold });
    report.inputs++;
    let problem: string | undefined;
    if (typeof actual === 'string') problem = actual;
    else if (!sameOutcome(actual, expected)) {
      problem = `differs from the reference: got ${summary(actual)}, expected ${summary(expected)}`;
    } else if (actual.error !== undefined && !VALID_CLOSE_CODES.has(actual.error.closeCode)) {
      problem = `close code ${actual.error.closeCode}`;
    }
    if (typeof actual !== 'string') {
      if (actual.frames.length > 0) report.withFrames++;
      if (actual.error !== undefined) {
        report.withErrors++;
        report.errors[actual.error.code] = (report.errors[actual.error.code] ?? 0) + 1;
      }
    }
    if (problem !== undefined && report.failures.length < 5) {
      report.failures.push(
        `seed ${seed} input ${i} (${JSON.stringify({ ...options, streamingThreshold })}, ${chunks.length} chunks) ${input.subarray(0, 64).toString('hex')}: ${problem}`,
      );
    }
  }
  report.ms = Date.now() - started;
  return report;
}

function summary(o: Outcome): string {
  const frames = o.frames
    .map((f) => `${f.opcode}/${f.fin ? 'F' : '-'}/${f.rsv}/${f.payload.length}`)
    .join(' ');
  return `[${frames}] ${o.error === undefined ? 'ok' : `${o.error.code} ${o.error.closeCode}`}`;
}
