/**
 * A server written against the web's APIs: each accepted connection is handed to
 * WebSocketStream.from(), and the echo is `readable.pipeThrough(transform).pipeTo(writable)`
 * with web streams end to end: a client that stops reading its echoes stops being read.
 * Text comes back upper-cased, binary comes back as it was. Connections to /standard get
 * the standard WebSocket API instead (toWebSocket), the way Deno's and Bun's servers hand
 * one out: an echo written with onmessage and send().
 *
 * Run: node --import tsx examples/web-stream-server.ts
 * (PORT=8080 by default, 0 picks one; HOST=127.0.0.1 by default)
 * Try: node --import tsx examples/web-client.ts ws://127.0.0.1:8080/ hello world
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from '../lib/server.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';
import { toWebSocket } from '../lib/web/web-socket.js';
import { WebSocketStream, type WebSocketStreamChunk } from '../lib/web/web-socket-stream.js';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const server = http.createServer((_request, response) => response.writeHead(404).end());
const wss = new WebSocketServer({ httpServer: server });

wss.on('request', (request) => {
  const connection: WebSocketConnection = request.accept();
  const label = `${request.remoteAddress} ${request.resource}`;
  if (request.resource === '/standard') {
    const ws = toWebSocket(connection, { url: `ws://${request.host}${request.resource}` });
    ws.onopen = () => console.log(`${label}: open (standard API)`);
    ws.onmessage = (event) => ws.send(event.data as string | ArrayBuffer | Blob);
    ws.onclose = (event) =>
      console.log(`${label}: closed ${event.code} (clean: ${event.wasClean})`);
    return;
  }
  void echo(WebSocketStream.from(connection), label);
});

/** Echoes with web streams: text upper-cased, binary unchanged. */
async function echo(stream: WebSocketStream, label: string): Promise<void> {
  const { readable, writable } = await stream.opened;
  console.log(`${label}: open (WebSocketStream)`);
  const upperCase = new TransformStream<WebSocketStreamChunk, WebSocketStreamChunk>({
    transform(chunk, controller) {
      controller.enqueue(typeof chunk === 'string' ? chunk.toUpperCase() : chunk);
    },
  });
  await readable
    .pipeThrough(upperCase)
    .pipeTo(writable)
    .catch(() => {});
  const closed = await stream.closed.catch((err: { closeCode?: number }) => ({
    closeCode: err.closeCode ?? 1006,
  }));
  console.log(`${label}: closed ${closed.closeCode}`);
}

server.listen(port, host, () => {
  const { port: actual } = server.address() as AddressInfo;
  console.log(`Server is listening on port ${actual}`);
});

process.on('SIGINT', () => wss.shutDown().then(() => process.exit(0)));
process.on('SIGTERM', () => wss.shutDown().then(() => process.exit(0)));
