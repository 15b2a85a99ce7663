import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import { generateMaskKey, mask, unmask } from '../../lib/protocol/mask.js';
import { baseSeed, mulberry32 } from '../helpers/chunking.js';

/** The byte-by-byte definition of RFC 6455 §5.3: out[i] = in[i] ^ key[(i + keyOffset) % 4]. */
function reference(data: Uint8Array, key: Uint8Array, keyOffset: number): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[(i + keyOffset) % 4]!;
  return out;
}

/** Deterministic pseudo-random bytes. */
function bytes(length: number, seed: number): Buffer {
  const random = mulberry32(seed);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Returns a copy of `data` placed at byteOffset `shift` of a fresh ArrayBuffer. */
function at(data: Uint8Array, shift: number): Buffer {
  const backing = Buffer.from(new ArrayBuffer(data.length + 16));
  const view = backing.subarray(shift, shift + data.length);
  view.set(data);
  return view;
}

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const LENGTHS = [
  ...Array.from({ length: 65 }, (_, i) => i),
  127,
  128,
  129,
  255,
  1000,
  4099,
  65_537,
  1_048_579,
];

describe('mask / unmask', () => {
  it('masks "Hello" as in RFC 6455 §5.7', () => {
    const out = Buffer.alloc(5);
    mask(Buffer.from('Hello'), KEY, out, 0);
    expect(out).toEqual(Buffer.from([0x7f, 0x9f, 0x4d, 0x51, 0x58]));
    unmask(out, KEY);
    expect(out.toString()).toBe('Hello');
  });

  it('equals the byte reference for every length, key offset and alignment', () => {
    let cases = 0;
    for (const length of LENGTHS) {
      const data = bytes(length, length + 1);
      // Every pair of source and output alignments (mod 8) for small lengths; for large
      // ones, pairs that take the fused word path and pairs that take the copy-then-XOR one.
      const pairs: [number, number][] =
        length < 5000
          ? Array.from({ length: 64 }, (_, i) => [i >> 3, i & 7])
          : [
              [0, 0],
              [3, 3],
              [1, 2],
              [5, 0],
              [7, 4],
            ];
      for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
        const expected = reference(data, KEY, keyOffset);
        for (let shift = 0; shift < 8; shift++) {
          const buf = at(data, shift);
          unmask(buf, KEY, keyOffset);
          expect(buf.equals(expected), `unmask len ${length} off ${keyOffset} shift ${shift}`).toBe(
            true,
          );
        }
        for (const [shift, outShift] of pairs) {
          const src = at(data, shift);
          // output[3] sits at alignment outShift.
          const out = Buffer.from(new ArrayBuffer(length + 24)).subarray(8 + outShift - 3);
          out.fill(0xee);
          mask(src, KEY, out, 3, keyOffset);
          const what = `mask len ${length} off ${keyOffset} src ${shift} out ${outShift}`;
          expect(out.subarray(3, 3 + length).equals(expected), what).toBe(true);
          expect(src.equals(data), `${what}: source modified`).toBe(true);
          expect(out[2], `${what}: wrote before`).toBe(0xee);
          expect(out[3 + length], `${what}: wrote after`).toBe(0xee);
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(LENGTHS.length * 4 * 5);
  });

  it('takes only keyOffset % 4 into account, also for offsets beyond 2^32', () => {
    const data = bytes(300, 7);
    for (const keyOffset of [4, 5, 2 ** 32 + 1, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      const buf = Buffer.from(data);
      unmask(buf, KEY, keyOffset);
      expect(buf.equals(reference(data, KEY, keyOffset % 4))).toBe(true);
    }
  });

  it('resumes: unmasking in random pieces with the running offset equals unmasking whole', () => {
    const seed = baseSeed();
    const random = mulberry32(seed);
    for (let round = 0; round < 50; round++) {
      const length = Math.floor(random() * 5000);
      const data = bytes(length, round);
      const key = bytes(4, round + 1000);
      const whole = Buffer.from(data);
      unmask(whole, key);
      const pieces = Buffer.from(data);
      let offset = 0;
      while (offset < length) {
        const n = Math.min(length - offset, 1 + Math.floor(random() * 300));
        unmask(pieces.subarray(offset, offset + n), key, offset);
        offset += n;
      }
      expect(pieces.equals(whole), `seed ${seed} round ${round}`).toBe(true);
    }
  });

  it('unmask(mask(x)) is x and masking a buffer onto itself works', () => {
    const data = bytes(1000, 3);
    const buf = Buffer.from(data);
    mask(buf, KEY, buf, 0, 2);
    expect(buf.equals(reference(data, KEY, 2))).toBe(true);
    unmask(buf, KEY, 2);
    expect(buf.equals(data)).toBe(true);
  });

  it('refuses a short key and an output too small', () => {
    expect(() => unmask(Buffer.alloc(8), Buffer.alloc(3))).toThrow(InvalidArgumentError);
    expect(() => mask(Buffer.alloc(8), KEY, Buffer.alloc(8), 1)).toThrow(InvalidArgumentError);
    expect(() => mask(Buffer.alloc(8), KEY, Buffer.alloc(8), -1)).toThrow(InvalidArgumentError);
  });
});

describe('generateMaskKey', () => {
  it('returns fresh 4-byte Buffers that differ across calls', () => {
    const keys = Array.from({ length: 5000 }, () => generateMaskKey());
    for (const key of keys) {
      expect(Buffer.isBuffer(key)).toBe(true);
      expect(key.length).toBe(4);
    }
    // 5000 keys span more than one 8 KiB pool refill; 32-bit collisions are unlikely.
    const distinct = new Set(keys.map((k) => k.toString('hex')));
    expect(distinct.size).toBeGreaterThan(4990);
    // A returned key is a copy: changing it changes no other key.
    const a = generateMaskKey();
    const b = generateMaskKey();
    const before = b.toString('hex');
    a.fill(0);
    expect(b.toString('hex')).toBe(before);
  });
});
