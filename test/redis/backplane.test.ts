/**
 * The backplane against a real redis-server, with several backplanes in this process standing
 * for several processes (each has its own Redis connections and origin): broadcasts, topics,
 * their streams, presence, malformed messages, slow readers. The same across real processes:
 * processes.test.ts; Redis failures: chaos.test.ts.
 */

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import { encodeEnvelope } from '../../lib/redis/envelope.js';
import { BackplaneError, BackplaneErrorReason, createBackplane } from '../../lib/redis/index.js';
import { closeOf } from '../helpers/connections.js';
import {
  closePeers,
  onlyConnection,
  quietPeriod,
  recorder,
  startPeer,
  uniquePrefix,
  waitUntil,
} from './helpers/backplane-peers.js';
import { RedisServer, stopAllRedis } from './helpers/redis-server.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterEach(closePeers);
afterAll(stopAllRedis);

const opts = (prefix: string, extra: object = {}) => ({ redis: redis.url, prefix, ...extra });

describe('wss.broadcast() through the backplane', () => {
  it('reaches every connection of every attached server exactly once, text as text and binary as binary', async () => {
    const prefix = uniquePrefix();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => startPeer(opts(prefix))));
    const clients = await Promise.all([a!, a!, b!, b!, c!].map((peer) => recorder(peer)));
    await waitUntil(
      () => c!.server.wss.connections.length === 1,
      2_000,
      () => 'connections',
    );

    expect(a!.server.wss.broadcast('hello')).toBe(2); // the local count
    a!.server.wss.broadcast(Buffer.from([0, 1, 2, 255]));
    await waitUntil(
      () => clients.every((r) => r.messages.length >= 2),
      5_000,
      () => clients.map((r) => r.messages.length).join(','),
    );
    await quietPeriod();
    for (const r of clients) expect(r.messages).toEqual(['hello', Buffer.from([0, 1, 2, 255])]);
    // The sender's process delivered without Redis and dropped its own copy from Redis.
    expect(a!.backplane.stats).toMatchObject({ published: 2, received: 0, dropped: 0 });
    expect(b!.backplane.stats).toMatchObject({ published: 0, received: 2 });
  });

  it('keeps servers attached under other names apart, and detach() makes a broadcast local again', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix), false);
    const b = await startPeer(opts(prefix), false);
    a.backplane.attach(a.server.wss, { name: 'chat' });
    b.backplane.attach(b.server.wss, { name: 'admin' });
    const other = await startPeer(opts(prefix), false);
    other.backplane.attach(other.server.wss, { name: 'chat' });
    const [ra, rb, ro] = await Promise.all([recorder(a), recorder(b), recorder(other)]);
    await waitUntil(
      () => other.server.wss.connections.length === 1,
      2_000,
      () => 'connect',
    );
    a.server.wss.broadcast('to chat');
    await waitUntil(
      () => ro.messages.length === 1,
      5_000,
      () => 'chat message',
    );
    await quietPeriod();
    expect(ra.messages).toEqual(['to chat']);
    expect(rb.messages).toEqual([]);

    a.backplane.detach(a.server.wss);
    a.server.wss.broadcast('local only');
    await waitUntil(
      () => ra.messages.length === 2,
      5_000,
      () => 'local message',
    );
    await quietPeriod();
    expect(ro.messages).toEqual(['to chat']);
    // And the server can be attached again (one relay at a time).
    a.backplane.attach(a.server.wss, { name: 'chat' });
    expect(() => a.backplane.attach(a.server.wss)).toThrow(InvalidArgumentError);
  });

  it('applies the broadcast maxBufferedAmount in every process, and refuses a message over maxMessageSize', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix, { maxMessageSize: 1024 }));
    const b = await startPeer(opts(prefix));
    const rb = await recorder(b);
    await waitUntil(
      () => b.server.wss.connections.length === 1,
      2_000,
      () => 'connect',
    );
    // A limit of -1 skips everyone (bufferedAmount is never below 0): it travelled.
    a.server.wss.broadcast('skipped', { maxBufferedAmount: -1 });
    a.server.wss.broadcast('delivered', { maxBufferedAmount: 0 });
    await waitUntil(
      () => rb.messages.length === 1,
      5_000,
      () => 'message',
    );
    await quietPeriod();
    expect(rb.messages).toEqual(['delivered']);
    expect(() => a.server.wss.broadcast('x'.repeat(1025))).toThrow(
      /larger than the backplane's maxMessageSize/,
    );
  });
});

describe('topics', () => {
  it('deliver to members in every process, leave on close, and count presence across processes', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix));
    const b = await startPeer(opts(prefix));
    const [ra1, ra2, rb1] = await Promise.all([recorder(a), recorder(a), recorder(b)]);
    const nonMember = await recorder(b);
    await waitUntil(
      () => b.server.wss.connections.length === 2,
      2_000,
      () => 'connect',
    );
    const roomA = a.backplane.topic('room:1');
    const roomB = b.backplane.topic('room:1');
    expect(a.backplane.topic('room:1')).toBe(roomA);
    for (const ws of a.server.wss.connections) expect(roomA.add(ws)).toBe(true);
    const bMember = b.server.wss.connections[0]!;
    expect(roomB.add(bMember)).toBe(true);
    expect(roomB.add(bMember)).toBe(false); // already in
    await Promise.all([a.backplane.whenSubscribed(), b.backplane.whenSubscribed()]);

    // Each process's own changes count at once; another's within a round trip.
    expect(await roomA.size()).toBeGreaterThanOrEqual(2);
    await sizeBecomes(roomB, 3);
    expect(await roomA.size()).toBe(3);
    expect(roomA.localSize).toBe(2);

    expect(roomB.publish('from b')).toBe(1);
    expect(roomA.publish(Buffer.from('from a'))).toBe(2);
    await waitUntil(
      () => ra1.messages.length + ra2.messages.length >= 4,
      5_000,
      () => `${ra1.messages.length} ${ra2.messages.length}`,
    );
    await quietPeriod();
    // Two publishers: no order between them (each one's own order is kept).
    for (const r of [ra1, ra2]) {
      expect(r.messages).toHaveLength(2);
      expect(r.messages).toEqual(expect.arrayContaining(['from b', Buffer.from('from a')]));
    }
    // On b only the member got them.
    const bReceived = [rb1, nonMember].map((r) => r.messages.length).sort();
    expect(bReceived).toEqual([0, 2]);

    // A member that closes leaves the topic (and the count).
    ra1.ws.close();
    await waitUntil(
      () => roomA.localSize === 1,
      5_000,
      () => `localSize ${roomA.localSize}`,
    );
    await sizeBecomes(roomB, 2);
    expect(roomB.remove(roomB.members[0]!)).toBe(true);
    await sizeBecomes(roomA, 1);
  });

  it('stream: pipeline(source, topic.createWriteStream()) reaches a createReadStream() elsewhere, in order', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix));
    const b = await startPeer(opts(prefix));
    const reader = b.backplane.topic('feed').createReadStream({ maxQueued: 4096 });
    const localReader = a.backplane.topic('feed').createReadStream({ maxQueued: 4096 });
    await b.backplane.whenSubscribed();
    const messages = Array.from({ length: 2000 }, (_, i) =>
      i % 2 === 0 ? `text ${i}` : Buffer.from(`bin ${i}`),
    );
    await pipeline(
      Readable.from(messages, { objectMode: true }),
      a.backplane.topic('feed').createWriteStream(),
    );
    const got: Array<string | Buffer> = [];
    for await (const m of reader) {
      got.push(m as string | Buffer);
      if (got.length === messages.length) break;
    }
    expect(got).toEqual(messages);
    // The publishing process's own reader got them too, locally, once each.
    const local: unknown[] = [];
    for await (const m of localReader) {
      local.push(m);
      if (local.length === messages.length) break;
    }
    expect(local).toEqual(messages.map((m) => (typeof m === 'string' ? m : Buffer.from(m))));
    expect(a.backplane.stats.dropped).toBe(0);
  });

  it('a read stream that is not read holds at most maxQueued messages and counts the rest', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix));
    const topic = a.backplane.topic('flood');
    const reader = topic.createReadStream({ maxQueued: 10 });
    for (let i = 0; i < 100; i++) topic.publish(`m${i}`);
    expect(reader.readableLength).toBe(10);
    expect(reader.dropped).toBe(90);
    expect(reader.read()).toBe('m0');
    reader.destroy();
    expect(() => topic.createReadStream({ maxQueued: 0 })).toThrow(InvalidArgumentError);
  });

  it('a write stream refuses a chunk that is not a message with a typed error', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix));
    const stream = a.backplane.topic('t').createWriteStream();
    const error = await new Promise<unknown>((resolve) => {
      stream.on('error', resolve);
      stream.write({ not: 'a message' });
    });
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(() => a.backplane.topic('t').publish(42 as unknown as string)).toThrow(
      InvalidArgumentError,
    );
  });

  it('skips a slow reader (or closes it with 1013) while the other members get every message promptly', async () => {
    for (const policy of ['skip', 'close'] as const) {
      const prefix = uniquePrefix();
      const a = await startPeer(opts(prefix));
      const fast = await recorder(a);
      const slow = await a.server.connect('/');
      slow.pause(); // reads nothing: its server-side queue grows once TCP is full
      await waitUntil(
        () => a.server.wss.connections.length === 2,
        2_000,
        () => 'connect',
      );
      const topic = a.backplane.topic(`slow-${policy}`, {
        maxBufferedAmount: 256 * 1024,
        onSlowReader: policy,
      });
      for (const ws of a.server.wss.connections) topic.add(ws);
      const payload = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const deadline = Date.now() + 15_000;
      const slowClosed = policy === 'close' ? closeOf(slow) : undefined;
      while (sent < 2000 && Date.now() < deadline) {
        const stats = a.backplane.stats;
        if (stats.slowSkipped + stats.slowClosed > 0 && sent >= 40) break;
        topic.publish(payload);
        sent++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const stats = a.backplane.stats;
      expect(policy === 'skip' ? stats.slowSkipped : stats.slowClosed).toBeGreaterThan(0);
      await waitUntil(
        () => fast.messages.length === sent,
        10_000,
        () => `${fast.messages.length}/${sent}`,
      );
      if (policy === 'close') {
        expect(topic.localSize).toBe(1);
        // Once it reads again it gets what was queued before, then the Close.
        slow.resume();
        const [code] = await slowClosed!;
        expect(code).toBe(1013);
      } else {
        expect(topic.localSize).toBe(2);
        expect(onlyOpen(a)).toBe(2);
      }
      // Memory held for the slow one stays near the limit (plus the message in hand).
      for (const ws of a.server.wss.connections) {
        expect(ws.bufferedAmount).toBeLessThan(256 * 1024 + 2 * payload.length + 64 * 1024);
      }
      await closePeers();
    }
  });
});

describe('messages from Redis that are not ours', () => {
  it('are refused with a typed error and counted, never delivered and never a crash', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix));
    const r = await recorder(a);
    await waitUntil(
      () => a.server.wss.connections.length === 1,
      2_000,
      () => 'connect',
    );
    const errors: unknown[] = [];
    a.backplane.on('error', (err) => errors.push(err));
    const raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
    try {
      const channel = `${prefix}:broadcast:*`;
      const origin = Buffer.alloc(8, 1);
      const badUtf8 = encodeEnvelope(origin, Buffer.from([0xc3, 0x28]));
      badUtf8[2] = 0; // claims text
      const badFlags = encodeEnvelope(origin, 'x');
      badFlags[2] = 0x80;
      for (const bad of [Buffer.from('garbage'), Buffer.alloc(0), badUtf8, badFlags]) {
        await raw.publish(channel, bad);
      }
      await raw.publish(channel, encodeEnvelope(origin, 'good'));
      await waitUntil(
        () => r.messages.length === 1,
        5_000,
        () => 'the good message',
      );
      await quietPeriod();
      expect(r.messages).toEqual(['good']);
      expect(a.backplane.stats.malformed).toBe(4);
      expect(errors).toHaveLength(4);
      for (const err of errors) {
        expect(err).toBeInstanceOf(BackplaneError);
        expect((err as BackplaneError).reason).toBe(BackplaneErrorReason.MalformedMessage);
        expect((err as BackplaneError).code).toBe('ERR_WS_BACKPLANE');
      }
      expect((errors[2] as Error).message).toMatch(/not valid UTF-8/);
      // Without an 'error' listener it is only counted.
      a.backplane.removeAllListeners('error');
      await raw.publish(channel, Buffer.from('more garbage'));
      await waitUntil(
        () => a.backplane.stats.malformed === 5,
        5_000,
        () => 'counted',
      );
      expect(r.ws.isOpen).toBe(true);
    } finally {
      await raw.close();
    }
  });
});

describe('a Redis that stops answering (SIGSTOP)', () => {
  it('bounds what awaits it: publishes beyond maxPendingPublishes are dropped and reported, a write stream waits, and all resumes on SIGCONT', async () => {
    const slow = await RedisServer.start();
    const prefix = uniquePrefix();
    const a = await startPeer({ redis: slow.url, prefix, maxPendingPublishes: 4 });
    const degraded: BackplaneError[] = [];
    a.backplane.on('degraded', (err: BackplaneError) => degraded.push(err));
    const restored: unknown[] = [];
    a.backplane.on('restored', (report) => restored.push(report));
    const topic = a.backplane.topic('t');
    process.kill(slow.pid, 'SIGSTOP');
    try {
      for (let i = 0; i < 10; i++) topic.publish(`m${i}`);
      expect(a.backplane.stats).toMatchObject({ pendingPublishes: 4, dropped: 6 });
      expect(degraded.map((e) => e.reason)).toEqual(['backlog']);
      // A writer waits for room instead of dropping.
      const stream = topic.createWriteStream();
      let written = false;
      stream.write('paced', () => {
        written = true;
      });
      await quietPeriod(200);
      expect(written).toBe(false);
      expect(a.backplane.stats.dropped).toBe(6);
      process.kill(slow.pid, 'SIGCONT');
      await waitUntil(
        () => written && restored.length === 1,
        5_000,
        () => 'resumed',
      );
      await waitUntil(
        () => a.backplane.stats.published === 5,
        5_000,
        () => 'published',
      );
      expect(a.backplane.stats).toMatchObject({ pendingPublishes: 0, dropped: 6, outages: 1 });
      expect(restored[0]).toMatchObject({ dropped: 6 });
    } finally {
      process.kill(slow.pid, 'SIGCONT');
      await slow.kill();
    }
  });
});

describe('close()', () => {
  it('removes its presence at once, ends readers, leaves connections open, and refuses further use', async () => {
    const prefix = uniquePrefix();
    const a = await startPeer(opts(prefix));
    const b = await startPeer(opts(prefix));
    const r = await recorder(a);
    await waitUntil(
      () => a.server.wss.connections.length === 1,
      2_000,
      () => 'connect',
    );
    const room = a.backplane.topic('room');
    room.add(onlyConnection(a));
    const reader = room.createReadStream();
    await sizeBecomes(b.backplane.topic('room'), 1);
    const ended = new Promise<void>((resolve) => reader.once('end', resolve));
    reader.resume();
    await a.backplane.close();
    await ended;
    expect(await b.backplane.topic('room').size()).toBe(0);
    expect(r.ws.isOpen).toBe(true);
    expect(() => a.backplane.topic('room')).toThrow(InvalidArgumentError);
    expect(() => room.publish('x')).toThrow(InvalidArgumentError);
    // The server's broadcast is local again.
    expect(a.server.wss.broadcast('still works')).toBe(1);
    await waitUntil(
      () => r.messages.length === 1,
      2_000,
      () => 'local broadcast',
    );
  });

  it('ready() rejects when closed before Redis was reached', async () => {
    const backplane = createBackplane({
      redis: 'redis://127.0.0.1:1',
      reconnect: { minDelay: 10, maxDelay: 20 },
    });
    const ready = backplane.ready();
    await backplane.close();
    await expect(ready).rejects.toBeInstanceOf(BackplaneError);
  });
});

/** Polls a topic's size until it is `expected` (another process's change takes a round trip). */
async function sizeBecomes(topic: { size(): Promise<number> }, expected: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  let last = await topic.size();
  while (last !== expected) {
    if (Date.now() > deadline) throw new Error(`size stayed ${last}, expected ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    last = await topic.size();
  }
}

function onlyOpen(peer: { server: { wss: { connections: Array<{ isOpen: boolean }> } } }): number {
  return peer.server.wss.connections.filter((ws) => ws.isOpen).length;
}
