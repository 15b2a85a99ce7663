import { Buffer } from 'node:buffer';
import {
  CloseCode,
  isSendableCloseCode,
  isValidWireCloseCode,
  MAX_CLOSE_REASON_BYTES,
} from './close-codes.js';
import { ErrorCode, InvalidArgumentError, ProtocolError } from './errors.js';
import { isValidUtf8 } from './utf8-validator.js';

/** The status code and reason carried by a Close frame. @see RFC 6455 §5.5.1 */
export interface ClosePayload {
  code: number;
  reason: string;
}

/**
 * Parses a received Close frame's payload. An empty payload is legal and reported as 1005
 * (no status received), which exists for exactly this local report; a 1-byte payload cannot
 * hold the 2-byte code and fails the connection; so does a code that must not appear on the
 * wire (1005, 1006, 1015, unassigned ranges), and a reason that is not valid UTF-8 (1007).
 *
 * @see RFC 6455 §5.5.1 (body: code then UTF-8 reason), §7.4 (status codes), §8.1 (UTF-8)
 * @example
 * parseClosePayload(Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])); // { code: 1000, reason: 'bye' }
 * parseClosePayload(Buffer.alloc(0)); // { code: 1005, reason: '' }
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatusReceived, reason: '' };
  if (payload.length === 1) {
    throw new ProtocolError(
      ErrorCode.InvalidClosePayload,
      'Close frame payload of 1 byte: a status code takes 2',
    );
  }
  const code = (payload[0]! << 8) | payload[1]!;
  if (!isValidWireCloseCode(code)) {
    throw new ProtocolError(ErrorCode.InvalidCloseCode, `invalid close code ${code} received`);
  }
  const bytes = Buffer.from(payload.buffer, payload.byteOffset + 2, payload.length - 2);
  if (!isValidUtf8(bytes)) {
    throw new ProtocolError(ErrorCode.InvalidUtf8, 'Close frame reason is not valid UTF-8');
  }
  return { code, reason: bytes.toString('utf8') };
}

/**
 * Encodes the payload of a Close we send: nothing when there is no code, else the code in
 * network byte order followed by the reason in UTF-8. Arguments are checked as
 * {@link validateCloseArguments} does, because a frame we cannot send must fail here, at the
 * caller, not become a protocol error at the peer.
 *
 * @see RFC 6455 §5.5.1
 * @example
 * encodeClosePayload(1000, 'bye'); // <Buffer 03 e8 62 79 65>
 * encodeClosePayload(); // <Buffer >
 */
export function encodeClosePayload(code?: number, reason?: string): Buffer {
  validateCloseArguments(code, reason);
  if (code === undefined) return Buffer.alloc(0);
  const text = reason ?? '';
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(text));
  payload.writeUInt16BE(code, 0);
  payload.write(text, 2, 'utf8');
  return payload;
}

/**
 * Validates (code, reason) as an application would pass them to `close()`, so that bad
 * arguments throw before any I/O: the code must be one an endpoint may send, a reason
 * needs a code (the reason follows the code in the payload), and the reason must be well
 * formed and fit in 123 bytes of UTF-8 (a control frame carries at most 125).
 *
 * @see RFC 6455 §5.5 (125-byte control payload), §5.5.1, §7.4.1, §7.4.2
 * @throws {InvalidArgumentError} when the arguments cannot be sent
 */
export function validateCloseArguments(code?: number, reason?: string): void {
  if (reason !== undefined && typeof reason !== 'string') {
    throw new InvalidArgumentError(`close reason must be a string, got ${typeof reason}`);
  }
  if (code === undefined) {
    if (reason !== undefined && reason !== '') {
      throw new InvalidArgumentError('a close reason needs a close code');
    }
    return;
  }
  if (typeof code !== 'number' || !isSendableCloseCode(code)) {
    throw new InvalidArgumentError(`close code ${String(code)} may not be sent`);
  }
  if (reason !== undefined) validateReason(reason);
}

/** Rejects a reason that cannot go out as is: lone surrogates would be sent as U+FFFD. */
function validateReason(reason: string): void {
  if (!isWellFormed(reason)) {
    throw new InvalidArgumentError('close reason contains a lone surrogate (not valid UTF-16)');
  }
  const bytes = Buffer.byteLength(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw new InvalidArgumentError(
      `close reason is ${bytes} bytes of UTF-8; at most ${MAX_CLOSE_REASON_BYTES} fit in a Close frame`,
    );
  }
}

/** Tells whether a string has no lone surrogates (ES2024 `isWellFormed`, in Node 20). */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}
