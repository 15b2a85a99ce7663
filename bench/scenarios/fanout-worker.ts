/**
 * The processes of the fan-out scenario (bench/scenarios/fanout.ts), in three roles:
 *
 * - primary (--role=primary): a node:cluster primary driven by bench/run.ts over IPC; it
 *   forks N workers sharing one port (connections spread by the cluster's round robin) and
 *   relays the runner's commands to them.
 * - worker (forked by the primary): an HTTP server with a WebSocketServer; with a Redis URL
 *   it attaches a backplane, so that a broadcast from worker 1 reaches every worker's
 *   connections; without one (a single worker) it broadcasts locally only.
 * - client (--role=client): opens the connections and measures, for each broadcast, when
 *   each connection got it (process.hrtime, the same clock in every process of the machine).
 *
 * Like worker.ts this file is bundled to plain JavaScript by bench/run.ts (the library with
 * it, from source, one copy; `redis` stays a package), so that tsx never runs in a measurement.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, WebSocketServer } from '../../lib/index.js';
import { createBackplane } from '../../lib/redis/index.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { serveRequests, type WorkerRequest } from '../lib/child.js';

/** What a client measured over a phase. */
export interface FanoutMeasurement {
  /** Deliveries counted (connections x broadcasts). */
  deliveries: number;
  /** Per-delivery latency, send to receipt, ms: median and 99th percentile. */
  latencyP50: number;
  latencyP99: number;
  /** Per-broadcast delivery time (send to the last connection's receipt), ms: median, p99. */
  deliveryP50: number;
  deliveryP99: number;
  /** From the first send to the last receipt, s. */
  seconds: number;
  /**
   * Per broadcast, the first receipt on worker 2's connections minus the first on worker 1's
   * (the publisher): the hop through Redis, ms, median and 99th percentile (NaN with one worker).
   */
  hopP50: number;
  hopP99: number;
  /** CPU of the client process over the phase, ms. */
  clientCpuMs: number;
}

const HEADER = 16; // u32 id, u32 zero, u64 send time (ns)
const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7) ?? process.env.FANOUT_ROLE;

const now = (): bigint => process.hrtime.bigint();

/** A message of `size` bytes (at least 16) carrying its id and send time. */
function makeMessage(id: number, size: number, binary: boolean): string | Buffer {
  const bytes = Buffer.alloc(Math.max(HEADER, size), 0x61);
  bytes.writeUInt32BE(id, 0);
  bytes.writeBigUInt64BE(now(), 8);
  if (!binary) {
    // Text: the id and time as 24 hex digits, padded to the size.
    const hex =
      bytes.subarray(0, HEADER).toString('hex').slice(0, 8) + bytes.subarray(8, 16).toString('hex');
    return hex.padEnd(Math.max(size, hex.length), 'a');
  }
  return bytes;
}

function readMessage(message: string | Buffer): { id: number; sent: bigint } {
  if (typeof message === 'string') {
    return {
      id: Number.parseInt(message.slice(0, 8), 16),
      sent: BigInt(`0x${message.slice(8, 24)}`),
    };
  }
  return { id: message.readUInt32BE(0), sent: message.readBigUInt64BE(8) };
}

// ---------------------------------------------------------------------------- worker

async function runWorker(): Promise<void> {
  const redisUrl = process.env.FANOUT_REDIS ?? '';
  const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ httpServer, autoAcceptConnections: true, keepalive: false });
  const backplane =
    redisUrl === ''
      ? undefined
      : createBackplane({
          redis: redisUrl,
          prefix: `bench${process.env.FANOUT_RUN}`,
          maxPendingPublishes: 4096,
        });
  backplane?.attach(wss);
  // Tells each client which worker holds it (not hex, so never taken for a message).
  wss.on('connect', (ws) => ws.write(`W${process.env.FANOUT_WORKER}`));
  process.on('message', (m: { cmd: string; id?: number; size?: number; binary?: boolean }) => {
    if (m.cmd === 'broadcast') wss.broadcast(makeMessage(m.id!, m.size!, m.binary!));
    else if (m.cmd === 'report') {
      const cpu = process.cpuUsage();
      process.send?.({
        report: true,
        cpuMs: (cpu.user + cpu.system) / 1000,
        connections: wss.connections.length,
        dropped: backplane?.stats.dropped ?? 0,
      });
    }
  });
  if (backplane !== undefined) {
    await backplane.ready();
    await backplane.whenSubscribed();
  }
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  process.send?.({ listening: (httpServer.address() as AddressInfo).port });
}

// ---------------------------------------------------------------------------- primary

async function runPrimary(): Promise<void> {
  let workers: ClusterWorker[] = [];
  const report = async (): Promise<{ cpuMs: number; connections: number[]; dropped: number }> => {
    const answers = await Promise.all(
      workers.map(
        (w) =>
          new Promise<{ cpuMs: number; connections: number; dropped: number }>((resolve) => {
            const onMessage = (m: {
              report?: boolean;
              cpuMs: number;
              connections: number;
              dropped: number;
            }) => {
              if (m.report !== true) return;
              w.off('message', onMessage);
              resolve(m);
            };
            w.on('message', onMessage);
            w.send({ cmd: 'report' });
          }),
      ),
    );
    return {
      cpuMs: answers.reduce((sum, a) => sum + a.cpuMs, 0),
      connections: answers.map((a) => a.connections),
      dropped: answers.reduce((sum, a) => sum + a.dropped, 0),
    };
  };
  serveRequests({ pid: process.pid }, async (request: WorkerRequest) => {
    switch (request.cmd) {
      case 'start': {
        const count = request.workers as number;
        workers = [];
        const ports = new Set<number>();
        for (let i = 0; i < count; i++) {
          // Every worker listens on port 0: the cluster gives them all the same port.
          const worker = cluster.fork({
            FANOUT_ROLE: 'worker',
            FANOUT_REDIS: (request.redis as string | null) ?? '',
            FANOUT_RUN: String(request.run),
            FANOUT_WORKER: String(i + 1),
          });
          workers.push(worker);
          const [message] = (await once(worker, 'message')) as [{ listening: number }];
          ports.add(message.listening);
        }
        if (ports.size !== 1) throw new Error(`workers listen on ${[...ports].join(', ')}`);
        return [...ports][0]!;
      }
      case 'broadcast':
        workers[0]!.send({
          cmd: 'broadcast',
          id: request.id,
          size: request.size,
          binary: request.binary,
        });
        return null;
      case 'report':
        return report();
      case 'stop':
        for (const w of workers) w.process.kill('SIGKILL');
        workers = [];
        return null;
      default:
        throw new Error(`unknown command ${request.cmd}`);
    }
  });
}

// ---------------------------------------------------------------------------- client

async function runClient(): Promise<void> {
  let connections: WebSocketConnection[] = [];
  const delivered = new Map<
    number,
    { count: number; last: bigint; sent: bigint; first: Map<number, bigint> }
  >();
  const workerOf = new Map<WebSocketConnection, number>();
  const waiters = new Map<number, () => void>();
  let latencies = new Float64Array(1 << 20);
  let samples = 0;
  let expected = 0;

  const onMessage = (ws: WebSocketConnection, message: string | Buffer): void => {
    const at = now();
    if (typeof message === 'string' && message.startsWith('W')) {
      workerOf.set(ws, Number(message.slice(1)));
      return;
    }
    const { id, sent } = readMessage(message);
    if (samples === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[samples++] = Number(at - sent) / 1e6;
    const entry = delivered.get(id) ?? { count: 0, last: 0n, sent, first: new Map() };
    entry.count++;
    entry.last = at;
    const worker = workerOf.get(ws) ?? 0;
    if (!entry.first.has(worker)) entry.first.set(worker, at);
    delivered.set(id, entry);
    if (entry.count === expected) waiters.get(id)?.();
  };

  serveRequests({ pid: process.pid }, async (request: WorkerRequest) => {
    switch (request.cmd) {
      case 'open': {
        const count = request.count as number;
        const port = request.port as number;
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < count) {
            next++;
            const ws = await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 30_000 });
            ws.on('data', (message: string | Buffer) => onMessage(ws, message));
            ws.on('error', () => {});
            connections.push(ws);
          }
        };
        await Promise.all(Array.from({ length: 100 }, lane));
        expected = connections.length;
        // Wait for every connection's welcome (which worker holds it), at most 30 s.
        const deadline = Date.now() + 30_000;
        while (workerOf.size < expected && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return connections.length;
      }
      case 'reset':
        delivered.clear();
        samples = 0;
        return process.cpuUsage();
      case 'wait': {
        const id = request.id as number;
        if ((delivered.get(id)?.count ?? 0) >= expected) return null;
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(id);
            reject(
              new Error(
                `broadcast ${id}: ${delivered.get(id)?.count ?? 0} of ${expected} delivered in 60 s`,
              ),
            );
          }, 60_000);
          waiters.set(id, () => {
            clearTimeout(timer);
            waiters.delete(id);
            resolve();
          });
        });
        return null;
      }
      case 'measure': {
        const cpuBefore = request.cpu as NodeJS.CpuUsage;
        const cpu = process.cpuUsage(cpuBefore);
        const sorted = latencies.subarray(0, samples).sort();
        const times = [...delivered.values()]
          .map((d) => Number(d.last - d.sent) / 1e6)
          .sort((a, b) => a - b);
        const first = [...delivered.values()].reduce(
          (m, d) => (d.sent < m ? d.sent : m),
          BigInt(Number.MAX_SAFE_INTEGER) * 1000n,
        );
        const last = [...delivered.values()].reduce((m, d) => (d.last > m ? d.last : m), 0n);
        const hops = [...delivered.values()]
          .filter((d) => d.first.has(1) && d.first.has(2))
          .map((d) => Number(d.first.get(2)! - d.first.get(1)!) / 1e6)
          .sort((a, b) => a - b);
        const pick = (values: ArrayLike<number>, q: number) =>
          values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? Number.NaN;
        return {
          deliveries: samples,
          latencyP50: pick(sorted, 0.5),
          latencyP99: pick(sorted, 0.99),
          deliveryP50: pick(times, 0.5),
          deliveryP99: pick(times, 0.99),
          seconds: Number(last - first) / 1e9,
          clientCpuMs: (cpu.user + cpu.system) / 1000,
          hopP50: pick(hops, 0.5),
          hopP99: pick(hops, 0.99),
        } satisfies FanoutMeasurement;
      }
      case 'close':
        for (const ws of connections) ws.terminate();
        connections = [];
        return null;
      default:
        throw new Error(`unknown command ${request.cmd}`);
    }
  });
}

if (cluster.isWorker) await runWorker();
else if (role === 'primary') await runPrimary();
else if (role === 'client') await runClient();
else throw new Error('fanout-worker: --role=primary or --role=client');
