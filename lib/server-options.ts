import type { ExtensionOptions } from './extensions/negotiation.js';
import type { Http2ServerLike } from './handshake/http2-server.js';
import type { AllowedOrigins } from './handshake/origin.js';
import type { HttpServerLike } from './handshake/upgrade-dispatcher.js';
import { checkBoolean, checkDuration, DEFAULTS } from './protocol/limits.js';
import { checkOptionNames } from './protocol/option-names.js';
import {
  CONNECTION_OPTION_NAMES,
  type ConnectionOptions,
  type ResolvedConnectionOptions,
  resolveConnectionOptions,
} from './stream/connection-options.js';

/**
 * Options of {@link WebSocketServer}. Every {@link ConnectionOptions} field is the default
 * of the connections it accepts; a server turns `keepalive` on unless told otherwise.
 *
 * Where the HTTP server comes from: `httpServer` and/or `http2Server` (one or a list each:
 * the application's), `port` (the WebSocket server creates one, hardened, and owns it), or
 * `noServer` (the application calls handleUpgrade, or handleStream for HTTP/2). With an application's server, the size of the header
 * block and slow headers are its business: `http.createServer({ maxHeaderSize: 8192,
 * headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1_000 })`.
 */
export interface WebSocketServerOptions extends ConnectionOptions, ExtensionOptions {
  /** The HTTP or HTTPS server(s) whose upgrades this server takes. */
  httpServer?: HttpServerLike | readonly HttpServerLike[];
  /**
   * The HTTP/2 server(s), from http2.createSecureServer() or http2.createServer(), whose
   * WebSocket streams (RFC 8441 extended CONNECT) this server takes; their sessions opened
   * from now on announce SETTINGS_ENABLE_CONNECT_PROTOCOL. With `allowHTTP1: true`, the
   * same server's HTTP/1.1 upgrades are taken too. May be given with `httpServer`.
   */
  http2Server?: Http2ServerLike | readonly Http2ServerLike[];
  /**
   * Create an HTTP server listening on this port (0: any free port; see `address()`), owned
   * by the WebSocket server and closed by `close()`. Plain requests are answered 426.
   */
  port?: number;
  /** The address the created server listens on. Default: all interfaces, as node:http. */
  host?: string;
  /** The listen backlog of the created server. Default: node's. */
  backlog?: number;
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
   * the limit off. Default: 10 000. On a server created with `port`, it also bounds how long
   * a client may take to send its request headers.
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

const SERVER_OPTION_NAMES = [
  ...CONNECTION_OPTION_NAMES,
  'perMessageDeflate',
  'extensions',
  'httpServer',
  'http2Server',
  'port',
  'host',
  'backlog',
  'noServer',
  'path',
  'autoAcceptConnections',
  'protocols',
  'allowedOrigins',
  'requireOrigin',
  'handshakeTimeout',
  'shutdownGracePeriod',
] as const satisfies readonly (keyof WebSocketServerOptions)[];

/** The server's own settings, resolved once. */
export interface ResolvedServerOptions {
  readonly connection: ResolvedConnectionOptions;
  readonly autoAccept: boolean;
  readonly requireOrigin: boolean;
  readonly handshakeTimeout: number;
  readonly shutdownGracePeriod: number;
}

/**
 * Checks a server's options once, for all its connections: unknown names are refused
 * (with ws's equivalents named), the connection tunables resolved with the server's own
 * default (keepalive on, as WebSocket-Node), so that a bad value fails the constructor,
 * not the first connection.
 *
 * @example resolveServerOptions({ noServer: true }).connection.keepalive // true
 */
export function resolveServerOptions(options: WebSocketServerOptions): ResolvedServerOptions {
  checkOptionNames(options, SERVER_OPTION_NAMES, 'WebSocketServer');
  return {
    connection: resolveConnectionOptions(options, 'server', true),
    autoAccept: checkBoolean(options.autoAcceptConnections, 'autoAcceptConnections', false),
    requireOrigin: checkBoolean(options.requireOrigin, 'requireOrigin', false),
    handshakeTimeout: checkDuration(
      options.handshakeTimeout,
      'handshakeTimeout',
      DEFAULTS.handshakeTimeout,
      true,
    ),
    shutdownGracePeriod: milliseconds(
      options.shutdownGracePeriod,
      DEFAULTS.shutdownGracePeriod,
      'shutdownGracePeriod',
    ),
  };
}

/**
 * Resolves a grace period: non-negative milliseconds (0: at once), capped at what
 * setTimeout takes.
 *
 * @example milliseconds(undefined, 5_000, 'shutdownGracePeriod') // 5000
 */
export function milliseconds(value: number | undefined, fallback: number, name: string): number {
  if (value === 0) return 0;
  return checkDuration(value === Number.POSITIVE_INFINITY ? 2 ** 31 - 1 : value, name, fallback);
}
