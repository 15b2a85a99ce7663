import {
  positive,
  type ResolvedTopicOptions,
  SlowReaderPolicy,
  type TopicReadStreamOptions,
} from './backplane-options.js';
import { broadcast, InvalidArgumentError, WebSocketConnection } from './core.js';
import { offer, TopicReadStream } from './topic-read-stream.js';
import { TopicWriteStream } from './topic-write-stream.js';

/** What a topic needs of its backplane (internal). */
export interface TopicHost {
  /** Checks a message (type, size) before anything is delivered: throws InvalidArgumentError. */
  checkMessage(data: unknown): asserts data is string | Uint8Array;
  /** Delivers to every local topic of this name, then publishes to the other processes. */
  publish(topic: Topic, data: string | Uint8Array): number;
  /** The topic got its first local member or reader (subscribe), or lost its last. */
  activity(topic: Topic, active: boolean): void;
  /** The local member count changed (presence). */
  presenceChanged(topic: Topic): void;
  size(topic: Topic): Promise<number>;
  waitForCapacity(size: number): Promise<void>;
  slowReader(policy: SlowReaderPolicy): void;
}

/** Delivers a message to a topic's local members and readers (internal: the backplane calls it). */
export const deliver = Symbol('deliver');
/** Ends a topic when its backplane closes (internal). */
export const shutDown = Symbol('shutDown');

/**
 * A room: connections in any process that get the messages published to it anywhere. A
 * connection leaves on its own when it closes. Each member's backpressure is its own: a
 * member holding more than `maxBufferedAmount` unsent bytes is skipped (or closed with
 * 1013/1008, by `onSlowReader`), so that one slow reader neither delays the others nor
 * grows a queue without bound.
 *
 * @example
 * ```ts
 * const room = backplane.topic(`room:${roomId}`);
 * room.add(ws); // leaves by itself when ws closes
 * room.publish(JSON.stringify({ from: user, text })); // every member, every process
 * console.log(await room.size()); // members in every process
 * ```
 */
export class Topic {
  /** The topic's name, the same in every process. */
  readonly name: string;
  /** The Redis channel its messages travel on. */
  readonly channel: string;
  readonly #host: TopicHost;
  readonly #options: ResolvedTopicOptions;
  readonly #members = new Map<WebSocketConnection, () => void>();
  readonly #readers = new Set<TopicReadStream>();
  #active = false;
  #closed = false;

  /** Made by `backplane.topic(name)`. */
  constructor(name: string, channel: string, options: ResolvedTopicOptions, host: TopicHost) {
    this.name = name;
    this.channel = channel;
    this.#options = options;
    this.#host = host;
  }

  /** Reads the options the topic was made with (defaults filled in). */
  get options(): Readonly<ResolvedTopicOptions> {
    return this.#options;
  }

  /**
   * Counts this process's members (synchronously; `size()` counts every process's).
   *
   * @example if (room.localSize === 0) stopTicker();
   */
  get localSize(): number {
    return this.#members.size;
  }

  /**
   * Lists this process's members (a snapshot).
   *
   * @example for (const ws of room.members) ws.ping();
   */
  get members(): WebSocketConnection[] {
    return [...this.#members.keys()];
  }

  /**
   * Tells whether a connection is a member in this process.
   *
   * @example if (!room.has(ws)) room.add(ws);
   */
  has(connection: WebSocketConnection): boolean {
    return this.#members.has(connection);
  }

  /**
   * Adds a connection, which then gets every message published to the topic in any process
   * and counts in `size()`; it leaves by itself when it closes. Returns false (and adds
   * nothing) for a connection that is no longer open or is already a member.
   *
   * @example wss.on('connect', (ws) => lobby.add(ws));
   */
  add(connection: WebSocketConnection): boolean {
    if (!(connection instanceof WebSocketConnection)) {
      throw new InvalidArgumentError('topic.add takes a WebSocketConnection');
    }
    this.#checkOpen();
    if (this.#members.has(connection) || !connection.isOpen || connection.writableEnded) {
      return false;
    }
    // Its own 'close' or its transport's, whichever comes first: a connection whose
    // readable side nobody consumes still leaves (as in WebSocketServer).
    const gone = (): void => {
      this.remove(connection);
    };
    connection.once('close', gone);
    connection.transport.once('close', gone);
    this.#members.set(connection, gone);
    this.#changed();
    return true;
  }

  /**
   * Removes a connection (closing does it too). Returns whether it was a member.
   *
   * @example room.remove(ws);
   */
  remove(connection: WebSocketConnection): boolean {
    const gone = this.#members.get(connection);
    if (gone === undefined) return false;
    this.#members.delete(connection);
    connection.removeListener('close', gone);
    connection.transport.removeListener('close', gone);
    this.#changed();
    return true;
  }

  /**
   * Publishes a message: a string as text, bytes as binary. This process's members get it
   * now, without a round trip through Redis; the other processes' members get it through
   * Redis, at most once (never while Redis is away: such publishes are counted in the
   * backplane's `stats.dropped`). Returns the number of local members it was queued for.
   *
   * @example room.publish(JSON.stringify({ type: 'move', x, y }));
   */
  publish(data: string | Uint8Array): number {
    this.#checkOpen();
    this.#host.checkMessage(data);
    return this.#host.publish(this, data);
  }

  /**
   * Counts the members in every process, from the counts each process keeps in Redis (a
   * process that dies without a word stops counting within the backplane's `presenceTtl`).
   * Rejects with a BackplaneError when Redis is away or does not answer in time.
   *
   * @example const online = await room.size();
   */
  size(): Promise<number> {
    return this.#host.size(this);
  }

  /**
   * Creates a Writable whose every write is one message published to the topic, paced by
   * Redis (see TopicWriteStream).
   *
   * @example await pipeline(fs.createReadStream('ticks.ndjson'), splitLines, room.createWriteStream());
   */
  createWriteStream(): TopicWriteStream {
    this.#checkOpen();
    return new TopicWriteStream({
      publish: (data) => this.publish(data),
      waitForCapacity: (size) => this.#host.waitForCapacity(size),
    });
  }

  /**
   * Creates a Readable of every message published to the topic from now on, in any process
   * (this one included), bounded by `maxQueued` (see TopicReadStream).
   *
   * @example for await (const message of room.createReadStream()) log(message);
   */
  createReadStream(options: TopicReadStreamOptions = {}): TopicReadStream {
    this.#checkOpen();
    const maxQueued = positive(options.maxQueued, 1024, 'maxQueued');
    const reader: TopicReadStream = new TopicReadStream(maxQueued, () => {
      if (this.#readers.delete(reader)) this.#changed();
    });
    this.#readers.add(reader);
    this.#changed();
    return reader;
  }

  /**
   * Delivers a message to this process's members (each by the slow-reader policy) and
   * readers. Returns the number of members it was queued for.
   */
  [deliver](data: string | Buffer | Uint8Array, maxBufferedAmount?: number): number {
    let count = 0;
    if (this.#members.size > 0) {
      count = broadcast(this.#admit(maxBufferedAmount), data);
    }
    if (this.#readers.size > 0) {
      const message = typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data);
      for (const reader of this.#readers) reader[offer](message);
    }
    return count;
  }

  /** Lets go of every member and ends every reader: the backplane is closing. */
  [shutDown](): void {
    this.#closed = true;
    for (const connection of [...this.#members.keys()]) this.remove(connection);
    for (const reader of [...this.#readers]) reader.push(null);
    this.#readers.clear();
  }

  /** Yields the members that may take one more message, applying the slow-reader policy. */
  *#admit(broadcastLimit = Number.POSITIVE_INFINITY): Generator<WebSocketConnection> {
    const { onSlowReader, slowReaderCloseCode } = this.#options;
    const limit = Math.min(this.#options.maxBufferedAmount, broadcastLimit);
    for (const connection of this.#members.keys()) {
      if (connection.bufferedAmount <= limit) {
        yield connection;
        continue;
      }
      this.#host.slowReader(onSlowReader);
      if (onSlowReader === SlowReaderPolicy.Close) {
        this.remove(connection); // deleting from a Map while iterating it is safe
        if (!connection.destroyed && !connection.writableEnded) {
          connection.close(slowReaderCloseCode, 'Reading too slowly');
        }
      }
    }
  }

  #changed(): void {
    const active = this.#members.size > 0 || this.#readers.size > 0;
    this.#host.presenceChanged(this);
    if (active !== this.#active) {
      this.#active = active;
      this.#host.activity(this, active);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new InvalidArgumentError(`topic ${this.name}: the backplane is closed`);
  }
}
