import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  IncomingHttpHeaders,
  IncomingHttpStatusHeader,
  SecureClientSessionOptions,
} from 'node:http2';
import {
  channels,
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
import {
  buildExtendedConnectRequest,
  type Http2HeaderBlock,
  validateExtendedConnectResponse,
} from '../protocol/extended-connect.js';
import type { ResolvedConnectionOptions } from '../stream/connection-options.js';
import { WebSocketConnection } from '../stream/websocket-connection.js';
import {
  type ClientOptions,
  checkHeaders,
  checkProtocols,
  connectionOptionsOf,
  positive,
} from './client-options.js';
import { type ClientTarget, parseClientUrl } from './client-url.js';
import {
  extendedConnectVerdict,
  type SessionLease,
  type SessionTarget,
  sessionPool,
  unixConnector,
} from './http2-session-pool.js';
import { cancelStream, prepareHttp2Transport } from './http2-transport.js';
import { proxyFor } from './proxy.js';

/**
 * How a client uses HTTP/2 (the `http2` option): `true` tries an extended CONNECT on the
 * pool's session for the origin and falls back to HTTP/1.1 when the server does not allow
 * it; 'require' never falls back; a ClientHttp2Session of the application's is used as
 * given (and never falls back either: a session given is a decision made).
 */
export type Http2Choice = boolean | 'require' | ClientHttp2Session;

/** What a client's `http2` option resolves to. */
type Http2Mode =
  | { kind: 'pool'; require: boolean }
  | { kind: 'session'; session: ClientHttp2Session };

/** The most of a refusal's body kept in HandshakeError.body (as over HTTP/1.1). */
const MAX_BODY_EXCERPT = 1024;

/** Options of requestOptions that describe an HTTP request, not a connection. */
const HTTP_ONLY_OPTIONS: ReadonlySet<string> = new Set([
  'agent',
  'auth',
  'createConnection',
  'defaultPort',
  'headers',
  'host',
  'hostname',
  'insecureHTTPParser',
  'joinDuplicateHeaders',
  'maxHeaderSize',
  'method',
  'path',
  'port',
  'protocol',
  'setHost',
  'signal',
  'socketPath',
  'timeout',
  'uniqueHeaders',
]);

const TLS_OPTIONS = ['ca', 'cert', 'key', 'passphrase', 'pfx', 'rejectUnauthorized'] as const;

/**
 * Reads the `http2` option: undefined when HTTP/2 is not asked for (absent or false).
 * Anything else than true, false, 'require' or a client session throws InvalidArgumentError.
 *
 * @example http2ModeOf({ http2: 'require' }) // { kind: 'pool', require: true }
 */
function http2ModeOf(options: ClientOptions): Http2Mode | undefined {
  const value: unknown = options.http2;
  if (value === undefined || value === false) return undefined;
  if (value === true) return { kind: 'pool', require: false };
  if (value === 'require') return { kind: 'pool', require: true };
  if (isClientSession(value)) return { kind: 'session', session: value };
  throw new InvalidArgumentError(
    `http2 must be true, false, 'require' or a ClientHttp2Session, got ${describe(value)}`,
  );
}

function isClientSession(value: unknown): value is ClientHttp2Session {
  if (value === null || typeof value !== 'object') return false;
  const session = value as Partial<ClientHttp2Session>;
  return (
    typeof session.request === 'function' &&
    typeof session.ping === 'function' &&
    typeof session.settings === 'function'
  );
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}

/**
 * Runs a client's handshake over HTTP/2 (RFC 8441): takes a session (the pool's for the
 * origin, or the one given), waits until the peer is known to allow extended CONNECT (RFC
 * 8441 §3), sends the extended CONNECT on a new stream, checks the 2xx answer, and resolves
 * with the connection over that stream. With `http2: true`, a peer that does not speak
 * HTTP/2 or refuses extended CONNECT is tried again over HTTP/1.1 with `fallback`, given
 * the time left of `handshakeTimeout`; with 'require' or a session, that is a HandshakeError
 * (status 0, code ERR_WS_HTTP2_UNAVAILABLE). An answer that is not 2xx fails as over
 * HTTP/1.1: HandshakeError with its status, headers and up to 1 KiB of body.
 *
 * @see RFC 8441 §3, §4, §5
 * @example
 * const ws = await http2ClientHandshake('wss://example.com/chat', { http2: true }, fallback);
 */
export function http2ClientHandshake(
  url: string | URL,
  options: ClientOptions,
  fallback: (options: ClientOptions) => Promise<WebSocketConnection>,
): Promise<WebSocketConnection> {
  return new Promise((resolve, reject) => {
    new Http2ClientHandshake(url, options, fallback, resolve, reject).start();
  });
}

/** Where a stream's lease goes once the stream is gone. */
const leaseOf: unique symbol = Symbol('sessionLease');
type LeasedStream = ClientHttp2Stream & { [leaseOf]?: SessionLease };

function releaseLease(this: LeasedStream): void {
  this[leaseOf]?.release();
  this[leaseOf] = undefined;
}

/** One handshake over HTTP/2; settles exactly once. */
class Http2ClientHandshake {
  readonly #options: ClientOptions;
  readonly #mode: Http2Mode;
  readonly #fallback: (options: ClientOptions) => Promise<WebSocketConnection>;
  readonly #resolve: (connection: WebSocketConnection) => void;
  readonly #reject: (err: unknown) => void;
  readonly #target: ClientTarget;
  /** When the handshake's request went out, once it has (for diagnostics_channel). */
  #startedAt: number | undefined;
  readonly #protocols: string[];
  readonly #connectionOptions: ResolvedConnectionOptions;
  readonly #extensions: readonly ExtensionFactory[];
  readonly #request: Http2HeaderBlock;
  readonly #timeout: number;
  readonly #deadline: number;
  #lease: SessionLease | undefined;
  #stream: LeasedStream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #settled = false;
  readonly #onAbort = (): void => {
    const signal = this.#options.signal;
    this.#fail(signal?.reason ?? new HandshakeError('The opening handshake was aborted', 0));
  };

  constructor(
    url: string | URL,
    options: ClientOptions,
    fallback: (options: ClientOptions) => Promise<WebSocketConnection>,
    resolve: (connection: WebSocketConnection) => void,
    reject: (err: unknown) => void,
  ) {
    this.#options = options;
    this.#fallback = fallback;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#connectionOptions = connectionOptionsOf(options);
    this.#mode = http2ModeOf(options) ?? { kind: 'pool', require: true };
    this.#target = parseClientUrl(url);
    this.#protocols = checkProtocols(options.protocols);
    this.#timeout = positive(options.handshakeTimeout, 10_000, 'handshakeTimeout');
    this.#deadline = Date.now() + this.#timeout;
    this.#extensions = extensionFactories(options, 'client');
    if (options.agent !== undefined && options.agent !== false && this.#mode.kind === 'session') {
      throw new InvalidArgumentError('An agent cannot carry a WebSocket on an HTTP/2 session');
    }
    if (options.proxy !== undefined && options.proxy !== false && this.#mode.kind === 'session') {
      throw new InvalidArgumentError('A proxy cannot carry a WebSocket on a given HTTP/2 session');
    }
    this.#request = buildExtendedConnectRequest({
      scheme: this.#target.secure ? 'https' : 'http',
      authority: authorityOf(this.#target),
      path: this.#target.path,
      protocols: this.#protocols,
      extensions: offerExtensions(this.#extensions),
      origin: options.origin,
      headers: withAuthorization(checkHeaders(options.headers), this.#target.auth),
    });
  }

  /** What routes this connection instead of a pooled session: 'an agent', 'a proxy', or nothing. */
  #routedBy(): string | undefined {
    const agent = this.#options.agent;
    if (agent !== undefined && agent !== false) return 'an agent';
    try {
      if (proxyFor(this.#options.proxy, this.#target) !== undefined) return 'a proxy';
    } catch {
      return 'a proxy'; // a bad proxy option: the HTTP/1.1 path reports it.
    }
    return undefined;
  }

  start(): void {
    const signal = this.#options.signal;
    if (signal?.aborted) {
      process.nextTick(this.#onAbort);
      return;
    }
    // An agent or a proxy decides the route: the connection goes its way, over HTTP/1.1
    // (a CONNECT tunnel could carry HTTP/2 too, but no proxy here speaks it to us).
    const mode = this.#mode;
    const routedBy = mode.kind === 'pool' ? this.#routedBy() : undefined;
    if (routedBy !== undefined) {
      if (mode.kind === 'pool' && mode.require) {
        process.nextTick(() =>
          this.#fail(new InvalidArgumentError(`http2: 'require' cannot go through ${routedBy}`)),
        );
      } else {
        this.#fallBack(`${routedBy} was given`);
      }
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
    let lease: SessionLease;
    try {
      lease = this.#leaseSession();
    } catch (err) {
      this.#fail(
        new HandshakeError(`Could not open an HTTP/2 session to ${this.#target.href}`, 0, {
          code: ErrorCode.ConnectFailed,
          cause: err,
        }),
      );
      return;
    }
    this.#lease = lease;
    extendedConnectVerdict(lease.session).then((verdict) => {
      if (this.#settled) return;
      if (verdict.allowed) this.#send(lease.session);
      else this.#unavailable(verdict.reason, verdict.cause);
    });
  }

  #leaseSession(): SessionLease {
    if (this.#mode.kind === 'session') {
      return { session: this.#mode.session, release: () => {} };
    }
    return sessionPool.acquire(sessionTarget(this.#target, this.#options));
  }

  /** The peer does not take WebSockets over HTTP/2: fall back, or fail when that is not allowed. */
  #unavailable(reason: string, cause: unknown): void {
    if (this.#mode.kind === 'pool' && !this.#mode.require) {
      this.#fallBack(reason);
      return;
    }
    this.#fail(
      new HandshakeError(`No WebSocket over HTTP/2 to ${this.#target.href}: ${reason}`, 0, {
        code: ErrorCode.Http2Unavailable,
        cause,
      }),
    );
  }

  /** Goes on over HTTP/1.1 with the time left. */
  #fallBack(_reason: string): void {
    this.#settled = true;
    this.#cleanUp();
    this.#releaseLease();
    const left = Math.max(1, this.#deadline - Date.now());
    const { http2: _http2, ...rest } = this.#options;
    this.#fallback({ ...rest, handshakeTimeout: left }).then(this.#resolve, this.#reject);
  }

  #send(session: ClientHttp2Session): void {
    let stream: LeasedStream;
    try {
      stream = session.request(this.#request, { endStream: false });
    } catch (err) {
      this.#unavailable(`the session cannot take a new stream (${(err as Error).message})`, err);
      return;
    }
    this.#stream = stream;
    this.#publishStart();
    stream.on('error', ignoreError);
    stream.once('response', (headers) => this.#onResponse(stream, headers));
    stream.once('close', this.#onEarlyClose);
  }

  /** The stream closed before an answer: the server reset it (or the session went). */
  readonly #onEarlyClose = (): void => {
    if (this.#settled) return;
    this.#fail(
      new HandshakeError(
        `The server closed the WebSocket's stream before answering (RST_STREAM code ${this.#stream?.rstCode ?? 'none'})`,
        0,
        { code: ErrorCode.Handshake },
      ),
    );
  };

  #onResponse(stream: LeasedStream, headers: IncomingHttpHeaders & IncomingHttpStatusHeader): void {
    if (this.#settled) return;
    let extensions: Extension[];
    let protocol: string | undefined;
    try {
      const answer = validateExtendedConnectResponse(headers, {
        offeredProtocols: this.#protocols,
        offeredExtensions: offeredNames(this.#extensions),
      });
      protocol = answer.protocol;
      extensions = acceptExtensions(this.#extensions, answer.extensions);
    } catch (err) {
      if (err instanceof HandshakeError && !(err.status >= 200 && err.status < 300)) {
        this.#readRefusal(stream, err);
        return;
      }
      this.#fail(err);
      return;
    }
    this.#settled = true;
    this.#cleanUp();
    stream.removeListener('close', this.#onEarlyClose);
    // From here the lease is the stream's: released when the stream is gone.
    stream[leaseOf] = this.#lease;
    this.#lease = undefined;
    stream.once('close', releaseLease);
    prepareHttp2Transport(stream, this.#connectionOptions.closeTimeout);
    const connection = new WebSocketConnection(stream, {
      role: 'client',
      resolved: this.#connectionOptions,
      protocol: protocol ?? '',
      url: this.#target.href,
      extensions,
    });
    stream.removeListener('error', ignoreError);
    if (channels.handshakeEnd.hasSubscribers) {
      const status = Number(headers[':status']);
      const agreed = extensions.map((extension) => extension.name);
      publishClientHandshakeEnd(
        this.#target.href,
        this.#startedAt ?? Date.now(),
        status,
        undefined,
        protocol ?? '',
        agreed,
      );
    }
    const failure = connection.closeError;
    if (failure !== undefined && connection.destroyed) {
      this.#reject(failure);
      return;
    }
    this.#resolve(connection);
  }

  /** Reads at most MAX_BODY_EXCERPT bytes of a refusal's body, then fails with it. */
  #readRefusal(stream: LeasedStream, err: HandshakeError): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      const hint =
        err.status >= 300 && err.status < 400 ? ' (redirects are followed over HTTP/1.1 only)' : '';
      this.#fail(
        new HandshakeError(`${err.message}${hint}`, err.status, {
          headers: err.headers,
          body: Buffer.concat(chunks, size).toString('utf8'),
        }),
      );
    };
    stream.on('data', (chunk: Buffer) => {
      const room = MAX_BODY_EXCERPT - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(room, chunk.length);
      if (size >= MAX_BODY_EXCERPT) finish();
    });
    stream.once('end', finish);
    stream.once('close', finish);
  }

  #cleanUp(): void {
    clearTimeout(this.#timer);
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
  }

  #releaseLease(): void {
    this.#lease?.release();
    this.#lease = undefined;
  }

  /** Tells diagnostics_channel subscribers that the request goes out (once; not for a fallback). */
  #publishStart(): void {
    if (this.#startedAt !== undefined) return;
    this.#startedAt = Date.now();
    if (channels.handshakeStart.hasSubscribers) {
      channels.handshakeStart.publish({ role: 'client', url: this.#target.href, proxy: undefined });
    }
  }

  #fail(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    if (channels.handshakeEnd.hasSubscribers) {
      this.#publishStart();
      publishClientHandshakeFailure(this.#target.href, this.#startedAt ?? Date.now(), err);
    }
    this.#cleanUp();
    const stream = this.#stream;
    if (stream !== undefined) cancelStream(stream);
    this.#releaseLease();
    this.#reject(err);
  }
}

function ignoreError(): void {}

/**
 * Gives the `:authority`: host (IPv6 in brackets) and port, the port left out when it is
 * the scheme's default, as a Host header would say it.
 *
 * @see RFC 9113 §8.3.1, RFC 9110 §7.2
 */
function authorityOf(target: ClientTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  const standard = target.secure ? 443 : 80;
  return target.port === standard ? host : `${host}:${target.port}`;
}

/** Adds Basic credentials from the URL's userinfo, as node:http's `auth` does over HTTP/1.1. */
function withAuthorization(
  headers: HeaderMap | ReturnType<typeof checkHeaders>,
  auth: string | undefined,
): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = typeof value === 'number' ? String(value) : value;
  }
  const given = Object.keys(out).some((name) => name.toLowerCase() === 'authorization');
  if (auth !== undefined && !given) {
    out.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  return out;
}

/**
 * Gives the pool's key and http2.connect()'s arguments for a target: the origin, the TLS
 * options and the connection options of `requestOptions` (the HTTP-only ones dropped).
 * Options that are objects (a CA buffer, a lookup function) count by identity, so that
 * connects given the same ones share a session.
 */
function sessionTarget(target: ClientTarget, options: ClientOptions): SessionTarget {
  const sessionOptions: SecureClientSessionOptions = {};
  const keyParts: string[] = [target.originKey, target.secure ? 'tls' : 'clear'];
  for (const [name, value] of Object.entries(options.requestOptions ?? {})) {
    if (HTTP_ONLY_OPTIONS.has(name) || value === undefined) continue;
    Object.assign(sessionOptions, { [name]: value });
    keyParts.push(`${name}=${identity(value)}`);
  }
  if (target.secure) {
    for (const name of TLS_OPTIONS) {
      const value = options[name];
      if (value === undefined) continue;
      Object.assign(sessionOptions, { [name]: value });
      keyParts.push(`${name}=${identity(value)}`);
    }
    if (options.servername !== undefined) {
      sessionOptions.servername = options.servername;
      keyParts.push(`servername=${options.servername}`);
    }
  }
  const scheme = target.secure ? 'https' : 'http';
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  if (target.socketPath !== undefined) {
    sessionOptions.createConnection = unixConnector(target.socketPath, target.secure, {
      ...(sessionOptions as object),
      servername: options.servername,
    });
  }
  return {
    key: keyParts.join('|'),
    authority: `${scheme}://${host}:${target.port}`,
    options: sessionOptions,
  };
}

const identities = new WeakMap<object, number>();
let nextIdentity = 0;

/** Names a value for the pool's key: primitives by value, objects and functions by identity. */
function identity(value: unknown): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return JSON.stringify(value) ?? String(value);
  }
  let id = identities.get(value);
  if (id === undefined) {
    id = ++nextIdentity;
    identities.set(value, id);
  }
  return `#${id}`;
}
