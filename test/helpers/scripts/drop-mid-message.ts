/**
 * A server connection with `messageStreams: true` whose application does what the README
 * shows, `message.pipe(dest)`, and nothing else: no 'error' listener on the message. The
 * peer (a raw socket over loopback TCP) sends the start of a message and drops. Prints one
 * JSON line per event, and `done` once the connection has closed and the loop has run a
 * few more turns; an uncaught error would end the process first, with a non-zero code.
 *
 * DROP=fragment: the peer sends one whole fragment (FIN clear), then drops.
 * DROP=frame: the peer sends a frame's header and part of its payload, then drops.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { Writable } from 'readable-stream';
import type { IncomingMessageStream } from '../../../lib/stream/incoming-message-stream.js';
import { WebSocketConnection } from '../../../lib/stream/websocket-connection.js';
import { encodeReference } from '../frames.js';
import { tcpPair } from '../tcp-pair.js';

const drop = process.env.DROP ?? 'fragment';
const log = (event: Record<string, unknown>): void => console.log(JSON.stringify(event));

const [ours, theirs] = await tcpPair();
const ws = new WebSocketConnection<IncomingMessageStream>(ours, {
  role: 'server',
  messageStreams: true,
});
let received = 0;
ws.on('data', (message: IncomingMessageStream) => {
  log({ event: 'message', type: message.type });
  message.once('close', () => log({ event: 'message closed', received }));
  message.pipe(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        callback();
      },
    }),
  );
});
const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));

const key = Buffer.from([1, 2, 3, 4]);
const payload = Buffer.alloc(1000, 0x61);
if (drop === 'fragment') {
  theirs.write(encodeReference({ opcode: 1, fin: false, payload, maskKey: key }));
} else {
  const frame = encodeReference({ opcode: 1, payload, maskKey: key });
  theirs.write(frame.subarray(0, frame.length - 400));
}
// The first bytes are read and handed out before the peer goes.
const started = Date.now();
while (received === 0) {
  if (Date.now() - started > 10_000) {
    log({ event: 'no payload handed out' });
    process.exit(2);
  }
  await tick();
}
theirs.destroy();

log({ event: 'close', code: await closed });
for (let i = 0; i < 5; i++) await tick();
log({ event: 'done' });
