import { InvalidArgumentError } from './errors.js';

/**
 * Options and limits in one place: every documented default, one validator per kind of
 * value (a size in bytes, a duration, a count), and how the size limits apply in each way
 * of receiving messages. The connection, the server, the client and the stages all resolve
 * their options through these, so that a name means one thing end to end and a bad value
 * is refused the same way everywhere.
 *
 * The principle behind the limits: a limit protects what the library holds. A message
 * assembled in memory is bounded by `maxReceivedMessageSize`; a message the library never
 * holds whole (a message stream, raw frames) is the application's to bound, unless it asks
 * for a streaming limit (`maxStreamedMessageSize`). A frame is bounded by what receiving it
 * holds: by default the frame limit follows the message limit of the mode, so that the
 * one-frame messages that ws and browsers send are accepted whenever the message is.
 *
 * @see RFC 6455 §10.4 (implementation-specific limits)
 */

const MiB = 1024 * 1024;

/** The documented defaults of every tunable, in one place. */
export const DEFAULTS = {
  /** Bytes of an assembled message (payload, after decompression). */
  maxReceivedMessageSize: 64 * MiB,
  /** Bytes of a message received as a stream or as raw frames: no limit. */
  maxStreamedMessageSize: Number.POSITIVE_INFINITY,
  /** Largest outgoing frame payload when fragmenting (WebSocket-Node's default). */
  fragmentationThreshold: 16 * 1024,
  /** Silence, in ms, before a keepalive ping. */
  keepaliveInterval: 20_000,
  /** Time, in ms, a peer has to answer the keepalive ping. */
  keepaliveGracePeriod: 10_000,
  /** Time, in ms, to wait for the peer's part of the closing handshake. */
  closeTimeout: 5_000,
  /** Messages buffered on the readable side before reading stops. */
  readableHighWaterMark: 16,
  /** Bytes buffered on the writable side before write() returns false. */
  writableHighWaterMark: 64 * 1024,
  /** Frames buffered on the writable side in raw mode. */
  rawWritableHighWaterMark: 16,
  /** Time, in ms, to finish an opening handshake (both sides). */
  handshakeTimeout: 10_000,
  /** Time, in ms, shutDown() waits before terminating what is left. */
  shutdownGracePeriod: 5_000,
} as const;

/** How received messages are handed out: whole, as streams, or as the frames they came in. */
export type ReceiveMode = 'messages' | 'streams' | 'frames';

/** The size limits, under the option names of the connection. */
export interface SizeLimitOptions {
  maxReceivedFrameSize?: number | undefined;
  maxReceivedMessageSize?: number | undefined;
  maxStreamedMessageSize?: number | undefined;
}

/** A limit in bytes and the option that sets it, which every error about it names. */
export interface Limit {
  readonly size: number;
  readonly option: string;
}

/** The limits that apply on one connection, given its receive mode. */
export interface ReceiveLimits {
  /** Largest frame payload (refused at its header, before any of it is kept). */
  readonly frame: Limit;
  /** Largest message payload (summed over its fragments, after decompression). */
  readonly message: Limit;
}

/**
 * Resolves the size limits for a receive mode (see the module note). Throws
 * InvalidArgumentError, naming the option, for a value that is not a size.
 *
 * @example
 * resolveReceiveLimits({}, 'messages').frame; // { size: 67108864, option: 'maxReceivedMessageSize' }
 * resolveReceiveLimits({}, 'streams').message.size; // Infinity
 */
export function resolveReceiveLimits(options: SizeLimitOptions, mode: ReceiveMode): ReceiveLimits {
  const held = limitOf(options, 'maxReceivedMessageSize');
  const streamed = limitOf(options, 'maxStreamedMessageSize');
  // Raw frames are held whole, one at a time; an assembled message whole; a streamed one never.
  const message = mode === 'messages' ? held : streamed;
  const follows = mode === 'streams' ? streamed : held;
  const frame =
    options.maxReceivedFrameSize === undefined
      ? { size: withDeflateExpansion(follows.size), option: follows.option }
      : limitOf(options, 'maxReceivedFrameSize');
  return { frame, message };
}

/**
 * Gives a frame limit that a message within `size` bytes never crosses, compressed or not:
 * DEFLATE can make incompressible data a little larger (5 bytes per stored block of up to
 * 64 KiB, and a few per flush), so a compressed frame may exceed its message by about 0.01%.
 * A thousandth and 64 bytes cover it.
 *
 * @see RFC 1951 §3.2.4 (stored blocks), RFC 7692 §7.2.1
 */
function withDeflateExpansion(size: number): number {
  if (size === Number.POSITIVE_INFINITY) return size;
  return Math.min(Number.MAX_SAFE_INTEGER, size + Math.ceil(size / 1024) + 64);
}

/** Reads one size limit, with its default. */
function limitOf(options: SizeLimitOptions, option: keyof SizeLimitOptions): Limit {
  const fallback =
    option === 'maxStreamedMessageSize'
      ? DEFAULTS.maxStreamedMessageSize
      : DEFAULTS.maxReceivedMessageSize;
  return { size: checkSize(options[option], option, fallback), option };
}

/**
 * Checks a size in bytes: a non-negative integer, or Infinity for "no limit". `undefined`
 * gives the fallback; anything else (null, NaN, a negative or fractional number, a string)
 * is refused, because a limit that silently falls back is a limit the user did not get.
 *
 * @example checkSize(1024, 'maxReceivedMessageSize', 0) // 1024
 */
export function checkSize(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative integer (bytes) or Infinity, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks a duration in milliseconds, at most what setTimeout takes (2^31-1). With
 * `zeroMeansOff`, 0 (and Infinity) turn the timer off and resolve to 0; otherwise the
 * duration must be positive and finite.
 *
 * @example checkDuration(undefined, 'closeTimeout', 5_000) // 5000
 */
export function checkDuration(
  value: unknown,
  name: string,
  fallback: number,
  zeroMeansOff = false,
): number {
  if (value === undefined) return fallback;
  if (zeroMeansOff && (value === 0 || value === Number.POSITIVE_INFINITY)) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    const range = zeroMeansOff ? 'a non-negative number' : 'a positive number';
    throw new InvalidArgumentError(
      `${name} must be ${range} of milliseconds up to 2^31-1, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks a count (a high-water mark, a number of redirects): a non-negative integer.
 *
 * @example checkCount(undefined, 'readableHighWaterMark', 16) // 16
 */
export function checkCount(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative integer, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks a boolean option: `undefined` gives the fallback, a non-boolean is refused (a
 * `'false'` string from a configuration file must not mean true).
 *
 * @example checkBoolean(undefined, 'keepalive', true) // true
 */
export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidArgumentError(`${name} must be true or false, got ${describe(value)}`);
  }
  return value;
}

/** Describes a value for an error message: its JSON form, or its type. */
export function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
