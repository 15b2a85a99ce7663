/**
 * Feeds a byte vector to a parser in every way that tends to break one: whole, byte by
 * byte, split in two at every index, and cut at seeded random points. Every chunk is a
 * fresh copy (parsers may take ownership and unmask in place), and a failure names the
 * chunking, including the seed that reproduces it.
 *
 * Reproduce a random failure with `CHUNKING_SEED=<seed> npx vitest run <file>`.
 */

/** One way of cutting a vector into chunks. */
export interface Chunking {
  /** Describes the chunking: "whole", "byte by byte", "split at 17", "random (seed 0x…)". */
  label: string;
  /** Fresh copies of the vector's bytes, in order; their concatenation is the vector. */
  chunks: Buffer[];
}

/** Options of {@link chunkings} and {@link forEachChunking}. */
export interface ChunkingOptions {
  /** Number of seeded random chunkings. Default 20. */
  randomSplits?: number;
  /**
   * Base seed of the random chunkings: random chunking i uses seed `(seed + i) >>> 0`.
   * Default: `CHUNKING_SEED` from the environment, else a fresh random seed per call.
   */
  seed?: number;
  /** Largest number of cut points of one random chunking. Default 16. */
  maxRandomCuts?: number;
  /**
   * Splits in two at every index below this only (random chunkings cover the rest), for
   * large vectors whose interesting boundaries are all near the start. Default: every index.
   */
  splitIndicesBelow?: number;
}

/**
 * Returns a small seeded PRNG (mulberry32) producing floats in [0, 1). Deterministic per
 * seed, so that a failing random case can be replayed exactly.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gives the base seed: the option, else CHUNKING_SEED, else a fresh random one. */
export function baseSeed(seed?: number): number {
  if (seed !== undefined) return seed >>> 0;
  const fromEnv = process.env.CHUNKING_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return Math.floor(Math.random() * 4294967296) >>> 0;
}

/**
 * Cuts `bytes` at the given sorted, distinct points (each in 1..length-1) into fresh copies.
 * With `random`, each copy starts at a random byteOffset (0-7) of its own ArrayBuffer, so
 * that code with word-aligned fast paths meets every alignment.
 */
export function cutAt(
  bytes: Uint8Array,
  points: readonly number[],
  random?: () => number,
): Buffer[] {
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    chunks.push(
      copyOf(bytes.subarray(from, to), random === undefined ? 0 : Math.floor(random() * 8)),
    );
    from = to;
  }
  return chunks;
}

/** Copies `bytes` into a fresh Buffer at byteOffset `offset` of its own ArrayBuffer. */
function copyOf(bytes: Uint8Array, offset: number): Buffer {
  if (offset === 0) return Buffer.from(bytes);
  const copy = Buffer.from(new ArrayBuffer(bytes.length + offset), offset, bytes.length);
  copy.set(bytes);
  return copy;
}

/** Picks up to `maxCuts` distinct random cut points in 1..length-1, sorted. */
export function randomCuts(length: number, random: () => number, maxCuts: number): number[] {
  if (length < 2) return [];
  const count = 1 + Math.floor(random() * Math.min(maxCuts, length - 1));
  const points = new Set<number>();
  while (points.size < count) points.add(1 + Math.floor(random() * (length - 1)));
  return [...points].sort((a, b) => a - b);
}

/**
 * Yields every chunking of `bytes`: whole, byte by byte, split at every index 1..length-1
 * (or below `splitIndicesBelow`), then `randomSplits` seeded random chunkings whose chunks
 * also sit at random byte offsets. Chunkings are produced lazily, so a large
 * vector never has all of them in memory at once.
 */
export function* chunkings(bytes: Uint8Array, options: ChunkingOptions = {}): Generator<Chunking> {
  const { randomSplits = 20, maxRandomCuts = 16 } = options;
  const splitEnd = Math.min(bytes.length, options.splitIndicesBelow ?? bytes.length);
  yield { label: 'whole', chunks: [Buffer.from(bytes)] };
  if (bytes.length > 1) {
    const all = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    yield { label: 'byte by byte', chunks: cutAt(bytes, all) };
  }
  for (let i = 1; i < splitEnd; i++) {
    yield { label: `split at ${i}`, chunks: cutAt(bytes, [i]) };
  }
  const seed = baseSeed(options.seed);
  for (let i = 0; i < randomSplits; i++) {
    const s = (seed + i) >>> 0;
    const random = mulberry32(s);
    const points = randomCuts(bytes.length, random, maxRandomCuts);
    yield {
      label: `random (seed ${s}, CHUNKING_SEED=${seed}, cuts ${points.join(',')})`,
      chunks: cutAt(bytes, points, random),
    };
  }
}

/**
 * Runs `check` on every chunking of `bytes` and returns how many ran. A failure is rethrown
 * with the chunking's label (and so the seed) prefixed to its message; an Error is rethrown
 * as itself so that the test runner still shows its diff.
 */
export function forEachChunking(
  bytes: Uint8Array,
  check: (chunks: Buffer[], label: string) => void,
  options: ChunkingOptions = {},
): number {
  let count = 0;
  for (const { label, chunks } of chunkings(bytes, options)) {
    try {
      check(chunks, label);
    } catch (err) {
      if (err instanceof Error) {
        err.message = `[chunking: ${label}] ${err.message}`;
        throw err;
      }
      throw new Error(`[chunking: ${label}] ${String(err)}`, { cause: err });
    }
    count++;
  }
  return count;
}
