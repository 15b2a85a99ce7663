/**
 * An open-loop load over many connections: each connection sends one message every
 * `periodMs`, on a schedule fixed in advance (connection i at i/N of the period), whatever
 * the replies do, and each echo's round trip is measured from the time its message was due
 * to be sent. A closed loop (send when the reply is in, as in the ping-pong scenario) slows
 * down with the server and hides its stalls; an open loop keeps offering the same load, so
 * a stall shows in the latency of every message due during it (no "coordinated omission").
 *
 * The schedule is paced by timers: a timer wakes the sender (at most once a millisecond),
 * which sends every message due by then, in schedule order. How late the sends ran behind
 * their schedule is reported too, so that a generator that could not keep up is seen.
 * Library-neutral, over {@link EchoClient} like bench/lib/echo.ts; every echo is checked
 * against what was sent, in order, per connection.
 */
import { performance } from 'node:perf_hooks';
import type { EchoClient, EchoPayloads } from './echo.js';

/** One phase of open-loop load. */
export interface OpenLoopLoad {
  /** Each connection sends one message every periodMs. */
  periodMs: number;
  /** Messages are due over this long (ms) from the start of the phase. */
  durationMs: number;
  /** The phase fails if an echo is not back this long after the last message was due (ms). */
  drainTimeoutMs: number;
  /** The phase fails if any connection has more than this many messages in flight. */
  maxInFlight: number;
}

/** What one phase measured. */
export interface OpenLoopResult {
  /** Messages echoed back and checked. */
  messages: number;
  /** From the first message due to the last echo received, s. */
  seconds: number;
  /** Round trips (due time to echo received), ms, sorted ascending. */
  latencies: Float64Array;
  /**
   * Round trips from the actual send instead, ms, sorted ascending: without the generator's
   * own lateness (a timer fires at a millisecond's grain, so a message waits up to about
   * 1 ms for its send), and without the stalls of the client process before a send.
   */
  fromSend: Float64Array;
  /** How late the sends ran behind their schedule, ms, sorted ascending. */
  sendLags: Float64Array;
}

/** Returns the value at quantile `q` (0..1) of ascending `sorted` values (NaN when empty). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Per-connection state: what is in flight, in order. */
interface Lane<T, R> {
  client: EchoClient<T, R>;
  /** Messages of this connection sent so far (over all phases): the next one's number. */
  sent: number;
  received: number;
  /** Due times of the messages in flight, oldest first (a ring of maxInFlight entries). */
  due: Float64Array;
  /** Send times of the messages in flight, in the same ring. */
  sentAt: Float64Array;
}

/**
 * Drives open-loop load over a set of connections, phase after phase (e.g. a warm-up, then
 * the measurement). Messages are numbered per connection, so every echo is checked in order.
 */
export class OpenLoopDriver<T, R> {
  readonly #pool: EchoPayloads<T, R>;
  readonly #lanes: Array<Lane<T, R>>;
  readonly #ring: number;

  constructor(clients: ReadonlyArray<EchoClient<T, R>>, pool: EchoPayloads<T, R>, ring = 4096) {
    this.#pool = pool;
    this.#ring = ring;
    this.#lanes = clients.map((client) => ({
      client,
      sent: 0,
      received: 0,
      due: new Float64Array(ring),
      sentAt: new Float64Array(ring),
    }));
  }

  /** Runs one phase; resolves when every message due in it is back and checked. */
  run(load: OpenLoopLoad): Promise<OpenLoopResult> {
    const lanes = this.#lanes;
    const pool = this.#pool;
    const ring = this.#ring;
    const n = lanes.length;
    const maxInFlight = Math.min(load.maxInFlight, ring);
    const step = load.periodMs / n;
    const total = Math.floor(load.durationMs / step);
    const latencies = new Float64Array(total);
    const fromSend = new Float64Array(total);
    const sendLags = new Float64Array(total);
    return new Promise<OpenLoopResult>((resolve, reject) => {
      const start = performance.now() + 1;
      let next = 0; // the next message of the schedule to send
      let received = 0;
      let lastReceipt = start;
      let done = false;
      let wake: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(wake);
        clearTimeout(deadline);
        for (const lane of lanes) lane.client.setHandler(() => {});
        if (err !== undefined) {
          reject(err);
          return;
        }
        resolve({
          messages: received,
          seconds: (lastReceipt - start) / 1000,
          latencies: latencies.sort(),
          fromSend: fromSend.sort(),
          sendLags: sendLags.sort(),
        });
      };
      const deadline = setTimeout(
        () => finish(new Error(`open loop: ${next - received} of ${next} echoes not back in time`)),
        load.durationMs + load.drainTimeoutMs + 1,
      );
      for (const lane of lanes) {
        lane.client.setHandler((data) => {
          if (done) return;
          const at = performance.now();
          if (lane.received === lane.sent) {
            finish(new Error(`open loop: an echo with nothing in flight`));
            return;
          }
          try {
            pool.verify(lane.received, data);
          } catch (err) {
            finish(err as Error);
            return;
          }
          latencies[received] = at - lane.due[lane.received % ring]!;
          fromSend[received] = at - lane.sentAt[lane.received % ring]!;
          lane.received++;
          received++;
          lastReceipt = at;
          if (next === total && received === total) finish();
        });
      }
      const send = () => {
        wake = undefined;
        if (done) return;
        const now = performance.now();
        while (next < total) {
          const due = start + next * step;
          if (due > now) break;
          const lane = lanes[next % n]!;
          if (lane.sent - lane.received >= maxInFlight) {
            finish(new Error(`open loop: ${maxInFlight} messages in flight on one connection`));
            return;
          }
          lane.due[lane.sent % ring] = due;
          const at = performance.now();
          lane.sentAt[lane.sent % ring] = at;
          sendLags[next] = at - due;
          lane.client.send(pool.at(lane.sent));
          lane.sent++;
          next++;
        }
        if (next < total) {
          wake = setTimeout(send, Math.max(0, start + next * step - performance.now()));
        } else if (received === total) {
          finish();
        }
      };
      wake = setTimeout(send, 1);
    });
  }
}
