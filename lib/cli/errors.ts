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
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOENT: 'no such socket',
  EACCES: 'permission denied',
};

/**
 * Turns a failure of connect() into a one-line CliError with the right exit status, so
 * that `wsdx connect` never shows a stack trace for what is the network's or the
 * server's doing.
 */
export function describeConnectError(err: unknown, url: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof InvalidArgumentError) return new UsageError(err.message);
  if (err instanceof HandshakeError) return describeHandshakeError(err, url);
  if (err instanceof WebSocketError) return new CliError(err.message, ExitCode.ConnectFailed);
  return new CliError(`could not connect to ${url}: ${messageOf(err)}`, ExitCode.ConnectFailed);
}

function describeHandshakeError(err: HandshakeError, url: string): CliError {
  if (err.code === ErrorCode.HandshakeTimeout) {
    return new CliError(`could not connect to ${url}: ${err.message}`, ExitCode.ConnectFailed);
  }
  if (err.status === 0) {
    return new CliError(
      `could not connect to ${url}: ${networkReason(err)}`,
      ExitCode.ConnectFailed,
    );
  }
  if (err.status === 101) {
    return new CliError(
      `invalid handshake answer from ${url}: ${err.message}`,
      ExitCode.HandshakeRefused,
    );
  }
  const statusText = STATUS_CODES[err.status] ?? 'Unknown';
  const body = firstLine(err.body);
  const detail = body === '' || body === statusText ? '' : `: ${body}`;
  return new CliError(
    `the server refused the handshake: ${err.status} ${statusText}${detail}`,
    ExitCode.HandshakeRefused,
  );
}

function networkReason(err: HandshakeError): string {
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  const code = cause?.code;
  if (code !== undefined && NETWORK_REASONS[code] !== undefined) return NETWORK_REASONS[code];
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/.test(code)) {
    return `TLS: ${cause?.message ?? code} (trust its CA with --ca FILE, or skip the check with --insecure)`;
  }
  return cause?.message ?? err.message;
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
