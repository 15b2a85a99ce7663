import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { collect, spawnCli, startCli, stopProcess, waitFor } from '../helpers/cli.js';

function nextMessage(ws: WebSocketConnection): Promise<unknown> {
  return once(ws, 'data').then(([message]) => message);
}

describe('wsdx listen', () => {
  it('by default prints what arrives (undecorated in a pipe) and sends stdin lines to the clients', async () => {
    const child = spawnCli(['listen', '0']);
    const done = collect(child, 15_000);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await waitFor(() => /listening on /.test(stderr), 10_000, 'the server');
    const url = /listening on (\S+)/.exec(stderr)![1]!;
    const ws = await connect(url);
    ws.write('text from the client');
    ws.write(Buffer.from([0, 1, 2, 255]));
    const reply = nextMessage(ws);
    child.stdin!.write('line from stdin\n');
    expect(await reply).toBe('line from stdin');
    ws.end();
    await once(ws, 'close');
    await waitFor(() => /#1 closed: 1000 normal/.test(stderr), 5_000, 'the close notice');
    child.stdin!.end();
    await stopProcess(child);
    const result = await done;
    expect(result.code).toBe(0);
    expect(
      result.stdout.equals(
        Buffer.concat([Buffer.from('text from the client\n'), Buffer.from([0, 1, 2, 255])]),
      ),
    ).toBe(true);
  });

  it('--broadcast sends every message to every other client, not back to its sender', async () => {
    const server = await startCli(['listen', '0', '--broadcast']);
    const [a, b, c] = await Promise.all([
      connect(server.url),
      connect(server.url),
      connect(server.url),
    ]);
    try {
      await waitFor(() => /#3 connected/.test(server.stderr()), 5_000, 'three clients');
      const heardByB = nextMessage(b!);
      const heardByC = nextMessage(c!);
      const heardByA: unknown[] = [];
      a!.on('data', (m: unknown) => heardByA.push(m));
      a!.write('to everyone else');
      expect(await Promise.all([heardByB, heardByC])).toEqual([
        'to everyone else',
        'to everyone else',
      ]);
      const back = nextMessage(a!);
      b!.write(Buffer.from('binary too'));
      expect(Buffer.from((await back) as Buffer).toString()).toBe('binary too');
      expect(heardByA).toHaveLength(1);
    } finally {
      for (const ws of [a, b, c]) ws!.end();
      await server.stop();
    }
  });

  it('closes every connection with 1001 on SIGTERM and exits 0', async () => {
    const server = await startCli(['listen', '0', '--echo']);
    const ws = await connect(server.url);
    ws.resume();
    const closed = once(ws, 'close');
    expect(await server.stop()).toBe(0);
    const [code, reason] = (await closed) as [number, string];
    expect(code).toBe(1001);
    expect(reason).toBe('Server shutting down');
  });
});
