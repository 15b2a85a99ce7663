import { MessageFramer } from '../protocol/message-framer.js';
import { asBytes, invalidMessage } from '../protocol/message-payload.js';
import { Opcode } from '../protocol/opcodes.js';
import { Transform } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import {
  type FragmentationOptions,
  resolveFragmentationThreshold,
} from './fragmentation-options.js';

/** Options of {@link OutgoingMessageStream}. */
export interface OutgoingMessageStreamOptions extends FragmentationOptions {
  /** Send a binary message (default) or a text message. */
  binary?: boolean;
  /** Bytes buffered on the writable side before `write()` returns false. Default: 64 KiB. */
  highWaterMark?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Sends ONE message of any length as a run of fragments: bytes in, Frames out. Each chunk
 * written becomes one or more non-final fragments (cut at `fragmentationThreshold` by the
 * MessageFramer); `end()` sends the final fragment, empty, with FIN. The first fragment
 * carries the message's opcode. Nothing is gathered: memory is bounded by the stream's
 * buffers whatever the size.
 *
 * For a text message the bytes must be UTF-8 as a whole; a code point may straddle two
 * writes (the receiver validates the message, RFC 6455 §5.6). Strings are encoded as UTF-8.
 *
 * @example
 * ```ts
 * await pipeline(
 *   fs.createReadStream('big.bin'),
 *   new OutgoingMessageStream({ binary: true }),
 *   new FrameSerializer({ role: 'client' }),
 *   socket,
 * );
 * ```
 */
export class OutgoingMessageStream extends Transform {
  readonly #framer: MessageFramer;
  readonly #opcode: typeof Opcode.Text | typeof Opcode.Binary;

  constructor(options: OutgoingMessageStreamOptions = {}) {
    super({
      readableObjectMode: true,
      writableHighWaterMark: options.highWaterMark ?? 64 * 1024,
      readableHighWaterMark: 16,
    });
    this.#opcode = options.binary === false ? Opcode.Text : Opcode.Binary;
    this.#framer = new MessageFramer(this.#opcode, resolveFragmentationThreshold(options));
  }

  /** The opcode of the message being sent. */
  get opcode(): typeof Opcode.Text | typeof Opcode.Binary {
    return this.#opcode;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : asBytes(chunk);
    if (bytes === undefined) {
      callback(invalidMessage(chunk));
      return;
    }
    for (const frame of this.#framer.frames(bytes, false)) this.push(frame);
    callback();
  }

  override _flush(callback: StreamCallback): void {
    for (const frame of this.#framer.frames(EMPTY, true)) this.push(frame);
    callback();
  }
}
