/**
 * Measures the stream stages against ws in the same run, and prints a markdown table with
 * the ratio ours / ws (above 1: we are faster).
 *
 * Run: node --import tsx bench/stages.bench.ts [--time-ms=1000] [--reps=3]
 *        [--only=inbound|outbound] [--size=64B|16KiB|1MiB]
 *      (with --expose-gc, garbage is collected before each run)
 *
 * Inbound: binary messages of one size, each one frame, masked as a server receives them,
 * pre-encoded (about 8 MiB of them) and cut into 64 KiB chunks; the chunks are written,
 * with backpressure, to `FrameParser({ role: 'server' }) -> MessageAssembler` and the
 * messages counted, against ws's `Receiver({ isServer: true, maxPayload: 0,
 * skipUTF8Validation: false, binaryType: 'nodebuffer' })` counting 'message'. The chunks
 * are fed pass after pass; both receivers unmask in place, so the chunks are restored from
 * a pristine copy between passes, off the clock.
 *
 * Outbound: binary messages written, with backpressure, to `MessageFragmenter ->
 * FrameSerializer({ role: 'server' })` (the default 16 KiB fragmentation, as the connection
 * sends), the bytes counted in a 'data' listener, against ws's `Sender` writing into a
 * socket-like object that counts bytes (`send(data, { binary: true, fin: true, mask: false,
 * compress: false }, cb)`). Note what this compares: ws's Sender with that sink is plain
 * function calls, ours is two Transforms; against a real socket ws pays a stream write per
 * message as well. A last row sends the 1 MiB messages unfragmented, as ws does.
 *
 * Each cell stops at its message count or after --time-ms, whichever comes first; it is
 * run --reps times after a warm-up, alternating ours and ws, and the median rate is
 * reported. MB/s counts payload bytes (10^6). On a busy machine the figures move by up to
 * 2x from run to run: compare the ratios of one run, and repeat.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createFrame } from '../lib/protocol/frame.js';
import { encodeFrame } from '../lib/protocol/frame-encoder.js';
import { generateMaskKey } from '../lib/protocol/mask.js';
import { Opcode } from '../lib/protocol/opcodes.js';
import { FrameParser } from '../lib/stream/frame-parser.js';
import { FrameSerializer } from '../lib/stream/frame-serializer.js';
import { MessageAssembler } from '../lib/stream/message-assembler.js';
import { MessageFragmenter } from '../lib/stream/message-fragmenter.js';

interface WsReceiver {
  on(event: 'message', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'drain', listener: () => void): void;
  once(event: 'drain', listener: () => void): void;
  write(chunk: Buffer): boolean;
}
type WsReceiverConstructor = new (options: {
  isServer: boolean;
  maxPayload: number;
  skipUTF8Validation: boolean;
  binaryType: 'nodebuffer';
}) => WsReceiver;

interface SocketLike {
  write(chunk: Buffer, cb?: () => void): boolean;
  cork(): void;
  uncork(): void;
}
interface WsSender {
  send(
    data: Buffer,
    options: { binary: boolean; fin: boolean; mask: boolean; compress: boolean },
    cb?: () => void,
  ): void;
}
type WsSenderConstructor = new (socket: SocketLike) => WsSender;

const require = createRequire(import.meta.url);
const ws = require('ws') as { Receiver: WsReceiverConstructor; Sender: WsSenderConstructor };

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? ''] as const;
  }),
);
const TIME_MS = Number(args.get('time-ms') ?? 1000);
const REPS = Number(args.get('reps') ?? 3);
/** Runs only the cells whose path contains this (e.g. --only=outbound). */
const ONLY = args.get('only') ?? '';
/** Runs only this size (e.g. --size=16KiB). */
const SIZE = (args.get('size') ?? '').replace(/\s/g, '');
const CHUNK = 64 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

interface Size {
  label: string;
  bytes: number;
  /** Most messages in one cell. */
  max: number;
}
const sizes: Size[] = [
  { label: '64 B', bytes: 64, max: 5_000_000 },
  { label: '16 KiB', bytes: 16 * 1024, max: 1_000_000 },
  { label: '1 MiB', bytes: 1024 * 1024, max: 1_000_000 },
];

/** What one run gave: messages done and the seconds they took. */
interface Run {
  messages: number;
  seconds: number;
}

// ---------------------------------------------------------------- inbound

/** Bytes of wire data per pass: small enough to restore cheaply, large enough to time. */
const PASS_BYTES = 8 * 1024 * 1024;

/** One cell's input: the pristine wire, a working copy cut into chunks, and its message count. */
interface Wire {
  pristine: Buffer;
  work: Buffer;
  chunks: Buffer[];
  perPass: number;
}

/** Masked one-frame binary messages, concatenated and cut into 64 KiB chunks. */
function encodeInbound(size: Size): Wire {
  const payload = Buffer.alloc(size.bytes, 0x5a);
  const one = Buffer.concat(encodeFrame(createFrame(Opcode.Binary, payload), generateMaskKey()));
  const perPass = Math.max(1, Math.min(size.max, Math.floor(PASS_BYTES / one.length)));
  const pristine = Buffer.concat(Array.from({ length: perPass }, () => one));
  const work = Buffer.alloc(pristine.length);
  const chunks: Buffer[] = [];
  for (let i = 0; i < work.length; i += CHUNK) chunks.push(work.subarray(i, i + CHUNK));
  return { pristine, work, chunks, perPass };
}

/** The receiving end of one implementation: it counts messages and takes chunks. */
interface Receiving {
  /** Messages counted so far. */
  count(): number;
  /** Resolves once `target` messages have been counted. */
  reach(target: number): Promise<void>;
  /** Writes a chunk, waiting for 'drain' when asked to. */
  write(chunk: Buffer): Promise<void> | undefined;
  finish(): Promise<void>;
}

function counter(): {
  count: () => number;
  bump: () => void;
  reach: (target: number) => Promise<void>;
} {
  let n = 0;
  let target = Number.POSITIVE_INFINITY;
  let resolve: (() => void) | undefined;
  return {
    count: () => n,
    bump: () => {
      n++;
      if (n >= target && resolve !== undefined) {
        const r = resolve;
        resolve = undefined;
        r();
      }
    },
    reach: (t: number) => {
      if (n >= t) return Promise.resolve();
      target = t;
      return new Promise<void>((r) => {
        resolve = r;
      });
    },
  };
}

function oursReceiving(): Receiving {
  const parser = new FrameParser({ role: 'server' });
  const assembler = new MessageAssembler();
  const c = counter();
  assembler.on('data', c.bump);
  parser.pipe(assembler);
  const ended = once(assembler, 'end');
  return {
    count: c.count,
    reach: c.reach,
    write: (chunk) =>
      parser.write(chunk) ? undefined : once(parser, 'drain').then(() => undefined),
    finish: async () => {
      parser.end();
      await ended;
    },
  };
}

function wsReceiving(): Receiving {
  const receiver = new ws.Receiver({
    isServer: true,
    maxPayload: 0,
    skipUTF8Validation: false,
    binaryType: 'nodebuffer',
  });
  const c = counter();
  receiver.on('message', c.bump);
  receiver.on('error', (err) => {
    throw err;
  });
  return {
    count: c.count,
    reach: c.reach,
    write: (chunk) =>
      receiver.write(chunk)
        ? undefined
        : new Promise<void>((resolve) => receiver.once('drain', resolve)),
    finish: async () => {},
  };
}

/**
 * Feeds the wire pass after pass until the time is up. Between passes the working copy is
 * restored from the pristine one (both receivers unmask in place), off the clock.
 */
async function inbound(
  wire: Wire,
  receiving: Receiving,
  budgetMs: number,
  maxMessages: number,
): Promise<Run> {
  let elapsed = 0;
  while (elapsed < budgetMs && receiving.count() < maxMessages) {
    wire.pristine.copy(wire.work);
    const target = receiving.count() + wire.perPass;
    const start = performance.now();
    for (const chunk of wire.chunks) {
      const wait = receiving.write(chunk);
      if (wait !== undefined) await wait;
    }
    await receiving.reach(target);
    elapsed += performance.now() - start;
  }
  await receiving.finish();
  return { messages: receiving.count(), seconds: elapsed / 1000 };
}

// ---------------------------------------------------------------- outbound

async function outboundOurs(
  size: Size,
  budgetMs: number,
  fragment = true,
): Promise<Run & { bytes: number }> {
  const payload = Buffer.alloc(size.bytes, 0x5a);
  const fragmenter = new MessageFragmenter({ fragmentOutgoingMessages: fragment });
  const serializer = new FrameSerializer({ role: 'server' });
  let bytes = 0;
  serializer.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  fragmenter.pipe(serializer);
  const ended = once(serializer, 'end');
  let messages = 0;
  const start = performance.now();
  while (messages < size.max) {
    messages++;
    if (!fragmenter.write(payload)) {
      await once(fragmenter, 'drain');
      if (performance.now() - start > budgetMs) break;
    } else if ((messages & 255) === 0 && performance.now() - start > budgetMs) {
      break;
    }
  }
  fragmenter.end();
  await ended;
  return { messages, seconds: (performance.now() - start) / 1000, bytes };
}

async function outboundWs(size: Size, budgetMs: number): Promise<Run & { bytes: number }> {
  const payload = Buffer.alloc(size.bytes, 0x5a);
  let bytes = 0;
  const socket: SocketLike = {
    write(chunk, cb) {
      bytes += chunk.length;
      cb?.();
      return true;
    },
    cork() {},
    uncork() {},
  };
  const sender = new ws.Sender(socket);
  const options = { binary: true, fin: true, mask: false, compress: false };
  let messages = 0;
  let sent = 0;
  const done = () => {
    sent++;
  };
  const start = performance.now();
  while (messages < size.max) {
    messages++;
    sender.send(payload, options, done);
    if ((messages & 255) === 0 && performance.now() - start > budgetMs) break;
  }
  const seconds = (performance.now() - start) / 1000;
  if (sent !== messages) throw new Error(`ws sent ${sent} of ${messages}`);
  return { messages, seconds, bytes };
}

// ---------------------------------------------------------------- table

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface Cell {
  path: string;
  size: Size;
  ours: number[];
  theirs: number[];
}

async function measure(
  path: string,
  size: Size,
  ours: (budgetMs: number) => Promise<Run>,
  theirs: (budgetMs: number) => Promise<Run>,
): Promise<Cell> {
  const cell: Cell = { path, size, ours: [], theirs: [] };
  if (!path.includes(ONLY) || (SIZE !== '' && size.label.replace(/\s/g, '') !== SIZE)) return cell;
  // A warm-up of each (so that both are compiled), then the repetitions, alternating.
  await ours(TIME_MS / 3);
  await theirs(TIME_MS / 3);
  for (let rep = 0; rep < REPS; rep++) {
    gc?.();
    const a = await ours(TIME_MS);
    gc?.();
    const b = await theirs(TIME_MS);
    cell.ours.push(a.messages / a.seconds);
    cell.theirs.push(b.messages / b.seconds);
  }
  return cell;
}

function fmt(n: number): string {
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(n >= 10 ? 1 : 2);
}

async function main(): Promise<void> {
  const cells: Cell[] = [];
  for (const size of sizes) {
    const wire = encodeInbound(size);
    cells.push(
      await measure(
        'inbound (parser + assembler vs Receiver)',
        size,
        (ms) => inbound(wire, oursReceiving(), ms, size.max),
        (ms) => inbound(wire, wsReceiving(), ms, size.max),
      ),
    );
  }
  for (const size of sizes) {
    cells.push(
      await measure(
        'outbound (fragmenter + serializer vs Sender)',
        size,
        (ms) => outboundOurs(size, ms),
        (ms) => outboundWs(size, ms),
      ),
    );
  }
  // ws never fragments: the same messages, each in one frame, for a like-for-like figure.
  cells.push(
    await measure(
      'outbound, one frame per message (fragmentOutgoingMessages: false)',
      sizes[sizes.length - 1]!,
      (ms) => outboundOurs(sizes[sizes.length - 1]!, ms, false),
      (ms) => outboundWs(sizes[sizes.length - 1]!, ms),
    ),
  );
  const lines = [
    `Node ${process.version}, ${REPS} repetitions (median), up to ${TIME_MS} ms per run${gc ? ', gc between runs' : ''}`,
    '',
    '| path | size | ours msg/s | ours MB/s | ws msg/s | ws MB/s | ours / ws |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const cell of cells) {
    if (cell.ours.length === 0) continue;
    const ours = median(cell.ours);
    const theirs = median(cell.theirs);
    const mb = (rate: number) => (rate * cell.size.bytes) / 1e6;
    lines.push(
      `| ${cell.path} | ${cell.size.label} | ${fmt(ours)} | ${fmt(mb(ours))} | ${fmt(theirs)} | ${fmt(mb(theirs))} | ${(ours / theirs).toFixed(2)}x |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
