import { frameMessage } from '../protocol/message-framer.js';
import { messagePayload } from '../protocol/message-payload.js';
import { Opcode } from '../protocol/opcodes.js';
import { Transform } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import {
  type FragmentationOptions,
  resolveFragmentationThreshold,
} from './fragmentation-options.js';

/** Options of {@link MessageFragmenter}. */
export interface MessageFragmenterOptions extends FragmentationOptions {
  /** Frames buffered on the readable side before the fragmenter stops taking messages. Default: 16. */
  highWaterMark?: number;
}

/**
 * Turns messages into frames: a `string` becomes a text message, bytes a binary one, each
 * cut into frames of at most `fragmentationThreshold` bytes (views of the message, not
 * copies) by the MessageFramer. One write is one message.
 *
 * @example
 * ```ts
 * const fragmenter = new MessageFragmenter({ fragmentationThreshold: 4096 });
 * fragmenter.pipe(new FrameSerializer({ role: 'client' })).pipe(socket);
 * fragmenter.write('hello'); // one text frame
 * ```
 */
export class MessageFragmenter extends Transform {
  readonly #threshold: number;

  constructor(options: MessageFragmenterOptions = {}) {
    const hwm = options.highWaterMark ?? 16;
    super({ objectMode: true, readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    this.#threshold = resolveFragmentationThreshold(options);
  }

  override _transform(message: unknown, _encoding: BufferEncoding, callback: StreamCallback): void {
    let payload: Buffer;
    let binary: boolean;
    try {
      ({ payload, binary } = messagePayload(message));
    } catch (err) {
      callback(err as Error);
      return;
    }
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    for (const frame of frameMessage(opcode, payload, this.#threshold)) this.push(frame);
    callback();
  }
}
