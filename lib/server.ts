import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex as NodeDuplex } from 'node:stream';
import { type BroadcastOptions, broadcast as broadcastTo } from './broadcast.js';
import { extensionFactories } from './extensions/negotiation.js';
import { createOriginMatcher, type OriginMatcher } from './handshake/origin.js';
import {
  type RequestContext,
  serverReject,
  WebSocketRequest,
} from './handshake/server-handshake.js';
import {
  attachEndpoint,
  detachEndpoint,
  type HttpServerLike,
  requestPath,
  type UpgradeEndpoint,
} from './handshake/upgrade-dispatcher.js';
import { guardSocket, rejectUpgrade } from './handshake/upgrade-response.js';
import { CloseCode } from './protocol/close-codes.js';
import { HandshakeError, InvalidArgumentError, type WebSocketError } from './protocol/errors.js';
import { selectProtocol, validateUpgradeRequest } from './protocol/handshake.js';
import {
  connectionDefaults,
  milliseconds,
  type ShutDownOptions,
  type WebSocketServerOptions,
} from './server-options.js';
import type { WebSocketConnection } from './stream/websocket-connection.js';

export type { BroadcastOptions } from './broadcast.js';
export type { AllowedOrigins } from './handshake/origin.js';
export { WebSocketRequest, type WebSocketRequestState } from './handshake/server-handshake.js';
export type { HttpServerLike } from './handshake/upgrade-dispatcher.js';
export type {
  ShutDownOptions,
  WebSocketServerOptions,
} from './server-options.js';

type ServerState = 'open' | 'shuttingDown' | 'closed';

/**
 * Carries a broadcast beyond this process: broadcast() calls it with the message and its
 * options after the local delivery. A backplane (`websocket-duplex/redis`) installs one.
 */
export type BroadcastRelay = (data: string | Uint8Array, options: BroadcastOptions) => void;

/**
 * A WebSocket server over HTTP/1.1 (and HTTPS), in the manner of WebSocket-Node: it takes
 * the upgrades of one or several HTTP servers (or those the application hands it with
 * handleUpgrade), answers bad handshakes with the right HTTP error, and hands each valid
 * one to the application as a 'request' to accept or reject, at once or later.
 *
 * Events:
 * - 'request' (request: WebSocketRequest): a valid handshake awaiting accept() or reject().
 * - 'connect' (connection: WebSocketConnection): a connection was accepted.
 * - 'close' (connection, code, reason): a connection ended (as WebSocket-Node's server).
 * - 'upgradeError' (error: HandshakeError | WebSocketError, request: IncomingMessage): a
 *   handshake failed (bad request, refused origin, timeout, client gone). Informational:
 *   the answer is already sent, and nothing is thrown.
 * - 'error' (err): an application callback (a 'request' listener, `protocols` or
 *   `allowedOrigins` function) threw; without an 'error' listener the error is rethrown.
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
export class WebSocketServer extends EventEmitter implements UpgradeEndpoint {
  /** The path this server takes upgrades for (undefined: every path). */
  readonly path: string | undefined;
  readonly #httpServers: readonly HttpServerLike[];
  readonly #autoAccept: boolean;
  readonly #protocols: WebSocketServerOptions['protocols'];
  readonly #matchOrigin: OriginMatcher | undefined;
  readonly #gracePeriod: number;
  readonly #connections = new Set<WebSocketConnection>();
  readonly #pending = new Set<WebSocketRequest>();
  readonly #context: RequestContext;
  #state: ServerState = 'open';
  #shutDown: Promise<void> | undefined;
  #relay: BroadcastRelay | undefined;

  constructor(options: WebSocketServerOptions) {
    super();
    const servers = options.httpServer === undefined ? [] : [options.httpServer].flat();
    if (options.noServer === true && servers.length > 0) {
      throw new InvalidArgumentError('Give either httpServer or noServer: true, not both');
    }
    if (options.noServer !== true && servers.length === 0) {
      throw new InvalidArgumentError('httpServer is required unless noServer is true');
    }
    if (options.path !== undefined && !options.path.startsWith('/')) {
      throw new InvalidArgumentError(
        `path must start with '/', got ${JSON.stringify(options.path)}`,
      );
    }
    this.path = options.path;
    this.#autoAccept = options.autoAcceptConnections ?? false;
    this.#protocols = options.protocols;
    this.#matchOrigin =
      options.allowedOrigins !== undefined || options.requireOrigin === true
        ? createOriginMatcher(options.allowedOrigins ?? (() => true), {
            requireOrigin: options.requireOrigin ?? false,
          })
        : undefined;
    this.#gracePeriod = milliseconds(options.shutdownGracePeriod, 5_000, 'shutdownGracePeriod');
    const connectionOptions = connectionDefaults(options);
    this.#context = {
      connectionOptions,
      extensions: extensionFactories(options, 'server'),
      handshakeTimeout: milliseconds(options.handshakeTimeout, 10_000, 'handshakeTimeout'),
      onAccept: (connection) => this.#adopt(connection),
      onSettled: (request) => this.#pending.delete(request),
      onServerReject: (error, request) => this.#upgradeError(error, request.httpRequest),
    };
    this.#httpServers = servers;
    const attached: HttpServerLike[] = [];
    try {
      for (const server of servers) {
        attachEndpoint(server, this);
        attached.push(server);
      }
    } catch (err) {
      for (const server of attached) detachEndpoint(server, this);
      throw err;
    }
  }

  /**
   * Lists the open connections (a snapshot: the list does not change under a loop).
   *
   * @example for (const ws of wss.connections) ws.ping();
   */
  get connections(): WebSocketConnection[] {
    return [...this.#connections];
  }

  /**
   * Tells whether shutDown() was called (upgrades are then answered 503).
   *
   * @example if (wss.isShuttingDown) return;
   */
  get isShuttingDown(): boolean {
    return this.#state !== 'open';
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
   * @see RFC 6455 §4.2.1, §4.2.2
   * @example
   * ```ts
   * const wss = new WebSocketServer({ noServer: true, autoAcceptConnections: true });
   * app.server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
   * ```
   */
  handleUpgrade(
    request: IncomingMessage,
    socket: NodeDuplex,
    head: Buffer = Buffer.alloc(0),
  ): void {
    guardSocket(socket);
    let wsRequest: WebSocketRequest | undefined;
    try {
      if (!this.shouldHandle(request)) {
        rejectUpgrade(socket, 404, 'No WebSocket endpoint at this path');
        return;
      }
      if (this.#state !== 'open') {
        rejectUpgrade(socket, 503, 'Server shutting down');
        return;
      }
      wsRequest = this.#validate(request, socket, head);
      if (wsRequest === undefined) return;
      this.#pending.add(wsRequest);
      if (this.#autoAccept) {
        const protocol =
          this.#protocols === undefined
            ? undefined
            : selectProtocol(wsRequest.requestedProtocols, this.#protocols);
        wsRequest.accept(protocol);
      } else if (this.listenerCount('request') === 0) {
        wsRequest[serverReject](500, 'No handler for WebSocket requests');
      } else {
        this.emit('request', wsRequest);
      }
    } catch (err) {
      if (wsRequest === undefined) rejectUpgrade(socket, 500);
      else wsRequest[serverReject](500, 'Internal Server Error');
      if (this.listenerCount('error') > 0) this.emit('error', err);
      else throw err;
    }
  }

  /**
   * Sends one message to every open connection: `write(data)` on each, so that each
   * connection's own queue and backpressure apply, and a slow reader only grows its own
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
   * Shuts down gracefully: new upgrades are answered 503, requests awaiting a decision are
   * answered 503, every connection is closed with 1001 ('Server shutting down'); after the
   * grace period the connections still open are terminated. Then the server leaves its
   * HTTP servers (it does not close them: they may serve other things). Resolves once every
   * connection is gone; calling it again returns the same promise.
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
    const grace = milliseconds(options.gracePeriod, this.#gracePeriod, 'gracePeriod');
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
    for (const server of this.#httpServers) detachEndpoint(server, this);
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
    socket: NodeDuplex,
    head: Buffer,
  ): WebSocketRequest | undefined {
    let info: ReturnType<typeof validateUpgradeRequest>;
    try {
      info = validateUpgradeRequest({
        method: request.method,
        httpVersion: request.httpVersion,
        headers: request.headers,
        url: request.url,
      });
    } catch (err) {
      if (!(err instanceof HandshakeError)) throw err;
      rejectUpgrade(socket, err.status, err.message, err.headers);
      this.#upgradeError(err, request);
      return undefined;
    }
    if (this.#matchOrigin !== undefined && !this.#matchOrigin(info.origin, request)) {
      const err = new HandshakeError(`Origin not allowed: ${info.origin ?? '(none)'}`, 403);
      rejectUpgrade(socket, 403, 'Origin not allowed');
      this.#upgradeError(err, request);
      return undefined;
    }
    return new WebSocketRequest(request, socket, head, info, this.#context);
  }

  /**
   * Tracks a connection until it is gone. Its end is taken from the first of its own
   * 'close' and its transport's 'close', so that a connection whose readable side nobody
   * consumes (a broadcast-only application) still leaves the list.
   */
  #adopt(connection: WebSocketConnection): void {
    this.#connections.add(connection);
    const gone = (): void => {
      if (!this.#connections.delete(connection)) return;
      connection.removeListener('close', gone);
      connection.transport.removeListener('close', gone);
      this.emit('close', connection, connection.closeCode, connection.closeReason);
    };
    connection.once('close', gone);
    connection.transport.once('close', gone);
    this.emit('connect', connection);
  }

  #upgradeError(error: WebSocketError, request: IncomingMessage): void {
    if (this.listenerCount('upgradeError') > 0) this.emit('upgradeError', error, request);
  }
}

function closeQuietly(connection: WebSocketConnection, code: number, reason: string): void {
  if (connection.destroyed || connection.writableEnded) return;
  connection.close(code, reason);
}
