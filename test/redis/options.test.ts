/**
 * Wrong options and arguments get an InvalidArgumentError that says what is wrong; a Redis
 * that cannot be reached from the start leaves local delivery working and is reported.
 */
import { createClient } from 'redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import {
  type Backplane,
  BackplaneError,
  type BackplaneOptions,
  createBackplane,
} from '../../lib/redis/index.js';
import { LoopbackServer, nextMessage } from '../helpers/loopback-server.js';
import { closePeers, startPeer, uniquePrefix, waitUntil } from './helpers/backplane-peers.js';
import { freePort, RedisServer, stopAllRedis } from './helpers/redis-server.js';

const made: Backplane[] = [];
const unreachable = async (extra: Partial<BackplaneOptions> = {}) => {
  const backplane = createBackplane({
    redis: `redis://127.0.0.1:${await freePort()}`,
    reconnect: { minDelay: 20, maxDelay: 100 },
    ...extra,
  });
  made.push(backplane);
  return backplane;
};

afterEach(async () => {
  await Promise.all(made.splice(0).map((b) => b.close()));
  await closePeers();
});
afterAll(stopAllRedis);

describe('createBackplane() options', () => {
  it.each([
    ['no options', undefined, /options object/],
    ['a number for redis', { redis: 42 }, /redis must be a redis:\/\/ URL/],
    [
      'an http URL',
      { redis: 'http://127.0.0.1:6379' },
      /redis must be a redis:\/\/ or rediss:\/\/ URL/,
    ],
    ['not a URL', { redis: 'localhost' }, /redis must be a redis:\/\//],
    ['an empty node list', { redis: { nodes: [] } }, /redis.nodes must be a non-empty array/],
    ['a bad node URL', { redis: { nodes: ['redis://a:1', 'oops'] } }, /redis.nodes\[1\] must be/],
    ['an object that is no client', { redis: { publish: 1 } }, /node-redis client or cluster/],
    ['an empty prefix', { redis: 'redis://x', prefix: '' }, /prefix must be a non-empty string/],
    ['a huge prefix', { redis: 'redis://x', prefix: 'p'.repeat(2000) }, /at most 1024/],
    [
      'a zero maxMessageSize',
      { redis: 'redis://x', maxMessageSize: 0 },
      /maxMessageSize must be an integer from 1/,
    ],
    [
      'a string maxPendingPublishes',
      { redis: 'redis://x', maxPendingPublishes: '10' },
      /maxPendingPublishes/,
    ],
    [
      'a fractional maxPendingBytes',
      { redis: 'redis://x', maxPendingBytes: 1.5 },
      /maxPendingBytes/,
    ],
    [
      'a tiny presenceTtl',
      { redis: 'redis://x', presenceTtl: 10 },
      /presenceTtl must be at least 30 ms/,
    ],
    ['a negative commandTimeout', { redis: 'redis://x', commandTimeout: -5 }, /commandTimeout/],
    [
      'maxDelay below minDelay',
      { redis: 'redis://x', reconnect: { minDelay: 100, maxDelay: 50 } },
      /maxDelay \(50\)/,
    ],
    [
      'a reconnect that is no object',
      { redis: 'redis://x', reconnect: 5 },
      /reconnect must be an object/,
    ],
  ])('refuses %s with an InvalidArgumentError', (_name, options, message) => {
    const make = () => createBackplane(options as BackplaneOptions);
    expect(make).toThrow(InvalidArgumentError);
    expect(make).toThrow(message);
  });

  it('refuses wrong topic names, topic options and attach arguments', async () => {
    const backplane = await unreachable();
    const wrong: Array<[() => unknown, RegExp]> = [
      [() => backplane.topic(''), /topic name must be a non-empty string/],
      [() => backplane.topic(7 as unknown as string), /topic name/],
      [
        () => backplane.topic('t', { maxBufferedAmount: -1 }),
        /maxBufferedAmount must be a number >= 0/,
      ],
      [() => backplane.topic('t', { maxBufferedAmount: Number.NaN }), /maxBufferedAmount/],
      [
        () => backplane.topic('t', { onSlowReader: 'drop' as 'skip' }),
        /onSlowReader must be 'skip' or 'close'/,
      ],
      [
        () => backplane.topic('t', { slowReaderCloseCode: 1000 as 1008 }),
        /slowReaderCloseCode must be 1008 or 1013/,
      ],
      [() => backplane.attach({} as never), /attach takes a WebSocketServer/],
      [() => backplane.topic('t').add({} as never), /topic.add takes a WebSocketConnection/],
    ];
    for (const [call, message] of wrong) {
      expect(call).toThrow(InvalidArgumentError);
      expect(call).toThrow(message);
    }
    backplane.topic('same', { onSlowReader: 'close' }).createReadStream();
    expect(backplane.topic('same')).toBe(backplane.topic('same', { onSlowReader: 'close' }));
    expect(() => backplane.topic('same', { onSlowReader: 'skip' })).toThrow(
      /already exists with other options/,
    );
  });
});

describe('a Redis that cannot be reached', () => {
  it('leaves local delivery working, counts every publish as dropped, reports it once, and never crashes', async () => {
    const server = new LoopbackServer({ autoAcceptConnections: true, keepalive: false });
    await server.listen();
    try {
      const backplane = await unreachable();
      const degraded: BackplaneError[] = [];
      backplane.on('degraded', (err: BackplaneError) => degraded.push(err));
      backplane.attach(server.wss);
      const ws = await server.connect();
      await waitUntil(
        () => server.wss.connections.length === 1,
        2_000,
        () => 'connect',
      );
      await waitUntil(
        () => degraded.length > 0,
        5_000,
        () => 'degraded',
      );
      expect(server.wss.broadcast('local')).toBe(1);
      expect(await nextMessage(ws)).toBe('local');
      const room = backplane.topic('room');
      room.add(server.wss.connections[0]!);
      expect(room.publish('room message')).toBe(1);
      expect(await nextMessage(ws)).toBe('room message');
      expect(backplane.stats).toMatchObject({
        dropped: 2,
        published: 0,
        pendingPublishes: 0,
        outages: 1,
      });
      expect(backplane.isDegraded).toBe(true);
      expect(degraded).toHaveLength(1); // once per outage, however many reconnection attempts
      expect(degraded[0]!.reason).toBe('unavailable');
      expect(degraded[0]!.message).toMatch(/Redis is unavailable: .*ECONNREFUSED/);
      await expect(room.size()).rejects.toThrow(BackplaneError);
      await expect(room.size()).rejects.toThrow(/Redis is unavailable/);
      expect(ws.isOpen).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a write stream does not wait for a Redis that is away', async () => {
    const backplane = await unreachable();
    const stream = backplane.topic('t').createWriteStream();
    for (let i = 0; i < 1000; i++) stream.write(`m${i}`);
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    expect(backplane.stats.dropped).toBe(1000);
  });
});

describe('a node-redis client of the application', () => {
  it('is used (subscribing on a duplicate) and left open on close()', async () => {
    const redis = await RedisServer.start();
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      const prefix = uniquePrefix();
      const other = await startPeer({ redis: redis.url, prefix });
      const backplane = createBackplane({ redis: client, prefix });
      await backplane.ready();
      const reader = backplane.topic('t').createReadStream();
      await backplane.whenSubscribed();
      other.backplane.topic('t').publish('hi');
      for await (const m of reader) {
        expect(m).toBe('hi');
        break;
      }
      await backplane.close();
      expect(client.isReady).toBe(true);
      expect(await client.ping()).toBe('PONG');
      // Its own subscriber connection is gone with its subscriptions.
      expect(await redis.cli('PUBSUB', 'NUMSUB', `${prefix}:topic:t`)).toBe(`${prefix}:topic:t\n0`);
    } finally {
      await client.close();
    }
  });
});
