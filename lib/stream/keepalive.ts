import {
  type KeepaliveTarget,
  keepalivePing,
  keepalivePinged,
  keepaliveSeen,
  keepaliveTimeout,
} from './connection-hooks.js';

/** Options of a keepalive sweep, WebSocket-Node's tunables. */
export interface KeepaliveOptions {
  /** Silence, in ms, after which a ping is sent. */
  interval: number;
  /** Time, in ms, the peer then has before it is dropped. */
  gracePeriod: number;
  /** Whether a silent peer is dropped at all (dropConnectionOnKeepaliveTimeout). */
  drop: boolean;
}

/** How many sweeps per interval (or grace period): the timing is within this fraction. */
const SWEEPS_PER_PERIOD = 8;
const MIN_SWEEP_MS = 5;
const MAX_SWEEP_MS = 1_000;

/**
 * WebSocket-Node's keepalive for many connections at once: any incoming byte counts as
 * life; after `interval` of silence a ping goes out, and a peer still silent `gracePeriod`
 * later is dropped (or, without `drop`, pinged again every interval). Instead of two
 * timers per connection, one unref'd interval per distinct setting sweeps every connection
 * watched with it a few times per period: a connection costs two integer fields and a set
 * entry, a sweep a comparison per connection (100,000 connections in about a millisecond),
 * and the timing is within an eighth of the period (at most a second).
 *
 * Time is counted in sweep ticks, small integers, so that marking a connection alive on
 * every read is one field write.
 */
export class KeepaliveSweep {
  readonly #drop: boolean;
  readonly #intervalTicks: number;
  readonly #graceTicks: number;
  readonly #period: number;
  readonly #targets = new Set<KeepaliveTarget>();
  #timer: NodeJS.Timeout | undefined;
  /** The clock that `alive()` reads: sweeps so far. */
  tick = 0;

  constructor(options: KeepaliveOptions) {
    this.#drop = options.drop;
    const shortest = Math.min(options.interval, options.gracePeriod);
    this.#period = Math.min(
      MAX_SWEEP_MS,
      Math.max(MIN_SWEEP_MS, Math.floor(shortest / SWEEPS_PER_PERIOD)),
    );
    this.#intervalTicks = Math.max(1, Math.round(options.interval / this.#period));
    this.#graceTicks = Math.max(1, Math.round(options.gracePeriod / this.#period));
  }

  /** The number of connections watched. */
  get size(): number {
    return this.#targets.size;
  }

  /** Starts watching a connection. */
  watch(target: KeepaliveTarget): void {
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#period);
      this.#timer.unref();
    }
    target[keepaliveSeen] = this.tick;
    target[keepalivePinged] = -1;
    this.#targets.add(target);
  }

  /** Records a sign of life from the peer. */
  alive(target: KeepaliveTarget): void {
    target[keepaliveSeen] = this.tick;
    target[keepalivePinged] = -1;
  }

  /** Stops watching a connection; the timer stops with the last one. */
  unwatch(target: KeepaliveTarget): void {
    if (!this.#targets.delete(target) || this.#targets.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = ++this.tick;
    for (const target of this.#targets) {
      const pinged = target[keepalivePinged];
      if (pinged < 0) {
        if (now - target[keepaliveSeen] < this.#intervalTicks) continue;
      } else if (this.#drop) {
        if (now - pinged < this.#graceTicks) continue;
        this.unwatch(target);
        target[keepaliveTimeout]();
        continue;
      } else if (now - pinged < this.#intervalTicks) {
        continue;
      }
      target[keepalivePinged] = now;
      target[keepalivePing]();
    }
  }
}

const sweeps = new Map<string, KeepaliveSweep>();

/**
 * Returns the process-wide sweep for these settings, so that every connection with the same
 * keepalive (all those of a server, typically) shares one timer.
 *
 * @example keepaliveSweep({ interval: 20_000, gracePeriod: 10_000, drop: true }).watch(target)
 */
export function keepaliveSweep(options: KeepaliveOptions): KeepaliveSweep {
  const key = `${options.interval}/${options.gracePeriod}/${options.drop}`;
  let sweep = sweeps.get(key);
  if (sweep === undefined) {
    sweep = new KeepaliveSweep(options);
    sweeps.set(key, sweep);
  }
  return sweep;
}
