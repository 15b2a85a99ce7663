/** Byte-level mutations shared by the fuzzers: what a careless or hostile peer does to bytes. */
import type { SeededRandom } from '../../helpers/seeded-random.js';

const INTERESTING_BYTES = [
  0x00, 0x01, 0x7d, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x8f, 0xc0, 0xff, 0x09, 0x0a,
];

/** 64-bit lengths at every boundary a decoder must get right. */
export const INTERESTING_LENGTHS: readonly bigint[] = [
  0n,
  1n,
  125n,
  126n,
  127n,
  0xffffn,
  0x10000n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** Applies 1-3 random mutations to a copy of `input`; `donor` supplies bytes to splice in. */
export function mutateBytes(rng: SeededRandom, input: Buffer, donor?: Buffer): Buffer {
  let out = Buffer.from(input);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const n = out.length;
    switch (rng.int(10)) {
      case 0: // flip a bit
        if (n > 0) out[rng.int(n)]! ^= 1 << rng.int(8);
        break;
      case 1: // a random byte
        if (n > 0) out[rng.int(n)] = rng.int(256);
        break;
      case 2: // an interesting byte, mostly in the header
        if (n > 0)
          out[rng.chance(0.7) ? rng.int(Math.min(n, 14)) : rng.int(n)] =
            rng.pick(INTERESTING_BYTES);
        break;
      case 3: // truncate
        out = out.subarray(0, rng.int(n + 1));
        break;
      case 4: {
        // insert random bytes
        const at = rng.int(n + 1);
        out = Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(8)), out.subarray(at)]);
        break;
      }
      case 5: {
        // delete a range
        const at = rng.int(n + 1);
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rng.int(8))]);
        break;
      }
      case 6: {
        // duplicate a range
        const at = rng.int(n + 1);
        const len = rng.int(Math.min(32, n - at) + 1);
        out = Buffer.concat([
          out.subarray(0, at + len),
          out.subarray(at, at + len),
          out.subarray(at + len),
        ]);
        break;
      }
      case 7: {
        // splice in a piece of the donor
        if (donor !== undefined && donor.length > 0) {
          const from = rng.int(donor.length);
          const piece = donor.subarray(from, from + 1 + rng.int(64));
          const at = rng.int(n + 1);
          out = Buffer.concat([out.subarray(0, at), piece, out.subarray(at)]);
        }
        break;
      }
      case 8: {
        // swap two bytes
        if (n > 1) {
          const a = rng.int(n);
          const b = rng.int(n);
          const t = out[a]!;
          out[a] = out[b]!;
          out[b] = t;
        }
        break;
      }
      default: {
        // overwrite 8 bytes with an interesting big-endian 64-bit value
        if (n >= 10) {
          const at = rng.chance(0.7) ? 2 : rng.int(n - 7);
          out.writeBigUInt64BE(rng.pick(INTERESTING_LENGTHS) & 0xffff_ffff_ffff_ffffn, at);
        }
      }
    }
  }
  return out;
}

/** Cuts `input` into 1-5 chunks at random points (empty chunks included). */
export function randomSplits(rng: SeededRandom, input: Buffer): Buffer[] {
  const count = rng.int(5);
  const cuts = Array.from({ length: count }, () => rng.int(input.length + 1)).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const cut of cuts) {
    chunks.push(input.subarray(at, cut));
    at = cut;
  }
  chunks.push(input.subarray(at));
  return chunks;
}
