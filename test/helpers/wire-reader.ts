/**
 * A deliberately plain frame reader for the raw peers of the conformance suite, sharing no
 * code with lib/protocol: it reads whatever header it is given and reports every frame as
 * sent, masked or not, so that the peer can judge our implementation's output strictly
 * (masking by role, RSV bits, control frame rules) instead of trusting our own decoder.
 *
 * @see RFC 6455 §5.2
 */

/** One frame as it was on the wire. */
export interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** The payload, unmasked. */
  payload: Buffer;
  /** The masking key (undefined when not masked). */
  maskKey: Buffer | undefined;
  /** The 7-bit length field: 126 and 127 announce the 16- and 64-bit forms. */
  length7: number;
}

/** Accumulates bytes and hands out complete frames. */
export class WireReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Set when a header announces more than can be held (the peer's own safety net). */
  oversized = false;
  readonly #maxPayload: number;

  constructor(maxPayload = 256 * 1024 * 1024) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes received and not yet part of a complete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds bytes and returns the frames they complete. */
  push(chunk: Buffer): WireFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: WireFrame[] = [];
    for (;;) {
      const frame = this.#next();
      if (frame === undefined) return out;
      out.push(frame);
    }
  }

  #next(): WireFrame | undefined {
    if (this.#buffered < 2 || this.oversized) return undefined;
    const head = this.#peek(Math.min(this.#buffered, 14));
    const b0 = head[0]!;
    const b1 = head[1]!;
    const length7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const headerLength = 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (head.length < headerLength) return undefined;
    let length = length7;
    if (length7 === 126) length = head.readUInt16BE(2);
    else if (length7 === 127) {
      const big = head.readBigUInt64BE(2);
      if (big > BigInt(this.#maxPayload)) {
        this.oversized = true;
        return undefined;
      }
      length = Number(big);
    }
    if (length > this.#maxPayload) {
      this.oversized = true;
      return undefined;
    }
    if (this.#buffered < headerLength + length) return undefined;
    const all = this.#take(headerLength + length);
    const keyAt = headerLength - 4;
    const payload = Buffer.from(all.subarray(headerLength));
    const maskKey = masked ? Buffer.from(all.subarray(keyAt, keyAt + 4)) : undefined;
    if (masked) {
      const key = all.subarray(keyAt, keyAt + 4);
      for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
    }
    return {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      maskKey,
      opcode: b0 & 0x0f,
      masked,
      payload,
      length7,
    };
  }

  /** Copies the first `n` buffered bytes without consuming them. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.#chunks, this.#buffered).subarray(0, n);
  }

  /** Consumes `n` bytes and returns them in one buffer. */
  #take(n: number): Buffer {
    const joined =
      this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    const taken = joined.subarray(0, n);
    const rest = joined.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}
