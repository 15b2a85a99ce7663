import type { Frame } from '../protocol/frame.js';

/**
 * How the parts of a connection, and its server, reach it: methods and fields named by
 * symbols, so that they are not part of its public API, and so that no part needs a
 * closure per connection to call back (a method on the prototype costs nothing per
 * connection; a closure, 50-60 bytes).
 */

// The inbound side (InboundProcessor).
/** Hands a message, frame or message stream to the reader; false when the reader is full. */
export const deliverChunk: unique symbol = Symbol('deliverChunk');
/** Handles a control frame (ping, pong, close). */
export const handleControl: unique symbol = Symbol('handleControl');
/** Stops or restarts the byte source. */
export const pauseTransport: unique symbol = Symbol('pauseTransport');
/** Fails the connection with a protocol error (or an extension's error). */
export const failConnection: unique symbol = Symbol('failConnection');

// The transport's events (transport-events.ts).
export const transportBytes: unique symbol = Symbol('transportBytes');
export const transportEnded: unique symbol = Symbol('transportEnded');
export const transportErrored: unique symbol = Symbol('transportErrored');
export const transportClosed: unique symbol = Symbol('transportClosed');
export const transportDrained: unique symbol = Symbol('transportDrained');

// The transport (an optional method it may carry).
/**
 * Drops the transport abnormally, where destroy() would say something else: an HTTP/2
 * stream's destroy() sends RST_STREAM(NO_ERROR), where RFC 8441 §5 wants CANCEL. When a
 * transport carries a function under this symbol, the connection calls it (with the
 * transport as `this`) instead of destroy(), and the function must leave the transport
 * destroyed or closing (see dropTransport in transport-events.ts).
 */
export const abortTransport: unique symbol = Symbol('abortTransport');

// The keepalive sweep (keepalive.ts): two integers of state on the connection itself.
/** Sweep tick of the last sign of life. */
export const keepaliveSeen: unique symbol = Symbol('keepaliveSeen');
/** Sweep tick of the ping still unanswered, or -1. */
export const keepalivePinged: unique symbol = Symbol('keepalivePinged');
/** Sends a ping: the peer has been silent for the interval. */
export const keepalivePing: unique symbol = Symbol('keepalivePing');
/** Drops the peer: it stayed silent through the grace period after the ping. */
export const keepaliveTimeout: unique symbol = Symbol('keepaliveTimeout');

// The sending side (MessageSender, FrameWriter).
/** Writes that waited (for 'drain', a codec, a message stream) went on. */
export const outboundReleased: unique symbol = Symbol('outboundReleased');

// The server.
/** Makes a server the owner of a connection (told when it is gone, without a listener). */
export const ownedBy: unique symbol = Symbol('ownedBy');
/** Called on the owner once the connection's transport is gone. */
export const connectionGone: unique symbol = Symbol('connectionGone');

// compat/.
/** Closes at once: WebSocket-Node's drop(). */
export const dropNow: unique symbol = Symbol('dropNow');

/** The connection, as the inbound side sees it. */
export interface InboundHost {
  [deliverChunk](chunk: unknown): boolean;
  [handleControl](frame: Frame): void;
  [pauseTransport](paused: boolean): void;
  [failConnection](err: Error): void;
  /** Makes the error a message stream cut by the close ends with (only when there is one). */
  closedError(message: string): Error;
}

/** What a connection does with its transport's events. */
export interface TransportListener {
  [transportBytes](chunk: Buffer): void;
  [transportEnded](): void;
  [transportErrored](err: Error): void;
  [transportClosed](): void;
  [transportDrained](): void;
}

/** A connection under keepalive. */
export interface KeepaliveTarget {
  [keepaliveSeen]: number;
  [keepalivePinged]: number;
  [keepalivePing](): void;
  [keepaliveTimeout](): void;
}

/** The owner of a writer (the connection), told when waiting writes go on. */
export interface WriterOwner {
  [outboundReleased](): void;
}

/** A connection's owner (a server). */
export interface ConnectionOwner<C = unknown> {
  [connectionGone](connection: C): void;
}
