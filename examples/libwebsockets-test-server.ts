/**
 * The demo (`npm start`): a server compatible with libwebsockets' test server, as
 * WebSocket-Node's libwebsockets-test-server.js is, built on a WebSocketRouter:
 *
 * - dumb-increment-protocol and lws-mirror-protocol on every path (see lws-protocols.ts),
 *   so that libwebsockets-test-client and lws' own test page can talk to it;
 * - an echo endpoint at /echo, any protocol or none (text comes back as text, binary as
 *   binary: the connection is piped into itself);
 * - a browser page at / that shows the counter, with a reset button, and a canvas that
 *   draws the mirror.
 *
 * Run: node --import tsx examples/libwebsockets-test-server.ts [--port=8080] [--host=127.0.0.1]
 * (PORT and HOST work too; port 0 picks a free one, printed on start.)
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketRouter } from '../lib/router.js';
import { WebSocketServer } from '../lib/server.js';
import { mountLwsProtocols } from './lws-protocols.js';

const { values } = parseArgs({
  options: { port: { type: 'string' }, host: { type: 'string' } },
});
const port = Number(values.port ?? process.env.PORT ?? 8080);
const host = values.host ?? process.env.HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Invalid port: ${values.port ?? process.env.PORT}`);
  process.exit(2);
}

const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

/** The page's files: a fixed list, so that no request path ever reaches the file system. */
const PUBLIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
};

const httpServer = http.createServer(async (request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const entry = PUBLIC[path];
  if (entry === undefined || (request.method !== 'GET' && request.method !== 'HEAD')) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    return;
  }
  try {
    const body = await readFile(new URL(`./public/${entry.file}`, import.meta.url));
    response.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-cache' });
    response.end(request.method === 'HEAD' ? undefined : body);
  } catch (err) {
    log(`cannot serve ${path}: ${(err as Error).message}`);
    response.writeHead(500).end();
  }
});

// Small messages only: counters, drawing commands, echoes. Anything bigger is refused (1009).
const wsServer = new WebSocketServer({ httpServer, maxReceivedMessageSize: 1024 * 1024 });
const router = new WebSocketRouter({ server: wsServer });

// Mounted first, so that /echo wins whatever protocol the client offers.
router.mount('/echo', '*', (request) => {
  const connection = request.accept(request.origin);
  log(`echo connection accepted from ${connection.remoteAddress}`);
  connection.pipe(connection);
});
mountLwsProtocols(router, { log });

httpServer.listen(port, host, () => {
  const address = httpServer.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log(`Server is listening on http://${shown}:${address.port}/`);
  log('Protocols: dumb-increment-protocol, lws-mirror-protocol (any path); echo at /echo');
});
httpServer.on('error', (err) => {
  console.error(`Cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second signal: do not wait
    stopping = true;
    log(`${signal}: closing connections`);
    httpServer.close();
    wsServer.shutDown({ gracePeriod: 2_000 }).then(() => process.exit(0));
  });
}
