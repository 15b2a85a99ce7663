import type { ExtensionOptions } from './extensions/negotiation.js';
import type { AllowedOrigins } from './handshake/origin.js';
import type { HttpServerLike } from './handshake/upgrade-dispatcher.js';
import { InvalidArgumentError } from './protocol/errors.js';
import { type ConnectionOptions, resolveConnectionOptions } from './stream/connection-options.js';

/**
 * Options of {@link WebSocketServer}. Every {@link ConnectionOptions} field is the default
 * of the connections it accepts; a server turns `keepalive` on unless told otherwise.
 *
 * The size of the HTTP header block is node:http's business: create the HTTP server with
 * `http.createServer({ maxHeaderSize: 8192 })` (default 16 KiB, or `--max-http-header-size`);
 * a larger block is answered 431 by node:http before any upgrade is seen. Slow headers are
 * bounded by the HTTP server's `headersTimeout` (default 60 s) and `requestTimeout`.
 */
export interface WebSocketServerOptions extends ConnectionOptions, ExtensionOptions {
  /** The HTTP or HTTPS server(s) whose upgrades this server takes. Required unless `noServer`. */
  httpServer?: HttpServerLike | readonly HttpServerLike[];
  /** Take upgrades only through handleUpgrade(), called by the application. Default: false. */
  noServer?: boolean;
  /** Take only upgrades for this path (the request target before '?'). Default: every path. */
  path?: string;
  /** Accept every valid handshake without a 'request' event (WebSocket-Node's name). Default: false. */
  autoAcceptConnections?: boolean;
  /**
   * The subprotocols this server speaks, used when auto-accepting: the client's most
   * preferred one among them is chosen (none when there is none in common). A function
   * gets the requested list and returns the choice, which must be one of them.
   */
  protocols?: readonly string[] | ((requested: readonly string[]) => string | undefined);
  /** Origins allowed to connect; others are answered 403. Default: any. See createOriginMatcher. */
  allowedOrigins?: AllowedOrigins;
  /** Answer 403 to requests without an Origin header. Default: false (non-browser clients send none). */
  requireOrigin?: boolean;
  /**
   * Time, in ms, the application has to accept or reject a request before it is answered
   * 503 (not 408: the client sent its request in time, the server did not decide). 0 turns
   * the limit off. Default: 10 000.
   */
  handshakeTimeout?: number;
  /** Time, in ms, shutDown() waits for closing handshakes before it terminates the rest. Default: 5 000. */
  shutdownGracePeriod?: number;
}

/** Options of {@link WebSocketServer.shutDown}. */
export interface ShutDownOptions {
  /** Overrides the server's `shutdownGracePeriod` for this call. */
  gracePeriod?: number;
}

/** The ConnectionOptions fields, which a server passes on to its connections. */
const CONNECTION_OPTION_NAMES = [
  'maxReceivedFrameSize',
  'maxReceivedMessageSize',
  'fragmentOutgoingMessages',
  'fragmentationThreshold',
  'assembleFragments',
  'messageStreams',
  'keepalive',
  'keepaliveInterval',
  'dropConnectionOnKeepaliveTimeout',
  'keepaliveGracePeriod',
  'closeTimeout',
  'deferCloseReply',
  'readableHighWaterMark',
  'writableHighWaterMark',
] as const satisfies readonly (keyof ConnectionOptions)[];

/**
 * Picks the connection tunables out of the server's options, with the server's own
 * default (keepalive on, as WebSocket-Node), and checks them now: a bad value should fail
 * the constructor, not the first connection.
 *
 * @example connectionDefaults({ httpServer, maxReceivedMessageSize: 1 << 20 })
 * // { keepalive: true, maxReceivedMessageSize: 1048576 }
 */
export function connectionDefaults(options: WebSocketServerOptions): ConnectionOptions {
  const connectionOptions: ConnectionOptions = { keepalive: true };
  for (const name of CONNECTION_OPTION_NAMES) {
    if (options[name] !== undefined) Object.assign(connectionOptions, { [name]: options[name] });
  }
  resolveConnectionOptions({ ...connectionOptions, role: 'server' });
  return connectionOptions;
}

/**
 * Resolves a duration option: non-negative milliseconds, capped at what setTimeout takes.
 *
 * @example milliseconds(undefined, 5_000, 'shutdownGracePeriod') // 5000
 */
export function milliseconds(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || Number.isNaN(resolved) || resolved < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative number of milliseconds`);
  }
  return Math.min(resolved, 2 ** 31 - 1);
}
