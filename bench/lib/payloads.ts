/**
 * Reproducible message contents for the benchmark suite: a seeded PRNG, text of an exact
 * UTF-8 length made mostly of multi-byte characters, JSON-like records of an exact length,
 * and a file-like source of deterministic bytes for one very large message.
 */
import { createHash, type Hash, randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';

/** A small seeded PRNG (mulberry32): every run measures the same messages. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters of 2, 3 and 4 UTF-8 bytes (Latin, Cyrillic, CJK, symbols, astral emoji). */
const MULTI_BYTE = ['é', 'ß', 'ж', 'λ', '€', '中', '✓', '한', '😀', '𝄞', '🚀'];

/**
 * Returns a string of exactly `size` UTF-8 bytes, made of multi-byte characters (2 to 4
 * bytes each) but for an ASCII byte or two at the end when the sizes do not add up, so that
 * a decoder meets every sequence length and surrogate pairs.
 */
export function multiByteText(size: number, random: () => number): string {
  let text = '';
  let bytes = 0;
  while (size - bytes >= 4) {
    const ch = MULTI_BYTE[Math.floor(random() * MULTI_BYTE.length)]!;
    text += ch;
    bytes += Buffer.byteLength(ch);
  }
  while (size - bytes >= 2) {
    text += 'é';
    bytes += 2;
  }
  if (bytes < size) text += 'a';
  return text;
}

/**
 * Returns JSON-like records (ids, names, flags, scores, tags, dates) cut to exactly `size`
 * bytes (ASCII): a stream of similar records, as an application sends them, which is what
 * permessage-deflate is for.
 */
export function jsonText(size: number, random: () => number): string {
  let text = '[';
  while (text.length < size) {
    text += `${JSON.stringify({
      id: Math.floor(random() * 1e6),
      user: `user${Math.floor(random() * 1000)}`,
      active: random() > 0.5,
      score: Math.round(random() * 1e6) / 100,
      tags: ['alpha', 'beta', 'gamma', 'delta'].filter(() => random() > 0.5),
      at: new Date(1.7e12 + Math.floor(random() * 1e10)).toISOString(),
    })},`;
  }
  return text.slice(0, size);
}

/** Bytes per chunk of {@link FileLikeSource}, as fs.createReadStream reads. */
export const FILE_CHUNK = 64 * 1024;

/**
 * A Readable of `total` deterministic bytes in fresh 64 KiB chunks, as a file read with
 * fs.createReadStream gives them (a new buffer per read), hashing what it hands out. The
 * bytes are windows of a random 1 MiB pattern at offsets that change from chunk to chunk,
 * so that a chunk lost, repeated or moved changes the receiver's hash.
 */
export class FileLikeSource extends Readable {
  readonly #total: number;
  readonly #pattern: Buffer;
  readonly #hash: Hash;
  #produced = 0;
  #index = 0;

  constructor(total: number, hashAlgorithm = 'sha256') {
    super({ highWaterMark: FILE_CHUNK });
    this.#total = total;
    this.#pattern = randomFillSync(Buffer.allocUnsafe(1024 * 1024 + FILE_CHUNK));
    this.#hash = createHash(hashAlgorithm);
  }

  /** The hex digest of everything produced; valid once the stream has ended. */
  digest(): string {
    return this.#hash.digest('hex');
  }

  override _read(): void {
    const left = this.#total - this.#produced;
    if (left === 0) {
      this.push(null);
      return;
    }
    const size = Math.min(FILE_CHUNK, left);
    const chunk = Buffer.allocUnsafe(size);
    const offset = (this.#index * 4099) % (1024 * 1024);
    this.#pattern.copy(chunk, 0, offset, offset + size);
    this.#index++;
    this.#produced += size;
    this.#hash.update(chunk);
    this.push(chunk);
  }
}

/**
 * Returns broadcast number `id` of a run: `size` bytes (binary) or `size` ASCII characters
 * (text), from a PRNG seeded with the id and the size, so that the server and every
 * receiver derive the same message independently and a message lost, repeated, reordered
 * or corrupted fails the receiver's byte-for-byte comparison.
 */
export function broadcastPayload(id: number, size: number, binary: boolean): Buffer | string {
  const random = prng(id * 2_654_435_761 + size);
  if (binary) {
    const bytes = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) bytes[i] = Math.floor(random() * 256);
    if (size >= 4) bytes.writeUInt32BE(id, 0);
    return bytes;
  }
  let text = `${id}:`;
  while (text.length < size) text += String.fromCharCode(33 + Math.floor(random() * 94));
  return text.slice(0, size);
}
