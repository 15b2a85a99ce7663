import { frameHeaderSize, writeHeaderBytes } from '../protocol/frame-encoder.js';
import { MessageFramer } from '../protocol/message-framer.js';
import { Opcode } from '../protocol/opcodes.js';

/**
 * One message framed once for many connections (a broadcast): the unmasked frames, as
 * bytes, for each fragmentation threshold in use, shared by reference by every server-side
 * connection that sends it uncompressed. A client's frames must each be masked with a key
 * of their own (RFC 6455 §5.3), and a compressed connection's frames depend on its own
 * compression context: those frame the message themselves.
 *
 * @see RFC 6455 §5.2, §5.4
 */
export class PreparedMessage {
  readonly binary: boolean;
  readonly payload: Buffer;
  #bytes: Buffer | undefined;
  #threshold = 0;
  #others: Map<number, Buffer> | undefined;

  constructor(payload: Buffer, binary: boolean) {
    this.payload = payload;
    this.binary = binary;
  }

  /** The message's frames, unmasked, cut at `threshold`, as one buffer. */
  bytes(threshold: number): Buffer {
    if (this.#bytes !== undefined && this.#threshold === threshold) return this.#bytes;
    const cached = this.#others?.get(threshold);
    if (cached !== undefined) return cached;
    const bytes = encodeUnmasked(
      this.payload,
      this.binary ? Opcode.Binary : Opcode.Text,
      threshold,
    );
    if (this.#bytes === undefined) {
      this.#bytes = bytes;
      this.#threshold = threshold;
    } else {
      this.#others ??= new Map();
      this.#others.set(threshold, bytes);
    }
    return bytes;
  }
}

/** Encodes a message's frames, unmasked, back to back into one buffer. */
function encodeUnmasked(payload: Buffer, opcode: number, threshold: number): Buffer {
  const frames = new MessageFramer(opcode as typeof Opcode.Text, threshold).frames(payload, true);
  let size = 0;
  for (const frame of frames)
    size += frameHeaderSize(frame.payload.length, false) + frame.payload.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const frame of frames) {
    const b0 = (frame.fin ? 0x80 : 0) | frame.opcode;
    at = writeHeaderBytes(out, at, b0, frame.payload.length, false);
    at += frame.payload.copy(out, at);
  }
  return out;
}
