/**
 * The seed README's client example on this library's streams: it sends a random number
 * every second and prints every text message that comes back. The connection is read
 * with `for await`, one message per iteration, and written with write(string) (a text
 * message).
 *
 * Run: node --import tsx examples/echo-client.ts [ws://127.0.0.1:8080/] [--count=N]
 * (--count stops after N echoes; without it the client runs until interrupted.)
 */
import { parseArgs } from 'node:util';
import { connect } from '../lib/client.js';

const { values, positionals } = parseArgs({
  options: { count: { type: 'string' }, interval: { type: 'string' } },
  allowPositionals: true,
});
const url = positionals[0] ?? 'ws://127.0.0.1:8080/';
const count = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
const interval = Number(values.interval ?? 1000);

let connection: Awaited<ReturnType<typeof connect>>;
try {
  connection = await connect(url, { protocols: ['echo-protocol'] });
} catch (err) {
  console.log(`Connect Error: ${(err as Error).message}`);
  process.exit(1);
}
console.log('WebSocket client connected');
connection.on('error', (err: Error) => console.log(`Connection Error: ${err.message}`));
connection.on('close', () => console.log('echo-protocol Connection Closed'));

const sendNumber = (): void => {
  if (!connection.isOpen) return;
  connection.write(String(Math.round(Math.random() * 0xffffff)));
  timer = setTimeout(sendNumber, interval);
};
let timer = setTimeout(sendNumber, 0);
process.on('SIGINT', () => connection.end());

let received = 0;
for await (const message of connection) {
  if (typeof message === 'string') console.log(`Received: '${message}'`);
  if (++received >= count) {
    clearTimeout(timer);
    connection.end(); // Close 1000; the loop ends when the server's Close arrives
  }
}
clearTimeout(timer);
