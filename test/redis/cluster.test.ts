/**
 * The backplane on a Redis Cluster (3 masters, no replicas, made with redis-cli --cluster
 * create): sharded pub/sub (SSUBSCRIBE/SPUBLISH), so that topics spread over the masters
 * instead of every message going through every node; presence on the topic's own slot.
 * Two server processes stand for two machines.
 */
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackplane } from '../../lib/redis/index.js';
import { closePeers, uniquePrefix } from './helpers/backplane-peers.js';
import {
  BackplaneProcess,
  type Client,
  closeClients,
  eventually,
  openClients,
  sequence,
  stopWorkers,
} from './helpers/backplane-process.js';
import { RedisClusterProcesses, stopAllRedis } from './helpers/redis-server.js';

let cluster: RedisClusterProcesses;
let prefix: string;
let workers: BackplaneProcess[];
let clients: Client[][];
const TOPICS = Array.from({ length: 12 }, (_, i) => `room-${i}`);

beforeAll(async () => {
  cluster = await RedisClusterProcesses.start(3);
  prefix = uniquePrefix();
  const config = { redis: { nodes: [cluster.urls[0]!] }, prefix };
  workers = await Promise.all([BackplaneProcess.start(config), BackplaneProcess.start(config)]);
  clients = [await openClients(workers[0]!.port, 24), await openClients(workers[1]!.port, 24)];
}, 60_000);

afterAll(async () => {
  closeClients();
  await stopWorkers();
  await closePeers();
  await stopAllRedis();
});

describe('Redis Cluster: sharded pub/sub', () => {
  it('carries broadcasts and topics between processes over SSUBSCRIBE/SPUBLISH, spread over the masters', async () => {
    await workers[0]!.request({ cmd: 'broadcast', tag: 'b', count: 10 });
    await eventually(
      () => clients.flat().every((c) => sequence(c.messages, 'b').length === 10),
      10_000,
      () => 'broadcast reached every connection',
    );
    for (const c of clients.flat())
      expect(sequence(c.messages, 'b')).toEqual([...Array(10).keys()]);

    // Every topic has two members in each process (the same two connections in every topic).
    for (const topic of TOPICS) {
      await Promise.all(workers.map((w) => w.request({ cmd: 'join', topic, count: 2 })));
    }
    for (const topic of TOPICS) {
      await workers[1]!.request({ cmd: 'publish', topic, tag: topic, count: 3 });
    }
    await eventually(
      () =>
        TOPICS.every(
          (topic) =>
            clients.flat().filter((c) => sequence(c.messages, topic).length === 3).length >= 4,
        ),
      10_000,
      () => 'every topic reached its members in both processes',
    );
    for (const topic of TOPICS) {
      const got = clients.flat().filter((c) => sequence(c.messages, topic).length > 0);
      // Two members in each process: the same two connections joined every topic.
      expect(got).toHaveLength(4);
      for (const c of got) expect(sequence(c.messages, topic)).toEqual([0, 1, 2]);
      expect(await workers[0]!.request<number>({ cmd: 'size', topic })).toBe(4);
    }

    // The channels are sharded channels, on more than one master.
    const perNode = await Promise.all(
      cluster.servers.map(async (s) =>
        (await s.cli('PUBSUB', 'SHARDCHANNELS', `${prefix}:*`)).split('\n').filter((l) => l !== ''),
      ),
    );
    const all = perNode.flat();
    for (const topic of TOPICS) expect(all).toContain(`${prefix}:topic:${topic}`);
    expect(all).toContain(`${prefix}:broadcast:*`);
    expect(perNode.filter((channels) => channels.length > 0).length).toBeGreaterThanOrEqual(2);
    // And none of them is a plain (cluster-wide) channel.
    for (const s of cluster.servers)
      expect(await s.cli('PUBSUB', 'CHANNELS', `${prefix}:*`)).toBe('');
  });

  it('takes a node-redis cluster of the application and leaves it open on close()', async () => {
    const own = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    own.on('error', () => {});
    await own.connect();
    try {
      const backplane = createBackplane({ redis: own, prefix });
      expect(backplane.sharded).toBe(true);
      await backplane.ready();
      const reader = backplane.topic('room-0').createReadStream();
      await backplane.whenSubscribed();
      await workers[0]!.request({ cmd: 'publish', topic: 'room-0', tag: 'own', count: 1 });
      let message: unknown;
      for await (const m of reader) {
        message = m;
        break;
      }
      expect(message).toBe('own:0');
      expect(await backplane.topic('room-0').size()).toBe(4);
      await backplane.close();
      expect(own.isOpen).toBe(true);
      expect(await own.sPublish(`${prefix}:topic:room-0`, 'still usable')).toBeGreaterThanOrEqual(
        0,
      );
    } finally {
      await own.close();
    }
  });
});
