import { STATUS_CODES } from 'node:http';
import {
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
  WebSocketError,
} from '../protocol/errors.js';

/**
 * The exit statuses of every command, in one place, so that scripts can tell a refused
 * connection from a refused handshake from a connection that died.
 */
export const ExitCode = {
  /** The work was done and the connection closed cleanly. */
  Ok: 0,
  /** Anything else that went wrong: a close code that reports an error, a hash mismatch, a file error. */
  Failure: 1,
  /** Bad arguments: an unknown option, a bad URL, an unsupported feature. */
  Usage: 2,
  /** No connection: refused, host not found, TLS failure, timeout. */
  ConnectFailed: 3,
  /** The server answered the handshake with something else than 101. */
  HandshakeRefused: 4,
  /** The connection ended without a closing handshake (1006, a protocol error, no pong). */
  ConnectionLost: 5,
  /** Interrupted by SIGINT or SIGTERM before the work was done. */
  Interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line on stderr, then exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = ExitCode.Failure, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Bad arguments: exit status 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
    this.name = 'UsageError';
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  EPIPE: 'connection reset by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOENT: 'no such socket',
  EACCES: 'permission denied',
};

/** What the user gave that advice about a failure depends on. */
export interface ConnectContext {
  /** The --ca file, if one was given. */
  caFile?: string | undefined;
}

/**
 * Turns a failure of connect() into a one-line CliError with the right exit status, so
 * that `wsdx connect` never shows a stack trace (nor OpenSSL's internals) for what is the
 * network's, the proxy's or the server's doing, and gives advice that fits what was given.
 */
export function describeConnectError(
  err: unknown,
  url: string,
  context: ConnectContext = {},
): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof InvalidArgumentError) return new UsageError(err.message);
  if (err instanceof HandshakeError) return describeHandshakeError(err, url, context);
  if (err instanceof WebSocketError) {
    return new CliError(
      `could not connect to ${url}: ${firstLine(err.message)}`,
      ExitCode.ConnectFailed,
    );
  }
  return new CliError(`could not connect to ${url}: ${messageOf(err)}`, ExitCode.ConnectFailed);
}

function describeHandshakeError(
  err: HandshakeError,
  url: string,
  context: ConnectContext,
): CliError {
  if (err.code === ErrorCode.HandshakeTimeout) {
    return new CliError(`could not connect to ${url}: ${err.message}`, ExitCode.ConnectFailed);
  }
  if (err.code === ErrorCode.ProxyRefused) {
    const hint =
      err.status === 407
        ? ' (give its credentials in the URL: --proxy http://USER:PASS@HOST:PORT)'
        : '';
    return new CliError(`${lowerFirst(err.message)}${hint}`, ExitCode.ConnectFailed);
  }
  if (err.code === ErrorCode.Http2Unavailable) {
    return new CliError(
      `no WebSocket over HTTP/2 at ${url}: ${http2Reason(err, context)} (--http2 falls back to HTTP/1.1)`,
      ExitCode.ConnectFailed,
    );
  }
  if (err.status === 0) {
    const proxy = /^Could not connect to the proxy (\S+):/.exec(err.message);
    if (proxy !== null) {
      return new CliError(
        `could not connect to the proxy ${proxy[1]}: ${networkReason(err, context)} (set with --proxy, or HTTP_PROXY/HTTPS_PROXY; --proxy none goes direct)`,
        ExitCode.ConnectFailed,
      );
    }
    return new CliError(
      `could not connect to ${url}: ${networkReason(err, context)}`,
      ExitCode.ConnectFailed,
    );
  }
  if (err.status === 101) {
    return new CliError(
      `invalid handshake answer from ${url}: ${firstLine(err.message)}`,
      ExitCode.HandshakeRefused,
    );
  }
  const statusText = STATUS_CODES[err.status] ?? 'Unknown';
  const body = firstLine(err.body);
  const location = err.headers.location;
  const detail =
    err.status >= 300 && err.status < 400 && typeof location === 'string'
      ? `: redirected to ${location} (-L follows redirects)`
      : body === '' || body === statusText
        ? ''
        : `: ${body}`;
  return new CliError(
    `the server refused the handshake: ${err.status} ${statusText}${detail}`,
    ExitCode.HandshakeRefused,
  );
}

/** Certificate errors whose cure is a CA to trust. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/** Says in words why the network (or TLS) failed, with advice that fits what was given. */
function networkReason(err: HandshakeError, context: ConnectContext): string {
  const cause = err.cause as (NodeJS.ErrnoException & { reason?: string }) | undefined;
  const code = cause?.code;
  if (code !== undefined && NETWORK_REASONS[code] !== undefined) return NETWORK_REASONS[code];
  const ca = context.caFile;
  if (code !== undefined && UNTRUSTED.has(code)) {
    return ca === undefined
      ? 'TLS: the server certificate is not trusted (self-signed, or signed by an unknown CA): trust its CA with --ca FILE, or skip the check with --insecure'
      : `TLS: the server certificate is not signed by the CA in ${ca}: check --ca, or skip the check with --insecure`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = /(?:altnames|list): (.*)$/.exec(cause?.reason ?? '')?.[1];
    return `TLS: the server certificate is not for this host${names === undefined ? '' : ` (it is for ${names})`}: connect by a name it holds, or skip the check with --insecure`;
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return 'TLS: the server certificate has expired (skip the check with --insecure)';
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return 'TLS: the server certificate is not valid yet: check the clock (or skip the check with --insecure)';
  }
  const text = cause?.message ?? err.message;
  if (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /wrong version number|packet length too long/i.test(text)
  ) {
    return 'TLS: the server does not speak TLS on this port (is it ws:// rather than wss://?)';
  }
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code)) {
    return `TLS: ${opensslReason(text)}`;
  }
  return firstLine(text);
}

/**
 * Says why a WebSocket could not be opened over HTTP/2: the server did not answer in
 * HTTP/2 (a session that dies before its SETTINGS), or the network's reason.
 */
function http2Reason(err: HandshakeError, context: ConnectContext): string {
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ERR_HTTP2_PING_CANCEL' || code === 'ERR_HTTP2_SESSION_ERROR') {
    return 'the server does not speak HTTP/2 on this port';
  }
  if (err.cause !== undefined) return networkReason(err, context);
  // "No WebSocket over HTTP/2 to URL: REASON": the reason alone.
  const reason = /^No WebSocket over HTTP\/2 to \S+: (.*)$/s.exec(err.message)?.[1];
  return firstLine(reason ?? err.message);
}

/** Keeps the reason of an OpenSSL error ("...:SSL routines:func:reason:file:line"), not its internals. */
function opensslReason(text: string): string {
  const reason = /SSL routines:[^:]*:([^:]+)/.exec(text)?.[1];
  return reason ?? firstLine(text);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** Gives the first non-empty line of a text, cut to 120 characters. */
export function firstLine(textValue: string): string {
  const line = textValue.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  const trimmed = line.trim();
  return trimmed.length > 120 ? `${trimmed.slice(0, 117)}...` : trimmed;
}

/** Gives an error's message, or the value itself for non-errors. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
