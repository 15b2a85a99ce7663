import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex as NodeDuplex } from 'node:stream';
import { channels } from '../diagnostics.js';
import type { Extension, ExtensionFactory } from '../extensions/extension.js';
import { negotiateExtensions } from '../extensions/negotiation.js';
import {
  ErrorCode,
  type HeaderMap,
  InvalidArgumentError,
  WebSocketError,
} from '../protocol/errors.js';
import {
  buildAcceptResponse,
  buildRejectResponse,
  type UpgradeRequestInfo,
} from '../protocol/handshake.js';
import type { ExtensionOffer } from '../protocol/header-parser.js';
import type { Incoming, Message } from '../stream/connection-events.js';
import type { ResolvedConnectionOptions } from '../stream/connection-options.js';
import { WebSocketConnection } from '../stream/websocket-connection.js';
import {
  endWithResponse,
  guardSocket,
  publishServerHandshake,
  rejectUpgrade,
  unguardSocket,
} from './upgrade-response.js';

/** What a server gives each request: defaults for its connection, and where to report. */
export interface RequestContext {
  /** Tunables of the connection that accept() creates (the server's, resolved once). */
  connectionOptions: ResolvedConnectionOptions;
  /** The extensions the server speaks, negotiated at accept(). */
  extensions: readonly ExtensionFactory[];
  /** Time, in ms, the application has to accept or reject. 0 or Infinity: no limit. */
  handshakeTimeout: number;
  /** Called once a connection is made from this request. */
  onAccept(connection: WebSocketConnection, request: WebSocketRequest<Incoming>): void;
  /** Called once when the request stops being pending, however that happened. */
  onSettled(request: WebSocketRequest<Incoming>): void;
  /** Called when the server (not the application) fails the handshake: timeout, client gone. */
  onServerReject(error: WebSocketError, request: WebSocketRequest<Incoming>): void;
}

/** What an accepting answer says, whichever protocol carries it. */
export interface AcceptAnswer {
  /** The client's key (HTTP/1.1; '' over HTTP/2, where it is not used). */
  key: string;
  protocol: string | undefined;
  /** The agreed extensions, formatted for Sec-WebSocket-Extensions ('' for none). */
  extensions: string | undefined;
  headers: HeaderMap | undefined;
}

/**
 * How a request answers its client: written on an HTTP/1.1 upgrade's socket (the 101, or
 * an error response, then the socket closed) or sent on an HTTP/2 stream (a 200 or an error
 * status, RFC 8441 §5). Everything else about a request is the same over both.
 */
export interface HandshakeChannel {
  /** What the connection will run over: the socket, or the HTTP/2 stream. */
  readonly transport: NodeDuplex;
  /** The client's address (undefined over a Unix socket). */
  readonly remoteAddress: string | undefined;
  /** Whether the connection is encrypted (the scheme of resourceURL: wss: or ws:). */
  readonly secure: boolean;
  /** The status that accepts: 101 over HTTP/1.1, 200 over HTTP/2 (RFC 8441 §5). */
  readonly acceptStatus: number;
  /** Gives the bytes that came with the request and belong to the connection (HTTP/1.1's `head`), once. */
  takeHead(): Buffer | undefined;
  /**
   * Checks and builds the accepting answer, throwing InvalidArgumentError on bad input
   * before anything is sent; returns what sends it.
   */
  prepareAccept(answer: AcceptAnswer): () => void;
  /** Checks and builds a refusal (throwing InvalidArgumentError first); returns what sends it. */
  prepareReject(status: number, reason?: string, headers?: HeaderMap): () => void;
  /** Refuses on the server's behalf (a bad request, 500 for a bad argument, 503...); never throws. */
  refuse(status: number, reason?: string, headers?: HeaderMap): void;
  /** Drops the transport: the client went away. */
  drop(): void;
  /** Makes the transport ready for the connection, just before it is made. */
  prepareTransport(closeTimeout: number): void;
}

/**
 * Answers over HTTP/1.1: the upgrade's socket, its `head`, and answers written as raw
 * HTTP on the socket (node:http writes nothing after 'upgrade').
 *
 * @see RFC 6455 §4.2.2
 */
export class UpgradeChannel implements HandshakeChannel {
  readonly transport: NodeDuplex;
  readonly remoteAddress: string | undefined;
  readonly secure: boolean;
  readonly acceptStatus = 101;
  #head: Buffer | undefined;
  /** The requested resource, for diagnostics_channel subscribers. */
  readonly #url: string | undefined;

  constructor(socket: NodeDuplex, head: Buffer, url?: string) {
    this.transport = socket;
    this.#url = url;
    this.#head = head.length > 0 ? head : undefined;
    this.remoteAddress = (socket as Partial<net.Socket>).remoteAddress;
    this.secure = (socket as { encrypted?: boolean }).encrypted === true;
  }

  takeHead(): Buffer | undefined {
    const head = this.#head;
    this.#head = undefined;
    return head;
  }

  prepareAccept(answer: AcceptAnswer): () => void {
    const head = buildAcceptResponse(answer);
    return () => {
      (this.transport as Partial<net.Socket>).setTimeout?.(0);
      this.transport.write(head);
    };
  }

  prepareReject(status: number, reason?: string, headers?: HeaderMap): () => void {
    const response = buildRejectResponse(status, reason, headers);
    return () => endWithResponse(this.transport, response, this.#url);
  }

  refuse(status: number, reason?: string, headers?: HeaderMap): void {
    rejectUpgrade(this.transport, status, reason, headers, this.#url);
  }

  drop(): void {
    this.transport.destroy();
  }

  prepareTransport(): void {}
}

/** Who settled a request: the application (a second call is a bug) or the server. */
type SettledBy = 'application' | 'server';

/** The state of a {@link WebSocketRequest}. */
export type WebSocketRequestState = 'pending' | 'accepted' | 'rejected';

/** Lets the server fail a pending request without exposing the means to applications. */
export const serverReject: unique symbol = Symbol('serverReject');

/**
 * A valid opening handshake waiting for the application's decision, as WebSocket-Node's
 * 'request' event hands it out. The decision may come later (after an authentication
 * lookup): until it does, nobody reads the socket, so the bytes a client sends meanwhile
 * wait in the socket's buffer, and the upgrade's `head` is kept; both are handed to the
 * connection, in order, when it is accepted.
 *
 * Events: 'requestAccepted' (connection), 'requestRejected' (status).
 *
 * @see RFC 6455 §4.2.1 (reading the client's handshake), §4.2.2 (answering it)
 * @example
 * ```ts
 * wss.on('request', async (request) => {
 *   if (!(await isAllowed(request.httpRequest))) return request.reject(401, 'Who are you?');
 *   const ws = request.accept('chat.v1');
 *   ws.pipe(ws);
 * });
 * ```
 */
/** A request's events. */
export interface WebSocketRequestEvents<In extends Incoming = Message> {
  /** accept() made this connection. */
  requestAccepted(connection: WebSocketConnection<In>): void;
  /** The request was refused with this HTTP status (0: the client went away). */
  requestRejected(status: number): void;
}

// The typed EventEmitter methods of the class below (see TypedEmitter in stream/typed-events).
export interface WebSocketRequest<In extends Incoming = Message> {
  on<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  once<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  addListener<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  prependListener<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  prependOnceListener<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  off<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  removeListener<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    listener: WebSocketRequestEvents<In>[E],
  ): this;
  emit<E extends keyof WebSocketRequestEvents<In>>(
    event: E,
    ...args: Parameters<WebSocketRequestEvents<In>[E]>
  ): boolean;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above.
export class WebSocketRequest<In extends Incoming = Message> extends EventEmitter {
  /** The HTTP request of the upgrade. */
  readonly httpRequest: IncomingMessage;
  /** The request target as sent, e.g. '/chat?room=1'. */
  readonly resource: string;
  /** The request target resolved against the Host, with a ws: or wss: scheme. */
  readonly resourceURL: URL;
  /** The Host header. */
  readonly host: string;
  /** The Origin header (Sec-WebSocket-Origin from old clients), undefined without one. */
  readonly origin: string | undefined;
  /** The subprotocols the client offers, in its order of preference. */
  readonly requestedProtocols: readonly string[];
  /** The extensions the client offers, in its order of preference. */
  readonly requestedExtensions: readonly ExtensionOffer[];
  /** The client's address (undefined over a Unix socket). */
  readonly remoteAddress: string | undefined;
  /** The Sec-WebSocket-Key, as sent. */
  readonly key: string;
  /** The protocol version the client speaks (13, the only one accepted). */
  readonly webSocketVersion: number;
  readonly #channel: HandshakeChannel;
  readonly #context: RequestContext;
  #state: WebSocketRequestState = 'pending';
  #settledBy: SettledBy | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onSocketClose = (): void => {
    this.#fail(
      new WebSocketError(
        ErrorCode.Handshake,
        'The client went away before the request was answered',
      ),
    );
  };

  /**
   * @param channel how the request is answered: `new UpgradeChannel(socket, head)` over
   *   HTTP/1.1, an Http2StreamChannel over HTTP/2 (lib/handshake/http2-server.ts).
   */
  constructor(
    httpRequest: IncomingMessage,
    channel: HandshakeChannel,
    info: UpgradeRequestInfo,
    context: RequestContext,
  ) {
    super();
    this.httpRequest = httpRequest;
    this.#channel = channel;
    this.#context = context;
    this.resource = info.resource;
    this.host = info.host;
    this.origin = info.origin;
    this.requestedProtocols = info.protocols;
    this.requestedExtensions = info.extensions;
    this.key = info.key;
    this.webSocketVersion = info.version;
    this.remoteAddress = channel.remoteAddress;
    this.resourceURL = resolveResource(info.resource, channel.secure ? 'wss' : 'ws', info.host);
    guardSocket(channel.transport);
    channel.transport.once('close', this.#onSocketClose);
    const timeout = context.handshakeTimeout;
    if (timeout > 0 && Number.isFinite(timeout)) {
      this.#timer = setTimeout(() => this.#timeout(), timeout);
      this.#timer.unref();
    }
  }

  /**
   * Tells whether the request still waits for accept() or reject(), or which it got (the
   * server may have rejected it meanwhile: timeout, shutdown, client gone).
   *
   * @example if (request.state === 'pending') request.accept();
   */
  get state(): WebSocketRequestState {
    return this.#state;
  }

  /**
   * Accepts the request: writes the 101 answer and returns the connection, which takes the
   * upgrade's `head` and everything the client sent since. `protocol` must be one the client
   * offered (see requestedProtocols); undefined, null or '' means none, and then no
   * Sec-WebSocket-Protocol header is sent (an empty one would fail the client). `headers`
   * are added to the 101 (Set-Cookie, say). `origin` is accepted for WebSocket-Node's
   * signature and not used: an RFC 6455 answer carries no origin.
   *
   * A bad argument (a protocol the client did not offer, a header that would break the
   * answer) answers 500 and throws InvalidArgumentError, as WebSocket-Node does. Accepting
   * a request the application already settled throws; accepting one the server settled
   * meanwhile (handshake timeout, shutdown, the client went away) returns a connection
   * that is already closed (1006) instead, so that a late decision cannot crash an async
   * handler.
   *
   * @see RFC 6455 §4.2.2 (item 5), §1.9 (subprotocols)
   * @example
   * const ws = request.accept(request.requestedProtocols.includes('chat') ? 'chat' : undefined);
   */
  accept(
    protocol?: string | null,
    origin?: string | null,
    headers?: HeaderMap,
  ): WebSocketConnection<In> {
    void origin;
    const chosen =
      protocol === undefined || protocol === null || protocol === '' ? undefined : protocol;
    if (this.#state !== 'pending') return this.#late('accept', chosen);
    let send: () => void;
    let extensions: Extension[] = [];
    const channel = this.#channel;
    try {
      if (chosen !== undefined && !this.requestedProtocols.includes(chosen)) {
        throw new InvalidArgumentError(
          `Subprotocol ${JSON.stringify(chosen)} was not requested by the client`,
        );
      }
      const agreed = negotiateExtensions(this.#context.extensions, this.requestedExtensions);
      extensions = agreed.extensions;
      send = channel.prepareAccept({
        key: this.key,
        protocol: chosen,
        extensions: agreed.header,
        headers,
      });
    } catch (err) {
      for (const extension of extensions) extension.dispose();
      this.#settle('rejected', 'application');
      channel.refuse(500);
      this.emit('requestRejected', 500);
      throw err;
    }
    const socket = channel.transport;
    if (socket.destroyed || !socket.writable) {
      for (const extension of extensions) extension.dispose();
      this.#settle('accepted', 'application');
      return deadConnection(this.#context.connectionOptions, chosen) as WebSocketConnection<In>;
    }
    this.#settle('accepted', 'application');
    send();
    const options = this.#context.connectionOptions;
    channel.prepareTransport(options.closeTimeout);
    if (channels.handshakeEnd.hasSubscribers) {
      const names = extensions.map((extension) => extension.name);
      publishServerHandshake(channel, channel.acceptStatus, this.resource, chosen ?? '', names);
    }
    const connection = new WebSocketConnection(socket, {
      role: 'server',
      resolved: options,
      protocol: chosen ?? '',
      head: channel.takeHead(),
      extensions,
    });
    unguardSocket(socket);
    const typed = connection as WebSocketConnection<In>;
    this.emit('requestAccepted', typed);
    this.#context.onAccept(connection, this);
    return typed;
  }

  /**
   * Refuses the request with an HTTP error (403 by default, as WebSocket-Node), `reason` as
   * a short text/plain body and `headers` added (WWW-Authenticate for a 401, say), then
   * closes the socket. Rejecting a request the application already settled throws; one the
   * server settled meanwhile is left alone.
   *
   * @see RFC 6455 §4.2.2 (item 4)
   * @example request.reject(401, 'Token expired', { 'www-authenticate': 'Bearer' });
   */
  reject(status = 403, reason?: string, headers?: HeaderMap): void {
    if (this.#state !== 'pending') {
      this.#late('reject');
      return;
    }
    let send: () => void;
    try {
      send = this.#channel.prepareReject(status, reason, headers);
    } catch (err) {
      this.#settle('rejected', 'application');
      this.#channel.refuse(500);
      this.emit('requestRejected', 500);
      throw err;
    }
    this.#settle('rejected', 'application');
    send();
    this.emit('requestRejected', status);
  }

  /** Fails a pending request on the server's behalf (shutdown: 503). */
  [serverReject](status: number, reason: string): void {
    if (this.#state !== 'pending') return;
    this.#settle('rejected', 'server');
    this.#channel.refuse(status, reason);
    this.emit('requestRejected', status);
  }

  #timeout(): void {
    if (this.#state !== 'pending') return;
    // 503 rather than 408: the client sent its whole request in time; it is this server
    // that did not decide, and 408 would blame the client. @see RFC 9110 §15.6.4
    this.#settle('rejected', 'server');
    this.#channel.refuse(503, 'Handshake timed out');
    this.emit('requestRejected', 503);
    this.#context.onServerReject(
      new WebSocketError(
        ErrorCode.HandshakeTimeout,
        'The request was neither accepted nor rejected in time',
      ),
      this,
    );
  }

  #fail(error: WebSocketError): void {
    if (this.#state !== 'pending') return;
    this.#settle('rejected', 'server');
    this.#channel.drop();
    if (channels.handshakeEnd.hasSubscribers) {
      publishServerHandshake(this.#channel, 0, this.resource, undefined, [], error);
    }
    this.emit('requestRejected', 0);
    this.#context.onServerReject(error, this);
  }

  #late(action: 'accept' | 'reject', protocol?: string): WebSocketConnection<In> {
    if (this.#settledBy === 'application') {
      throw new InvalidArgumentError(
        `Cannot ${action} a WebSocket request that was already ${this.#state}: accept or reject it once`,
      );
    }
    return deadConnection(this.#context.connectionOptions, protocol) as WebSocketConnection<In>;
  }

  #settle(state: WebSocketRequestState, by: SettledBy): void {
    this.#state = state;
    this.#settledBy = by;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#channel.transport.removeListener('close', this.#onSocketClose);
    this.#context.onSettled(this);
  }
}

/**
 * Gives the connection that a late accept() returns: one that is already closed (1006),
 * over a socket that never connected, so the real socket is not touched again.
 */
function deadConnection(
  options: ResolvedConnectionOptions,
  protocol: string | undefined,
): WebSocketConnection {
  const socket = new net.Socket();
  socket.destroy();
  const connection = new WebSocketConnection(socket, {
    role: 'server',
    resolved: options,
    protocol: protocol ?? '',
  });
  connection.destroy();
  return connection;
}

function resolveResource(resource: string, scheme: string, host: string): URL {
  try {
    return new URL(resource, `${scheme}://${host}`);
  } catch {
    return new URL(`${scheme}://localhost/`);
  }
}
