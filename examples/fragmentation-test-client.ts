/**
 * WebSocket-Node's fragmentation test client on this library, in raw mode
 * (assembleFragments: false): it asks the fragmentation test server for messages of
 * growing length, reads the frames themselves (one read is one frame), logs each one with
 * the seed's WebSocketFrame fields, and logs the throughput.
 *
 * In raw mode the connection's writable side takes frames too, so the requests are
 * written as WebSocketFrame objects (the seed's frame class is a Frame).
 *
 * Run: node --import tsx examples/fragmentation-test-client.ts [--host=127.0.0.1] [--port=8080]
 *        [--binary] [--length=100] [--count=N]
 * (--length is the first message's size; each next one is up to 1 KiB longer. --count
 * stops after N messages; without it the client runs until interrupted.)
 */
import { parseArgs } from 'node:util';
import { connect } from '../lib/client.js';
import { WebSocketFrame } from '../lib/compat/websocket-frame.js';
import type { Frame } from '../lib/protocol/frame.js';
import { Opcode } from '../lib/protocol/opcodes.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    binary: { type: 'boolean', default: false },
    length: { type: 'string', default: '100' },
    count: { type: 'string' },
  },
});
const count = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);

console.log('Connecting');
const connection = await connect(`ws://${values.host}:${values.port}/`, {
  protocols: ['fragmentation-test'],
  assembleFragments: false,
  maxReceivedFrameSize: 1024 * 1024,
  maxReceivedMessageSize: 128 * 1024 * 1024,
});
console.log('Connected');
connection.on('error', (err: Error) => console.log(`Connection Error: ${err.message}`));

let requestedLength = Number(values.length);
/** Asks for the next message: a text frame, built with the seed's frame class. */
function requestData(): void {
  const frame = new WebSocketFrame();
  frame.fin = true;
  frame.opcode = Opcode.Text;
  frame.binaryPayload = Buffer.from(
    `${values.binary ? 'sendBinaryMessage' : 'sendMessage'}|${requestedLength}`,
  );
  connection.write(frame);
  requestedLength += Math.ceil(Math.random() * 1024);
}

function flags(frame: WebSocketFrame): string {
  const set = (['fin', 'rsv1', 'rsv2', 'rsv3', 'mask'] as const).filter((name) => frame[name]);
  return set.length === 0 ? '---' : set.map((name) => `[${name.toUpperCase()}]`).join(' ');
}

const started = Date.now();
let windowStart = started;
let windowBytes = 0;
let totalBytes = 0;
let messageSize = 0;
let messages = 0;

requestData();
for await (const chunk of connection) {
  const frame = WebSocketFrame.from(chunk as Frame);
  console.log(
    `Frame: 0x${frame.opcode.toString(16)}; ${frame.length} bytes; Flags: ${flags(frame)}`,
  );
  messageSize += frame.length;
  if (!frame.fin) continue;
  console.log(`Total message size: ${messageSize} bytes.`);
  windowBytes += messageSize;
  totalBytes += messageSize;
  messageSize = 0;
  messages++;
  const now = Date.now();
  if (now - windowStart > 1000) {
    const kiBps = Math.round(windowBytes / 1024 / ((now - windowStart) / 1000));
    console.log(`                                     Throughput: ${kiBps} KBps`);
    windowStart = now;
    windowBytes = 0;
  }
  // After the last one, end() sends a Close; the loop ends when the server's Close comes.
  if (messages >= count) connection.end();
  else requestData();
}
const seconds = Math.max(Date.now() - started, 1) / 1000;
console.log(
  `${messages} messages, ${totalBytes} bytes in ${seconds.toFixed(3)} s: ${Math.round(totalBytes / 1024 / seconds)} KBps`,
);
