/**
 * WebSocket-Node's fragmentation test server on this library: on the 'fragmentation-test'
 * protocol, "sendMessage|N" is answered with N bytes of text and "sendBinaryMessage|N"
 * with N random bytes, each message cut into frames of at most --fragment bytes (the
 * connection's fragmentationThreshold), or sent whole with --no-fragmentation.
 *
 * Run: node --import tsx examples/fragmentation-test-server.ts [--port=8080] [--fragment=16384]
 *        [--no-fragmentation]
 * Try: node --import tsx examples/fragmentation-test-client.ts --port=8080
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { WebSocketRouter } from '../lib/router.js';
import { WebSocketServer } from '../lib/server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    fragment: { type: 'string', default: '16384' },
    'no-fragmentation': { type: 'boolean', default: false },
  },
});
const port = Number(values.port ?? process.env.PORT ?? 8080);
const threshold = Number(values.fragment);
/** The largest message a client may ask for: the server builds each one in memory. */
const MAX_LENGTH = 64 * 1024 * 1024;

const lorem =
  'Lorem ipsum dolor sit amet, consectetuer adipiscing elit, sed diam nonummy nibh euismod tincidunt ut laoreet dolore magna aliquam erat volutpat.';

/** Gives exactly `length` bytes of ASCII text. */
function text(length: number): string {
  const unit = `  ${lorem}`;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

const server = http.createServer((_request, response) => response.writeHead(404).end());
const wsServer = new WebSocketServer({
  httpServer: server,
  fragmentOutgoingMessages: !values['no-fragmentation'],
  fragmentationThreshold: threshold,
});
const router = new WebSocketRouter({ server: wsServer });

router.mount('*', 'fragmentation-test', (request) => {
  const connection = request.accept(request.origin);
  log(`connection accepted from ${connection.remoteAddress}`);
  connection.on('data', (message: string | Buffer) => {
    if (typeof message !== 'string') return;
    const match = /^(sendMessage|sendBinaryMessage)\|(\d+)$/.exec(message);
    if (match === null) return;
    const length = Number(match[2]);
    if (length > MAX_LENGTH) {
      connection.close(1008, `At most ${MAX_LENGTH} bytes per message`);
      return;
    }
    if (match[1] === 'sendMessage') {
      connection.write(text(length));
      log(`sent ${length} byte utf-8 message to ${connection.remoteAddress}`);
    } else {
      connection.write(randomBytes(length));
      log(`sent ${length} byte binary message to ${connection.remoteAddress}`);
    }
  });
  connection.on('close', () => log(`peer ${connection.remoteAddress} disconnected.`));
});

server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as AddressInfo;
  log(`Server is listening on port ${actual}`);
  log(
    values['no-fragmentation']
      ? 'Fragmentation disabled.'
      : `Fragmenting messages at ${threshold} bytes`,
  );
});
process.on('SIGINT', () => wsServer.shutDown().then(() => process.exit(0)));
process.on('SIGTERM', () => wsServer.shutDown().then(() => process.exit(0)));
