import { InvalidArgumentError } from './errors.js';
import type { Frame } from './frame.js';
import { mask, writeMaskKey } from './mask.js';

/**
 * Frame header encoding.
 *
 * @see RFC 6455 §5.2 (base framing protocol)
 */

/** The fields a frame header is written from. `maskKey` (4 bytes) makes the frame masked. */
export interface FrameHeaderFields {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  payloadLength: number;
  maskKey?: Uint8Array | undefined;
}

/** Largest payload that fits the 7-bit length form. */
const MAX_7BIT = 125;
/** Largest payload that fits the 16-bit length form. */
const MAX_16BIT = 0xffff;
/** 2^32, to split a 53-bit length into two 32-bit halves. */
const TWO_POW_32 = 0x1_0000_0000;
/** Payloads at least this long are masked 8 bytes at a time (see mask.ts): worth aligning. */
const ALIGN_THRESHOLD = 128;

/**
 * Gives the size of the header for this payload length and masking: 2, 4 or 10 bytes, plus
 * 4 for the masking key. Uses the shortest length form, as RFC 6455 requires.
 *
 * @see RFC 6455 §5.2 ("the minimal number of bytes MUST be used to encode the length")
 * @example
 * frameHeaderSize(125, false); // 2
 * frameHeaderSize(126, true); // 8
 */
export function frameHeaderSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength <= MAX_7BIT ? 2 : payloadLength <= MAX_16BIT ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Writes the header into `target` at `offset` and returns the offset after it. Validates
 * the fields first, so that a frame the peer would have to fail on is never produced.
 *
 * @throws InvalidArgumentError for a length that is negative, not an integer or above
 *   2^53-1; an opcode outside 0-15; a control opcode (8-15) with `fin` false or a payload
 *   above 125 bytes (RFC 6455 §5.5); a `maskKey` that is not 4 bytes; a `target` too small.
 * @see RFC 6455 §5.2
 * @example
 * const header = Buffer.alloc(2);
 * writeFrameHeader(header, 0, { fin: true, rsv1: false, rsv2: false, rsv3: false,
 *   opcode: 0x1, payloadLength: 5 }); // 81 05
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  fields: FrameHeaderFields,
): number {
  validateFields(fields);
  const size = frameHeaderSize(fields.payloadLength, fields.maskKey !== undefined);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length) {
    throw new InvalidArgumentError(
      `writeFrameHeader: ${size} header bytes do not fit at offset ${offset} of ${target.length}`,
    );
  }
  return writeValidHeader(target, offset, fields);
}

/**
 * Allocates and returns just the header, for a caller that sends the payload separately
 * (e.g. with `writev`, so that an unmasked payload is never copied).
 *
 * @see RFC 6455 §5.2
 * @example
 * encodeFrameHeader({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 0x9,
 *   payloadLength: 0 }); // <Buffer 89 00>
 */
export function encodeFrameHeader(fields: FrameHeaderFields): Buffer {
  validateFields(fields);
  const header = Buffer.allocUnsafe(
    frameHeaderSize(fields.payloadLength, fields.maskKey !== undefined),
  );
  writeValidHeader(header, 0, fields);
  return header;
}

/**
 * Encodes a whole frame. Unmasked, it returns `[header, payload]` without copying the
 * payload, so that the caller can hand both to `writev`. Masked (with `maskKey`), it returns
 * one Buffer holding the header and the masked payload, because masking needs a copy anyway
 * (the frame's payload is never modified: the application may still hold it).
 *
 * @see RFC 6455 §5.2, §5.3
 * @example
 * encodeFrame(createFrame(Opcode.Text, Buffer.from('Hello')));
 * // [<Buffer 81 05>, <Buffer 48 65 6c 6c 6f>]
 * encodeFrame(createFrame(Opcode.Text, Buffer.from('Hello')), Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
 * // [<Buffer 81 85 37 fa 21 3d 7f 9f 4d 51 58>]
 */
export function encodeFrame(frame: Frame, maskKey?: Uint8Array): Buffer[] {
  const payload = frame.payload;
  const fields: FrameHeaderFields = {
    fin: frame.fin,
    rsv1: frame.rsv1,
    rsv2: frame.rsv2,
    rsv3: frame.rsv3,
    opcode: frame.opcode,
    payloadLength: payload.length,
    maskKey,
  };
  if (maskKey === undefined) return [encodeFrameHeader(fields), payload];
  validateFields(fields);
  const headerSize = frameHeaderSize(payload.length, true);
  const total = headerSize + payload.length;
  let out: Buffer;
  if (payload.length < ALIGN_THRESHOLD) {
    out = Buffer.allocUnsafe(total);
  } else {
    // Start the output so that the masked payload shares the source's alignment modulo 8:
    // then mask() runs its fused word loop instead of a copy followed by an in-place XOR.
    const raw = Buffer.allocUnsafe(total + 7);
    const shift = (payload.byteOffset - raw.byteOffset - headerSize) & 7;
    out = raw.subarray(shift, shift + total);
  }
  writeValidHeader(out, 0, fields);
  mask(payload, maskKey, out, headerSize);
  return [out];
}

/**
 * Writes a frame header from its first byte as it goes on the wire (FIN, RSV bits, opcode)
 * and the payload length, with a fresh masking key when `masked`, into a target known to
 * have room; returns the offset where the payload goes. The sender's hot path: its callers
 * build valid frames by construction (a data opcode, or a control frame of at most 125
 * bytes with FIN), so nothing is validated and no fields object is made.
 *
 * @internal Not part of the documented API; `writeFrameHeader` checks its input.
 * @see RFC 6455 §5.2, §5.3
 */
export function writeHeaderBytes(
  target: Uint8Array,
  offset: number,
  b0: number,
  payloadLength: number,
  masked: boolean,
): number {
  target[offset] = b0;
  const maskBit = masked ? 0x80 : 0;
  let p = offset + 2;
  if (payloadLength <= MAX_7BIT) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength <= MAX_16BIT) {
    target[offset + 1] = maskBit | 126;
    target[p] = payloadLength >>> 8;
    target[p + 1] = payloadLength & 0xff;
    p += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    writeUint32BE(target, p, Math.floor(payloadLength / TWO_POW_32));
    writeUint32BE(target, p + 4, payloadLength >>> 0);
    p += 8;
  }
  if (masked) {
    writeMaskKey(target, p);
    p += 4;
  }
  return p;
}

/** Gives the first header byte of a frame: FIN, the RSV bits and the opcode. @see RFC 6455 §5.2 */
export function firstHeaderByte(frame: {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
}): number {
  return (
    (frame.fin ? 0x80 : 0) |
    (frame.rsv1 ? 0x40 : 0) |
    (frame.rsv2 ? 0x20 : 0) |
    (frame.rsv3 ? 0x10 : 0) |
    frame.opcode
  );
}

/** Writes a header from validated fields into a target known to have room; returns the end. */
function writeValidHeader(target: Uint8Array, offset: number, fields: FrameHeaderFields): number {
  const { payloadLength, maskKey } = fields;
  target[offset] = firstHeaderByte(fields);
  const maskBit = maskKey === undefined ? 0 : 0x80;
  let p = offset + 2;
  if (payloadLength <= MAX_7BIT) {
    target[offset + 1] = maskBit | payloadLength;
  } else if (payloadLength <= MAX_16BIT) {
    target[offset + 1] = maskBit | 126;
    target[p] = payloadLength >>> 8;
    target[p + 1] = payloadLength & 0xff;
    p += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    writeUint32BE(target, p, Math.floor(payloadLength / TWO_POW_32));
    writeUint32BE(target, p + 4, payloadLength >>> 0);
    p += 8;
  }
  if (maskKey !== undefined) {
    target[p] = maskKey[0]!;
    target[p + 1] = maskKey[1]!;
    target[p + 2] = maskKey[2]!;
    target[p + 3] = maskKey[3]!;
    p += 4;
  }
  return p;
}

/** Throws InvalidArgumentError for fields that would make an invalid header. */
function validateFields(fields: FrameHeaderFields): void {
  const { opcode, payloadLength, maskKey } = fields;
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15) {
    throw new InvalidArgumentError(`opcode must be an integer 0-15, got ${opcode}`);
  }
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw new InvalidArgumentError(
      `payload length must be an integer 0 to 2^53-1, got ${payloadLength}`,
    );
  }
  if ((opcode & 0x8) !== 0) {
    if (!fields.fin) {
      throw new InvalidArgumentError(`control frame (opcode ${opcode}) must have fin set`);
    }
    if (payloadLength > MAX_7BIT) {
      throw new InvalidArgumentError(
        `control frame (opcode ${opcode}) payload must be at most 125 bytes, got ${payloadLength}`,
      );
    }
  }
  if (maskKey !== undefined && maskKey.length !== 4) {
    throw new InvalidArgumentError(`masking key must be 4 bytes, got ${maskKey.length}`);
  }
}

/** Writes `value` (0 to 2^32-1) big-endian at `p`. */
function writeUint32BE(target: Uint8Array, p: number, value: number): void {
  target[p] = value >>> 24;
  target[p + 1] = (value >>> 16) & 0xff;
  target[p + 2] = (value >>> 8) & 0xff;
  target[p + 3] = value & 0xff;
}
