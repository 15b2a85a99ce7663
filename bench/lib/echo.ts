/**
 * A windowed echo load for any WebSocket client: keeps `window` binary messages in flight
 * against an echo peer, counts the ones that come back within a time budget, and checks
 * each echoed message against what was sent. Library-neutral: a client is reached through
 * {@link EchoClient}, so that ours and ws run the very same loop.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** The two things the load needs from a client. */
export interface EchoClient {
  /** Sends one binary message. */
  send(payload: Buffer): void;
  /** Sets the handler of every message received (replaces the previous handler). */
  setHandler(handler: (data: Buffer) => void): void;
}

/** One phase of load. */
export interface EchoLoad {
  /** Messages kept in flight. */
  window: number;
  /** No message is sent after this much time from the first send (ms). */
  durationMs: number;
  /** No more than this many messages are sent (a bound on the count as well as the time). */
  maxMessages: number;
  /** The phase fails if the last message is not back this long after the budget (ms). */
  drainTimeoutMs: number;
}

/** What one phase measured. */
export interface EchoResult {
  /** Messages echoed back (and verified). */
  messages: number;
  /** Payload bytes echoed back. */
  bytes: number;
  /** From the first send to the last message received. */
  seconds: number;
  /** Messages per second. */
  rate: number;
}

/** How many bytes are compared, in evenly spaced windows, for payloads above FULL_COMPARE. */
const FULL_COMPARE = 64 * 1024;
const SAMPLES = 32;
const SAMPLE_BYTES = 64;

/**
 * A pool of distinct random payloads of one size, sent in turn. With more payloads than
 * messages in flight, an echo that came back out of order, duplicated or corrupted does
 * not match the payload expected next.
 */
export class PayloadPool {
  readonly size: number;
  readonly #payloads: Buffer[];

  constructor(size: number, count: number) {
    this.size = size;
    this.#payloads = Array.from({ length: count }, () =>
      randomFillSync(Buffer.allocUnsafeSlow(size)),
    );
  }

  /** The payload sent as message number `seq` of a connection. */
  at(seq: number): Buffer {
    return this.#payloads[seq % this.#payloads.length]!;
  }

  /**
   * Throws unless `data` is message number `seq`: same length, and the same bytes (all of
   * them up to 64 KiB; above, 32 windows of 64 bytes spread over the payload plus its end).
   */
  verify(seq: number, data: Buffer): void {
    const expected = this.at(seq);
    if (data.length !== expected.length) {
      throw new Error(`echo #${seq}: ${data.length} bytes, expected ${expected.length}`);
    }
    if (expected.length <= FULL_COMPARE) {
      if (!data.equals(expected)) throw new Error(`echo #${seq}: content differs`);
      return;
    }
    const step = Math.floor((expected.length - SAMPLE_BYTES) / SAMPLES);
    for (let i = 0; i <= SAMPLES; i++) {
      const from = i === SAMPLES ? expected.length - SAMPLE_BYTES : i * step;
      if (data.compare(expected, from, from + SAMPLE_BYTES, from, from + SAMPLE_BYTES) !== 0) {
        throw new Error(`echo #${seq}: content differs at ${from}..${from + SAMPLE_BYTES}`);
      }
    }
  }
}

/**
 * Drives echo load over one connection, phase after phase (e.g. a warm-up, then the
 * measurement). Messages are numbered per connection, so every echo is checked in order.
 */
export class EchoDriver {
  readonly #client: EchoClient;
  readonly #pool: PayloadPool;
  #sent = 0;
  #received = 0;

  constructor(client: EchoClient, pool: PayloadPool) {
    this.#client = client;
    this.#pool = pool;
  }

  /** Runs one phase; resolves when every message sent in it is back. */
  run(load: EchoLoad): Promise<EchoResult> {
    const client = this.#client;
    const pool = this.#pool;
    const firstSeq = this.#sent;
    const lastAllowed = firstSeq + load.maxMessages;
    return new Promise<EchoResult>((resolve, reject) => {
      let done = false;
      const start = performance.now();
      const stopSendingAt = start + load.durationMs;
      let sending = true;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        client.setHandler(() => {});
        if (err !== undefined) {
          reject(err);
          return;
        }
        const seconds = (performance.now() - start) / 1000;
        const messages = this.#received - firstSeq;
        resolve({ messages, bytes: messages * pool.size, seconds, rate: messages / seconds });
      };
      const timer = setTimeout(
        () => finish(new Error(`echo: ${this.#sent - this.#received} messages not back in time`)),
        load.durationMs + load.drainTimeoutMs,
      );
      const sendOne = () => {
        client.send(pool.at(this.#sent));
        this.#sent++;
      };
      client.setHandler((data) => {
        if (done) return;
        try {
          pool.verify(this.#received, data);
        } catch (err) {
          finish(err as Error);
          return;
        }
        this.#received++;
        if (sending && (this.#sent >= lastAllowed || performance.now() >= stopSendingAt))
          sending = false;
        if (sending) sendOne();
        else if (this.#received === this.#sent) finish();
      });
      for (let i = 0; i < load.window && this.#sent < lastAllowed; i++) sendOne();
    });
  }
}
