/**
 * Measures the frame decoder against ws's Receiver, and masking against ws's JS fallback and
 * the native bufferutil add-on, in one run, and prints ratios (ours / theirs).
 *
 * Run: node --import tsx bench/protocol.bench.ts [--time-ms=1000]
 *
 * Each cell gets about --time-ms (default 1000 ms) split into 10 rounds that take turns between
 * the implementations compared; the best round of each is reported.
 *
 * Decoder: each cell decodes the same stream of fin=true Binary frames of one payload size,
 * masked (server role) or not (client role), cut into 64 KiB chunks. Both decoders get the
 * identical chunk sequence, restored from a pristine copy before every pass because both
 * unmask in place; only the decoding is timed. MB/s counts payload bytes. ws is measured
 * twice: as installed (it picks up bufferutil for unmasking) and with its JS fallback
 * (WS_NO_BUFFER_UTIL=1: a second copy of ws's receiver.js and buffer-util.js is loaded with
 * the variable set).
 *
 * Masking: in-place unmask and copying mask of one buffer (at byteOffset 0) per call.
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FrameDecoder } from '../lib/protocol/frame-decoder.js';
import { encodeFrame } from '../lib/protocol/frame-encoder.js';
import { mask, unmask } from '../lib/protocol/mask.js';
import { Opcode } from '../lib/protocol/opcodes.js';

type MaskFn = (source: Buffer, key: Buffer, output: Buffer, offset: number, length: number) => void;
type UnmaskFn = (buffer: Buffer, key: Buffer) => void;

interface WsReceiver {
  on(event: 'message', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  write(chunk: Buffer): boolean;
}
type WsReceiverConstructor = new (options: {
  isServer: boolean;
  maxPayload: number;
  skipUTF8Validation: boolean;
  binaryType: 'nodebuffer';
}) => WsReceiver;

const require = createRequire(import.meta.url);

/** Loads ws's receiver and buffer-util as installed, then again with WS_NO_BUFFER_UTIL=1. */
function loadWs(): {
  receiver: WsReceiverConstructor;
  receiverJs: WsReceiverConstructor;
  jsMask: MaskFn;
  jsUnmask: UnmaskFn;
} {
  // ws's package exports hide lib/: reach its files through the package directory.
  const wsDir = dirname(require.resolve('ws'));
  const receiverPath = join(wsDir, 'lib', 'receiver.js');
  const utilPath = join(wsDir, 'lib', 'buffer-util.js');
  const receiver = require(receiverPath) as WsReceiverConstructor;
  const saved = process.env.WS_NO_BUFFER_UTIL;
  delete require.cache[receiverPath];
  delete require.cache[utilPath];
  process.env.WS_NO_BUFFER_UTIL = '1';
  const receiverJs = require(receiverPath) as WsReceiverConstructor;
  const jsUtil = require(utilPath) as { mask: MaskFn; unmask: UnmaskFn };
  if (saved === undefined) delete process.env.WS_NO_BUFFER_UTIL;
  else process.env.WS_NO_BUFFER_UTIL = saved;
  return { receiver, receiverJs, jsMask: jsUtil.mask, jsUnmask: jsUtil.unmask };
}

const ws = loadWs();
const native = require('bufferutil') as { mask: MaskFn; unmask: UnmaskFn };

const TIME_MS = Number(/--time-ms=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 1000);
const ROUNDS = 10;
const CHUNK = 64 * 1024;
const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

// ---------------------------------------------------------------------------------------
// Decoder

interface Stream {
  pristine: Buffer[];
  working: Buffer[];
  frames: number;
  payloadBytes: number;
}

/** Builds at least 4 MiB (and at least 8 frames) of frames, cut into 64 KiB chunks. */
function makeStream(payloadSize: number, masked: boolean): Stream {
  const payload = Buffer.alloc(payloadSize);
  for (let i = 0; i < payloadSize; i++) payload[i] = (i * 31) & 0xff;
  const frame = {
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: Opcode.Binary,
    payload,
  };
  const one = Buffer.concat(encodeFrame(frame, masked ? KEY : undefined));
  const frames = Math.max(8, Math.ceil((4 * 1024 * 1024) / one.length));
  const all = Buffer.concat(Array.from({ length: frames }, () => one));
  const pristine: Buffer[] = [];
  for (let from = 0; from < all.length; from += CHUNK) {
    pristine.push(Buffer.from(all.subarray(from, from + CHUNK)));
  }
  const working = pristine.map((c) => Buffer.alloc(c.length));
  return { pristine, working, frames, payloadBytes: frames * payloadSize };
}

/** Restores the working chunks (decoders unmask in place) and returns them. */
function restore(stream: Stream): Buffer[] {
  for (let i = 0; i < stream.pristine.length; i++) stream.working[i]!.set(stream.pristine[i]!);
  return stream.working;
}

function decodeOurs(chunks: Buffer[], masked: boolean): number {
  const decoder = new FrameDecoder({ role: masked ? 'server' : 'client' });
  let frames = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let e = decoder.next(); e !== null; e = decoder.next()) if (e.kind === 'frame') frames++;
  }
  return frames;
}

function decodeWs(Receiver: WsReceiverConstructor, chunks: Buffer[], masked: boolean): number {
  const receiver = new Receiver({
    isServer: masked,
    maxPayload: 0,
    skipUTF8Validation: true,
    binaryType: 'nodebuffer',
  });
  let frames = 0;
  receiver.on('message', () => {
    frames++;
  });
  receiver.on('error', (err) => {
    throw err;
  });
  for (const chunk of chunks) receiver.write(chunk);
  return frames;
}

/**
 * Times decoding passes of each decoder for about TIME_MS in all, in ROUNDS rounds that take
 * turns between the decoders (so that a burst of load on the machine hits them alike), and
 * returns each one's best round in frames/s.
 */
function measureDecoders(stream: Stream, decoders: ((chunks: Buffer[]) => number)[]): number[] {
  for (const decode of decoders)
    for (let i = 0; i < 3; i++) check(decode(restore(stream)), stream.frames);
  const best = decoders.map(() => 0);
  const slice = BigInt(Math.ceil((TIME_MS / ROUNDS) * 1e6));
  for (let round = 0; round < ROUNDS; round++) {
    decoders.forEach((decode, d) => {
      let busy = 0n;
      let passes = 0;
      const deadline = process.hrtime.bigint() + slice;
      while (process.hrtime.bigint() < deadline && passes < 10_000) {
        const chunks = restore(stream);
        const t0 = process.hrtime.bigint();
        const frames = decode(chunks);
        busy += process.hrtime.bigint() - t0;
        check(frames, stream.frames);
        passes++;
      }
      best[d] = Math.max(best[d]!, (stream.frames * passes) / (Number(busy) / 1e9));
    });
  }
  return best;
}

function check(frames: number, expected: number): void {
  if (frames !== expected) throw new Error(`decoded ${frames} frames, expected ${expected}`);
}

// ---------------------------------------------------------------------------------------
// Masking

/**
 * Calls each function in growing batches for about TIME_MS in all, in ROUNDS rounds that
 * take turns between them, and returns each one's best round in MB/s.
 */
function measureBytes(bytes: number, fns: (() => void)[]): number[] {
  for (const fn of fns) for (let i = 0; i < 200; i++) fn();
  const best = fns.map(() => 0);
  const slice = BigInt(Math.ceil((TIME_MS / ROUNDS) * 1e6));
  for (let round = 0; round < ROUNDS; round++) {
    fns.forEach((fn, f) => {
      let calls = 0;
      let batch = 1;
      const start = process.hrtime.bigint();
      const deadline = start + slice;
      let now = start;
      while (now < deadline && calls < 50_000_000) {
        for (let i = 0; i < batch; i++) fn();
        calls += batch;
        if (batch < 4096) batch *= 2;
        now = process.hrtime.bigint();
      }
      best[f] = Math.max(best[f]!, (bytes * calls) / (Number(now - start) / 1e9) / 1e6);
    });
  }
  return best;
}

// ---------------------------------------------------------------------------------------
// Report

function size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

function num(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log();
}

function benchDecoder(): void {
  console.log(
    `Decoder: fin=true Binary frames in 64 KiB chunks, best of ${ROUNDS} rounds, MB/s of payload`,
  );
  const rows: string[][] = [];
  for (const masked of [true, false]) {
    for (const payloadSize of [64, 16 * 1024, 1024 * 1024]) {
      const stream = makeStream(payloadSize, masked);
      const [ours = 0, theirs = 0, theirsJs = 0] = measureDecoders(stream, [
        (c) => decodeOurs(c, masked),
        (c) => decodeWs(ws.receiver, c, masked),
        (c) => decodeWs(ws.receiverJs, c, masked),
      ]);
      const mbs = (fps: number) => num((fps * payloadSize) / 1e6);
      rows.push([
        masked ? 'server (masked)' : 'client (unmasked)',
        size(payloadSize),
        num(ours),
        mbs(ours),
        num(theirs),
        mbs(theirs),
        `${(ours / theirs).toFixed(2)}x`,
        num(theirsJs),
        `${(ours / theirsJs).toFixed(2)}x`,
      ]);
    }
  }
  table(
    [
      'role',
      'payload',
      'ours frames/s',
      'ours MB/s',
      'ws frames/s',
      'ws MB/s',
      'ours/ws',
      'ws-js frames/s',
      'ours/ws-js',
    ],
    rows,
  );
}

function benchMask(): void {
  console.log(
    `Masking: MB/s, best of ${ROUNDS} rounds; ws-js = ws's JS fallback, native = bufferutil`,
  );
  const rows: string[][] = [];
  for (const n of [64, 16 * 1024, 1024 * 1024, 16 * 1024 * 1024]) {
    const buf = Buffer.alloc(n, 0x5a);
    const out = Buffer.alloc(n);
    const [ours = 0, js = 0, nat = 0] = measureBytes(n, [
      () => unmask(buf, KEY),
      () => ws.jsUnmask(buf, KEY),
      () => native.unmask(buf, KEY),
    ]);
    rows.push([
      'unmask',
      size(n),
      num(ours),
      num(js),
      num(nat),
      `${(ours / js).toFixed(2)}x`,
      `${(ours / nat).toFixed(2)}x`,
    ]);
    const [oursM = 0, jsM = 0, natM = 0] = measureBytes(n, [
      () => mask(buf, KEY, out, 0),
      () => ws.jsMask(buf, KEY, out, 0, n),
      () => native.mask(buf, KEY, out, 0, n),
    ]);
    rows.push([
      'mask',
      size(n),
      num(oursM),
      num(jsM),
      num(natM),
      `${(oursM / jsM).toFixed(2)}x`,
      `${(oursM / natM).toFixed(2)}x`,
    ]);
  }
  table(
    ['op', 'size', 'ours MB/s', 'ws-js MB/s', 'native MB/s', 'ours/ws-js', 'ours/native'],
    rows,
  );
}

console.log(`node ${process.version}, ${process.arch}; --time-ms=${TIME_MS} per cell\n`);
benchDecoder();
benchMask();
