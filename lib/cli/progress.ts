import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { formatBytes, formatClock } from './output.js';

/** A terminal the bar is drawn on. */
interface Terminal {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

const REDRAW_MS = 100;

/**
 * A progress bar on stderr: bytes, percentage, rate and ETA, redrawn at most ten times
 * a second. It draws only on a terminal, so that a pipe or a log stays quiet.
 */
export class Progress {
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #out: Terminal;
  readonly #started = Date.now();
  #finished: number | undefined;
  #done = 0;
  #drawnAt = 0;

  constructor(label: string, total: number | undefined, out: Terminal = process.stderr) {
    this.#label = label;
    this.#total = total;
    this.#out = out;
  }

  /** Whether the bar is drawn (stderr is a terminal). */
  get enabled(): boolean {
    return this.#out.isTTY === true;
  }

  /** Bytes counted so far. */
  get bytes(): number {
    return this.#done;
  }

  /** Counts bytes, and redraws when the last drawing is old enough. */
  add(bytes: number): void {
    this.#done += bytes;
    const now = Date.now();
    if (!this.enabled || now - this.#drawnAt < REDRAW_MS) return;
    this.#drawnAt = now;
    this.#draw(now);
  }

  /**
   * Ends the transfer: the rate is measured up to now from then on, whatever comes after
   * (waiting for an answer); draws the final state and ends the line on a terminal.
   */
  finish(): void {
    if (this.#finished !== undefined) return;
    this.#finished = Date.now();
    if (!this.enabled) return;
    this.#draw(this.#finished);
    this.#out.write('\n');
  }

  /** Gives the average rate of the transfer (up to its finish), in bytes per second. */
  rate(now = Date.now()): number {
    const end = this.#finished ?? now;
    const seconds = Math.max((end - this.#started) / 1000, 0.001);
    return this.#done / seconds;
  }

  #draw(now: number): void {
    const rate = this.rate(now);
    const parts = [`${formatBytes(this.#done)}`];
    const total = this.#total;
    if (total !== undefined && total > 0) {
      const left = Math.max(total - this.#done, 0);
      parts[0] = `${formatBytes(this.#done)} / ${formatBytes(total)}`;
      parts.push(
        `${formatBytes(rate)}/s`,
        `ETA ${formatClock(rate > 0 ? left / rate : Number.NaN)}`,
      );
    } else {
      parts.push(`${formatBytes(rate)}/s`);
    }
    const tail = parts.join('  ');
    const bar = total !== undefined && total > 0 ? this.#bar(this.#done / total, tail) : '';
    this.#out.write(`\r\u001b[2K${this.#label} ${bar}${tail}`);
  }

  #bar(fraction: number, tail: string): string {
    const clamped = Math.min(Math.max(fraction, 0), 1);
    const room = (this.#out.columns ?? 80) - this.#label.length - tail.length - 10;
    const width = Math.max(Math.min(room, 40), 0);
    const percent = `${String(Math.floor(clamped * 100)).padStart(3)}% `;
    if (width < 5) return percent;
    const full = Math.round(clamped * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${percent}`;
  }
}

/**
 * Returns a pass-through stream that feeds a hash and a progress bar with every chunk,
 * so that a file is hashed and measured on its way, in one read.
 */
export function meter(hash: Hash, progress: Progress): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      hash.update(chunk);
      progress.add(chunk.length);
      callback(null, chunk);
    },
  });
}
