/**
 * The seed README's server example on this library's streams: a server that echoes back
 * anything sent to it, text as text and binary as binary. Where WebSocket-Node's version
 * listens for 'message' and calls sendUTF or sendBytes, a connection here is a Duplex
 * whose reads are messages, so the echo is the connection piped into itself (and gets
 * backpressure for free: a client that does not read its echoes stops being read).
 *
 * Run: node --import tsx examples/echo-server.ts
 * (PORT=8080 by default, 0 picks one; HOST=127.0.0.1 by default, 0.0.0.0 to take others)
 * Try: node --import tsx examples/echo-client.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../lib/server.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const server = http.createServer((request, response) => {
  console.log(`${new Date().toISOString()} Received request for ${request.url}`);
  response.writeHead(404);
  response.end();
});
server.listen(port, host, () => {
  const { port: actual } = server.address() as AddressInfo;
  console.log(`${new Date().toISOString()} Server is listening on port ${actual}`);
});

const wsServer = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });

wsServer.on('connect', (connection: WebSocketConnection) => {
  console.log(`${new Date().toISOString()} Connection accepted.`);
  connection.on('data', (message: string | Buffer) => {
    if (typeof message === 'string') console.log(`Received Message: ${message}`);
    else console.log(`Received Binary Message of ${message.length} bytes`);
  });
  connection.pipe(connection);
  connection.on('close', (code: number) => {
    console.log(
      `${new Date().toISOString()} Peer ${connection.remoteAddress} disconnected (${code}).`,
    );
  });
});

process.on('SIGINT', () => wsServer.shutDown().then(() => process.exit(0)));
process.on('SIGTERM', () => wsServer.shutDown().then(() => process.exit(0)));
