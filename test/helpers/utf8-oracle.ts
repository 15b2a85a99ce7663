/**
 * An independent UTF-8 oracle for the conformance suite and the fuzzers: written from the
 * Unicode Standard's table of well-formed byte sequences, sharing no code with
 * lib/protocol/utf8-validator.ts, so that the two can be checked against each other.
 *
 * "First invalid index" is the index of the first byte after which no continuation can make
 * the bytes valid UTF-8: the point at which a fail-fast receiver must reject them.
 *
 * @see Unicode 15, §3.9 Table 3-7 (well-formed UTF-8 byte sequences); RFC 3629 §4
 */

/** For each lead byte: [sequence length, low and high bound of the second byte]. */
function leadInfo(lead: number): [number, number, number] | undefined {
  if (lead <= 0x7f) return [1, 0, 0];
  if (lead >= 0xc2 && lead <= 0xdf) return [2, 0x80, 0xbf];
  if (lead === 0xe0) return [3, 0xa0, 0xbf];
  if (lead >= 0xe1 && lead <= 0xec) return [3, 0x80, 0xbf];
  if (lead === 0xed) return [3, 0x80, 0x9f];
  if (lead === 0xee || lead === 0xef) return [3, 0x80, 0xbf];
  if (lead === 0xf0) return [4, 0x90, 0xbf];
  if (lead >= 0xf1 && lead <= 0xf3) return [4, 0x80, 0xbf];
  if (lead === 0xf4) return [4, 0x80, 0x8f];
  return undefined; // 0x80-0xC1 and 0xF5-0xFF never start a sequence
}

/** What the oracle says about a byte string. */
export interface Utf8Verdict {
  /** Index of the first byte that no continuation can make valid; -1 when there is none. */
  firstInvalid: number;
  /** True when the bytes are valid UTF-8 and end on a code point boundary. */
  complete: boolean;
}

/** Judges a byte string as the Unicode table does. */
export function judgeUtf8(bytes: Uint8Array): Utf8Verdict {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const info = leadInfo(bytes[i]!);
    if (info === undefined) return { firstInvalid: i, complete: false };
    const [length, lo, hi] = info;
    if (length === 1) {
      i++;
      continue;
    }
    for (let k = 1; k < length; k++) {
      if (i + k >= n) return { firstInvalid: -1, complete: false };
      const byte = bytes[i + k]!;
      const [min, max] = k === 1 ? [lo, hi] : [0x80, 0xbf];
      if (byte < min || byte > max) return { firstInvalid: i + k, complete: false };
    }
    i += length;
  }
  return { firstInvalid: -1, complete: true };
}

/** True when the bytes are one complete valid UTF-8 string. */
export function isValidUtf8Oracle(bytes: Uint8Array): boolean {
  return judgeUtf8(bytes).complete;
}

/**
 * Gives the index of the piece (frame) at which a fail-fast receiver must reject a text
 * message cut into `pieces`: the first piece that holds an invalid byte, or the last piece
 * when the message is only invalid for ending inside a code point; -1 for a valid message.
 */
export function failingPiece(pieces: readonly Uint8Array[]): number {
  const all = Buffer.concat(pieces);
  const verdict = judgeUtf8(all);
  if (verdict.complete) return -1;
  if (verdict.firstInvalid === -1) return pieces.length - 1;
  let end = 0;
  for (let p = 0; p < pieces.length; p++) {
    end += pieces[p]!.length;
    if (verdict.firstInvalid < end) return p;
  }
  return pieces.length - 1;
}
