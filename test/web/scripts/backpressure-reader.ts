/**
 * The reader of backpressure.test.ts, in a process of its own so that the memory it
 * reports is the reader's alone. It opens a WebSocketStream (ours, or undici's), reads one
 * message, then stops reading until told to resume on stdin, sampling its RSS meanwhile;
 * then reads and hashes everything else.
 *
 * Usage: node --expose-gc --import tsx test/web/scripts/backpressure-reader.ts URL ours|undici TOTAL_BYTES
 *
 * Prints JSON lines: {event:'opened', baselineRss}, {event:'paused', rss, received},
 * (waits for {"command":"resume"} on stdin), {event:'resumed', peakRssDuringPause},
 * {event:'done', bytes, sha256, peakRss, maxRss, seconds}, or {event:'error', message}.
 * RSS figures are bytes.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';

const [url, mode, totalText] = process.argv.slice(2);
const total = Number(totalText);
const print = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};

interface StreamLike {
  opened: Promise<{ readable: ReadableStream<unknown> }>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

async function open(): Promise<StreamLike> {
  if (mode === 'undici') {
    const { WebSocketStream } = await import('undici');
    return new WebSocketStream(url!) as unknown as StreamLike;
  }
  const { WebSocketStream } = await import('../../../lib/web/web-socket-stream.js');
  return new WebSocketStream(url!) as unknown as StreamLike;
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (value instanceof Uint8Array) return value;
  throw new Error(`Unexpected chunk: ${Object.prototype.toString.call(value)}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const stream = await open();
  const { readable } = await stream.opened;
  (globalThis as { gc?: () => void }).gc?.();
  const baselineRss = process.memoryUsage.rss();
  print({ event: 'opened', baselineRss });
  const reader = readable.getReader();
  const hash = createHash('sha256');
  let received = 0;
  const take = (value: unknown): void => {
    const bytes = bytesOf(value);
    hash.update(bytes);
    received += bytes.byteLength;
  };
  const first = await reader.read();
  take(first.value);

  // Stop reading; sample memory until the test says to go on.
  let peakRssDuringPause = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peakRssDuringPause = Math.max(peakRssDuringPause, process.memoryUsage.rss());
  }, 25);
  const lines = createInterface({ input: process.stdin });
  const resume = new Promise<void>((resolve) => {
    lines.on('line', (line) => {
      if (line.includes('"resume"')) resolve();
    });
  });
  print({ event: 'paused', rss: process.memoryUsage.rss(), received });
  await resume;
  clearInterval(sampler);
  print({ event: 'resumed', peakRssDuringPause, received });

  let peakRss = peakRssDuringPause;
  let reads = 0;
  while (received < total) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The stream ended after ${received} of ${total} bytes`);
    take(value);
    if (++reads % 256 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }
  print({
    event: 'done',
    bytes: received,
    sha256: hash.digest('hex'),
    peakRss,
    maxRss: process.resourceUsage().maxRSS * 1024,
    seconds: (Date.now() - started) / 1000,
  });
  lines.close();
  stream.close({ closeCode: 1000 });
  setTimeout(() => process.exit(0), 500).unref();
}

main().catch((err: unknown) => {
  print({ event: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
