import { isUtf8 } from 'node:buffer';

/**
 * The form of a message on a Redis channel: a fixed 24-byte header, then the payload as it
 * goes on the WebSocket (UTF-8 for text, bytes for binary). Binary rather than JSON, so that
 * a binary payload is never base64'd and a text payload is never escaped.
 *
 * ```
 * 0      1        2      3         4 ... 11    12 ... 15   16 ... 23             24 ...
 * magic  version  flags  reserved  origin id   (zero)      maxBufferedAmount f64  payload
 * ```
 *
 * `origin` names the backplane that published it, so that the publishing process, which has
 * already delivered the message locally, drops its own copy (delivered once, never twice).
 */
export interface Envelope {
  /** The publisher's id (8 bytes, random per backplane). */
  origin: Buffer;
  /** The message: a string is text, a Buffer is binary. */
  data: string | Buffer;
  /** The broadcast's `maxBufferedAmount` (Infinity when none was given). */
  maxBufferedAmount: number;
}

export const ENVELOPE_HEADER_SIZE = 24;
export const ORIGIN_SIZE = 8;
const MAGIC = 0x77; // 'w'
const VERSION = 1;
const FLAG_BINARY = 0x01;
const KNOWN_FLAGS = FLAG_BINARY;

/**
 * Encodes a message with its origin into one Buffer for PUBLISH. Takes a string as text and
 * bytes as binary, as a connection's write() does.
 */
export function encodeEnvelope(
  origin: Buffer,
  data: string | Uint8Array,
  maxBufferedAmount = Number.POSITIVE_INFINITY,
): Buffer {
  const text = typeof data === 'string';
  const size = text ? Buffer.byteLength(data, 'utf8') : data.byteLength;
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_SIZE + size);
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = text ? 0 : FLAG_BINARY;
  out[3] = 0;
  origin.copy(out, 4, 0, ORIGIN_SIZE);
  out.writeUInt32BE(0, 12);
  out.writeDoubleBE(maxBufferedAmount, 16);
  if (text) out.write(data, ENVELOPE_HEADER_SIZE, 'utf8');
  else out.set(data, ENVELOPE_HEADER_SIZE);
  return out;
}

/**
 * Decodes a message received from Redis, or says in a sentence why it cannot: anything may
 * arrive on a channel (another program, another version), and a bad message must be
 * refused, never delivered (text that is not UTF-8 would fail every client with 1007).
 * A binary payload is a view of `raw` unless that would pin a much larger buffer.
 */
export function decodeEnvelope(raw: Buffer): Envelope | string {
  if (raw.length < ENVELOPE_HEADER_SIZE) {
    return `${raw.length} bytes, shorter than the ${ENVELOPE_HEADER_SIZE}-byte header`;
  }
  if (raw[0] !== MAGIC) return `not a backplane message (first byte 0x${hex(raw[0]!)})`;
  if (raw[1] !== VERSION) return `unknown version ${raw[1]} (this backplane reads ${VERSION})`;
  const flags = raw[2]!;
  if ((flags & ~KNOWN_FLAGS) !== 0 || raw[3] !== 0) return `unknown flags 0x${hex(flags)}`;
  const maxBufferedAmount = raw.readDoubleBE(16);
  if (Number.isNaN(maxBufferedAmount) || maxBufferedAmount < 0) {
    return `invalid maxBufferedAmount ${maxBufferedAmount}`;
  }
  const origin = raw.subarray(4, 4 + ORIGIN_SIZE);
  const payload = raw.subarray(ENVELOPE_HEADER_SIZE);
  if ((flags & FLAG_BINARY) !== 0) {
    // A small view must not pin the client's large read buffer while connections queue it.
    const data = payload.buffer.byteLength > 2 * payload.length ? Buffer.from(payload) : payload;
    return { origin, data, maxBufferedAmount };
  }
  if (!isUtf8(payload)) return 'a text message that is not valid UTF-8';
  return { origin, data: payload.toString('utf8'), maxBufferedAmount };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
