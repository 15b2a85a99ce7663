import { MAX_CONTROL_PAYLOAD } from './close-codes.js';
import { ErrorCode, InvalidArgumentError, ProtocolError } from './errors.js';
import type { Frame, FrameHeader, Role } from './frame.js';
import { mask, xorInPlace } from './mask.js';
import type { Opcode } from './opcodes.js';

/**
 * An incremental, sans-I/O frame decoder: bytes go in with `push`, events come out with
 * `next`. It decodes frames only; fragment order (a continuation without a start, a new
 * message inside a fragmented one) is the message assembler's business.
 *
 * Decisions that the rest of the library relies on:
 * - Non-minimal length encodings (e.g. the 16-bit form for a length below 126) are ACCEPTED
 *   for data frames, as ws and python-websockets do. RFC 6455 §5.2 says the minimal form
 *   MUST be used but prescribes no reaction, and refusing buys no safety.
 * - Control frames must use the 7-bit length form: a control frame whose 7-bit length field
 *   is 126 or 127 fails with ControlFrameTooLong (1002) straight after the first two bytes,
 *   whatever the extended length says (§5.5: control payloads are at most 125 bytes, and
 *   the minimal encoding of those is the 7-bit form).
 * - `allowedRsv` applies to Text and Binary frames only. A Continuation or control frame
 *   with any RSV bit set fails with ReservedBits (1002): permessage-deflate sets RSV1 on the
 *   first frame of a message only and never on control frames (RFC 7692 §6.1, §6).
 * - `maxFrameSize` applies to data frames (opcodes 0-2); control frames are bounded at 125
 *   bytes by §5.5 already. It is checked as soon as the length is read, before any of the
 *   payload is buffered.
 * - A 64-bit length with the most significant bit set fails with InvalidLength, 1002
 *   (§5.2: "the most significant bit MUST be 0"); one above 2^53-1 with FrameTooLarge, 1009
 *   (it cannot be represented exactly, and no such frame could be received anyway).
 * - Checks run in this order, each as soon as the bytes it needs have arrived: opcode,
 *   RSV bits, control fin, control length, mask bit, 64-bit length, maxFrameSize.
 *
 * @see RFC 6455 §5.2 (base framing), §5.5 (control frames), RFC 7692 §6 (RSV1)
 */

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Our end of the connection. `'server'`: every frame must be masked (else MaskRequired,
   * 1002); `'client'`: no frame may be masked (else UnexpectedMask, 1002).
   * @see RFC 6455 §5.1
   */
  role: Role;
  /**
   * Largest data-frame payload accepted, in bytes; above it the decoder fails with
   * FrameTooLarge (1009) as soon as the header is read. Default `Number.MAX_SAFE_INTEGER`.
   */
  maxFrameSize?: number;
  /** The option that set `maxFrameSize`, named in the error so the user knows what to change. Default 'maxFrameSize'. */
  maxFrameSizeOption?: string;
  /**
   * Bitmask of `Rsv.Rsv1 | Rsv.Rsv2 | Rsv.Rsv3` that negotiated extensions claimed; applies
   * to Text and Binary frames only (see the module note). Default 0.
   */
  allowedRsv?: number;
  /**
   * Data frames (opcodes 0-2) with a payload longer than this are handed out in pieces
   * (`frame-start`, `frame-data`..., `frame-end`) as the bytes arrive; others as whole
   * frames. Control frames are always whole. Default `Infinity` (always whole).
   */
  streamingThreshold?: number;
  /**
   * Also hand out in pieces every data frame whose payload has not fully arrived when its
   * header is read, whatever its length. A receiver can then check the bytes (UTF-8, size)
   * as they come instead of at the end of the frame, and gather them straight into the
   * message without a second copy. Frames that arrived whole are still handed out whole,
   * as views of the input. Default false.
   */
  streamIncomplete?: boolean;
}

/** What {@link FrameDecoder.next} hands out. */
export type DecoderEvent =
  | { kind: 'frame'; frame: Frame }
  | { kind: 'frame-start'; header: FrameHeader }
  | { kind: 'frame-data'; data: Buffer }
  | { kind: 'frame-end' };

/** A constructor of Buffer views without the species lookup of `subarray` (about 1.5x faster). */
type BufferViewConstructor = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => Buffer;
const FastBuffer = (Buffer as unknown as { [Symbol.species]: BufferViewConstructor })[
  Symbol.species
];

const EMPTY: Buffer = Buffer.alloc(0);
/**
 * Scratch for a header split across chunks, and the key bytes of an unmasking copy: shared by
 * every decoder, since each use is synchronous and ends before the call returns. (Two typed
 * arrays per decoder cost ~350 bytes of heap on each idle connection.)
 */
const scratch = Buffer.alloc(14);
const keyBytes = new Uint8Array(4);
const RSV_BITS = 0x70;
const TWO_POW_32 = 0x1_0000_0000;
/** High 32-bit half of 2^53-1. */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** Waiting for (the rest of) a frame header. */
const STATE_HEADER = 0;
/** Header read; waiting for the whole payload of a frame handed out whole. */
const STATE_PAYLOAD = 1;
/** Header read; handing out the payload of a streamed frame piece by piece. */
const STATE_STREAM = 2;

/**
 * Decodes WebSocket frames from a byte stream, incrementally and without I/O.
 *
 * Pushed chunks become the decoder's: payloads that lie within one chunk are unmasked in
 * place and handed out as views of it (no copy); a whole-frame payload spread over several
 * chunks is copied once into a buffer of its exact size; streamed pieces are always views.
 *
 * @see RFC 6455 §5.2
 * @example
 * const decoder = new FrameDecoder({ role: 'client' });
 * decoder.push(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
 * decoder.next(); // { kind: 'frame', frame: { fin: true, opcode: 1, payload: <'Hello'>, ... } }
 * decoder.next(); // null: more bytes needed
 */
export class FrameDecoder {
  readonly #requireMask: boolean;
  readonly #maxFrameSize: number;
  readonly #maxFrameSizeOption: string;
  readonly #streamingThreshold: number;
  readonly #streamIncomplete: boolean;
  #allowedRsv: number;

  /** The chunk being read; EMPTY when nothing is buffered. Invariant: #pos < length, or the queue is empty. */
  #cur: Buffer = EMPTY;
  #pos = 0;
  /** Chunks pushed after #cur, oldest first, from #queueHead on. */
  #queue: Buffer[] = [];
  #queueHead = 0;
  #buffered = 0;

  #state = STATE_HEADER;
  #error: ProtocolError | undefined;

  // The frame being decoded.
  #b0 = 0;
  #length = 0;
  #masked = false;
  #k0 = 0;
  #k1 = 0;
  #k2 = 0;
  #k3 = 0;
  /** Payload bytes of a streamed frame handed out so far (for the key phase). */
  #delivered = 0;

  /**
   * Creates a decoder.
   *
   * @throws InvalidArgumentError for an unknown role or an option out of range.
   */
  constructor(options: FrameDecoderOptions) {
    const { role, maxFrameSize = Number.MAX_SAFE_INTEGER, allowedRsv = 0 } = options;
    const { streamingThreshold = Number.POSITIVE_INFINITY } = options;
    if (role !== 'server' && role !== 'client') {
      throw new InvalidArgumentError(`role must be 'server' or 'client', got ${String(role)}`);
    }
    if (!(maxFrameSize >= 0)) {
      throw new InvalidArgumentError(`maxFrameSize must be >= 0, got ${maxFrameSize}`);
    }
    if (!(streamingThreshold >= 0)) {
      throw new InvalidArgumentError(`streamingThreshold must be >= 0, got ${streamingThreshold}`);
    }
    checkRsv(allowedRsv);
    this.#requireMask = role === 'server';
    this.#maxFrameSize = maxFrameSize;
    this.#maxFrameSizeOption = options.maxFrameSizeOption ?? 'maxFrameSize';
    this.#streamingThreshold = streamingThreshold;
    this.#streamIncomplete = options.streamIncomplete ?? false;
    this.#allowedRsv = allowedRsv;
  }

  /**
   * Appends bytes. The decoder takes ownership of `chunk`: it may unmask it in place and
   * hand out views of it, so the caller must not reuse it.
   *
   * @throws the decoder's ProtocolError if it has failed before.
   */
  push(chunk: Buffer): void {
    if (this.#error !== undefined) throw this.#error;
    if (chunk.length === 0) return;
    this.#buffered += chunk.length;
    if (this.#pos === this.#cur.length) {
      this.#cur = chunk;
      this.#pos = 0;
    } else {
      this.#queue.push(chunk);
    }
  }

  /**
   * Returns the next event, or null when more bytes are needed. Call it until it returns
   * null after each push: one chunk may hold many frames.
   *
   * @throws ProtocolError on a protocol violation; the decoder is dead after it, and every
   *   later `push`, `next` or `setAllowedRsv` throws the same error.
   */
  next(): DecoderEvent | null {
    if (this.#error !== undefined) throw this.#error;
    if (this.#state === STATE_HEADER) {
      if (!this.#readHeader()) return null;
      if (
        (this.#b0 & 0x8) !== 0 ||
        (this.#length <= this.#streamingThreshold &&
          (!this.#streamIncomplete || this.#buffered >= this.#length))
      ) {
        this.#state = STATE_PAYLOAD;
      } else {
        this.#state = STATE_STREAM;
        this.#delivered = 0;
        return { kind: 'frame-start', header: this.#header() };
      }
    }
    if (this.#state === STATE_PAYLOAD) return this.#wholeFrame();
    return this.#streamPiece();
  }

  /** Bytes pushed and not yet consumed (header bytes count as consumed once parsed). */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Changes which RSV bits Text and Binary frames may carry: extensions are negotiated
   * after the decoder exists in some flows. Applies from the next frame header on.
   *
   * @throws InvalidArgumentError for bits outside Rsv1|Rsv2|Rsv3; the decoder's
   *   ProtocolError if it has failed before.
   */
  setAllowedRsv(bits: number): void {
    if (this.#error !== undefined) throw this.#error;
    checkRsv(bits);
    this.#allowedRsv = bits;
  }

  /**
   * Reads, checks and consumes one frame header if it has fully arrived; returns false when
   * more bytes are needed. Checks what the first two bytes decide before waiting for more.
   */
  #readHeader(): boolean {
    const cur = this.#cur;
    const pos = this.#pos;
    const avail = cur.length - pos;
    let b0: number;
    let b1: number;
    if (avail >= 2) {
      b0 = cur[pos]!;
      b1 = cur[pos + 1]!;
    } else {
      if (this.#buffered < 2) return false;
      this.#peek(2);
      b0 = scratch[0]!;
      b1 = scratch[1]!;
    }
    this.#checkFirstBytes(b0, b1);
    const len7 = b1 & 0x7f;
    const masked = b1 >= 0x80;
    const size = (len7 < 126 ? 2 : len7 === 126 ? 4 : 10) + (masked ? 4 : 0);
    if (avail >= size) {
      this.#parseHeader(cur, pos, b0, len7, masked);
      this.#pos = pos + size;
      this.#buffered -= size;
      if (this.#pos === cur.length) this.#nextChunk();
      return true;
    }
    if (this.#buffered < size) return false;
    this.#peek(size);
    this.#parseHeader(scratch, 0, b0, len7, masked);
    this.#skip(size);
    return true;
  }

  /**
   * Applies the rules that the first two header bytes decide.
   *
   * @see RFC 6455 §5.1 (masking by role), §5.2 (opcodes, RSV), §5.4-§5.5 (control frames)
   */
  #checkFirstBytes(b0: number, b1: number): void {
    const opcode = b0 & 0x0f;
    if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa) {
      throw this.#fail(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`);
    }
    const rsv = b0 & RSV_BITS;
    if (rsv !== 0) {
      // Extensions may claim RSV bits on Text and Binary frames only (see the module note).
      const where =
        opcode === 0x0 ? 'a continuation frame' : opcode >= 0x8 ? 'a control frame' : '';
      if (where !== '' || (rsv & ~this.#allowedRsv) !== 0) {
        throw this.#fail(
          ErrorCode.ReservedBits,
          where !== ''
            ? `RSV bits 0x${rsv.toString(16)} set on ${where}`
            : `RSV bits 0x${rsv.toString(16)} set without a negotiated extension claiming them`,
        );
      }
    }
    if (opcode >= 0x8) {
      if (b0 < 0x80) {
        throw this.#fail(
          ErrorCode.FragmentedControlFrame,
          `control frame (opcode ${opcode}) without fin`,
        );
      }
      if ((b1 & 0x7f) > MAX_CONTROL_PAYLOAD) {
        throw this.#fail(
          ErrorCode.ControlFrameTooLong,
          `control frame (opcode ${opcode}) longer than 125 bytes`,
        );
      }
    }
    const masked = b1 >= 0x80;
    if (masked !== this.#requireMask) {
      throw masked
        ? this.#fail(ErrorCode.UnexpectedMask, 'masked frame from a server')
        : this.#fail(ErrorCode.MaskRequired, 'unmasked frame from a client');
    }
  }

  /** Reads the payload length and masking key from a complete header at `src[p]`. */
  #parseHeader(src: Buffer, p: number, b0: number, len7: number, masked: boolean): void {
    let length = len7;
    let q = p + 2;
    if (len7 === 126) {
      length = (src[q]! << 8) | src[q + 1]!;
      q += 2;
    } else if (len7 === 127) {
      length = this.#read64(src, q);
      q += 8;
    }
    if (length > this.#maxFrameSize && (b0 & 0x8) === 0) {
      throw this.#fail(
        ErrorCode.FrameTooLarge,
        `Frame payload of ${length} bytes exceeds ${this.#maxFrameSizeOption} (${this.#maxFrameSize} bytes)`,
      );
    }
    this.#b0 = b0;
    this.#length = length;
    this.#masked = masked;
    if (masked) {
      this.#k0 = src[q]!;
      this.#k1 = src[q + 1]!;
      this.#k2 = src[q + 2]!;
      this.#k3 = src[q + 3]!;
    }
  }

  /**
   * Reads a 64-bit big-endian length, refusing the MSB (1002) and values above 2^53-1 (1009).
   *
   * @see RFC 6455 §5.2 (payload length)
   */
  #read64(src: Buffer, q: number): number {
    const high = ((src[q]! << 24) | (src[q + 1]! << 16) | (src[q + 2]! << 8) | src[q + 3]!) >>> 0;
    const low =
      ((src[q + 4]! << 24) | (src[q + 5]! << 16) | (src[q + 6]! << 8) | src[q + 7]!) >>> 0;
    if (high >= 0x8000_0000) {
      throw this.#fail(
        ErrorCode.InvalidLength,
        '64-bit payload length with the most significant bit set',
      );
    }
    if (high > MAX_SAFE_HIGH) {
      throw this.#fail(ErrorCode.FrameTooLarge, 'payload length above 2^53-1');
    }
    return high * TWO_POW_32 + low;
  }

  /** Hands out a whole frame once its payload has arrived, or returns null. */
  #wholeFrame(): DecoderEvent | null {
    const length = this.#length;
    if (this.#buffered < length) return null;
    const cur = this.#cur;
    const pos = this.#pos;
    let payload: Buffer;
    if (cur.length - pos >= length) {
      if (this.#masked) xorInPlace(cur, pos, pos + length, this.#k0, this.#k1, this.#k2, this.#k3);
      payload = new FastBuffer(cur.buffer, cur.byteOffset + pos, length);
      this.#pos = pos + length;
      this.#buffered -= length;
      if (this.#pos === cur.length) this.#nextChunk();
    } else if (this.#masked) {
      payload = this.#takeUnmasked(length);
    } else {
      payload = Buffer.allocUnsafe(length);
      this.#take(payload);
    }
    this.#state = STATE_HEADER;
    const b0 = this.#b0;
    const frame: Frame = {
      fin: b0 >= 0x80,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: (b0 & 0x0f) as Opcode,
      payload,
    };
    return { kind: 'frame', frame };
  }

  /** Hands out the next piece of a streamed frame as a view of the chunk it arrived in. */
  #streamPiece(): DecoderEvent | null {
    const remaining = this.#length - this.#delivered;
    if (remaining === 0) {
      this.#state = STATE_HEADER;
      return { kind: 'frame-end' };
    }
    const cur = this.#cur;
    const pos = this.#pos;
    const n = Math.min(remaining, cur.length - pos);
    if (n === 0) return null;
    if (this.#masked) this.#unmaskAtPhase(cur, pos, pos + n, this.#delivered & 3);
    this.#delivered += n;
    this.#pos = pos + n;
    this.#buffered -= n;
    if (this.#pos === cur.length) this.#nextChunk();
    return { kind: 'frame-data', data: new FastBuffer(cur.buffer, cur.byteOffset + pos, n) };
  }

  /** Unmasks `buf[start..end)` whose first byte is at payload position ≡ `phase` (mod 4). */
  #unmaskAtPhase(buf: Buffer, start: number, end: number, phase: number): void {
    const k0 = this.#k0;
    const k1 = this.#k1;
    const k2 = this.#k2;
    const k3 = this.#k3;
    if (phase === 0) xorInPlace(buf, start, end, k0, k1, k2, k3);
    else if (phase === 1) xorInPlace(buf, start, end, k1, k2, k3, k0);
    else if (phase === 2) xorInPlace(buf, start, end, k2, k3, k0, k1);
    else xorInPlace(buf, start, end, k3, k0, k1, k2);
  }

  /** Builds the header handed out with `frame-start`. */
  #header(): FrameHeader {
    const b0 = this.#b0;
    return {
      fin: b0 >= 0x80,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: (b0 & 0x0f) as Opcode,
      payloadLength: this.#length,
      maskKey: this.#masked ? Buffer.from([this.#k0, this.#k1, this.#k2, this.#k3]) : undefined,
    };
  }

  /** Makes the next queued chunk current, or EMPTY when none is left. */
  #nextChunk(): void {
    this.#pos = 0;
    const queue = this.#queue;
    if (this.#queueHead === queue.length) {
      this.#cur = EMPTY;
      return;
    }
    this.#cur = queue[this.#queueHead]!;
    queue[this.#queueHead] = EMPTY;
    this.#queueHead++;
    if (this.#queueHead === queue.length) {
      queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead >= 1024 && this.#queueHead * 2 >= queue.length) {
      // A consumer that stays a chunk behind never empties the queue: drop the used slots
      // (amortised O(1) per chunk) so that the array does not grow for ever.
      queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /** Copies the next `n` buffered bytes (n <= 14, n <= buffered) into #scratch without consuming them. */
  #peek(n: number): void {
    let cur = this.#cur;
    let pos = this.#pos;
    let qi = this.#queueHead;
    let copied = 0;
    while (copied < n) {
      if (pos === cur.length) {
        cur = this.#queue[qi++]!;
        pos = 0;
      }
      const k = Math.min(n - copied, cur.length - pos);
      cur.copy(scratch, copied, pos, pos + k);
      copied += k;
      pos += k;
    }
  }

  /** Consumes `n` buffered bytes (n <= buffered). */
  #skip(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const k = Math.min(n, this.#cur.length - this.#pos);
      this.#pos += k;
      n -= k;
      if (this.#pos === this.#cur.length) this.#nextChunk();
    }
  }

  /**
   * Consumes the next `length` buffered bytes (spread over several chunks) and returns them
   * unmasked in a new buffer, XORing while copying (one pass instead of copy-then-XOR).
   *
   * The word loop needs source and target at the same address modulo 8. The target is
   * placed so that the second piece, a whole chunk, lines up; later chunks then line up as
   * well when chunk lengths are multiples of 8, as socket reads of bulk data are. Pieces
   * that do not line up are copied and then XORed.
   */
  #takeUnmasked(length: number): Buffer {
    const first = this.#cur.length - this.#pos;
    const second = this.#queue[this.#queueHead]!;
    const raw = Buffer.allocUnsafe(length + 7);
    const shift = (second.byteOffset - raw.byteOffset - first) & 7;
    const target = new FastBuffer(raw.buffer, raw.byteOffset + shift, length);
    const key = keyBytes;
    key[0] = this.#k0;
    key[1] = this.#k1;
    key[2] = this.#k2;
    key[3] = this.#k3;
    this.#buffered -= length;
    let copied = 0;
    while (copied < length) {
      const cur = this.#cur;
      const pos = this.#pos;
      const k = Math.min(length - copied, cur.length - pos);
      mask(new FastBuffer(cur.buffer, cur.byteOffset + pos, k), key, target, copied, copied);
      copied += k;
      this.#pos = pos + k;
      if (this.#pos === cur.length) this.#nextChunk();
    }
    return target;
  }

  /** Fills `target` with the next `target.length` buffered bytes and consumes them. */
  #take(target: Buffer): void {
    const n = target.length;
    this.#buffered -= n;
    let copied = 0;
    while (copied < n) {
      const cur = this.#cur;
      const pos = this.#pos;
      const k = Math.min(n - copied, cur.length - pos);
      target.set(new Uint8Array(cur.buffer, cur.byteOffset + pos, k), copied);
      copied += k;
      this.#pos = pos + k;
      if (this.#pos === cur.length) this.#nextChunk();
    }
  }

  /** Records the decoder's fatal error and returns it, for the caller to throw. */
  #fail(code: ErrorCode, message: string): ProtocolError {
    this.#error = new ProtocolError(code, message);
    return this.#error;
  }
}

/** Throws InvalidArgumentError unless `bits` is a combination of Rsv1, Rsv2 and Rsv3. */
function checkRsv(bits: number): void {
  if (!Number.isInteger(bits) || (bits & ~RSV_BITS) !== 0) {
    throw new InvalidArgumentError(
      `allowedRsv must be a combination of Rsv1|Rsv2|Rsv3, got ${bits}`,
    );
  }
}
