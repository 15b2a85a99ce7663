/**
 * MessageBuffer: what it gives back is the pieces in order, and what it holds stays within a
 * small factor of the payload, whatever the fragmentation (the pinning rule, shared blocks
 * for small pieces, reserve() for an announced length).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MessageBuffer } from '../../lib/protocol/message-buffer.js';
import { baseSeed, mulberry32 } from '../helpers/chunking.js';
import { counting } from '../helpers/frames.js';

const { BLOCK_SIZE, SMALL_PIECE, PIECE_OVERHEAD } = MessageBuffer;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A piece of `length` bytes that is a view into a buffer of `backing` bytes of its own. */
function viewOf(length: number, backing: number, start = 0): Buffer {
  const big = Buffer.from(new ArrayBuffer(backing));
  for (let i = 0; i < length; i++) big[i] = (start + i) & 0xff;
  return big.subarray(0, length);
}

describe('MessageBuffer: gathering', () => {
  it('gives back the pieces in order, and resets', () => {
    const m = new MessageBuffer();
    m.append(Buffer.from('Hel'));
    m.append(Buffer.alloc(0));
    m.append(counting(5000));
    m.append(Buffer.from('lo'));
    expect(m.length).toBe(5005);
    expect(
      m.take().equals(Buffer.concat([Buffer.from('Hel'), counting(5000), Buffer.from('lo')])),
    ).toBe(true);
    expect(m.length).toBe(0);
    expect(m.take().length).toBe(0);
  });

  it('an empty message is an empty Buffer', () => {
    const m = new MessageBuffer();
    m.append(Buffer.alloc(0));
    const out = m.take();
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.length).toBe(0);
  });

  it('gives back the only large piece as it is (no copy)', () => {
    const m = new MessageBuffer();
    const own = viewOf(SMALL_PIECE, SMALL_PIECE); // all of its memory: nothing else to pin
    m.append(own);
    expect(m.take()).toBe(own);
    const half = viewOf(2 * SMALL_PIECE, 4 * SMALL_PIECE);
    m.append(half);
    expect(m.take()).toBe(half);
  });

  it('copies small pieces: changing them after append changes nothing', () => {
    const m = new MessageBuffer();
    const pieces = Array.from({ length: 10 }, (_, i) => Buffer.from([i, i, i]));
    for (const p of pieces) m.append(p);
    for (const p of pieces) p.fill(0xee);
    const out = m.take();
    expect([...out]).toEqual(Array.from({ length: 30 }, (_, i) => Math.floor(i / 3)));
  });

  it('gathers tiny pieces across several blocks in order', () => {
    const m = new MessageBuffer();
    const expected: Buffer[] = [];
    let at = 0;
    while (at < 3 * BLOCK_SIZE + 100) {
      const piece = counting(1 + (at % 700), at);
      expected.push(Buffer.from(piece));
      m.append(piece);
      at += piece.length;
    }
    expect(m.take().equals(Buffer.concat(expected))).toBe(true);
  });
});

describe('MessageBuffer: the pinning rule (pinned buffers at most 4x the payload)', () => {
  it('copies a 1 KiB view of a 64 KiB read rather than keep the read alive', () => {
    const m = new MessageBuffer();
    const piece = viewOf(SMALL_PIECE, 64 * 1024);
    m.append(piece);
    const out = m.take();
    expect(out.equals(piece)).toBe(true);
    expect(out.buffer).not.toBe(piece.buffer);
  });

  it('keeps a view of at least a quarter of its buffer by reference', () => {
    const m = new MessageBuffer();
    const piece = viewOf(4096, 4 * 4096);
    m.append(piece);
    expect(m.take()).toBe(piece);
  });

  it('copies a view of just under a quarter', () => {
    const m = new MessageBuffer();
    const piece = viewOf(4095, 4 * 4096);
    m.append(piece);
    const out = m.take();
    expect(out).not.toBe(piece);
    expect(out.buffer).not.toBe(piece.buffer);
    expect(out.equals(piece)).toBe(true);
  });

  it('keeps the following views of one read by reference: they share what the first pinned', () => {
    // A 64 KiB socket read holding a 5 KiB tail of one fragment and then 16 KiB fragments.
    const read = Buffer.alloc(64 * 1024, 1);
    const m = new MessageBuffer();
    const cuts = [0, 5 * 1024, 21 * 1024, 37 * 1024, 53 * 1024, 64 * 1024];
    for (let i = 1; i < cuts.length; i++) m.append(read.subarray(cuts[i - 1], cuts[i]));
    read.fill(2); // shows which pieces were kept by reference
    const out = m.take();
    expect(out.length).toBe(64 * 1024);
    // The first (5 KiB pinning 64 KiB) was copied; the four after it were not.
    expect(out.subarray(0, 5 * 1024).every((b) => b === 1)).toBe(true);
    expect(out.subarray(5 * 1024).every((b) => b === 2)).toBe(true);
  });

  it('copies views of fresh buffers whenever the pinned buffers would pass 4x the payload', () => {
    const m = new MessageBuffer();
    const pieces = Array.from({ length: 8 }, () =>
      Buffer.alloc(64 * 1024, 1).subarray(0, 8 * 1024),
    );
    for (const piece of pieces) m.append(piece);
    for (const piece of pieces) piece.fill(2);
    const out = m.take();
    const kept = pieces.map((_, i) => out[i * 8 * 1024] === 2);
    // After n pieces of 8 KiB, at most 32n KiB may be pinned: one 64 KiB buffer every other piece.
    expect(kept).toEqual([false, true, false, true, false, true, false, true]);
  });
});

describe('MessageBuffer: memory held', () => {
  it('heldBytes counts the payload plus an overhead per piece kept', () => {
    const m = new MessageBuffer();
    m.append(Buffer.from(counting(2000)));
    m.append(Buffer.from(counting(3000)));
    expect(m.heldBytes).toBe(5000 + 2 * PIECE_OVERHEAD);
    // Small pieces share a block: no overhead each.
    const n = new MessageBuffer();
    for (let i = 0; i < 100; i++) n.append(Buffer.from([i]));
    expect(n.heldBytes).toBe(100);
  });

  it('4 MiB in 65,536 fragments of 64 bytes holds about its payload, not an object each', () => {
    const m = new MessageBuffer();
    const fragment = counting(64);
    for (let i = 0; i < 65_536; i++) m.append(fragment);
    expect(m.length).toBe(4 * 1024 * 1024);
    expect(m.heldBytes).toBeLessThan(m.length * 1.01);
    const out = m.take();
    expect(out.length).toBe(4 * 1024 * 1024);
    expect(out.subarray(64 * 1000, 64 * 1001).equals(fragment)).toBe(true);
  });

  it('alternating tiny and large pieces: each tiny one is copied out of its block', () => {
    const m = new MessageBuffer();
    const expected: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const tiny = Buffer.from([i]);
      const large = Buffer.from(counting(SMALL_PIECE, i));
      m.append(tiny);
      m.append(large);
      expected.push(tiny, large);
    }
    // 100 pieces kept (50 sealed blocks, 50 large pieces), each about its size.
    expect(m.heldBytes).toBe(50 * (1 + SMALL_PIECE) + 100 * PIECE_OVERHEAD);
    expect(m.take().equals(Buffer.concat(expected))).toBe(true);
  });
});

/**
 * Collects garbage until the ArrayBuffers it freed are no longer counted: V8 releases
 * backing stores on a background sweeper, so one gc() can leave them in `arrayBuffers`.
 */
async function settledGc(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('MessageBuffer: memory really held (ArrayBuffers, after a GC)', () => {
  it('10,000 tiny pieces between large ones do not each pin a 16 KiB block', async () => {
    const m = new MessageBuffer();
    await settledGc();
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 10_000; i++) {
      m.append(Buffer.from([i & 0xff]));
      m.append(viewOf(SMALL_PIECE, SMALL_PIECE));
    }
    await settledGc();
    const held = process.memoryUsage().arrayBuffers - before;
    // About 10 MiB of payload; a block pinned by each tiny piece would be 160 MiB more.
    expect(m.length).toBe(10_000 * (1 + SMALL_PIECE));
    expect(held).toBeLessThan(3 * m.length);
    m.clear();
  });
});

describe('MessageBuffer.reserve (a length announced in advance)', () => {
  it('copies the pieces into one buffer of exactly that size', () => {
    const m = new MessageBuffer();
    m.reserve(3000);
    const pieces = [counting(1), counting(1999, 1), counting(1000, 2000)];
    for (const p of pieces) m.append(p);
    for (const p of pieces) p.fill(0); // copied: the pieces may change afterwards
    const out = m.take();
    expect(out.length).toBe(3000);
    expect(out.equals(counting(3000))).toBe(true);
    // Reset: the next message gathers as usual.
    const piece = viewOf(SMALL_PIECE * 2, SMALL_PIECE * 2);
    m.append(piece);
    expect(m.take()).toBe(piece);
  });

  it('gives back only what arrived when less did', () => {
    const m = new MessageBuffer();
    m.reserve(100);
    m.append(Buffer.from('abc'));
    expect(m.take().toString()).toBe('abc');
  });

  it('is ignored once pieces are gathered, and for a length of 0', () => {
    const m = new MessageBuffer();
    m.append(Buffer.from('ab'));
    m.reserve(10);
    m.append(Buffer.from('cd'));
    expect(m.take().toString()).toBe('abcd');
    m.reserve(0);
    m.append(Buffer.from('x'));
    expect(m.take().toString()).toBe('x');
  });
});

describe('MessageBuffer.clear', () => {
  it('drops everything, a reservation included', () => {
    const m = new MessageBuffer();
    m.reserve(10);
    m.append(Buffer.from('abc'));
    m.clear();
    expect(m.length).toBe(0);
    expect(m.heldBytes).toBe(0);
    m.append(Buffer.from('z'));
    expect(m.take().toString()).toBe('z');
    m.append(Buffer.from(counting(5000)));
    m.append(Buffer.from('tiny'));
    m.clear();
    expect(m.take().length).toBe(0);
  });
});

describe('MessageBuffer: seeded random pieces', () => {
  it('gives back exactly the pieces appended, in order, whatever their sizes and backing', () => {
    const seed = baseSeed(
      process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED),
    );
    for (let run = 0; run < 200; run++) {
      const s = (seed + run) >>> 0;
      const random = mulberry32(s);
      const m = new MessageBuffer();
      const expected: Buffer[] = [];
      const reserved = random() < 0.2;
      const pieces = Math.floor(random() * 40);
      const sizes = Array.from({ length: pieces }, () =>
        random() < 0.6 ? Math.floor(random() * 100) : Math.floor(random() * 20_000),
      );
      if (reserved) m.reserve(sizes.reduce((a, b) => a + b, 0));
      for (const size of sizes) {
        const backing = size + Math.floor(random() * 4 * (size + 1));
        const piece = viewOf(size, Math.max(backing, size), Math.floor(random() * 256));
        expected.push(Buffer.from(piece));
        m.append(piece);
      }
      const out = m.take();
      const want = Buffer.concat(expected);
      if (!out.equals(want)) {
        throw new Error(`seed ${s} (PROPERTY_SEED=${seed}, run ${run}): wrong payload`);
      }
      expect(m.length).toBe(0);
    }
  });
});
