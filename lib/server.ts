import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders as Http2Headers, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex as NodeDuplex } from 'node:stream';
import { type BroadcastOptions, broadcast as broadcastTo } from './broadcast.js';
import { extensionFactories } from './extensions/negotiation.js';
import { Http2ConnectRequest } from './handshake/http2-connect-request.js';
import {
  type Http2ServerLike,
  Http2StreamChannel,
  refuseStream,
  type StreamEndpoint,
} from './handshake/http2-server.js';
import { createOriginMatcher, type OriginMatcher } from './handshake/origin.js';
import { createOwnServer } from './handshake/own-server.js';
import { attachServers, detachServers } from './handshake/server-attachment.js';
import {
  type HandshakeChannel,
  type RequestContext,
  serverReject,
  UpgradeChannel,
  WebSocketRequest,
} from './handshake/server-handshake.js';
import {
  type HttpServerLike,
  requestPath,
  type UpgradeEndpoint,
} from './handshake/upgrade-dispatcher.js';
import { guardSocket } from './handshake/upgrade-response.js';
import { CloseCode } from './protocol/close-codes.js';
import { HandshakeError, InvalidArgumentError, type WebSocketError } from './protocol/errors.js';
import { validateExtendedConnect } from './protocol/extended-connect.js';
import {
  selectProtocol,
  type UpgradeRequestInfo,
  validateUpgradeRequest,
} from './protocol/handshake.js';
import type { BroadcastRelay, UpgradeCallback, WebSocketServerEvents } from './server-events.js';
import {
  milliseconds,
  type ResolvedServerOptions,
  resolveServerOptions,
  type ShutDownOptions,
  type WebSocketServerOptions,
} from './server-options.js';
import type { Incoming, IncomingOf } from './stream/connection-events.js';
import { type ConnectionOwner, connectionGone, ownedBy } from './stream/connection-hooks.js';
import type { KnownOptions } from './stream/typed-events.js';
import type { WebSocketConnection } from './stream/websocket-connection.js';

export type { BroadcastOptions } from './broadcast.js';
export { Http2ConnectRequest } from './handshake/http2-connect-request.js';
export type { Http2ServerLike } from './handshake/http2-server.js';
export type { AllowedOrigins } from './handshake/origin.js';
export { WebSocketRequest, type WebSocketRequestState } from './handshake/server-handshake.js';
export type { HttpServerLike } from './handshake/upgrade-dispatcher.js';
export type {
  BroadcastRelay,
  UpgradeCallback,
  WebSocketServerEvents,
} from './server-events.js';
export type { ShutDownOptions, WebSocketServerOptions } from './server-options.js';

type ServerState = 'open' | 'shuttingDown' | 'closed';

/** Lets the router report a handler's failure as the server's own (a symbol: not public API). */
export const handlerFailed: unique symbol = Symbol('handlerFailed');

// The typed EventEmitter methods of the class below (see TypedEmitter in stream/typed-events).
export interface WebSocketServer<O extends WebSocketServerOptions = WebSocketServerOptions> {
  on<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  once<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  addListener<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  prependListener<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  prependOnceListener<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  off<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  removeListener<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    listener: WebSocketServerEvents<IncomingOf<O>>[E],
  ): this;
  emit<E extends keyof WebSocketServerEvents<IncomingOf<O>>>(
    event: E,
    ...args: Parameters<WebSocketServerEvents<IncomingOf<O>>[E]>
  ): boolean;
}

/**
 * A WebSocket server over HTTP/1.1 (and HTTPS), in the manner of WebSocket-Node, with ws's
 * names where they cost nothing: it takes the upgrades of one or several HTTP servers (or
 * of one it creates on `port`, or those the application hands it with handleUpgrade),
 * answers bad handshakes with the right HTTP error, and hands each valid one to the
 * application as a 'request' to accept or reject, at once or later.
 *
 * Over HTTP/2 too (RFC 8441): given `http2Server`, it announces extended CONNECT to the
 * server's sessions and takes the WebSockets that arrive as streams, with the same
 * requests, checks and events; each connection runs over its own stream of the session.
 * One secure server with `allowHTTP1: true` serves both protocols on one port.
 *
 * Events: see {@link WebSocketServerEvents}. An application's failing callback is answered
 * 500 and reported as 'error' (a process warning without a listener): never a crash.
 *
 * @see RFC 6455 §4.2 (server-side handshake)
 * @example
 * ```ts
 * const httpServer = http.createServer((req, res) => res.writeHead(404).end());
 * const wss = new WebSocketServer({ httpServer, path: '/chat', protocols: ['chat.v1'] });
 * wss.on('request', (request) => {
 *   if (request.origin !== 'https://app.example.com') return request.reject(403);
 *   request.accept('chat.v1').pipe(process.stdout);
 * });
 * httpServer.listen(8080);
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above.
export class WebSocketServer<const O extends WebSocketServerOptions = WebSocketServerOptions>
  extends EventEmitter
  implements UpgradeEndpoint, StreamEndpoint, ConnectionOwner<WebSocketConnection<IncomingOf<O>>>
{
  /** The path this server takes upgrades for (undefined: every path). */
  readonly path: string | undefined;
  readonly #httpServers: readonly HttpServerLike[];
  readonly #http2Servers: readonly Http2ServerLike[];
  readonly #ownServer: http.Server | undefined;
  readonly #settings: ResolvedServerOptions;
  readonly #protocols: WebSocketServerOptions['protocols'];
  readonly #matchOrigin: OriginMatcher | undefined;
  readonly #connections = new Set<WebSocketConnection<IncomingOf<O>>>();
  readonly #pending = new Set<WebSocketRequest<IncomingOf<O>>>();
  readonly #context: RequestContext;
  #state: ServerState = 'open';
  #shutDown: Promise<void> | undefined;
  #relay: BroadcastRelay | undefined;

  /**
   * @param listening called once the HTTP server created with `port` listens (ws's
   *   signature); with `httpServer` or `noServer` it is refused.
   */
  constructor(options: KnownOptions<O, WebSocketServerOptions>, listening?: () => void) {
    super({ captureRejections: true });
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('WebSocketServer needs options: httpServer, port or noServer');
    }
    this.#settings = resolveServerOptions(options);
    const given = options.httpServer === undefined ? [] : [options.httpServer].flat();
    const given2 = options.http2Server === undefined ? [] : [options.http2Server].flat();
    const sources = [
      given.length + given2.length > 0,
      options.port !== undefined,
      options.noServer === true,
    ];
    if (sources.filter(Boolean).length !== 1) {
      throw new InvalidArgumentError(
        'Give exactly one of httpServer (and/or http2Server), port and noServer: true',
      );
    }
    if (options.path !== undefined && !options.path.startsWith('/')) {
      throw new InvalidArgumentError(
        `path must start with '/', got ${JSON.stringify(options.path)}`,
      );
    }
    if (listening !== undefined && options.port === undefined) {
      throw new InvalidArgumentError(
        'A listening callback is only called for a server made with port',
      );
    }
    this.path = options.path;
    this.#protocols = options.protocols;
    this.#matchOrigin =
      options.allowedOrigins !== undefined || this.#settings.requireOrigin
        ? createOriginMatcher(options.allowedOrigins ?? (() => true), {
            requireOrigin: this.#settings.requireOrigin,
          })
        : undefined;
    this.#context = {
      connectionOptions: this.#settings.connection,
      extensions: extensionFactories(options, 'server'),
      handshakeTimeout: this.#settings.handshakeTimeout,
      onAccept: (connection, request) =>
        this.#adopt(
          connection as WebSocketConnection<IncomingOf<O>>,
          request as WebSocketRequest<IncomingOf<O>>,
        ),
      onSettled: (request) => this.#pending.delete(request as WebSocketRequest<IncomingOf<O>>),
      onServerReject: (error, request) => this.#upgradeError(error, request.httpRequest),
    };
    this.#ownServer =
      options.port === undefined
        ? undefined
        : createOwnServer(options, this.#settings.handshakeTimeout, {
            failed: (err) => this.#handlerFailed(err, undefined, undefined),
            listening: () => {
              this.emit('listening');
              listening?.();
            },
          });
    this.#httpServers = this.#ownServer === undefined ? given : [this.#ownServer];
    this.#http2Servers = given2;
    attachServers(this, this.#httpServers, this.#http2Servers);
  }

  /**
   * The open connections, as a live set (ws's `clients`): iterate it to reach them all.
   *
   * @example for (const ws of wss.clients) ws.ping();
   */
  get clients(): ReadonlySet<WebSocketConnection<IncomingOf<O>>> {
    return this.#connections;
  }

  /**
   * Lists the open connections (a snapshot: the list does not change under a loop).
   *
   * @example for (const ws of wss.connections) ws.ping();
   */
  get connections(): WebSocketConnection<IncomingOf<O>>[] {
    return [...this.#connections];
  }

  /**
   * Tells whether shutDown() or close() was called (upgrades are then answered 503).
   *
   * @example if (wss.isShuttingDown) return;
   */
  get isShuttingDown(): boolean {
    return this.#state !== 'open';
  }

  /**
   * The address the created HTTP server listens on (ws's `address()`); null before it
   * listens. Throws for a server that did not create its HTTP server.
   *
   * @example const { port } = wss.address() as AddressInfo;
   */
  address(): AddressInfo | string | null {
    if (this.#ownServer === undefined) {
      throw new InvalidArgumentError(
        'address() is for a server made with port: ask your HTTP server',
      );
    }
    return this.#ownServer.address();
  }

  /**
   * Tells whether an upgrade is for this server's path, so that an application running
   * several servers with `noServer` can dispatch its 'upgrade' events itself.
   *
   * @example if (wss.shouldHandle(req)) wss.handleUpgrade(req, socket, head);
   */
  shouldHandle(request: IncomingMessage): boolean {
    return this.path === undefined || requestPath(request.url) === this.path;
  }

  /**
   * Takes an upgrade: answers a bad one with its HTTP error, and hands a valid one to
   * 'request' (or accepts it, with `autoAcceptConnections`). Call it from an HTTP server's
   * 'upgrade' listener when the server runs with `noServer` (Express, Fastify and Koa sit
   * on a plain node:http server, whose 'upgrade' event is where this goes). An upgrade
   * for another path is answered 404.
   *
   * With `callback` (ws's signature), it is called with the connection and the request once
   * the handshake is accepted; with no 'request' listener and no autoAcceptConnections,
   * the request is then accepted, with a subprotocol chosen by `protocols`.
   *
   * @see RFC 6455 §4.2.1, §4.2.2
   * @example
   * ```ts
   * const wss = new WebSocketServer({ noServer: true });
   * server.on('upgrade', (req, socket, head) =>
   *   wss.handleUpgrade(req, socket, head, (ws) => ws.pipe(ws)),
   * );
   * ```
   */
  handleUpgrade(
    request: IncomingMessage,
    socket: NodeDuplex,
    head: Buffer = Buffer.alloc(0),
    callback?: UpgradeCallback<IncomingOf<O>>,
  ): void {
    guardSocket(socket);
    const channel = new UpgradeChannel(socket, head, request.url);
    this.#take(request, channel, callback, () =>
      validateUpgradeRequest({
        method: request.method,
        httpVersion: request.httpVersion,
        headers: request.headers,
        url: request.url,
      }),
    );
  }

  /**
   * Takes an HTTP/2 stream carrying an extended CONNECT (the HTTP/2 twin of handleUpgrade,
   * for `noServer` use): answers a bad one with its status, and hands a valid one to
   * 'request' (or accepts it), as over HTTP/1.1; accepting answers 200 and runs the
   * connection over the stream. The request's `httpRequest` is an {@link Http2ConnectRequest}
   * (an `http.IncomingMessage` with `httpVersion` '2.0'). The session must announce
   * SETTINGS_ENABLE_CONNECT_PROTOCOL (`settings: { enableConnectProtocol: true }` when
   * making the server), or clients may not send the request at all.
   *
   * @see RFC 8441 §3, §4, §5
   * @example
   * ```ts
   * const wss = new WebSocketServer({ noServer: true });
   * const server = http2.createSecureServer({ key, cert, settings: { enableConnectProtocol: true } });
   * server.on('stream', (stream, headers) => {
   *   if (headers[':method'] === 'CONNECT') wss.handleStream(stream, headers, (ws) => ws.pipe(ws));
   * });
   * ```
   */
  handleStream(
    stream: ServerHttp2Stream,
    headers: Http2Headers,
    callback?: UpgradeCallback<IncomingOf<O>>,
  ): void {
    guardSocket(stream);
    let request: Http2ConnectRequest;
    try {
      request = new Http2ConnectRequest(stream, headers);
    } catch (err) {
      refuseStream(stream, 500);
      this.#handlerFailed(err, undefined, undefined);
      return;
    }
    const channel = new Http2StreamChannel(stream, headers[':path']);
    this.#take(request, channel, callback, () => validateExtendedConnect(headers));
  }

  /**
   * Takes a request whichever protocol carries it: path, state, the protocol's own checks
   * (`validate`), origin, then 'request' or an automatic accept.
   */
  #take(
    request: IncomingMessage,
    channel: HandshakeChannel,
    callback: UpgradeCallback<IncomingOf<O>> | undefined,
    validate: () => UpgradeRequestInfo,
  ): void {
    let wsRequest: WebSocketRequest<IncomingOf<O>> | undefined;
    try {
      if (!this.shouldHandle(request)) {
        channel.refuse(404, 'No WebSocket endpoint at this path');
        return;
      }
      if (this.#state !== 'open') {
        channel.refuse(503, 'Server shutting down');
        return;
      }
      wsRequest = this.#validate(request, channel, validate);
      if (wsRequest === undefined) return;
      this.#pending.add(wsRequest);
      if (callback !== undefined) {
        wsRequest.once('requestAccepted', (connection) => callback(connection, request));
      }
      if (
        this.#settings.autoAccept ||
        (callback !== undefined && this.listenerCount('request') === 0)
      ) {
        wsRequest.accept(this.#chooseProtocol(wsRequest));
      } else if (this.listenerCount('request') === 0) {
        wsRequest[serverReject](500, 'No handler for WebSocket requests');
      } else {
        this.emit('request', wsRequest);
      }
    } catch (err) {
      this.#handlerFailed(err, wsRequest, channel);
    }
  }

  /**
   * Sends one message to every open connection. The message is framed once and the same
   * frame bytes are written to every connection that sends it unmasked and uncompressed;
   * each connection's own queue and backpressure apply, so a slow reader only grows its own
   * queue (bounded by `maxBufferedAmount` when given) while the others go on. Returns the
   * number of connections the message was queued for (in this process: see setBroadcastRelay).
   *
   * @example wss.broadcast(JSON.stringify({ type: 'tick', at: Date.now() }));
   */
  broadcast(data: string | Uint8Array, options: BroadcastOptions = {}): number {
    const count = broadcastTo(this.#connections, data, options);
    this.#relay?.(data, options);
    return count;
  }

  /**
   * Installs the relay that broadcast() hands each message to after delivering it here, so
   * that a backplane can carry it to the servers of other processes (`undefined` removes
   * it). One relay per server, so that two backplanes never both relay a message.
   *
   * @example wss.setBroadcastRelay((data, options) => otherProcesses.send(data, options));
   */
  setBroadcastRelay(relay: BroadcastRelay | undefined): void {
    if (relay !== undefined && this.#relay !== undefined) {
      throw new InvalidArgumentError('This server already has a broadcast relay');
    }
    this.#relay = relay;
  }

  /**
   * Closes every open connection now, with `code` (1000 by default) and `reason`; the
   * server goes on accepting new ones.
   *
   * @see RFC 6455 §7.4.1
   * @example wss.closeAllConnections(1012, 'Restarting');
   */
  closeAllConnections(code: number = CloseCode.Normal, reason = ''): void {
    for (const connection of this.#connections) closeQuietly(connection, code, reason);
  }

  /**
   * Stops taking upgrades (new ones are answered 503) and, for a server made with `port`,
   * closes its HTTP server; `callback` is called once that server has closed, which waits
   * for its connections to end. Open connections are left alone, as ws 8 does: close them
   * with closeAllConnections(), or use shutDown() for all of it with a grace period.
   *
   * @example wss.close(() => console.log('closed'));
   */
  close(callback?: (err?: Error) => void): void {
    if (this.#state === 'open') this.#state = 'closed';
    for (const request of [...this.#pending]) request[serverReject](503, 'Server shutting down');
    detachServers(this, this.#httpServers, this.#http2Servers);
    const own = this.#ownServer;
    if (own === undefined || !own.listening) {
      if (callback !== undefined) process.nextTick(callback);
      return;
    }
    own.close((err) => callback?.(err));
  }

  /**
   * Shuts down gracefully: new upgrades are answered 503, requests awaiting a decision are
   * answered 503, every connection is closed with 1001 ('Server shutting down'); after the
   * grace period the connections still open are terminated. Then the server leaves its
   * HTTP servers (it closes only the one it created: the others may serve other things).
   * Resolves once every connection is gone; calling it again returns the same promise.
   *
   * @see RFC 6455 §7.4.1 (1001: going away)
   * @example
   * ```ts
   * process.once('SIGTERM', async () => {
   *   await wss.shutDown();
   *   httpServer.close();
   * });
   * ```
   */
  shutDown(options: ShutDownOptions = {}): Promise<void> {
    if (this.#shutDown !== undefined) return this.#shutDown;
    const grace = milliseconds(
      options.gracePeriod,
      this.#settings.shutdownGracePeriod,
      'gracePeriod',
    );
    this.#state = 'shuttingDown';
    this.#shutDown = this.#runShutDown(grace);
    return this.#shutDown;
  }

  async #runShutDown(grace: number): Promise<void> {
    for (const request of [...this.#pending]) request[serverReject](503, 'Server shutting down');
    this.closeAllConnections(CloseCode.GoingAway, 'Server shutting down');
    if (!(await this.#waitForConnections(grace))) {
      for (const connection of this.#connections) connection.terminate();
      await this.#waitForConnections(grace + 1_000);
    }
    await new Promise<void>((resolve) => this.close(() => resolve()));
    this.#state = 'closed';
  }

  /** Resolves true once no connection is left, false when `ms` passed first. */
  #waitForConnections(ms: number): Promise<boolean> {
    if (this.#connections.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onGone = (): void => {
        if (this.#connections.size > 0) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), ms);
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.removeListener('close', onGone);
        resolve(result);
      };
      this.on('close', onGone);
    });
  }

  #validate(
    request: IncomingMessage,
    channel: HandshakeChannel,
    validate: () => UpgradeRequestInfo,
  ): WebSocketRequest<IncomingOf<O>> | undefined {
    let info: UpgradeRequestInfo;
    try {
      info = validate();
    } catch (err) {
      if (!(err instanceof HandshakeError)) throw err;
      channel.refuse(err.status, err.message, err.headers);
      this.#upgradeError(err, request);
      return undefined;
    }
    if (this.#matchOrigin !== undefined && !this.#matchOrigin(info.origin, request)) {
      const err = new HandshakeError(`Origin not allowed: ${info.origin ?? '(none)'}`, 403);
      channel.refuse(403, 'Origin not allowed');
      this.#upgradeError(err, request);
      return undefined;
    }
    return new WebSocketRequest<IncomingOf<O>>(request, channel, info, this.#context);
  }

  #chooseProtocol(request: WebSocketRequest<IncomingOf<O>>): string | undefined {
    if (this.#protocols === undefined) return undefined;
    return selectProtocol(request.requestedProtocols, this.#protocols);
  }

  /** Tracks a connection until it is gone (it tells us: no listener per connection). */
  #adopt(
    connection: WebSocketConnection<IncomingOf<O>>,
    request: WebSocketRequest<IncomingOf<O>>,
  ): void {
    this.#connections.add(connection);
    connection[ownedBy](this);
    this.emit('connect', connection);
    this.emit('connection', connection, request.httpRequest);
  }

  /** Called by an adopted connection once its transport is gone. */
  [connectionGone](connection: WebSocketConnection<IncomingOf<O>>): void {
    if (!this.#connections.delete(connection)) return;
    this.emit('close', connection, connection.closeCode, connection.closeReason);
  }

  /**
   * An async 'request' listener rejected (EventEmitter's captureRejections brings it here):
   * the request it left pending is answered 500 and the error reported, never left as an
   * unhandled rejection.
   */
  [Symbol.for('nodejs.rejection')](err: unknown, event: string | symbol, ...args: unknown[]): void {
    const request = event === 'request' ? args[0] : undefined;
    this.#handlerFailed(err, request instanceof WebSocketRequest ? request : undefined, undefined);
  }

  /**
   * Reports an application callback's failure: the handshake it concerned (if still
   * pending) is answered 500, and the error goes to 'error', or to a process warning when
   * nobody listens, so that a handler's bug never crashes the server.
   */
  #handlerFailed(
    err: unknown,
    request: WebSocketRequest<Incoming> | undefined,
    channel: HandshakeChannel | undefined,
  ): void {
    if (request !== undefined) request[serverReject](500, 'Internal Server Error');
    else if (channel !== undefined) channel.refuse(500);
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error, { code: 'WEBSOCKET_DUPLEX_HANDLER_ERROR' });
  }

  /** Reports an application's failure in a handler it mounted (the router's). */
  [handlerFailed](err: unknown, request: WebSocketRequest<Incoming> | undefined): void {
    this.#handlerFailed(err, request, undefined);
  }

  #upgradeError(error: WebSocketError, request: IncomingMessage): void {
    if (this.listenerCount('upgradeError') > 0) this.emit('upgradeError', error, request);
  }
}

function closeQuietly(
  connection: WebSocketConnection<Incoming>,
  code: number,
  reason: string,
): void {
  if (connection.destroyed || connection.writableEnded) return;
  connection.close(code, reason);
}
