/**
 * A small seeded pseudo-random generator (sfc32) for fuzzers and randomized tests: the same
 * seed gives the same sequence on every machine, so a failure prints its seed and replays.
 * Not cryptographic, and not meant to be.
 */
const POOL_SIZE = 1 << 20;

export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = this.seed;
    // Mix the seed in before the first output.
    for (let i = 0; i < 16; i++) this.next();
  }

  /** Returns the next 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** Returns an integer in [0, n). */
  int(n: number): number {
    if (n <= 0) return 0;
    if (n <= 0x1_0000_0000) return Math.floor((this.next() / 0x1_0000_0000) * n);
    return Math.floor(this.float() * n);
  }

  /** Returns an integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Returns a float in [0, 1). */
  float(): number {
    return (this.next() * 0x20_0000 + (this.next() >>> 11)) / 2 ** 53;
  }

  /** Returns true with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Picks one element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Fills a new buffer of `length` random bytes. */
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let i = 0;
    for (; i + 4 <= length; i += 4) out.writeUInt32LE(this.next(), i);
    for (; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /**
   * Returns `length` random bytes as a view of a shared pool (fast: no allocation). The
   * view must be treated as read-only; use `bytes()` for a buffer of one's own.
   */
  view(length: number): Buffer {
    if (this.#pool === undefined) this.#pool = this.bytes(POOL_SIZE);
    if (length > POOL_SIZE) return this.bytes(length);
    const at = this.int(POOL_SIZE - length + 1);
    return this.#pool.subarray(at, at + length);
  }

  #pool: Buffer | undefined;

  /** A length skewed towards small values but reaching `max`: what parsers find hardest. */
  length(max: number): number {
    const r = this.int(8);
    if (r < 4) return this.int(Math.min(max, 16) + 1);
    if (r < 7) return this.int(Math.min(max, 300) + 1);
    return this.int(max + 1);
  }
}

/**
 * Reads the seed of a randomized test: `FUZZ_SEED` from the environment when given (to
 * replay a failure), else the default, so that CI runs are reproducible.
 */
export function fuzzSeed(fallback: number): number {
  const fromEnv = process.env.FUZZ_SEED;
  if (fromEnv === undefined || fromEnv === '') return fallback;
  const seed = Number(fromEnv);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${fromEnv}`);
  return seed >>> 0;
}

/**
 * Runs `fn` with stack traces off: a fuzzer makes hundreds of thousands of errors, and
 * capturing their stacks would take most of its time. Restored afterwards.
 */
export function withoutStackTraces<T>(fn: () => T): T {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = saved;
  }
}
