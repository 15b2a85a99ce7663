import { Transform } from 'readable-stream';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
import { type FragmentationOptions, resolveFragmentThreshold } from './fragmentation-options.js';
import { toBuffer } from './message-fragmenter.js';

/** Options of {@link OutgoingMessageStream}. */
export interface OutgoingMessageStreamOptions extends FragmentationOptions {
  /** Send a binary message (default) or a text message. */
  binary?: boolean;
  /** Bytes buffered on the writable side before `write()` returns false. Default: 64 KiB. */
  highWaterMark?: number;
}

/**
 * Sends ONE message of any length as a run of fragments: bytes in, Frames out. Each chunk
 * written becomes one or more non-final fragments (cut at `fragmentationThreshold`); `end()`
 * sends the final fragment, empty, with FIN. The first fragment carries the message's
 * opcode. Nothing is gathered: memory is bounded by the stream's buffers whatever the size.
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
  readonly #opcode: typeof Opcode.Text | typeof Opcode.Binary;
  readonly #threshold: number;
  #started = false;

  constructor(options: OutgoingMessageStreamOptions = {}) {
    super({
      readableObjectMode: true,
      writableHighWaterMark: options.highWaterMark ?? 64 * 1024,
      readableHighWaterMark: 16,
    });
    this.#opcode = options.binary === false ? Opcode.Text : Opcode.Binary;
    this.#threshold = resolveFragmentThreshold(options);
  }

  /** The opcode of the message being sent. */
  get opcode(): typeof Opcode.Text | typeof Opcode.Binary {
    return this.#opcode;
  }

  override _transform(
    chunk: Buffer | string,
    encoding: BufferEncoding,
    callback: StreamCallback,
  ): void {
    if (typeof chunk === 'string') chunk = Buffer.from(chunk, encoding);
    if (!(chunk instanceof Uint8Array)) {
      callback(new InvalidArgumentError('A message stream takes Buffer, Uint8Array or string'));
      return;
    }
    const bytes = toBuffer(chunk);
    for (let offset = 0; offset < bytes.length; offset += this.#threshold) {
      this.push(this.#frame(bytes.subarray(offset, offset + this.#threshold), false));
    }
    callback();
  }

  override _flush(callback: StreamCallback): void {
    this.push(this.#frame(Buffer.alloc(0), true));
    callback();
  }

  #frame(payload: Buffer, fin: boolean): Frame {
    const opcode = this.#started ? Opcode.Continuation : this.#opcode;
    this.#started = true;
    return { fin, rsv1: false, rsv2: false, rsv3: false, opcode, payload };
  }
}
