/**
 * An echo server in a process of its own, for the connection fuzzer and the attack tests:
 * what they measure (the server's memory, its open handles and timers, whether it survives)
 * must not be mixed with the attacker's. Started by server-process.ts with its options as
 * JSON in argv[2]; answers requests over IPC. Not a test file.
 *
 * Requests: { cmd: 'stats' } → memory now and peak since the last 'resetPeak', connection
 * and socket counts, active resources by kind, close codes seen; { cmd: 'resetPeak' };
 * { cmd: 'gc' }; { cmd: 'exit' }.
 */
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocketServerOptions } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';

/** The options the parent passes. */
export interface EchoServerConfig {
  server?: Omit<WebSocketServerOptions, 'httpServer'>;
  http?: {
    headersTimeout?: number;
    requestTimeout?: number;
    connectionsCheckingInterval?: number;
    maxHeaderSize?: number;
    keepAliveTimeout?: number;
  };
}

interface Request {
  cmd: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as EchoServerConfig;
const httpServer = http.createServer({ ...config.http }, (_req, res) => {
  res.writeHead(404).end();
});
if (config.http?.headersTimeout !== undefined)
  httpServer.headersTimeout = config.http.headersTimeout;
if (config.http?.requestTimeout !== undefined)
  httpServer.requestTimeout = config.http.requestTimeout;
if (config.http?.keepAliveTimeout !== undefined)
  httpServer.keepAliveTimeout = config.http.keepAliveTimeout;

const sockets = new Set<net.Socket>();
let socketsEver = 0;
httpServer.on('connection', (socket: net.Socket) => {
  sockets.add(socket);
  socketsEver++;
  socket.once('close', () => sockets.delete(socket));
});
const wss = new WebSocketServer({ autoAcceptConnections: true, ...config.server, httpServer });
const closeCodes: Record<string, number> = {};
const errors: Record<string, number> = {};
const upgradeErrors: Record<string, number> = {};
let accepted = 0;
wss.on('connect', (ws: WebSocketConnection) => {
  accepted++;
  ws.on('error', (err: Error & { code?: string }) => {
    const key = err.code ?? 'untyped';
    errors[key] = (errors[key] ?? 0) + 1;
  });
  ws.pipe(ws);
});
wss.on('close', (_ws: WebSocketConnection, code: number) => {
  closeCodes[code] = (closeCodes[code] ?? 0) + 1;
});
wss.on('upgradeError', (err: { code?: string; status?: number }) => {
  const key = `${err.status ?? '?'} ${err.code ?? '?'}`;
  upgradeErrors[key] = (upgradeErrors[key] ?? 0) + 1;
});

/** Memory of the process: RSS, and what JavaScript and Buffers hold. */
function memory(): { rss: number; heap: number; external: number } {
  const m = process.memoryUsage();
  // `external` already includes `arrayBuffers` (every Buffer): adding both would count twice.
  return { rss: m.rss, heap: m.heapUsed, external: m.external };
}

let peak = memory();
const sampler = setInterval(() => {
  const m = memory();
  peak = {
    rss: Math.max(peak.rss, m.rss),
    heap: Math.max(peak.heap, m.heap),
    external: Math.max(peak.external, m.external),
  };
}, 10);
sampler.unref();

function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

function stats(): unknown {
  return {
    memory: memory(),
    peak,
    connections: wss.connections.length,
    sockets: sockets.size,
    socketsEver,
    accepted,
    closeCodes,
    errors,
    upgradeErrors,
    resources: resources(),
  };
}

httpServer.listen({ port: 0, host: '127.0.0.1', backlog: 16_384 }, () => {
  const address = httpServer.address() as net.AddressInfo;
  process.send?.({ ready: true, port: address.port });
});

process.on('disconnect', () => process.exit(0));
process.on('message', (request: Request) => {
  switch (request.cmd) {
    case 'stats':
      process.send?.({ reply: stats() });
      return;
    case 'resetPeak':
      peak = memory();
      process.send?.({ reply: peak });
      return;
    case 'gc':
      (globalThis as { gc?: () => void }).gc?.();
      peak = memory();
      process.send?.({ reply: peak });
      return;
    case 'exit':
      process.exit(0);
  }
});
