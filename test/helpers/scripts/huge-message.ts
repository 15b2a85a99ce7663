/**
 * Sends one message of SIZE bytes (default 1 GiB), produced on the fly, from a client
 * connection to a server connection over loopback TCP, the server reading it as a stream
 * and hashing it. Prints one JSON line: sizes, both hashes, peak RSS in MiB, seconds.
 * Run in its own process so that the peak RSS is this pipeline's alone.
 */
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'readable-stream';
import type { IncomingMessageStream } from '../../../lib/stream/incoming-message-stream.js';
import { WebSocketConnection } from '../../../lib/stream/websocket-connection.js';
import { tcpPair } from '../tcp-pair.js';

const size = Number(process.env.SIZE ?? 1024 ** 3);
const chunkSize = 64 * 1024;

function source(hash: ReturnType<typeof createHash>): Readable {
  let sent = 0;
  let counter = 0;
  return new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(chunkSize, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) chunk.writeUInt32LE(counter++ >>> 0, i);
      hash.update(chunk);
      sent += n;
      this.push(chunk);
    },
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const [a, b] = await tcpPair();
  const server = new WebSocketConnection<IncomingMessageStream>(a, {
    role: 'server',
    messageStreams: true,
    maxReceivedMessageSize: Number.POSITIVE_INFINITY,
  });
  const client = new WebSocketConnection(b, { role: 'client' });
  const sentHash = createHash('sha256');
  const receivedHash = createHash('sha256');
  let received = 0;
  const receiving = new Promise<void>((resolve, reject) => {
    server.once('data', (message: IncomingMessageStream) => {
      message.on('data', (chunk: Buffer) => {
        received += chunk.length;
        receivedHash.update(chunk);
      });
      message.once('end', resolve);
      message.once('error', reject);
    });
  });
  await pipeline(source(sentHash), client.createMessageStream({ binary: true }));
  await receiving;
  client.end();
  server.resume();
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      size,
      received,
      sent: sentHash.digest('hex'),
      got: receivedHash.digest('hex'),
      rssMiB: Math.round(rssMiB),
      seconds: (Date.now() - started) / 1000,
    }),
  );
  client.terminate();
  server.terminate();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
