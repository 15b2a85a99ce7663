import type { StreamCallback } from './callbacks.js';
import type { PreparedMessage } from './prepared-message.js';

/**
 * The connection's writable queue is the one ordered queue of everything it sends. Its
 * entries are the chunks written: a string or bytes for a plain message. What a plain
 * chunk cannot say travels on the chunk itself, under this symbol: a Buffer view of the
 * payload (never a copy) carries the options of `send(data, options)` or the broadcast it
 * belongs to, and an empty Buffer holds a message stream's place in the queue.
 */
export const outboundEntry: unique symbol = Symbol('websocket-duplex.outboundEntry');

/** A message sent with `send(data, options)`. */
export interface SendEntry {
  readonly kind: 'send';
  readonly binary: boolean;
  readonly compress: boolean;
}

/** A message of a broadcast, framed once for every connection. */
export interface PreparedEntry {
  readonly kind: 'prepared';
  readonly message: PreparedMessage;
}

/**
 * The place of a message stream (createMessageStream) in the queue: writes made after it
 * wait until the stream ends, and the stream's own writes wait until its turn comes.
 */
export class StreamTurn {
  readonly kind = 'turn';
  /** Resolves when the writes before the stream are out and its fragments may go. */
  readonly ready: Promise<void>;
  #begin: () => void = () => {};
  /** The queue's callback for this entry: called when the stream ends, releasing the queue. */
  #release: StreamCallback | undefined;
  #started = false;

  constructor() {
    this.ready = new Promise((resolve) => {
      this.#begin = resolve;
    });
  }

  /** Whether the stream's turn came (its first fragment may have gone out). */
  get started(): boolean {
    return this.#started;
  }

  /** Gives the stream its turn; `release` is called back when it ends. */
  start(release: StreamCallback): void {
    this.#started = true;
    this.#release = release;
    this.#begin();
  }

  /** Lets a stream that will never get its turn finish waiting (the connection is gone). */
  abandon(): void {
    this.#begin();
  }

  /** Ends the turn: the queue moves on. Returns whether it held the queue. */
  end(): boolean {
    const release = this.#release;
    this.#release = undefined;
    release?.();
    return release !== undefined;
  }
}

export type OutboundEntry = SendEntry | PreparedEntry | StreamTurn;

type Tagged = Buffer & { [outboundEntry]?: OutboundEntry };

/** Makes a chunk that carries an entry: a new view of `payload`, never a copy. */
export function tagged(payload: Buffer, entry: OutboundEntry): Buffer {
  const chunk: Tagged = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  chunk[outboundEntry] = entry;
  return chunk;
}

/** Reads the entry a chunk carries, if any. */
export function entryOf(chunk: Buffer): OutboundEntry | undefined {
  return (chunk as Tagged)[outboundEntry];
}
