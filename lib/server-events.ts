import type { IncomingMessage } from 'node:http';
import type { BroadcastOptions } from './broadcast.js';
import type { WebSocketRequest } from './handshake/server-handshake.js';
import type { WebSocketError } from './protocol/errors.js';
import type { Incoming, Message } from './stream/connection-events.js';
import type { WebSocketConnection } from './stream/websocket-connection.js';

/**
 * Carries a broadcast beyond this process: broadcast() calls it with the message and its
 * options after the local delivery. A backplane (`websocket-duplex/redis`) installs one.
 */
export type BroadcastRelay = (data: string | Uint8Array, options: BroadcastOptions) => void;

/** What `handleUpgrade`'s callback gets, as ws's does: the connection and its request. */
export type UpgradeCallback<In extends Incoming = Message> = (
  connection: WebSocketConnection<In>,
  request: IncomingMessage,
) => void;

/** A server's events; `In` is what its connections read (see IncomingOf). */
export interface WebSocketServerEvents<In extends Incoming = Message> {
  /**
   * A valid handshake awaits accept() or reject(). The listener may be async: a rejected
   * promise answers 500 and is reported as 'error'.
   */
  request(request: WebSocketRequest<In>): void;
  /** A connection was accepted (WebSocket-Node's name). */
  connect(connection: WebSocketConnection<In>): void;
  /** A connection was accepted, with its HTTP request (ws's name). */
  connection(connection: WebSocketConnection<In>, request: IncomingMessage): void;
  /** A connection ended, with its close code and reason (as WebSocket-Node's server). */
  close(connection: WebSocketConnection<In>, code: number, reason: string): void;
  /**
   * A handshake failed (bad request, refused origin, timeout, client gone). Informational:
   * the answer is already sent, and nothing is thrown.
   */
  upgradeError(error: WebSocketError, request: IncomingMessage): void;
  /** The HTTP server created with `port` listens. */
  listening(...args: unknown[]): void;
  /**
   * An application callback (a 'request' listener, a router handler, the `protocols` or
   * `allowedOrigins` function) threw or rejected, or the created HTTP server failed; the
   * handshake concerned is answered 500. Without an 'error' listener the error is printed
   * as a process warning: a handler's bug never takes the server down.
   */
  error(err: Error): void;
}
