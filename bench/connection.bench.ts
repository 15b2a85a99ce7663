/**
 * Echo throughput of WebSocketConnection against ws 8, measured in the same run.
 *
 * Run: node --expose-gc --import tsx bench/connection.bench.ts
 *        [--time-ms=2000] [--warmup-ms=300] [--runs=3] [--sizes=64,16384,16777216]
 *        [--only=ours,ours-mem,ws,ws-js,alt] [--cpu-prof-dir=DIR] [--ours-options=JSON]
 *        [--ours-lib=DIR] [--alt-lib=DIR] [--worker-flags="--trace-gc ..."] [--window=N]
 *
 * --ours-lib loads our library from DIR instead of ../lib (e.g. a snapshot taken while lib/
 * is being edited); --alt-lib adds a variant 'alt': ours over loopback with the library
 * loaded from another copy (e.g. before a change), for a before/after comparison in one run.
 *
 * --cpu-prof-dir writes V8 CPU profiles of every worker process (client and server of each
 * variant) into DIR/<variant>-<client|server>/, one per thread (tsx's loader thread too: the
 * largest file is the main thread).
 *
 * Each cell keeps `window` binary messages of one size in flight against an echo peer for
 * about --time-ms (and at most a fixed count), checks every message that comes back, and
 * reports messages (and payload MB) echoed per second: the median of --runs runs, with the
 * spread (max - min) / median. Every run uses a new connection, warmed up for --warmup-ms
 * before its measured phase.
 *
 * Setup, the same for every library:
 * - the echo server runs in one child process and the client in another, so that on a
 *   2-core machine the two ends do not share an event loop; this process only directs;
 * - ours: the server side is a server-role WebSocketConnection over the accepted socket doing
 *   `ws.pipe(ws)`, the client a client-role one over the connecting socket. The HTTP
 *   handshake is SKIPPED (both sockets are wrapped straight after the TCP connect);
 * - ws: `new WebSocketServer()` echoing `ws.send(data, { binary })` on 'message', and a
 *   `new WebSocket(url)` client, with its HTTP handshake; no extension is negotiated;
 * - ws-js: the same as ws in processes started with WS_NO_BUFFER_UTIL=1 (ws's JavaScript
 *   masking instead of the bufferutil add-on);
 * - the measurement starts on an open connection, after the handshake, for every library;
 * - in-memory: ours over test/helpers/duplex-pair.ts, both ends in ONE child process. ws
 *   has no in-memory transport, so that row's ratio is against ws over loopback.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveRequests, startWorker, type Worker, type WorkerRequest } from './lib/child.js';
import { type EchoClient, EchoDriver, type EchoResult, PayloadPool } from './lib/echo.js';
import {
  formatRatioSummary,
  formatSize,
  formatSummary,
  markdownTable,
  pairedRatios,
  type Summary,
  summarize,
} from './lib/stats.js';

type Library = 'ours' | 'ws';
type TransportKind = 'tcp' | 'memory';

/** A client connection under test, with a way to close it. */
interface Connection extends EchoClient {
  close(): Promise<void>;
}

interface MeasureRequest extends WorkerRequest {
  cmd: 'measure';
  transport: TransportKind;
  port: number;
  size: number;
  window: number;
  warmupMs: number;
  durationMs: number;
  maxMessages: number;
}

interface Measurement extends EchoResult {
  /** CPU time (user + system) of the client process over the measured phase, in ms. */
  clientCpuMs: number;
  /** Messages echoed in the warm-up phase (the server's CPU figure covers them too). */
  warmupMessages: number;
}

/** Sizes, windows and count bounds from the issue. */
const CELLS: ReadonlyArray<{ size: number; window: number; maxMessages: number }> = [
  { size: 64, window: 1000, maxMessages: 20_000_000 },
  { size: 16 * 1024, window: 100, maxMessages: 2_000_000 },
  { size: 16 * 1024 * 1024, window: 2, maxMessages: 5_000 },
];

const DRAIN_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 5_000;

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Whether ws, as loaded in this process, masks with the bufferutil add-on. */
function wsUsesBufferutil(): boolean {
  const require = createRequire(import.meta.url);
  const util = require(join(dirname(require.resolve('ws')), 'lib', 'buffer-util.js')) as {
    mask: () => void;
  };
  return util.mask.toString().includes('bufferUtil');
}

/**
 * Options for our connections from --ours-options=JSON (default none: the defaults, as a
 * user gets them), for exploring e.g. `{"fragmentOutgoingMessages":false}`.
 */
function oursOptions(): Record<string, unknown> {
  return JSON.parse(option('ours-options', '{}')) as Record<string, unknown>;
}

/**
 * Loads our connection from --ours-lib=DIR (default: this repository's lib/), so that two
 * versions of the library can be compared in one run (see --alt-lib).
 */
function loadOurs(): Promise<typeof import('../lib/stream/websocket-connection.js')> {
  const dir = option('ours-lib', fileURLToPath(new URL('../lib', import.meta.url)));
  return import(pathToFileURL(join(dir, 'stream', 'websocket-connection.ts')).href);
}

// ---------------------------------------------------------------------------------- servers

async function serveOurs(): Promise<number> {
  const { WebSocketConnection } = await loadOurs();
  const server = net.createServer((socket) => {
    const ws = new WebSocketConnection(socket, { ...oursOptions(), role: 'server' });
    ws.on('error', () => {});
    ws.pipe(ws);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function serveWs(): Promise<number> {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await once(wss, 'listening');
  return (wss.address() as net.AddressInfo).port;
}

async function runServer(lib: Library): Promise<void> {
  const port = lib === 'ours' ? await serveOurs() : await serveWs();
  let cpuMark = process.cpuUsage();
  serveRequests(
    { port, bufferutil: lib === 'ws' ? wsUsesBufferutil() : false },
    async (request) => {
      if (request.cmd === 'gc') {
        gc();
        return null;
      }
      if (request.cmd === 'cpu-start') {
        cpuMark = process.cpuUsage();
        return null;
      }
      if (request.cmd === 'cpu-stop') {
        const used = process.cpuUsage(cpuMark);
        return (used.user + used.system) / 1000;
      }
      throw new Error(`unknown request ${request.cmd}`);
    },
  );
}

// ---------------------------------------------------------------------------------- clients

async function connectOurs(transport: TransportKind, port: number): Promise<Connection> {
  const { WebSocketConnection } = await loadOurs();
  let socket: net.Socket | import('node:stream').Duplex;
  if (transport === 'memory') {
    const { duplexPair } = await import('../test/helpers/duplex-pair.js');
    const [serverSide, clientSide] = duplexPair();
    const server = new WebSocketConnection(serverSide, { ...oursOptions(), role: 'server' });
    server.on('error', () => {});
    server.pipe(server);
    socket = clientSide;
  } else {
    socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
  }
  const ws = new WebSocketConnection(socket, { ...oursOptions(), role: 'client' });
  let handler: (data: Buffer) => void = () => {};
  let failure: Error | undefined;
  ws.on('error', (err: Error) => {
    failure = err;
  });
  ws.on('data', (data: Buffer) => handler(data));
  return {
    send: (payload) => {
      ws.write(payload);
    },
    setHandler: (h) => {
      handler = h;
    },
    close: async () => {
      if (failure !== undefined) throw failure;
      const closed = once(ws, 'close');
      ws.end();
      await withTimeout(closed, CLOSE_TIMEOUT_MS, 'ours: close');
    },
  };
}

async function connectWs(port: number): Promise<Connection> {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  await withTimeout(once(ws, 'open'), CLOSE_TIMEOUT_MS, 'ws: open');
  if (ws.extensions !== '') throw new Error(`ws negotiated extensions: ${ws.extensions}`);
  let handler: (data: Buffer) => void = () => {};
  let failure: Error | undefined;
  ws.on('error', (err) => {
    failure = err;
  });
  ws.on('message', (data) => handler(data as Buffer));
  return {
    send: (payload) => ws.send(payload, { binary: true }),
    setHandler: (h) => {
      handler = h;
    },
    close: async () => {
      if (failure !== undefined) throw failure;
      const closed = once(ws, 'close');
      ws.close();
      await withTimeout(closed, CLOSE_TIMEOUT_MS, 'ws: close');
    },
  };
}

async function measure(lib: Library, request: MeasureRequest): Promise<Measurement> {
  const pool = new PayloadPool(request.size, request.window + 1);
  gc();
  const connection =
    lib === 'ours'
      ? await connectOurs(request.transport, request.port)
      : await connectWs(request.port);
  const driver = new EchoDriver(connection, pool);
  const base = {
    window: request.window,
    maxMessages: request.maxMessages,
    drainTimeoutMs: DRAIN_TIMEOUT_MS,
  };
  const warmup = await driver.run({ ...base, durationMs: request.warmupMs });
  const cpu = process.cpuUsage();
  const result = await driver.run({ ...base, durationMs: request.durationMs });
  const used = process.cpuUsage(cpu);
  await connection.close();
  return {
    ...result,
    clientCpuMs: (used.user + used.system) / 1000,
    warmupMessages: warmup.messages,
  };
}

function runClient(lib: Library): void {
  serveRequests({ bufferutil: lib === 'ws' ? wsUsesBufferutil() : false }, async (request) => {
    if (request.cmd === 'measure') return measure(lib, request as MeasureRequest);
    throw new Error(`unknown request ${request.cmd}`);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------- director

interface Variant {
  key: string;
  lib: Library;
  transport: TransportKind;
  env: Record<string, string>;
  /** Our library from another directory (--alt-lib). */
  oursLib?: string;
  server?: Worker;
  client?: Worker;
}

async function direct(): Promise<void> {
  const durationMs = Number(option('time-ms', '2000'));
  const warmupMs = Number(option('warmup-ms', '300'));
  const runs = Number(option('runs', '3'));
  const sizes = option('sizes', CELLS.map((c) => c.size).join(','))
    .split(',')
    .map(Number);
  const windowOverride = Number(option('window', '0'));
  const cells = CELLS.filter((c) => sizes.includes(c.size)).map((c) =>
    windowOverride > 0 ? { ...c, window: windowOverride } : c,
  );
  const script = fileURLToPath(import.meta.url);
  const only = option('only', '')
    .split(',')
    .filter((k) => k !== '');
  const profileDir = option('cpu-prof-dir', '');
  const workerFlags = option('worker-flags', '')
    .split(' ')
    .filter((f) => f !== '');
  const profile = (name: string) => [
    ...workerFlags,
    ...(profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`]),
  ];

  const altLib = option('alt-lib', '');
  const all: Variant[] = [
    { key: 'ours', lib: 'ours', transport: 'tcp', env: {} },
    ...(altLib === ''
      ? []
      : [
          { key: 'alt', lib: 'ours', transport: 'tcp', env: {}, oursLib: altLib } satisfies Variant,
        ]),
    { key: 'ours-mem', lib: 'ours', transport: 'memory', env: {} },
    { key: 'ws', lib: 'ws', transport: 'tcp', env: { WS_NO_BUFFER_UTIL: '' } },
    { key: 'ws-js', lib: 'ws', transport: 'tcp', env: { WS_NO_BUFFER_UTIL: '1' } },
  ];
  const variants = all.filter((v) => only.length === 0 || only.includes(v.key));
  const cpu = cpus();
  console.log(
    `node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} x ${cpu[0]?.model ?? '?'}`,
  );
  console.log(
    `${runs} runs per cell of ${durationMs} ms each (after ${warmupMs} ms of warm-up on the same connection); binary messages`,
  );
  console.log(
    'Echo server in a child process and client in another, for every library; the director only directs.',
  );
  console.log(
    'ours skips the HTTP handshake (TCP sockets wrapped directly); ws does its handshake; measured after it for both.',
  );
  console.log(
    'Every echoed message is checked: length, and bytes (all up to 64 KiB; 33 windows of 64 bytes above).',
  );
  console.log(
    `Load average at start: ${loadAverage()} (other processes on the machine skew msg/s)\n`,
  );

  try {
    for (const v of variants) {
      const args = (role: string) => [
        `--worker=${role}`,
        `--lib=${v.lib}`,
        `--ours-options=${option('ours-options', '{}')}`,
        `--ours-lib=${v.oursLib ?? option('ours-lib', fileURLToPath(new URL('../lib', import.meta.url)))}`,
      ];
      v.client = await startWorker(
        `${v.key} client`,
        script,
        args('client'),
        v.env,
        profile(`${v.key}-client`),
      );
      if (v.transport === 'tcp') {
        v.server = await startWorker(
          `${v.key} server`,
          script,
          args('server'),
          v.env,
          profile(`${v.key}-server`),
        );
      }
    }
    const bufferutil = variants
      .filter((v) => v.lib === 'ws')
      .map((v) => `${v.key}=${v.client!.info.bufferutil ? 'on' : 'off'}`);
    if (bufferutil.length > 0)
      console.log(`ws masking with bufferutil: ${bufferutil.join(', ')}\n`);

    const results = new Map<string, Measurement[]>();
    const serverCpu = new Map<string, number[]>();
    for (let run = 0; run < runs; run++) {
      for (const cell of cells) {
        // Rotate the order each run, so that no library always goes first.
        const order = variants.map((_, i) => variants[(i + run) % variants.length]!);
        for (const v of order) {
          const key = `${v.key}/${cell.size}`;
          await v.server?.request({ cmd: 'gc' }, 10_000);
          await v.server?.request({ cmd: 'cpu-start' }, 10_000);
          const m = await v.client!.request<Measurement>(
            {
              cmd: 'measure',
              transport: v.transport,
              port: (v.server?.info.port as number | undefined) ?? 0,
              size: cell.size,
              window: cell.window,
              warmupMs,
              durationMs,
              maxMessages: cell.maxMessages,
            },
            warmupMs + durationMs + 2 * DRAIN_TIMEOUT_MS + CLOSE_TIMEOUT_MS + 30_000,
          );
          const sc = (await v.server?.request<number>({ cmd: 'cpu-stop' }, 10_000)) ?? Number.NaN;
          results.set(key, [...(results.get(key) ?? []), m]);
          serverCpu.set(key, [...(serverCpu.get(key) ?? []), sc]);
          process.stderr.write(
            `run ${run + 1}/${runs} ${key}: ${Math.round(m.rate).toLocaleString('en-US')} msg/s\n`,
          );
        }
      }
    }
    report(cells, variants, results, serverCpu, runs);
    console.log(`\nLoad average at end: ${loadAverage()}`);
  } finally {
    for (const v of variants) {
      await v.client?.stop();
      await v.server?.stop();
    }
  }
}

function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function report(
  cells: typeof CELLS,
  variants: Variant[],
  results: Map<string, Measurement[]>,
  serverCpu: Map<string, number[]>,
  runs: number,
): void {
  const rate = (key: string, size: number): Summary | undefined => {
    const ms = results.get(`${key}/${size}`);
    return ms === undefined ? undefined : summarize(ms.map((m) => m.rate));
  };
  const show = (s: Summary | undefined, scale = 1) =>
    s === undefined ? '-' : formatSummary(s, scale);
  const rates = (key: string, size: number) => results.get(`${key}/${size}`)?.map((m) => m.rate);
  const ratio = (key: string, other: string, size: number) => {
    const a = rates(key, size);
    const b = rates(other, size);
    return a === undefined || b === undefined ? 'n/a' : formatRatioSummary(pairedRatios(a, b));
  };
  const rows: string[][] = [];
  for (const cell of cells) {
    const mbs = cell.size / 1e6;
    const ws = rate('ws', cell.size);
    const wsJs = rate('ws-js', cell.size);
    for (const key of ['ours', 'alt', 'ours-mem']) {
      const ours = rate(key, cell.size);
      if (ours === undefined) continue;
      const memory = key === 'ours-mem';
      const mark = memory ? '*' : '';
      rows.push([
        formatSize(cell.size),
        String(cell.window),
        memory ? 'in-memory (ws: loopback)' : key === 'alt' ? 'loopback, --alt-lib' : 'loopback',
        show(ours),
        show(ours, mbs),
        show(ws),
        show(ws, mbs),
        `${ratio(key, 'ws', cell.size)}${mark}`,
        show(wsJs),
        `${ratio(key, 'ws-js', cell.size)}${mark}`,
      ]);
    }
  }
  console.log(
    `Echo throughput, binary, median of ${runs} runs ±half the spread (max-min)/median; MB/s = payload MB echoed per second.\n` +
      'Ratios: median (lowest-highest) of the per-run ratios, each run of ours paired with the same run of ws (measured next to it).',
  );
  console.log(
    markdownTable(
      [
        'size',
        'window',
        'ours transport',
        'ours msg/s',
        'ours MB/s',
        'ws msg/s',
        'ws MB/s',
        'ours/ws',
        'ws-js msg/s',
        'ours/ws-js',
      ],
      rows,
      [0, 2],
    ),
  );
  console.log(
    '* in-memory ours against ws over loopback (ws has no in-memory transport): not like for like.',
  );
  if (variants.some((v) => v.key === 'alt')) {
    const lines = cells.map((c) => `${formatSize(c.size)}: ${ratio('ours', 'alt', c.size)}`);
    console.log(`ours (lib) / alt (--alt-lib), paired per run: ${lines.join('; ')}`);
  }
  console.log(
    'ws = ws 8 with bufferutil; ws-js = ws with WS_NO_BUFFER_UTIL=1 (client and server processes).\n',
  );

  const cpuRows: string[][] = [];
  for (const cell of cells) {
    for (const v of variants) {
      const key = `${v.key}/${cell.size}`;
      const ms = results.get(key);
      if (ms === undefined) continue;
      const share = summarize(ms.map((m) => m.clientCpuMs / 10 / m.seconds));
      const client = summarize(ms.map((m) => (m.clientCpuMs * 1000) / m.messages));
      const sc = serverCpu.get(key)!;
      const server = summarize(ms.map((m, i) => (sc[i]! * 1000) / (m.messages + m.warmupMessages)));
      const mb = summarize(ms.map((m) => m.bytes / 1e6));
      cpuRows.push([
        formatSize(cell.size),
        v.key,
        `${Math.round(share.median)}%`,
        formatSummary(client),
        v.transport === 'memory' ? '(in client)' : formatSummary(server),
        `${Math.round(mb.median).toLocaleString('en-US')}`,
      ]);
    }
  }
  console.log(
    'CPU (user + system) per echoed message, in µs: less sensitive than msg/s to other load on the machine.\n' +
      'client: measured phase (client CPU = share of one core); server: warm-up + measured phase (+ close).',
  );
  console.log(
    markdownTable(
      ['size', 'variant', 'client CPU', 'client µs/msg', 'server µs/msg', 'MB echoed'],
      cpuRows,
      [0, 1],
    ),
  );
}

// ---------------------------------------------------------------------------------- main

const worker = option('worker', '');
const lib = option('lib', 'ours') as Library;
if (worker === 'server') await runServer(lib);
else if (worker === 'client') runClient(lib);
else await direct();
