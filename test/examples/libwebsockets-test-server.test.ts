import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { HandshakeError } from '../../lib/protocol/errors.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { type Child, startExample, startServerExample, stopAll } from '../helpers/child-process.js';
import { nextMessage } from '../helpers/loopback-server.js';

let server: Child;
let port: number;
const clients: WebSocketConnection[] = [];

beforeAll(async () => {
  ({ child: server, port } = await startServerExample('libwebsockets-test-server.ts'));
}, 30_000);
afterEach(() => {
  for (const ws of clients.splice(0)) ws.terminate();
});
afterAll(stopAll);

async function open(protocol?: string, path = '/'): Promise<WebSocketConnection> {
  const ws = await connect(`ws://127.0.0.1:${port}${path}`, {
    protocols: protocol === undefined ? [] : [protocol],
  });
  clients.push(ws);
  return ws;
}

/** Reads `count` messages, with the time each arrived. */
async function read(ws: WebSocketConnection, count: number): Promise<[string, number][]> {
  const out: [string, number][] = [];
  while (out.length < count) out.push([String(await nextMessage(ws)), Date.now()]);
  return out;
}

describe('examples/libwebsockets-test-server.ts (the demo): HTTP', () => {
  it('serves the page at / and its script, and 404 for anything else', async () => {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<canvas id="mirror"');
    expect(html).toContain('<script src="app.js">');
    const script = await fetch(`http://127.0.0.1:${port}/app.js`);
    expect(script.status).toBe(200);
    expect(await script.text()).toContain("'dumb-increment-protocol'");
    for (const path of ['/nothing', '/../package.json', '/%2e%2e/package.json', '/public/app.js']) {
      expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).toBe(404);
    }
  });
});

describe('the demo: dumb-increment-protocol', () => {
  it('counts up from 0 every 50 ms, and "reset\\n" starts it again', async () => {
    const ws = await open('dumb-increment-protocol');
    expect(ws.protocol).toBe('dumb-increment-protocol');
    const first = await read(ws, 10);
    expect(first.map(([n]) => n)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const span = first[9]![1] - first[0]![1];
    expect(span).toBeGreaterThanOrEqual(9 * 50 - 60); // timers may fire a little early or late
    expect(span).toBeLessThan(5_000); // generous: a loaded CI machine
    ws.write('reset\n');
    let value = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 10 && value !== 0; i++) value = Number(await nextMessage(ws));
    expect(value).toBe(0);
    await server.waitFor(/increment reset received/);
  });

  it('keeps one counter per connection', async () => {
    const a = await open('dumb-increment-protocol');
    await read(a, 5);
    const b = await open('dumb-increment-protocol');
    expect(await nextMessage(b)).toBe('0');
  });
});

describe('the demo: lws-mirror-protocol', () => {
  it('mirrors every text message to every connection, the sender included', async () => {
    const a = await open('lws-mirror-protocol');
    const b = await open('lws-mirror-protocol');
    a.write('clear;'); // start from an empty history, whatever ran before
    expect(await nextMessage(a)).toBe('clear;');
    expect(await nextMessage(b)).toBe('clear;');
    a.write('c #ff0000 100 50 20;');
    expect(await nextMessage(a)).toBe('c #ff0000 100 50 20;');
    expect(await nextMessage(b)).toBe('c #ff0000 100 50 20;');
    b.write('d #00ff00 1 2 3 4;');
    expect(await nextMessage(a)).toBe('d #00ff00 1 2 3 4;');
    expect(await nextMessage(b)).toBe('d #00ff00 1 2 3 4;');

    // A newcomer gets the history first, as one message; "clear;" empties it.
    const c = await open('lws-mirror-protocol');
    expect(await nextMessage(c)).toBe('c #ff0000 100 50 20;d #00ff00 1 2 3 4;');
    c.write('clear;');
    for (const ws of [a, b, c]) expect(await nextMessage(ws)).toBe('clear;');
    const d = await open('lws-mirror-protocol');
    a.write('c #0000ff 1 1 1;');
    expect(await nextMessage(d)).toBe('c #0000ff 1 1 1;'); // no history came before it
  });
});

describe('the demo: /echo and routing', () => {
  it('echoes text and binary at /echo, with any protocol or none', async () => {
    for (const protocol of [undefined, 'dumb-increment-protocol', 'anything']) {
      const ws = await open(protocol, '/echo');
      expect(ws.protocol).toBe(protocol ?? '');
      ws.write('hello');
      expect(await nextMessage(ws)).toBe('hello');
      ws.write(Buffer.from([1, 2, 3]));
      expect(await nextMessage(ws)).toEqual(Buffer.from([1, 2, 3]));
    }
  });

  it('answers 404 to a protocol it does not serve, or to none outside /echo', async () => {
    for (const protocol of ['nope', undefined]) {
      const err = await open(protocol).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HandshakeError);
      expect((err as HandshakeError).status).toBe(404);
    }
  });
});

describe('examples/libwebsockets-test-client.ts against the demo', () => {
  it('receives the increments, resets them once, and gets its circles mirrored back', async () => {
    const client = startExample('libwebsockets-test-client.ts', [
      `ws://127.0.0.1:${port}/`,
      '--count=30',
      '--reset-at=15',
      '--circles=10',
    ]);
    const { code } = await client.exited;
    expect(code, client.output).toBe(0);
    expect(client.lines[0]).toBe(
      `connected to ws://127.0.0.1:${port}/: dumb-increment-protocol and lws-mirror-protocol`,
    );
    expect(client.matching(/^increment \d+$/)).toHaveLength(30);
    expect(client.lines.at(-1)).toMatch(
      /^received 30 increments \(first 0, last \d+\), 1 reset\(s\) seen; mirror: 10 of 10 circles came back/,
    );
  });
});

describe('the demo: shutdown', () => {
  it('closes its connections with 1001 on SIGTERM and exits 0', async () => {
    const own = await startServerExample('libwebsockets-test-server.ts');
    const ws = await connect(`ws://127.0.0.1:${own.port}/`, {
      protocols: ['dumb-increment-protocol'],
    });
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.resume();
    await own.child.waitFor(/dumb-increment-protocol connection accepted/);
    const { code } = await own.child.stop('SIGTERM');
    expect(code).toBe(0);
    expect(await closed).toBe(1001);
  });
});
