import { once } from 'node:events';
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { CloseEvent } from '../../lib/web/close-event.js';
import { toWebSocket, WebSocket, type WebSocketShape } from '../../lib/web/web-socket.js';
import { formatExtensions } from '../../lib/web/web-socket-session.js';
import { until } from '../helpers/loopback-server.js';
import { within } from '../helpers/peers.js';
import { type ScenarioServer, startScenarioServer } from './scenario-server.js';

/**
 * WebSocket against real connections: event order and exact counts, close semantics on
 * every path, bufferedAmount, binaryType, Blobs, the handler attributes, Node-only options
 * and the server-side twin. Every wait is bounded.
 */

interface Recorded {
  type: string;
  readyState: number;
  data?: unknown;
  code?: number;
  reason?: string;
  wasClean?: boolean;
  className: string;
}

/** Records every event of a WebSocket; `closed` settles at its close event (bounded by `within`). */
function record(ws: WebSocket): { events: Recorded[]; closed: Promise<void> } {
  const events: Recorded[] = [];
  const closed = new Promise<void>((resolve) => {
    for (const type of ['open', 'message', 'error', 'close'] as const) {
      ws.addEventListener(type, (event: Event) => {
        const entry: Recorded = {
          type,
          readyState: ws.readyState,
          className: event.constructor.name,
        };
        if (event instanceof MessageEvent) entry.data = event.data;
        if (event instanceof CloseEvent) {
          entry.code = event.code;
          entry.reason = event.reason;
          entry.wasClean = event.wasClean;
        }
        events.push(entry);
        if (type === 'close') resolve();
      });
    }
  });
  return { events, closed: within(closed, 10_000, 'the close event') };
}

function summary(events: readonly Recorded[]): string[] {
  return events.map((e) => {
    if (e.type === 'message') {
      const data = e.data;
      const shown =
        typeof data === 'string'
          ? JSON.stringify(data)
          : data instanceof ArrayBuffer
            ? `ArrayBuffer(${new Uint8Array(data).join(',')})`
            : data instanceof Blob
              ? `Blob(${data.size})`
              : String(data);
      return `message ${shown} @${e.readyState}`;
    }
    if (e.type === 'close')
      return `close ${e.code} ${JSON.stringify(e.reason)} clean=${e.wasClean} @${e.readyState}`;
    return `${e.type} @${e.readyState}`;
  });
}

function opened(ws: WebSocket): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('close', () => reject(new Error('closed before open')));
    }),
    10_000,
    'the open event',
  );
}

/** Resolves after `count` message events, with their data. */
function messages(ws: WebSocket, count: number): Promise<unknown[]> {
  const out: unknown[] = [];
  return within(
    new Promise<unknown[]>((resolve) => {
      ws.addEventListener('message', (event: MessageEvent) => {
        out.push(event.data);
        if (out.length === count) resolve(out);
      });
    }),
    20_000,
    `${count} messages`,
  );
}

const nextTask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let server: ScenarioServer;
const sockets: WebSocket[] = [];
/** Tracks a WebSocket so that afterEach closes it. */
function track<T extends WebSocket>(ws: T): T {
  sockets.push(ws);
  return ws;
}

beforeAll(async () => {
  server = await startScenarioServer();
});

afterEach(() => {
  for (const ws of sockets.splice(0)) {
    if (ws.readyState < WebSocket.CLOSING) ws.close();
  }
});

afterAll(async () => {
  await server.close();
});

describe('WebSocket: events and their order', () => {
  it('fires open once, each message once in order, then close once; readyState goes 0, 1, 2, 3', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`, 'echo-protocol'));
    const { events, closed } = record(ws);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    await opened(ws);
    expect([ws.protocol, ws.extensions]).toEqual(['echo-protocol', '']);
    ws.binaryType = 'arraybuffer';
    ws.send('one');
    ws.send(new Uint8Array([2]));
    ws.send('three');
    await until(() => events.length === 4, 5_000, 'three echoes');
    ws.close(4000, 'bye');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await closed;
    expect(summary(events)).toEqual([
      'open @1',
      'message "one" @1',
      'message ArrayBuffer(2) @1',
      'message "three" @1',
      // Our server answers with the code it received and no reason (RFC 6455 §5.5.1).
      'close 4000 "" clean=true @3',
    ]);
    expect(events.map((e) => e.className)).toEqual([
      'Event',
      'MessageEvent',
      'MessageEvent',
      'MessageEvent',
      'CloseEvent',
    ]);
    const serverSide = server.accepted.at(-1)!;
    await until(() => serverSide.destroyed, 5_000, 'the server side to close');
    expect([serverSide.closeCode, serverSide.closeReason, serverSide.wasClean]).toEqual([
      4000,
      'bye',
      true,
    ]);
  });

  it('fires each event in a task of its own: microtasks queued by a listener run before the next event', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const order: string[] = [];
    ws.addEventListener('message', (event: MessageEvent) => {
      order.push(`message ${event.data}`);
      queueMicrotask(() => order.push(`microtask after ${event.data}`));
    });
    await opened(ws);
    ws.send('a');
    ws.send('b');
    await until(() => order.length === 4, 5_000, 'two echoes');
    expect(order).toEqual(['message a', 'microtask after a', 'message b', 'microtask after b']);
  });

  it('hands the MessageEvent the origin of the URL and the data with its type', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const received = new Promise<MessageEvent>((resolve) => {
      ws.onmessage = (event) => resolve(event);
    });
    await opened(ws);
    ws.send('x');
    const event = await within(received, 5_000, 'the echo');
    expect(event).toBeInstanceOf(MessageEvent);
    expect([event.type, event.data, event.origin, event.target === ws]).toEqual([
      'message',
      'x',
      server.base,
      true,
    ]);
  });

  it('delivers no message after close(): the echoes of messages sent before it are dropped', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const { events, closed } = record(ws);
    ws.onopen = () => {
      ws.send('a');
      ws.send('b');
      ws.close(1000);
    };
    await closed;
    expect(summary(events)).toEqual(['open @1', 'close 1000 "" clean=true @3']);
  });

  it('reports a server-initiated close after the messages sent before it', async () => {
    const ws = track(new WebSocket(`${server.base}/greet-and-close`));
    const { events, closed } = record(ws);
    await closed;
    expect(summary(events)).toEqual([
      'open @1',
      'message "hello" @1',
      'message Blob(3) @1',
      'close 4001 "server bye" clean=true @3',
    ]);
  });

  it('calling close() again, while CLOSING or CLOSED, does nothing: one close event', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const { events, closed } = record(ws);
    await opened(ws);
    ws.close(4000);
    ws.close(4001, 'again');
    ws.close();
    await closed;
    ws.close(3000);
    await nextTask();
    expect(summary(events)).toEqual(['open @1', 'close 4000 "" clean=true @3']);
  });
});

describe('WebSocket: failures', () => {
  it.each<[string, string, string[] | undefined, string[]]>([
    [
      'a refused handshake (403)',
      '/refuse',
      undefined,
      ['error @3', 'close 1006 "" clean=false @3'],
    ],
    [
      'a 101 that names none of the offered subprotocols',
      '/raw/no-protocol',
      ['p1'],
      ['error @3', 'close 1006 "" clean=false @3'],
    ],
    [
      'invalid UTF-8 from the peer',
      '/raw/invalid-utf8',
      undefined,
      ['open @1', 'error @3', 'close 1006 "" clean=false @3'],
    ],
    // The connection was not failed: browsers fire no error for a peer that drops TCP.
    [
      'the peer dropping TCP after a message',
      '/raw/drop',
      undefined,
      ['open @1', 'message "bye" @1', 'close 1006 "" clean=false @3'],
    ],
    [
      'a Close without a body from the peer',
      '/raw/empty-close',
      undefined,
      ['open @1', 'message "x" @1', 'close 1005 "" clean=true @3'],
    ],
  ])('%s', async (_name, path, protocols, expected) => {
    const ws = track(new WebSocket(`${server.base}${path}`, protocols));
    const { events, closed } = record(ws);
    await closed;
    expect(summary(events)).toEqual(expected);
  });

  it('close() while CONNECTING fails the connection: CLOSING at once, then error and close 1006, no open', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const { events, closed } = record(ws);
    ws.close(4000, 'never mind');
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    await closed;
    expect(summary(events)).toEqual(['error @3', 'close 1006 "" clean=false @3']);
    expect(events.map((e) => e.className)).toEqual(['Event', 'CloseEvent']);
  });

  it('a connection refused at TCP level fails the same way, telling nothing more', async () => {
    const ws = track(new WebSocket('ws://127.0.0.1:1/'));
    const { events, closed } = record(ws);
    await closed;
    expect(summary(events)).toEqual(['error @3', 'close 1006 "" clean=false @3']);
  });

  it('a message over a Node-only limit fails the connection (1009 to the peer, 1006 here)', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`, { maxReceivedMessageSize: 4 }));
    const { events, closed } = record(ws);
    await opened(ws);
    ws.send('12345');
    await closed;
    expect(summary(events)).toEqual(['open @1', 'error @3', 'close 1006 "" clean=false @3']);
    const serverSide = server.accepted.at(-1)!;
    await until(() => serverSide.destroyed, 5_000, 'the server side to close');
    expect(serverSide.closeCode).toBe(1009);
  });
});

describe('WebSocket: bufferedAmount', () => {
  it('counts UTF-8 and byte lengths at once, changes only between tasks, and reaches 0', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    await opened(ws);
    ws.send('héllo'); // 6 bytes of UTF-8
    ws.send(new Uint8Array(10));
    ws.send(new Blob(['abc']));
    ws.send(new ArrayBuffer(4));
    ws.send(new DataView(new ArrayBuffer(8), 2, 3)); // the view's 3 bytes, not its buffer's 8
    ws.send('\uD800'); // a lone surrogate is sent as U+FFFD: 3 bytes
    expect(ws.bufferedAmount).toBe(29);
    await Promise.resolve();
    await Promise.resolve();
    expect(ws.bufferedAmount).toBe(29);
    await until(() => ws.bufferedAmount === 0, 5_000, 'bufferedAmount 0');
  });

  it('keeps counting what is sent while CLOSING and CLOSED, which is not sent', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const { events, closed } = record(ws);
    await opened(ws);
    ws.close(1000);
    ws.send('12345');
    expect(ws.bufferedAmount).toBe(5);
    await closed;
    ws.send(new Uint8Array(7));
    expect(ws.bufferedAmount).toBe(12);
    await nextTask();
    expect(ws.bufferedAmount).toBe(12);
    expect(events.filter((e) => e.type === 'message')).toEqual([]);
  });

  it('stays up while the peer does not read (backpressure is visible) and drains when it does', async () => {
    const ws = track(new WebSocket(`${server.base}/sink`));
    await opened(ws);
    const sink = server.accepted.at(-1)!;
    const piece = new Uint8Array(64 * 1024);
    const total = 16 * 1024 * 1024;
    for (let sent = 0; sent < total; sent += piece.length) ws.send(piece);
    expect(ws.bufferedAmount).toBe(total);
    // The peer reads nothing: its connection and TCP fill, and most bytes stay queued here.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stalled = ws.bufferedAmount;
    expect(stalled).toBeGreaterThan(total / 2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ws.bufferedAmount).toBe(stalled);
    let received = 0;
    sink.on('data', (message: Buffer) => {
      received += message.length;
    });
    await until(() => ws.bufferedAmount === 0, 20_000, 'bufferedAmount 0 once the peer reads');
    await until(() => received === total, 20_000, 'every byte at the peer');
  });
});

describe('WebSocket: binaryType and what send() takes', () => {
  it("hands binary messages out as Blobs by default and as ArrayBuffers after 'arraybuffer', as set when each is fired", async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    await opened(ws);
    expect(ws.binaryType).toBe('blob');
    const got: unknown[] = [];
    ws.addEventListener('message', (event: MessageEvent) => {
      got.push(event.data);
      ws.binaryType = got.length === 1 ? 'arraybuffer' : 'blob';
    });
    ws.send(new Uint8Array([1]));
    ws.send(new Uint8Array([2]));
    ws.send(new Uint8Array([3]));
    await until(() => got.length === 3, 5_000, 'three echoes');
    expect(got[0]).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (got[0] as Blob).arrayBuffer())).toEqual(new Uint8Array([1]));
    expect(got[1]).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(got[1] as ArrayBuffer)).toEqual(new Uint8Array([2]));
    expect(got[2]).toBeInstanceOf(Blob);
    (ws as { binaryType: string }).binaryType = 'nonsense';
    expect(ws.binaryType).toBe('blob');
  });

  it('keeps the order of sends when a Blob is read asynchronously, and copies bytes at send time', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    ws.binaryType = 'arraybuffer';
    await opened(ws);
    const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 31) & 0xff);
    const reused = new Uint8Array([9, 9, 9]);
    const echoes = messages(ws, 7);
    ws.send('first');
    ws.send(new Blob([big]));
    ws.send('after the big blob');
    ws.send(new Blob([]));
    ws.send(reused);
    reused.fill(0); // after send(): must not change what was sent
    ws.send(new Blob(['tail']));
    ws.send(42 as unknown as string);
    const got = await echoes;
    expect(got[0]).toBe('first');
    expect(Buffer.from(got[1] as ArrayBuffer).equals(big)).toBe(true);
    expect(got[2]).toBe('after the big blob');
    expect((got[3] as ArrayBuffer).byteLength).toBe(0);
    expect(new Uint8Array(got[4] as ArrayBuffer)).toEqual(new Uint8Array([9, 9, 9]));
    expect(Buffer.from(got[5] as ArrayBuffer).toString()).toBe('tail');
    expect(got[6]).toBe('42');
  });

  it('sends a file-backed Blob (fs.openAsBlob) as one message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'web-blob-'));
    try {
      const file = join(dir, 'payload.bin');
      const bytes = Buffer.alloc(2 * 1024 * 1024 + 3, 0xab);
      await writeFile(file, bytes);
      const ws = track(new WebSocket(`${server.base}/echo`));
      ws.binaryType = 'arraybuffer';
      await opened(ws);
      const echo = messages(ws, 1);
      ws.send(await openAsBlob(file));
      expect(ws.bufferedAmount).toBe(bytes.length);
      const [data] = await echo;
      expect(Buffer.from(data as ArrayBuffer).equals(bytes)).toBe(true);
      await until(() => ws.bufferedAmount === 0, 5_000, 'bufferedAmount 0');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('WebSocket: event handler attributes', () => {
  it('keeps the place of the first set, replaces in place, and removes on null or a non-object', async () => {
    const ws = track(new WebSocket(`${server.base}/echo`));
    const calls: string[] = [];
    ws.addEventListener('message', () => calls.push('listener 1'));
    ws.onmessage = () => calls.push('handler A');
    ws.addEventListener('message', () => calls.push('listener 2'));
    ws.onmessage = function (this: WebSocketShape) {
      calls.push(this === ws ? 'handler B (this is the socket)' : 'handler B (wrong this)');
    };
    await opened(ws);
    ws.send('1');
    await until(() => calls.length === 3, 5_000, 'the first message');
    expect(calls).toEqual(['listener 1', 'handler B (this is the socket)', 'listener 2']);
    ws.onmessage = null;
    expect(ws.onmessage).toBeNull();
    ws.onmessage = () => calls.push('handler C');
    ws.send('2');
    await until(() => calls.length === 6, 5_000, 'the second message');
    expect(calls.slice(3)).toEqual(['listener 1', 'listener 2', 'handler C']);
    (ws as { onmessage: unknown }).onmessage = 5;
    expect(ws.onmessage).toBeNull();
    const notCallable = { handleEvent: () => calls.push('never') };
    (ws as { onmessage: unknown }).onmessage = notCallable;
    expect(ws.onmessage).toBe(notCallable);
    ws.send('3');
    await until(() => calls.length === 8, 5_000, 'the third message');
    expect(calls.slice(6)).toEqual(['listener 1', 'listener 2']);
  });

  it('has the four constants on the class and on instances, read-only', () => {
    const ws = track(new WebSocket('ws://127.0.0.1:1/'));
    expect([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED]).toEqual([
      0, 1, 2, 3,
    ]);
    expect([ws.CONNECTING, ws.OPEN, ws.CLOSING, ws.CLOSED]).toEqual([0, 1, 2, 3]);
    expect(() => {
      (WebSocket as unknown as { OPEN: number }).OPEN = 5;
    }).toThrow(TypeError);
    expect(Object.prototype.toString.call(ws)).toBe('[object WebSocket]');
    expect(ws).toBeInstanceOf(EventTarget);
  });
});

describe('WebSocket: Node-only options', () => {
  it('sends the headers and origin given in the second argument, with the protocols', async () => {
    const ws = track(
      new WebSocket(`${server.base}/echo`, {
        protocols: ['echo-protocol'],
        headers: { authorization: 'Bearer t0k3n' },
        origin: 'https://app.example',
      }),
    );
    await opened(ws);
    const upgrade = server.upgrades.at(-1)!;
    expect([upgrade.authorization, upgrade.origin, upgrade['sec-websocket-protocol']]).toEqual([
      'Bearer t0k3n',
      'https://app.example',
      'echo-protocol',
    ]);
    expect(ws.protocol).toBe('echo-protocol');
  });

  it('reports the agreed extensions as the server wrote them', async () => {
    const ws = track(new WebSocket(`${server.base}/deflate`));
    await opened(ws);
    const serverSide = server.accepted.at(-1)!;
    expect(ws.extensions).toMatch(/^permessage-deflate/);
    expect(ws.extensions).toBe(formatExtensions(serverSide.extensions));
    const echo = messages(ws, 1);
    ws.send('x'.repeat(5000));
    expect(await echo).toEqual(['x'.repeat(5000)]);
  });

  it('an AbortSignal in the options aborts the handshake like close() while CONNECTING', async () => {
    const controller = new AbortController();
    const ws = track(new WebSocket(`${server.base}/echo`, { signal: controller.signal }));
    const { events, closed } = record(ws);
    controller.abort();
    await closed;
    expect(summary(events)).toEqual(['error @3', 'close 1006 "" clean=false @3']);
  });
});

describe('toWebSocket(connection): the server-side twin', () => {
  it('hands an accepted connection to standard code: open in the next task, messages, close', async () => {
    const before = server.accepted.length;
    const client = await connect(`${server.base}/sink`);
    await until(() => server.accepted.length > before, 5_000, 'the accept');
    const serverSide = server.accepted.at(-1)!;
    const ws = toWebSocket(serverSide, { url: `${server.base}/sink` });
    const { events, closed } = record(ws);
    expect(ws.readyState).toBe(WebSocket.CONNECTING);
    ws.onmessage = (event) => ws.send(`echo: ${event.data}`);
    await opened(ws);
    client.write('hi');
    const [reply] = (await within(once(client, 'data'), 5_000, 'the reply')) as [string];
    expect(reply).toBe('echo: hi');
    ws.close(4000, 'server done');
    client.resume();
    await closed;
    expect(summary(events)).toEqual(['open @1', 'message "hi" @1', 'close 4000 "" clean=true @3']);
    expect(ws.url).toBe(`${server.base}/sink`);
    await until(() => client.destroyed, 5_000, 'the client to close');
    expect([client.closeCode, client.closeReason]).toEqual([4000, 'server done']);
  });

  it('wraps a connection that already closed: open, then the close', async () => {
    const client = await connect(`${server.base}/echo`);
    const closing = once(client, 'close');
    client.close(4002, 'early');
    client.resume();
    await within(closing, 5_000, 'the close');
    const ws = toWebSocket(client as WebSocketConnection);
    const { events, closed } = record(ws);
    await closed;
    expect(ws.url).toBe('');
    expect(summary(events)).toEqual(['open @1', 'close 4002 "" clean=true @3']);
  });
});
