import { InvalidArgumentError } from '../protocol/errors.js';

/**
 * A unit of zlib work: it starts when the limiter gives it a slot and must call `release`
 * once it is finished (further calls are ignored), so that the next job may start.
 */
export type ZlibJob = (release: () => void) => void;

/** How many zlib jobs run at once, process-wide, unless configured otherwise. */
export const DEFAULT_ZLIB_CONCURRENCY = 10;

/** Compacts the queue once this many started jobs sit before its head. */
const COMPACT_AFTER = 1024;

/**
 * Bounds how many zlib jobs run at once, queueing the others first in, first out.
 *
 * Why: every zlib call runs on libuv's thread pool (4 threads by default) and allocates
 * native memory while it runs. Thousands of connections compressing at once would queue
 * thousands of jobs there, starve file system and DNS work that shares the pool, and
 * fragment the native heap (nodejs/node#8871, websockets/ws#1202). A job is one pass of
 * one piece through one zlib stream (write and flush), so that no connection holds a
 * slot while it waits on its peer. Compression is optional work, RFC 7692 §1: delaying it
 * never breaks the protocol.
 */
export class ZlibLimiter {
  #limit: number = DEFAULT_ZLIB_CONCURRENCY;
  #active = 0;
  #peak = 0;
  /** Jobs waiting, from `#head` on; started ones are cleared to free them. */
  #queue: (ZlibJob | undefined)[] = [];
  #head = 0;
  /** True while `#drain` runs, so that a release from inside a job cannot recurse into it. */
  #draining = false;

  constructor(limit: number = DEFAULT_ZLIB_CONCURRENCY) {
    this.limit = limit;
  }

  /** Gives the largest number of jobs allowed to run at once. */
  get limit(): number {
    return this.#limit;
  }

  /**
   * Changes the limit (an integer of 1 or more); raising it starts queued jobs at once,
   * lowering it lets the running ones finish.
   */
  set limit(value: number) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError('concurrencyLimit must be an integer of 1 or more');
    }
    this.#limit = value;
    this.#drain();
  }

  /** Counts the jobs running now. */
  get active(): number {
    return this.#active;
  }

  /** Counts the jobs waiting for a slot. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Gives the most jobs that ran at once since creation or the last `resetPeak()`. */
  get peakActive(): number {
    return this.#peak;
  }

  /** Restarts the peak count from the jobs running now, to measure one period. */
  resetPeak(): void {
    this.#peak = this.#active;
  }

  /**
   * Runs `job` as soon as a slot is free (at once if one is). A job that throws releases
   * its slot; the error propagates to the caller that started it (this `run`, or the
   * `release` that freed the slot) and the queue goes on in a microtask.
   */
  run(job: ZlibJob): void {
    this.#queue.push(job);
    this.#drain();
  }

  /** Starts waiting jobs while slots are free; a loop, not recursion, however jobs release. */
  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    let finished = false;
    try {
      while (this.#active < this.#limit && this.#head < this.#queue.length) {
        this.#start(this.#take());
      }
      finished = true;
    } finally {
      this.#draining = false;
      // A job threw: its error is on its way up; the jobs behind it start on the next turn.
      if (!finished) queueMicrotask(() => this.#drain());
    }
  }

  /** Takes the job at the head, compacting the array now and then so it cannot grow forever. */
  #take(): ZlibJob {
    const job = this.#queue[this.#head]!;
    this.#queue[this.#head] = undefined;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return job;
  }

  #start(job: ZlibJob): void {
    this.#active++;
    if (this.#active > this.#peak) this.#peak = this.#active;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#active--;
      this.#drain();
    };
    try {
      job(release);
    } catch (err) {
      release();
      throw err;
    }
  }
}

/** Where the process-wide limiter lives: a registered symbol, shared by every copy loaded. */
const SHARED_KEY = Symbol.for('websocket-duplex.zlib-limiter');

type LimiterHolder = { [SHARED_KEY]?: ZlibLimiter };

/**
 * Returns the process-wide limiter that every permessage-deflate context uses. It hangs
 * on `globalThis` under a registered symbol so that the ESM and CommonJS builds, loaded
 * side by side, still share one bound: the thread pool they contend for is one.
 */
export function sharedZlibLimiter(): ZlibLimiter {
  const holder = globalThis as LimiterHolder;
  holder[SHARED_KEY] ??= new ZlibLimiter();
  return holder[SHARED_KEY];
}
