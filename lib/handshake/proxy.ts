import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Duplex as NodeDuplex } from 'node:stream';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../protocol/errors.js';
import type { ClientTarget } from './client-url.js';

/**
 * Which HTTP proxy a client tunnels through: a proxy URL (`http://user:pass@proxy:3128`),
 * `'env'` for the environment's (HTTP_PROXY for ws:, HTTPS_PROXY for wss:, NO_PROXY's
 * exceptions), or `false`/undefined for none (the default: the environment is read only
 * when asked, as undici's EnvHttpProxyAgent does).
 */
export type ProxyOption = string | URL | false;

/** A proxy chosen for one target. */
export interface ProxyRoute {
  host: string;
  port: number;
  /** `Basic ...` from the proxy URL's userinfo, sent as Proxy-Authorization; undefined without. */
  authorization: string | undefined;
  /** The proxy's URL without its credentials, for messages and diagnostics. */
  display: string;
}

/** The environment variables a proxy is read from (process.env by default). */
export type ProxyEnvironment = Readonly<Record<string, string | undefined>>;

/**
 * Checks a `proxy` option before any I/O, so that a mistyped proxy URL fails the call at
 * once, with its credentials kept out of the message.
 *
 * @throws InvalidArgumentError
 * @example checkProxyOption('http://proxy.internal:3128'); // fine
 */
export function checkProxyOption(option: unknown): void {
  if (option === undefined || option === false || option === 'env') return;
  if (typeof option !== 'string' && !(option instanceof URL)) {
    throw new InvalidArgumentError("proxy must be a proxy URL, 'env' or false");
  }
  parseProxyUrl(option, 'proxy');
}

/**
 * Chooses the proxy for a target, or none: a Unix socket is never proxied; `'env'` takes
 * HTTPS_PROXY for wss: (then HTTP_PROXY) and HTTP_PROXY for ws:, lower-case names first,
 * unless NO_PROXY names the host. NO_PROXY is a list separated by commas or spaces: `*`
 * (no proxy at all), a host (itself and its subdomains), `.example.com` or
 * `*.example.com` (the same), an optional `:port`; the rules of undici's EnvHttpProxyAgent.
 *
 * @throws InvalidArgumentError for a proxy URL that cannot be used
 * @example proxyFor('env', parseClientUrl('wss://example.com/'), { HTTPS_PROXY: 'http://p:3128' })
 * // { host: 'p', port: 3128, authorization: undefined, display: 'http://p:3128' }
 */
export function proxyFor(
  option: ProxyOption | 'env' | undefined,
  target: ClientTarget,
  env: ProxyEnvironment = process.env,
): ProxyRoute | undefined {
  if (option === undefined || option === false || target.socketPath !== undefined) return undefined;
  if (option !== 'env') return parseProxyUrl(option, 'proxy');
  const httpProxy = nonEmpty(env.http_proxy) ?? nonEmpty(env.HTTP_PROXY);
  const httpsProxy = nonEmpty(env.https_proxy) ?? nonEmpty(env.HTTPS_PROXY);
  const chosen = target.secure ? (httpsProxy ?? httpProxy) : httpProxy;
  if (chosen === undefined) return undefined;
  if (bypassesProxy(env.no_proxy ?? env.NO_PROXY ?? '', target.host, target.port)) return undefined;
  const name = target.secure && httpsProxy !== undefined ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  return parseProxyUrl(chosen, name);
}

/**
 * Tells whether NO_PROXY exempts a host and port (see proxyFor).
 *
 * @example bypassesProxy('localhost,.internal:8080', 'api.internal', 8080) // true
 */
export function bypassesProxy(noProxy: string, host: string, port: number): boolean {
  const hostname = host.toLowerCase();
  for (const raw of noProxy.split(/[,\s]/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    const { name, port: entryPort } = splitEntry(entry);
    if (entryPort !== 0 && entryPort !== port) continue;
    const bare = name.replace(/^\*?\./, '');
    if (hostname === bare || hostname.endsWith(`.${bare}`)) return true;
  }
  return false;
}

/** Splits a NO_PROXY entry into its host and port (0: any): `[::1]:8080`, `host:80`, `::1`. */
function splitEntry(entry: string): { name: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed !== null) return { name: bracketed[1]!, port: Number(bracketed[2] ?? 0) };
  const withPort = /^([^:]+):(\d+)$/.exec(entry);
  if (withPort !== null) return { name: withPort[1]!, port: Number(withPort[2]) };
  return { name: entry, port: 0 };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Parses a proxy URL: http: only (a tunnel is asked for in clear text; what goes through
 * it is the WebSocket's own TLS for wss:), `host:port` taken as http://host:port, the
 * port 80 by default, credentials decoded into a Basic Proxy-Authorization.
 *
 * @see RFC 9110 §11.7.2 (Proxy-Authorization), RFC 7617 (Basic)
 */
function parseProxyUrl(value: string | URL, what: string): ProxyRoute {
  const text = typeof value === 'string' ? value.trim() : value.href;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new InvalidArgumentError(
      `${what} is not a valid proxy URL: ${JSON.stringify(redact(text))}`,
    );
  }
  if (url.protocol !== 'http:') {
    throw new InvalidArgumentError(
      `${what}: only http:// proxies are supported (HTTP CONNECT), got ${url.protocol}//${url.host}`,
    );
  }
  if (url.hostname === '') throw new InvalidArgumentError(`${what} has no host: ${redact(text)}`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 80 : Number(url.port);
  const authorization =
    url.username === '' && url.password === ''
      ? undefined
      : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  return { host, port, authorization, display: `http://${url.host}` };
}

/** Removes the credentials from a URL-like text, for messages. */
function redact(text: string): string {
  return text.replace(/\/\/[^/@]*@/, '//***@');
}

/** The authority a CONNECT asks for: host:port, an IPv6 address in brackets. */
export function authorityOf(target: ClientTarget): string {
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  return `${host}:${target.port}`;
}

/** Bytes of a refusal's first read kept in the HandshakeError's body. */
const MAX_REFUSAL_EXCERPT = 1024;

/**
 * Asks the proxy for a tunnel to the target with CONNECT, and calls back with the tunnel
 * (a socket whose bytes go to the target as they are) or with a HandshakeError: the
 * proxy's status (407, 403, 502...) with its headers when it refuses, status 0 and
 * ERR_WS_CONNECT_FAILED (the cause attached) when it cannot be reached. Returns the
 * CONNECT request, which the caller destroys to abort.
 *
 * @see RFC 9110 §9.3.6 (CONNECT: any 2xx means the tunnel is up; the rest of the answer is
 *   the proxy's refusal)
 * @example
 * openTunnel(route, target, (err, socket) => { if (socket) tls.connect({ socket, ... }) });
 */
export function openTunnel(
  route: ProxyRoute,
  target: ClientTarget,
  done: (err: HandshakeError | undefined, socket?: NodeDuplex) => void,
): ClientRequest {
  const authority = authorityOf(target);
  const headers: Record<string, string> = { host: authority };
  if (route.authorization !== undefined) headers['proxy-authorization'] = route.authorization;
  let settled = false;
  const settle = (err: HandshakeError | undefined, socket?: NodeDuplex): void => {
    if (settled) return;
    settled = true;
    done(err, socket);
  };
  const request = http.request({
    method: 'CONNECT',
    host: route.host,
    port: route.port,
    path: authority,
    headers,
    agent: false,
  });
  request.once('connect', (response: IncomingMessage, socket: NodeDuplex, head: Buffer) => {
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      if (head.length > 0) socket.unshift(head);
      settle(undefined, socket);
      return;
    }
    socket.destroy();
    const text = response.statusMessage === undefined ? '' : ` ${response.statusMessage}`;
    settle(
      new HandshakeError(
        `The proxy ${route.display} refused to tunnel to ${authority}: ${status}${text}`,
        status,
        {
          code: ErrorCode.ProxyRefused,
          headers: response.headers,
          body: head.subarray(0, MAX_REFUSAL_EXCERPT).toString('utf8'),
        },
      ),
    );
  });
  request.once('error', (err) => {
    settle(
      new HandshakeError(`Could not connect to the proxy ${route.display}: ${err.message}`, 0, {
        code: ErrorCode.ConnectFailed,
        cause: err,
      }),
    );
  });
  request.end();
  return request;
}
