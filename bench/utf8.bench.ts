/**
 * Measures UTF-8 validation throughput: our incremental Utf8Validator against the native
 * `utf-8-validate` add-on (what ws uses) and against `isUtf8` from node:buffer, on ASCII and
 * on mixed 2/3/4-byte text, fed whole and in 1 KiB pieces.
 *
 * Run: node --import tsx bench/utf8.bench.ts [--time-ms=500]
 *
 * The baselines cannot carry state between pieces, so in the "1 KiB pieces" rows they are
 * given pieces cut back to code point boundaries (same bytes, same number of calls), while
 * our validator gets exact 1 KiB cuts that split code points, its hard case.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { createRequire } from 'node:module';
import { isValidUtf8, Utf8Validator } from '../lib/protocol/utf8-validator.js';

type Validate = (buffer: Uint8Array) => boolean;

const require = createRequire(import.meta.url);
const nativeValidate = require('utf-8-validate') as Validate;

const TIME_MS = Number(/--time-ms=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 500);
const MAX_ITERATIONS = 5_000_000;
const ROUNDS = 5;
const PIECE = 1024;

/** Builds `size` bytes of text from `alphabet`, cut back to a code point and padded with 'a'. */
function makeText(size: number, alphabet: string): Buffer {
  const whole = Buffer.from(alphabet.repeat(Math.ceil(size / alphabet.length) + 4), 'utf8');
  let end = size;
  while (end > 0 && (whole[end]! & 0xc0) === 0x80) end--;
  const out = Buffer.alloc(size, 'a');
  whole.copy(out, 0, 0, end);
  return out;
}

/** Cuts into pieces of `size`; with `aligned`, each cut moves back to a code point boundary. */
function cut(data: Buffer, size: number, aligned: boolean): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  while (from < data.length) {
    let to = Math.min(from + size, data.length);
    while (aligned && to < data.length && to > from + 1 && (data[to]! & 0xc0) === 0x80) to--;
    pieces.push(data.subarray(from, to));
    from = to;
  }
  return pieces;
}

/**
 * Runs `fn` in batches for ROUNDS rounds, each until TIME_MS / ROUNDS have passed or
 * MAX_ITERATIONS were done, and gives the best round in MB/s (the least disturbed one).
 */
function measure(bytes: number, fn: () => boolean): number {
  for (let i = 0; i < 50; i++) if (!fn()) throw new Error('validation failed in warm-up');
  let best = 0;
  for (let round = 0; round < ROUNDS; round++) best = Math.max(best, measureRound(bytes, fn));
  return best;
}

function measureRound(bytes: number, fn: () => boolean): number {
  let iterations = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.ceil((TIME_MS / ROUNDS) * 1e6));
  let now = start;
  while (now < deadline && iterations < MAX_ITERATIONS) {
    for (let i = 0; i < batch; i++) if (!fn()) throw new Error('validation failed');
    iterations += batch;
    if (batch < 1024) batch *= 2;
    now = process.hrtime.bigint();
  }
  return (bytes * iterations) / (Number(now - start) / 1e9) / 1e6;
}

function everyPiece(pieces: readonly Buffer[], validate: Validate): boolean {
  for (const piece of pieces) if (!validate(piece)) return false;
  return true;
}

interface Row {
  text: string;
  size: string;
  feed: string;
  ours: number;
  native: number;
  node: number;
}

function runCase(text: string, size: number, label: string, data: Buffer): Row[] {
  const validator = new Utf8Validator();
  const whole: Row = {
    text,
    size: label,
    feed: 'whole',
    ours: measure(size, () => {
      validator.reset();
      return validator.write(data) && validator.end();
    }),
    native: measure(size, () => nativeValidate(data)),
    node: measure(size, () => isUtf8(data)),
  };
  const exact = cut(data, PIECE, false);
  const aligned = cut(data, PIECE, true);
  const pieces: Row = {
    text,
    size: label,
    feed: `${PIECE} B pieces`,
    ours: measure(size, () => {
      validator.reset();
      for (const piece of exact) if (!validator.write(piece)) return false;
      return validator.end();
    }),
    native: measure(size, () => everyPiece(aligned, nativeValidate)),
    node: measure(size, () => everyPiece(aligned, isUtf8)),
  };
  const helper: Row = {
    text,
    size: label,
    feed: 'isValidUtf8()',
    ours: measure(size, () => isValidUtf8(data)),
    native: whole.native,
    node: whole.node,
  };
  return size > PIECE ? [whole, pieces, helper] : [whole, helper];
}

function format(rows: readonly Row[]): string {
  const header = [
    'text',
    'size',
    'feed',
    'ours MB/s',
    'utf-8-validate',
    'isUtf8',
    'ours/native',
    'ours/isUtf8',
  ];
  const body = rows.map((r) => [
    r.text,
    r.size,
    r.feed,
    r.ours.toFixed(0),
    r.native.toFixed(0),
    r.node.toFixed(0),
    `${(r.ours / r.native).toFixed(2)}x`,
    `${(r.ours / r.node).toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const TEXTS = {
  ascii: 'The quick brown fox jumps over the lazy dog. 0123456789 ',
  mixed: 'ascii κόσμε ß € 日本語 😀 👍🏽 Привет мир ',
};
const SIZES: [number, string][] = [
  [64, '64 B'],
  [16 * 1024, '16 KiB'],
  [1024 * 1024, '1 MiB'],
];

const rows: Row[] = [];
for (const [name, alphabet] of Object.entries(TEXTS)) {
  for (const [size, label] of SIZES)
    rows.push(...runCase(name, size, label, makeText(size, alphabet)));
}
console.log(
  `UTF-8 validation, Node ${process.version}, best of ${ROUNDS} rounds in ${TIME_MS} ms per cell (MB = 10^6 bytes)\n`,
);
console.log(format(rows));
