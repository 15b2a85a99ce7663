import type { Extension } from '../extensions/extension.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Role } from '../protocol/frame.js';
import { type FragmentationOptions, resolveFragmentThreshold } from './fragmentation-options.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from './message-assembler.js';

/**
 * Tunables of a connection, under WebSocket-Node's names where it had them. A server
 * passes its own as the defaults of every connection it accepts.
 */
export interface ConnectionOptions extends FragmentationOptions {
  /** Largest frame payload accepted, in bytes; a larger frame closes with 1009. Default: 16 MiB. */
  maxReceivedFrameSize?: number;
  /**
   * Largest message accepted, in bytes (payload of all fragments, plus a small cost per
   * fragment kept when assembling); a larger one closes with 1009. Default: 64 MiB.
   * Applies to streamed messages too (set it to Infinity to stream without a limit).
   */
  maxReceivedMessageSize?: number;
  /**
   * Whether fragments are assembled into messages (default). With false the connection
   * reads and writes Frame objects (raw-fragment mode).
   */
  assembleFragments?: boolean;
  /** Hand out each received message as an IncomingMessageStream instead of a whole chunk. Default: false. */
  messageStreams?: boolean;
  /** Send pings when the peer is silent. Default: false on a bare connection, true on a server. */
  keepalive?: boolean;
  /** Silence, in ms, after which a keepalive ping is sent. Default: 20 000. */
  keepaliveInterval?: number;
  /** Drop a peer that stays silent after the ping. Default: true. */
  dropConnectionOnKeepaliveTimeout?: boolean;
  /** Time, in ms, a peer has to answer the keepalive ping before it is dropped. Default: 10 000. */
  keepaliveGracePeriod?: number;
  /** Time, in ms, to wait for the peer's part of the closing handshake. Default: 5 000. */
  closeTimeout?: number;
  /**
   * After the peer's Close, wait for `end()` (at most `closeTimeout`) before answering it,
   * so that answers to the last messages still go out: an echo through `pipe`, a filter
   * process whose output comes after its input ended. Default: false (answer at once, as
   * RFC 6455 §5.5.1 prefers).
   */
  deferCloseReply?: boolean;
  /** Messages buffered on the readable side before the connection stops reading. Default: 16. */
  readableHighWaterMark?: number;
  /** Bytes (or frames, in raw mode) buffered on the writable side before write() returns false. Default: 64 KiB (16 frames). */
  writableHighWaterMark?: number;
}

/** What the handshake hands to the connection beside the tunables. */
export interface ConnectionInit extends ConnectionOptions {
  /** Our end of the connection. */
  role: Role;
  /** The subprotocol agreed in the handshake ('' when none). */
  protocol?: string;
  /** Bytes that arrived after the handshake and before the connection took the transport. */
  head?: Buffer;
  /** Extensions agreed in the handshake, in the order they apply. */
  extensions?: readonly Extension[];
}

/** Every tunable, resolved to a value. */
export interface ResolvedConnectionOptions {
  role: Role;
  protocol: string;
  maxReceivedFrameSize: number;
  maxReceivedMessageSize: number;
  fragmentThreshold: number;
  assembleFragments: boolean;
  messageStreams: boolean;
  keepalive: boolean;
  keepaliveInterval: number;
  dropConnectionOnKeepaliveTimeout: boolean;
  keepaliveGracePeriod: number;
  closeTimeout: number;
  deferCloseReply: boolean;
  readableHighWaterMark: number;
  writableHighWaterMark: number | undefined;
}

/** The documented defaults, in one place. */
export const CONNECTION_DEFAULTS = {
  maxReceivedFrameSize: 16 * 1024 * 1024,
  maxReceivedMessageSize: DEFAULT_MAX_MESSAGE_SIZE,
  keepaliveInterval: 20_000,
  keepaliveGracePeriod: 10_000,
  closeTimeout: 5_000,
  readableHighWaterMark: 16,
} as const;

/** Resolves and checks the options; throws InvalidArgumentError naming the bad one. */
export function resolveConnectionOptions(init: ConnectionInit): ResolvedConnectionOptions {
  if (init.role !== 'server' && init.role !== 'client') {
    throw new InvalidArgumentError(`role must be 'server' or 'client', got ${String(init.role)}`);
  }
  return {
    role: init.role,
    protocol: init.protocol ?? '',
    maxReceivedFrameSize: limit(init, 'maxReceivedFrameSize'),
    maxReceivedMessageSize: limit(init, 'maxReceivedMessageSize'),
    fragmentThreshold: resolveFragmentThreshold(init),
    assembleFragments: init.assembleFragments ?? true,
    messageStreams: init.messageStreams ?? false,
    keepalive: init.keepalive ?? false,
    keepaliveInterval: duration(init, 'keepaliveInterval'),
    dropConnectionOnKeepaliveTimeout: init.dropConnectionOnKeepaliveTimeout ?? true,
    keepaliveGracePeriod: duration(init, 'keepaliveGracePeriod'),
    closeTimeout: duration(init, 'closeTimeout'),
    deferCloseReply: init.deferCloseReply ?? false,
    readableHighWaterMark: count(init.readableHighWaterMark, 'readableHighWaterMark', 16),
    writableHighWaterMark:
      init.writableHighWaterMark === undefined
        ? undefined
        : count(init.writableHighWaterMark, 'writableHighWaterMark', 0),
  };
}

function limit(
  init: ConnectionInit,
  name: 'maxReceivedFrameSize' | 'maxReceivedMessageSize',
): number {
  const value = init[name] ?? CONNECTION_DEFAULTS[name];
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer or Infinity`);
  }
  return value;
}

function duration(
  init: ConnectionInit,
  name: 'keepaliveInterval' | 'keepaliveGracePeriod' | 'closeTimeout',
): number {
  const value = init[name] ?? CONNECTION_DEFAULTS[name];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 2 ** 31 - 1) {
    throw new InvalidArgumentError(`${name} must be a positive number of milliseconds`);
  }
  return value;
}

function count(value: number | undefined, name: string, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  }
  return resolved;
}
