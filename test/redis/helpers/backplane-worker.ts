/**
 * One process of a multi-process application, for the backplane tests: an HTTP server on a
 * free loopback port with a WebSocketServer and a backplane attached, driven by the test over
 * IPC (see backplane-process.ts). It never exits on a Redis failure: that is what the chaos
 * tests check.
 *
 * Argument: JSON of WorkerConfig.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BackplaneStats, createBackplane } from '../../../lib/redis/index.js';
import { WebSocketServer } from '../../../lib/server.js';

export interface WorkerConfig {
  redis: string | { nodes: string[] };
  prefix: string;
  presenceTtl?: number;
  reconnect?: { minDelay: number; maxDelay: number };
}

export type WorkerRequest =
  | { cmd: 'broadcast'; tag: string; count: number; size?: number }
  | { cmd: 'publish'; topic: string; tag: string; count: number; size?: number }
  | { cmd: 'join'; topic: string; count: number }
  | { cmd: 'size'; topic: string }
  | { cmd: 'stats' }
  | { cmd: 'start-stream'; tag: string; intervalMs: number; maxCount: number }
  | { cmd: 'stop-stream' };

export interface WorkerStats {
  stats: BackplaneStats;
  degraded: boolean;
  connections: number;
  open: number;
  closed: number;
  heapUsed: number;
  streamed: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const send = (message: unknown): void => {
  process.send?.(message);
};

const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ httpServer, autoAcceptConnections: true, keepalive: false });
let closed = 0;
wss.on('close', () => closed++);
const backplane = createBackplane({
  redis: config.redis,
  prefix: config.prefix,
  ...(config.presenceTtl === undefined ? {} : { presenceTtl: config.presenceTtl }),
  ...(config.reconnect === undefined ? {} : { reconnect: config.reconnect }),
});
backplane.attach(wss);
backplane.on('degraded', (err: Error & { reason: string }) =>
  send({ event: 'degraded', reason: err.reason, message: err.message, at: Date.now() }),
);
backplane.on('restored', (report) => send({ event: 'restored', report, at: Date.now() }));
backplane.on('error', (err: Error) => send({ event: 'error', message: err.message }));

let streamTimer: NodeJS.Timeout | undefined;
let streamed = 0;

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.cmd) {
    case 'broadcast': {
      let local = 0;
      const pad = request.size === undefined ? '' : ':'.padEnd(request.size, 'x');
      for (let i = 0; i < request.count; i++) {
        local += wss.broadcast(`${request.tag}:${i}${pad}`);
        // Let the sockets and Redis breathe in a long burst.
        if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
      }
      return local;
    }
    case 'publish': {
      const topic = backplane.topic(request.topic);
      const pad = request.size === undefined ? '' : ':'.padEnd(request.size, 'x');
      let local = 0;
      for (let i = 0; i < request.count; i++) {
        local += topic.publish(`${request.tag}:${i}${pad}`);
        if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
      }
      return local;
    }
    case 'join': {
      const topic = backplane.topic(request.topic);
      for (const ws of wss.connections.slice(0, request.count)) topic.add(ws);
      await backplane.whenSubscribed();
      return topic.localSize;
    }
    case 'size':
      return backplane.topic(request.topic).size();
    case 'stats':
      return {
        stats: backplane.stats,
        degraded: backplane.isDegraded,
        connections: wss.connections.length,
        open: wss.connections.filter((ws) => ws.isOpen).length,
        closed,
        heapUsed: process.memoryUsage().heapUsed,
        streamed,
      } satisfies WorkerStats;
    case 'start-stream': {
      clearInterval(streamTimer);
      streamed = 0;
      streamTimer = setInterval(() => {
        if (streamed >= request.maxCount) return clearInterval(streamTimer);
        wss.broadcast(`${request.tag}:${streamed++}`);
      }, request.intervalMs);
      return 0;
    }
    case 'stop-stream':
      clearInterval(streamTimer);
      return streamed;
  }
}

process.on('message', (message: { id: number; request: WorkerRequest | { cmd: 'exit' } }) => {
  if (message.request.cmd === 'exit') {
    clearInterval(streamTimer);
    void backplane.close().finally(() => process.exit(0));
    return;
  }
  handle(message.request).then(
    (value) => send({ id: message.id, ok: true, value }),
    (err: unknown) =>
      send({ id: message.id, ok: false, error: String((err as Error).stack ?? err) }),
  );
});
process.on('disconnect', () => process.exit(0));

httpServer.listen(0, '127.0.0.1');
await once(httpServer, 'listening');
await backplane.ready();
await backplane.whenSubscribed();
send({ event: 'ready', port: (httpServer.address() as AddressInfo).port, id: backplane.id });
