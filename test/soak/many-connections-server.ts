/**
 * The server of the many-connections soak (many-connections.test.ts), in a process of its
 * own so that what it holds (connections, sockets, handles, timers, memory) is measured
 * apart from the 10,000 clients. An echo server as users write it: `new WebSocketServer({
 * httpServer, autoAcceptConnections: true })` with its defaults (keepalive on) and
 * `ws.pipe(ws)`. Not a test file.
 *
 * It counts every pending timer, unref'd ones included (the global timer functions are
 * wrapped before the library runs): process.getActiveResourcesInfo() lists only the timers
 * that keep the process alive, and the keepalive sweep is unref'd.
 *
 * Requests over IPC: { cmd: 'stats' } → connections (counted by 'connect'/'close', held by
 * the server, sockets of the HTTP server), active resources by kind, pending timers, memory,
 * error codes; { cmd: 'gc' } → memory after a few full collections; { cmd: 'exit' }.
 */
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer } from '../../lib/server.js';

const live = new Set<unknown>();
const { setTimeout: setTimeoutOriginal, setInterval: setIntervalOriginal } = globalThis;
const { clearTimeout: clearTimeoutOriginal, clearInterval: clearIntervalOriginal } = globalThis;
Object.assign(globalThis, {
  setTimeout: Object.assign(
    (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      const timer = setTimeoutOriginal(
        (...callArgs: unknown[]) => {
          live.delete(timer);
          callback(...callArgs);
        },
        ms,
        ...args,
      );
      live.add(timer);
      return timer;
    },
    setTimeoutOriginal,
  ),
  setInterval: (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = setIntervalOriginal(callback, ms, ...args);
    live.add(timer);
    return timer;
  },
  clearTimeout: (timer?: Parameters<typeof clearTimeout>[0]) => {
    live.delete(timer);
    clearTimeoutOriginal(timer);
  },
  clearInterval: (timer?: Parameters<typeof clearInterval>[0]) => {
    live.delete(timer);
    clearIntervalOriginal(timer);
  },
});
// Node's net.Socket#_destroy reads process.stderr, which creates its handle (a PipeWrap) on
// first access: created now, it is in every listing of the active resources.
void process.stderr;

const httpServer = http.createServer((_request, response) => response.writeHead(404).end());
const wss = new WebSocketServer({ httpServer, autoAcceptConnections: true });
let open = 0;
const errors: Record<string, number> = {};
wss.on('connect', (ws) => {
  open++;
  ws.once('close', () => open--);
  ws.on('error', (err: Error & { code?: string }) => {
    const key = err.code ?? 'untyped';
    errors[key] = (errors[key] ?? 0) + 1;
  });
  ws.pipe(ws);
});

function memory(): { rss: number; heap: number } {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

async function stats(): Promise<unknown> {
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const sockets = await new Promise<number>((resolve, reject) =>
    httpServer.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );
  return {
    connections: open,
    held: wss.connections.length,
    sockets,
    resources,
    timers: live.size,
    memory: memory(),
    errors,
  };
}

async function collect(): Promise<unknown> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return memory();
}

httpServer.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
  process.send?.({ port: (httpServer.address() as net.AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
process.on('message', (request: { cmd: string }) => {
  if (request.cmd === 'exit') process.exit(0);
  const reply = request.cmd === 'gc' ? collect() : stats();
  reply.then((value) => process.send?.({ reply: value }));
});
