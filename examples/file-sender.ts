/**
 * Sends a file over WebSocket as ONE binary message: `pipeline(file, meter,
 * ws.createMessageStream())` streams it as fragments with backpressure (a file larger
 * than memory goes through in constant memory), showing progress on a terminal and
 * printing its SHA-256; then it waits for the receiver's SHA-256 and compares.
 *
 * Run: node --import tsx examples/file-sender.ts FILE [ws://127.0.0.1:8080/]
 * (exit status 0 when the receiver's hash matches, 1 otherwise)
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connect } from '../lib/client.js';
import { formatBytes, TransferMeter } from './transfer-meter.js';

const [file, url = 'ws://127.0.0.1:8080/'] = process.argv.slice(2);
if (file === undefined) {
  console.error('Usage: file-sender.ts FILE [ws://host:port/]');
  process.exit(2);
}
const { size } = await stat(file);
const connection = await connect(url);
connection.on('error', (err: Error) => console.error(`Connection error: ${err.message}`));

connection.write(JSON.stringify({ name: basename(file), size }));
const meter = new TransferMeter({ label: `sending ${basename(file)}`, total: size });
await pipeline(createReadStream(file), meter, connection.createMessageStream({ binary: true }));
console.log(`sent ${basename(file)}: ${meter.bytes} bytes (${formatBytes(meter.bytes)})`);
console.log(`sha256 ${meter.sha256}`);

// The receiver answers once the file is on its disk; then we close (the loop ends at its Close).
let answer: string | undefined;
for await (const message of connection) {
  if (typeof message === 'string' && message.startsWith('sha256 ') && answer === undefined) {
    answer = message;
    connection.end();
  }
}
const [, theirs, theirBytes] = answer?.split(' ') ?? [];
if (theirs === meter.sha256 && Number(theirBytes) === meter.bytes) {
  console.log(`receiver sha256 ${theirs}: match`);
} else {
  console.log(`receiver sha256 ${theirs ?? '(none)'}: MISMATCH`);
  process.exitCode = 1;
}
