/**
 * Scenario 12 of `npm run bench`: 100,000 WebSocket connections to one server process
 * (5,000 with --quick). Two client processes of the same library open them, each from four
 * source addresses of its own (127.0.0.2-127.0.0.5 and 127.0.0.6-127.0.0.9, `localAddress`),
 * so that the ephemeral ports of one address (about 28,000) suffice; every process is
 * started under a raised limit on open files (bench/lib/child.ts: `ulimit -n`, which root
 * may raise beyond the hard limit). Where the limit cannot be raised that far (a container
 * without CAP_SYS_RESOURCE), the scenario measures as many connections as the limit allows,
 * in thousands, says so loudly, and names the count in every figure.
 *
 * One run: a warm-up of 200 connections opened and closed (code and pools warm), the
 * server's memory after GC, all connections opened (timed), the server's memory after GC
 * at full count, one echo (checked) on every hundredth connection, all closed by their
 * Close handshake (timed), and then the checks that nothing is left in the server: no
 * connection counted by the benchmark, none held by the library, no socket on the HTTP
 * server, the same active resources as before the first connection
 * (process.getActiveResourcesInfo(): sockets, timers, servers), and the JS heap back near
 * where it was. A check that fails fails the run with what was left.
 *
 * Figures: server RSS and heap per connection at full count, its total RSS (target under
 * 1 GiB at 100,000), and the seconds to open and to close them all. Ours and ws, one round
 * (--runs=N for more): it takes about a minute per library.
 */
import { performance } from 'node:perf_hooks';
import { reachableOpenFileLimit, type Worker } from '../lib/child.js';
import type { Figure, Target, VariantKey } from '../lib/suite-results.js';
import {
  AT_MOST_WS,
  figure,
  MiB,
  push,
  pushExtra,
  rounds,
  type Scenario,
  type SuiteContext,
} from './suite.js';
import type { MemoryFigures, ServerResidue } from './worker.js';

const CLIENTS = 2;
/** Source addresses of each client process (all of 127.0.0.0/8 is loopback on Linux). */
const ADDRESSES = [
  ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'],
  ['127.0.0.6', '127.0.0.7', '127.0.0.8', '127.0.0.9'],
];
/** Handshakes in flight per client process (the server's listen backlog is 511). */
const OPEN_CONCURRENCY = 100;
const CLOSE_CONCURRENCY = 500;
const WARMUP = 200;
/** One echo on every this many connections. */
const SAMPLE_EVERY = 100;
/** Open files beyond the connections: the process's own, and some slack. */
const SPARE_FILES = 1000;
/**
 * The JS heap after every connection has closed may exceed the heap before them by at
 * most this much, or this fraction of what the connections took, whichever is larger:
 * what V8 keeps of grown tables and compiled code, not connections.
 */
const HEAP_RESIDUE_BYTES = 16 * MiB;
const HEAP_RESIDUE_FRACTION = 0.05;

const VARIANTS: readonly VariantKey[] = ['ours', 'ws'];

/** Kinds whose counts differ between two resource listings, e.g. `Timeout: 1 -> 2`. */
function resourceDiff(before: Record<string, number>, after: Record<string, number>): string[] {
  const kinds = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...kinds]
    .filter((k) => (before[k] ?? 0) !== (after[k] ?? 0))
    .map((k) => `${k}: ${before[k] ?? 0} -> ${after[k] ?? 0}`);
}

/**
 * Fails at once, saying why, when a worker could not get the open files its connections
 * need (e.g. in a container that drops CAP_SYS_RESOURCE, where even root cannot raise the
 * hard limit).
 */
function checkOpenFiles(worker: Worker, connections: number): void {
  const limit = worker.info.openFiles as number | null; // null: no limit found (JSON Infinity)
  if (limit === null || limit >= connections + 100) return;
  throw new Error(
    `${worker.name}: its limit on open files is ${limit.toLocaleString('en-US')} and could not be raised; ${connections.toLocaleString('en-US')} connections need ${(connections + 100).toLocaleString('en-US')} (raising the hard limit needs CAP_SYS_RESOURCE, e.g. root outside a container, or docker run --ulimit nofile=200000:200000; or measure fewer with --many-connections=N)`,
  );
}

/**
 * How many of the `asked` connections the open-file limit lets one server process hold
 * (rounded down to thousands), warning loudly when that is fewer.
 */
function connectionsThatFit(asked: number): number {
  const limit = reachableOpenFileLimit(asked + SPARE_FILES);
  if (limit >= asked + SPARE_FILES) return asked;
  const fit = Math.max(1000, Math.floor((limit - SPARE_FILES) / 1000) * 1000);
  console.warn(
    `\n*** scenario 12: the limit on open files is ${limit.toLocaleString('en-US')} and cannot be raised here (that needs CAP_SYS_RESOURCE: root outside a container, or docker run --ulimit nofile=200000:200000); measuring ${fit.toLocaleString('en-US')} connections instead of ${asked.toLocaleString('en-US')} ***\n`,
  );
  return fit;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

export const MANY_CONNECTIONS_SCENARIO: Scenario = {
  n: 12,
  title: '100,000 connections to one server process: memory, open and close times, nothing left',
  run: async (ctx: SuiteContext): Promise<Figure[]> => {
    const { manyConnections: asked, manyRuns: runs } = ctx.config;
    const count = connectionsThatFit(asked);
    const conns = count.toLocaleString('en-US');
    const label = `${conns} conns in one server process`;
    const rssTotalTargets: Target[] = count >= 100_000 ? [{ text: '< 1 GiB', absMax: 1024 }] : [];
    const rss = figure('12-rss', 12, `${label}: server RSS`, 'KiB/conn', 'lower', [AT_MOST_WS]);
    const heap = figure('12-heap', 12, `${label}: server JS heap`, 'KiB/conn', 'lower', [
      { text: '<= 1.5x ws', against: 'ws', max: 1.5 },
    ]);
    const total = figure(
      '12-rss-total',
      12,
      `${label}: server RSS`,
      'MiB',
      'lower',
      rssTotalTargets,
    );
    const open = figure('12-open', 12, `${label}: time to open them all`, 's', 'lower');
    const close = figure('12-close', 12, `${label}: time to close them all`, 's', 'lower');
    const figures = [rss, heap, total, open, close];
    const share = Math.ceil(count / CLIENTS);
    await rounds(ctx, runs, figures, VARIANTS, async (v, run) => {
      const workers: Worker[] = [];
      try {
        const server = await ctx.start(
          v,
          'server',
          { deflate: false, maxMessageSize: 64 * MiB, mode: 'echo', timerCensus: true },
          { openFiles: count + SPARE_FILES },
        );
        workers.push(server);
        checkOpenFiles(server, count);
        const clients: Worker[] = [];
        for (let i = 0; i < CLIENTS; i++) {
          const client = await ctx.start(v, 'client', undefined, {
            openFiles: share + SPARE_FILES,
          });
          workers.push(client);
          checkOpenFiles(client, share);
          clients.push(client);
        }
        const port = server.info.port as number;
        // What the server holds before its first connection (the listening server, the IPC
        // channel, node:http's timer...): what it must hold again after the last.
        const baseline = await server.request<ServerResidue>({ cmd: 'resources' }, 10_000);
        const settle = (n: number, timeoutMs: number) =>
          server.request<number>(
            { cmd: 'wait-connections', count: n, timeoutMs },
            timeoutMs + 10_000,
          );
        const openMany = (client: Worker, n: number, addresses: string[]) =>
          client.request<{ opened: number; seconds: number }>(
            {
              cmd: 'open-many',
              port,
              count: n,
              concurrency: OPEN_CONCURRENCY,
              localAddresses: addresses,
            },
            120_000 + n * 2,
          );
        const closeAll = (client: Worker) =>
          client.request<{ closed: number; seconds: number }>(
            { cmd: 'close-many', concurrency: CLOSE_CONCURRENCY },
            60_000 + share,
          );

        // Warm-up, then the memory the connections are measured from.
        await openMany(clients[0]!, WARMUP, ADDRESSES[0]!);
        await closeAll(clients[0]!);
        await settle(0, 30_000);
        const before = await server.request<MemoryFigures>({ cmd: 'memory' }, 60_000);

        const openStart = performance.now();
        const opened = await Promise.all(
          clients.map((c, i) => openMany(c, Math.min(share, count - i * share), ADDRESSES[i]!)),
        );
        await settle(count, 60_000);
        const openSeconds = (performance.now() - openStart) / 1000;
        const openedTotal = opened.reduce((sum, o) => sum + o.opened, 0);
        if (openedTotal !== count) throw new Error(`${openedTotal} of ${count} connections opened`);
        const at = await server.request<MemoryFigures>({ cmd: 'memory' }, 120_000);
        const full = await server.request<ServerResidue>({ cmd: 'resources' }, 30_000);
        if (full.held !== count || full.sockets !== count) {
          throw new Error(
            `the server holds ${full.held} connections on ${full.sockets} sockets, expected ${count}`,
          );
        }

        const echoed = await Promise.all(
          clients.map((c) =>
            c.request<number>({ cmd: 'echo-sample', every: SAMPLE_EVERY }, 60_000 + share),
          ),
        );
        const sample = echoed.reduce((sum, n) => sum + n, 0);

        const closeStart = performance.now();
        const closed = await Promise.all(clients.map(closeAll));
        await settle(0, 60_000);
        const closeSeconds = (performance.now() - closeStart) / 1000;
        const closedTotal = closed.reduce((sum, c) => sum + c.closed, 0);
        if (closedTotal !== count) throw new Error(`${closedTotal} of ${count} connections closed`);

        // Nothing left: connections, sockets, handles and timers, memory.
        const after = await server.request<MemoryFigures>({ cmd: 'memory' }, 120_000);
        const residue = await server.request<ServerResidue>({ cmd: 'resources' }, 10_000);
        const left: string[] = [];
        if (residue.connections !== 0) left.push(`${residue.connections} connections`);
        if (residue.held !== 0) left.push(`${residue.held} connections held by the library`);
        if (residue.sockets !== 0) left.push(`${residue.sockets} sockets on the HTTP server`);
        left.push(...resourceDiff(baseline.resources, residue.resources));
        if (residue.timers !== baseline.timers) {
          left.push(`timers (unref'd included): ${baseline.timers} -> ${residue.timers}`);
        }
        const grown = at.heapUsed - before.heapUsed;
        const heapLeft = after.heapUsed - before.heapUsed;
        const heapBound = Math.max(HEAP_RESIDUE_BYTES, HEAP_RESIDUE_FRACTION * grown);
        if (heapLeft > heapBound) {
          left.push(
            `JS heap ${mib(heapLeft)} above its start (${mib(grown)} at ${conns}; at most ${mib(heapBound)} may stay)`,
          );
        }
        if (left.length > 0) {
          throw new Error(`left in the server after every connection closed: ${left.join('; ')}`);
        }

        const perRss = (at.rss - before.rss) / count / 1024;
        const perHeap = grown / count / 1024;
        push(rss, v, perRss);
        push(heap, v, perHeap);
        push(total, v, at.rss / MiB);
        push(open, v, openSeconds);
        push(close, v, closeSeconds);
        pushExtra(rss, 'server RSS before (MiB)', v, before.rss / MiB);
        pushExtra(rss, 'server RSS after all closed (MiB)', v, after.rss / MiB);
        pushExtra(heap, 'server heap before (MiB)', v, before.heapUsed / MiB);
        pushExtra(heap, `server heap at ${count} (MiB)`, v, at.heapUsed / MiB);
        pushExtra(heap, 'server heap after all closed (MiB)', v, after.heapUsed / MiB);
        pushExtra(rss, 'external (KiB/conn)', v, (at.external - before.external) / count / 1024);
        pushExtra(open, 'echoes checked on a sample', v, sample);
        ctx.log(
          `  run ${run + 1}/${runs} ${v.padEnd(9)} ${conns} opened in ${openSeconds.toFixed(1)} s, closed in ${closeSeconds.toFixed(1)} s; server RSS ${mib(before.rss)} -> ${mib(at.rss)} (${perRss.toFixed(1)} KiB/conn) -> ${mib(after.rss)} after close; heap ${mib(before.heapUsed)} -> ${mib(at.heapUsed)} (${perHeap.toFixed(1)} KiB/conn) -> ${mib(after.heapUsed)}; ${sample} echoes checked; timers pending at full count ${full.timers}, before ${baseline.timers}; nothing left (resources: ${Object.entries(
            residue.resources,
          )
            .map(([k, n]) => `${k} ${n}`)
            .join(', ')}; timers ${residue.timers})`,
        );
      } finally {
        for (const w of workers.reverse()) await w.stop();
      }
    });
    return figures;
  },
};
