import type { Extension } from '../extensions/extension.js';
import { holdExtensions, releaseExtensions } from '../extensions/extension-holds.js';
import type { Frame } from '../protocol/frame.js';
import { DEFAULTS } from '../protocol/limits.js';
import type { IncomingLimits, MessageCodec } from '../protocol/message-codec.js';
import { invalidMessage } from '../protocol/message-payload.js';
import { MessageReader, type MessageReaderHandler } from '../protocol/message-reader.js';
import { Transform } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import {
  acceptFaultSources,
  awaitingSource,
  type FaultSource,
  type FrameConsumer,
  settled,
} from './fault-deferral.js';

/** A whole message: a `string` for text, a `Buffer` for binary. @see RFC 6455 §5.6 */
export type Message = string | Buffer;

/** Options of {@link MessageAssembler}. */
export interface MessageAssemblerOptions {
  /** Largest message accepted, in payload bytes; above it the assembler fails with 1009. Default: 64 MiB. */
  maxMessageSize?: number;
  /**
   * The extensions of the connection whose raw frames are assembled (`connection.extensionObjects`),
   * so that compressed messages (RSV1) are decompressed as the connection would. Without
   * them a frame with RSV bits fails with 1002.
   */
  extensions?: readonly Extension[];
  /** Messages buffered on the readable side before the assembler stops taking frames. Default: 16. */
  highWaterMark?: number;
}

/** Default of `maxMessageSize` for the assembler (the connection's maxReceivedMessageSize). */
export const DEFAULT_MAX_MESSAGE_SIZE = DEFAULTS.maxReceivedMessageSize;

/**
 * Assembles frames into messages: Frames in, a `string` (text) or `Buffer` (binary) out
 * for each message, by the same MessageReader the connection uses, so that assembling a
 * raw-mode connection's frames gives exactly what the connection would have delivered.
 * Every rule about messages is checked as the frames come: fragment order (1002), UTF-8 of
 * text at the first bad byte (1007), the size limit before the bytes are kept (1009), and
 * decompression through the given extensions.
 *
 * Piped from a FrameParser or a raw-mode connection, it registers with it, so that a
 * protocol error found upstream waits for the messages before it (see fault-deferral.ts).
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
export class MessageAssembler extends Transform implements FrameConsumer {
  readonly #reader: MessageReader;
  /** The extensions decoded with, held until the assembler ends (see extension-holds.ts). */
  #held: readonly Extension[] | undefined;
  #waiting: StreamCallback | undefined;
  /** A FrameParser or raw connection holding a fault back until our writes settle. */
  [awaitingSource]: FaultSource | undefined = undefined;

  constructor(options: MessageAssemblerOptions = {}) {
    const hwm = options.highWaterMark ?? 16;
    super({ objectMode: true, readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    const extensions = options.extensions ?? [];
    if (extensions.length > 0) {
      this.#held = extensions;
      holdExtensions(extensions);
    }
    const handler: MessageReaderHandler = {
      control: (frame) => this.push(frame),
      message: (data) => this.push(data),
      frame: (frame) => this.push(frame),
      messageStart: unexpected,
      messagePiece: unexpected,
      messageEnd: unexpected,
      codecDone: (err) => {
        const callback = this.#waiting;
        this.#waiting = undefined;
        callback?.(err);
        settled(this);
      },
    };
    this.#reader = new MessageReader(handler, {
      mode: 'messages',
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      codecFor:
        extensions.length === 0 ? undefined : (rsv, limits) => codecOf(extensions, rsv, limits),
    });
    acceptFaultSources(this);
  }

  override _transform(frame: Frame, _encoding: BufferEncoding, callback: StreamCallback): void {
    if (frame === null || typeof frame !== 'object' || !Buffer.isBuffer(frame.payload)) {
      callback(invalidMessage(frame));
      return;
    }
    try {
      this.#reader.frame(frame);
    } catch (err) {
      this.#reader.stop();
      callback(err as Error);
      return;
    }
    // While an extension decodes, the next frame waits: the order is the stream's.
    if (this.#reader.busy) {
      this.#waiting = callback;
    } else {
      callback();
      settled(this);
    }
  }

  override _read(size: number): void {
    // A write held while the readable side was full goes on now.
    super._read(size);
    settled(this);
  }

  override _flush(callback: StreamCallback): void {
    // A message cut off by the end of the frame stream is dropped: the transport ended
    // early (1006), which is not the assembler's to report.
    this.#reader.stop();
    this.#release();
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#reader.stop();
    this.#waiting = undefined;
    this.#release();
    callback(err);
    settled(this);
  }

  /** Lets go of the extensions: the last holder of a closed connection's disposes them. */
  #release(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) releaseExtensions(held);
  }
}

/** The codec of the first extension that claims these RSV bits. */
export function codecOf(
  extensions: readonly Extension[],
  rsv: number,
  limits: IncomingLimits,
): MessageCodec | undefined {
  for (const extension of extensions) {
    const codec = extension.incoming(rsv, limits);
    if (codec !== undefined) return codec;
  }
  return undefined;
}

function unexpected(): void {
  throw new Error('MessageReader in messages mode handed out a streamed message');
}
