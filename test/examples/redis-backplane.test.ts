/**
 * examples/redis-backplane.ts: one command starts a redis-server and two node:cluster workers
 * sharing one port; connections spread over both workers reach each other through the
 * backplane, and presence counts across workers.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { requireProgram, startServerExample, stopAll } from '../helpers/child-process.js';

afterEach(stopAll);

interface ChatClient {
  ws: WebSocketConnection;
  received: Array<Record<string, unknown>>;
}

async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('examples/redis-backplane.ts', () => {
  it('joins two cluster workers on one port through a Redis it starts itself', async () => {
    requireProgram('/usr/bin/redis-server', 'redis-server');
    const { child, port } = await startServerExample('redis-backplane.ts', [], {
      env: { WORKERS: '2' },
    });
    const redisPort = Number(/Redis at redis:\/\/127\.0\.0\.1:(\d+)/.exec(child.output)![1]);
    const clients: ChatClient[] = [];
    for (let i = 0; i < 20; i++) {
      const ws = await connect(`ws://127.0.0.1:${port}/lobby`);
      const client: ChatClient = { ws, received: [] };
      ws.on('data', (m: string) => client.received.push(JSON.parse(m) as Record<string, unknown>));
      clients.push(client);
    }
    await until(() => clients.every((c) => c.received.length === 1), 5_000, 'welcomes');
    const workers = new Set(clients.map((c) => c.received[0]!.worker));
    expect(workers).toEqual(new Set([1, 2])); // the cluster's round robin spread them
    await until(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/rooms/lobby`);
        return ((await res.json()) as { online: number }).online === 20;
      },
      5_000,
      'presence across workers',
    );

    const sender = clients.find((c) => c.received[0]!.worker === 2)!;
    sender.ws.write('hi');
    sender.ws.write('/announce');
    await until(() => clients.every((c) => c.received.length === 4), 5_000, 'messages');
    await new Promise((r) => setTimeout(r, 100));
    for (const c of clients) {
      expect(c.received.slice(1, 3)).toEqual([
        { type: 'message', room: 'lobby', text: 'hi', worker: 2 },
        { type: 'message', room: 'lobby', text: '/announce', worker: 2 },
      ]);
      expect(c.received[3]).toEqual({ type: 'announce', text: 'hello from worker 2' });
      expect(c.received).toHaveLength(4);
    }
    for (const c of clients) c.ws.terminate();

    // Stopping the example stops its workers and its Redis.
    const { code } = await child.stop('SIGTERM');
    expect(code).toBe(0);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(redisPort, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });
});
