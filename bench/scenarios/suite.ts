/**
 * The scenarios of `npm run bench`, run from bench/run.ts: each one measures its figures for
 * every variant (ours, ws with and without its add-ons, WebSocket-Node, and plain TCP where
 * it is the ceiling), with servers and clients in worker processes of their own
 * (bench/scenarios/worker.ts, bundled to plain JavaScript), repeated in rounds whose order
 * rotates, so that run i of one variant is paired with run i of ws, measured next to it.
 *
 * Every loop is bounded in time and in count, every echo is checked against what was sent,
 * a streamed message is hashed at both ends, and everything runs on 127.0.0.1.
 */
import { type LaunchOptions, startWorker, type Worker } from '../lib/child.js';
import { formatNumber } from '../lib/stats.js';
import type { Figure, Target, VariantKey } from '../lib/suite-results.js';
import type { LibKey, ServerSettings } from './peers.js';
import type { EchoMeasurement, MemoryFigures, PayloadSpec, StreamSendResult } from './worker.js';

/** How big and how long: the full suite, or --quick. */
export interface SuiteConfig {
  runs: number;
  warmupMs: number;
  durationMs: number;
  /** Scenario 6: idle connections. */
  idleConnections: number;
  /** Scenario 8: connections for the memory figure. */
  deflateConnections: number;
  /** Scenario 7: the streamed message. */
  streamBytes: number;
  /** Scenario 7: the message every library can send (held whole by ws and websocket). */
  referenceBytes: number;
  /** The bundled worker (plain JavaScript). */
  workerScript: string;
  /** file: URL of our built library. */
  oursUrl: string;
  /** When set, every worker writes a V8 CPU profile under it. */
  profileDir: string | undefined;
  /** When set, only these variants run (e.g. for a profile of ours alone). */
  variants: readonly VariantKey[] | undefined;
  /** Rounds of the memory and streaming figures (long, and steady from run to run). */
  heavyRuns: number;
  /** Connection options for ours (JSON), to measure a setting; '' for the defaults. */
  oursOptions: string;
  /** How our echo server echoes: 'pipe' (`ws.pipe(ws)`, the default) or 'streams'. */
  oursEcho: 'pipe' | 'streams';
  /** Scenario 10: connections of the open loop, each sending every 50 ms. */
  openLoopConnections: number;
  /** Scenario 10: warm-up and measured phase of an open-loop run (ms). */
  openLoopWarmupMs: number;
  openLoopMs: number;
  /** Scenario 11: connections the server broadcasts to, and broadcasts per size. */
  broadcastConnections: number;
  broadcastCount: number;
  /** Scenario 12: connections held by one server process, and rounds of it. */
  manyConnections: number;
  manyRuns: number;
}

export interface Scenario {
  n: number;
  title: string;
  run(ctx: SuiteContext): Promise<Figure[]>;
}

export const MiB = 1024 * 1024;
const ECHO_MAX_MESSAGE = 64 * MiB;
const REQUEST_SLACK_MS = 60_000;

/** How each variant's processes are started. */
const SETUP: Record<VariantKey, { lib: LibKey; env: Record<string, string> }> = {
  ours: { lib: 'ours', env: {} },
  ws: { lib: 'ws', env: { WS_NO_BUFFER_UTIL: '', WS_NO_UTF_8_VALIDATE: '' } },
  'ws-js': { lib: 'ws', env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' } },
  websocket: { lib: 'websocket', env: {} },
  tcp: { lib: 'tcp', env: {} },
};

export interface Pair {
  server: Worker;
  client: Worker;
  port: number;
}

/** The director's handle on worker processes, shared by the scenarios. */
export class SuiteContext {
  readonly config: SuiteConfig;
  readonly log: (line: string) => void;
  /** What the ws workers reported about bufferutil, per variant. */
  readonly bufferutil: Partial<Record<VariantKey, boolean>> = {};
  readonly #pairs = new Map<string, Promise<Pair>>();
  #started = 0;

  constructor(config: SuiteConfig, log: (line: string) => void) {
    this.config = config;
    this.log = log;
  }

  /**
   * Starts a server or client worker of a variant (with `launch.openFiles`, under a raised
   * limit on open files).
   */
  async start(
    variant: VariantKey,
    role: 'server' | 'client',
    settings?: ServerSettings,
    launch: LaunchOptions = {},
  ): Promise<Worker> {
    const { lib, env } = SETUP[variant];
    const name = `${variant} ${role}`;
    const args = [`--role=${role}`, `--lib=${lib}`];
    if (settings !== undefined) args.push(`--settings=${JSON.stringify(settings)}`);
    const n = ++this.#started;
    const execArgv =
      this.config.profileDir === undefined
        ? []
        : [
            '--cpu-prof',
            `--cpu-prof-dir=${this.config.profileDir}/${String(n).padStart(3, '0')}-${variant}-${role}`,
          ];
    const worker = await startWorker(
      name,
      this.config.workerScript,
      args,
      {
        ...env,
        BENCH_OURS_URL: this.config.oursUrl,
        ...(this.config.oursOptions === '' ? {} : { BENCH_OURS_OPTIONS: this.config.oursOptions }),
        ...(this.config.oursEcho === 'pipe' ? {} : { BENCH_OURS_ECHO: this.config.oursEcho }),
      },
      execArgv,
      launch,
    );
    if (lib === 'ws') {
      const on = worker.info.bufferutil === true;
      this.bufferutil[variant] = on;
      if (on !== (variant === 'ws')) {
        await worker.stop();
        throw new Error(`${name}: bufferutil is ${on ? 'on' : 'off'}, expected the opposite`);
      }
    }
    return worker;
  }

  /** Starts a server and a client of a variant. */
  async startPair(variant: VariantKey, settings: ServerSettings): Promise<Pair> {
    const server = await this.start(variant, 'server', settings);
    try {
      const client = await this.start(variant, 'client');
      return { server, client, port: server.info.port as number };
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  /** The long-lived echo server and client of a variant (started on first use). */
  echoPair(variant: VariantKey, deflate: boolean): Promise<Pair> {
    const key = `${variant}/${deflate}`;
    let pair = this.#pairs.get(key);
    if (pair === undefined) {
      pair = this.startPair(variant, { deflate, maxMessageSize: ECHO_MAX_MESSAGE, mode: 'echo' });
      pair.catch(() => this.#pairs.delete(key));
      this.#pairs.set(key, pair);
    }
    return pair;
  }

  /** Stops an echo pair (after a failure, so that the next use starts afresh). */
  async dropEchoPair(variant: VariantKey, deflate: boolean): Promise<void> {
    const key = `${variant}/${deflate}`;
    const pair = this.#pairs.get(key);
    this.#pairs.delete(key);
    if (pair !== undefined) await stopPair(await pair.catch(() => undefined));
  }

  /** Stops every long-lived worker. */
  async stopAll(): Promise<void> {
    const pairs = [...this.#pairs.values()];
    this.#pairs.clear();
    for (const pair of pairs) await stopPair(await pair.catch(() => undefined));
  }
}

export async function stopPair(pair: Pair | undefined): Promise<void> {
  if (pair === undefined) return;
  await pair.client.stop();
  await pair.server.stop();
}

export function figure(
  id: string,
  scenario: number,
  label: string,
  unit: string,
  better: 'higher' | 'lower',
  targets: Target[] = [],
): Figure {
  return { id, scenario, label, unit, better, values: {}, missing: {}, targets, extra: {} };
}

export function push(f: Figure, variant: VariantKey, value: number): void {
  const values = f.values[variant] ?? [];
  values.push(value);
  f.values[variant] = values;
}

export function pushExtra(f: Figure, name: string, variant: VariantKey, value: number): void {
  const byVariant = f.extra[name] ?? {};
  const values = byVariant[variant] ?? [];
  values.push(Number(value.toPrecision(6)));
  byVariant[variant] = values;
  f.extra[name] = byVariant;
}

/**
 * Runs `measure` for every variant, `runs` times, rotating the order each round so that no
 * variant always goes first. A variant that fails is dropped from the figures (with the
 * reason), so that the runs of the others stay paired.
 */
export async function rounds(
  ctx: SuiteContext,
  runs: number,
  figures: Figure[],
  variants: readonly VariantKey[],
  measure: (variant: VariantKey, run: number) => Promise<void>,
  onFailure: (variant: VariantKey) => Promise<void> = async () => {},
): Promise<void> {
  const failed = new Set<VariantKey>();
  const only = ctx.config.variants;
  if (only !== undefined) variants = variants.filter((v) => only.includes(v));
  for (let run = 0; run < runs; run++) {
    const order = variants.map((_, i) => variants[(i + run) % variants.length]!);
    for (const v of order) {
      if (failed.has(v)) continue;
      try {
        await measure(v, run);
      } catch (err) {
        failed.add(v);
        const message = (err as Error).message.split('\n')[0]!;
        ctx.log(`  ${v}: FAILED: ${message}`);
        for (const f of figures) {
          delete f.values[v];
          for (const byVariant of Object.values(f.extra)) delete byVariant[v];
          f.missing[v] = `failed: ${message}`;
        }
        await onFailure(v);
      }
    }
  }
}

// ------------------------------------------------------------------------------ echo

interface EchoCell {
  id: string;
  scenario: number;
  label: string;
  unit: 'msg/s' | 'MB/s';
  variants: readonly VariantKey[];
  payload: PayloadSpec;
  window: number;
  connections: number;
  maxMessages: number;
  deflate: boolean;
  targets: Target[];
}

async function echoFigure(ctx: SuiteContext, cell: EchoCell): Promise<Figure> {
  const f = figure(cell.id, cell.scenario, cell.label, cell.unit, 'higher', cell.targets);
  const { warmupMs, durationMs, runs } = ctx.config;
  await rounds(
    ctx,
    runs,
    [f],
    cell.variants,
    async (v, run) => {
      const pair = await ctx.echoPair(v, cell.deflate);
      const serverCpu = () => pair.server.request<number>({ cmd: 'cpu' }, 10_000);
      const cpuBefore = await serverCpu();
      const m = await pair.client.request<EchoMeasurement>(
        {
          cmd: 'echo',
          port: pair.port,
          payload: cell.payload,
          window: cell.window,
          connections: cell.connections,
          warmupMs,
          durationMs,
          maxMessages: cell.maxMessages,
          deflate: cell.deflate,
          maxMessageSize: ECHO_MAX_MESSAGE,
        },
        warmupMs + durationMs + cell.connections * 100 + 2 * REQUEST_SLACK_MS,
      );
      const serverMs = (await serverCpu()) - cpuBefore;
      const value = cell.unit === 'MB/s' ? m.bytes / 1e6 / m.seconds : m.rate;
      push(f, v, value);
      pushExtra(f, 'client CPU per message (µs)', v, (m.clientCpuMs * 1000) / m.messages);
      // The server's CPU covers the warm-up, the connections' setup and close too.
      pushExtra(
        f,
        'server CPU per message (µs)',
        v,
        (serverMs * 1000) / (m.messages + m.warmupMessages),
      );
      pushExtra(f, 'messages echoed and checked', v, m.messages);
      ctx.log(
        `  run ${run + 1}/${runs} ${v.padEnd(9)} ${formatNumber(value).padStart(9)} ${cell.unit}  (${m.messages.toLocaleString('en-US')} echoes checked in ${m.seconds.toFixed(2)} s; CPU per message: client ${formatNumber((m.clientCpuMs * 1000) / m.messages)} µs, server ${formatNumber((serverMs * 1000) / (m.messages + m.warmupMessages))} µs)`,
      );
    },
    (v) => ctx.dropEchoPair(v, cell.deflate),
  );
  return f;
}

export const AT_LEAST_WS: Target = { text: '>= 1.0x ws', against: 'ws', min: 1 };
export const AT_MOST_WS: Target = { text: '<= 1.0x ws', against: 'ws', max: 1 };
const ALL_WS: readonly VariantKey[] = ['ours', 'ws', 'ws-js', 'websocket'];
const WITH_TCP: readonly VariantKey[] = [...ALL_WS, 'tcp'];

// ------------------------------------------------------------------------------ memory

interface MemoryCell {
  id: string;
  scenario: number;
  label: string;
  variants: readonly VariantKey[];
  count: number;
  deflate: boolean;
  /** A message each connection echoes once it is open (null: idle from the start). */
  exchange: PayloadSpec | null;
}

/**
 * Server memory per connection: in fresh processes, open and close a few connections (so
 * that code and pools are warm), collect garbage, measure, open `count` connections (each
 * echoing `exchange` once), wait until the server has them all, collect garbage, measure
 * again; then check one echo on every connection and close them.
 */
async function memoryFigures(ctx: SuiteContext, cell: MemoryCell): Promise<Figure[]> {
  const rss = figure(
    `${cell.id}-rss`,
    cell.scenario,
    `${cell.label}: server RSS`,
    'KiB/conn',
    'lower',
    [AT_MOST_WS],
  );
  const heap = figure(
    `${cell.id}-heap`,
    cell.scenario,
    `${cell.label}: server JS heap`,
    'KiB/conn',
    'lower',
    [AT_MOST_WS],
  );
  const count = cell.count;
  const openTimeout = 60_000 + count * 20;
  const runs = ctx.config.heavyRuns;
  await rounds(ctx, runs, [rss, heap], cell.variants, async (v, run) => {
    const pair = await ctx.startPair(v, {
      deflate: cell.deflate,
      maxMessageSize: ECHO_MAX_MESSAGE,
      mode: 'echo',
    });
    try {
      const open = (n: number) =>
        pair.client.request<{ opened: number; seconds: number }>(
          {
            cmd: 'open',
            port: pair.port,
            count: n,
            concurrency: 50,
            deflate: cell.deflate,
            exchange: cell.exchange,
          },
          openTimeout,
        );
      const settle = (n: number) =>
        pair.server.request<number>(
          { cmd: 'wait-connections', count: n, timeoutMs: 30_000 },
          40_000,
        );
      await open(Math.min(100, count));
      await pair.client.request({ cmd: 'close-held' }, openTimeout);
      await settle(0);
      const before = await pair.server.request<MemoryFigures>({ cmd: 'memory' }, 30_000);
      const opened = await open(count);
      await settle(count);
      const after = await pair.server.request<MemoryFigures>({ cmd: 'memory' }, 30_000);
      const checked = await pair.client.request<number>({ cmd: 'check-held' }, openTimeout);
      if (checked !== count) throw new Error(`${checked} of ${count} connections echoed`);
      await pair.client.request({ cmd: 'close-held' }, openTimeout);
      await settle(0);
      const perRss = (after.rss - before.rss) / count / 1024;
      const perHeap = (after.heapUsed - before.heapUsed) / count / 1024;
      push(rss, v, perRss);
      push(heap, v, perHeap);
      const perConnection = (a: number, b: number) => (a - b) / count / 1024;
      pushExtra(rss, 'external (KiB/conn)', v, perConnection(after.external, before.external));
      pushExtra(
        rss,
        'arrayBuffers (KiB/conn)',
        v,
        perConnection(after.arrayBuffers, before.arrayBuffers),
      );
      pushExtra(rss, 'server RSS before (MiB)', v, before.rss / MiB);
      pushExtra(rss, 'server RSS after (MiB)', v, after.rss / MiB);
      pushExtra(rss, 'seconds to open', v, opened.seconds);
      ctx.log(
        `  run ${run + 1}/${runs} ${v.padEnd(9)} RSS ${perRss.toFixed(1)} KiB/conn, heap ${perHeap.toFixed(1)} KiB/conn, external ${((after.external - before.external) / count / 1024).toFixed(1)} KiB/conn (${count} opened in ${opened.seconds.toFixed(1)} s, each echoed once after)`,
      );
    } finally {
      await stopPair(pair);
    }
  });
  return [rss, heap];
}

// ------------------------------------------------------------------------------ streaming

interface StreamCell {
  id: string;
  label: string;
  bytes: number;
  variants: readonly VariantKey[];
  missing: Partial<Record<VariantKey, string>>;
  rssTarget: boolean;
}

/**
 * One binary message from a file-like source in the sender's process to a sink that hashes
 * it in the receiver's process (each fresh, so that its peak RSS is this transfer's), both
 * hashes compared.
 */
async function streamFigures(ctx: SuiteContext, cell: StreamCell): Promise<Figure[]> {
  const target: Target[] = cell.rssTarget ? [{ text: '< 64 MiB', absMax: 64 }] : [];
  const rate = figure(`${cell.id}-rate`, 7, cell.label, 'MB/s', 'higher');
  const sender = figure(
    `${cell.id}-rss-send`,
    7,
    `${cell.label}: sender peak RSS`,
    'MiB',
    'lower',
    target,
  );
  const receiver = figure(
    `${cell.id}-rss-recv`,
    7,
    `${cell.label}: receiver peak RSS`,
    'MiB',
    'lower',
    target,
  );
  const figures = [rate, sender, receiver];
  for (const f of figures) Object.assign(f.missing, cell.missing);
  const timeout = 120_000 + cell.bytes / 20e3; // at least 20 MB/s
  const runs = ctx.config.heavyRuns;
  await rounds(ctx, runs, figures, cell.variants, async (v, run) => {
    // null: no limit (JSON has no Infinity); ws and websocket need a number.
    const limit = v === 'ours' ? null : cell.bytes * 2;
    const pair = await ctx.startPair(v, {
      deflate: false,
      maxMessageSize: limit as number,
      mode: 'sink',
    });
    try {
      const received = pair.server.request<{
        bytes: number;
        digest: string;
        seconds: number;
        memory: MemoryFigures;
      }>({ cmd: 'sink-next' }, timeout);
      received.catch(() => {});
      const sent = await pair.client.request<StreamSendResult & { memory: MemoryFigures }>(
        { cmd: 'stream-send', port: pair.port, bytes: cell.bytes },
        timeout,
      );
      const got = await received;
      if (got.bytes !== sent.bytes || got.digest !== sent.digest) {
        throw new Error(
          `received ${got.bytes} bytes (sha256 ${got.digest}), sent ${sent.bytes} (${sent.digest})`,
        );
      }
      const mbs = got.bytes / 1e6 / got.seconds;
      push(rate, v, mbs);
      push(sender, v, sent.memory.maxRss / MiB);
      push(receiver, v, got.memory.maxRss / MiB);
      pushExtra(sender, 'RSS at start (MiB)', v, (pair.client.info.startRss as number) / MiB);
      pushExtra(receiver, 'RSS at start (MiB)', v, (pair.server.info.startRss as number) / MiB);
      ctx.log(
        `  run ${run + 1}/${runs} ${v.padEnd(9)} ${formatNumber(mbs)} MB/s; peak RSS sender ${(sent.memory.maxRss / MiB).toFixed(1)} MiB (at start ${((pair.client.info.startRss as number) / MiB).toFixed(1)}), receiver ${(got.memory.maxRss / MiB).toFixed(1)} MiB (at start ${((pair.server.info.startRss as number) / MiB).toFixed(1)}); sha256 ${got.digest.slice(0, 16)}... matches`,
      );
    } finally {
      await stopPair(pair);
    }
  });
  return figures;
}

// ------------------------------------------------------------------------------ the list

function sizeText(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${bytes / (1024 * MiB)} GiB`;
  return `${bytes / MiB} MiB`;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    n: 1,
    title: '64 B binary echo, one connection, 1,000 messages in flight',
    run: async (ctx) => [
      await echoFigure(ctx, {
        id: '1',
        scenario: 1,
        label: '64 B binary echo, 1,000 in flight',
        unit: 'msg/s',
        variants: WITH_TCP,
        payload: { kind: 'binary', size: 64, count: 1001 },
        window: 1000,
        connections: 1,
        maxMessages: 50_000_000,
        deflate: false,
        targets: [AT_LEAST_WS],
      }),
    ],
  },
  {
    n: 2,
    title: '64 B text echo (multi-byte UTF-8), one connection, 1,000 messages in flight',
    run: async (ctx) => [
      await echoFigure(ctx, {
        id: '2',
        scenario: 2,
        label: '64 B text echo (multi-byte UTF-8), 1,000 in flight',
        unit: 'msg/s',
        variants: ALL_WS,
        payload: { kind: 'multibyte', size: 64, count: 1001 },
        window: 1000,
        connections: 1,
        maxMessages: 50_000_000,
        deflate: false,
        targets: [AT_LEAST_WS],
      }),
    ],
  },
  {
    n: 3,
    title: '16 KiB binary echo, one connection, 100 messages in flight',
    run: async (ctx) => [
      await echoFigure(ctx, {
        id: '3',
        scenario: 3,
        label: '16 KiB binary echo, 100 in flight',
        unit: 'MB/s',
        variants: WITH_TCP,
        payload: { kind: 'binary', size: 16 * 1024, count: 101 },
        window: 100,
        connections: 1,
        maxMessages: 10_000_000,
        deflate: false,
        targets: [AT_LEAST_WS],
      }),
    ],
  },
  {
    n: 4,
    title: '16 MiB binary echo, one connection, 2 messages in flight',
    run: async (ctx) => [
      await echoFigure(ctx, {
        id: '4',
        scenario: 4,
        label: '16 MiB binary echo, 2 in flight',
        unit: 'MB/s',
        variants: WITH_TCP,
        payload: { kind: 'binary', size: 16 * MiB, count: 3 },
        window: 2,
        connections: 1,
        maxMessages: 10_000,
        deflate: false,
        targets: [AT_LEAST_WS, { text: '>= 0.70x plain TCP', against: 'tcp', min: 0.7 }],
      }),
    ],
  },
  {
    n: 5,
    title: '200 connections, 64 B ping-pong, one message in flight each',
    run: async (ctx) => [
      await echoFigure(ctx, {
        id: '5',
        scenario: 5,
        label: '200 connections, 64 B ping-pong, 1 in flight each',
        unit: 'msg/s',
        variants: WITH_TCP,
        payload: { kind: 'binary', size: 64, count: 16 },
        window: 1,
        connections: 200,
        maxMessages: 50_000_000,
        deflate: false,
        targets: [AT_LEAST_WS],
      }),
    ],
  },
  {
    n: 6,
    title: 'idle connections: server memory per connection (RSS and heap, after GC)',
    run: (ctx) =>
      memoryFigures(ctx, {
        id: '6',
        scenario: 6,
        label: `${ctx.config.idleConnections.toLocaleString('en-US')} idle connections`,
        variants: ALL_WS,
        count: ctx.config.idleConnections,
        deflate: false,
        exchange: null,
      }),
  },
  {
    n: 7,
    title: 'one very large binary message streamed from a file-like source to a hashing sink',
    run: async (ctx) => {
      const big = ctx.config.streamBytes;
      const ref = ctx.config.referenceBytes;
      const whole = (lib: string, limit: string) =>
        `not possible: ${lib} has no streaming message API: the sender holds the whole message in one Buffer and the receiver assembles it whole (${limit}) before handing it out, so ${sizeText(big)} needs several times that in RAM at each end (see the ${sizeText(ref)} rows)`;
      return [
        ...(await streamFigures(ctx, {
          id: '7',
          label: `one ${sizeText(big)} message streamed`,
          bytes: big,
          variants: ['ours', 'tcp'],
          missing: {
            ws: whole('ws', 'maxPayload, 100 MiB by default'),
            'ws-js': whole('ws', 'maxPayload, 100 MiB by default'),
            websocket: whole('WebSocket-Node', 'maxReceivedMessageSize, 1 MiB by default'),
          },
          rssTarget: true,
        })),
        ...(await streamFigures(ctx, {
          id: '7r',
          label: `one ${sizeText(ref)} message (ws, websocket: held whole)`,
          bytes: ref,
          variants: WITH_TCP,
          missing: {},
          rssTarget: false,
        })),
      ];
    },
  },
  {
    n: 8,
    title: 'permessage-deflate: JSON-like text messages',
    run: async (ctx) => {
      const variants: readonly VariantKey[] = ['ours', 'ws', 'ws-js'];
      const noDeflate = 'not possible: WebSocket-Node has no permessage-deflate';
      const figures: Figure[] = [];
      for (const [size, window, name] of [
        [1024, 100, '1k'],
        [64 * 1024, 10, '64k'],
      ] as const) {
        const sizeLabel = size === 1024 ? '1 KiB' : '64 KiB';
        const rate = await echoFigure(ctx, {
          id: `8-${name}-rate`,
          scenario: 8,
          label: `deflate, ${sizeLabel} JSON echo, ${window} in flight`,
          unit: 'msg/s',
          variants,
          payload: { kind: 'json', size, count: window + 1 },
          window,
          connections: 1,
          maxMessages: 10_000_000,
          deflate: true,
          targets: [AT_LEAST_WS],
        });
        rate.missing.websocket = noDeflate;
        figures.push(rate);
      }
      await ctx.stopAll();
      for (const [size, name] of [
        [1024, '1k'],
        [64 * 1024, '64k'],
      ] as const) {
        const mem = await memoryFigures(ctx, {
          id: `8-${name}-mem`,
          scenario: 8,
          label: `deflate, ${ctx.config.deflateConnections} conns after one ${size === 1024 ? '1 KiB' : '64 KiB'} JSON echo each`,
          variants,
          count: ctx.config.deflateConnections,
          deflate: true,
          exchange: { kind: 'json', size, count: 16 },
        });
        for (const f of mem) f.missing.websocket = noDeflate;
        figures.push(...mem);
      }
      return figures;
    },
  },
];
