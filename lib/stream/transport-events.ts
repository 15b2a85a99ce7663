import type { Duplex as NodeDuplex } from 'node:stream';

import {
  abortTransport,
  type TransportListener,
  transportBytes,
  transportClosed,
  transportDrained,
  transportEnded,
  transportErrored,
} from './connection-hooks.js';

const listenerOf: unique symbol = Symbol('websocket-duplex.connection');

type Attached = NodeDuplex & { [listenerOf]: TransportListener };

// One set of listener functions for every transport: each finds its connection through the
// transport, so that a connection adds no closure (and no pipe() machinery) per listener.
function onData(this: Attached, chunk: Buffer): void {
  this[listenerOf][transportBytes](chunk);
}
function onEnd(this: Attached): void {
  this[listenerOf][transportEnded]();
}
function onError(this: Attached, err: Error): void {
  this[listenerOf][transportErrored](err);
}
function onClose(this: Attached): void {
  this[listenerOf][transportClosed]();
}
function onDrain(this: Attached): void {
  this[listenerOf][transportDrained]();
}

/**
 * Connects a transport's events to a connection: data, end, error, close and drain, with
 * shared listener functions. Nagle's algorithm is turned off: frames leave in batches
 * already, and a lone small message must not wait for an ACK.
 */
export function attachTransport(transport: NodeDuplex, listener: TransportListener): void {
  (transport as Attached)[listenerOf] = listener;
  (transport as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  transport.on('data', onData);
  transport.on('end', onEnd);
  transport.on('error', onError);
  transport.on('close', onClose);
  transport.on('drain', onDrain);
}

/**
 * Drops a transport without a closing handshake: through its own abort method when it
 * carries one (an HTTP/2 stream: RST_STREAM with CANCEL, RFC 8441 §5), else destroy().
 */
export function dropTransport(transport: NodeDuplex): void {
  const abort = (transport as { [abortTransport]?: (this: NodeDuplex) => void })[abortTransport];
  if (abort === undefined) transport.destroy();
  else abort.call(transport);
}
