/**
 * Sends ONE binary message of `LARGE_MESSAGE_BYTES` (default 1 GiB), produced on the fly,
 * through OutgoingMessageStream -> FrameSerializer (client, masked) -> FrameParser (server,
 * streaming frames above 64 KiB) -> MessageStreamer, and hashes the IncomingMessageStream
 * as it is read. Run as a child process (`node --import tsx test/helpers/large-message.ts`)
 * so that its peak RSS is the pipeline's own; prints one JSON line:
 * `{ bytes, messages, fragments, sentSha256, receivedSha256, maxRssKiB, baselineRssKiB, ms }`.
 *
 * Options, from the environment: LARGE_MESSAGE_BYTES, LARGE_MESSAGE_CHUNK (bytes per write
 * of the source, default 64 KiB), LARGE_MESSAGE_FRAGMENT (fragmentationThreshold, default
 * 16 KiB).
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'readable-stream';
import type { Frame } from '../../lib/protocol/frame.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { FrameSerializer } from '../../lib/stream/frame-serializer.js';
import { IncomingMessageStream } from '../../lib/stream/incoming-message-stream.js';
import { MessageStreamer } from '../../lib/stream/message-streamer.js';
import { OutgoingMessageStream } from '../../lib/stream/outgoing-message-stream.js';
import { mulberry32 } from './chunking.js';

const total = Number(process.env.LARGE_MESSAGE_BYTES ?? 2 ** 30);
const chunkSize = Number(process.env.LARGE_MESSAGE_CHUNK ?? 64 * 1024);
const fragment = Number(process.env.LARGE_MESSAGE_FRAGMENT ?? 16 * 1024);

const baselineRssKiB = process.resourceUsage().maxRSS;
const started = performance.now();

// Every chunk is a fresh copy of one random block with its index stamped at both ends, so
// that a lost, repeated or reordered chunk changes the hash.
const block = Buffer.allocUnsafe(chunkSize);
const random = mulberry32(0x1a7e);
for (let i = 0; i < chunkSize; i++) block[i] = Math.floor(random() * 256);

const sent = createHash('sha256');
let produced = 0;
let index = 0;
const source = new Readable({
  highWaterMark: chunkSize,
  read() {
    if (produced >= total) {
      this.push(null);
      return;
    }
    const n = Math.min(chunkSize, total - produced);
    const chunk = Buffer.allocUnsafe(n);
    block.copy(chunk, 0, 0, n);
    if (n >= 8) {
      chunk.writeUInt32BE(index, 0);
      chunk.writeUInt32BE(index, n - 4);
    }
    index++;
    produced += n;
    sent.update(chunk);
    this.push(chunk);
  },
});

const received = createHash('sha256');
let bytes = 0;
let messages = 0;
let fragments = 0;
const sink = new Writable({
  objectMode: true,
  write(item: IncomingMessageStream | Frame, _encoding, callback) {
    if (!(item instanceof IncomingMessageStream)) {
      callback(new Error(`unexpected control frame, opcode ${item.opcode}`));
      return;
    }
    messages++;
    item.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      fragments++;
      received.update(chunk);
    });
    item.once('end', () => callback());
    item.once('error', (err) => callback(err));
  },
});

await pipeline(
  source,
  new OutgoingMessageStream({ binary: true, fragmentationThreshold: fragment }),
  new FrameSerializer({ role: 'client' }),
  new FrameParser({ role: 'server', streamingThreshold: 64 * 1024 }),
  new MessageStreamer(),
  sink,
);

process.stdout.write(
  `${JSON.stringify({
    bytes,
    messages,
    fragments,
    sentSha256: sent.digest('hex'),
    receivedSha256: received.digest('hex'),
    maxRssKiB: process.resourceUsage().maxRSS,
    baselineRssKiB,
    ms: Math.round(performance.now() - started),
  })}\n`,
);
