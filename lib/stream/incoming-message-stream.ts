import { Readable } from './bases.js';

/**
 * The payload of ONE received message, as a Readable of Buffers. Text messages arrive as
 * UTF-8 bytes (already validated as they come); call `setEncoding('utf8')` to read strings
 * with code points kept whole across chunks.
 *
 * Handed out by {@link MessageStreamer} and by a connection with `messageStreams: true`.
 * Read it to the end, or `destroy()` it to skip the rest of the message: the next message
 * comes only after this one has been consumed or discarded.
 *
 * When the connection fails in the middle of the message, the stream is destroyed with the
 * same error, which reaches `pipeline`, `for await` and 'error' listeners. It keeps a
 * do-nothing 'error' listener of its own, so that a message nobody listens to yet (still
 * queued), or one only `pipe()`d (whose listener rethrows when alone), cannot crash the
 * process when the peer drops mid-message: the connection reports the error too.
 */
export class IncomingMessageStream extends Readable {
  /** Whether the message is binary (false: text). */
  readonly binary: boolean;
  readonly #onRead: () => void;

  /** @internal Built by the receiving side; `onRead` asks it for more payload. */
  constructor(binary: boolean, onRead: () => void, highWaterMark = 64 * 1024) {
    super({ highWaterMark });
    this.binary = binary;
    this.#onRead = onRead;
    this.on('error', ignoreError);
  }

  /** 'text' or 'binary', as in WebSocket-Node's message objects. */
  get type(): 'text' | 'binary' {
    return this.binary ? 'binary' : 'text';
  }

  override _read(): void {
    this.#onRead();
  }
}

function ignoreError(): void {}
