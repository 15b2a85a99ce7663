/**
 * Gathers the fragments of one message so that what it holds stays within a small factor
 * of its payload, whatever the fragmentation: large pieces are kept by reference (no copy)
 * as long as the buffers they pin stay within {@link MessageBuffer.PIN_FACTOR} times the
 * payload (a 1 KiB fragment must not pin the 64 KiB socket read it came in, but the four
 * 16 KiB fragments of one read share it, and pin nothing more than their own bytes);
 * others are copied out. Small pieces are copied into a shared block, so that a
 * flood of tiny fragments costs its bytes and not an object each. Limits can then be
 * checked against the payload alone, the same whether a message is assembled or streamed:
 * limits bound memory, not legitimate traffic (4 MiB in 65,536 fragments of 64 bytes is a
 * legal message and passes).
 *
 * When the message's length is known in advance (one frame whose header announced it, but
 * whose payload arrives in several reads), `reserve()` makes the buffer gather straight into
 * one buffer of that exact size: one copy, no pieces, nothing to join.
 *
 * @see RFC 6455 §10.4 (implementation-specific limits)
 */
export class MessageBuffer {
  static readonly BLOCK_SIZE = 16 * 1024;
  static readonly SMALL_PIECE = 1024;
  /** Memory accounted for each piece kept by reference (a Buffer view and its array slot). */
  static readonly PIECE_OVERHEAD = 64;
  /** The most the buffers that pieces are views of may take, as a multiple of the payload. */
  static readonly PIN_FACTOR = 4;

  #pieces: Buffer[] = [];
  #block: Buffer | undefined;
  #blockUsed = 0;
  #length = 0;
  /** Bytes of the buffers pinned by pieces kept by reference (each counted once in a row). */
  #pinned = 0;
  /** The buffer the last piece kept by reference is a view of. */
  #lastBacking: ArrayBufferLike | undefined;
  /** The whole message's buffer, when its length was announced (see reserve). */
  #exact: Buffer | undefined;

  /** Payload bytes gathered so far. */
  get length(): number {
    return this.#length;
  }

  /** Bytes of memory held, counting a fixed overhead for each piece kept. */
  get heldBytes(): number {
    return this.#length + this.#pieces.length * MessageBuffer.PIECE_OVERHEAD;
  }

  /**
   * Announces that the message, still empty, will be exactly `length` bytes: the pieces are
   * then copied into one buffer of that size. The caller must have checked `length` against
   * its limit, and appends no more than that.
   */
  reserve(length: number): void {
    if (this.#length === 0 && length > 0) this.#exact = Buffer.allocUnsafe(length);
  }

  /** Adds a piece of payload. The piece must not be modified afterwards by the caller. */
  append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.#exact !== undefined) {
      piece.copy(this.#exact, this.#length);
      this.#length += piece.length;
      return;
    }
    this.#length += piece.length;
    if (piece.length >= MessageBuffer.SMALL_PIECE) {
      this.#sealBlock();
      this.#pieces.push(this.#mayPin(piece) ? piece : copyOf(piece));
      return;
    }
    if (this.#block === undefined || this.#blockUsed + piece.length > this.#block.length) {
      this.#sealBlock();
      this.#block = Buffer.allocUnsafe(MessageBuffer.BLOCK_SIZE);
    }
    piece.copy(this.#block, this.#blockUsed);
    this.#blockUsed += piece.length;
  }

  /** Returns the whole payload (a view of the only piece when there is one) and resets. */
  take(): Buffer {
    const exact = this.#exact;
    if (exact !== undefined) {
      this.#exact = undefined;
      const length = this.#length;
      this.#length = 0;
      return length === exact.length ? exact : exact.subarray(0, length);
    }
    this.#sealBlock();
    const pieces = this.#pieces;
    const length = this.#length;
    this.#pieces = [];
    this.#length = 0;
    this.#pinned = 0;
    this.#lastBacking = undefined;
    if (pieces.length === 1) return pieces[0]!;
    if (pieces.length === 0) return Buffer.alloc(0);
    return Buffer.concat(pieces, length);
  }

  /** Drops everything gathered. */
  clear(): void {
    this.#exact = undefined;
    this.#pinned = 0;
    this.#lastBacking = undefined;
    this.#pieces = [];
    this.#block = undefined;
    this.#blockUsed = 0;
    this.#length = 0;
  }

  /**
   * Tells whether `piece` may be kept by reference: a view of the same buffer as the piece
   * before costs nothing more (the consecutive fragments of one socket read); another
   * buffer is pinned only while all pinned buffers stay within PIN_FACTOR times the payload
   * (already counted in #length).
   */
  #mayPin(piece: Buffer): boolean {
    const backing = piece.buffer;
    if (backing === this.#lastBacking) return true;
    const pinned = this.#pinned + backing.byteLength;
    if (pinned > MessageBuffer.PIN_FACTOR * this.#length) return false;
    this.#pinned = pinned;
    this.#lastBacking = backing;
    return true;
  }

  #sealBlock(): void {
    if (this.#block !== undefined && this.#blockUsed > 0) {
      const used = this.#block.subarray(0, this.#blockUsed);
      // A mostly empty block is copied out, so that alternating tiny and large pieces
      // cannot make each tiny one pin a whole block.
      this.#pieces.push(this.#blockUsed < this.#block.length / 2 ? copyOf(used) : used);
    }
    this.#block = undefined;
    this.#blockUsed = 0;
  }
}

/**
 * Copies a view into memory of its own. Not `Buffer.from(view)`, which for large views
 * zero-fills a fresh ArrayBuffer before copying into it (a second pass over every byte).
 */
function copyOf(view: Buffer): Buffer {
  const copy = Buffer.allocUnsafe(view.length);
  view.copy(copy);
  return copy;
}
