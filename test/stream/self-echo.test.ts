/**
 * ws.pipe(ws) without pipe()'s machinery: the shared listeners must do what Readable's
 * pipe() does for a stream piped into itself: echo each chunk, pause while write() says
 * the writable side is full and resume at 'drain', end the writable side at the readable
 * side's end (unless `end: false`), emit 'pipe' and 'unpipe', and undo all of it on unpipe.
 * First on a bare Duplex, then on a WebSocketConnection over an in-memory pair.
 */
import { Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Incoming } from '../../lib/stream/connection-events.js';
import { startSelfEcho, stopSelfEcho } from '../../lib/stream/self-echo.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf, connectionPair, readChunks } from '../helpers/connections.js';
import { settle } from '../helpers/stream-events.js';

/** An object-mode Duplex that keeps what is written; with `held`, it calls back when told. */
class Loop extends Duplex {
  readonly written: unknown[] = [];
  held = false;
  #pending: Array<() => void> = [];

  constructor(writableHighWaterMark = 16) {
    super({ objectMode: true, writableHighWaterMark });
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, callback: () => void): void {
    this.written.push(chunk);
    if (this.held) this.#pending.push(callback);
    else callback();
  }

  override _read(): void {}

  release(): void {
    this.held = false;
    const pending = this.#pending;
    this.#pending = [];
    for (const callback of pending) callback();
  }
}

function counted(stream: Duplex, event: string): { count: number; args: unknown[][] } {
  const out = { count: 0, args: [] as unknown[][] };
  stream.on(event, (...args: unknown[]) => {
    out.count++;
    out.args.push(args);
  });
  return out;
}

describe('startSelfEcho / stopSelfEcho on a Duplex', () => {
  it("echoes every chunk and emits 'pipe' once, with the stream as the source", async () => {
    const loop = new Loop();
    const pipe = counted(loop, 'pipe');
    startSelfEcho(loop, true);
    loop.push('a');
    loop.push(Buffer.from('b'));
    await tick();
    expect(loop.written).toEqual(['a', Buffer.from('b')]);
    expect(pipe.count).toBe(1);
    expect(pipe.args[0]![0]).toBe(loop);
  });

  it('pauses while write() returns false and resumes at drain', async () => {
    const loop = new Loop(1);
    loop.held = true;
    startSelfEcho(loop, true);
    loop.push('a');
    loop.push('b');
    loop.push('c');
    await tick();
    expect(loop.written).toEqual(['a']);
    expect(loop.isPaused()).toBe(true);
    loop.release();
    await settle();
    expect(loop.written).toEqual(['a', 'b', 'c']);
    expect(loop.isPaused()).toBe(false);
  });

  it("ends the writable side at the readable side's end", async () => {
    const loop = new Loop();
    const finish = counted(loop, 'finish');
    startSelfEcho(loop, true);
    loop.push('last');
    loop.push(null);
    await settle();
    expect(loop.written).toEqual(['last']);
    expect(loop.writableEnded).toBe(true);
    expect(finish.count).toBe(1);
  });

  it('with end: false, leaves the writable side open', async () => {
    const loop = new Loop();
    startSelfEcho(loop, false);
    loop.push(null);
    await settle();
    expect(loop.readableEnded).toBe(true);
    expect(loop.writableEnded).toBe(false);
  });

  it("stopSelfEcho removes its listeners, emits 'unpipe' once, and echoes nothing more", async () => {
    const loop = new Loop();
    const unpipe = counted(loop, 'unpipe');
    startSelfEcho(loop, true);
    expect(loop.listenerCount('data')).toBe(1);
    expect(loop.listenerCount('drain')).toBe(1);
    expect(loop.listenerCount('end')).toBe(1);
    stopSelfEcho(loop);
    expect(loop.listenerCount('data')).toBe(0);
    expect(loop.listenerCount('drain')).toBe(0);
    expect(loop.listenerCount('end')).toBe(0);
    expect(unpipe.count).toBe(1);
    expect(unpipe.args[0]![0]).toBe(loop);
    // As Readable.unpipe() leaves a source with no destination: paused, keeping what comes.
    expect(loop.isPaused()).toBe(true);
    loop.push('not echoed');
    loop.push(null);
    await settle();
    expect(loop.written).toEqual([]);
    expect(loop.writableEnded).toBe(false);
  });
});

const open: WebSocketConnection<Incoming>[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.destroy();
});

async function echoPair(server = {}, client = {}) {
  const pair = await connectionPair('memory', server, client);
  open.push(pair.server, pair.client);
  return pair;
}

describe('ws.pipe(ws) on a WebSocketConnection', () => {
  it('echoes text as text and binary as binary, one message per message', async () => {
    const { server, client } = await echoPair();
    const pipe = counted(server, 'pipe');
    expect(server.pipe(server)).toBe(server);
    const got = readChunks(client, 4);
    client.write('hello');
    client.write(Buffer.from([1, 2, 3]));
    client.write('');
    client.write(Buffer.alloc(0));
    expect(await got).toEqual(['hello', Buffer.from([1, 2, 3]), '', Buffer.alloc(0)]);
    expect(pipe.count).toBe(1);
  });

  it('keeps echoing, in order, when the echo has to wait for drain', async () => {
    const { server, client } = await echoPair({ writableHighWaterMark: 1 });
    server.pipe(server);
    let paused = 0;
    server.on('pause', () => paused++);
    const messages = Array.from({ length: 200 }, (_, i) => `message ${i} ${'x'.repeat(i * 50)}`);
    const got = readChunks(client, messages.length);
    for (const m of messages) client.write(m);
    expect(await got).toEqual(messages);
    expect(paused).toBeGreaterThan(0);
    expect(server.isPaused()).toBe(false);
  });

  it("ends with the peer: the peer's Close is answered and the echo connection closes cleanly", async () => {
    const { server, client } = await echoPair();
    server.pipe(server);
    const serverClosed = closeOf(server);
    const got = readChunks(client, 1);
    client.write('bye');
    expect(await got).toEqual(['bye']);
    client.resume();
    client.end();
    expect(await serverClosed).toEqual([1000, '']);
    expect(server.wasClean).toBe(true);
  });

  it('unpipe(ws) stops the echo, emits unpipe once, and later messages wait to be read', async () => {
    const { server, client } = await echoPair();
    const unpipe = counted(server, 'unpipe');
    server.pipe(server);
    const first = readChunks(client, 1);
    client.write('echoed');
    expect(await first).toEqual(['echoed']);
    expect(server.unpipe(server)).toBe(server);
    expect(unpipe.count).toBe(1);
    expect(server.listenerCount('data')).toBe(0);
    client.write('kept');
    await settle(10);
    // As after Readable.unpipe(): the source is paused, the message waits in its buffer.
    expect(server.read()).toBe('kept');
    const echoes: unknown[] = [];
    client.on('data', (m) => echoes.push(m));
    await settle(5);
    expect(echoes).toEqual([]);
  });

  it('unpipe() with no argument undoes the self-echo too; unpipe(other) does not', async () => {
    const { server, client } = await echoPair();
    server.pipe(server);
    server.unpipe(new Duplex({ write: (_c, _e, cb) => cb() }) as never);
    const got = readChunks(client, 1);
    client.write('still echoed');
    expect(await got).toEqual(['still echoed']);
    server.unpipe();
    expect(server.listenerCount('data')).toBe(0);
  });

  it("with deferCloseReply, the echo's end answers the peer's Close at once", async () => {
    const { server, client } = await echoPair({ deferCloseReply: true, closeTimeout: 60_000 });
    server.pipe(server);
    const serverClosed = closeOf(server);
    client.resume();
    client.end();
    expect(await serverClosed).toEqual([1000, '']);
  });

  it('pipe(ws, { end: false }): the readable end does not end the writable side', async () => {
    const { server, client } = await echoPair({ deferCloseReply: true, closeTimeout: 60_000 });
    server.pipe(server, { end: false });
    const got = readChunks(client, 1);
    client.write('x');
    expect(await got).toEqual(['x']);
    let closed = 0;
    server.on('close', () => closed++);
    client.resume();
    client.end();
    await new Promise((resolve) => server.once('end', resolve));
    await settle(5);
    // The reply waits for end(), which the echo did not call.
    expect(server.writableEnded).toBe(false);
    expect(closed).toBe(0);
    const serverClosed = closeOf(server);
    server.end();
    expect(await serverClosed).toEqual([1000, '']);
  });
});
