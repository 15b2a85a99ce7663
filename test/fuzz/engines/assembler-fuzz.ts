/**
 * Differential fuzzing of message assembly, in the two places the library does it:
 * - MessageAssembler, the Transform stage (Frames in, messages out), driven through its
 *   `_transform` directly so that a million inputs stay affordable (a smaller run goes
 *   through real stream writes as well, to show the two agree);
 * - InboundProcessor, the connection's inbound core (bytes in, messages out), which drives
 *   the frame decoder, the sequencer and the message buffer together.
 * Both are compared with a reference assembler written from RFC 6455 §5.4 and §8.1 on top
 * of the independent UTF-8 oracle: same messages, same control frames in the same place,
 * same error (code and close code) at the same frame. Inputs are seeded frame sequences,
 * valid and mutated (frames dropped, duplicated, reordered, fin flipped, opcodes changed,
 * payload bytes broken), fed as one long stream per assembler until it fails.
 */
import { ErrorCode, ProtocolError } from '../../../lib/protocol/errors.js';
import type { Frame } from '../../../lib/protocol/frame.js';
import {
  deliverChunk,
  failConnection,
  handleControl,
  pauseTransport,
} from '../../../lib/stream/connection-hooks.js';
import { InboundProcessor } from '../../../lib/stream/inbound-processor.js';
import { MessageAssembler } from '../../../lib/stream/message-assembler.js';
import { SeededRandom, withoutStackTraces } from '../../helpers/seeded-random.js';
import { judgeUtf8 } from '../../helpers/utf8-oracle.js';
import { encodeFast, referenceDecode } from './frame-decoder-fuzz.js';
import { mutateBytes } from './mutate.js';

/** What comes out of an assembler, in order. */
type Out = { message: string | Buffer } | { control: number; payload: Buffer };

interface Outcome {
  out: Out[];
  error: { code: string; closeCode: number } | undefined;
}

/** The reference assembler: one long stream of frames, state kept across calls. */
/** A frame as the reference sees it; `announced` is the length its header gave, for a frame read as it arrives. */
interface ReferenceFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  announced?: number;
}

class ReferenceAssembler {
  readonly #max: number;
  #opcode = 0;
  #parts: Buffer[] = [];
  #size = 0;
  error: { code: string; closeCode: number } | undefined;

  constructor(maxMessageSize: number) {
    this.#max = maxMessageSize;
  }

  /** Takes one frame and adds what it hands on to `out` (nothing after an error). */
  frame(f: ReferenceFrame, out: Out[]): void {
    if (this.error !== undefined) return;
    if (f.opcode >= 0x8) {
      out.push({ control: f.opcode, payload: f.payload });
      return;
    }
    const refusal = this.#check(f);
    if (refusal !== undefined) {
      this.error = refusal;
      return;
    }
    if (!f.fin) return;
    const payload = Buffer.concat(this.#parts);
    out.push({ message: this.#opcode === 0x1 ? payload.toString('utf8') : payload });
    this.#opcode = 0;
    this.#parts = [];
  }

  /** Applies the rules to a data frame and keeps its payload; returns the error it breaks. */
  #check(f: ReferenceFrame): Outcome['error'] {
    if (f.opcode === 0x0) {
      if (this.#opcode === 0) return { code: ErrorCode.UnexpectedContinuation, closeCode: 1002 };
    } else if (f.opcode !== 0x1 && f.opcode !== 0x2) {
      return { code: ErrorCode.InvalidOpcode, closeCode: 1002 };
    } else if (this.#opcode !== 0) {
      return { code: ErrorCode.ExpectedContinuation, closeCode: 1002 };
    } else {
      this.#opcode = f.opcode;
      this.#parts = [];
      this.#size = 0;
    }
    // A frame read as it arrives is refused at its header when its announced length would
    // take the message past the limit, before any of its bytes is looked at.
    if (f.announced !== undefined && f.announced > this.#max - this.#size) {
      return { code: ErrorCode.MessageTooLarge, closeCode: 1009 };
    }
    this.#size += f.payload.length;
    if (this.#size > this.#max) return { code: ErrorCode.MessageTooLarge, closeCode: 1009 };
    this.#parts.push(f.payload);
    if (this.#opcode === 0x1) {
      const verdict = judgeUtf8(Buffer.concat(this.#parts));
      if (verdict.firstInvalid !== -1 || (f.fin && !verdict.complete)) {
        return { code: ErrorCode.InvalidUtf8, closeCode: 1007 };
      }
    }
    return undefined;
  }
}

/** MessageAssembler with its output captured instead of buffered in the readable side. */
class CapturingAssembler extends MessageAssembler {
  captured: Out[] = [];

  override push(chunk: unknown): boolean {
    if (chunk === null) return false;
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) this.captured.push({ message: chunk });
    else {
      const f = chunk as Frame;
      this.captured.push({ control: f.opcode, payload: f.payload });
    }
    return true;
  }
}

const TEXT_PIECES: readonly Buffer[] = [
  'a',
  'Hello',
  'µ',
  'κόσμε',
  '\u0800',
  '\uFFFF',
  '\u{10000}',
  '\u{10FFFF}',
  '\uD7FF',
  '',
].map((s) => Buffer.from(s));
const BAD_PIECES: readonly Buffer[] = [
  [0xff],
  [0x80],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
].map((b) => Buffer.from(b));

/** A text payload: valid pieces, sometimes a broken one. */
function textPayload(rng: SeededRandom): Buffer {
  const parts: Buffer[] = [];
  const n = rng.int(5);
  for (let i = 0; i < n; i++)
    parts.push(rng.chance(0.04) ? rng.pick(BAD_PIECES) : rng.pick(TEXT_PIECES));
  return Buffer.concat(parts);
}

/** Cuts a payload into `count` fragments at random points (code points may be split). */
function cut(rng: SeededRandom, payload: Buffer, count: number): Buffer[] {
  const points = Array.from({ length: count - 1 }, () => rng.int(payload.length + 1)).sort(
    (a, b) => a - b,
  );
  const pieces: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    pieces.push(payload.subarray(at, p));
    at = p;
  }
  pieces.push(payload.subarray(at));
  return pieces;
}

interface FuzzFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** One input: a message in 1-5 fragments with control frames between, then mutated or not. */
function sequence(rng: SeededRandom): FuzzFrame[] {
  const text = rng.chance(0.6);
  const payload = text ? textPayload(rng) : rng.view(rng.length(40));
  const pieces = cut(rng, payload, 1 + rng.int(5));
  const frames: FuzzFrame[] = [];
  pieces.forEach((piece, i) => {
    frames.push({
      fin: i === pieces.length - 1,
      opcode: i === 0 ? (text ? 0x1 : 0x2) : 0x0,
      payload: piece,
    });
    if (rng.chance(0.15))
      frames.push({ fin: true, opcode: rng.pick([0x8, 0x9, 0xa]), payload: rng.view(rng.int(8)) });
  });
  if (rng.chance(0.6)) return frames;
  const mutations = 1 + rng.int(2);
  for (let m = 0; m < mutations && frames.length > 0; m++) {
    const i = rng.int(frames.length);
    const f = frames[i]!;
    switch (rng.int(7)) {
      case 0:
        frames.splice(i, 1);
        break;
      case 1:
        frames.splice(i, 0, { ...f });
        break;
      case 2:
        if (frames.length > 1) {
          const j = rng.int(frames.length);
          frames[i] = frames[j]!;
          frames[j] = f;
        }
        break;
      case 3:
        frames[i] = { ...f, fin: !f.fin };
        break;
      case 4:
        frames[i] = { ...f, opcode: rng.int(16) };
        break;
      case 5: {
        const broken = Buffer.from(f.payload);
        if (broken.length > 0) broken[rng.int(broken.length)] = rng.int(256);
        frames[i] = { ...f, payload: broken };
        break;
      }
      default:
        frames[i] = { ...f, payload: f.payload.subarray(0, rng.int(f.payload.length + 1)) };
    }
  }
  return frames;
}

function sameOut(a: Out[], b: Out[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    if ('message' in x) {
      if (!('message' in y)) return false;
      if (typeof x.message === 'string') return x.message === y.message;
      return Buffer.isBuffer(y.message) && x.message.equals(y.message);
    }
    return 'control' in y && x.control === y.control && x.payload.equals(y.payload);
  });
}

function sameError(a: Outcome['error'], b: Outcome['error']): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.code === b.code && a.closeCode === b.closeCode;
}

/** What a run found. */
export interface AssemblerFuzzReport {
  inputs: number;
  frames: number;
  messages: number;
  errors: Record<string, number>;
  failures: string[];
  ms: number;
}

const MAX_SIZES = [64 * 1024 * 1024, 64 * 1024 * 1024, 0, 1, 5, 20, 100];

/**
 * Fuzzes MessageAssembler with `count` inputs. With `throughStreams`, frames go through
 * the stage's real `write()` and its output is read back, as a pipeline would.
 */
export function fuzzMessageAssembler(
  seed: number,
  count: number,
  throughStreams = false,
): AssemblerFuzzReport {
  return withoutStackTraces(() => {
    const started = Date.now();
    const rng = new SeededRandom(seed);
    const report: AssemblerFuzzReport = {
      inputs: 0,
      frames: 0,
      messages: 0,
      errors: {},
      failures: [],
      ms: 0,
    };
    let batch = 0;
    while (report.inputs < count) {
      batch++;
      const max = rng.pick(MAX_SIZES);
      const assembler = new CapturingAssembler(max === MAX_SIZES[0] ? {} : { maxMessageSize: max });
      const reference = new ReferenceAssembler(max);
      const expected: Out[] = [];
      let libError: Outcome['error'];
      let problem: string | undefined;
      const trail: FuzzFrame[] = [];
      // One batch: inputs back to back on one assembler, until it fails (at most 50).
      for (
        let k = 0;
        k < 50 && report.inputs < count && libError === undefined && problem === undefined;
        k++
      ) {
        const frames = sequence(rng);
        report.inputs++;
        for (const f of frames) {
          report.frames++;
          trail.push(f);
          reference.frame(f, expected);
          const frame: Frame = {
            ...f,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode: f.opcode as Frame['opcode'],
          };
          let thrown: unknown;
          if (throughStreams) thrown = writeThrough(assembler, frame);
          else {
            assembler._transform(frame, 'utf8', (err) => {
              thrown = err ?? undefined;
            });
          }
          if (thrown !== undefined) {
            if (thrown instanceof ProtocolError)
              libError = { code: thrown.code, closeCode: thrown.closeCode };
            else problem = `threw ${(thrown as Error)?.name}: ${(thrown as Error)?.message}`;
            break;
          }
        }
      }
      report.messages += assembler.captured.filter((o) => 'message' in o).length;
      if (libError !== undefined)
        report.errors[libError.code] = (report.errors[libError.code] ?? 0) + 1;
      if (problem === undefined && !sameOut(assembler.captured, expected))
        problem = 'different output';
      if (problem === undefined && !sameError(libError, reference.error)) {
        problem = `error ${JSON.stringify(libError)}, expected ${JSON.stringify(reference.error)}`;
      }
      if (problem !== undefined && report.failures.length < 5) {
        const shown = trail
          .slice(-12)
          .map((f) => `${f.opcode}${f.fin ? 'F' : '-'}:${f.payload.toString('hex')}`)
          .join(' ');
        report.failures.push(
          `seed ${seed} batch ${batch} (max ${max}): ${problem}; last frames ${shown}`,
        );
      }
    }
    report.ms = Date.now() - started;
    return report;
  });
}

/** Writes a frame through the stage's real writable side; returns the error it failed with. */
function writeThrough(assembler: CapturingAssembler, frame: Frame): unknown {
  if (assembler.destroyed) return new Error('write after the assembler was destroyed');
  let failed: unknown;
  assembler.once('error', (err) => {
    failed = err;
  });
  // Transform.write calls _transform synchronously when nothing is queued.
  assembler.write(frame, (err) => {
    if (err) failed = err;
  });
  assembler.removeAllListeners('error');
  assembler.on('error', () => {});
  return failed ?? assembler.errored ?? undefined;
}

/**
 * Fuzzes InboundProcessor (the connection's inbound core) with `count` byte streams:
 * encoded frame sequences as a client sends them, some mutated at the byte level.
 */
export function fuzzInboundProcessor(seed: number, count: number): AssemblerFuzzReport {
  return withoutStackTraces(() => {
    const started = Date.now();
    const rng = new SeededRandom(seed);
    const report: AssemblerFuzzReport = {
      inputs: 0,
      frames: 0,
      messages: 0,
      errors: {},
      failures: [],
      ms: 0,
    };
    let donor: Buffer = Buffer.alloc(0);
    for (let i = 0; i < count; i++) {
      report.inputs++;
      const max = rng.pick(MAX_SIZES);
      const maxFrameSize = rng.pick([16 * 1024 * 1024, 16 * 1024 * 1024, 3, 50]);
      const frames = sequence(rng);
      report.frames += frames.length;
      let bytes: Buffer = Buffer.concat(
        frames.map((f) => encodeFast(f.opcode, f.fin, 0, f.payload, rng.view(4))),
      );
      if (rng.chance(0.3)) bytes = mutateBytes(rng, bytes, donor);
      donor = bytes;
      // Reference: decode, then assemble frame by frame; the first error in stream order wins.
      const decoded = referenceDecode(bytes, { role: 'server', maxFrameSize, allowedRsv: 0 });
      const reference = new ReferenceAssembler(max);
      const expected: Out[] = [];
      for (const f of decoded.frames) reference.frame(f, expected);
      // A data frame that has not fully arrived is read as its bytes come: the message
      // rules apply to its header (its announced length included) and to the payload that
      // did arrive.
      const partial = decoded.partial;
      if (partial !== undefined) reference.frame({ ...partial, fin: false }, expected);
      const expectedError = reference.error ?? decoded.error;
      // Library.
      const got: Out[] = [];
      let failure: unknown;
      const inbound = new InboundProcessor(
        {
          [deliverChunk]: (chunk) => {
            if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) got.push({ message: chunk });
            return true;
          },
          [handleControl]: (frame) => {
            got.push({ control: frame.opcode, payload: frame.payload });
          },
          [pauseTransport]: () => {},
          [failConnection]: (err) => {
            failure ??= err;
          },
          closedError: (message) => new Error(message),
        },
        {
          role: 'server',
          mode: 'messages',
          limits: {
            frame: { size: maxFrameSize, option: 'maxReceivedFrameSize' },
            message: { size: max, option: 'maxReceivedMessageSize' },
          },
          extensions: [],
        },
      );
      let problem: string | undefined;
      try {
        const copy = Buffer.from(bytes);
        const at = rng.int(copy.length + 1);
        inbound.push(copy.subarray(0, at));
        inbound.push(copy.subarray(at));
      } catch (err) {
        problem = `push threw ${(err as Error)?.name}: ${(err as Error)?.message}`;
      }
      let libError: Outcome['error'];
      if (failure !== undefined) {
        if (failure instanceof ProtocolError)
          libError = { code: failure.code, closeCode: failure.closeCode };
        else problem ??= `failed with ${(failure as Error)?.name}: ${(failure as Error)?.message}`;
      }
      report.messages += got.filter((o) => 'message' in o).length;
      if (libError !== undefined)
        report.errors[libError.code] = (report.errors[libError.code] ?? 0) + 1;
      if (problem === undefined && !sameOut(got, expected)) problem = 'different output';
      if (problem === undefined && !sameError(libError, expectedError)) {
        problem = `error ${JSON.stringify(libError)}, expected ${JSON.stringify(expectedError)}`;
      }
      if (problem !== undefined && report.failures.length < 5) {
        report.failures.push(
          `seed ${seed} input ${i} (max ${max}, frame max ${maxFrameSize}): ${problem}; bytes ${bytes.subarray(0, 80).toString('hex')}`,
        );
      }
    }
    report.ms = Date.now() - started;
    return report;
  });
}
