import { Transform } from 'readable-stream';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { MessageBuffer } from '../protocol/message-buffer.js';
import { MessageSequencer } from '../protocol/message-sequencer.js';
import { isControlOpcode, Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';

/** A whole message: a `string` for text, a `Buffer` for binary. @see RFC 6455 §5.6 */
export type Message = string | Buffer;

/** Options of {@link MessageAssembler}. */
export interface MessageAssemblerOptions {
  /** Largest message accepted, in payload bytes; above it the assembler fails with 1009. Default: 64 MiB. */
  maxMessageSize?: number;
  /** Messages buffered on the readable side before the assembler stops taking frames. Default: 16. */
  highWaterMark?: number;
}

/** Default of `maxMessageSize` for the assembler and the connection. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/**
 * Assembles frames into messages: Frames in, a `string` (text) or `Buffer` (binary) out
 * for each message. Every rule about messages is checked as the frames come: fragment order
 * (1002), UTF-8 of text at the first bad fragment (1007), and the size limit before the
 * bytes are kept (1009).
 *
 * Control frames are passed on, in place, as the {@link Frame} objects they are: a control
 * frame that arrives between two fragments comes out before the message it interrupted.
 * Downstream code that only wants messages can skip objects that are not strings or
 * Buffers.
 *
 * @example
 * ```ts
 * await pipeline(socket, new FrameParser({ role: 'server' }), new MessageAssembler(), sink);
 * ```
 */
export class MessageAssembler extends Transform {
  readonly #sequencer: MessageSequencer;
  readonly #buffer = new MessageBuffer();
  readonly #maxMessageSize: number;
  #text = false;

  constructor(options: MessageAssemblerOptions = {}) {
    const hwm = options.highWaterMark ?? 16;
    super({ objectMode: true, readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    // The sequencer refuses a payload over the limit before it is kept; the message buffer
    // keeps what it holds within a small factor of the payload (see MessageBuffer).
    this.#sequencer = new MessageSequencer({ maxMessageSize: this.#maxMessageSize });
  }

  override _transform(frame: Frame, _encoding: BufferEncoding, callback: StreamCallback): void {
    try {
      this.#frame(frame);
    } catch (err) {
      this.#buffer.clear();
      callback(err as Error);
      return;
    }
    callback();
  }

  override _flush(callback: StreamCallback): void {
    // A message cut off by the end of the frame stream is dropped: the transport ended
    // early (1006), which is not the assembler's to report.
    this.#buffer.clear();
    callback();
  }

  #frame(frame: Frame): void {
    if (frame === null || typeof frame !== 'object' || !Buffer.isBuffer(frame.payload)) {
      throw new InvalidArgumentError('MessageAssembler takes Frame objects with a Buffer payload');
    }
    if (isControlOpcode(frame.opcode)) {
      this.push(frame);
      return;
    }
    const opcode = this.#sequencer.startFrame(frame.opcode);
    this.#sequencer.payload(frame.payload);
    if (frame.fin && frame.opcode !== Opcode.Continuation) {
      // A message in one frame: handed on as it is, no copy.
      this.#sequencer.endFrame(true);
      this.push(opcode === Opcode.Text ? frame.payload.toString('utf8') : frame.payload);
      return;
    }
    if (frame.opcode !== Opcode.Continuation) this.#text = opcode === Opcode.Text;
    this.#buffer.append(frame.payload);
    if (this.#sequencer.endFrame(frame.fin)) {
      const payload = this.#buffer.take();
      this.push(this.#text ? payload.toString('utf8') : payload);
    }
  }
}
