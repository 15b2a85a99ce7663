/**
 * A windowed echo load for any WebSocket client: keeps `window` binary messages in flight
 * against an echo peer, counts the ones that come back within a time budget, and checks
 * each echoed message against what was sent. Library-neutral: a client is reached through
 * {@link EchoClient}, so that ours and ws run the very same loop.
 */
import { randomFillSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/**
 * The two things the load needs from a client. `T` is what is sent (a Buffer: binary), `R`
 * what a message arrives as (a library may hand text out as a string or as bytes).
 */
export interface EchoClient<T = Buffer, R = Buffer> {
  /** Sends one message. */
  send(payload: T): void;
  /** Sets the handler of every message received (replaces the previous handler). */
  setHandler(handler: (data: R) => void): void;
}

/** The messages of a load: message number `seq` of a connection, and its check. */
export interface EchoPayloads<T = Buffer, R = Buffer> {
  /** Payload bytes per message (UTF-8 bytes for text). */
  readonly size: number;
  /** The payload sent as message number `seq`. */
  at(seq: number): T;
  /** Throws unless `data` is message number `seq`, whole and unchanged. */
  verify(seq: number, data: R): void;
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
export class PayloadPool implements EchoPayloads {
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
export class EchoDriver<T = Buffer, R = Buffer> {
  readonly #client: EchoClient<T, R>;
  readonly #pool: EchoPayloads<T, R>;
  #sent = 0;
  #received = 0;

  constructor(client: EchoClient<T, R>, pool: EchoPayloads<T, R>) {
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

/**
 * A pool of distinct text messages, sent as strings. What comes back may be a string (ours,
 * WebSocket-Node) or the UTF-8 bytes (ws hands text out as a Buffer): both are compared
 * whole against what was sent. Every text must have the same UTF-8 length.
 */
export class TextPayloadPool implements EchoPayloads<string, string | Buffer> {
  readonly size: number;
  readonly #texts: string[];
  readonly #bytes: Buffer[];

  constructor(texts: readonly string[]) {
    if (texts.length === 0) throw new Error('TextPayloadPool: no texts');
    this.#texts = [...texts];
    this.#bytes = this.#texts.map((t) => Buffer.from(t, 'utf8'));
    this.size = this.#bytes[0]!.length;
    if (this.#bytes.some((b) => b.length !== this.size)) {
      throw new Error('TextPayloadPool: texts of different UTF-8 lengths');
    }
  }

  at(seq: number): string {
    return this.#texts[seq % this.#texts.length]!;
  }

  verify(seq: number, data: string | Buffer): void {
    const i = seq % this.#texts.length;
    const same = typeof data === 'string' ? data === this.#texts[i] : this.#bytes[i]!.equals(data);
    if (!same) throw new Error(`echo #${seq}: text differs (or came back as binary)`);
  }
}
