import { validateCloseCodeAndReason } from './argument-checks.js';
import { toClampedUnsignedShort, toUSVString } from './web-idl.js';

/** A close code and reason: what WebSocketStream's `close()` takes and `closed` resolves with. */
export interface WebSocketCloseInfo {
  /** The close code (1000 or 3000-4999 when sent). */
  closeCode?: number;
  /** The close reason, at most 123 bytes of UTF-8. Default: ''. */
  reason?: string;
}

/** Set by WebSocketError's static block: makes an error whose code is not validated. */
let unvalidated: (message: string, closeCode: number | null, reason: string) => WebSocketError;

/**
 * Reports how a WebSocketStream ended badly, and lets an application close one with a
 * code: `writable.abort(new WebSocketError('', { closeCode: 4000, reason: 'bye' }))` sends
 * that code. A DOMException named 'WebSocketError' carrying `closeCode` (null when none)
 * and `reason`; a reason without a code means 1000.
 *
 * @see https://github.com/whatwg/websockets/pull/48 (the WebSocketError interface)
 * @example
 * ```ts
 * const error = new WebSocketError('giving up', { closeCode: 4000, reason: 'timeout' });
 * error.closeCode; // 4000
 * ```
 */
export class WebSocketError extends DOMException {
  #closeCode: number | null = null;
  #reason = '';

  constructor(message = '', init: WebSocketCloseInfo = {}) {
    super(toUSVString(message), 'WebSocketError');
    const { code, reason } = toCloseInfo(init);
    validateCloseCodeAndReason(code, reason);
    this.#closeCode = code === null && reason !== '' ? 1000 : code;
    this.#reason = reason;
  }

  /** Returns the close code, or null when there is none. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** Returns the close reason ('' when none). */
  get reason(): string {
    return this.#reason;
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocketError';
  }

  static {
    unvalidated = (message, closeCode, reason) => {
      const error = new WebSocketError(message);
      error.#closeCode = closeCode;
      error.#reason = reason;
      return error;
    };
  }
}

/** Makes a WebSocketError for a close that happened (codes such as 1006 are not validated). */
export function createUnvalidatedWebSocketError(
  message: string,
  closeCode: number | null,
  reason: string,
): WebSocketError {
  return unvalidated(message, closeCode, reason);
}

/**
 * Converts a WebSocketCloseInfo dictionary: undefined and null are empty; `closeCode` is
 * an unsigned short clamped as Chromium does ([Clamp]: 70000 becomes 65535 and then fails
 * validation with InvalidAccessError), `reason` a USVString. Anything else is a TypeError.
 *
 * @see https://webidl.spec.whatwg.org/#es-dictionary
 */
export function toCloseInfo(value: unknown): { code: number | null; reason: string } {
  if (value === undefined || value === null) return { code: null, reason: '' };
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new TypeError('The provided value is not of type WebSocketCloseInfo');
  }
  const info = value as { closeCode?: unknown; reason?: unknown };
  const closeCode = info.closeCode;
  const reason = info.reason;
  return {
    code: closeCode === undefined ? null : toClampedUnsignedShort(closeCode),
    reason: reason === undefined ? '' : toUSVString(reason),
  };
}
