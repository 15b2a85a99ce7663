import { isUtf8 } from 'node:buffer';

/**
 * Below this many bytes a piece is checked in JavaScript: a call into the native `isUtf8`
 * (plus the view it needs) costs more than a short loop.
 */
const SMALL_PIECE = 16;

/**
 * Incremental UTF-8 validator (RFC 3629; RFC 6455 §8.1): bytes may arrive in any pieces, a
 * code point may be split across frames and chunks. Overlongs, surrogates (U+D800-DFFF) and
 * code points above U+10FFFF are invalid; noncharacters such as U+FFFE are valid.
 *
 * The state between pieces is the number of continuation bytes still needed and the range
 * the next one must fall in. That range is what makes the check fail fast: after 0xED only
 * 0x80-0x9F can follow (0xA0 and up would start a surrogate), after 0xE0 only 0xA0-0xBF
 * (below would be overlong), after 0xF0 only 0x90-0xBF, after 0xF4 only 0x80-0x8F (above
 * would exceed U+10FFFF). So every byte accepted is still a prefix of valid UTF-8, and the
 * first byte that cannot be is rejected in the piece that carries it.
 *
 * @see RFC 3629 §4 (the byte-sequence syntax), RFC 6455 §8.1
 * @example
 * const v = new Utf8Validator();
 * v.write(Buffer.from([0xce, 0xba, 0xe1])); // true: 'κ' and the first byte of 'ὸ'
 * v.write(Buffer.from([0xbd, 0xb9]));       // true
 * v.end();                                  // true: ends on a code point boundary
 */
export class Utf8Validator {
  /** Continuation bytes still needed to finish the current code point (0 at a boundary). */
  #need = 0;
  /** Smallest byte allowed next while `#need > 0`. */
  #lo = 0x80;
  /** Largest byte allowed next while `#need > 0`. */
  #hi = 0xbf;
  #invalid = false;

  /**
   * Feeds bytes; returns false at the first invalid byte (and stays invalid until reset). It
   * fails fast: when a piece holds a byte after which no continuation could make the input
   * valid, this call returns false, without waiting for more bytes.
   *
   * @see RFC 6455 §8.1 (fail the connection as soon as invalid UTF-8 is seen)
   */
  write(chunk: Uint8Array): boolean {
    if (this.#invalid) return false;
    const start = this.#need === 0 ? 0 : this.#finishSequence(chunk);
    if (start < 0) return this.#fail();
    if (start === chunk.length) return true;
    return this.#writeFromBoundary(chunk, start) || this.#fail();
  }

  /** Tells whether everything fed so far is valid and ends on a code point boundary. */
  end(): boolean {
    return !this.#invalid && this.#need === 0;
  }

  /** True while no invalid byte has been seen (an incomplete trailing sequence still counts). */
  get valid(): boolean {
    return !this.#invalid;
  }

  /** Forgets all state, so the validator can check the next message. */
  reset(): void {
    this.#need = 0;
    this.#lo = 0x80;
    this.#hi = 0xbf;
    this.#invalid = false;
  }

  #fail(): false {
    this.#invalid = true;
    return false;
  }

  /**
   * Runs the byte-wise check over the continuation bytes that finish a code point begun in
   * an earlier piece. Returns the index of the first byte after it, or -1 on an invalid byte.
   */
  #finishSequence(chunk: Uint8Array): number {
    const end = Math.min(chunk.length, this.#need);
    for (let i = 0; i < end; i++) {
      if (!this.#step(chunk[i]!)) return -1;
    }
    return end;
  }

  /**
   * Checks `chunk[start..]`, which begins on a code point boundary: the part made of whole
   * code points natively, then the incomplete sequence at the end (at most 3 bytes) byte by
   * byte, keeping its state for the next piece.
   */
  #writeFromBoundary(chunk: Uint8Array, start: number): boolean {
    const length = chunk.length;
    if (length - start < SMALL_PIECE) return this.#stepRange(chunk, start, length);
    const tail = incompleteTailStart(chunk, start);
    if (tail === length) return isUtf8(start === 0 ? chunk : view(chunk, start, length));
    if (!isUtf8(view(chunk, start, tail))) return false;
    return this.#stepRange(chunk, tail, length);
  }

  /** Runs the byte-wise check over `chunk[from..to)`, skipping ASCII quickly. */
  #stepRange(chunk: Uint8Array, from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const byte = chunk[i]!;
      if (byte < 0x80 && this.#need === 0) continue;
      if (!this.#step(byte)) return false;
    }
    return true;
  }

  /**
   * Advances by one byte. Returns false when the byte cannot continue a valid sequence.
   *
   * @see RFC 3629 §4 (UTF8-2, UTF8-3, UTF8-4 and their second-byte ranges)
   */
  #step(byte: number): boolean {
    if (this.#need > 0) {
      if (byte < this.#lo || byte > this.#hi) return false;
      this.#need--;
      this.#lo = 0x80;
      this.#hi = 0xbf;
      return true;
    }
    if (byte < 0x80) return true;
    if (byte < 0xc2) return false; // a continuation byte, or an overlong 2-byte lead
    if (byte < 0xe0) {
      this.#need = 1;
    } else if (byte < 0xf0) {
      this.#need = 2;
      if (byte === 0xe0) this.#lo = 0xa0;
      else if (byte === 0xed) this.#hi = 0x9f;
    } else if (byte < 0xf5) {
      this.#need = 3;
      if (byte === 0xf0) this.#lo = 0x90;
      else if (byte === 0xf4) this.#hi = 0x8f;
    } else {
      return false;
    }
    return true;
  }
}

/**
 * Finds where the sequence left incomplete at the end of `chunk[start..]` begins, or returns
 * `chunk.length` when the piece ends on a boundary (as far as can be told without decoding:
 * whatever is wrong elsewhere, `isUtf8` reports). An incomplete sequence is at most a lead
 * and two continuation bytes, so only the last three bytes are looked at.
 */
function incompleteTailStart(chunk: Uint8Array, start: number): number {
  const length = chunk.length;
  const floor = Math.max(start, length - 3);
  for (let i = length - 1; i >= floor; i--) {
    const byte = chunk[i]!;
    if (byte < 0x80) return length;
    if (byte < 0xc0) continue;
    return i + sequenceLength(byte) > length ? i : length;
  }
  return length;
}

/** Gives the length of the sequence a lead byte announces; invalid leads count as 4 so that
 * they land in the byte-wise tail check, which rejects them. */
function sequenceLength(lead: number): number {
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return 4;
}

/** Makes a plain view of `chunk[from..to)`, cheaper than `Buffer#subarray`. */
function view(chunk: Uint8Array, from: number, to: number): Uint8Array {
  return new Uint8Array(chunk.buffer, chunk.byteOffset + from, to - from);
}

/**
 * Validates a whole buffer, such as an unfragmented text message or a close reason.
 *
 * @see RFC 6455 §8.1
 */
export function isValidUtf8(buffer: Uint8Array): boolean {
  if (buffer.length < SMALL_PIECE) {
    // Short text is mostly ASCII: a loop is cheaper than the native call and its view.
    for (let i = 0; i < buffer.length; i++) if (buffer[i]! >= 0x80) return isUtf8(buffer);
    return true;
  }
  return isUtf8(buffer);
}
