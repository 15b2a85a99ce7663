import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { dumbIncrement, mountLwsProtocols } from '../../examples/lws-protocols.js';
import { WebSocketRouter, type WebSocketRouterRequest } from '../../lib/router.js';
import { LoopbackServer, nextMessage, until } from '../helpers/loopback-server.js';

let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof mountLwsProtocols>[1]) {
  server = new LoopbackServer();
  const router = new WebSocketRouter({ server: server.wss });
  const lines: string[] = [];
  const mirror = mountLwsProtocols(router, { ...options, log: (line) => lines.push(line) });
  await server.listen();
  return { s: server, mirror, lines };
}

describe('examples/lws-protocols.ts', () => {
  it('bounds the mirror history in bytes, dropping the oldest commands', async () => {
    const { s, mirror } = await start({ maxHistoryBytes: 60 });
    const a = await s.connect('/', { protocols: ['lws-mirror-protocol'] });
    for (let i = 0; i < 10; i++) {
      a.write(`c #000000 ${i} ${i} 10;`); // 19 bytes each
      await nextMessage(a);
    }
    expect(mirror.history).toEqual(['c #000000 7 7 10;', 'c #000000 8 8 10;', 'c #000000 9 9 10;']);
    a.write('x'.repeat(61)); // larger than the whole history: mirrored, not remembered
    expect(await nextMessage(a)).toBe('x'.repeat(61));
    expect(mirror.history).toHaveLength(3);
    const b = await s.connect('/', { protocols: ['lws-mirror-protocol'] });
    expect(await nextMessage(b)).toBe('c #000000 7 7 10;c #000000 8 8 10;c #000000 9 9 10;');
    expect(mirror.size).toBe(2);
    expect(mirror.received).toBe(11);
  });

  it('mirrors text only, and forgets a connection that leaves', async () => {
    const { s, mirror, lines } = await start({});
    const a = await s.connect('/', { protocols: ['lws-mirror-protocol'] });
    const b = await s.connect('/', { protocols: ['lws-mirror-protocol'] });
    a.write(Buffer.from('binary is ignored'));
    a.write('text;');
    expect(await nextMessage(b)).toBe('text;');
    b.end();
    await until(() => mirror.size === 1, 2_000, 'the room to forget b');
    await until(
      () => lines.some((l) => /disconnected, code: 1000, 0 messages/.test(l)),
      2_000,
      'log',
    );
  });

  it('skips the ticks of a slow reader instead of queueing them, and stops at close', async () => {
    // A stand-in connection: what dumbIncrement reads of it is isOpen and bufferedAmount.
    class FakeConnection extends EventEmitter {
      isOpen = true;
      bufferedAmount = 0;
      remoteAddress = '127.0.0.1';
      written: string[] = [];
      write(message: string): boolean {
        this.written.push(message);
        return true;
      }
    }
    const fake = new FakeConnection();
    const request = { origin: undefined, accept: () => fake } as unknown as WebSocketRouterRequest;
    dumbIncrement(request, { incrementInterval: 5, maxBufferedAmount: 100 });
    expect(fake.written).toEqual(['0']); // at once, as libwebsockets does
    await until(() => fake.written.length >= 3, 2_000, 'ticks');
    fake.bufferedAmount = 101; // the reader is behind
    const before = fake.written.length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(fake.written.length).toBe(before);
    fake.bufferedAmount = 0;
    await until(() => fake.written.length > before, 2_000, 'ticks to resume');
    expect(fake.written[before]).toBe(String(before)); // no number was lost, none skipped
    const resetAt = fake.written.length;
    fake.emit('data', 'reset\n');
    await until(() => fake.written.slice(resetAt).includes('0'), 2_000, 'the reset');
    fake.emit('close', 1000);
    const final = fake.written.length;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(fake.written.length).toBe(final);
  });
});
