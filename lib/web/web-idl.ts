import { Buffer } from 'node:buffer';
import { isAnyArrayBuffer, isArrayBuffer, isSharedArrayBuffer } from 'node:util/types';

/**
 * The few Web IDL conversions the web APIs need, done as a browser's bindings do them, so
 * that a value a browser accepts is accepted here and a value it refuses is refused with
 * the same error class (TypeError for a conversion, DOMException for the algorithms'
 * own checks).
 *
 * @see https://webidl.spec.whatwg.org/#es-type-mapping
 */

/** An ArrayBuffer or a view on one: Web IDL's BufferSource, without the DOM lib. */
export type BufferSourceLike = ArrayBuffer | ArrayBufferView;

/**
 * Converts to a USVString: ToString (a Symbol throws TypeError, as Web IDL's DOMString
 * conversion does), then lone surrogates replaced by U+FFFD.
 *
 * @see https://webidl.spec.whatwg.org/#es-USVString
 * @example toUSVString('a\uD800') // 'a\uFFFD'
 */
export function toUSVString(value: unknown): string {
  return toWellFormed(toDOMString(value));
}

/**
 * Converts to a DOMString with ECMAScript ToString: `${value}` throws TypeError for a
 * Symbol, where String(value) would not.
 *
 * @see https://webidl.spec.whatwg.org/#es-DOMString
 * @example toDOMString(42) // '42'
 */
export function toDOMString(value: unknown): string {
  return `${value as string}`;
}

/** Replaces lone surrogates with U+FFFD (String.prototype.toWellFormed, Node 20+). */
function toWellFormed(text: string): string {
  const wellFormed = (text as { toWellFormed?: () => string }).toWellFormed;
  return wellFormed === undefined
    ? Buffer.from(text, 'utf8').toString('utf8')
    : wellFormed.call(text);
}

/**
 * Converts to a Web IDL number with ToNumber: BigInt and Symbol throw TypeError.
 *
 * @see https://tc39.es/ecma262/#sec-tonumber
 */
function toNumber(value: unknown): number {
  return +(value as number);
}

/**
 * Converts to `[Clamp] unsigned short`: NaN becomes 0, the value is clamped to 0-65535 and
 * rounded to the nearest integer, ties to even.
 *
 * @see https://webidl.spec.whatwg.org/#abstract-opdef-converttoint ([Clamp])
 * @example toClampedUnsignedShort(4000.5) // 4000; toClampedUnsignedShort(70000) // 65535
 */
export function toClampedUnsignedShort(value: unknown): number {
  const x = toNumber(value);
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(Math.max(x, 0), 65_535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Converts to a plain `unsigned short`: NaN and infinities become 0, the value is
 * truncated and taken modulo 2^16 (CloseEventInit's `code`).
 *
 * @see https://webidl.spec.whatwg.org/#abstract-opdef-converttoint
 * @example toUnsignedShort(70000) // 4464
 */
export function toUnsignedShort(value: unknown): number {
  const x = toNumber(value);
  if (!Number.isFinite(x)) return 0;
  const truncated = Math.trunc(x);
  return ((truncated % 65_536) + 65_536) % 65_536;
}

/**
 * Tells whether a value is a BufferSource: an ArrayBuffer or an ArrayBufferView (a
 * SharedArrayBuffer is neither, and a string conversion takes it, as in a browser).
 *
 * @see https://webidl.spec.whatwg.org/#BufferSource
 */
export function isBufferSource(value: unknown): value is BufferSourceLike {
  return isArrayBuffer(value) || ArrayBuffer.isView(value);
}

/**
 * Copies the bytes of a BufferSource into a new Buffer, so that the caller may reuse its
 * memory at once: a message waits in queues after send() returns. A view on a
 * SharedArrayBuffer throws TypeError, as BufferSource has no [AllowShared]; a detached
 * buffer holds no bytes.
 *
 * @see https://webidl.spec.whatwg.org/#dfn-get-buffer-source-copy
 * @example copyBufferSource(new Uint16Array([1])) // <Buffer 01 00>
 */
export function copyBufferSource(source: BufferSourceLike): Buffer {
  if (ArrayBuffer.isView(source)) {
    if (isSharedArrayBuffer(source.buffer)) {
      throw new TypeError('A view on a SharedArrayBuffer cannot be sent');
    }
    return Buffer.from(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
  }
  if (!isAnyArrayBuffer(source)) throw new TypeError('Not a BufferSource');
  return Buffer.from(new Uint8Array(source));
}

/**
 * Gives a message's bytes as an ArrayBuffer of exactly their length: the Buffer's own
 * memory when it spans a whole ArrayBuffer (an assembled message is a fresh one), a copy
 * otherwise (a slice of a larger read buffer must not expose its neighbours).
 */
export function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  const backing = bytes.buffer;
  if (isArrayBuffer(backing) && bytes.byteOffset === 0 && bytes.byteLength === backing.byteLength) {
    return backing;
  }
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}
