import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ZLIB_CONCURRENCY,
  sharedZlibLimiter,
  ZlibLimiter,
} from '../../lib/extensions/zlib-limiter.js';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import { baseSeed, mulberry32 } from '../helpers/chunking.js';

/** Counts, independently of the limiter, how many of the jobs given to it run at once. */
class Probe {
  running = 0;
  peak = 0;
  readonly order: number[] = [];
  readonly releases: (() => void)[] = [];

  /** Makes a job that records its start and keeps its release for the test to call. */
  job(id: number): (release: () => void) => void {
    return (release) => {
      this.order.push(id);
      this.running++;
      this.peak = Math.max(this.peak, this.running);
      this.releases.push(() => {
        this.running--;
        release();
      });
    };
  }
}

describe('ZlibLimiter', () => {
  it('runs at most the limit at once and starts the rest first in, first out', () => {
    const limiter = new ZlibLimiter(3);
    const probe = new Probe();
    for (let i = 0; i < 10; i++) limiter.run(probe.job(i));
    expect(probe.order).toEqual([0, 1, 2]);
    expect(limiter.active).toBe(3);
    expect(limiter.pending).toBe(7);
    // Release out of order: the next waiting job takes each freed slot, in queue order.
    probe.releases[1]!();
    probe.releases[0]!();
    expect(probe.order).toEqual([0, 1, 2, 3, 4]);
    while (probe.releases.length > 0) probe.releases.shift()!();
    expect(probe.order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(probe.peak).toBe(3);
    expect(limiter.peakActive).toBe(3);
    expect(limiter.active).toBe(0);
    expect(limiter.pending).toBe(0);
  });

  it('ignores a second release of the same job', () => {
    const limiter = new ZlibLimiter(1);
    const probe = new Probe();
    const releases: (() => void)[] = [];
    limiter.run((release) => releases.push(release));
    limiter.run(probe.job(1));
    limiter.run(probe.job(2));
    releases[0]!();
    releases[0]!();
    expect(probe.order).toEqual([1]);
    expect(limiter.active).toBe(1);
  });

  it('never exceeds the limit under random, asynchronous releases (seeded)', async () => {
    const seed = baseSeed();
    const random = mulberry32(seed);
    const limiter = new ZlibLimiter(4);
    let running = 0;
    let peak = 0;
    let finished = 0;
    const all: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) {
      all.push(
        new Promise<void>((resolve) => {
          limiter.run((release) => {
            running++;
            peak = Math.max(peak, running);
            const settle = (): void => {
              running--;
              finished++;
              release();
              resolve();
            };
            // Some jobs finish synchronously, some on a microtask, some on a timer.
            const r = random();
            if (r < 0.2) settle();
            else if (r < 0.6) queueMicrotask(settle);
            else setTimeout(settle, Math.floor(random() * 3));
          });
        }),
      );
    }
    await Promise.all(all);
    expect(peak, `seed ${seed}`).toBe(4);
    expect(finished).toBe(500);
    expect(limiter.active).toBe(0);
  });

  it('drains 100,000 synchronous jobs without deep recursion', () => {
    const limiter = new ZlibLimiter(1);
    let count = 0;
    for (let i = 0; i < 100_000; i++) {
      limiter.run((release) => {
        count++;
        release();
      });
    }
    expect(count).toBe(100_000);
    expect(limiter.pending).toBe(0);
  });

  it('keeps FIFO order across queue compaction', () => {
    const limiter = new ZlibLimiter(1);
    const probe = new Probe();
    for (let i = 0; i < 5000; i++) limiter.run(probe.job(i));
    // Each release starts the next job at once, which adds its own release to the list.
    let released = 0;
    while (released < probe.releases.length) {
      probe.releases[released++]!();
      if (released === 2000) for (let j = 5000; j < 6000; j++) limiter.run(probe.job(j));
    }
    expect(probe.order).toEqual(Array.from({ length: 6000 }, (_, i) => i));
  });

  it('starts queued jobs when the limit is raised, and lets running ones finish when lowered', () => {
    const limiter = new ZlibLimiter(1);
    const probe = new Probe();
    for (let i = 0; i < 5; i++) limiter.run(probe.job(i));
    expect(probe.order).toEqual([0]);
    limiter.limit = 3;
    expect(probe.order).toEqual([0, 1, 2]);
    limiter.limit = 1;
    probe.releases[0]!();
    probe.releases[1]!();
    expect(probe.order).toEqual([0, 1, 2]);
    probe.releases[2]!();
    expect(probe.order).toEqual([0, 1, 2, 3]);
  });

  it('measures a peak per period with resetPeak()', () => {
    const limiter = new ZlibLimiter(5);
    const probe = new Probe();
    for (let i = 0; i < 4; i++) limiter.run(probe.job(i));
    for (const release of probe.releases.splice(0)) release();
    expect(limiter.peakActive).toBe(4);
    limiter.resetPeak();
    expect(limiter.peakActive).toBe(0);
    limiter.run(probe.job(9));
    expect(limiter.peakActive).toBe(1);
  });

  it('releases the slot of a job that throws and goes on with the queue', async () => {
    const limiter = new ZlibLimiter(1);
    const probe = new Probe();
    const blocker: (() => void)[] = [];
    limiter.run((release) => blocker.push(release));
    limiter.run(() => {
      throw new Error('boom');
    });
    limiter.run(probe.job(1));
    expect(() => blocker[0]!()).toThrow('boom');
    await Promise.resolve();
    expect(probe.order).toEqual([1]);
    expect(limiter.active).toBe(1);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new ZlibLimiter(bad)).toThrow(InvalidArgumentError);
    }
    const limiter = new ZlibLimiter();
    expect(limiter.limit).toBe(DEFAULT_ZLIB_CONCURRENCY);
    expect(() => {
      limiter.limit = 0;
    }).toThrow(InvalidArgumentError);
    expect(limiter.limit).toBe(DEFAULT_ZLIB_CONCURRENCY);
  });

  it('shares one process-wide limiter through a registered symbol', () => {
    const shared = sharedZlibLimiter();
    expect(sharedZlibLimiter()).toBe(shared);
    const holder = globalThis as { [key: symbol]: unknown };
    expect(holder[Symbol.for('websocket-duplex.zlib-limiter')]).toBe(shared);
    expect(shared.limit).toBe(DEFAULT_ZLIB_CONCURRENCY);
  });
});
