import { Buffer } from 'node:buffer';
import { toDOMString, toUSVString } from './web-idl.js';

/**
 * The argument checks that the WebSockets standard makes before any I/O, shared by
 * WebSocket and WebSocketStream: the URL, the subprotocols, and the code and reason of a
 * close. Each failure is the DOMException the standard names.
 */

/** The longest close reason, in bytes of UTF-8: a Close frame carries at most 125 bytes. */
export const MAX_REASON_BYTES = 123;

/**
 * Gets a URL record: parses `url` (there is no API base URL in Node, so a relative URL
 * fails), maps http: to ws: and https: to wss:, and refuses any other scheme and any
 * fragment (an empty one included) with a SyntaxError DOMException.
 *
 * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket (steps 1-7)
 * @example getUrlRecord('https://example.com/chat').href // 'wss://example.com/chat'
 */
export function getUrlRecord(url: unknown): URL {
  const text = toUSVString(url);
  let record: URL;
  try {
    record = new URL(text);
  } catch {
    throw new DOMException(`Invalid URL: ${JSON.stringify(text)}`, 'SyntaxError');
  }
  if (record.protocol === 'http:') record.protocol = 'ws:';
  else if (record.protocol === 'https:') record.protocol = 'wss:';
  if (record.protocol !== 'ws:' && record.protocol !== 'wss:') {
    throw new DOMException(
      `The URL's scheme must be ws, wss, http or https; ${record.protocol.slice(0, -1)} is not allowed`,
      'SyntaxError',
    );
  }
  // The serializer writes '#' exactly when the fragment is non-null; everywhere else it
  // is percent-encoded.
  if (record.href.includes('#')) {
    throw new DOMException('A WebSocket URL must not have a fragment', 'SyntaxError');
  }
  return record;
}

/**
 * Converts WebSocket's `(DOMString or sequence<DOMString>) protocols`: an iterable object
 * is a sequence, anything else one string (a plain object becomes "[object Object]" and
 * fails the check, as in a browser).
 *
 * @see https://webidl.spec.whatwg.org/#es-union
 */
export function toProtocolList(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  if (isIterableObject(protocols)) return Array.from(protocols, toDOMString);
  return [toDOMString(protocols)];
}

/**
 * Converts a dictionary member of type `sequence<USVString>` (WebSocketStreamOptions'
 * `protocols`): anything but an iterable object is a TypeError.
 *
 * @see https://webidl.spec.whatwg.org/#es-sequence
 */
export function toUSVStringSequence(value: unknown, what: string): string[] {
  if (!isIterableObject(value)) {
    throw new TypeError(`${what} cannot be converted to a sequence`);
  }
  return Array.from(value, toUSVString);
}

/**
 * Checks the subprotocols offered: each a token as Sec-WebSocket-Protocol's elements
 * must be, none twice (compared exactly, as browsers do).
 *
 * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket (step 9)
 * @see RFC 6455 §4.1 (item 10), RFC 7230 §3.2.6 (token)
 * @throws {DOMException} SyntaxError
 */
export function checkSubprotocols(protocols: readonly string[]): void {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) {
      throw new DOMException(`Invalid subprotocol: ${JSON.stringify(protocol)}`, 'SyntaxError');
    }
    if (seen.has(protocol)) {
      throw new DOMException(`The subprotocol ${protocol} is duplicated`, 'SyntaxError');
    }
    seen.add(protocol);
  }
}

/**
 * Validates a close code and reason: a code must be 1000 or in 3000-4999 (the others are
 * the protocol's own: InvalidAccessError), and the reason at most 123 bytes of UTF-8
 * (SyntaxError). A null code is "no code".
 *
 * @see https://websockets.spec.whatwg.org/#dom-websocket-close (steps 1-2)
 * @throws {DOMException} InvalidAccessError, SyntaxError
 */
export function validateCloseCodeAndReason(code: number | null, reason: string): void {
  if (code !== null && code !== 1000 && !(code >= 3000 && code <= 4999)) {
    throw new DOMException(
      `The close code must be either 1000, or between 3000 and 4999; ${code} is neither`,
      'InvalidAccessError',
    );
  }
  if (Buffer.byteLength(reason, 'utf8') > MAX_REASON_BYTES) {
    throw new DOMException(
      `The close reason must not be longer than ${MAX_REASON_BYTES} bytes of UTF-8`,
      'SyntaxError',
    );
  }
}

function isIterableObject(value: unknown): value is Iterable<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
  );
}

/** tchar: visible ASCII except the separators. @see RFC 7230 §3.2.6 */
function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || SEPARATORS.includes(text[i]!)) return false;
  }
  return true;
}

const SEPARATORS = '()<>@,;:\\"/[]?={}';
