/**
 * Three server processes with 300 connections each, one redis-server: a broadcast from any
 * process reaches all 900 connections exactly once, in order per publisher; topics with
 * members in every process; presence counts across processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from './helpers/backplane-peers.js';
import {
  BackplaneProcess,
  type Client,
  closeClients,
  eventually,
  openClients,
  sequence,
  stopWorkers,
} from './helpers/backplane-process.js';
import { RedisServer, stopAllRedis } from './helpers/redis-server.js';

const PER_PROCESS = 300;
let workers: BackplaneProcess[];
let clients: Client[][];

beforeAll(async () => {
  const redis = await RedisServer.start();
  const prefix = uniquePrefix();
  workers = await Promise.all(
    [0, 1, 2].map(() => BackplaneProcess.start({ redis: redis.url, prefix })),
  );
  clients = [];
  for (const worker of workers) clients.push(await openClients(worker.port, PER_PROCESS));
  for (const worker of workers) {
    await eventually(
      async () =>
        (await worker.request<{ connections: number }>({ cmd: 'stats' })).connections ===
        PER_PROCESS,
      10_000,
      () => 'every connection accepted',
    );
  }
}, 60_000);

afterAll(async () => {
  closeClients();
  await stopWorkers();
  await stopAllRedis();
});

const all = (): Client[] => clients.flat();

describe('3 processes x 300 connections', () => {
  it('a broadcast from each of two processes reaches all 900 connections exactly once, in order per publisher', async () => {
    const COUNT = 50;
    for (const c of all()) c.messages.length = 0;
    const [local0, local1] = await Promise.all([
      workers[0]!.request<number>({ cmd: 'broadcast', tag: 'p0', count: COUNT }),
      workers[1]!.request<number>({ cmd: 'broadcast', tag: 'p1', count: COUNT }),
    ]);
    expect(local0).toBe(COUNT * PER_PROCESS);
    expect(local1).toBe(COUNT * PER_PROCESS);
    await eventually(
      () => all().every((c) => c.messages.length >= 2 * COUNT),
      20_000,
      () => `${all().filter((c) => c.messages.length >= 2 * COUNT).length} of 900 complete`,
    );
    await new Promise((r) => setTimeout(r, 200)); // anything extra would show now
    const expected = Array.from({ length: COUNT }, (_, i) => i);
    for (const c of all()) {
      expect(c.messages).toHaveLength(2 * COUNT);
      expect(sequence(c.messages, 'p0')).toEqual(expected);
      expect(sequence(c.messages, 'p1')).toEqual(expected);
    }
    const stats = await Promise.all(
      workers.map((w) =>
        w.request<{ stats: { published: number; received: number; dropped: number } }>({
          cmd: 'stats',
        }),
      ),
    );
    expect(stats.map((s) => s.stats.published)).toEqual([COUNT, COUNT, 0]);
    expect(stats.map((s) => s.stats.received)).toEqual([COUNT, COUNT, 2 * COUNT]);
    expect(stats.map((s) => s.stats.dropped)).toEqual([0, 0, 0]);
  });

  it('a topic with members in every process: only members get its messages, each once; presence counts all', async () => {
    for (const c of all()) c.messages.length = 0;
    const joined = await Promise.all(
      workers.map((w, i) =>
        w.request<number>({ cmd: 'join', topic: 'room', count: 100 * (i + 1) }),
      ),
    );
    expect(joined).toEqual([100, 200, 300]);
    for (const worker of workers) {
      await eventually(
        async () => (await worker.request<number>({ cmd: 'size', topic: 'room' })) === 600,
        5_000,
        () => 'presence 600 seen from every process',
      );
    }
    expect(
      await workers[2]!.request<number>({ cmd: 'publish', topic: 'room', tag: 'r', count: 20 }),
    ).toBe(20 * 300);
    const members = (i: number) => clients[i]!.filter((c) => c.messages.length > 0);
    await eventually(
      () =>
        members(0).length === 100 &&
        members(1).length === 200 &&
        all().filter((c) => c.messages.length === 20).length === 600,
      10_000,
      () => `${all().filter((c) => c.messages.length === 20).length} members complete`,
    );
    await new Promise((r) => setTimeout(r, 200));
    const receivers = all().filter((c) => c.messages.length > 0);
    expect(receivers).toHaveLength(600);
    for (const c of receivers)
      expect(sequence(c.messages, 'r')).toEqual(Array.from({ length: 20 }, (_, i) => i));

    // Members that close leave the count in every process.
    for (const c of members(1).slice(0, 50)) c.ws.close();
    await eventually(
      async () => (await workers[0]!.request<number>({ cmd: 'size', topic: 'room' })) === 550,
      5_000,
      () => 'presence 550 after 50 members closed',
    );
  });
});
