import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { acceptValue } from '../../lib/protocol/handshake.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { within } from '../helpers/peers.js';

/**
 * The server every web-API test talks to: our WebSocketServer for the ordinary paths, and a
 * few hand-written peers for what a correct server never does (an empty Close, bad UTF-8, a
 * dropped TCP connection). The path picks the scenario, so that a script run in a browser,
 * in Node with our classes and in Node with undici's needs nothing but a URL.
 *
 * | path                  | behaviour                                                                  |
 * | --------------------- | -------------------------------------------------------------------------- |
 * | `/echo`               | echoes every message with its type; picks 'echo-protocol' when offered      |
 * | `/greet-and-close`    | sends 'hello', the bytes 1 2 3, then closes with 4001 'server bye'          |
 * | `/sink`               | reads nothing until the test does (`accepted`): the client's sends back up   |
 * | `/deflate`            | echoes, with permessage-deflate accepted                                   |
 * | `/raw/empty-close`    | sends 'x' then a Close without a body; ends TCP once the client answers     |
 * | `/raw/invalid-utf8`   | sends a text frame of bytes FF FE (invalid UTF-8)                          |
 * | `/raw/drop`           | sends 'bye' then drops TCP with no closing handshake                        |
 * | `/raw/no-protocol`    | a valid 101 that names no subprotocol, whatever was offered                 |
 * | `/refuse`             | answers the upgrade with 403                                               |
 *
 * GET / serves a blank page (the origin the browser runs its script from).
 */
export interface ScenarioServer {
  port: number;
  /** ws://127.0.0.1:PORT */
  base: string;
  /** Connections our WebSocketServer accepted, in order. */
  accepted: WebSocketConnection[];
  /** Request headers of every upgrade, in order. */
  upgrades: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function startScenarioServer(): Promise<ScenarioServer> {
  const sockets = new Set<Socket>();
  const httpServer = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end('<!doctype html><html><head><meta charset="utf-8"><title>web</title></head></html>');
      return;
    }
    res.writeHead(404).end();
  });
  httpServer.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ noServer: true });
  const deflating = new WebSocketServer({ noServer: true, perMessageDeflate: true });
  const accepted: WebSocketConnection[] = [];
  const upgrades: http.IncomingHttpHeaders[] = [];
  deflating.on('request', (request) => {
    const connection = request.accept();
    accepted.push(connection);
    connection.on('data', (message: string | Buffer) => connection.write(message));
  });
  wss.on('request', (request) => {
    const path = request.resource.split('?')[0];
    const protocol = request.requestedProtocols.includes('echo-protocol')
      ? 'echo-protocol'
      : undefined;
    const connection = request.accept(protocol);
    accepted.push(connection);
    if (path === '/greet-and-close') {
      connection.write('hello');
      connection.write(Buffer.from([1, 2, 3]));
      connection.close(4001, 'server bye');
      connection.resume();
      return;
    }
    if (path === '/sink') return;
    connection.on('data', (message: string | Buffer) => connection.write(message));
  });
  httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push(req.headers);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    if (path.startsWith('/raw/')) {
      rawScenario(path, req, socket);
      return;
    }
    (path === '/deflate' ? deflating : wss).handleUpgrade(req, socket, head);
  });
  httpServer.listen(0, '127.0.0.1');
  await within(once(httpServer, 'listening'), 5_000, 'the scenario server listening');
  const port = (httpServer.address() as AddressInfo).port;
  return {
    port,
    base: `ws://127.0.0.1:${port}`,
    accepted,
    upgrades,
    async close() {
      for (const connection of accepted) connection.terminate();
      for (const socket of sockets) socket.destroy();
      await within(wss.shutDown({ gracePeriod: 0 }), 5_000, 'the scenario server shutting down');
      await within(
        deflating.shutDown({ gracePeriod: 0 }),
        5_000,
        'the deflate server shutting down',
      );
      await within(
        new Promise<void>((resolve) => httpServer.close(() => resolve())),
        5_000,
        'the scenario HTTP server closing',
      );
    },
  };
}

/** Unmasked server frame with a payload under 126 bytes. */
function frame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}

/** Answers with a 101 (echoing the first offered subprotocol unless told not to) and plays a script. */
function rawScenario(path: string, req: http.IncomingMessage, socket: Duplex): void {
  const key = String(req.headers['sec-websocket-key'] ?? '');
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  const protocolLine =
    path !== '/raw/no-protocol' && offered.length > 0
      ? `Sec-WebSocket-Protocol: ${offered[0]}\r\n`
      : '';
  socket.on('error', () => {});
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${acceptValue(key)}\r\n${protocolLine}\r\n`,
  );
  // Whatever the client sends, a Close from it (opcode 8, masked) ends TCP from our side.
  socket.on('data', (chunk: Buffer) => {
    if (chunk.length > 0 && (chunk[0]! & 0x0f) === 0x8) socket.end();
  });
  const stop = setTimeout(() => socket.destroy(), 5_000);
  socket.once('close', () => clearTimeout(stop));
  switch (path) {
    case '/raw/empty-close':
      socket.write(frame(0x1, Buffer.from('x')));
      socket.write(frame(0x8));
      return;
    case '/raw/invalid-utf8':
      socket.write(frame(0x1, Buffer.from([0xff, 0xfe])));
      return;
    case '/raw/drop':
      socket.write(frame(0x1, Buffer.from('bye')), () => setTimeout(() => socket.destroy(), 50));
      return;
    case '/raw/no-protocol':
      return;
    default:
      socket.destroy();
  }
}
