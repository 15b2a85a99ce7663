import { CloseCode } from './close-codes.js';

/**
 * Stable error codes. Each one is listed, with its meaning, in the README's "Error codes"
 * section; a test keeps the two in step.
 */
export const ErrorCode = {
  // Framing (RFC 6455 §5): the connection is failed with 1002 unless noted.
  InvalidOpcode: 'ERR_WS_INVALID_OPCODE',
  ReservedBits: 'ERR_WS_RESERVED_BITS',
  ControlFrameTooLong: 'ERR_WS_CONTROL_FRAME_TOO_LONG',
  FragmentedControlFrame: 'ERR_WS_FRAGMENTED_CONTROL_FRAME',
  MaskRequired: 'ERR_WS_MASK_REQUIRED',
  UnexpectedMask: 'ERR_WS_UNEXPECTED_MASK',
  InvalidLength: 'ERR_WS_INVALID_LENGTH',
  UnexpectedContinuation: 'ERR_WS_UNEXPECTED_CONTINUATION',
  ExpectedContinuation: 'ERR_WS_EXPECTED_CONTINUATION',
  InvalidClosePayload: 'ERR_WS_INVALID_CLOSE_PAYLOAD',
  InvalidCloseCode: 'ERR_WS_INVALID_CLOSE_CODE',
  // Limits: 1009.
  FrameTooLarge: 'ERR_WS_FRAME_TOO_LARGE',
  MessageTooLarge: 'ERR_WS_MESSAGE_TOO_LARGE',
  // Payload: 1007.
  InvalidUtf8: 'ERR_WS_INVALID_UTF8',
  // Others that end a connection.
  UnsupportedData: 'ERR_WS_UNSUPPORTED_DATA',
  PolicyViolation: 'ERR_WS_POLICY_VIOLATION',
  ExtensionRequired: 'ERR_WS_EXTENSION_REQUIRED',
  ExtensionFailed: 'ERR_WS_EXTENSION_FAILED',
  Internal: 'ERR_WS_INTERNAL',
  KeepaliveTimeout: 'ERR_WS_KEEPALIVE_TIMEOUT',
  // Handshake (HTTP): carries an HTTP status, no close code.
  Handshake: 'ERR_WS_HANDSHAKE',
  /** The client could not reach the server (DNS, TCP, TLS, proxy): status 0, with the cause. */
  ConnectFailed: 'ERR_WS_CONNECT_FAILED',
  HandshakeTimeout: 'ERR_WS_HANDSHAKE_TIMEOUT',
  /** The HTTP proxy refused the tunnel (CONNECT answered with another status than 2xx). */
  ProxyRefused: 'ERR_WS_PROXY_REFUSED',
  InvalidHeader: 'ERR_WS_INVALID_HEADER',
  /** HTTP/2 was required, but the server does not speak it or refuses extended CONNECT (RFC 8441 §3). */
  Http2Unavailable: 'ERR_WS_HTTP2_UNAVAILABLE',
  /** The Redis backplane failed (reached, answered, or was given a message not its own). */
  Backplane: 'ERR_WS_BACKPLANE',
  // Local misuse and lifecycle.
  InvalidArgument: 'ERR_WS_INVALID_ARGUMENT',
  ConnectionClosed: 'ERR_WS_CONNECTION_CLOSED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The Close code that a connection ending with each error sends, in one table: the single
 * mapping from errors to close codes (closeCodeFor reads it through `closeCode`). 1006 means
 * no Close frame is sent (the connection is dropped, or is already gone); undefined means
 * the error never ends a connection by itself (handshake and argument errors).
 *
 * @see RFC 6455 §7.4.1 (defined status codes)
 */
export const CLOSE_CODE_OF: Readonly<Record<ErrorCode, number | undefined>> = {
  [ErrorCode.InvalidOpcode]: CloseCode.ProtocolError,
  [ErrorCode.ReservedBits]: CloseCode.ProtocolError,
  [ErrorCode.ControlFrameTooLong]: CloseCode.ProtocolError,
  [ErrorCode.FragmentedControlFrame]: CloseCode.ProtocolError,
  [ErrorCode.MaskRequired]: CloseCode.ProtocolError,
  [ErrorCode.UnexpectedMask]: CloseCode.ProtocolError,
  [ErrorCode.InvalidLength]: CloseCode.ProtocolError,
  [ErrorCode.UnexpectedContinuation]: CloseCode.ProtocolError,
  [ErrorCode.ExpectedContinuation]: CloseCode.ProtocolError,
  [ErrorCode.InvalidClosePayload]: CloseCode.ProtocolError,
  [ErrorCode.InvalidCloseCode]: CloseCode.ProtocolError,
  [ErrorCode.FrameTooLarge]: CloseCode.MessageTooBig,
  [ErrorCode.MessageTooLarge]: CloseCode.MessageTooBig,
  [ErrorCode.InvalidUtf8]: CloseCode.InvalidPayload,
  [ErrorCode.UnsupportedData]: CloseCode.UnsupportedData,
  [ErrorCode.PolicyViolation]: CloseCode.PolicyViolation,
  [ErrorCode.ExtensionRequired]: CloseCode.MandatoryExtension,
  [ErrorCode.ExtensionFailed]: CloseCode.ProtocolError,
  [ErrorCode.Internal]: CloseCode.InternalError,
  [ErrorCode.KeepaliveTimeout]: CloseCode.AbnormalClosure,
  [ErrorCode.Handshake]: undefined,
  [ErrorCode.ConnectFailed]: undefined,
  [ErrorCode.HandshakeTimeout]: undefined,
  [ErrorCode.ProxyRefused]: undefined,
  [ErrorCode.InvalidHeader]: undefined,
  [ErrorCode.Http2Unavailable]: undefined,
  [ErrorCode.Backplane]: undefined,
  [ErrorCode.InvalidArgument]: undefined,
  [ErrorCode.ConnectionClosed]: CloseCode.AbnormalClosure,
};

/**
 * Root of every error this library raises. `code` is stable across versions; `closeCode`
 * is set where the error ends a connection and says which Close code is sent for it.
 */
export class WebSocketError extends Error {
  readonly code: ErrorCode;
  readonly closeCode: number | undefined;

  /** Makes an error whose close code is the one CLOSE_CODE_OF gives for `code`. */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WebSocketError';
    this.code = code;
    this.closeCode = CLOSE_CODE_OF[code];
  }
}

/**
 * A violation of RFC 6455 or RFC 7692 by the peer, or a limit it crossed. The connection
 * is failed with `closeCode` (1002 unless the rule says otherwise).
 *
 * @see RFC 6455 §7.1.7 (Fail the WebSocket Connection)
 */
export class ProtocolError extends WebSocketError {
  declare readonly closeCode: number;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

/** A header map as both node:http and raw parsers deliver it (lower-case names). */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * An opening handshake that failed. On the server side `status` is the HTTP status to
 * answer with; on the client side it is the status the server answered (0 when no HTTP
 * answer came), with its headers and a bounded excerpt of its body.
 *
 * @see RFC 6455 §4.1 (client requirements), §4.2.2 (server answers)
 */
export class HandshakeError extends WebSocketError {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: string;

  constructor(
    message: string,
    status: number,
    init: { code?: ErrorCode; headers?: HeaderMap; body?: string; cause?: unknown } = {},
  ) {
    super(
      init.code ?? ErrorCode.Handshake,
      message,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.name = 'HandshakeError';
    this.status = status;
    this.headers = init.headers ?? {};
    this.body = init.body ?? '';
  }
}

/**
 * An operation on a connection that has closed, or the report that it closed abnormally.
 * Carries the codes that were sent and received (undefined where none was).
 */
export class ConnectionClosedError extends WebSocketError {
  readonly codeSent: number | undefined;
  readonly codeReceived: number | undefined;

  constructor(
    message: string,
    init: { codeSent?: number; codeReceived?: number; code?: ErrorCode } = {},
  ) {
    super(init.code ?? ErrorCode.ConnectionClosed, message);
    this.name = 'ConnectionClosedError';
    this.codeSent = init.codeSent;
    this.codeReceived = init.codeReceived;
  }
}

/** A wrong argument or option given by the application: thrown synchronously, never sent. */
export class InvalidArgumentError extends WebSocketError {
  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
    this.name = 'InvalidArgumentError';
  }
}

/**
 * Maps any error to the Close code that a connection failing with it sends. The one place
 * where that mapping lives: our own errors carry their code; anything else (a bug, a zlib
 * failure, an application's error passed to `destroy`) is an internal error, 1011, sent
 * without reason text so that nothing private leaks to the peer.
 *
 * @see RFC 6455 §7.4.1
 */
export function closeCodeFor(err: unknown): number {
  if (err instanceof WebSocketError && err.closeCode !== undefined) return err.closeCode;
  // The consumer let go (a `for await` left early, an aborted pipeline): its purpose is
  // fulfilled, nothing failed. @see RFC 6455 §7.4.1 (1000)
  if (err instanceof Error && err.name === 'AbortError') return CloseCode.Normal;
  return CloseCode.InternalError;
}

/**
 * Gives the reason text to send with `closeCodeFor(err)`: our own protocol errors explain
 * themselves (bounded to what fits in a Close frame), everything else sends none.
 */
export function closeReasonFor(err: unknown): string {
  if (!(err instanceof ProtocolError)) return '';
  return truncateUtf8(err.message, 123);
}

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a code point. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}
