import http from 'node:http';
import type { WebSocketServerOptions } from '../server-options.js';

/** How often a created HTTP server checks its clients' header and request timeouts. */
const TIMEOUT_CHECK_MS = 1_000;

/** What a server made with `port` is told about the HTTP server it owns. */
export interface OwnServerEvents {
  /** The HTTP server failed (the port is taken, say). */
  failed(err: Error): void;
  /** It listens. */
  listening(): void;
}

/**
 * Creates and starts the HTTP server of a WebSocketServer made with `port` (as ws does):
 * plain requests are answered 426, and a client gets `handshakeTimeout` (checked every
 * second) to send its request, not node's 60 to 90 s, so that a stalled handshake holds
 * a socket no longer than that.
 *
 * @see RFC 6455 §4.2.2 (426 names the version to upgrade to), RFC 9110 §15.5.22
 */
export function createOwnServer(
  options: Pick<WebSocketServerOptions, 'port' | 'host' | 'backlog'>,
  handshakeTimeout: number,
  events: OwnServerEvents,
): http.Server {
  const server = http.createServer(
    handshakeTimeout > 0
      ? {
          headersTimeout: handshakeTimeout,
          requestTimeout: handshakeTimeout,
          connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, handshakeTimeout),
        }
      : {},
    (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('Upgrade Required: this is a WebSocket endpoint');
    },
  );
  server.on('error', events.failed);
  server.on('listening', events.listening);
  server.listen(options.port, options.host, options.backlog);
  return server;
}
