import { Transform } from 'readable-stream';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { MessageSequencer } from '../protocol/message-sequencer.js';
import { isControlOpcode, Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
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
 * memory passes through in constant memory. The same rules as the assembler apply as the
 * bytes pass: fragment order (1002), UTF-8 of text, failing at the first bad fragment
 * (1007), and `maxMessageSize` (1009). A failure destroys the current message stream with
 * the same error.
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
export class MessageStreamer extends Transform {
  readonly #sequencer: MessageSequencer;
  readonly #messageHighWaterMark: number;
  #current: IncomingMessageStream | undefined;
  #waiting: StreamCallback | undefined;

  constructor(options: MessageStreamerOptions = {}) {
    super({ objectMode: true, readableHighWaterMark: 16, writableHighWaterMark: 16 });
    this.#sequencer = new MessageSequencer({ maxMessageSize: options.maxMessageSize });
    this.#messageHighWaterMark = options.messageHighWaterMark ?? 64 * 1024;
  }

  override _transform(frame: Frame, _encoding: BufferEncoding, callback: StreamCallback): void {
    let mayContinue: boolean;
    try {
      mayContinue = this.#frame(frame);
    } catch (err) {
      this.#current?.destroy(err as Error);
      this.#current = undefined;
      callback(err as Error);
      return;
    }
    if (mayContinue) callback();
    else this.#waiting = callback;
  }

  override _flush(callback: StreamCallback): void {
    // The frame stream ended inside a message: its reader must not see a clean end.
    this.#current?.destroy(new Error('The frame stream ended in the middle of a message'));
    this.#current = undefined;
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#current?.destroy(err ?? undefined);
    this.#current = undefined;
    this.#waiting = undefined;
    callback(err);
  }

  /** Processes one frame; returns false when the current reader is full. */
  #frame(frame: Frame): boolean {
    if (frame === null || typeof frame !== 'object' || !Buffer.isBuffer(frame.payload)) {
      throw new InvalidArgumentError('MessageStreamer takes Frame objects with a Buffer payload');
    }
    if (isControlOpcode(frame.opcode)) {
      this.push(frame);
      return true;
    }
    const opcode = this.#sequencer.startFrame(frame.opcode);
    if (frame.opcode !== Opcode.Continuation) {
      const message = new IncomingMessageStream(
        opcode === Opcode.Binary,
        () => this.#resume(),
        this.#messageHighWaterMark,
      );
      this.#current = message;
      // A reader that gives up on the message (destroy) must not leave us waiting; a
      // message that closes after the next one has begun must not release that one.
      message.once('close', () => {
        if (this.#current === message) this.#resume();
      });
      // Every failure is reported on the streamer itself. The message carries the same
      // error for its reader, who may not listen yet (the message can still be queued):
      // that must not become an uncaught exception.
      message.on('error', ignore);
      this.push(message);
    }
    this.#sequencer.payload(frame.payload);
    const current = this.#current!;
    let hasRoom = true;
    if (frame.payload.length > 0 && !current.destroyed) hasRoom = current.push(frame.payload);
    if (this.#sequencer.endFrame(frame.fin)) {
      if (!current.destroyed) current.push(null);
      this.#current = undefined;
      return true;
    }
    return hasRoom || current.destroyed;
  }

  #resume(): void {
    const callback = this.#waiting;
    this.#waiting = undefined;
    callback?.();
  }
}

function ignore(): void {}
