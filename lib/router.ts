import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { WebSocketRequest } from './handshake/server-handshake.js';
import { type HeaderMap, InvalidArgumentError } from './protocol/errors.js';
import type { ExtensionOffer } from './protocol/header-parser.js';
import type { WebSocketServer } from './server.js';
import type { WebSocketConnection } from './stream/websocket-connection.js';

/** Where a handler is mounted: '*' (every path), an exact path, or a RegExp tested on the path. */
export type RoutePath = string | RegExp;

/**
 * The subprotocol a handler is mounted for: a name (compared case-insensitively, as
 * WebSocket-Node does), `null`, `undefined` or `''` for requests that offer none, or `'*'`
 * for any request, whatever it offers.
 */
export type RouteProtocol = string | null | undefined;

/**
 * A handler: it gets each request routed to it and accepts or rejects it. It may be async:
 * a rejected promise is answered 500 and reported as the server's 'error'.
 */
export type RouteHandler = (request: WebSocketRouterRequest) => void | Promise<void>;

/** Options of {@link WebSocketRouter}. */
export interface WebSocketRouterOptions {
  /** A server to attach to at once (as attachServer does). Default: none. */
  server?: WebSocketServer;
}

/**
 * A cookie to set with the 101 answer, in WebSocket-Node's shape. `maxage` is in seconds,
 * `expires` a Date or an HTTP date.
 */
export interface RouterCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  expires?: Date | string;
  maxage?: number;
  secure?: boolean;
  httponly?: boolean;
}

/**
 * The key of handlers for "no subprotocol". Not a token (it holds a space), so no protocol
 * a client offers can collide with it, as one could with WebSocket-Node's sentinel.
 */
const NO_PROTOCOL = ' (none)';
const ANY_PROTOCOL = '*';

interface Route {
  readonly path: RegExp;
  /** The key that makes two mounts "the same path": the RegExp's source and flags. */
  readonly pathKey: string;
  readonly protocol: string;
  readonly handler: RouteHandler;
}

/** A router's events: none of its own (as WebSocket-Node's); its requests have theirs. */
export type WebSocketRouterEvents = Record<never, never>;

// The typed EventEmitter methods of the class below (see TypedEmitter in stream/typed-events).
export interface WebSocketRouter {
  on<E extends keyof WebSocketRouterEvents>(event: E, listener: WebSocketRouterEvents[E]): this;
  once<E extends keyof WebSocketRouterEvents>(event: E, listener: WebSocketRouterEvents[E]): this;
  addListener<E extends keyof WebSocketRouterEvents>(
    event: E,
    listener: WebSocketRouterEvents[E],
  ): this;
  prependListener<E extends keyof WebSocketRouterEvents>(
    event: E,
    listener: WebSocketRouterEvents[E],
  ): this;
  prependOnceListener<E extends keyof WebSocketRouterEvents>(
    event: E,
    listener: WebSocketRouterEvents[E],
  ): this;
  off<E extends keyof WebSocketRouterEvents>(event: E, listener: WebSocketRouterEvents[E]): this;
  removeListener<E extends keyof WebSocketRouterEvents>(
    event: E,
    listener: WebSocketRouterEvents[E],
  ): this;
  emit<E extends keyof WebSocketRouterEvents>(
    event: E,
    ...args: Parameters<WebSocketRouterEvents[E]>
  ): boolean;
}

/**
 * Routes a server's requests to handlers by path and subprotocol, as WebSocket-Node's
 * router does: several applications share one port, each on its own path or protocol.
 * The client's protocols are tried in its order of preference and, for each, the mounts
 * in the order they were made: the first mount whose path matches and whose protocol is
 * that one (or '*') gets the request. A request that no mount takes is answered 404.
 *
 * The router listens for the server's 'request' events, so the server must not
 * auto-accept connections.
 *
 * @see RFC 6455 §1.9 (subprotocols), §4.2.2 (answering with a chosen subprotocol)
 * @example
 * ```ts
 * const wss = new WebSocketServer({ httpServer });
 * const router = new WebSocketRouter({ server: wss });
 * router.mount('*', 'dumb-increment-protocol', (request) => startCounter(request.accept()));
 * router.mount('/echo', '*', (request) => {
 *   const ws = request.accept();
 *   ws.pipe(ws);
 * });
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above.
export class WebSocketRouter extends EventEmitter {
  #server: WebSocketServer | null = null;
  readonly #routes: Route[] = [];
  readonly #onRequest = (request: WebSocketRequest): void | Promise<void> =>
    this.handleRequest(request);

  constructor(options: WebSocketRouterOptions = {}) {
    super();
    if (options.server !== undefined) this.attachServer(options.server);
  }

  /** The server the router is attached to, or null. */
  get server(): WebSocketServer | null {
    return this.#server;
  }

  /**
   * Starts routing the server's requests. A router serves one server at a time: attaching
   * a second one without detaching the first throws, since the first would go on sending
   * requests to handlers its owner thinks are gone.
   */
  attachServer(server: WebSocketServer): void {
    if (server === null || typeof server !== 'object' || typeof server.on !== 'function') {
      throw new InvalidArgumentError('attachServer takes a WebSocketServer instance');
    }
    if (this.#server === server) return;
    if (this.#server !== null) {
      throw new InvalidArgumentError('The router is already attached: call detachServer() first');
    }
    this.#server = server;
    server.on('request', this.#onRequest);
  }

  /** Stops routing; throws when not attached (a second detach is a bug, as in WebSocket-Node). */
  detachServer(): void {
    if (this.#server === null) {
      throw new InvalidArgumentError('Cannot detach from server: not attached');
    }
    this.#server.removeListener('request', this.#onRequest);
    this.#server = null;
  }

  /**
   * Mounts a handler. Mounting the same path and protocol twice throws, since the second
   * handler could never be reached.
   *
   * @example router.mount(/^\/rooms\/\w+$/, 'chat.v1', (request) => join(request.accept()));
   */
  mount(path: RoutePath, protocol: RouteProtocol, handler: RouteHandler): void {
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError('mount needs a handler function');
    }
    const route: Route = { ...routeKey(path, protocol), handler };
    if (this.#indexOf(route.pathKey, route.protocol) !== -1) {
      throw new InvalidArgumentError(
        `A handler is already mounted for path ${describePath(path)} and protocol ${describeProtocol(protocol)}`,
      );
    }
    this.#routes.push(route);
  }

  /** Removes the handler of a path and protocol; throws when there is none. */
  unmount(path: RoutePath, protocol: RouteProtocol): void {
    const { pathKey, protocol: key } = routeKey(path, protocol);
    const index = this.#indexOf(pathKey, key);
    if (index === -1) {
      throw new InvalidArgumentError(
        `No handler is mounted for path ${describePath(path)} and protocol ${describeProtocol(protocol)}`,
      );
    }
    this.#routes.splice(index, 1);
  }

  /**
   * Routes one request (the server calls this for each 'request'). A handler that throws,
   * or returns a promise that rejects, is reported by the server, which answers 500.
   */
  handleRequest(request: WebSocketRequest): void | Promise<void> {
    const offered: readonly (string | undefined)[] =
      request.requestedProtocols.length > 0 ? request.requestedProtocols : [undefined];
    const path = request.resourceURL.pathname;
    for (const protocol of offered) {
      const key = protocol === undefined ? NO_PROTOCOL : protocol.toLowerCase();
      for (const route of this.#routes) {
        if (route.protocol !== key && route.protocol !== ANY_PROTOCOL) continue;
        if (!route.path.test(path)) continue;
        return route.handler(new WebSocketRouterRequest(request, protocol ?? null));
      }
    }
    request.reject(404, 'No handler is available for the given request');
  }

  #indexOf(pathKey: string, protocol: string): number {
    return this.#routes.findIndex((r) => r.pathKey === pathKey && r.protocol === protocol);
  }
}

/** A router request's events, as WebSocket-Node's. */
export interface WebSocketRouterRequestEvents {
  requestAccepted(connection: WebSocketConnection): void;
  requestRejected(request: WebSocketRouterRequest): void;
}

// The typed EventEmitter methods of the class below (see TypedEmitter in stream/typed-events).
export interface WebSocketRouterRequest {
  on<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  once<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  addListener<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  prependListener<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  prependOnceListener<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  off<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  removeListener<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    listener: WebSocketRouterRequestEvents[E],
  ): this;
  emit<E extends keyof WebSocketRouterRequestEvents>(
    event: E,
    ...args: Parameters<WebSocketRouterRequestEvents[E]>
  ): boolean;
}

/**
 * A request as a router handler sees it: the server's request with the subprotocol the
 * router matched, so that accept() answers with it. Events: 'requestAccepted'
 * (connection), 'requestRejected' (this request), as in WebSocket-Node.
 *
 * @example
 * router.mount('*', 'chat', (request) => {
 *   if (request.origin !== 'https://example.com') return request.reject(403);
 *   request.accept(request.origin).pipe(process.stdout);
 * });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above.
export class WebSocketRouterRequest extends EventEmitter {
  /** The server's request underneath. */
  readonly webSocketRequest: WebSocketRequest;
  /** The subprotocol matched, as the client spelt it; null when the client offered none. */
  readonly protocol: string | null;
  /** The Origin header, undefined without one. */
  readonly origin: string | undefined;
  /** The request target as sent, e.g. '/chat?room=1'. */
  readonly resource: string;
  /** The request target resolved against the Host. */
  readonly resourceURL: URL;
  /** The HTTP request of the upgrade. */
  readonly httpRequest: IncomingMessage;
  /** The client's address. */
  readonly remoteAddress: string | undefined;
  /** The protocol version the client speaks (13). */
  readonly webSocketVersion: number;
  /** The subprotocols the client offered, in its order of preference. */
  readonly requestedProtocols: readonly string[];
  /** The extensions the client offered. */
  readonly requestedExtensions: readonly ExtensionOffer[];

  constructor(request: WebSocketRequest, protocol: string | null) {
    super();
    this.webSocketRequest = request;
    this.protocol = protocol;
    this.origin = request.origin;
    this.resource = request.resource;
    this.resourceURL = request.resourceURL;
    this.httpRequest = request.httpRequest;
    this.remoteAddress = request.remoteAddress;
    this.webSocketVersion = request.webSocketVersion;
    this.requestedProtocols = request.requestedProtocols;
    this.requestedExtensions = request.requestedExtensions;
  }

  /** The cookies the client sent, as WebSocket-Node lists them. */
  get cookies(): { name: string; value: string }[] {
    return parseCookieHeader(this.httpRequest.headers.cookie);
  }

  /**
   * Accepts with the matched subprotocol. The second argument is WebSocket-Node's list of
   * cookies to set (turned into Set-Cookie headers) or a map of extra headers; `origin` is
   * kept for WebSocket-Node's signature (an RFC 6455 answer carries none). A bad cookie
   * answers 500 and throws InvalidArgumentError.
   */
  accept(
    origin?: string | null,
    cookiesOrHeaders?: readonly RouterCookie[] | HeaderMap,
  ): WebSocketConnection {
    let headers: HeaderMap | undefined;
    try {
      headers = Array.isArray(cookiesOrHeaders)
        ? { 'set-cookie': (cookiesOrHeaders as readonly RouterCookie[]).map(formatSetCookie) }
        : (cookiesOrHeaders as HeaderMap | undefined);
    } catch (err) {
      // As WebSocketRequest.accept does for a bad argument: the client gets 500, not silence.
      this.reject(500);
      throw err;
    }
    const connection = this.webSocketRequest.accept(this.protocol, origin, headers);
    this.emit('requestAccepted', connection);
    return connection;
  }

  /** Refuses with an HTTP error (403 by default), as WebSocketRequest.reject does. */
  reject(status?: number, reason?: string, headers?: HeaderMap): void {
    this.webSocketRequest.reject(status, reason, headers);
    this.emit('requestRejected', this);
  }
}

/** Gives the matcher and keys of a mount, validating both halves. */
function routeKey(
  path: RoutePath,
  protocol: RouteProtocol,
): { path: RegExp; pathKey: string; protocol: string } {
  const regexp = pathToRegExp(path);
  return { path: regexp, pathKey: regexp.toString(), protocol: protocolKey(protocol) };
}

/**
 * Turns a mount path into a RegExp: '*' matches every path, another string only itself. A
 * RegExp is copied without its 'g' and 'y' flags, whose lastIndex would make test()
 * answer differently from one request to the next.
 */
function pathToRegExp(path: RoutePath): RegExp {
  if (path instanceof RegExp) return new RegExp(path.source, path.flags.replace(/[gy]/g, ''));
  if (typeof path !== 'string' || path === '') {
    throw new InvalidArgumentError('A mount path is a non-empty string or a RegExp');
  }
  if (path === '*') return /^.*$/;
  return new RegExp(`^${path.replace(/[-[\]{}()*+?.,\\^$|#\s]/g, '\\$&')}$`);
}

function protocolKey(protocol: RouteProtocol): string {
  if (protocol === null || protocol === undefined || protocol === '') return NO_PROTOCOL;
  if (typeof protocol !== 'string') {
    throw new InvalidArgumentError("A mount protocol is a string, null (none) or '*' (any)");
  }
  return protocol.toLowerCase();
}

function describePath(path: RoutePath): string {
  return typeof path === 'string' ? JSON.stringify(path) : String(path);
}

function describeProtocol(protocol: RouteProtocol): string {
  return protocol === null || protocol === undefined || protocol === ''
    ? '(none)'
    : JSON.stringify(protocol);
}

/** Characters allowed in a cookie value. @see RFC 6265 §4.1.1 (cookie-octet) */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
/** Characters allowed in a cookie name (an HTTP token). @see RFC 6265 §4.1.1, RFC 9110 §5.6.2 */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Characters allowed in Path and Domain attribute values (no ';' and no controls). */
const COOKIE_ATTRIBUTE = /^[\x20-\x3a\x3c-\x7e]*$/;

/**
 * Formats one Set-Cookie value, refusing anything that could split the header or smuggle
 * an attribute: a name that is not a token, a value outside cookie-octets.
 *
 * @see RFC 6265 §4.1
 */
function formatSetCookie(cookie: RouterCookie): string {
  if (!COOKIE_NAME.test(cookie.name)) {
    throw new InvalidArgumentError(`Invalid cookie name: ${JSON.stringify(cookie.name)}`);
  }
  if (!COOKIE_VALUE.test(cookie.value)) {
    throw new InvalidArgumentError(`Invalid value for cookie ${cookie.name}`);
  }
  let out = `${cookie.name}=${cookie.value}`;
  for (const [name, value] of [
    ['Path', cookie.path],
    ['Domain', cookie.domain],
  ] as const) {
    if (value === undefined) continue;
    if (!COOKIE_ATTRIBUTE.test(value)) {
      throw new InvalidArgumentError(`Invalid ${name} for cookie ${cookie.name}`);
    }
    out += `; ${name}=${value}`;
  }
  if (cookie.expires !== undefined) {
    const date = cookie.expires instanceof Date ? cookie.expires : new Date(cookie.expires);
    if (Number.isNaN(date.getTime())) {
      throw new InvalidArgumentError(`Invalid Expires for cookie ${cookie.name}`);
    }
    out += `; Expires=${date.toUTCString()}`;
  }
  if (cookie.maxage !== undefined) {
    if (!Number.isInteger(cookie.maxage)) {
      throw new InvalidArgumentError(`Invalid Max-Age for cookie ${cookie.name}`);
    }
    out += `; Max-Age=${cookie.maxage}`;
  }
  if (cookie.secure === true) out += '; Secure';
  if (cookie.httponly === true) out += '; HttpOnly';
  return out;
}

/** Splits a Cookie header into name/value pairs, skipping malformed pieces. */
function parseCookieHeader(header: string | undefined): { name: string; value: string }[] {
  if (header === undefined) return [];
  const cookies: { name: string; value: string }[] = [];
  for (const piece of header.split(';')) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    const name = piece.slice(0, eq).trim();
    let value = piece.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1);
    if (name !== '') cookies.push({ name, value });
  }
  return cookies;
}
