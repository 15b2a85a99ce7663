import type { Agent, OutgoingHttpHeaders } from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import type https from 'node:https';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { ExtensionOptions } from '../extensions/negotiation.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import { isToken } from '../protocol/header-parser.js';
import { checkOptionNames } from '../protocol/option-names.js';
import {
  CONNECTION_OPTION_NAMES,
  type ConnectionOptions,
  type ResolvedConnectionOptions,
  resolveConnectionOptions,
} from '../stream/connection-options.js';
import type { ProxyOption } from './proxy.js';

/**
 * Options of a client connection. Every {@link ConnectionOptions} field tunes the
 * connection that the handshake makes.
 */
export interface ClientOptions extends ConnectionOptions, ExtensionOptions {
  /** Subprotocols to offer, most preferred first (Sec-WebSocket-Protocol). Default: none. */
  protocols?: string | readonly string[];
  /** The Origin header to send. Default: none (browsers send one; other clients need not). */
  origin?: string;
  /** Extra request headers (Authorization, Cookie...). The handshake's own may not be given. */
  headers?: OutgoingHttpHeaders;
  /** Time, in ms, for the whole opening handshake, redirects included. Default: 10 000. */
  handshakeTimeout?: number;
  /** Follow 301, 302, 303, 307 and 308 answers. Default: false. */
  followRedirects?: boolean;
  /** Redirects followed before giving up. Default: 10. */
  maxRedirects?: number;
  /** Trusted CA certificates for wss: (instead of Node's bundled ones). */
  ca?: TlsConnectionOptions['ca'];
  /** Client certificate chain, for servers that ask for one. */
  cert?: TlsConnectionOptions['cert'];
  /** Private key of the client certificate. */
  key?: TlsConnectionOptions['key'];
  /** Passphrase of `key` or `pfx`. */
  passphrase?: string;
  /** Client certificate and key in one PKCS#12 bundle. */
  pfx?: TlsConnectionOptions['pfx'];
  /** Check the server's certificate against the CAs. Default: true. Never turn off in production. */
  rejectUnauthorized?: boolean;
  /** SNI name and the name the certificate is checked against. Default: the URL's host. */
  servername?: string;
  /** HTTP agent. Default: none, a fresh socket per handshake. Not with `proxy`. */
  agent?: Agent | false;
  /**
   * The HTTP proxy to tunnel through (HTTP CONNECT, RFC 9110 §9.3.6): a URL such as
   * `http://user:pass@proxy:3128` (credentials become Proxy-Authorization), or `'env'` to
   * take it from HTTPS_PROXY (wss:), HTTP_PROXY (ws:) and NO_PROXY. Default: none; the
   * environment is read only with `'env'`, as undici's EnvHttpProxyAgent does.
   */
  proxy?: ProxyOption | 'env';
  /** Aborts the handshake; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** More node:http request options (localAddress, family, lookup...), merged under ours. */
  requestOptions?: https.RequestOptions;
  /**
   * Open the WebSocket over HTTP/2 (RFC 8441): `true` multiplexes it on the session the
   * process keeps for the origin (opened at need, closed when its last WebSocket is gone)
   * and falls back to HTTP/1.1 when the server does not speak HTTP/2 or does not allow
   * extended CONNECT; `'require'` never falls back (HandshakeError, ERR_WS_HTTP2_UNAVAILABLE);
   * a `ClientHttp2Session` of yours is used as given, without fallback. Default: false.
   */
  http2?: boolean | 'require' | ClientHttp2Session;
}

/** Headers the handshake sets itself. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/** Options of ClientOptions that are the handshake's, not the connection's. */
const NON_CONNECTION_OPTIONS = [
  'protocols',
  'origin',
  'headers',
  'handshakeTimeout',
  'followRedirects',
  'maxRedirects',
  'ca',
  'cert',
  'key',
  'passphrase',
  'pfx',
  'rejectUnauthorized',
  'servername',
  'agent',
  'proxy',
  'signal',
  'requestOptions',
  'http2',
  'perMessageDeflate',
  'extensions',
] as const satisfies readonly (keyof ClientOptions)[];

/**
 * Checks the client's options before any I/O, so that a bad value fails the call rather
 * than the connection after the 101: unknown names are refused (with ws's equivalents
 * named), and the connection tunables are resolved.
 *
 * @example connectionOptionsOf({ protocols: ['chat'], closeTimeout: 1_000 }).closeTimeout // 1000
 */
export function connectionOptionsOf(options: ClientOptions): ResolvedConnectionOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('connect() options must be an object');
  }
  checkOptionNames(options, [...NON_CONNECTION_OPTIONS, ...CONNECTION_OPTION_NAMES], 'connect()');
  return resolveConnectionOptions(options, 'client');
}

/**
 * Checks the offered subprotocols: tokens, none twice, as the header's grammar requires.
 *
 * @see RFC 6455 §4.1 (item 10), §11.3.4
 * @example checkProtocols('chat') // ['chat']
 */
export function checkProtocols(protocols: string | readonly string[] | undefined): string[] {
  const list =
    protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : [...protocols];
  const seen = new Set<string>();
  for (const protocol of list) {
    if (typeof protocol !== 'string' || !isToken(protocol)) {
      throw new InvalidArgumentError(`Invalid subprotocol: ${JSON.stringify(protocol)}`);
    }
    if (seen.has(protocol))
      throw new InvalidArgumentError(`Subprotocol offered twice: ${protocol}`);
    seen.add(protocol);
  }
  return list;
}

/**
 * Copies the extra headers, refusing the handshake's own: a caller that set its own key
 * or version would get a 101 that cannot be checked.
 *
 * @example checkHeaders({ Authorization: 'Bearer t' })
 */
export function checkHeaders(headers: OutgoingHttpHeaders | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (headers === undefined) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new InvalidArgumentError(`Header ${name} is set by the handshake and cannot be given`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * Resolves a positive duration in ms (one setTimeout accepts).
 *
 * @example positive(undefined, 10_000, 'handshakeTimeout') // 10000
 */
export function positive(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !(resolved > 0) || resolved > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`${name} must be a positive number of milliseconds`);
  }
  return resolved;
}

/**
 * Resolves a non-negative integer option.
 *
 * @example count(undefined, 10, 'maxRedirects') // 10
 */
export function count(value: number | undefined, fallback: number, name: string): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  }
  return resolved;
}
