/**
 * Scenario 9 of `npm run bench`: fan-out across processes. A broadcast of a 64 B text or a
 * 16 KiB binary message to 10,000 connections (2,000 with --quick), held either by one
 * process without Redis, or by two node:cluster workers sharing the port (the cluster's
 * round robin spreads the connections) joined by the Redis backplane (websocket-duplex/redis,
 * a redis-server started for the run). Worker 1 broadcasts; the client process measures when
 * every connection got each message.
 *
 * Two phases per setting: one broadcast at a time (the delivery time of a broadcast to every
 * connection, and each delivery's latency), then 8 in flight (deliveries per second: how
 * throughput grows with a second core). CPU per delivered message counts the server
 * processes and redis-server (from /proc), the client's apart.
 *
 * Figures are ours only (ws has no backplane): `1p` one process, `2p` two processes + Redis.
 * What Redis adds to the latency is measured directly, per broadcast: the first receipt on
 * worker 2's connections minus the first on worker 1's (the publisher's, which delivers
 * without Redis), since the latency of all deliveries is dominated by the fan-out itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { startWorker, type Worker } from '../lib/child.js';
import { formatNumber } from '../lib/stats.js';
import type { Figure } from '../lib/suite-results.js';
import type { FanoutMeasurement } from './fanout-worker.js';
import type { Scenario, SuiteContext } from './suite.js';

interface Setting {
  key: '1p' | '2p';
  title: string;
  workers: number;
  redis: boolean;
}

const SETTINGS: readonly Setting[] = [
  { key: '1p', title: '1 process, no Redis', workers: 1, redis: false },
  { key: '2p', title: '2 processes + Redis', workers: 2, redis: true },
];

const SIZES = [
  {
    name: '64',
    label: '64 B text',
    size: 64,
    binary: false,
    latencyCount: 40,
    throughputCount: 120,
  },
  {
    name: '16k',
    label: '16 KiB binary',
    size: 16 * 1024,
    binary: true,
    latencyCount: 8,
    throughputCount: 24,
  },
] as const;

const WINDOW = 8;

function figure(id: string, label: string, unit: string, better: 'higher' | 'lower'): Figure {
  return { id, scenario: 9, label, unit, better, values: {}, missing: {}, targets: [], extra: {} };
}

function push(f: Figure, value: number): void {
  const values = f.values.ours ?? [];
  values.push(Number(value.toPrecision(6)));
  f.values.ours = values;
  f.missing.ws = 'not possible: ws has no backplane (and one process has no Redis to compare)';
}

function pushExtra(f: Figure, name: string, value: number): void {
  const byVariant = f.extra[name] ?? {};
  byVariant.ours = [...(byVariant.ours ?? []), Number(value.toPrecision(6))];
  f.extra[name] = byVariant;
}

/** CPU time (ms) of a process from /proc (for redis-server, which we did not start through IPC). */
function procCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15)
    return (ticks * 1000) / 100; // USER_HZ = 100 on Linux
  } catch {
    return 0;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not start (apt-get install redis-server)');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `redis://127.0.0.1:${port}` };
}

/** Broadcasts `count` messages, `window` at a time, and returns what the client measured. */
async function phase(
  primary: Worker,
  client: Worker,
  firstId: number,
  count: number,
  window: number,
  size: (typeof SIZES)[number],
): Promise<FanoutMeasurement> {
  const cpu = await client.request<NodeJS.CpuUsage>({ cmd: 'reset' }, 10_000);
  const send = (id: number) =>
    primary.request({ cmd: 'broadcast', id, size: size.size, binary: size.binary }, 10_000);
  let sent = 0;
  while (sent < Math.min(window, count)) await send(firstId + sent++);
  for (let done = 0; done < count; done++) {
    await client.request({ cmd: 'wait', id: firstId + done }, 70_000);
    if (sent < count) await send(firstId + sent++);
  }
  return client.request<FanoutMeasurement>({ cmd: 'measure', cpu }, 30_000);
}

export const FANOUT_SCENARIO: Scenario = {
  n: 9,
  title: 'fan-out across processes: 1 process vs 2 node:cluster workers joined by Redis',
  run: async (ctx: SuiteContext): Promise<Figure[]> => {
    const quick = ctx.config.idleConnections < 5000;
    const connections = quick ? 2_000 : 10_000;
    const runs = ctx.config.heavyRuns;
    const figures = new Map<string, Figure>();
    const get = (id: string, label: string, unit: string, better: 'higher' | 'lower') => {
      let f = figures.get(id);
      if (f === undefined) {
        f = figure(id, label, unit, better);
        figures.set(id, f);
      }
      return f;
    };
    const script = ctx.config.workerScript.replace(/worker\.mjs$/, 'fanout-worker.mjs');
    for (let run = 0; run < runs; run++) {
      for (const setting of run % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) {
        const redis = setting.redis ? await startRedis() : undefined;
        let primary: Worker | undefined;
        let client: Worker | undefined;
        try {
          primary = await startWorker(`fanout primary ${setting.key}`, script, ['--role=primary']);
          client = await startWorker(`fanout client ${setting.key}`, script, ['--role=client']);
          const port = await primary.request<number>(
            { cmd: 'start', workers: setting.workers, redis: redis?.url ?? null, run },
            30_000,
          );
          const opened = await client.request<number>(
            { cmd: 'open', port, count: connections },
            180_000,
          );
          const spread = (
            await primary.request<{ connections: number[] }>({ cmd: 'report' }, 10_000)
          ).connections;
          let id = 0;
          for (const size of SIZES) {
            const serverBefore = await primary.request<{ cpuMs: number }>(
              { cmd: 'report' },
              10_000,
            );
            const redisBefore = procCpuMs(redis?.child.pid);
            const latency = await phase(primary, client, id, size.latencyCount, 1, size);
            id += size.latencyCount;
            const throughput = await phase(primary, client, id, size.throughputCount, WINDOW, size);
            id += size.throughputCount;
            const serverAfter = await primary.request<{ cpuMs: number; dropped: number }>(
              { cmd: 'report' },
              10_000,
            );
            if (serverAfter.dropped > 0)
              throw new Error(`${serverAfter.dropped} publishes dropped by the backplane`);
            const deliveries = latency.deliveries + throughput.deliveries;
            const serverCpuMs =
              serverAfter.cpuMs - serverBefore.cpuMs + procCpuMs(redis?.child.pid) - redisBefore;
            const name = `${size.label} to ${connections.toLocaleString('en-US')} conns, ${setting.title}`;
            const base = `9-${size.name}-${setting.key}`;
            push(
              get(`${base}-rate`, `${name}: deliveries, ${WINDOW} in flight`, 'msg/s', 'higher'),
              throughput.deliveries / throughput.seconds,
            );
            push(
              get(`${base}-time`, `${name}: delivery time of a broadcast (median)`, 'ms', 'lower'),
              latency.deliveryP50,
            );
            push(get(`${base}-p50`, `${name}: latency p50`, 'ms', 'lower'), latency.latencyP50);
            push(get(`${base}-p99`, `${name}: latency p99`, 'ms', 'lower'), latency.latencyP99);
            if (setting.workers > 1) {
              const hop = `${size.label}: latency added by Redis (first delivery on worker 2 minus on worker 1, the publisher)`;
              push(get(`9-${size.name}-hop-p50`, `${hop}, p50`, 'ms', 'lower'), latency.hopP50);
              push(get(`9-${size.name}-hop-p99`, `${hop}, p99`, 'ms', 'lower'), latency.hopP99);
            }
            push(
              get(`${base}-cpu`, `${name}: server CPU per delivery`, 'µs', 'lower'),
              (serverCpuMs * 1000) / deliveries,
            );
            const rate = figures.get(`${base}-rate`)!;
            pushExtra(
              rate,
              'client CPU per delivery (µs)',
              ((latency.clientCpuMs + throughput.clientCpuMs) * 1000) / deliveries,
            );
            pushExtra(rate, 'broadcast delivery time p99 (ms)', latency.deliveryP99);
            for (const [i, n] of spread.entries())
              pushExtra(rate, `connections on worker ${i + 1}`, n);
            ctx.log(
              `  run ${run + 1}/${runs} ${setting.key} ${size.label}: ${opened} conns (${spread.join('+')}), ${formatNumber(throughput.deliveries / throughput.seconds)} deliveries/s, broadcast delivered in ${latency.deliveryP50.toFixed(1)} ms (p99 ${latency.deliveryP99.toFixed(1)}), latency p50 ${latency.latencyP50.toFixed(1)} ms p99 ${latency.latencyP99.toFixed(1)} ms, server CPU ${((serverCpuMs * 1000) / deliveries).toFixed(2)} µs/delivery`,
            );
          }
          await client.request({ cmd: 'close' }, 60_000);
          await primary.request({ cmd: 'stop' }, 10_000);
        } finally {
          await client?.stop();
          await primary?.stop();
          redis?.child.kill('SIGKILL');
        }
      }
    }
    // How throughput grows with a second process (and core) through Redis, paired per run.
    const all = [...figures.values()];
    for (const size of SIZES) {
      const one = figures.get(`9-${size.name}-1p-rate`)?.values.ours ?? [];
      const two = figures.get(`9-${size.name}-2p-rate`)?.values.ours ?? [];
      const ratio = figure(
        `9-${size.name}-scale`,
        `${size.label}: deliveries/s, 2 processes + Redis / 1 process`,
        'x',
        'higher',
      );
      for (const [i, v] of one.entries()) if (two[i] !== undefined) push(ratio, two[i]! / v);
      all.push(ratio);
    }
    return all;
  },
};
