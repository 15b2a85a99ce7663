import { Transform } from 'readable-stream';
import { InvalidArgumentError } from '../protocol/errors.js';
import { fragmentMessage } from '../protocol/fragmentation.js';
import type { Frame } from '../protocol/frame.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
import { type FragmentationOptions, resolveFragmentThreshold } from './fragmentation-options.js';

/** Options of {@link MessageFragmenter}. */
export interface MessageFragmenterOptions extends FragmentationOptions {
  /** Frames buffered on the readable side before the fragmenter stops taking messages. Default: 16. */
  highWaterMark?: number;
}

/**
 * Turns messages into frames: a `string` becomes a text message, a `Buffer` or
 * `Uint8Array` a binary one, each cut into frames of at most `fragmentationThreshold`
 * bytes (views of the message, not copies). One write is one message.
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
    this.#threshold = resolveFragmentThreshold(options);
  }

  override _transform(
    message: string | Uint8Array,
    _encoding: BufferEncoding,
    callback: StreamCallback,
  ): void {
    let frames: Frame[];
    try {
      frames = messageToFrames(message, this.#threshold);
    } catch (err) {
      callback(err as Error);
      return;
    }
    for (const frame of frames) this.push(frame);
    callback();
  }
}

/**
 * Frames one message: text for a string, binary for bytes.
 * @throws InvalidArgumentError for anything else.
 */
export function messageToFrames(message: unknown, threshold: number): Frame[] {
  const { payload, binary } = messagePayload(message);
  return fragmentMessage(binary ? Opcode.Binary : Opcode.Text, payload, threshold);
}

/**
 * Gives a message's payload and type: a string is text (UTF-8), bytes are binary (viewed,
 * not copied).
 * @throws InvalidArgumentError for anything else.
 */
export function messagePayload(message: unknown): { payload: Buffer; binary: boolean } {
  if (typeof message === 'string') return { payload: Buffer.from(message, 'utf8'), binary: false };
  if (message instanceof Uint8Array) return { payload: toBuffer(message), binary: true };
  throw new InvalidArgumentError(
    `A message is a string (text) or a Buffer/Uint8Array (binary), got ${describe(message)}`,
  );
}

/** Views a Uint8Array as a Buffer without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
