import { BackplaneError, BackplaneErrorReason } from './backplane-error.js';
import { describe } from './backplane-options.js';
import { withTimeout } from './command-timeout.js';

/**
 * Presence counts in Redis: how many connections each process has in a topic, each count
 * with a deadline, so that the counts of a process that died without a word (SIGKILL, a lost
 * machine) stop counting once their deadline passes.
 *
 * Two keys per topic, in one hash slot (the `{...}` hash tag) so that a script can use both
 * on a Redis Cluster: a hash of process id -> count, and a sorted set of process id ->
 * deadline (ms, on Redis's clock, so that the processes' clocks never matter). Each process
 * refreshes its counts every third of the TTL; the keys themselves expire after twice the
 * TTL without any refresh, so that a topic everyone left leaves nothing behind.
 */

/** Names the two keys of a topic's presence (one hash tag, so one slot on a cluster). */
export function presenceKeys(prefix: string, topic: string): [counts: string, deadlines: string] {
  const tag = `{${prefix}:presence:${topic}}`;
  return [`${tag}:counts`, `${tag}:deadlines`];
}

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** Drops the counts whose deadline passed (the processes that stopped refreshing them). */
const PRUNE = `local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, id in ipairs(dead) do redis.call('HDEL', KEYS[1], id) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end`;

/**
 * Sets this process's count (ARGV[1] id, ARGV[2] count, ARGV[3] TTL in ms); a count of 0
 * removes it. Returns nothing.
 */
export const SET_COUNT_SCRIPT = `${NOW}
${PRUNE}
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  redis.call('PEXPIRE', KEYS[2], ttl * 2)
end
return 0`;

/** Sums the live counts of every process. Returns the total. */
export const SIZE_SCRIPT = `${NOW}
${PRUNE}
local total = 0
for _, n in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(n) end
return total`;

/** Reads a script's integer answer, refusing anything else (a reply we did not expect). */
export function readCount(reply: unknown): number | undefined {
  const n = typeof reply === 'string' ? Number(reply) : reply;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** What Presence needs of Redis: to know whether it is there, and to run a script. */
export interface PresenceLink {
  readonly isUp: boolean;
  readonly lastError: unknown;
  eval(script: string, keys: string[], args: string[]): Promise<unknown>;
}

/** What Presence asks its backplane about the topics of this process. */
export interface PresenceTopics<T extends { readonly name: string; readonly localSize: number }> {
  /** This process's members of a topic (all its active topic objects of that name). */
  localCount(topic: T): number;
  /** The topics with members or readers in this process. */
  activeTopics(): Iterable<T>;
}

/**
 * Keeps this process's presence counts in Redis: a changed count is written once per turn of
 * the event loop however many joins it saw, every count is rewritten by the heartbeat
 * (`refresh`, every third of the TTL: that is what keeps it alive) and when Redis comes back,
 * and a write that failed is retried by the next heartbeat. `size` reads the total of every
 * process, this process's pending change written first on the same connection.
 */
export class Presence<T extends { readonly name: string; readonly localSize: number }> {
  readonly #link: PresenceLink;
  readonly #id: string;
  readonly #options: { prefix: string; presenceTtl: number; commandTimeout: number };
  readonly #topics: PresenceTopics<T>;
  readonly #dirty = new Set<T>();
  #scheduled = false;
  #closed = false;

  constructor(
    link: PresenceLink,
    id: string,
    options: { prefix: string; presenceTtl: number; commandTimeout: number },
    topics: PresenceTopics<T>,
  ) {
    this.#link = link;
    this.#id = id;
    this.#options = options;
    this.#topics = topics;
  }

  /** A topic's local count changed: written at the end of this turn of the event loop. */
  changed(topic: T): void {
    this.#dirty.add(topic);
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  /** Rewrites every count (the heartbeat: refreshes their deadline), and any pending change. */
  refresh(): void {
    for (const topic of this.#topics.activeTopics()) {
      if (topic.localSize > 0) this.#dirty.add(topic);
    }
    this.#flush();
  }

  /**
   * Writes the pending changes at once and stops (the backplane is closing: the others learn
   * it now rather than at the TTL). Resolves when the writes settled, whatever their outcome.
   */
  writeAllNow(): Promise<unknown> {
    this.#closed = true;
    const leaving = this.#link.isUp ? [...this.#dirty].map((topic) => this.#write(topic)) : [];
    this.#dirty.clear();
    return Promise.allSettled(leaving);
  }

  /** Reads a topic's count across every process. */
  async size(topic: T): Promise<number> {
    if (!this.#link.isUp) {
      throw new BackplaneError(
        BackplaneErrorReason.Unavailable,
        `topic ${topic.name}: Redis is unavailable, so the presence count is unknown`,
        { cause: this.#link.lastError },
      );
    }
    // This process's own change first, on the same connection: the count includes it.
    if (this.#dirty.delete(topic)) {
      this.#write(topic).catch(() => this.#dirty.add(topic));
    }
    const keys = presenceKeys(this.#options.prefix, topic.name);
    const reply = await withTimeout(
      this.#link.eval(SIZE_SCRIPT, keys, []),
      'presence count',
      this.#options.commandTimeout,
    );
    const count = readCount(reply);
    if (count === undefined) {
      throw new BackplaneError(
        BackplaneErrorReason.MalformedMessage,
        `topic ${topic.name}: Redis answered the presence count with ${describe(reply)}`,
      );
    }
    return count;
  }

  #flush(): void {
    if (!this.#link.isUp || this.#closed) return; // written again on 'up'
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    for (const topic of dirty) {
      this.#write(topic).catch(() => {
        this.#dirty.add(topic); // retried by the next heartbeat
      });
    }
  }

  #write(topic: T): Promise<unknown> {
    const keys = presenceKeys(this.#options.prefix, topic.name);
    const count = this.#topics.localCount(topic);
    const args = [this.#id, String(count), String(this.#options.presenceTtl)];
    return withTimeout(
      this.#link.eval(SET_COUNT_SCRIPT, keys, args),
      'presence update',
      this.#options.commandTimeout,
    );
  }
}
