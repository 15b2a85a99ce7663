/**
 * The processes of the HTTP/2 scenario (bench/scenarios/http2.ts), in two roles:
 *
 * - server (--role=server): one secure node:http2 server with `allowHTTP1: true` and a
 *   WebSocketServer given `http2Server`, echoing with `ws.pipe(ws)`: the same server takes
 *   WebSockets as HTTP/2 streams and as HTTP/1.1 upgrades, so that both transports are
 *   measured against the same code.
 * - client (--role=client): opens N WebSockets, either all on one HTTP/2 session
 *   (`http2: 'require'`) or each on its own TLS connection (`http2: false`), and measures
 *   the time to open them, its memory per WebSocket, and the echo rate.
 *
 * Like worker.ts, this file is bundled to plain JavaScript by bench/run.ts (the library
 * with it, from source), so that tsx never runs in a measurement.
 */
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect, WebSocketServer } from '../../lib/index.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { serveRequests, type WorkerRequest } from '../lib/child.js';

/** Memory of a process after garbage collection, in bytes. */
export interface Http2Memory {
  heapUsed: number;
  rss: number;
  external: number;
  connections: number;
}

/** What an echo phase measured. */
export interface Http2EchoResult {
  messages: number;
  seconds: number;
  /** CPU time of the client process over the measured phase, ms. */
  clientCpuMs: number;
}

const role = process.argv.find((a) => a.startsWith('--role='))?.slice(7);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function memory(connections: number): Promise<Http2Memory> {
  for (let i = 0; i < 4; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await sleep(50);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, connections };
}

async function runServer(): Promise<void> {
  let server: http2.Http2SecureServer | undefined;
  let wss: WebSocketServer | undefined;
  serveRequests({ pid: process.pid }, async (request: WorkerRequest) => {
    switch (request.cmd) {
      case 'start': {
        server = http2.createSecureServer({
          cert: request.cert as string,
          key: request.key as string,
          allowHTTP1: true,
        });
        server.on('session', (session) => session.on('error', () => {}));
        wss = new WebSocketServer({
          http2Server: server,
          autoAcceptConnections: true,
          keepalive: false,
        });
        wss.on('connect', (ws) => ws.pipe(ws));
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        return (server.address() as AddressInfo).port;
      }
      case 'memory':
        return memory(wss?.connections.length ?? 0);
      case 'stop':
        await wss?.shutDown({ gracePeriod: 1_000 });
        server?.close();
        return null;
      default:
        throw new Error(`unknown command ${request.cmd}`);
    }
  });
}

async function runClient(): Promise<void> {
  let sockets: WebSocketConnection[] = [];
  serveRequests({ pid: process.pid }, async (request: WorkerRequest) => {
    switch (request.cmd) {
      case 'memory':
        return memory(sockets.length);
      case 'open': {
        const count = request.count as number;
        const options = {
          ca: request.ca as string,
          http2: request.mode === 'h2' ? ('require' as const) : false,
          handshakeTimeout: 60_000,
          keepalive: false,
        };
        const url = `wss://localhost:${request.port as number}/`;
        const started = performance.now();
        sockets = await Promise.all(Array.from({ length: count }, () => connect(url, options)));
        const ms = performance.now() - started;
        for (const ws of sockets) ws.on('error', () => {});
        return ms;
      }
      case 'echo': {
        const size = request.size as number;
        const warmupMs = request.warmupMs as number;
        const durationMs = request.durationMs as number;
        const payload = size <= 125 ? 'x'.repeat(size) : Buffer.alloc(size, 0x61);
        let counting = false;
        let stopped = false;
        let messages = 0;
        const listeners = sockets.map((ws) => {
          const onData = (): void => {
            if (counting) messages++;
            if (!stopped) ws.write(payload);
          };
          ws.on('data', onData);
          return onData;
        });
        // One message in flight per WebSocket, answered as soon as its echo arrives.
        for (const ws of sockets) ws.write(payload);
        await sleep(warmupMs);
        counting = true;
        const cpu = process.cpuUsage();
        const started = performance.now();
        await sleep(durationMs);
        counting = false;
        const seconds = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        stopped = true;
        await sleep(200); // the messages in flight come back and are not answered
        for (const [i, ws] of sockets.entries()) ws.removeListener('data', listeners[i]!);
        const result: Http2EchoResult = {
          messages,
          seconds,
          clientCpuMs: (used.user + used.system) / 1000,
        };
        return result;
      }
      case 'close': {
        const closed = sockets.map(
          (ws) =>
            new Promise<void>((resolve) =>
              ws.closed ? resolve() : ws.once('close', () => resolve()),
            ),
        );
        for (const ws of sockets) ws.end();
        await Promise.race([Promise.all(closed), sleep(30_000)]);
        sockets = [];
        return null;
      }
      default:
        throw new Error(`unknown command ${request.cmd}`);
    }
  });
}

if (role === 'server') await runServer();
else if (role === 'client') await runClient();
else throw new Error('--role=server|client');
