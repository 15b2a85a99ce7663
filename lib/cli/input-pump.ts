import type { Readable } from 'node:stream';
import type { Incoming } from '../stream/connection-events.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';

/** A connection of any receive mode: sending does not depend on it. */
type AnyConnection = WebSocketConnection<Incoming>;

const CLOSED = Symbol('closed');

/**
 * Feeds the messages of one input (stdin cut into lines or chunks) to a connection, and
 * to the next one after a reconnection: the input is read once, a read in flight when a
 * connection drops is kept for the next, and each write waits for the connection's room
 * (backpressure), so that a fast input never outruns a slow server.
 */
export class InputPump {
  readonly #iterator: AsyncIterator<string | Buffer>;
  #pending: Promise<IteratorResult<string | Buffer>> | undefined;
  #carry: string | Buffer | undefined;
  /** Messages still allowed (-1 sends one); the input ends after them. */
  #left: number;

  constructor(messages: Readable, limit = Number.POSITIVE_INFINITY) {
    this.#iterator = messages[Symbol.asyncIterator]() as AsyncIterator<string | Buffer>;
    this.#left = limit;
  }

  /**
   * Sends input messages to `ws` until the input ends (resolves true) or the connection
   * closes (resolves false). `closed` settles when the connection has closed; `onSent`
   * is called after each message is handed over.
   */
  async feed(ws: AnyConnection, closed: Promise<unknown>, onSent: () => void): Promise<boolean> {
    const gone = closed.then((): typeof CLOSED => CLOSED);
    while (ws.isOpen) {
      if (this.#left <= 0) return true;
      const message = await this.#next(gone);
      if (message === CLOSED) return false;
      if (message === undefined) return true;
      if (!ws.isOpen) {
        this.#carry = message;
        return false;
      }
      this.#left--;
      await Promise.race([sendMessage(ws, message), gone]);
      onSent();
    }
    return false;
  }

  async #next(gone: Promise<typeof CLOSED>): Promise<string | Buffer | undefined | typeof CLOSED> {
    if (this.#carry !== undefined) {
      const carried = this.#carry;
      this.#carry = undefined;
      return carried;
    }
    this.#pending ??= this.#iterator.next();
    const result = await Promise.race([this.#pending, gone]);
    if (result === CLOSED) return CLOSED;
    this.#pending = undefined;
    return result.done === true ? undefined : result.value;
  }
}

/** Writes queued on the connection before a write waits for the queue to be taken. */
export const MAX_QUEUED_MESSAGES = 256;

const written = new WeakMap<AnyConnection, number>();

/**
 * Writes one message with backpressure: waits when the connection says it is full, and
 * also every MAX_QUEUED_MESSAGES messages until those are taken, so that a flood of tiny
 * messages (100 000 short lines) never queues more than a bounded batch of writes.
 */
export async function sendMessage(ws: AnyConnection, message: string | Buffer): Promise<void> {
  const count = (written.get(ws) ?? 0) + 1;
  written.set(ws, count);
  if (count % MAX_QUEUED_MESSAGES === 0) {
    await new Promise<void>((resolve) => ws.write(message, () => resolve()));
    return;
  }
  if (!ws.write(message)) await roomIn(ws);
}

/** Resolves when a connection can take more, or can take nothing any more. */
export function roomIn(ws: AnyConnection): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      ws.removeListener('drain', done);
      ws.removeListener('close', done);
      ws.removeListener('error', done);
      resolve();
    };
    ws.on('drain', done);
    ws.on('close', done);
    ws.on('error', done);
  });
}
