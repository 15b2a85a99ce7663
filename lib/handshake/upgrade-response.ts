import type { Duplex as NodeDuplex } from 'node:stream';
import { channels, type HandshakeEndMessage } from '../diagnostics.js';
import type { HeaderMap } from '../protocol/errors.js';
import { buildRejectResponse } from '../protocol/handshake.js';

/** How long a rejected handshake's socket may linger to flush the answer before it is destroyed. */
export const REJECT_LINGER_MS = 2_000;

/** Swallows errors on a handshake socket (ECONNRESET from a client that gave up): no crash. */
function ignoreSocketError(): void {}

/**
 * Keeps a socket's errors from crashing the process while no one else listens for them:
 * during a handshake, nobody else does (node:http drops its own listeners on 'upgrade').
 *
 * @example server.on('upgrade', (req, socket) => { guardSocket(socket); ... });
 */
export function guardSocket(socket: NodeDuplex): void {
  if (!socket.listeners('error').includes(ignoreSocketError)) socket.on('error', ignoreSocketError);
}

/**
 * Removes the guard once a connection listens for the socket's errors itself.
 *
 * @example unguardSocket(socket); // after new WebSocketConnection(socket, ...)
 */
export function unguardSocket(socket: NodeDuplex): void {
  socket.removeListener('error', ignoreSocketError);
}

/**
 * Answers an upgrade with an HTTP error written straight on the raw socket (after
 * 'upgrade', node:http no longer writes responses for us), then closes it: FIN after the
 * answer, incoming bytes discarded so the client's FIN is seen, and a destroy after
 * {@link REJECT_LINGER_MS} for a client that never closes its side.
 *
 * @see RFC 6455 §4.2.1 ("the server MUST stop processing the client's handshake and return
 *   an HTTP response with an appropriate error code"), RFC 9112 §9.6
 * @example rejectUpgrade(socket, 426, 'Unsupported version', { 'sec-websocket-version': '13' });
 */
export function rejectUpgrade(
  socket: NodeDuplex,
  status: number,
  reason?: string,
  headers?: HeaderMap,
  url?: string,
): void {
  let response: string;
  try {
    response = buildRejectResponse(status, reason, headers);
  } catch {
    response = buildRejectResponse(500);
  }
  endWithResponse(socket, response, url);
}

/**
 * Writes a complete HTTP answer and closes the socket (see rejectUpgrade), for an answer
 * built and checked beforehand.
 *
 * @example endWithResponse(socket, buildRejectResponse(401, 'Token expired'));
 */
export function endWithResponse(socket: NodeDuplex, response: string, url?: string): void {
  if (channels.handshakeEnd.hasSubscribers) {
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
    publishServerHandshake(socket as { remoteAddress?: string }, status, url, undefined, []);
  }
  guardSocket(socket);
  if (socket.destroyed) return;
  if (socket.writable) socket.end(response);
  else socket.destroy();
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), REJECT_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/**
 * Tells diagnostics_channel subscribers how a server's handshake ended: 101 with what was
 * agreed, or the status it was refused with (0: the client went away first).
 */
export function publishServerHandshake(
  peer: { readonly remoteAddress?: string | undefined },
  status: number,
  url: string | undefined,
  protocol: string | undefined,
  extensions: string[],
  error?: Error,
): void {
  channels.handshakeEnd.publish({
    role: 'server',
    url,
    status,
    protocol,
    extensions,
    error,
    remoteAddress: peer.remoteAddress,
    durationMs: undefined,
  } satisfies HandshakeEndMessage);
}
