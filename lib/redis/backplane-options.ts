import { CloseCode, InvalidArgumentError } from './core.js';
import type { RedisSource } from './redis-link.js';

/** What a topic does with a member whose unsent bytes exceed `maxBufferedAmount`. */
export const SlowReaderPolicy = {
  /** The member misses the message; it stays in the topic and gets the next ones. */
  Skip: 'skip',
  /** The member is closed (with `slowReaderCloseCode`) and leaves the topic. */
  Close: 'close',
} as const;

export type SlowReaderPolicy = (typeof SlowReaderPolicy)[keyof typeof SlowReaderPolicy];

/** Backoff between reconnection attempts of the Redis clients the backplane creates. */
export interface ReconnectOptions {
  /** First delay, doubled on each failed attempt. Default: 100 ms. */
  minDelay?: number;
  /** Largest delay. Default: 5,000 ms. A random ±20% is added so processes do not stampede. */
  maxDelay?: number;
}

/** Options of {@link createBackplane}. */
export interface BackplaneOptions {
  /**
   * Where Redis is: a URL (`redis://127.0.0.1:6379`), `{ nodes: [url, ...] }` for a Redis
   * Cluster (sharded pub/sub, SSUBSCRIBE/SPUBLISH), or a node-redis client or cluster of your
   * own (created with `createClient` / `createCluster`; connected if it is not yet).
   */
  redis: RedisSource;
  /** Prefix of every channel and key the backplane uses. Default: 'wsdx'. */
  prefix?: string;
  /** Largest message carried across processes, in bytes. Default: 1 MiB. */
  maxMessageSize?: number;
  /** Publishes sent to Redis and not yet acknowledged; beyond, new ones are dropped. Default: 1,024. */
  maxPendingPublishes?: number;
  /** Bytes of those publishes; beyond, new ones are dropped. Default: 16 MiB. */
  maxPendingBytes?: number;
  /**
   * How long a process's presence counts live in Redis without a refresh: a process that
   * dies without a word (SIGKILL, power loss) leaves `topic.size()` within this time. It
   * refreshes them every third of it. Default: 15,000 ms.
   */
  presenceTtl?: number;
  /** Time for Redis to answer a presence command. Default: 5,000 ms. */
  commandTimeout?: number;
  /** Reconnection backoff (for clients the backplane creates from a URL or nodes). */
  reconnect?: ReconnectOptions;
}

/** Options of {@link Backplane.topic}. */
export interface TopicOptions {
  /**
   * Unsent bytes (a member's `bufferedAmount`) above which a member is a slow reader and
   * `onSlowReader` applies, so that no member's queue grows without bound. Default: 1 MiB.
   */
  maxBufferedAmount?: number;
  /** 'skip' (default): the slow member misses messages; 'close': it is closed. */
  onSlowReader?: SlowReaderPolicy;
  /** Close code for 'close': 1013 (Try Again Later, the default) or 1008 (Policy Violation). */
  slowReaderCloseCode?: 1008 | 1013;
}

/** Options of {@link Topic.createReadStream}. */
export interface TopicReadStreamOptions {
  /**
   * Messages held for a reader that does not keep up; beyond, new messages are dropped (and
   * counted in `dropped`) rather than queued without bound. Default: 1,024.
   */
  maxQueued?: number;
}

/** Options of {@link Backplane.attach}. */
export interface AttachOptions {
  /**
   * The name servers share across processes: a broadcast reaches the servers attached under
   * the same name in every process. Default: the server's `path`, or '*' when it has none.
   */
  name?: string;
}

/** The backplane's options with their defaults, checked. */
export interface ResolvedBackplaneOptions {
  prefix: string;
  maxMessageSize: number;
  maxPendingPublishes: number;
  maxPendingBytes: number;
  presenceTtl: number;
  commandTimeout: number;
  minDelay: number;
  maxDelay: number;
}

export interface ResolvedTopicOptions {
  maxBufferedAmount: number;
  onSlowReader: SlowReaderPolicy;
  slowReaderCloseCode: 1008 | 1013;
}

const MiB = 1024 * 1024;
/** Longest prefix, topic or server name: they become parts of Redis keys and channels. */
export const MAX_NAME_LENGTH = 1024;

/**
 * Checks a name that becomes part of a Redis channel or key: a non-empty string of at most
 * 1,024 UTF-16 units, so that a wrong value fails here with a clear message.
 */
export function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters, got ${describe(value)}`,
    );
  }
  return value;
}

/** Checks the backplane's options (all but `redis`) and fills in the defaults. */
export function resolveBackplaneOptions(options: BackplaneOptions): ResolvedBackplaneOptions {
  const reconnect = options.reconnect ?? {};
  if (typeof reconnect !== 'object' || reconnect === null) {
    throw new InvalidArgumentError(`reconnect must be an object, got ${describe(reconnect)}`);
  }
  const resolved = {
    prefix: checkName(options.prefix ?? 'wsdx', 'prefix'),
    maxMessageSize: positive(options.maxMessageSize, MiB, 'maxMessageSize', 512 * MiB),
    maxPendingPublishes: positive(options.maxPendingPublishes, 1024, 'maxPendingPublishes'),
    maxPendingBytes: positive(options.maxPendingBytes, 16 * MiB, 'maxPendingBytes'),
    presenceTtl: positive(options.presenceTtl, 15_000, 'presenceTtl', 2 ** 31 - 1),
    commandTimeout: positive(options.commandTimeout, 5_000, 'commandTimeout', 2 ** 31 - 1),
    minDelay: positive(reconnect.minDelay, 100, 'reconnect.minDelay', 2 ** 31 - 1),
    maxDelay: positive(reconnect.maxDelay, 5_000, 'reconnect.maxDelay', 2 ** 31 - 1),
  };
  if (resolved.presenceTtl < 30) {
    throw new InvalidArgumentError(
      `presenceTtl must be at least 30 ms, got ${resolved.presenceTtl}`,
    );
  }
  if (resolved.maxDelay < resolved.minDelay) {
    throw new InvalidArgumentError(
      `reconnect.maxDelay (${resolved.maxDelay}) must not be below reconnect.minDelay (${resolved.minDelay})`,
    );
  }
  return resolved;
}

/** Checks a topic's options and fills in the defaults. */
export function resolveTopicOptions(options: TopicOptions): ResolvedTopicOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(`topic options must be an object, got ${describe(options)}`);
  }
  const maxBufferedAmount = options.maxBufferedAmount ?? MiB;
  if (
    typeof maxBufferedAmount !== 'number' ||
    Number.isNaN(maxBufferedAmount) ||
    maxBufferedAmount < 0
  ) {
    throw new InvalidArgumentError(
      `maxBufferedAmount must be a number >= 0 (Infinity for no limit), got ${describe(maxBufferedAmount)}`,
    );
  }
  const onSlowReader = options.onSlowReader ?? SlowReaderPolicy.Skip;
  if (!Object.values(SlowReaderPolicy).includes(onSlowReader)) {
    throw new InvalidArgumentError(
      `onSlowReader must be 'skip' or 'close', got ${describe(onSlowReader)}`,
    );
  }
  const slowReaderCloseCode = options.slowReaderCloseCode ?? CloseCode.TryAgainLater;
  if (
    slowReaderCloseCode !== CloseCode.PolicyViolation &&
    slowReaderCloseCode !== CloseCode.TryAgainLater
  ) {
    throw new InvalidArgumentError(
      `slowReaderCloseCode must be 1008 or 1013, got ${describe(slowReaderCloseCode)}`,
    );
  }
  return { maxBufferedAmount, onSlowReader, slowReaderCloseCode };
}

/** Checks an option that is a positive count or duration (at most `max`). */
export function positive(
  value: unknown,
  fallback: number,
  name: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError(
      `${name} must be an integer from 1 to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Describes a wrong value briefly for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
