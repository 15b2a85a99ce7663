import { Buffer, isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isValidUtf8, Utf8Validator } from '../../lib/protocol/utf8-validator.js';

// ---------------------------------------------------------------------------------------
// Reference: a slow validator written from the definition, sharing no code or table with the
// one under test. A sequence is valid when it is exactly the encoding Node's encoder gives
// for the scalar value its bits spell; an incomplete tail is valid when it is a proper
// prefix of some such encoding (found by encoding every scalar value once).
// ---------------------------------------------------------------------------------------

type RefState = 'complete' | 'partial' | 'invalid';

let properPrefixes: Set<string>;

function buildProperPrefixes(): Set<string> {
  const set = new Set<string>();
  for (let cp = 0x80; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const encoded = Buffer.from(String.fromCodePoint(cp), 'utf8');
    for (let j = 1; j < encoded.length; j++) set.add(encoded.toString('hex', 0, j));
  }
  return set;
}

/** Length a lead byte declares by its high bits, 0 for a byte that cannot lead. */
function declaredLength(byte: number): number {
  if ((byte & 0x80) === 0) return 1;
  if ((byte & 0xe0) === 0xc0) return 2;
  if ((byte & 0xf0) === 0xe0) return 3;
  if ((byte & 0xf8) === 0xf0) return 4;
  return 0;
}

function isCanonical(seq: Uint8Array): boolean {
  const k = seq.length;
  let cp = k === 1 ? seq[0]! : seq[0]! & (0x7f >> k);
  for (let j = 1; j < k; j++) {
    const b = seq[j]!;
    if ((b & 0xc0) !== 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  return Buffer.from(String.fromCodePoint(cp), 'utf8').equals(seq);
}

function refClassify(bytes: Uint8Array): RefState {
  let i = 0;
  while (i < bytes.length) {
    const k = declaredLength(bytes[i]!);
    if (k === 0) return 'invalid';
    if (i + k > bytes.length) {
      return properPrefixes.has(Buffer.from(bytes.subarray(i)).toString('hex'))
        ? 'partial'
        : 'invalid';
    }
    if (!isCanonical(bytes.subarray(i, i + k))) return 'invalid';
    i += k;
  }
  return 'complete';
}

/** Index of the first byte after which the input can no longer be a prefix of valid UTF-8. */
function refFirstBad(bytes: Uint8Array): number {
  for (let n = 1; n <= bytes.length; n++) {
    if (refClassify(bytes.subarray(0, n)) === 'invalid') return n - 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------
// Running the validator over pieces, and what it must answer.
// ---------------------------------------------------------------------------------------

interface Outcome {
  writes: boolean[];
  valid: boolean;
  end: boolean;
}

function piecesAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const bounds = [0, ...cuts, bytes.length];
  const pieces: Uint8Array[] = [];
  for (let k = 1; k < bounds.length; k++) pieces.push(bytes.subarray(bounds[k - 1], bounds[k]));
  return pieces;
}

function run(bytes: Uint8Array, cuts: readonly number[]): Outcome {
  const v = new Utf8Validator();
  const writes = piecesAt(bytes, cuts).map((piece) => v.write(piece));
  return { writes, valid: v.valid, end: v.end() };
}

/** What the reference says about a whole input: first bad index (-1: none), and completeness. */
interface Truth {
  bad: number;
  complete: boolean;
}

const truthCache = new Map<string, Truth>();

function truthOf(bytes: Uint8Array): Truth {
  const key = Buffer.from(bytes).toString('hex');
  let truth = truthCache.get(key);
  if (!truth) {
    truth = { bad: refFirstBad(bytes), complete: refClassify(bytes) === 'complete' };
    if (bytes.length > 8) truthCache.set(key, truth);
  }
  return truth;
}

/**
 * Each write is true until the piece holding the first bad byte, false from it on (an empty
 * piece that ends exactly at the bad byte comes before it, so it is still true).
 */
function expected(bytes: Uint8Array, cuts: readonly number[]): Outcome {
  const { bad, complete } = truthOf(bytes);
  const writes = [...cuts, bytes.length].map((to) => bad < 0 || bad >= to);
  return { writes, valid: bad < 0, end: bad < 0 && complete };
}

function allCuts(n: number): number[] {
  return Array.from({ length: Math.max(0, n - 1) }, (_, i) => i + 1);
}

/** A small seeded PRNG (mulberry32), so a failing split can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomCuts(n: number, rand: () => number): number[] {
  const count = Math.floor(rand() * Math.min(n + 1, 8));
  const cuts = Array.from({ length: count }, () => Math.floor(rand() * (n + 1)));
  return cuts.sort((a, b) => a - b);
}

const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** Checks one input whole, byte by byte, split at every index and at seeded random splits. */
function checkAllSplits(bytes: Uint8Array): void {
  const hex = Buffer.from(bytes).toString('hex');
  expect(run(bytes, []), `whole ${hex}`).toEqual(expected(bytes, []));
  const bytewise = allCuts(bytes.length);
  expect(run(bytes, bytewise), `byte by byte ${hex}`).toEqual(expected(bytes, bytewise));
  for (let i = 0; i <= bytes.length; i++) {
    expect(run(bytes, [i]), `split at ${i} ${hex}`).toEqual(expected(bytes, [i]));
  }
  const rand = prng(SEED ^ bytes.length);
  for (let r = 0; r < 10; r++) {
    const cuts = randomCuts(bytes.length, rand);
    const message = `random cuts [${cuts}] of ${hex} (TEST_SEED=${SEED})`;
    expect(run(bytes, cuts), message).toEqual(expected(bytes, cuts));
  }
}

/** Writes one byte at a time and gives the index of the first write that returns false. */
function firstFalseWrite(bytes: Uint8Array): number {
  const v = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) {
    if (!v.write(bytes.subarray(i, i + 1))) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------
// Vectors: Markus Kuhn's UTF-8-test.txt, in the groups the Autobahn suite's 6.x cases use.
// ---------------------------------------------------------------------------------------

type Verdict = 'valid' | 'invalid' | 'truncated';

interface Vector {
  name: string;
  hex: string;
  verdict: Verdict;
}

const h = (name: string, hex: string, verdict: Verdict): Vector => ({
  name,
  hex: hex.replace(/\s+/g, ''),
  verdict,
});
const utf8Hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');
const bytesOf = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
const byteHex = (b: number): string => b.toString(16).padStart(2, '0');

const KOSME = 'ce ba e1 bd b9 cf 83 ce bc ce b5';

const VECTORS: Vector[] = [
  // 6.1, 6.2: empty and well-formed text.
  h('empty', '', 'valid'),
  h('κόσμε (6.5.1)', KOSME, 'valid'),
  h('Hello-µ@ßöäüàá-UTF-8!! (6.2.1)', utf8Hex('Hello-µ@ßöäüàá-UTF-8!!'), 'valid'),
  h('emoji and CJK', utf8Hex('日本語 🎉👍🏽 ok'), 'valid'),
  // 6.6: κόσμε growing byte by byte (the truncated ones are checked as "truncated").
  ...range(1, 10).map((n) =>
    h(
      `κόσμε first ${n} bytes`,
      KOSME.replace(/\s+/g, '').slice(0, 2 * n),
      [2, 5, 7, 9].includes(n) ? 'valid' : 'truncated',
    ),
  ),
  // 6.7: first possible sequence of each length.
  h('U+0000', '00', 'valid'),
  h('U+0080', 'c2 80', 'valid'),
  h('U+0800', 'e0 a0 80', 'valid'),
  h('U+10000', 'f0 90 80 80', 'valid'),
  // 6.8: first sequences of 5 and 6 bytes (beyond RFC 3629).
  h('5-byte U+200000', 'f8 88 80 80 80', 'invalid'),
  h('6-byte U+4000000', 'fc 84 80 80 80 80', 'invalid'),
  // 6.9: last possible sequence of each length.
  h('U+007F', '7f', 'valid'),
  h('U+07FF', 'df bf', 'valid'),
  h('U+FFFF (noncharacter, valid)', 'ef bf bf', 'valid'),
  h('U+10FFFF', 'f4 8f bf bf', 'valid'),
  h('U+1FFFFF (4 bytes, too big)', 'f7 bf bf bf', 'invalid'),
  h('5-byte U+3FFFFFF', 'fb bf bf bf bf', 'invalid'),
  h('6-byte U+7FFFFFFF', 'fd bf bf bf bf bf', 'invalid'),
  // 6.10: other boundary conditions.
  h('U+D7FF', 'ed 9f bf', 'valid'),
  h('U+E000', 'ee 80 80', 'valid'),
  h('U+FFFD', 'ef bf bd', 'valid'),
  h('U+10FFFF again', 'f4 8f bf bf', 'valid'),
  h('U+110000 (first invalid)', 'f4 90 80 80', 'invalid'),
  // 6.11-6.13: lone continuation bytes.
  h('first continuation 0x80', '80', 'invalid'),
  h('last continuation 0xBF', 'bf', 'invalid'),
  h('2 continuation bytes', '80 bf', 'invalid'),
  h('3 continuation bytes', '80 bf 80', 'invalid'),
  h('4 continuation bytes', '80 bf 80 bf', 'invalid'),
  h('5 continuation bytes', '80 bf 80 bf 80', 'invalid'),
  h('6 continuation bytes', '80 bf 80 bf 80 bf', 'invalid'),
  h('7 continuation bytes', '80 bf 80 bf 80 bf 80', 'invalid'),
  h('all 64 continuation bytes', range(0x80, 0xbf).map(byteHex).join(''), 'invalid'),
  h('ASCII then continuation', `${utf8Hex('abc')}80`, 'invalid'),
  // 6.14-6.16: lonely start characters, each followed by a space.
  h(
    '2-byte leads + space',
    range(0xc0, 0xdf)
      .map((b) => `${byteHex(b)}20`)
      .join(''),
    'invalid',
  ),
  h(
    '3-byte leads + space',
    range(0xe0, 0xef)
      .map((b) => `${byteHex(b)}20`)
      .join(''),
    'invalid',
  ),
  h(
    '4-byte leads + space',
    range(0xf0, 0xf7)
      .map((b) => `${byteHex(b)}20`)
      .join(''),
    'invalid',
  ),
  h(
    '5-byte leads + space',
    range(0xf8, 0xfb)
      .map((b) => `${byteHex(b)}20`)
      .join(''),
    'invalid',
  ),
  h(
    '6-byte leads + space',
    range(0xfc, 0xfd)
      .map((b) => `${byteHex(b)}20`)
      .join(''),
    'invalid',
  ),
  ...range(0xc2, 0xf4).map((b) => h(`lead ${byteHex(b)} + space`, `${byteHex(b)}20`, 'invalid')),
  // 6.17-6.18: sequences with the last continuation byte missing (the ones that could still
  // become valid are "truncated": every write passes, end() fails).
  h('2-byte overlong U+0000 missing last', 'c0', 'invalid'),
  h('3-byte overlong U+0000 missing last', 'e0 80', 'invalid'),
  h('4-byte overlong U+0000 missing last', 'f0 80 80', 'invalid'),
  h('5-byte missing last', 'f8 80 80 80', 'invalid'),
  h('6-byte missing last', 'fc 80 80 80 80', 'invalid'),
  h('U+07FF missing last', 'df', 'truncated'),
  h('U+FFFF missing last', 'ef bf', 'truncated'),
  h('U+1FFFFF missing last', 'f7 bf bf', 'invalid'),
  h('5-byte max missing last', 'fb bf bf bf', 'invalid'),
  h('6-byte max missing last', 'fd bf bf bf bf', 'invalid'),
  h('U+0080 missing last', 'c2', 'truncated'),
  h('U+0800 missing last', 'e0 a0', 'truncated'),
  h('U+10000 missing last', 'f0 90 80', 'truncated'),
  h('U+10000 missing two', 'f0 90', 'truncated'),
  h('U+10FFFF missing last', 'f4 8f bf', 'truncated'),
  h('U+D7FF missing last', 'ed 9f', 'truncated'),
  h('κόσμε then a 3-byte lead', `${KOSME} e1`, 'truncated'),
  h('all of 6.17 concatenated', 'c0 e0 80 f0 80 80 f8 80 80 80 fc 80 80 80 80 df ef bf', 'invalid'),
  // 6.19-6.20: impossible bytes.
  h('0xFE', 'fe', 'invalid'),
  h('0xFF', 'ff', 'invalid'),
  h('FE FE FF FF', 'fe fe ff ff', 'invalid'),
  ...[0xc0, 0xc1, ...range(0xf5, 0xff)].map((b) =>
    h(`invalid lead ${byteHex(b)}`, byteHex(b), 'invalid'),
  ),
  ...[0xc0, 0xc1, ...range(0xf5, 0xff)].map((b) =>
    h(`invalid lead ${byteHex(b)} + continuations`, `${byteHex(b)}bfbfbf`, 'invalid'),
  ),
  // 6.21: overlongs of '/'.
  h("overlong '/' 2", 'c0 af', 'invalid'),
  h("overlong '/' 3", 'e0 80 af', 'invalid'),
  h("overlong '/' 4", 'f0 80 80 af', 'invalid'),
  h("overlong '/' 5", 'f8 80 80 80 af', 'invalid'),
  h("overlong '/' 6", 'fc 80 80 80 80 af', 'invalid'),
  // 6.22: maximum overlongs.
  h('max overlong 2 (U+007F)', 'c1 bf', 'invalid'),
  h('max overlong 3 (U+07FF)', 'e0 9f bf', 'invalid'),
  h('max overlong 4 (U+FFFF)', 'f0 8f bf bf', 'invalid'),
  h('max overlong 5', 'f8 87 bf bf bf', 'invalid'),
  h('max overlong 6', 'fc 83 bf bf bf bf', 'invalid'),
  // 6.23: overlong NUL.
  h('overlong NUL 2', 'c0 80', 'invalid'),
  h('overlong NUL 3', 'e0 80 80', 'invalid'),
  h('overlong NUL 4', 'f0 80 80 80', 'invalid'),
  h('overlong NUL 5', 'f8 80 80 80 80', 'invalid'),
  h('overlong NUL 6', 'fc 80 80 80 80 80', 'invalid'),
  // 6.24: single UTF-16 surrogates.
  ...['a0 80', 'ad bf', 'ae 80', 'af bf', 'b0 80', 'be 80', 'bf bf'].map((tail) =>
    h(`surrogate ed ${tail}`, `ed ${tail}`, 'invalid'),
  ),
  h('surrogate lead only ed a0', 'ed a0', 'invalid'),
  // 6.25: paired UTF-16 surrogates.
  ...[
    'ed a0 80 ed b0 80',
    'ed a0 80 ed bf bf',
    'ed ad bf ed b0 80',
    'ed ad bf ed bf bf',
    'ed ae 80 ed b0 80',
    'ed ae 80 ed bf bf',
    'ed af bf ed b0 80',
    'ed af bf ed bf bf',
  ].map((hex) => h(`surrogate pair ${hex}`, hex, 'invalid')),
  // 6.26: noncharacters are valid.
  h('U+FFFE', 'ef bf be', 'valid'),
  h('U+FDD0..U+FDEF', utf8Hex(String.fromCodePoint(...range(0xfdd0, 0xfdef))), 'valid'),
  h(
    'U+nFFFE, U+nFFFF in every plane',
    utf8Hex(
      String.fromCodePoint(
        ...range(1, 16).flatMap((p) => [p * 0x10000 + 0xfffe, p * 0x10000 + 0xffff]),
      ),
    ),
    'valid',
  ),
  // 6.3, 6.4: invalid bytes in the middle of valid text; fail fast before the rest arrives.
  h('κόσμε ED A0 80 edited (6.3.1)', `${KOSME} ed a0 80 ${utf8Hex('edited')}`, 'invalid'),
  h('κόσμε F4 90 80 80 edited (6.4.1)', `${KOSME} f4 90 80 80 ${utf8Hex('edited')}`, 'invalid'),
  h('κόσμε F4 80 80 then C0 (6.4.2)', `${KOSME} f4 80 80 c0 ${utf8Hex('edited')}`, 'invalid'),
  h('κόσμε bf alone (6.4.3)', `${KOSME} bf ${utf8Hex('edited')}`, 'invalid'),
  h('E0 80 prefix', 'e0 80', 'invalid'),
  h('F4 90 prefix', 'f4 90', 'invalid'),
  h('F0 80 prefix', 'f0 80', 'invalid'),
  h('2-byte lead then ASCII', 'c3 41', 'invalid'),
  h('3-byte lead then lead', 'e1 e1 80 80', 'invalid'),
];

/** Pads a vector with text in front so that the native fast path (and its tail) gets it. */
const PADDINGS = [
  { name: 'after 40 ASCII bytes', hex: utf8Hex('x'.repeat(40)) },
  { name: 'after 20 multi-byte chars', hex: utf8Hex('κόσμε🎉日本'.repeat(3)) },
];

beforeAll(() => {
  properPrefixes = buildProperPrefixes();
});

describe('reference validator (the test oracle)', () => {
  it.each(VECTORS)('agrees with the annotation for $name', ({ hex, verdict }) => {
    const state = refClassify(bytesOf(hex));
    expect(state).toBe({ valid: 'complete', truncated: 'partial', invalid: 'invalid' }[verdict]);
    expect(isUtf8(bytesOf(hex))).toBe(verdict === 'valid');
  });
});

describe('Utf8Validator on the classic vectors', () => {
  it.each(VECTORS)('$name: same verdict whole, byte by byte and at every split', ({ hex }) => {
    checkAllSplits(bytesOf(hex));
  });

  it.each(VECTORS)('$name: same verdict after a long prefix', ({ hex }) => {
    for (const pad of PADDINGS) checkAllSplits(bytesOf(pad.hex + hex));
  });

  it.each(VECTORS)('$name: end() and valid give the annotated verdict', ({ hex, verdict }) => {
    for (const pad of ['', ...PADDINGS.map((p) => p.hex)]) {
      const v = new Utf8Validator();
      expect(v.write(bytesOf(pad + hex))).toBe(verdict !== 'invalid');
      expect(v.valid).toBe(verdict !== 'invalid');
      expect(v.end()).toBe(verdict === 'valid');
      expect(isValidUtf8(bytesOf(pad + hex))).toBe(verdict === 'valid');
    }
  });

  it.each(VECTORS.filter((v) => v.verdict === 'invalid'))(
    '$name: fails fast, at the first byte that cannot begin valid UTF-8',
    ({ hex }) => {
      for (const pad of ['', ...PADDINGS.map((p) => p.hex)]) {
        const bytes = bytesOf(pad + hex);
        const bad = refFirstBad(bytes);
        expect(bad).toBeGreaterThanOrEqual(0);
        expect(firstFalseWrite(bytes)).toBe(bad);
        // Fed whole up to and including that byte, the piece is refused at once.
        expect(new Utf8Validator().write(bytes.subarray(0, bad + 1))).toBe(false);
        expect(new Utf8Validator().write(bytes.subarray(0, bad))).toBe(true);
      }
    },
  );
});

describe('Utf8Validator fail-fast on a tail that can never become valid', () => {
  const tails = [
    'ed a0',
    'ed bf',
    'f4 90',
    'f4 bf',
    'e0 80',
    'e0 9f',
    'f0 80',
    'f0 8f',
    'c0',
    'c1',
    'f5',
    'ff',
  ];
  it.each(tails)('rejects a piece ending in %s right away', (tail) => {
    for (const pad of ['', ...PADDINGS.map((p) => p.hex), utf8Hex('a'.repeat(4096))]) {
      const v = new Utf8Validator();
      expect(v.write(bytesOf(pad + tail.replace(/\s/g, '')))).toBe(false);
      expect(v.valid).toBe(false);
    }
  });

  it('accepts a piece ending in any proper prefix of a valid sequence, and completes it', () => {
    for (const text of [
      '\u0080',
      '\u07ff',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uffff',
      '😀',
      '\u{10ffff}',
    ]) {
      const enc = Buffer.from(text, 'utf8');
      for (let cut = 1; cut < enc.length; cut++) {
        for (const pad of ['', ...PADDINGS.map((p) => p.hex)]) {
          const v = new Utf8Validator();
          const first = Buffer.concat([bytesOf(pad), enc.subarray(0, cut)]);
          expect(v.write(first)).toBe(true);
          expect(v.end()).toBe(false);
          expect(v.write(Buffer.concat([enc.subarray(cut), Buffer.from('x'.repeat(40))]))).toBe(
            true,
          );
          expect(v.end()).toBe(true);
        }
      }
    }
  });
});

describe('Utf8Validator state', () => {
  it('stays invalid after an invalid byte until reset', () => {
    const v = new Utf8Validator();
    expect(v.write(bytesOf('ff'))).toBe(false);
    expect(v.write(bytesOf('41'))).toBe(false);
    expect(v.write(new Uint8Array(0))).toBe(false);
    expect(v.valid).toBe(false);
    expect(v.end()).toBe(false);
    v.reset();
    expect(v.valid).toBe(true);
    expect(v.end()).toBe(true);
    expect(v.write(bytesOf('41'))).toBe(true);
  });

  it('forgets a pending sequence on reset', () => {
    const v = new Utf8Validator();
    expect(v.write(bytesOf('e0'))).toBe(true); // next byte must be A0..BF
    v.reset();
    expect(v.write(bytesOf('80'))).toBe(false); // a lone continuation now
    v.reset();
    expect(v.write(bytesOf('ed'))).toBe(true);
    v.reset();
    expect(v.write(bytesOf('c280'))).toBe(true);
    expect(v.end()).toBe(true);
  });

  it('accepts empty pieces anywhere', () => {
    const v = new Utf8Validator();
    const empty = new Uint8Array(0);
    expect(v.write(empty)).toBe(true);
    expect(v.write(bytesOf('f0'))).toBe(true);
    expect(v.write(empty)).toBe(true);
    expect(v.write(bytesOf('9f98'))).toBe(true);
    expect(v.write(empty)).toBe(true);
    expect(v.write(bytesOf('80'))).toBe(true);
    expect(v.end()).toBe(true);
  });

  it('reads views at an offset into a larger buffer, and plain Uint8Arrays', () => {
    const backing = Buffer.from(`zz${'é'.repeat(30)}\u{1f600}zz`, 'utf8');
    const inner = new Uint8Array(backing.buffer, backing.byteOffset + 2, backing.length - 4);
    for (let cut = 0; cut <= inner.length; cut++) {
      const v = new Utf8Validator();
      expect(v.write(inner.subarray(0, cut))).toBe(true);
      expect(v.write(inner.subarray(cut))).toBe(true);
      expect(v.end()).toBe(true);
    }
    // The bytes around the view are invalid: they must not be read.
    const guarded = new Uint8Array([0xff, ...Buffer.from('a'.repeat(20)), 0xe2, 0x82, 0xff]);
    const v = new Utf8Validator();
    expect(v.write(guarded.subarray(1, 23))).toBe(true);
    expect(v.end()).toBe(false);
    expect(v.write(Uint8Array.of(0xac))).toBe(true); // '€' completed
    expect(v.end()).toBe(true);
  });
});

describe('exhaustive short sequences', () => {
  const edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xe1, 0xff];

  it('agrees with the reference on every 2-byte input, byte by byte and whole', () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        const bytes = Uint8Array.of(a, b);
        expect(firstFalseWrite(bytes)).toBe(refFirstBad(bytes));
        expect(run(bytes, [])).toEqual(expected(bytes, []));
      }
    }
  });

  it('agrees with the reference on 3- and 4-byte inputs after every lead, padded', () => {
    const pad = Buffer.from('p'.repeat(20));
    const mismatches: string[] = [];
    for (let lead = 0xc0; lead <= 0xff; lead++) {
      for (let second = 0; second < 256; second++) {
        for (const third of edges) {
          for (const fourth of [undefined, ...edges]) {
            const seq =
              fourth === undefined ? [lead, second, third] : [lead, second, third, fourth];
            const bytes = Uint8Array.of(...seq);
            const bad = refFirstBad(bytes);
            const padded = new Uint8Array(Buffer.concat([pad, bytes]));
            const whole = new Utf8Validator();
            const ok =
              firstFalseWrite(bytes) === bad &&
              whole.write(padded) === bad < 0 &&
              whole.end() === (bad < 0 && refClassify(bytes) === 'complete');
            if (!ok) mismatches.push(Buffer.from(bytes).toString('hex'));
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
  });
});

describe('random inputs (property)', () => {
  /** Tokens that make interesting byte strings: valid code points, stray and cut sequences. */
  const token = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 4 }).map((s) => Buffer.from(s, 'utf8')),
    fc.string({ unit: 'grapheme', maxLength: 3 }).map((s) => Buffer.from(s, 'utf8')),
    fc.integer({ min: 0, max: 255 }).map((b) => Buffer.of(b)),
    fc
      .tuple(fc.integer({ min: 0x80, max: 0x10ffff }), fc.integer({ min: 1, max: 3 }))
      .map(([cp, cut]) => Buffer.from(String.fromCodePoint(cp), 'utf8').subarray(0, cut)),
    fc.constant(Buffer.from('x'.repeat(17))),
  );
  const input = fc.array(token, { maxLength: 40 }).map((ts) => new Uint8Array(Buffer.concat(ts)));
  const cutsFor = (n: number) =>
    fc
      .uniqueArray(fc.integer({ min: 0, max: n }), { maxLength: 8 })
      .map((c) => c.sort((a, b) => a - b));

  it('agrees with isUtf8 and the reference at random splits of random bytes', () => {
    fc.assert(
      fc.property(
        input.chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
        ([bytes, cuts]) => {
          const got = run(bytes, cuts);
          expect(got).toEqual(expected(bytes, cuts));
          expect(got.end).toBe(isUtf8(bytes));
          expect(isValidUtf8(bytes)).toBe(isUtf8(bytes));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts every valid string, encoded, at random splits', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
    );
    fc.assert(
      fc.property(
        text
          .map((s) => new Uint8Array(Buffer.from(s, 'utf8')))
          .chain((bytes) => fc.tuple(fc.constant(bytes), cutsFor(bytes.length))),
        ([bytes, cuts]) => {
          const got = run(bytes, cuts);
          expect(got.writes.every(Boolean)).toBe(true);
          expect(got.end).toBe(true);
          expect(got.end).toBe(isUtf8(bytes));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('handles large inputs in 1 KiB pieces like the whole', () => {
    const big = Buffer.from('aé€😀'.repeat(20_000), 'utf8');
    for (const size of [1024, 1000, 7, 4096 + 3]) {
      const v = new Utf8Validator();
      for (let i = 0; i < big.length; i += size)
        expect(v.write(big.subarray(i, i + size))).toBe(true);
      expect(v.end()).toBe(true);
    }
    const broken = Buffer.from(big);
    broken[big.length - 5000] = 0xff;
    const v = new Utf8Validator();
    let failedAt = -1;
    for (let i = 0; i < broken.length && failedAt < 0; i += 1024) {
      if (!v.write(broken.subarray(i, i + 1024))) failedAt = i;
    }
    expect(failedAt).toBe(Math.floor((big.length - 5000) / 1024) * 1024);
  });
});
