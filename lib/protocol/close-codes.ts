/**
 * Close status codes.
 *
 * @see RFC 6455 §7.4.1 (defined codes), §7.4.2 (reserved ranges), §11.7 (registry)
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent on the wire, reported locally when a Close had no code. */
  NoStatusReceived: 1005,
  /** Reserved: never sent on the wire, reported locally when TCP ended without a Close. */
  AbnormalClosure: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never sent on the wire, reported locally when TLS failed. */
  TlsHandshake: 1015,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Tells whether a code may appear in a Close frame on the wire, in either direction.
 *
 * 1000-1003 and 1007-1014 are defined or registered (1012-1014 by IANA); 1004 is reserved
 * and 1005, 1006 and 1015 are for local reporting only. 3000-3999 are registered by
 * libraries and frameworks, 4000-4999 are private use. Everything else is invalid.
 *
 * @see RFC 6455 §7.4.1, §7.4.2
 */
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

/**
 * Tells whether an application may send this code with `close(code)`. The same set as on
 * the wire: a library must not let an application send 1005, 1006 or 1015.
 */
export function isSendableCloseCode(code: number): boolean {
  return isValidWireCloseCode(code);
}

/** Maximum payload of any control frame. @see RFC 6455 §5.5 */
export const MAX_CONTROL_PAYLOAD = 125;

/** Maximum UTF-8 bytes of a close reason: 125 minus the 2-byte code. @see RFC 6455 §5.5.1 */
export const MAX_CLOSE_REASON_BYTES = 123;
