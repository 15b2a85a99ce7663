/**
 * Measures permessage-deflate against ws's PerMessageDeflate in one run, and prints ratios
 * (ours / ws).
 *
 * Run: node --expose-gc --import tsx bench/permessage-deflate.bench.ts [--time-ms=2000]
 *
 * Throughput: a "pipe" is one connection's compressor on one end and the peer's
 * decompressor on the other, negotiated with defaults (15-bit windows, context takeover,
 * zlib's default level and memLevel 8) on both libraries. A message goes through both,
 * one at a time per pipe; with 16 pipes, 16 messages are in flight and both libraries'
 * process-wide zlib limit (10 jobs) applies. Messages are JSON-like, of exactly 1 KiB or
 * 64 KiB, 64 distinct ones in turn (a real stream of similar records, not one message
 * repeated). MB/s counts uncompressed bytes. Each cell gets about --time-ms split into 5
 * rounds that take turns between the implementations; the best round of each is reported.
 * A third row shows ours at level 1, for the choice of the default level.
 *
 * Memory per context: N pipes' ends each compress and decompress one message (so that
 * both a deflater and an inflater exist), all kept alive; RSS growth / N after a GC, in a
 * fresh child process per library so that one's freed memory cannot be reused by the
 * other. Also for ours: an extension negotiated but never used (zlib is created lazily).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Extension, MessageCodec } from '../lib/extensions/extension.js';
import { PerMessageDeflate } from '../lib/extensions/permessage-deflate.js';
import { Rsv } from '../lib/protocol/opcodes.js';
import { formatNumber, formatRatio, markdownTable } from './lib/stats.js';

type Callback = (err: Error | null, result?: Buffer) => void;

interface WsPerMessageDeflate {
  offer(): Record<string, number | true>;
  accept(configurations: Record<string, (string | true)[]>[]): Record<string, number | true>;
  compress(data: Buffer, fin: boolean, cb: Callback): void;
  decompress(data: Buffer, fin: boolean, cb: Callback): void;
  cleanup(): void;
}
type WsPerMessageDeflateConstructor = new (options: {
  isServer: boolean;
  maxPayload?: number;
}) => WsPerMessageDeflate;

const require = createRequire(import.meta.url);
// ws's package exports hide lib/: reach the file through the package directory.
const WsPerMessageDeflate = require(
  join(dirname(require.resolve('ws')), 'lib', 'permessage-deflate.js'),
) as WsPerMessageDeflateConstructor;

const TIME_MS = Number(/--time-ms=(\d+)/.exec(process.argv.join(' '))?.[1] ?? 2000);
const ROUNDS = 5;
const MEMORY_PIPES = 500;
const MiB = 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

// ---------------------------------------------------------------------------------------
// Messages and pipes

/** A small seeded PRNG (mulberry32), so that every run measures the same messages. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Makes JSON-like records of exactly `size` bytes. */
function jsonMessage(size: number, random: () => number): Buffer {
  let text = '[';
  while (text.length < size) {
    text += `${JSON.stringify({
      id: Math.floor(random() * 1e6),
      user: `user${Math.floor(random() * 1000)}`,
      active: random() > 0.5,
      score: Math.round(random() * 1e6) / 100,
      tags: ['alpha', 'beta', 'gamma', 'delta'].filter(() => random() > 0.5),
      at: new Date(1.7e12 + Math.floor(random() * 1e10)).toISOString(),
    })},`;
  }
  return Buffer.from(text).subarray(0, size);
}

/** One connection's compressor and its peer's decompressor; resolves with the bytes out. */
interface Pipe {
  roundTrip(message: Buffer): Promise<number>;
  /** Total compressed bytes sent so far. */
  wire: number;
  /** Messages sent so far: the next one continues the same cycle across rounds. */
  sent: number;
  close(): void;
}

/** Runs a codec over one whole piece; resolves with its output. */
function runCodec(codec: MessageCodec, piece: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    codec.transform(
      piece,
      true,
      (chunk) => parts.push(chunk),
      (err) => (err ? reject(err) : resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts))),
    );
  });
}

function ourExtensions(level?: number): { server: Extension; client: Extension } {
  const client = new PerMessageDeflate({ clientMaxWindowBits: true }, 'client');
  const server = new PerMessageDeflate(
    { threshold: 0, ...(level === undefined ? {} : { level }) },
    'server',
  );
  const chosen = server.negotiate(client.offer());
  if (chosen === null) throw new Error('declined');
  return { server: chosen.extension, client: client.accept(chosen.answer) };
}

function ourPipe(level?: number): Pipe {
  const { server, client } = ourExtensions(level);
  const pipe: Pipe = {
    wire: 0,
    sent: 0,
    async roundTrip(message) {
      const codec = server.outgoing({ binary: false, length: message.length, compress: true })!;
      const compressed = await runCodec(codec, message);
      pipe.wire += compressed.length;
      const limits = { maxMessageSize: 100 * MiB };
      return (await runCodec(client.incoming(Rsv.Rsv1, limits)!, compressed)).length;
    },
    close() {
      server.dispose();
      client.dispose();
    },
  };
  return pipe;
}

function toWs(params: Record<string, number | true>): Record<string, (string | true)[]> {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, [v === true ? true : String(v)]]),
  );
}

function wsCall(
  fn: (data: Buffer, fin: boolean, cb: Callback) => void,
  data: Buffer,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    fn(data, true, (err, result) => (err ? reject(err) : resolve(result!))),
  );
}

function wsPair(): { server: WsPerMessageDeflate; client: WsPerMessageDeflate } {
  const server = new WsPerMessageDeflate({ isServer: true, maxPayload: 100 * MiB });
  const client = new WsPerMessageDeflate({ isServer: false, maxPayload: 100 * MiB });
  client.accept([toWs(server.accept([toWs(client.offer())]))]);
  return { server, client };
}

function wsPipe(): Pipe {
  const { server, client } = wsPair();
  const pipe: Pipe = {
    wire: 0,
    sent: 0,
    async roundTrip(message) {
      const compressed = await wsCall(server.compress.bind(server), message);
      pipe.wire += compressed.length;
      return (await wsCall(client.decompress.bind(client), compressed)).length;
    },
    close() {
      server.cleanup();
      client.cleanup();
    },
  };
  return pipe;
}

// ---------------------------------------------------------------------------------------
// Throughput

interface Contender {
  name: string;
  makePipe: () => Pipe;
}

/** Runs `pipes` pipes flat out for `ms`; gives messages per second and the bytes on the wire. */
async function runFor(
  pipes: Pipe[],
  messages: Buffer[],
  ms: number,
): Promise<{ rate: number; wireRatio: number }> {
  const deadline = performance.now() + ms;
  let count = 0;
  let bytes = 0;
  const wireBefore = pipes.reduce((sum, p) => sum + p.wire, 0);
  const started = performance.now();
  await Promise.all(
    pipes.map(async (pipe, p) => {
      while (performance.now() < deadline) {
        const message = messages[(p + pipe.sent++) % messages.length]!;
        const out = await pipe.roundTrip(message);
        if (out !== message.length) throw new Error(`got ${out} bytes, sent ${message.length}`);
        count++;
        bytes += message.length;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const wire = pipes.reduce((sum, p) => sum + p.wire, 0) - wireBefore;
  return { rate: count / elapsed, wireRatio: wire / bytes };
}

/** Measures each contender in ROUNDS rounds that take turns; gives each one's best round. */
async function measure(
  contenders: Contender[],
  size: number,
  concurrency: number,
): Promise<{ rate: number; wireRatio: number }[]> {
  const random = prng(size);
  const messages = Array.from({ length: 64 }, () => jsonMessage(size, random));
  const pipeSets = contenders.map((c) => Array.from({ length: concurrency }, c.makePipe));
  const best = contenders.map(() => ({ rate: 0, wireRatio: 0 }));
  for (const pipes of pipeSets) await runFor(pipes, messages, 100); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, pipes] of pipeSets.entries()) {
      const result = await runFor(pipes, messages, TIME_MS / ROUNDS / contenders.length);
      if (result.rate > best[i]!.rate) best[i] = result;
    }
  }
  for (const pipes of pipeSets) for (const pipe of pipes) pipe.close();
  return best;
}

async function throughput(): Promise<void> {
  const contenders: Contender[] = [
    { name: 'ours', makePipe: () => ourPipe() },
    { name: 'ws', makePipe: wsPipe },
    { name: 'ours, level 1', makePipe: () => ourPipe(1) },
  ];
  const rows: string[][] = [];
  for (const size of [1024, 64 * 1024]) {
    for (const concurrency of [1, 16]) {
      const [ours, ws, fast] = await measure(contenders, size, concurrency);
      const label = `${size / 1024} KiB x${concurrency}`;
      for (const [name, r] of [
        ['ours', ours!],
        ['ws', ws!],
        ['ours, level 1', fast!],
      ] as const) {
        rows.push([
          label,
          name,
          formatNumber(r.rate),
          formatNumber((r.rate * size) / 1e6),
          `${(r.wireRatio * 100).toFixed(1)}%`,
          formatRatio(r.rate, ws!.rate),
        ]);
      }
    }
  }
  console.log('\nThroughput: compress + decompress, JSON-like messages, in flight per run');
  console.log(
    markdownTable(['messages', 'impl', 'msg/s', 'MB/s', 'wire/raw', 'vs ws'], rows, [0, 1]),
  );
}

// ---------------------------------------------------------------------------------------
// Memory per context (run in a child process per library)

/** Makes N pipe ends that each compressed and decompressed one message; measures RSS. */
async function memoryChild(kind: string): Promise<void> {
  const message = jsonMessage(4096, prng(1));
  const keep: (() => void)[] = [];
  gc!();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < MEMORY_PIPES; i++) {
    if (kind === 'ws') {
      const { server } = wsPair();
      // One instance both compresses and decompresses: a deflater and an inflater.
      await wsCall(
        server.decompress.bind(server),
        await wsCall(server.compress.bind(server), message),
      );
      keep.push(() => server.cleanup());
    } else {
      const { server, client } = ourExtensions();
      client.dispose();
      if (kind === 'ours') {
        const frames = await runCodec(
          server.outgoing({ binary: true, length: undefined, compress: true })!,
          message,
        );
        await runCodec(server.incoming(Rsv.Rsv1, { maxMessageSize: MiB })!, frames);
      }
      keep.push(() => server.dispose());
    }
  }
  gc!();
  const used = process.memoryUsage().rss;
  for (const release of keep) release();
  gc!();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc!();
  const after = process.memoryUsage().rss;
  console.log(
    JSON.stringify({
      perPipe: (used - before) / MEMORY_PIPES,
      released: (used - after) / MEMORY_PIPES,
    }),
  );
}

function memoryIn(kind: string): { perPipe: number; released: number } {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, [...process.execArgv, script, `--memory=${kind}`], {
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`memory child ${kind} failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
    perPipe: number;
    released: number;
  };
}

function memory(): void {
  const kib = (n: number): string => `${formatNumber(n / 1024)} KiB`;
  const ours = memoryIn('ours');
  const ws = memoryIn('ws');
  const idle = memoryIn('ours-idle');
  console.log(`\nMemory per connection's contexts (deflate + inflate), RSS over ${MEMORY_PIPES}`);
  console.log(
    markdownTable(
      ['impl', 'RSS per context pair', 'freed by dispose/cleanup', 'vs ws'],
      [
        ['ours', kib(ours.perPipe), kib(ours.released), formatRatio(ours.perPipe, ws.perPipe)],
        ['ws', kib(ws.perPipe), kib(ws.released), '1.00x'],
        [
          'ours, negotiated, unused',
          kib(idle.perPipe),
          kib(idle.released),
          formatRatio(idle.perPipe, ws.perPipe),
        ],
      ],
    ),
  );
}

// ---------------------------------------------------------------------------------------

const memoryKind = /--memory=([\w-]+)/.exec(process.argv.join(' '))?.[1];
if (memoryKind !== undefined) {
  await memoryChild(memoryKind);
} else {
  const wsVersion = (
    require(join(dirname(require.resolve('ws')), 'package.json')) as { version: string }
  ).version;
  console.log(
    `permessage-deflate, node ${process.version}, zlib ${process.versions.zlib}, ws ${wsVersion}`,
  );
  await throughput();
  memory();
}
