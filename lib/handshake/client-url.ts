import { InvalidArgumentError } from '../protocol/errors.js';

/** Where a client connects, as node:http's request() wants it. */
export interface ClientTarget {
  /** Whether the connection uses TLS (wss:). */
  secure: boolean;
  /** Host name or address, without IPv6 brackets ('localhost' over a Unix socket). */
  host: string;
  port: number;
  /** The resource: path and query, '/' when empty. */
  path: string;
  /** The Unix domain socket (ws+unix:), undefined over TCP. */
  socketPath: string | undefined;
  /** 'user:password' from the URL's userinfo, sent as Basic credentials (decoded). */
  auth: string | undefined;
  /** What redirects compare: scheme (ws and http alike), host and port, or the socket path. */
  originKey: string;
  /** The URL as given, for messages. */
  href: string;
}

const SCHEMES: Readonly<Record<string, { secure: boolean; unix: boolean }>> = {
  'ws:': { secure: false, unix: false },
  'wss:': { secure: true, unix: false },
  'http:': { secure: false, unix: false },
  'https:': { secure: true, unix: false },
  'ws+unix:': { secure: false, unix: true },
  'wss+unix:': { secure: true, unix: true },
};

/**
 * Parses a WebSocket URL into a request target. ws: and wss: (http: and https: alike, as
 * browsers allow), and ws+unix:/path/to.sock:/resource for a Unix domain socket, the part
 * after the socket path's ':' being the resource. A fragment is refused, as RFC 6455
 * requires, and so is anything that is not one of these schemes.
 *
 * @see RFC 6455 §3 (ws and wss URIs: "Fragment identifiers ... MUST NOT be used")
 * @example parseClientUrl('ws+unix:/run/app.sock:/chat?room=1').socketPath // '/run/app.sock'
 */
export function parseClientUrl(input: string | URL): ClientTarget {
  let url: URL;
  try {
    url = typeof input === 'string' ? new URL(input) : new URL(input.href);
  } catch {
    throw new InvalidArgumentError(`Invalid WebSocket URL: ${String(input)}`);
  }
  const scheme = SCHEMES[url.protocol];
  if (scheme === undefined) {
    throw new InvalidArgumentError(
      `Unsupported URL scheme ${url.protocol} (use ws:, wss: or ws+unix:): ${url.href}`,
    );
  }
  if (url.hash !== '' || url.href.endsWith('#')) {
    throw new InvalidArgumentError(`A WebSocket URL must not have a fragment: ${url.href}`);
  }
  const auth =
    url.username === '' && url.password === ''
      ? undefined
      : `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  if (scheme.unix) {
    const whole = decodeURIComponent(url.pathname);
    const colon = whole.indexOf(':');
    const socketPath = colon === -1 ? whole : whole.slice(0, colon);
    const resource = colon === -1 ? '/' : whole.slice(colon + 1) || '/';
    if (socketPath === '') throw new InvalidArgumentError(`No socket path in ${url.href}`);
    return {
      secure: scheme.secure,
      host: 'localhost',
      port: scheme.secure ? 443 : 80,
      path: `${resource.startsWith('/') ? resource : `/${resource}`}${url.search}`,
      socketPath,
      auth,
      originKey: `unix:${socketPath}`,
      href: url.href,
    };
  }
  if (url.hostname === '') throw new InvalidArgumentError(`No host in ${url.href}`);
  const port = url.port === '' ? (scheme.secure ? 443 : 80) : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    secure: scheme.secure,
    host,
    port,
    path: `${url.pathname || '/'}${url.search}`,
    socketPath: undefined,
    auth,
    originKey: `${scheme.secure ? 'https' : 'http'}://${url.hostname.toLowerCase()}:${port}`,
    href: url.href,
  };
}

/**
 * Resolves a redirect's Location against the current target. Relative locations on a Unix
 * socket stay on that socket; an absolute one must be a network URL: a server may not
 * send a client to a local socket of its choosing.
 *
 * @example resolveRedirect('/v2', parseClientUrl('ws://example.com/v1')).path // '/v2'
 */
export function resolveRedirect(location: string, current: ClientTarget): ClientTarget {
  if (current.socketPath !== undefined && location.startsWith('/') && !location.startsWith('//')) {
    const next = new URL(location, 'http://localhost');
    return { ...current, path: `${next.pathname}${next.search}`, href: location };
  }
  let url: URL;
  try {
    url = new URL(location, current.socketPath === undefined ? current.href : undefined);
  } catch {
    throw new InvalidArgumentError(`Invalid redirect location: ${location}`);
  }
  url.hash = '';
  if (url.protocol.endsWith('+unix:')) {
    throw new InvalidArgumentError(`Refusing a redirect to a Unix socket: ${location}`);
  }
  return parseClientUrl(url);
}
