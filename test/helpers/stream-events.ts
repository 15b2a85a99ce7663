/**
 * Records what a stream emits, so that stage tests can assert exact event counts (an
 * event that must fire once fires once), and drives a stage with a list of inputs.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { Writable } from 'readable-stream';

/** Anything with the EventEmitter and stream surface the recorder needs. */
export interface StreamLike {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroyed: boolean;
}

/** What a stream emitted, in order. */
export interface Recording<T = unknown> {
  /** Every 'data' chunk. */
  data: T[];
  /** Every 'error' (there must never be more than one). */
  errors: Error[];
  /** Counts of the lifecycle events. */
  counts: { end: number; finish: number; close: number; drain: number };
  /** Resolves at the first 'close'. */
  closed: Promise<void>;
}

/**
 * Starts recording `stream`'s events. With `flowing` (default true) a 'data' listener is
 * attached, so the stream flows; without it only lifecycle events are counted.
 */
export function record<T = unknown>(stream: StreamLike, flowing = true): Recording<T> {
  const rec: Recording<T> = {
    data: [],
    errors: [],
    counts: { end: 0, finish: 0, close: 0, drain: 0 },
    closed: Promise.resolve(),
  };
  rec.closed = new Promise<void>((resolve) => {
    stream.on('close', () => {
      rec.counts.close++;
      resolve();
    });
  });
  if (flowing) stream.on('data', (chunk) => rec.data.push(chunk as T));
  stream.on('error', (err) => rec.errors.push(err as Error));
  stream.on('end', () => rec.counts.end++);
  stream.on('finish', () => rec.counts.finish++);
  stream.on('drain', () => rec.counts.drain++);
  return rec;
}

/** The writable surface of a stage. */
export interface WritableLike extends StreamLike {
  write(chunk: unknown, cb?: (err?: Error | null) => void): boolean;
  end(): unknown;
}

/**
 * Writes `inputs` to a stage one by one, ends it, and resolves once it has closed and a
 * few more ticks have passed (so that a late duplicate event would be counted too).
 */
export async function runStage<T = unknown>(
  stage: WritableLike,
  inputs: readonly unknown[],
): Promise<Recording<T>> {
  const rec = record<T>(stage);
  for (const input of inputs) {
    if (stage.destroyed) break;
    stage.write(input);
  }
  if (!stage.destroyed) stage.end();
  await rec.closed;
  await settle();
  return rec;
}

/** Lets pending ticks and immediates run (a few turns of the event loop). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await tick();
}

/** Waits for `event` on an emitter, or fails after `ms` with a message naming it. */
export function eventWithin(
  emitter: {
    once(event: string, listener: (...args: unknown[]) => void): unknown;
    removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
  },
  event: string,
  ms = 5_000,
): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`'${event}' did not come within ${ms} ms`));
    }, ms);
    emitter.once(event, listener);
  });
}

/** An object-mode sink that keeps everything written to it. */
export function collector<T = unknown>(): Writable & { items: T[] } {
  const items: T[] = [];
  const sink = new Writable({
    objectMode: true,
    write(chunk: T, _encoding, callback) {
      items.push(chunk);
      callback();
    },
  }) as Writable & { items: T[] };
  sink.items = items;
  return sink;
}

/**
 * Resolves at the writer's next 'drain' or 'close', whichever comes first, and removes both
 * listeners (a `Promise.race` of two `once()` calls leaves the loser's listeners behind, one
 * pair per wait, until Node warns of a leak).
 */
export function drainOrClose(writer: {
  once(event: 'drain' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'close', listener: () => void): unknown;
}): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      writer.removeListener('drain', done);
      writer.removeListener('close', done);
      resolve();
    };
    writer.once('drain', done);
    writer.once('close', done);
  });
}
