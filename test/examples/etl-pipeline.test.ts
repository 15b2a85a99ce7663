import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { startExample, stopAll } from '../helpers/child-process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-etl-'));
});
afterEach(stopAll);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A source server for the job, run by the test: it decides what the job receives. */
async function source(onConnect: (ws: WebSocketConnection) => void) {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
  wss.on('connect', onConnect);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      await wss.shutDown({ gracePeriod: 0 });
      server.close();
    },
  };
}

describe('examples/etl-pipeline.ts', () => {
  it('runs its own source and writes every valid reading to CSV', async () => {
    const out = join(dir, 'own.csv');
    const job = startExample('etl-pipeline.ts', [`--out=${out}`, '--records=2000']);
    const { code } = await job.exited;
    expect(code, job.output).toBe(0);
    // Every 97th reading is faulty: 2000 - floor(2000 / 97) = 1980 rows.
    expect(job.lines.at(-1)).toMatch(
      /^2000 messages from ws:\/\/127\.0\.0\.1:\d+\/: 1980 rows written to .*own\.csv, 20 faulty and 0 malformed dropped, in \d+ ms$/,
    );
    const lines = (await readFile(out, 'utf8')).trimEnd().split('\n');
    expect(lines[0]).toBe('id,sensor,celsius,fahrenheit,at');
    expect(lines).toHaveLength(1981);
    expect(lines[1]).toBe('1,sensor-1,15.20,59.36,2024-01-01T00:00:01.000Z');
    expect(lines.some((line) => line.startsWith('97,'))).toBe(false);
  });

  it('reads from a given URL, drops what is not JSON, and keeps the order', async () => {
    const src = await source((ws) => {
      ws.write(JSON.stringify({ id: 1, sensor: 'a', celsius: 0, at: 't1' }));
      ws.write('not json');
      ws.write(Buffer.from('binary'));
      ws.write(JSON.stringify({ id: 2, sensor: 'b,"x"', celsius: 100, at: 't2' }));
      ws.end();
    });
    try {
      const out = join(dir, 'given.csv');
      const job = startExample('etl-pipeline.ts', [src.url, `--out=${out}`]);
      expect((await job.exited).code, job.output).toBe(0);
      expect(job.lines.at(-1)).toMatch(/^4 messages .*: 2 rows written .*0 faulty and 2 malformed/);
      expect(await readFile(out, 'utf8')).toBe(
        'id,sensor,celsius,fahrenheit,at\n1,a,0.00,32.00,t1\n2,b__x_,100.00,212.00,t2\n',
      );
    } finally {
      await src.close();
    }
  });

  it('fails (exit 1) when the source breaks off mid-stream: the error reaches the pipeline', async () => {
    const src = await source((ws) => {
      ws.write(JSON.stringify({ id: 1, sensor: 'a', celsius: 1, at: 't' }));
      setTimeout(() => ws.terminate(), 50); // no closing handshake: 1006
    });
    try {
      const job = startExample('etl-pipeline.ts', [src.url, `--out=${join(dir, 'broken.csv')}`]);
      expect((await job.exited).code, job.output).toBe(1);
      expect(job.matching(/^\[stderr\] ETL failed: .*1006/)).toHaveLength(1);
    } finally {
      await src.close();
    }
  });
});
