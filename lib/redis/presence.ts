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
