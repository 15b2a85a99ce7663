/**
 * The shared keepalive sweep, with fake timers: a ping after about `interval` of silence, a
 * drop `gracePeriod` after it (or, without drop, another ping every interval), any sign of
 * life starting the count again, and one unref'd timer per setting that stops with its last
 * connection. Timing is asserted within the sweep's period (an eighth of the shorter of the
 * two durations, at most a second), as documented.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type KeepaliveTarget,
  keepalivePing,
  keepalivePinged,
  keepaliveSeen,
  keepaliveTimeout,
} from '../../lib/stream/connection-hooks.js';
import { KeepaliveSweep, keepaliveSweep } from '../../lib/stream/keepalive.js';

/** A connection as the sweep sees it, recording when it was pinged and dropped. */
class Target implements KeepaliveTarget {
  [keepaliveSeen] = 0;
  [keepalivePinged] = -1;
  readonly pings: number[] = [];
  readonly timeouts: number[] = [];
  readonly #sweep: KeepaliveSweep | undefined;

  constructor(sweep?: KeepaliveSweep) {
    this.#sweep = sweep;
  }

  [keepalivePing](): void {
    this.pings.push(Date.now());
  }

  [keepaliveTimeout](): void {
    this.timeouts.push(Date.now());
    // Dropped: the sweep already let go of it.
    if (this.#sweep !== undefined) expect(this.#sweep.size).toBe(0);
  }
}

const INTERVAL = 20_000;
const GRACE = 10_000;
/** The sweep period for these settings: min(1 s, max(5 ms, min(interval, grace) / 8)). */
const PERIOD = 1_000;

let start = 0;
beforeEach(() => {
  vi.useFakeTimers();
  start = Date.now();
});
afterEach(() => {
  vi.useRealTimers();
});

const since = (times: number[]) => times.map((t) => t - start);

describe('KeepaliveSweep: drop mode', () => {
  it('pings once after about the interval, and drops after the grace period', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const target = new Target(sweep);
    sweep.watch(target);
    vi.advanceTimersByTime(INTERVAL - PERIOD);
    expect(target.pings).toEqual([]);
    vi.advanceTimersByTime(2 * PERIOD);
    expect(target.pings).toHaveLength(1);
    expect(since(target.pings)[0]).toBeGreaterThanOrEqual(INTERVAL - PERIOD);
    expect(since(target.pings)[0]).toBeLessThanOrEqual(INTERVAL + PERIOD);
    vi.advanceTimersByTime(GRACE - 2 * PERIOD);
    expect(target.timeouts).toEqual([]);
    vi.advanceTimersByTime(3 * PERIOD);
    expect(target.timeouts).toHaveLength(1);
    const waited = target.timeouts[0]! - target.pings[0]!;
    expect(waited).toBeGreaterThanOrEqual(GRACE - PERIOD);
    expect(waited).toBeLessThanOrEqual(GRACE + PERIOD);
    // Dropped once, pinged once; the timer stopped with its only connection.
    vi.advanceTimersByTime(10 * INTERVAL);
    expect(target.pings).toHaveLength(1);
    expect(target.timeouts).toHaveLength(1);
    expect(sweep.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('alive() restarts the count: no ping while the peer keeps talking', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const target = new Target(sweep);
    sweep.watch(target);
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(INTERVAL / 2);
      sweep.alive(target);
    }
    expect(target.pings).toEqual([]);
    vi.advanceTimersByTime(INTERVAL + PERIOD);
    expect(target.pings).toHaveLength(1);
  });

  it('alive() after the ping cancels the drop; the next ping comes an interval later', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const target = new Target(sweep);
    sweep.watch(target);
    vi.advanceTimersByTime(INTERVAL + PERIOD);
    expect(target.pings).toHaveLength(1);
    sweep.alive(target); // the pong
    const answered = Date.now();
    vi.advanceTimersByTime(GRACE + 2 * PERIOD);
    expect(target.timeouts).toEqual([]);
    vi.advanceTimersByTime(INTERVAL);
    expect(target.pings).toHaveLength(2);
    expect(target.pings[1]! - answered).toBeGreaterThanOrEqual(INTERVAL - PERIOD);
    expect(target.pings[1]! - answered).toBeLessThanOrEqual(INTERVAL + PERIOD);
  });
});

describe('KeepaliveSweep: without drop', () => {
  it('pings again every interval and never drops', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: false });
    const target = new Target(sweep);
    sweep.watch(target);
    vi.advanceTimersByTime(5 * INTERVAL + PERIOD / 2);
    expect(target.timeouts).toEqual([]);
    expect(target.pings).toHaveLength(5);
    const gaps = target.pings.slice(1).map((t, i) => t - target.pings[i]!);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(INTERVAL - PERIOD);
      expect(gap).toBeLessThanOrEqual(INTERVAL + PERIOD);
    }
    expect(sweep.size).toBe(1);
    sweep.unwatch(target);
  });
});

describe('KeepaliveSweep: the timer', () => {
  it('one interval timer for all its connections, started at the first watch', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    expect(vi.getTimerCount()).toBe(0);
    const targets = Array.from({ length: 1000 }, () => new Target());
    for (const t of targets) sweep.watch(t);
    expect(vi.getTimerCount()).toBe(1);
    expect(sweep.size).toBe(1000);
    vi.advanceTimersByTime(INTERVAL + PERIOD);
    expect(targets.every((t) => t.pings.length === 1)).toBe(true);
    for (const t of targets) sweep.unwatch(t);
  });

  it('unwatch stops the timer when the last connection goes, not before', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const a = new Target();
    const b = new Target();
    sweep.watch(a);
    sweep.watch(b);
    sweep.unwatch(a);
    expect(vi.getTimerCount()).toBe(1);
    sweep.unwatch(new Target()); // never watched: changes nothing
    expect(vi.getTimerCount()).toBe(1);
    sweep.unwatch(b);
    expect(vi.getTimerCount()).toBe(0);
    expect(sweep.size).toBe(0);
    vi.advanceTimersByTime(10 * INTERVAL);
    expect(a.pings).toEqual([]);
    expect(b.pings).toEqual([]);
  });

  it('starts again when a connection is watched after the set emptied', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const a = new Target();
    sweep.watch(a);
    sweep.unwatch(a);
    sweep.watch(a);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(INTERVAL + PERIOD);
    expect(a.pings).toHaveLength(1);
    sweep.unwatch(a);
  });

  it('watching resets a connection that was pinged before', () => {
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const a = new Target(sweep);
    sweep.watch(a);
    vi.advanceTimersByTime(INTERVAL + PERIOD);
    expect(a.pings).toHaveLength(1);
    sweep.watch(a); // e.g. re-attached: the pending ping is forgotten
    vi.advanceTimersByTime(GRACE + 2 * PERIOD);
    expect(a.timeouts).toEqual([]);
    sweep.unwatch(a);
  });

  it('sweeps a few times per period: short settings are honoured within their period', () => {
    // min(100, 40) / 8 = 5 ms per sweep.
    const sweep = new KeepaliveSweep({ interval: 100, gracePeriod: 40, drop: true });
    const target = new Target(sweep);
    sweep.watch(target);
    vi.advanceTimersByTime(94);
    expect(target.pings).toEqual([]);
    vi.advanceTimersByTime(12);
    expect(target.pings).toHaveLength(1);
    vi.advanceTimersByTime(30);
    expect(target.timeouts).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(target.timeouts).toHaveLength(1);
  });

  it('does not keep the process alive (the interval is unref()ed)', () => {
    vi.useRealTimers();
    const sweep = new KeepaliveSweep({ interval: INTERVAL, gracePeriod: GRACE, drop: true });
    const count = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = count();
    const target = new Target();
    sweep.watch(target);
    expect(count()).toBe(before);
    sweep.unwatch(target);
  });
});

describe('keepaliveSweep (the process-wide registry)', () => {
  it('gives one sweep per setting', () => {
    const options = { interval: 12_345, gracePeriod: 6_789, drop: true };
    const one = keepaliveSweep(options);
    expect(keepaliveSweep({ ...options })).toBe(one);
    expect(keepaliveSweep({ ...options, drop: false })).not.toBe(one);
    expect(keepaliveSweep({ ...options, gracePeriod: 6_790 })).not.toBe(one);
    expect(keepaliveSweep({ ...options, interval: 12_346 })).not.toBe(one);
  });
});
