/**
 * Receives files over WebSocket and writes them to disk, each as it arrives: a client
 * (examples/file-sender.ts) sends a small JSON text message ({ name, size }) and then the
 * file as ONE binary message of any size. With `messageStreams: true` each message is a
 * Readable, so the file is piped to disk in constant memory, hashed on the way, and the
 * SHA-256 is printed and sent back for the sender to compare.
 *
 * Run: node --import tsx examples/file-receiver.ts [--port=8080] [--out=DIR]
 * (PORT works too; port 0 picks a free one. Files go to DIR, default ./received.)
 */
import { mkdir, open } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../lib/server.js';
import type { IncomingMessageStream } from '../lib/stream/incoming-message-stream.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';
import { formatBytes, TransferMeter } from './transfer-meter.js';

const { values } = parseArgs({
  options: { port: { type: 'string' }, out: { type: 'string', default: 'received' } },
});
const port = Number(values.port ?? process.env.PORT ?? 8080);
const outDir = resolve(values.out);
/** The metadata message is small; anything longer is not ours. */
const MAX_METADATA_BYTES = 4096;

await mkdir(outDir, { recursive: true });

const server = http.createServer((_request, response) => response.writeHead(404).end());
const wsServer = new WebSocketServer({
  httpServer: server,
  autoAcceptConnections: true,
  messageStreams: true, // each message a stream: files of any size go straight to disk
});

wsServer.on('connect', (connection) => {
  receiveFiles(connection).catch((err: Error) => {
    console.error(`Transfer from ${connection.remoteAddress} failed: ${err.message}`);
    connection.destroy(err);
  });
});

/** Reads (metadata, file) pairs until the client closes. */
async function receiveFiles(connection: WebSocketConnection<IncomingMessageStream>): Promise<void> {
  let metadata: { name: string; size: number | undefined } | undefined;
  for await (const message of connection) {
    if (!message.binary) {
      metadata = parseMetadata(await readText(message));
      continue;
    }
    const name = metadata?.name ?? 'upload.bin';
    const meter = new TransferMeter({ label: `receiving ${name}`, total: metadata?.size });
    const { path, file } = await createUnique(name);
    await pipeline(message, meter, file.createWriteStream());
    console.log(`received ${name}: ${meter.bytes} bytes (${formatBytes(meter.bytes)}) to ${path}`);
    console.log(`sha256 ${meter.sha256}`);
    connection.write(`sha256 ${meter.sha256} ${meter.bytes}`);
    metadata = undefined;
  }
}

async function readText(message: IncomingMessageStream): Promise<string> {
  let text = '';
  message.setEncoding('utf8');
  for await (const chunk of message) {
    text += chunk as string;
    if (text.length > MAX_METADATA_BYTES) throw new Error('Metadata message too long');
  }
  return text;
}

function parseMetadata(text: string): { name: string; size: number | undefined } {
  const value = JSON.parse(text) as { name?: unknown; size?: unknown };
  const name = typeof value.name === 'string' ? value.name : 'upload.bin';
  const size = typeof value.size === 'number' ? value.size : undefined;
  return { name, size };
}

/** Opens a new file in the output directory, never overwriting and never outside it. */
async function createUnique(name: string) {
  const safe =
    basename(name)
      .replace(/[^\w.-]/g, '_')
      .replace(/^\.+/, '') || 'upload.bin';
  for (let attempt = 0; attempt < 1000; attempt++) {
    const path = join(outDir, attempt === 0 ? safe : `${attempt}-${safe}`);
    try {
      return { path, file: await open(path, 'wx') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`Too many files named ${safe}`);
}

server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as AddressInfo;
  console.log(`Server is listening on port ${actual}; files go to ${outDir}`);
});
process.on('SIGINT', () => wsServer.shutDown().then(() => process.exit(0)));
process.on('SIGTERM', () => wsServer.shutDown().then(() => process.exit(0)));
