import type { Frame } from '../protocol/frame.js';
import { invalidMessage } from '../protocol/message-payload.js';
import { MessageReader } from '../protocol/message-reader.js';
import { Transform } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import {
  acceptFaultSources,
  awaitingSource,
  type FaultSource,
  type FrameConsumer,
  settled,
} from './fault-deferral.js';
import { IncomingMessageStream } from './incoming-message-stream.js';

/** Options of {@link MessageStreamer}. */
export interface MessageStreamerOptions {
  /** Largest message accepted, in payload bytes; above it the streamer fails with 1009. Default: no limit. */
  maxMessageSize?: number;
  /** Bytes each message stream buffers before the streamer stops taking frames. Default: 64 KiB. */
  messageHighWaterMark?: number;
}

/**
 * Hands out each incoming message as a Readable of its payload: Frames in, one
 * {@link IncomingMessageStream} out per message, pushed as soon as the message's first
 * frame arrives. While the current message's reader is full, the streamer holds its write
 * callback, so backpressure reaches back to the byte source and a message larger than
 * memory passes through in constant memory. The rules are the MessageReader's, as the bytes
 * pass: fragment order (1002), UTF-8 of text at the first bad byte (1007), and
 * `maxMessageSize` (1009). A failure destroys the current message stream with the same
 * error.
 *
 * Control frames are passed on in place as Frame objects, as the assembler does.
 *
 * @example
 * ```ts
 * streamer.on('data', async (message: IncomingMessageStream | Frame) => {
 *   if (message instanceof IncomingMessageStream) await pipeline(message, fs.createWriteStream('out'));
 * });
 * ```
 */
export class MessageStreamer extends Transform implements FrameConsumer {
  readonly #reader: MessageReader;
  readonly #messageHighWaterMark: number;
  #current: IncomingMessageStream | undefined;
  #full = false;
  #waiting: StreamCallback | undefined;
  /** A FrameParser or raw connection holding a fault back until our writes settle. */
  [awaitingSource]: FaultSource | undefined = undefined;

  constructor(options: MessageStreamerOptions = {}) {
    super({ objectMode: true, readableHighWaterMark: 16, writableHighWaterMark: 16 });
    this.#messageHighWaterMark = options.messageHighWaterMark ?? 64 * 1024;
    this.#reader = new MessageReader(
      {
        control: (frame) => this.push(frame),
        message: unexpected,
        frame: unexpected,
        messageStart: (binary) => this.#start(binary),
        messagePiece: (data) => {
          const current = this.#current;
          if (current !== undefined && !current.destroyed && !current.push(data)) this.#full = true;
        },
        messageEnd: () => {
          const current = this.#current;
          this.#current = undefined;
          this.#full = false;
          if (current !== undefined && !current.destroyed) current.push(null);
        },
        codecDone: unexpected,
      },
      { mode: 'streams', maxMessageSize: options.maxMessageSize },
    );
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
      this.#current?.destroy(err as Error);
      this.#current = undefined;
      callback(err as Error);
      return;
    }
    if (!this.#full) {
      callback();
      settled(this);
      return;
    }
    this.#full = false;
    this.#waiting = callback;
  }

  override _flush(callback: StreamCallback): void {
    // The frame stream ended inside a message: its reader must not see a clean end.
    this.#current?.destroy(new Error('The frame stream ended in the middle of a message'));
    this.#current = undefined;
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#reader.stop();
    this.#current?.destroy(err ?? undefined);
    this.#current = undefined;
    this.#waiting = undefined;
    callback(err);
    settled(this);
  }

  override _read(size: number): void {
    // A write held while the readable side was full goes on now.
    super._read(size);
    settled(this);
  }

  #start(binary: boolean): void {
    const message = new IncomingMessageStream(
      binary,
      () => this.#resume(),
      this.#messageHighWaterMark,
    );
    this.#current = message;
    // A reader that gives up on the message (destroy) must not leave us waiting; a message
    // that closes after the next one has begun must not release that one.
    message.once('close', () => {
      if (this.#current === message) this.#resume();
    });
    this.push(message);
  }

  #resume(): void {
    const callback = this.#waiting;
    this.#waiting = undefined;
    callback?.();
    settled(this);
  }
}

function unexpected(): void {
  throw new Error('MessageReader in streams mode handed out a whole message');
}
