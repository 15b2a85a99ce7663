import http, {
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex as NodeDuplex } from 'node:stream';
import tls from 'node:tls';
import {
  channels,
  type HandshakeStartMessage,
  publishClientHandshakeEnd,
  publishClientHandshakeFailure,
} from '../diagnostics.js';
import type { Extension, ExtensionFactory } from '../extensions/extension.js';
import {
  acceptExtensions,
  extensionFactories,
  offerExtensions,
  offeredNames,
} from '../extensions/negotiation.js';
import {
  ErrorCode,
  HandshakeError,
  type HeaderMap,
  InvalidArgumentError,
} from '../protocol/errors.js';
import { generateKey, validateUpgradeResponse } from '../protocol/handshake.js';
import type { ResolvedConnectionOptions } from '../stream/connection-options.js';
import { WebSocketConnection } from '../stream/websocket-connection.js';
import {
  type ClientOptions,
  checkHeaders,
  checkProtocols,
  connectionOptionsOf,
  count,
  positive,
} from './client-options.js';
import { type ClientTarget, parseClientUrl, resolveRedirect } from './client-url.js';
import { http2ClientHandshake } from './http2-client.js';
import { checkProxyOption, openTunnel, type ProxyRoute, proxyFor } from './proxy.js';

export type { ClientOptions } from './client-options.js';

/** Lets the caller take over a non-101 answer (WebSocketClient's 'httpResponse'). */
export interface ClientHandshakeHooks {
  /** Returns true to take the response (and read it); the handshake then fails quietly. */
  onHttpResponse?(response: IncomingMessage): boolean;
}

/**
 * Set (to true) on a client's options by the web APIs: they resolve with a connection even
 * when the bytes that came with its 101 already failed it, because a browser fires 'open'
 * (the handshake succeeded) before 'error' and 'close'. A registered symbol, so that the
 * web entry needs no private import; not part of the public options.
 *
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
 */
const KEEP_FAILED_CONNECTION = Symbol.for('websocket-duplex.keepFailedConnection');

function keepsFailedConnection(options: ClientOptions): boolean {
  return (options as Record<symbol, unknown>)[KEEP_FAILED_CONNECTION] === true;
}

/** The most of a refusal's body kept in HandshakeError.body. */
export const MAX_BODY_EXCERPT = 1024;

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Credentials that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
]);

/**
 * Runs a client's opening handshake: sends the upgrade request (following redirects when
 * asked), validates the 101 strictly, and resolves with the connection, which takes the
 * bytes that came with the 101. Invalid arguments reject with InvalidArgumentError; a
 * failed handshake with HandshakeError (`status` 0 for a network or TLS failure, with the
 * `cause`; the status received otherwise, with headers and up to 1 KiB of body); an abort
 * with the signal's reason.
 *
 * @see RFC 6455 §4.1 (client requirements)
 * @example
 * const ws = await clientHandshake('wss://example.com/chat', { protocols: ['chat.v1'] });
 */
export function clientHandshake(
  url: string | URL,
  options: ClientOptions = {},
  hooks: ClientHandshakeHooks = {},
): Promise<WebSocketConnection> {
  const http1 = (given: ClientOptions): Promise<WebSocketConnection> =>
    new Promise((resolve, reject) => {
      new ClientHandshake(url, given, hooks, resolve, reject).start();
    });
  // HTTP/2 (RFC 8441) when asked for, with HTTP/1.1 as its fallback: see http2-client.ts.
  if (options?.http2 !== undefined && options.http2 !== false) {
    return http2ClientHandshake(url, options, http1);
  }
  return http1(options);
}

/** One handshake attempt and its redirects; settles exactly once. */
class ClientHandshake {
  readonly #options: ClientOptions;
  readonly #hooks: ClientHandshakeHooks;
  readonly #resolve: (connection: WebSocketConnection) => void;
  readonly #reject: (err: unknown) => void;
  readonly #protocols: string[];
  readonly #connectionOptions: ResolvedConnectionOptions;
  readonly #headers: OutgoingHttpHeaders;
  readonly #timeout: number;
  readonly #maxRedirects: number;
  #target: ClientTarget;
  #servername: string | undefined;
  #redirects = 0;
  #settled = false;
  #request: ClientRequest | undefined;
  /** The CONNECT request to a proxy, while the tunnel is being made. */
  #tunnel: ClientRequest | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = 0;
  readonly #extensions: readonly ExtensionFactory[];
  readonly #onAbort = (): void => {
    const signal = this.#options.signal;
    this.#fail(signal?.reason ?? new HandshakeError('The opening handshake was aborted', 0));
  };

  constructor(
    url: string | URL,
    options: ClientOptions,
    hooks: ClientHandshakeHooks,
    resolve: (connection: WebSocketConnection) => void,
    reject: (err: unknown) => void,
  ) {
    this.#options = options;
    this.#hooks = hooks;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#target = parseClientUrl(url);
    this.#protocols = checkProtocols(options.protocols);
    this.#headers = checkHeaders(options.headers);
    this.#servername = options.servername;
    this.#timeout = positive(options.handshakeTimeout, 10_000, 'handshakeTimeout');
    this.#maxRedirects = count(options.maxRedirects, 10, 'maxRedirects');
    this.#connectionOptions = connectionOptionsOf(options);
    this.#extensions = extensionFactories(options, 'client');
    checkProxyOption(options.proxy);
    if (options.proxy !== undefined && options.proxy !== false && options.agent) {
      throw new InvalidArgumentError('Give either agent or proxy, not both');
    }
  }

  start(): void {
    this.#started = Date.now();
    const signal = this.#options.signal;
    if (signal?.aborted) {
      process.nextTick(this.#onAbort);
      return;
    }
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#timer = setTimeout(() => {
      this.#fail(
        new HandshakeError(`The opening handshake timed out after ${this.#timeout} ms`, 0, {
          code: ErrorCode.HandshakeTimeout,
        }),
      );
    }, this.#timeout);
    this.#route();
  }

  /**
   * Sends the request to the current target: straight, or through the tunnel an HTTP proxy
   * makes for it (asked for again for each redirect, whose target may be another host).
   */
  #route(): void {
    let route: ProxyRoute | undefined;
    try {
      route = proxyFor(this.#options.proxy, this.#target);
    } catch (err) {
      this.#fail(err);
      return;
    }
    if (this.#redirects === 0 && channels.handshakeStart.hasSubscribers) {
      channels.handshakeStart.publish({
        role: 'client',
        url: this.#target.href,
        proxy: route?.display,
      } satisfies HandshakeStartMessage);
    }
    if (route === undefined) {
      this.#send(undefined);
      return;
    }
    const target = this.#target;
    this.#tunnel = openTunnel(route, target, (err, socket) => {
      this.#tunnel = undefined;
      if (err !== undefined || socket === undefined) {
        this.#fail(err);
        return;
      }
      if (this.#settled || target !== this.#target) {
        socket.destroy();
        return;
      }
      this.#send(target.secure ? this.#secureTunnel(socket) : socket);
    });
  }

  /** Wraps a proxy's tunnel in TLS to the target (wss:), checked as a direct connection is. */
  #secureTunnel(socket: NodeDuplex): NodeDuplex {
    const target = this.#target;
    const options: tls.ConnectionOptions = { socket, host: target.host };
    this.#addTlsOptions(options);
    if (options.servername === undefined && isIP(target.host) === 0) {
      options.servername = target.host;
    }
    return tls.connect(options);
  }

  #send(tunnel: NodeDuplex | undefined): void {
    const target = this.#target;
    const key = generateKey();
    const headers: OutgoingHttpHeaders = {
      ...this.#headers,
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
    };
    if (this.#protocols.length > 0) headers['Sec-WebSocket-Protocol'] = this.#protocols.join(', ');
    if (this.#options.origin !== undefined) headers.Origin = this.#options.origin;
    const offer = offerExtensions(this.#extensions);
    if (offer !== undefined) headers['Sec-WebSocket-Extensions'] = offer;
    const requestOptions: https.RequestOptions = {
      ...this.#options.requestOptions,
      method: 'GET',
      host: target.host,
      port: target.port,
      path: target.path,
      headers,
      agent: this.#options.agent ?? false,
    };
    if (target.socketPath !== undefined) requestOptions.socketPath = target.socketPath;
    if (target.auth !== undefined) requestOptions.auth = target.auth;
    if (target.secure) this.#addTlsOptions(requestOptions);
    if (tunnel !== undefined) {
      // node:http uses createConnection only without an agent (`false` makes a fresh one).
      delete requestOptions.agent;
      requestOptions.createConnection = () => tunnel;
    }
    let request: ClientRequest;
    try {
      request = (target.secure ? https : http).request(requestOptions);
    } catch (err) {
      this.#fail(new InvalidArgumentError(`Cannot send the request: ${(err as Error).message}`));
      return;
    }
    this.#request = request;
    request.on('error', (err) => {
      if (request !== this.#request) return; // a request left behind by a redirect
      this.#fail(
        new HandshakeError(`Could not connect to ${target.href}: ${err.message}`, 0, {
          code: ErrorCode.ConnectFailed,
          cause: err,
        }),
      );
    });
    request.on('upgrade', (response: IncomingMessage, socket: NodeDuplex, head: Buffer) => {
      this.#onUpgrade(response, socket, head, key);
    });
    request.on('response', (response: IncomingMessage) => {
      if (request === this.#request) this.#onResponse(response, key);
      else response.destroy();
    });
    request.end();
  }

  #addTlsOptions(requestOptions: https.RequestOptions | tls.ConnectionOptions): void {
    const options = this.#options;
    for (const name of ['ca', 'cert', 'key', 'passphrase', 'pfx', 'rejectUnauthorized'] as const) {
      if (options[name] !== undefined) Object.assign(requestOptions, { [name]: options[name] });
    }
    if (this.#servername !== undefined) requestOptions.servername = this.#servername;
  }

  /** Validates the 101 (RFC 6455 §4.1, items 1-6) and makes the connection. */
  #onUpgrade(response: IncomingMessage, socket: NodeDuplex, head: Buffer, key: string): void {
    socket.on('error', ignoreError);
    if (this.#settled) {
      socket.destroy();
      return;
    }
    let protocol: string | undefined;
    let extensions: Extension[];
    try {
      const answer = validateUpgradeResponse(responseLike(response), {
        key,
        offeredProtocols: this.#protocols,
        offeredExtensions: offeredNames(this.#extensions),
      });
      protocol = answer.protocol;
      extensions = acceptExtensions(this.#extensions, answer.extensions);
    } catch (err) {
      socket.destroy();
      this.#fail(err);
      return;
    }
    this.#cleanUp();
    this.#settled = true;
    if (channels.handshakeEnd.hasSubscribers) {
      const agreed = extensions.map((e) => e.name);
      publishClientHandshakeEnd(
        this.#target.href,
        this.#started,
        101,
        undefined,
        protocol ?? '',
        agreed,
      );
    }
    const connection = new WebSocketConnection(socket, {
      role: 'client',
      resolved: this.#connectionOptions,
      protocol: protocol ?? '',
      url: this.#target.href,
      head,
      extensions,
    });
    socket.removeListener('error', ignoreError);
    // The bytes that came with the 101 were read at once: if they broke a rule, the
    // connection is already failed, before anyone could listen to it. The caller learns it
    // here, from the promise, rather than from events that fired before it had the object.
    const failure = connection.closeError;
    if (failure !== undefined && connection.destroyed && !keepsFailedConnection(this.#options)) {
      this.#reject(failure);
      return;
    }
    this.#resolve(connection);
  }

  #onResponse(response: IncomingMessage, key: string): void {
    if (this.#settled) {
      response.destroy();
      return;
    }
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (
      REDIRECT_STATUSES.has(status) &&
      this.#options.followRedirects === true &&
      location !== undefined
    ) {
      response.resume();
      this.#redirect(status, location, response.headers);
      return;
    }
    if (status === 101) {
      // A 101 that node:http did not take as an upgrade lacks the upgrade headers.
      try {
        validateUpgradeResponse(responseLike(response), {
          key,
          offeredProtocols: this.#protocols,
          offeredExtensions: offeredNames(this.#extensions),
        });
        this.#fail(new HandshakeError('Invalid 101 response', 101, { headers: response.headers }));
      } catch (err) {
        this.#fail(err);
      }
      response.destroy();
      return;
    }
    if (this.#hooks.onHttpResponse?.(response) === true) {
      this.#fail(
        new HandshakeError(`Unexpected server response: ${status}`, status, {
          headers: response.headers,
        }),
        false,
      );
      return;
    }
    readExcerpt(response, (body) => {
      const hint = REDIRECT_STATUSES.has(status)
        ? ' (redirect not followed: followRedirects is off)'
        : '';
      this.#fail(
        new HandshakeError(`Unexpected server response: ${status}${hint}`, status, {
          headers: response.headers,
          body,
        }),
      );
    });
  }

  /** Follows a redirect, dropping credentials when the origin changes. */
  #redirect(status: number, location: string, headers: HeaderMap): void {
    this.#request?.destroy();
    this.#redirects++;
    if (this.#redirects > this.#maxRedirects) {
      this.#fail(
        new HandshakeError(`Too many redirects (more than ${this.#maxRedirects})`, status, {
          headers,
        }),
      );
      return;
    }
    let next: ClientTarget;
    try {
      next = resolveRedirect(location, this.#target);
    } catch (err) {
      this.#fail(new HandshakeError((err as Error).message, status, { headers, cause: err }));
      return;
    }
    if (next.originKey !== this.#target.originKey) {
      for (const name of Object.keys(this.#headers)) {
        if (CREDENTIAL_HEADERS.has(name.toLowerCase())) delete this.#headers[name];
      }
      if (next.host !== this.#target.host) this.#servername = undefined;
    } else if (next.auth === undefined) {
      next = { ...next, auth: this.#target.auth };
    }
    this.#target = next;
    this.#route();
  }

  #cleanUp(): void {
    clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
  }

  #fail(err: unknown, destroyRequest = true): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#cleanUp();
    this.#tunnel?.destroy();
    if (destroyRequest) this.#request?.destroy();
    if (channels.handshakeEnd.hasSubscribers) {
      publishClientHandshakeFailure(this.#target.href, this.#started, err);
    }
    this.#reject(err);
  }
}

function ignoreError(): void {}

/** Gives the parts of a response that the 101 checks read. */
function responseLike(response: IncomingMessage): {
  statusCode: number | undefined;
  headers: HeaderMap;
} {
  return { statusCode: response.statusCode, headers: response.headers };
}

/** Reads at most MAX_BODY_EXCERPT bytes of a refusal's body, then lets go of it. */
function readExcerpt(response: IncomingMessage, done: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    response.destroy();
    done(Buffer.concat(chunks, size).toString('utf8'));
  };
  response.on('data', (chunk: Buffer) => {
    const room = MAX_BODY_EXCERPT - size;
    chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(room, chunk.length);
    if (size >= MAX_BODY_EXCERPT) finish();
  });
  response.on('end', finish);
  response.on('error', finish);
  response.on('close', finish);
}
