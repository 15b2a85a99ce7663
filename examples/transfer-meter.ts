/**
 * A pass-through Transform for the file transfer examples: it hashes the bytes that flow
 * through it (SHA-256), counts them, and draws a progress line on a terminal. Being a
 * stage of the pipeline, it sees the bytes at the pace the WebSocket takes them, so the
 * bar shows what was actually sent (or written), not what was read ahead.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Options of {@link TransferMeter}. */
export interface TransferMeterOptions {
  /** What is moving, for the progress line ('sending', 'receiving'). */
  label: string;
  /** Total bytes expected, when known: the line then shows a bar and a percentage. */
  total?: number;
  /** Where the line goes. Default: process.stderr, drawn only when it is a terminal. */
  output?: NodeJS.WriteStream;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 30;

/** Hashes, counts and shows bytes passing through. */
export class TransferMeter extends Transform {
  readonly #hash = createHash('sha256');
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #output: NodeJS.WriteStream;
  readonly #started = Date.now();
  #bytes = 0;
  #lastDraw = 0;
  #digest: string | undefined;

  constructor(options: TransferMeterOptions) {
    super();
    this.#label = options.label;
    this.#total = options.total;
    this.#output = options.output ?? process.stderr;
  }

  /** Bytes that went through so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The SHA-256 of everything that went through, in hex (once the stream has ended). */
  get sha256(): string {
    if (this.#digest === undefined) throw new Error('The transfer has not finished');
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    const now = Date.now();
    if (now - this.#lastDraw >= REDRAW_MS) {
      this.#lastDraw = now;
      this.#draw(false);
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    this.#draw(true);
    callback();
  }

  /** Redraws the progress line in place (only on a terminal: logs get the summary only). */
  #draw(done: boolean): void {
    if (this.#output.isTTY !== true) return;
    const seconds = Math.max(Date.now() - this.#started, 1) / 1000;
    const rate = `${formatBytes(this.#bytes / seconds)}/s`;
    let line = `${this.#label} ${formatBytes(this.#bytes)}`;
    if (this.#total !== undefined && this.#total > 0) {
      const fraction = Math.min(this.#bytes / this.#total, 1);
      const filled = Math.round(fraction * BAR_WIDTH);
      line = `${this.#label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(this.#bytes)} of ${formatBytes(this.#total)}`;
    }
    this.#output.write(`\r\x1b[2K${line} ${rate}${done ? '\n' : ''}`);
  }
}

/** Formats a byte count for people: 1.5 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
