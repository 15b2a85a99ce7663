/**
 * Tools of the attack tests (test/attacks/): a well-behaved control client that keeps
 * echoing while an attack runs, to show that the server keeps serving others, and a
 * measurement of the server process's memory over the attack.
 */
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { type ChildMemory, mib, type ServerProcess } from './server-process.js';

/** Round trips of the control client during an attack. */
export interface ControlReport {
  roundTrips: number;
  /** Slowest round trip, in ms. */
  maxMs: number;
  /** Round trips that did not come back within the limit, or errors. */
  failures: string[];
}

/**
 * A client that echoes a small message every `everyMs` until stopped, each round trip
 * bounded by `limitMs`; what a normal user of the server sees during the attack.
 */
export async function startControlClient(
  port: number,
  everyMs = 50,
  limitMs = 2_000,
): Promise<{ stop(): Promise<ControlReport> }> {
  const ws: WebSocketConnection = await connect(`ws://127.0.0.1:${port}/`, {
    perMessageDeflate: false,
  });
  const report: ControlReport = { roundTrips: 0, maxMs: 0, failures: [] };
  let running = true;
  const loop = (async () => {
    let n = 0;
    while (running) {
      const message = `control ${n++}`;
      const started = Date.now();
      const echoed = await new Promise<string | undefined>((resolve) => {
        const timer = setTimeout(() => {
          ws.off('data', onData);
          resolve(undefined);
        }, limitMs);
        const onData = (chunk: string): void => {
          clearTimeout(timer);
          ws.off('data', onData);
          resolve(chunk);
        };
        ws.on('data', onData);
        ws.write(message);
      });
      const ms = Date.now() - started;
      if (echoed !== message) {
        report.failures.push(
          `round trip ${n}: ${echoed === undefined ? `no echo within ${limitMs} ms` : 'wrong echo'}`,
        );
        if (echoed === undefined) return;
      } else {
        report.roundTrips++;
        report.maxMs = Math.max(report.maxMs, ms);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop(): Promise<ControlReport> {
      running = false;
      await loop;
      ws.end();
      await new Promise<void>((resolve) => {
        if (ws.destroyed) resolve();
        else ws.once('close', () => resolve());
        setTimeout(resolve, 2_000).unref();
      });
      return report;
    },
  };
}

/** What an attack did to the server. */
export interface AttackMeasure<T> {
  result: T;
  /** Memory when the attack began (after a full GC). */
  before: ChildMemory;
  /** Peak during the attack. */
  peak: ChildMemory;
  /** Peak growth of the JavaScript heap plus Buffers, in bytes (the precise figure). */
  heldGrowth: number;
  /** Peak growth of the resident set, in bytes (includes what the allocator keeps). */
  rssGrowth: number;
  /** Growth of heap plus Buffers still held after the attack and a full GC: what leaked. */
  retainedGrowth: number;
  control: ControlReport;
  ms: number;
}

/** Runs an attack with a control client alongside, measuring the server's memory. */
export async function underAttack<T>(
  server: ServerProcess,
  attack: () => Promise<T>,
): Promise<AttackMeasure<T>> {
  const before = await server.gc();
  const control = await startControlClient(server.port);
  const started = Date.now();
  const result = await attack();
  const ms = Date.now() - started;
  const controlReport = await control.stop();
  const stats = await server.stats();
  // Retention is measured once the server has let go of the attack's sockets (at most 10 s).
  const settled = Date.now() + 10_000;
  while ((await server.stats()).sockets > 0 && Date.now() < settled) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await server.gc();
  const after = await server.gc();
  return {
    result,
    before,
    peak: stats.peak,
    heldGrowth: stats.peak.heap + stats.peak.external - before.heap - before.external,
    rssGrowth: stats.peak.rss - before.rss,
    retainedGrowth: after.heap + after.external - before.heap - before.external,
    control: controlReport,
    ms,
  };
}

/** One line of measurements for the test's output. */
export function describeMeasure(name: string, m: AttackMeasure<unknown>, extra: string): string {
  return (
    `${name}: ${extra}; server memory growth at peak: heap+buffers ${mib(m.heldGrowth)}, rss ${mib(m.rssGrowth)}, ` +
    `retained after GC ${mib(m.retainedGrowth)}; ` +
    `control client ${m.control.roundTrips} round trips, slowest ${m.control.maxMs} ms`
  );
}
