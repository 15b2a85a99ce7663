import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { WebSocketError } from '../../lib/web/web-socket-error.js';
import { WebSocketStream, type WebSocketStreamChunk } from '../../lib/web/web-socket-stream.js';
import { until } from '../helpers/loopback-server.js';
import { within } from '../helpers/peers.js';
import { type ScenarioServer, startScenarioServer } from './scenario-server.js';
import { tcpInFlightLimit } from './tcp-buffers.js';

/**
 * WebSocketStream against real connections: the promises, what the streams yield and take,
 * every way of closing, the signal, backpressure both ways (at a small scale; the 1 GiB
 * run is backpressure.test.ts), and WebSocketStream.from on a server connection.
 */

let server: ScenarioServer;
const streams: WebSocketStream[] = [];
function track(stream: WebSocketStream): WebSocketStream {
  streams.push(stream);
  return stream;
}

/** What a settled promise gave, as a comparable value. */
async function settled(promise: Promise<unknown>): Promise<unknown> {
  try {
    return { resolves: await within(promise, 10_000, 'a promise to settle') };
  } catch (err) {
    if (err instanceof WebSocketError) {
      return { rejects: 'WebSocketError', closeCode: err.closeCode, reason: err.reason };
    }
    if (err instanceof DOMException) return { rejects: `DOMException ${err.name}` };
    return { rejects: String(err) };
  }
}

/** Waits for the next connection our server accepts after `before` of them. */
async function nextAccepted(before: number): Promise<WebSocketConnection> {
  await until(() => server.accepted.length > before, 5_000, 'the server to accept');
  return server.accepted[before]!;
}

beforeAll(async () => {
  server = await startScenarioServer();
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

afterAll(async () => {
  await server.close();
});

describe('WebSocketStream: opening and what the streams carry', () => {
  it('resolves opened with the two streams, the protocol and the extensions, in dictionary order', async () => {
    const wss = track(new WebSocketStream(`${server.base}/echo`, { protocols: ['echo-protocol'] }));
    expect(wss.url).toBe(`${server.base}/echo`);
    const info = await within(wss.opened, 5_000, 'opened');
    expect(Object.keys(info)).toEqual(['extensions', 'protocol', 'readable', 'writable']);
    expect([info.protocol, info.extensions]).toEqual(['echo-protocol', '']);
    expect(info.readable).toBeInstanceOf(ReadableStream);
    expect(info.writable).toBeInstanceOf(WritableStream);
    expect(Object.prototype.toString.call(wss)).toBe('[object WebSocketStream]');
  });

  it('reads text as strings and binary as ArrayBuffers; writes strings as text and bytes as binary', async () => {
    const wss = track(new WebSocketStream(`${server.base}/echo`));
    const { readable, writable } = await within(wss.opened, 5_000, 'opened');
    const writer = writable.getWriter();
    const reader = readable.getReader();
    const sent: unknown[] = [
      'héllo',
      new Uint8Array([1, 2, 3]),
      new Uint16Array([0x0102]).buffer,
      new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2),
      '',
      new Uint8Array(0),
      42,
    ];
    const got: unknown[] = [];
    for (const chunk of sent) {
      await within(writer.write(chunk as string), 5_000, 'a write');
      const { value } = await within(reader.read(), 5_000, 'a read');
      got.push(typeof value === 'string' ? value : [...new Uint8Array(value as ArrayBuffer)]);
    }
    expect(got).toEqual(['héllo', [1, 2, 3], [2, 1], [8, 9], '', [], '42']);
  });

  it('rejects a write of a Symbol (the chunk cannot be converted) and errors the writable', async () => {
    const wss = track(new WebSocketStream(`${server.base}/echo`));
    const { writable } = await within(wss.opened, 5_000, 'opened');
    const writer = writable.getWriter();
    expect(await settled(writer.write(Symbol('x') as unknown as string))).toEqual({
      rejects: expect.stringContaining('TypeError'),
    });
  });

  it('is async-iterable and composes with pipeThrough', async () => {
    const wss = track(new WebSocketStream(`${server.base}/greet-and-close`));
    const { readable } = await within(wss.opened, 5_000, 'opened');
    const described = readable.pipeThrough(
      new TransformStream<WebSocketStreamChunk, string>({
        transform(chunk, controller) {
          controller.enqueue(
            typeof chunk === 'string' ? `text ${chunk}` : `binary ${chunk.byteLength}`,
          );
        },
      }),
    );
    const out: string[] = [];
    for await (const line of described as unknown as AsyncIterable<string>) out.push(line);
    expect(out).toEqual(['text hello', 'binary 3']);
    expect(await settled(wss.closed)).toEqual({
      resolves: { closeCode: 4001, reason: 'server bye' },
    });
  });
});

describe('WebSocketStream: closing', () => {
  it('close({ closeCode, reason }) sends them; closed resolves, the readable ends, the writable refuses', async () => {
    const before = server.accepted.length;
    const wss = track(new WebSocketStream(`${server.base}/echo`));
    const { readable, writable } = await within(wss.opened, 5_000, 'opened');
    const serverSide = await nextAccepted(before);
    wss.close({ closeCode: 4000, reason: 'bye' });
    expect(await settled(wss.closed)).toEqual({ resolves: { closeCode: 4000, reason: '' } });
    expect([serverSide.closeCode, serverSide.closeReason]).toEqual([4000, 'bye']);
    expect(await readable.getReader().read()).toEqual({ done: true, value: undefined });
    expect(await settled(writable.getWriter().write('late'))).toEqual({
      rejects: 'DOMException InvalidStateError',
    });
  });

  it('delivers every message the peer sent before its Close, even to a reader that comes late', async () => {
    const before = server.accepted.length;
    const wss = track(new WebSocketStream(`${server.base}/sink`));
    const { readable } = await within(wss.opened, 5_000, 'opened');
    const serverSide = await nextAccepted(before);
    for (let i = 0; i < 40; i++) serverSide.write(`message ${i}`);
    serverSide.close(4005, 'that is all');
    serverSide.resume();
    // The reader starts later: the messages wait in the connection (and, past its small
    // buffer, in TCP), the Close behind them.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const got: unknown[] = [];
    for await (const message of readable as unknown as AsyncIterable<unknown>) got.push(message);
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `message ${i}`));
    expect(await settled(wss.closed)).toEqual({
      resolves: { closeCode: 4005, reason: 'that is all' },
    });
  });

  it("the writable's close() closes the connection and settles once the closing handshake is done", async () => {
    const before = server.accepted.length;
    const wss = track(new WebSocketStream(`${server.base}/echo`));
    const { writable, readable } = await within(wss.opened, 5_000, 'opened');
    const serverSide = await nextAccepted(before);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write('last words');
    expect(await reader.read()).toEqual({ done: false, value: 'last words' });
    await writer.write('never echoed');
    await within(writer.close(), 5_000, 'writer.close()');
    // Settled after the closing handshake: the server has the Close and has answered it.
    expect([serverSide.closeCode, serverSide.wasClean]).toEqual([1005, true]);
    expect(await settled(wss.closed)).toEqual({ resolves: { closeCode: 1005, reason: '' } });
    // The echo of the last message came after close(): it is not delivered.
    expect((await reader.read()).done).toBe(true);
  });

  it.each<
    [
      string,
      (info: { readable: ReadableStream; writable: WritableStream }) => Promise<void>,
      number,
    ]
  >([
    [
      'cancel() with a WebSocketError sends its code',
      (i) => i.readable.cancel(new WebSocketError('', { closeCode: 4002, reason: 'r' })),
      4002,
    ],
    [
      'abort() with a WebSocketError sends its code',
      (i) => i.writable.abort(new WebSocketError('', { closeCode: 4003 })),
      4003,
    ],
    [
      'abort() with another reason sends a Close without a code (the peer reports 1005)',
      (i) => i.writable.abort(new Error('boom')),
      1005,
    ],
    ['cancel() without a reason: a Close without a code (1005)', (i) => i.readable.cancel(), 1005],
  ])('%s', async (_name, act, code) => {
    const before = server.accepted.length;
    const wss = track(new WebSocketStream(`${server.base}/echo`));
    const info = await within(wss.opened, 5_000, 'opened');
    const serverSide = await nextAccepted(before);
    await act(info);
    expect(await settled(wss.closed)).toEqual({ resolves: { closeCode: code, reason: '' } });
    expect(serverSide.closeCode).toBe(code);
  });

  it('close() during the handshake: opened rejects with a WebSocketError, closed with 1006', async () => {
    const wss = track(new WebSocketStream(`${server.base}/echo`));
    wss.close({ closeCode: 4000 });
    expect(await settled(wss.opened)).toEqual({
      rejects: 'WebSocketError',
      closeCode: null,
      reason: '',
    });
    expect(await settled(wss.closed)).toEqual({
      rejects: 'WebSocketError',
      closeCode: 1006,
      reason: '',
    });
  });
});

describe('WebSocketStream: failures and the signal', () => {
  it.each<[string, string, string[] | undefined]>([
    ['a refused handshake', '/refuse', undefined],
    ['a 101 without the offered subprotocol', '/raw/no-protocol', ['p1']],
    ['a closed port', 'ws://127.0.0.1:1/', undefined],
  ])('%s: opened and closed reject', async (_name, where, protocols) => {
    const url = where.startsWith('ws:') ? where : `${server.base}${where}`;
    const wss = track(new WebSocketStream(url, { protocols }));
    expect(await settled(wss.opened)).toEqual({
      rejects: 'WebSocketError',
      closeCode: null,
      reason: '',
    });
    expect(await settled(wss.closed)).toEqual({
      rejects: 'WebSocketError',
      closeCode: 1006,
      reason: '',
    });
  });

  it('an unclean close errors both streams and closed with the same WebSocketError (1006)', async () => {
    const wss = track(new WebSocketStream(`${server.base}/raw/drop`));
    const { readable, writable } = await within(wss.opened, 5_000, 'opened');
    const reader = readable.getReader();
    expect(await reader.read()).toEqual({ done: false, value: 'bye' });
    const failure = await reader.read().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WebSocketError);
    expect((failure as WebSocketError).closeCode).toBe(1006);
    await expect(wss.closed).rejects.toBe(failure);
    await expect(writable.getWriter().write('x')).rejects.toBe(failure);
  });

  it('an aborted signal rejects both promises with its reason and attempts no connection', async () => {
    const upgrades = server.upgrades.length;
    const reason = new Error('no thanks');
    const wss = track(
      new WebSocketStream(`${server.base}/echo`, { signal: AbortSignal.abort(reason) }),
    );
    await expect(wss.opened).rejects.toBe(reason);
    await expect(wss.closed).rejects.toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.upgrades.length).toBe(upgrades);
  });

  it('aborting during the handshake rejects both promises with the reason', async () => {
    const controller = new AbortController();
    const wss = track(new WebSocketStream(`${server.base}/echo`, { signal: controller.signal }));
    controller.abort();
    expect(await settled(wss.opened)).toEqual({ rejects: 'DOMException AbortError' });
    expect(await settled(wss.closed)).toEqual({ rejects: 'DOMException AbortError' });
  });

  it('aborting after the handshake does nothing', async () => {
    const controller = new AbortController();
    const wss = track(new WebSocketStream(`${server.base}/echo`, { signal: controller.signal }));
    const { readable, writable } = await within(wss.opened, 5_000, 'opened');
    controller.abort();
    const writer = writable.getWriter();
    await writer.write('still open');
    expect(await readable.getReader().read()).toEqual({ done: false, value: 'still open' });
  });
});

describe('WebSocketStream: backpressure', () => {
  it('a reader that does not read stops the socket: the peer stalls; reading resumes it, every byte in order', async () => {
    const before = server.accepted.length;
    const wss = track(new WebSocketStream(`${server.base}/sink`));
    const { readable } = await within(wss.opened, 5_000, 'opened');
    const peer = await nextAccepted(before);
    const size = 64 * 1024;
    // Far more than what may lie between the two: the kernel's socket buffers (at most
    // tcpInFlightLimit()) and the reader's connection (16 messages).
    const bound = tcpInFlightLimit() + 16 * size;
    const total = Math.ceil((bound + 16 * 1024 * 1024) / size);
    let handedOver = 0;
    let refused = 0;
    let written = 0;
    const writeAll = async (): Promise<void> => {
      while (written < total) {
        const message = Buffer.alloc(size, written & 0xff);
        written++;
        if (!peer.write(message, () => handedOver++)) {
          refused++;
          await once(peer, 'drain');
        }
      }
    };
    const writing = writeAll();
    writing.catch(() => {}); // awaited below; a failed test must not leave it unhandled
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stalledAt = handedOver;
    expect(refused).toBeGreaterThan(0);
    expect(stalledAt * size).toBeLessThan(bound);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handedOver).toBe(stalledAt);
    let count = 0;
    const reader = readable.getReader();
    while (count < total) {
      const { value } = await within(reader.read(), 10_000, 'a message');
      const bytes = new Uint8Array(value as ArrayBuffer);
      expect([bytes.length, bytes[0], bytes[size - 1]]).toEqual([size, count & 0xff, count & 0xff]);
      count++;
    }
    await within(writing, 10_000, 'the peer to finish writing');
    expect(handedOver).toBe(total);
  });

  it("a write's promise waits while the peer does not read; desiredSize goes to 0", async () => {
    const before = server.accepted.length;
    const wss = track(new WebSocketStream(`${server.base}/sink`));
    const { writable } = await within(wss.opened, 5_000, 'opened');
    const peer = await nextAccepted(before);
    const writer = writable.getWriter();
    const chunk = new Uint8Array(256 * 1024);
    let resolved = 0;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 64; i++) writes.push(writer.write(chunk).then(() => void resolved++));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(resolved).toBeLessThan(64);
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    const stalled = resolved;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(resolved).toBe(stalled);
    peer.resume();
    await within(Promise.all(writes), 20_000, 'every write once the peer reads');
    expect(resolved).toBe(64);
  });
});

describe('WebSocketStream.from(connection): the server side', () => {
  it('echoes with readable.pipeTo(writable) on the server, for our client', async () => {
    const before = server.accepted.length;
    const client = track(new WebSocketStream(`${server.base}/sink`));
    const clientInfo = await within(client.opened, 5_000, 'opened');
    const serverSide = WebSocketStream.from(await nextAccepted(before));
    const { readable, writable } = await within(serverSide.opened, 5_000, 'the server side opened');
    const piping = readable.pipeTo(writable).catch(() => {});
    const writer = clientInfo.writable.getWriter();
    const reader = clientInfo.readable.getReader();
    const got: unknown[] = [];
    for (const message of ['a', new Uint8Array([1, 2]), 'c']) {
      await writer.write(message);
      const { value } = await reader.read();
      got.push(typeof value === 'string' ? value : [...new Uint8Array(value as ArrayBuffer)]);
    }
    expect(got).toEqual(['a', [1, 2], 'c']);
    client.close({ closeCode: 4000, reason: 'done' });
    expect(await settled(client.closed)).toEqual({ resolves: { closeCode: 4000, reason: '' } });
    expect(await settled(serverSide.closed)).toEqual({
      resolves: { closeCode: 4000, reason: 'done' },
    });
    await within(piping, 5_000, 'the pipe to end');
  });

  it('works for a connection made by connect() too', async () => {
    const connection = await connect(`${server.base}/echo`);
    const wss = track(WebSocketStream.from(connection));
    expect(wss.url).toBe('');
    const { readable, writable } = await within(wss.opened, 5_000, 'opened');
    await writable.getWriter().write('through from()');
    expect(await readable.getReader().read()).toEqual({ done: false, value: 'through from()' });
  });
});
