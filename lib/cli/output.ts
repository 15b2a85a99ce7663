import type { Writable } from 'node:stream';

/** A destination the CLI writes to: process.stdout, a child's stdin, a file. */
export type Sink = Pick<
  Writable,
  'write' | 'once' | 'removeListener' | 'writableNeedDrain' | 'cork' | 'uncork'
> & {
  destroyed?: boolean;
};

const corked = new WeakSet<Sink>();

/**
 * Writes a chunk and waits for 'drain' when the sink says it is full, so that a slow
 * consumer slows the producer down instead of growing our memory. The sink is corked
 * until the next tick, so that many small messages leave in one writev rather than one
 * system call each.
 */
export async function writeAll(sink: Sink, chunk: string | Uint8Array): Promise<void> {
  corkForTick(sink);
  if (sink.write(chunk)) return;
  await drained(sink);
}

function corkForTick(sink: Sink): void {
  if (corked.has(sink)) return;
  corked.add(sink);
  sink.cork();
  process.nextTick(() => {
    corked.delete(sink);
    sink.uncork();
  });
}

/** Resolves at the sink's next 'drain'; rejects if it errors or closes first. */
export function drained(sink: Sink): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      sink.removeListener('drain', onDrain);
      sink.removeListener('error', onError);
      sink.removeListener('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('The output closed'));
    };
    sink.once('drain', onDrain);
    sink.once('error', onError);
    sink.once('close', onClose);
  });
}

/** Resolves once everything written to the sink so far has been handed to the system. */
export async function flush(sink: Writable): Promise<void> {
  if (sink.destroyed || sink.writableEnded) return;
  await new Promise<void>((resolve) => sink.write('', () => resolve()));
}

/** Prints a diagnostic line on stderr, prefixed so that it is told apart from data. */
export function note(message: string): void {
  process.stderr.write(`wsdx: ${message}\n`);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Formats a byte count for people: 512 B, 1.5 KiB, 100.0 MiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Formats a duration in seconds as m:ss, or h:mm:ss past an hour. */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, '0');
  if (hours > 0) return `${hours}:${String(minutes).padStart(2, '0')}:${secs}`;
  return `${minutes}:${secs}`;
}

/** Formats milliseconds for messages: 500 ms, 2 s, 1.5 s. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

const COLORS = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  gray: 90,
} as const;

/** A terminal color. */
export type Color = keyof typeof COLORS;

/**
 * Tells whether to color a terminal's output: only on a TTY, and never when NO_COLOR is
 * set (https://no-color.org), so that logs and pipes stay plain.
 */
export function colorsFor(stream: { isTTY?: boolean }): boolean {
  return stream.isTTY === true && process.env.NO_COLOR === undefined && process.env.TERM !== 'dumb';
}

/** Wraps text in an ANSI color when `enabled`. */
export function paint(color: Color, value: string, enabled: boolean): string {
  return enabled ? `\u001b[${COLORS[color]}m${value}\u001b[39m` : value;
}

/** Shows a control payload (ping data, a close reason) quoted, or nothing when empty. */
export function quoted(payload: Buffer | string): string {
  const value = typeof payload === 'string' ? payload : payload.toString('utf8');
  return value === '' ? '' : ` ${JSON.stringify(value)}`;
}
