import { Writable } from 'readable-stream';
import { describe } from './backplane-options.js';
import { InvalidArgumentError } from './core.js';

/** What a write stream needs of its topic. */
export interface TopicWriteTarget {
  publish(data: string | Uint8Array): number;
  /** Resolves when Redis can take one more publish (or a bounded wait has passed). */
  waitForCapacity(size: number): Promise<void>;
}

/**
 * A Writable whose every write is one message published to a topic: `string` as text,
 * `Buffer`/`Uint8Array` as binary. Writes wait while Redis has `maxPendingPublishes`
 * unacknowledged, so that `pipeline(source, topic.createWriteStream())` runs at the pace of
 * Redis instead of dropping; while Redis is away they do not wait (the messages are
 * delivered locally, counted as dropped for the other processes, and the pipeline goes on).
 *
 * @example await pipeline(readings, topic.createWriteStream());
 */
export class TopicWriteStream extends Writable {
  readonly #target: TopicWriteTarget;

  /** Made by `topic.createWriteStream()`. */
  constructor(target: TopicWriteTarget) {
    super({ objectMode: true, highWaterMark: 16 });
    this.#target = target;
  }

  override _write(
    chunk: unknown,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      callback(
        new InvalidArgumentError(
          `a topic's write stream takes strings (text) or bytes (binary), got ${describe(chunk)}`,
        ),
      );
      return;
    }
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    this.#target.waitForCapacity(size).then(() => {
      try {
        this.#target.publish(chunk);
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback();
    }, callback);
  }
}
