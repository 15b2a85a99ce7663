import type { Extension } from '../extensions/extension.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Role } from '../protocol/frame.js';
import {
  checkBoolean,
  checkCount,
  checkDuration,
  DEFAULTS,
  type ReceiveLimits,
  type ReceiveMode,
  resolveReceiveLimits,
} from '../protocol/limits.js';
import { isValidThreshold } from '../protocol/message-framer.js';
import { checkOptionNames } from '../protocol/option-names.js';
import { type KeepaliveSweep, keepaliveSweep } from './keepalive.js';

/**
 * Tunables of a connection, under WebSocket-Node's names where it had them. A server
 * passes its own as the defaults of every connection it accepts.
 */
export interface ConnectionOptions {
  /**
   * Largest frame payload accepted, in bytes; a larger frame closes with 1009. Default: the
   * message limit of the mode (maxReceivedMessageSize; maxStreamedMessageSize with
   * messageStreams), so that a message sent as one frame passes whenever it fits.
   */
  maxReceivedFrameSize?: number;
  /**
   * Largest message held whole, in bytes (payload of all its fragments, after
   * decompression); a larger one closes with 1009. Default: 64 MiB. It bounds what the
   * library keeps in memory: messages read as streams (messageStreams) or as raw frames
   * are not held whole, and are bounded by maxStreamedMessageSize instead.
   */
  maxReceivedMessageSize?: number;
  /**
   * Largest message received as a stream (messageStreams) or as raw frames, in bytes; a
   * larger one closes with 1009. Default: Infinity (the library holds none of it: a file
   * larger than memory passes through; bound it here, or where you store it).
   */
  maxStreamedMessageSize?: number;
  /** Whether messages longer than the threshold are sent as several frames. Default: true. */
  fragmentOutgoingMessages?: boolean;
  /** Largest frame payload sent when fragmenting, in bytes. Default: 16 KiB. */
  fragmentationThreshold?: number;
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

/** Per-message options of {@link WebSocketConnection.send}. */
export interface SendOptions {
  /** Send as binary (true) or text (false). Default: binary for bytes, text for a string. */
  binary?: boolean;
  /** Let extensions (permessage-deflate) transform this message. Default: true. */
  compress?: boolean;
}

/** Options of {@link WebSocketConnection.createMessageStream}. */
export interface MessageStreamOptions {
  /** Send a binary message (default) or a text one. */
  binary?: boolean;
  /** Bytes buffered by the message stream before its write() returns false. Default: 64 KiB. */
  highWaterMark?: number;
}

/** The WHATWG/ws ready states: CONNECTING, OPEN, CLOSING, CLOSED. */
export type ReadyState = 0 | 1 | 2 | 3;

/** What the handshake hands to the connection beside the tunables. */
export interface ConnectionInit extends ConnectionOptions {
  /** Our end of the connection. */
  role: Role;
  /** The subprotocol agreed in the handshake ('' when none). */
  protocol?: string;
  /** The URL a client connected to. */
  url?: string;
  /** Bytes that arrived after the handshake and before the connection took the transport. */
  head?: Buffer;
  /** Extensions agreed in the handshake, in the order they apply. */
  extensions?: readonly Extension[];
  /**
   * The tunables already resolved (by a server, once for all its connections); the
   * ConnectionOptions fields are then ignored.
   */
  resolved?: ResolvedConnectionOptions;
}

/** Every tunable, checked and resolved to a value, with what follows from them. */
export interface ResolvedConnectionOptions {
  readonly role: Role;
  readonly mode: ReceiveMode;
  readonly limits: ReceiveLimits;
  readonly fragmentationThreshold: number;
  readonly keepalive: boolean;
  readonly keepaliveInterval: number;
  readonly dropConnectionOnKeepaliveTimeout: boolean;
  readonly keepaliveGracePeriod: number;
  readonly closeTimeout: number;
  readonly deferCloseReply: boolean;
  readonly readableHighWaterMark: number;
  readonly writableHighWaterMark: number;
  /** The keepalive sweep the connections join (shared by all with the same settings). */
  readonly sweep: KeepaliveSweep | undefined;
}

/** The names of the ConnectionOptions fields, which servers and clients pass on. */
export const CONNECTION_OPTION_NAMES = [
  'maxReceivedFrameSize',
  'maxReceivedMessageSize',
  'maxStreamedMessageSize',
  'fragmentOutgoingMessages',
  'fragmentationThreshold',
  'assembleFragments',
  'messageStreams',
  'keepalive',
  'keepaliveInterval',
  'dropConnectionOnKeepaliveTimeout',
  'keepaliveGracePeriod',
  'closeTimeout',
  'deferCloseReply',
  'readableHighWaterMark',
  'writableHighWaterMark',
] as const satisfies readonly (keyof ConnectionOptions)[];

const INIT_NAMES = ['role', 'protocol', 'url', 'head', 'extensions', 'resolved'] as const;

/** The documented defaults of a connection (see also DEFAULTS in protocol/limits). */
export const CONNECTION_DEFAULTS = {
  maxReceivedMessageSize: DEFAULTS.maxReceivedMessageSize,
  maxStreamedMessageSize: DEFAULTS.maxStreamedMessageSize,
  fragmentationThreshold: DEFAULTS.fragmentationThreshold,
  keepaliveInterval: DEFAULTS.keepaliveInterval,
  keepaliveGracePeriod: DEFAULTS.keepaliveGracePeriod,
  closeTimeout: DEFAULTS.closeTimeout,
  readableHighWaterMark: DEFAULTS.readableHighWaterMark,
  writableHighWaterMark: DEFAULTS.writableHighWaterMark,
} as const;

/**
 * Resolves and checks the tunables; throws InvalidArgumentError naming the bad one. Done
 * once per server (for all its connections) or per client connection.
 *
 * @example resolveConnectionOptions({ closeTimeout: 1_000 }).closeTimeout // 1000
 */
export function resolveConnectionOptions(
  options: ConnectionOptions,
  role: Role,
  keepaliveByDefault = false,
): ResolvedConnectionOptions {
  const raw = !checkBoolean(options.assembleFragments, 'assembleFragments', true);
  const streams = checkBoolean(options.messageStreams, 'messageStreams', false);
  if (raw && streams) {
    throw new InvalidArgumentError(
      'messageStreams needs assembled messages: it cannot be combined with assembleFragments: false',
    );
  }
  const mode: ReceiveMode = raw ? 'frames' : streams ? 'streams' : 'messages';
  const keepalive = checkBoolean(options.keepalive, 'keepalive', keepaliveByDefault);
  const keepaliveInterval = checkDuration(
    options.keepaliveInterval,
    'keepaliveInterval',
    DEFAULTS.keepaliveInterval,
  );
  const keepaliveGracePeriod = checkDuration(
    options.keepaliveGracePeriod,
    'keepaliveGracePeriod',
    DEFAULTS.keepaliveGracePeriod,
  );
  const dropConnectionOnKeepaliveTimeout = checkBoolean(
    options.dropConnectionOnKeepaliveTimeout,
    'dropConnectionOnKeepaliveTimeout',
    true,
  );
  return Object.freeze({
    role,
    mode,
    limits: resolveReceiveLimits(options, mode),
    fragmentationThreshold: resolveFragmentationThreshold(options),
    keepalive,
    keepaliveInterval,
    dropConnectionOnKeepaliveTimeout,
    keepaliveGracePeriod,
    closeTimeout: checkDuration(options.closeTimeout, 'closeTimeout', DEFAULTS.closeTimeout),
    deferCloseReply: checkBoolean(options.deferCloseReply, 'deferCloseReply', false),
    readableHighWaterMark: checkCount(
      options.readableHighWaterMark,
      'readableHighWaterMark',
      DEFAULTS.readableHighWaterMark,
    ),
    writableHighWaterMark: checkCount(
      options.writableHighWaterMark,
      'writableHighWaterMark',
      raw ? DEFAULTS.rawWritableHighWaterMark : DEFAULTS.writableHighWaterMark,
    ),
    sweep: keepalive
      ? keepaliveSweep({
          interval: keepaliveInterval,
          gracePeriod: keepaliveGracePeriod,
          drop: dropConnectionOnKeepaliveTimeout,
        })
      : undefined,
  });
}

/**
 * Resolves a bare connection's init: its tunables (unless resolved already) and its own
 * fields, refusing names it does not know.
 */
export function resolveConnectionInit(init: ConnectionInit): ResolvedConnectionOptions {
  if (init === null || typeof init !== 'object') {
    throw new InvalidArgumentError('A connection needs its options, with role at least');
  }
  if (init.role !== 'server' && init.role !== 'client') {
    throw new InvalidArgumentError(`role must be 'server' or 'client', got ${String(init.role)}`);
  }
  if (init.resolved !== undefined) {
    if (init.resolved.role !== init.role) {
      throw new InvalidArgumentError(
        `Options resolved for a ${init.resolved.role}, not a ${init.role}`,
      );
    }
    return init.resolved;
  }
  checkOptionNames(init, [...CONNECTION_OPTION_NAMES, ...INIT_NAMES], 'WebSocketConnection');
  return resolveConnectionOptions(init, init.role);
}

/**
 * Resolves outgoing fragmentation, under WebSocket-Node's option names, into the largest
 * frame payload to send (Infinity: never fragment). Throws InvalidArgumentError for a
 * threshold that is not a positive integer.
 */
export function resolveFragmentationThreshold(options: {
  fragmentOutgoingMessages?: boolean | undefined;
  fragmentationThreshold?: number | undefined;
}): number {
  if (!checkBoolean(options.fragmentOutgoingMessages, 'fragmentOutgoingMessages', true)) {
    return Number.POSITIVE_INFINITY;
  }
  const threshold = options.fragmentationThreshold ?? DEFAULTS.fragmentationThreshold;
  if (!isValidThreshold(threshold)) {
    throw new InvalidArgumentError(
      `fragmentationThreshold must be a positive integer, got ${String(threshold)}`,
    );
  }
  return threshold;
}
