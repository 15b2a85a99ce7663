/**
 * Lets a frame source (a FrameParser, a raw-mode WebSocketConnection) that finds a protocol
 * fault wait, before raising it, until our own consumers downstream (MessageAssembler,
 * MessageStreamer) have processed every frame it already handed out.
 *
 * Why: the connection reads nothing more while an extension decodes a message, so it
 * delivers that message and only then meets the fault. A FrameParser parses a whole chunk
 * ahead; raised at once, its error makes pipeline() destroy the assembler in the middle of
 * inflating, and messages the connection would deliver are lost. Waiting makes the piped
 * stages give exactly what the connection gives, then the same error.
 *
 * How: a consumer registers with its source when piped (the 'pipe' event gives the source;
 * the methods are symbols, so foreign streams neither see nor take part: they keep plain
 * stream semantics). At a fault the source marks its consumers; each tells the source when
 * a write of its settles (one field read per frame otherwise: no allocation, no Promise on
 * the hot path), and the source raises its error once its own readable buffer is empty and
 * no consumer has a write pending (or the consumer is gone). The wait is bounded: at most
 * {@link CONSUMER_GRACE_MS}, whatever the consumers do; a destroy cancels it at once.
 */

/** On a source: registers a consumer piped from it. */
export const addConsumer: unique symbol = Symbol('addConsumer');
/** On a source: forgets a consumer (unpiped). */
export const removeConsumer: unique symbol = Symbol('removeConsumer');
/** On a source: a consumer's write settled, or the consumer is gone. */
export const consumerProgress: unique symbol = Symbol('consumerProgress');
/** On a consumer: the source waiting for it to settle, while one is. */
export const awaitingSource: unique symbol = Symbol('awaitingSource');

/** Longest a source holds a fault back for its consumers, in ms. */
export const CONSUMER_GRACE_MS = 5_000;

/** A source of frames that can hold back a fault for its consumers. */
export interface FaultSource {
  [addConsumer](consumer: FrameConsumer): void;
  [removeConsumer](consumer: FrameConsumer): void;
  [consumerProgress](): void;
}

/** One of our frame consumers, as a source sees it. */
export interface FrameConsumer {
  readonly writableLength: number;
  readonly destroyed: boolean;
  [awaitingSource]: FaultSource | undefined;
  on(event: 'pipe' | 'unpipe', listener: (source: unknown) => void): unknown;
}

/** What a source's readable side tells. */
interface SourceStream {
  readonly readableLength: number;
}

/** The source's side: its consumers, and the fault it holds back. */
export class HeldFault {
  readonly #stream: SourceStream;
  readonly #source: FaultSource;
  readonly #consumers: FrameConsumer[] = [];
  #raise: ((err: Error) => void) | undefined;
  #err: Error | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(stream: SourceStream, source: FaultSource) {
    this.#stream = stream;
    this.#source = source;
  }

  /** Whether a fault is held back. */
  get pending(): boolean {
    return this.#raise !== undefined;
  }

  add(consumer: FrameConsumer): void {
    if (!this.#consumers.includes(consumer)) this.#consumers.push(consumer);
    if (this.pending) consumer[awaitingSource] = this.#source;
  }

  remove(consumer: FrameConsumer): void {
    const at = this.#consumers.indexOf(consumer);
    if (at < 0) return;
    this.#consumers.splice(at, 1);
    if (consumer[awaitingSource] === this.#source) consumer[awaitingSource] = undefined;
    this.check();
  }

  /**
   * Holds `err` back until the consumers settle, then calls `raise(err)`; returns false,
   * holding nothing, when there is nothing to wait for (raise it now).
   */
  hold(err: Error, raise: (err: Error) => void): boolean {
    if (this.pending) return true;
    if (this.#settled()) return false;
    this.#err = err;
    this.#raise = raise;
    for (const consumer of this.#consumers) consumer[awaitingSource] = this.#source;
    this.#timer = setTimeout(() => this.#fire(), CONSUMER_GRACE_MS);
    this.#timer.unref?.();
    return true;
  }

  /** Raises the fault held back if the consumers have settled. */
  check(): void {
    if (this.pending && this.#settled()) this.#fire();
  }

  /** Drops the fault held back, without raising it (the source is destroyed). */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#raise = undefined;
    this.#err = undefined;
    for (const consumer of this.#consumers) {
      if (consumer[awaitingSource] === this.#source) consumer[awaitingSource] = undefined;
    }
  }

  #settled(): boolean {
    if (this.#stream.readableLength > 0) return false;
    for (const consumer of this.#consumers) {
      if (!consumer.destroyed && consumer.writableLength > 0) return false;
    }
    return true;
  }

  #fire(): void {
    const raise = this.#raise;
    const err = this.#err;
    this.cancel();
    if (raise !== undefined && err !== undefined) raise(err);
  }
}

/** Makes a stream of ours a consumer that registers with the fault sources piped into it. */
export function acceptFaultSources(consumer: FrameConsumer): void {
  consumer.on('pipe', onPipe);
  consumer.on('unpipe', onUnpipe);
}

function onPipe(this: FrameConsumer, source: unknown): void {
  (source as Partial<FaultSource> | null)?.[addConsumer]?.(this);
}

function onUnpipe(this: FrameConsumer, source: unknown): void {
  (source as Partial<FaultSource> | null)?.[removeConsumer]?.(this);
}

/** Tells the source waiting for this consumer, if any, that a write of its settled. */
export function settled(consumer: FrameConsumer): void {
  const source = consumer[awaitingSource];
  if (source !== undefined) source[consumerProgress]();
}
