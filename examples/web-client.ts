/**
 * A client written against the web's APIs, as it would run in a browser: the standard
 * WebSocket by default, or WebSocketStream with --stream. It sends each word given on the
 * command line as a text message, and the bytes 1 2 3 as a binary one, prints every reply
 * with its type, and closes with 1000 once all have come back.
 *
 * Run: node --import tsx examples/web-client.ts [--stream] [URL] [WORD...]
 * (URL defaults to ws://127.0.0.1:8080/; try it against examples/web-stream-server.ts)
 */
import { parseArgs } from 'node:util';
import { WebSocket } from '../lib/web/web-socket.js';
import { WebSocketStream } from '../lib/web/web-socket-stream.js';

const { values, positionals } = parseArgs({
  options: { stream: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const url = positionals[0] ?? 'ws://127.0.0.1:8080/';
const words = positionals.length > 1 ? positionals.slice(1) : ['hello', 'world'];
const outgoing: Array<string | Uint8Array> = [...words, new Uint8Array([1, 2, 3])];

function describe(data: unknown): string {
  if (typeof data === 'string') return `text: ${data}`;
  if (data instanceof ArrayBuffer) return `binary: ${new Uint8Array(data).join(' ')}`;
  return `other: ${String(data)}`;
}

if (values.stream) {
  // WebSocketStream: await each reply; the promises carry the backpressure.
  const wss = new WebSocketStream(url);
  try {
    const { readable, writable } = await wss.opened;
    console.log('open (WebSocketStream)');
    const writer = writable.getWriter();
    const reader = readable.getReader();
    for (const message of outgoing) {
      await writer.write(message);
      const { value } = await reader.read();
      console.log(describe(value));
    }
    wss.close({ closeCode: 1000, reason: 'done' });
    const { closeCode } = await wss.closed;
    console.log(`closed ${closeCode}`);
  } catch (err) {
    console.log(`failed: ${(err as Error).name}`);
    process.exitCode = 1;
  }
} else {
  // The standard WebSocket: events, as in a browser.
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  let replies = 0;
  ws.onopen = () => {
    console.log('open (WebSocket)');
    for (const message of outgoing) ws.send(message);
  };
  ws.onmessage = (event) => {
    console.log(describe(event.data));
    if (++replies === outgoing.length) ws.close(1000, 'done');
  };
  ws.onerror = () => {
    console.log('failed: error event');
    process.exitCode = 1;
  };
  ws.onclose = (event) => console.log(`closed ${event.code}`);
}
