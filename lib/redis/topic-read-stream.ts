import { Readable } from 'readable-stream';

/** Hands a message to a read stream (internal: called by its topic). */
export const offer = Symbol('offer');

/**
 * A Readable of every message published to a topic, in any process: a `string` for a text
 * message and a `Buffer` for a binary one, as a connection reads them. A reader that falls
 * behind by `maxQueued` messages misses the next ones (counted in `dropped`) rather than
 * growing a queue without bound: delivery across processes is at most once anyway.
 *
 * @example
 * ```ts
 * await pipeline(backplane.topic('audit').createReadStream(), toNdjson, fs.createWriteStream('audit.log'));
 * ```
 */
export class TopicReadStream extends Readable {
  readonly #maxQueued: number;
  readonly #onDone: () => void;
  #dropped = 0;

  /** Made by `topic.createReadStream()`; `onDone` runs once when the stream ends or is destroyed. */
  constructor(maxQueued: number, onDone: () => void) {
    super({ objectMode: true, highWaterMark: maxQueued });
    this.#maxQueued = maxQueued;
    let done = false;
    this.#onDone = () => {
      if (done) return;
      done = true;
      onDone();
    };
    this.once('end', this.#onDone);
  }

  /** Counts the messages missed because this reader was `maxQueued` messages behind. */
  get dropped(): number {
    return this.#dropped;
  }

  override _read(): void {
    // Messages are pushed as they arrive; nothing to pull.
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#onDone();
    callback(err);
  }

  [offer](data: string | Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    if (this.readableLength >= this.#maxQueued) {
      this.#dropped++;
      return;
    }
    this.push(data);
  }
}
