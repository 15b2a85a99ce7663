import { readFileSync } from 'node:fs';
import type { OutgoingHttpHeaders } from 'node:http';
import type { ClientOptions } from '../client.js';
import { checkProxyOption, type ProxyOption } from '../handshake/proxy.js';
import { flag, list, type OptionSpec, type OptionValues, parseInteger, text } from './args.js';
import { messageOf, UsageError } from './errors.js';

/** --compress, which every command that opens a connection accepts. */
export const COMPRESS_OPTION: OptionSpec = {
  name: 'compress',
  short: 'z',
  type: 'boolean',
  help: 'negotiate permessage-deflate compression (RFC 7692); off without it',
};

/** Options that choose how input is cut into messages and how messages are written out. */
export const FRAMING_OPTIONS: readonly OptionSpec[] = [
  { name: 'lines', type: 'boolean', help: 'one text message per line (the default)' },
  { name: 'text', short: 't', type: 'boolean', help: 'the same as --lines (websocat)' },
  {
    name: 'binary',
    short: 'b',
    type: 'boolean',
    help: 'raw chunks as binary messages; messages are written out raw',
  },
  {
    name: 'message',
    type: 'boolean',
    help: 'all of the input as one message (text; binary with --binary)',
  },
];

/** The TLS options of a client. */
export const CLIENT_TLS_OPTIONS: readonly OptionSpec[] = [
  { name: 'ca', type: 'string', value: 'FILE', help: 'trust the CA certificates in this PEM file' },
  {
    name: 'cert',
    type: 'string',
    value: 'FILE',
    help: 'client certificate (PEM), for servers that ask',
  },
  { name: 'key', type: 'string', value: 'FILE', help: 'private key of --cert (PEM)' },
  { name: 'passphrase', type: 'string', value: 'TEXT', help: 'passphrase of --key' },
  { name: 'insecure', short: 'k', type: 'boolean', help: 'do not check the server certificate' },
  { name: 'no-check', short: 'n', type: 'boolean', help: 'the same as --insecure (wscat)' },
];

/** The handshake options of the client commands: subprotocols, headers, Origin, TLS. */
export const CLIENT_HANDSHAKE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'subprotocol',
    short: 's',
    type: 'string',
    multiple: true,
    value: 'NAME',
    help: 'offer a subprotocol (repeatable, most preferred first)',
  },
  {
    name: 'header',
    short: 'H',
    type: 'string',
    multiple: true,
    value: "'NAME: VALUE'",
    help: 'add a request header (repeatable)',
  },
  {
    name: 'protocol',
    type: 'string',
    multiple: true,
    value: 'NAME',
    help: 'the same as --subprotocol (websocat)',
  },
  {
    name: 'origin',
    short: 'o',
    type: 'string',
    value: 'ORIGIN',
    help: 'send this Origin header',
  },
  {
    name: 'auth',
    type: 'string',
    value: 'USER:PASS',
    help: 'send Basic credentials (an Authorization header)',
  },
  {
    name: 'basic-auth',
    type: 'string',
    value: 'USER:PASS',
    help: 'the same as --auth (websocat)',
  },
  {
    name: 'location',
    short: 'L',
    type: 'boolean',
    help: 'follow redirects (301, 302, 303, 307, 308)',
  },
  {
    name: 'max-redirects',
    type: 'string',
    value: 'N',
    help: 'follow at most N redirects (default 10; implies --location)',
  },
  {
    name: 'proxy',
    type: 'string',
    value: 'URL',
    help: 'tunnel through this HTTP proxy (http://[USER:PASS@]HOST:PORT); env (the default): HTTPS_PROXY/HTTP_PROXY unless NO_PROXY; none: never',
  },
  {
    name: 'http2',
    type: 'boolean',
    help: 'open the WebSocket over HTTP/2 (RFC 8441) when the server allows it, else HTTP/1.1',
  },
  { name: 'http2-only', type: 'boolean', help: 'over HTTP/2 or not at all' },
  ...CLIENT_TLS_OPTIONS,
];

/**
 * Reads --compress as the library's `perMessageDeflate`. Without the flag compression is
 * off, also on the client side where the library would offer it by default: a debugging
 * tool should put on the wire what it is told, and compression is asked for.
 */
export function compressionOf(values: OptionValues): boolean {
  return flag(values, 'compress');
}

/** Picks the framing from --lines, --binary and --message. */
export function framingOf(values: OptionValues): {
  framing: 'lines' | 'binary' | 'message';
  binary: boolean;
} {
  const lines = flag(values, 'lines') || flag(values, 'text');
  const binary = flag(values, 'binary');
  const whole = flag(values, 'message');
  if (lines && (binary || whole)) {
    throw new UsageError('--lines cannot be combined with --binary or --message');
  }
  if (whole) return { framing: 'message', binary };
  return { framing: binary ? 'binary' : 'lines', binary };
}

/**
 * Parses `-H 'Name: value'` into a header map; a repeated name gives several values, as
 * node:http sends them.
 */
export function parseHeaders(raw: readonly string[]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const entry of raw) {
    const colon = entry.indexOf(':');
    const name = colon === -1 ? '' : entry.slice(0, colon).trim();
    if (name === '' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new UsageError(`-H takes 'Name: value', got ${JSON.stringify(entry)}`);
    }
    const value = entry.slice(colon + 1).trim();
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else headers[name] = [...[previous].flat().map(String), value];
  }
  return headers;
}

/** Reads a PEM file named by an option, reporting a missing file as a usage error. */
export function readPem(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${option} ${file}: ${messageOf(err)}`);
  }
}

/**
 * Builds the library's ClientOptions from the common client flags: subprotocols,
 * headers, origin, TLS files, handshake timeout, compression.
 */
export function clientOptionsFrom(values: OptionValues, handshakeTimeout?: number): ClientOptions {
  const headers = parseHeaders(list(values, 'header'));
  const auth = text(values, 'auth') ?? text(values, 'basic-auth');
  if (auth !== undefined) {
    if (!auth.includes(':'))
      throw new UsageError(`--auth takes USER:PASS, got ${JSON.stringify(auth)}`);
    if (Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
      throw new UsageError('--auth and -H Authorization: choose one');
    }
    headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  const options: ClientOptions = {
    perMessageDeflate: compressionOf(values),
    headers,
    protocols: [...list(values, 'subprotocol'), ...list(values, 'protocol')],
    proxy: proxyOf(values),
  };
  const origin = text(values, 'origin');
  if (origin !== undefined) options.origin = origin;
  if (handshakeTimeout !== undefined) options.handshakeTimeout = handshakeTimeout;
  const maxRedirects = text(values, 'max-redirects');
  if (flag(values, 'location') || maxRedirects !== undefined) options.followRedirects = true;
  if (maxRedirects !== undefined) {
    options.maxRedirects = parseInteger(maxRedirects, '--max-redirects', 0, 100);
  }
  const ca = text(values, 'ca');
  const cert = text(values, 'cert');
  const key = text(values, 'key');
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError('--cert and --key go together');
  if (ca !== undefined) options.ca = readPem(ca, '--ca');
  if (cert !== undefined) options.cert = readPem(cert, '--cert');
  if (key !== undefined) options.key = readPem(key, '--key');
  const passphrase = text(values, 'passphrase');
  if (passphrase !== undefined) options.passphrase = passphrase;
  if (flag(values, 'insecure') || flag(values, 'no-check')) options.rejectUnauthorized = false;
  if (flag(values, 'http2-only')) options.http2 = 'require';
  else if (flag(values, 'http2')) options.http2 = true;
  return options;
}

/**
 * Reads --proxy: a proxy URL, `none` (or `off`) for a direct connection, or `env`, the
 * default: a command line runs in the user's environment and, as curl does, takes its
 * HTTPS_PROXY, HTTP_PROXY and NO_PROXY (the library reads them only when asked).
 */
export function proxyOf(values: OptionValues): ProxyOption | 'env' {
  const raw = text(values, 'proxy');
  if (raw === undefined || raw === 'env') return 'env';
  if (raw === 'none' || raw === 'off') return false;
  try {
    checkProxyOption(raw);
  } catch (err) {
    throw new UsageError(`--proxy: ${messageOf(err).replace(/^proxy:? ?/, '')}`);
  }
  return raw;
}

/** Reads the server's TLS material from --cert and --key (undefined: plain ws:). */
export function serverTlsFrom(values: OptionValues): { cert: Buffer; key: Buffer } | undefined {
  const cert = text(values, 'cert');
  const key = text(values, 'key');
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError('--cert and --key go together');
  return { cert: readPem(cert, '--cert'), key: readPem(key, '--key') };
}

/** Where a server listens: PORT or HOST:PORT ([::1]:PORT for IPv6). */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parses a server's PORT argument. The host defaults to 127.0.0.1: a debugging tool
 * should not open a port to the network unless asked (--host 0.0.0.0 or 0.0.0.0:PORT).
 */
export function parseListenAddress(raw: string, hostOption: string | undefined): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(raw);
  const host = match?.[1] ?? match?.[2] ?? hostOption ?? '127.0.0.1';
  const portText = match?.[3] ?? raw;
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `PORT must be a number from 0 to 65535 (or HOST:PORT), got ${JSON.stringify(raw)}`,
    );
  }
  return { host, port };
}

/** Formats a listening address as a URL people can paste into `wsdx connect`. */
export function urlOf(secure: boolean, address: ListenAddress, path = '/'): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${secure ? 'wss' : 'ws'}://${host}:${address.port}${path}`;
}
