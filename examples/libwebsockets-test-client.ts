/**
 * A client for libwebsockets' test protocols, like libwebsockets-test-client: it opens a
 * dumb-increment-protocol connection and prints the numbers the server counts up (sending
 * "reset\n" once, with --reset-at), and an lws-mirror-protocol connection on which it
 * draws circles and counts how many the server mirrors back. Works against
 * examples/libwebsockets-test-server.ts and against libwebsockets' own test server.
 *
 * Run: node --import tsx examples/libwebsockets-test-client.ts [ws://127.0.0.1:7681/]
 *        [--count=N] [--reset-at=K] [--circles=M]
 * (--count stops after N numbers; without it the client runs until interrupted. The exit
 * status is 0 when numbers came and every circle came back.)
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from '../lib/client.js';

const { values, positionals } = parseArgs({
  options: {
    count: { type: 'string' },
    'reset-at': { type: 'string' },
    circles: { type: 'string', default: '10' },
  },
  allowPositionals: true,
});
const url = positionals[0] ?? 'ws://127.0.0.1:7681/';
const count = values.count === undefined ? Number.POSITIVE_INFINITY : Number(values.count);
const resetAt = values['reset-at'] === undefined ? undefined : Number(values['reset-at']);
const circles = Number(values.circles);

const [dumb, mirror] = await Promise.all([
  connect(url, { protocols: ['dumb-increment-protocol'] }),
  connect(url, { protocols: ['lws-mirror-protocol'] }),
]);
console.log(`connected to ${url}: ${dumb.protocol} and ${mirror.protocol}`);
const stop = (): void => {
  dumb.end();
  mirror.end();
};
process.on('SIGINT', stop);

// The mirror: draw circles (a colour that marks them as ours), count those mirrored back.
const ours = new Set<string>();
const mark = `#${randomInt(0x1000000).toString(16).padStart(6, '0')}`;
for (let i = 0; i < circles; i++) {
  const command = `c ${mark} ${20 + ((i * 37) % 470)} ${20 + ((i * 53) % 215)} ${5 + (i % 20)};`;
  ours.add(command);
  mirror.write(command);
}
let mirrored = 0;
let othersSeen = 0;
const mirrorDone = (async () => {
  for await (const message of mirror) {
    if (typeof message !== 'string') continue;
    for (const command of message.split(';').filter((c) => c.trim() !== '')) {
      if (ours.has(`${command};`)) mirrored++;
      else othersSeen++;
    }
  }
})();

// The counter.
let received = 0;
let first: number | undefined;
let last: number | undefined;
let resets = 0;
for await (const message of dumb) {
  const value = Number(message);
  console.log(`increment ${value}`);
  if (last !== undefined && value < last) resets++;
  first ??= value;
  last = value;
  received++;
  if (received === resetAt) {
    console.log('sending reset');
    dumb.write('reset\n');
  }
  if (received >= count) stop();
}
await mirrorDone;

console.log(
  `received ${received} increments (first ${first}, last ${last}), ${resets} reset(s) seen; ` +
    `mirror: ${mirrored} of ${circles} circles came back, ${othersSeen} other commands seen`,
);
process.exitCode = received > 0 && mirrored === circles ? 0 : 1;
