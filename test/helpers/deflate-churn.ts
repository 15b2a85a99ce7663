/**
 * Opens and closes many compressed connections (our client to our server, over loopback)
 * and counts zlib handles before and after: run by test/integration/permessage-deflate in
 * a child process of its own (clean heap, `--expose-gc`), it prints one JSON line with
 * what it measured.
 *
 * Usage: node --expose-gc --import tsx test/helpers/deflate-churn.ts [count] [concurrency]
 *
 * Each connection sends one compressed message each way (2 KiB of JSON-like text, over
 * the 1 KiB threshold), then ends by one of ten paths, in turn: either side's end(),
 * destroy(), terminate(), its TCP socket vanishing under it, or (the last two) a large
 * message still being compressed when the socket vanishes. zlib handles are counted as
 * async resources of type ZLIB (created, and not yet destroyed), as the codec tests do.
 */
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { connect } from '../../lib/client.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { jsonText } from './deflate-wire.js';

/** The ways a connection ends, taken in turn. */
export const CLOSE_PATHS = [
  'client end()',
  'server end()',
  'client destroy()',
  'server destroy(err)',
  'client terminate()',
  'server terminate()',
  'client socket vanishes',
  'server socket vanishes',
  'client socket vanishes mid-compression',
  'server socket vanishes mid-compression',
] as const;

/** What the run prints, as one JSON line. */
export interface ChurnReport {
  count: number;
  concurrency: number;
  elapsedMs: number;
  /** ZLIB handles created during the run (4 per connection: each side deflates and inflates). */
  zlibCreated: number;
  zlibLiveBefore: number;
  /** Live right after the last connection closed, before any GC. */
  zlibLiveAfterClose: number;
  /** Live after the server shut down and the GC ran. */
  zlibLiveAfterGc: number;
  activeResourcesBefore: string[];
  activeResourcesAfter: string[];
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssAfterMiB: number;
  heapUsedBeforeMiB: number;
  heapUsedAfterMiB: number;
  /** Close codes seen by [client, server], counted per path. */
  codes: Record<string, Record<string, number>>;
  /** Echoes that came back wrong (must be 0). */
  badEchoes: number;
  /** Connections whose two 'close' events did not both come within 10 s (must be 0). */
  stuck: number;
  /** Server connections still listed after the run (must be 0). */
  serverConnectionsLeft: number;
  errors: string[];
}

const MiB = 1024 * 1024;

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('Run with --expose-gc');
  collect();
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function closed(ws: WebSocketConnection): Promise<number> {
  return new Promise((resolve) => {
    if (ws.closed) resolve(ws.closeCode);
    else ws.once('close', (code: number) => resolve(code));
  });
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function nextMessage(ws: WebSocketConnection): Promise<string | Buffer> {
  return new Promise((resolve, reject) => {
    const onData = (m: string | Buffer): void => {
      ws.removeListener('error', reject);
      resolve(m);
    };
    ws.once('data', onData);
    ws.once('error', reject);
  });
}

export async function runChurn(count: number, concurrency: number): Promise<ChurnReport> {
  const live = new Set<number>();
  let created = 0;
  const hook = createHook({
    init(id, type) {
      if (type !== 'ZLIB') return;
      created++;
      live.add(id);
    },
    destroy(id) {
      live.delete(id);
    },
  });
  hook.enable();

  const message = jsonText(2048, 3);
  const big = jsonText(4 * MiB, 4);
  const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({
    httpServer,
    autoAcceptConnections: true,
    perMessageDeflate: true,
    keepalive: false,
  });
  const serverSides = new Map<number, WebSocketConnection>();
  wss.on('connect', (ws: WebSocketConnection) => {
    const port = (ws.transport as net.Socket).remotePort ?? -1;
    serverSides.set(port, ws);
    // The echo: the first message goes back as it came; later ones are ignored.
    ws.once('data', (m: string | Buffer) => ws.write(m));
    ws.on('data', () => {});
  });
  httpServer.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(httpServer, 'listening');
  const port = (httpServer.address() as net.AddressInfo).port;

  const codes: Record<string, Record<string, number>> = {};
  const errors: string[] = [];
  let badEchoes = 0;
  let stuck = 0;

  await settle();
  const zlibLiveBefore = live.size;
  const activeResourcesBefore = process.getActiveResourcesInfo();
  const before = process.memoryUsage();
  let rssPeak = before.rss;
  const started = performance.now();

  const one = async (i: number): Promise<void> => {
    const path = CLOSE_PATHS[i % CLOSE_PATHS.length]!;
    const client = await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 10_000 });
    const localPort = (client.transport as net.Socket).localPort ?? -2;
    const server = serverSides.get(localPort);
    serverSides.delete(localPort);
    if (server === undefined) throw new Error(`no server side for port ${localPort}`);
    const echo = nextMessage(client);
    client.write(message);
    const got = await within(echo, 10_000);
    if (got !== message) badEchoes++;
    client.on('data', () => {});
    const both = Promise.all([closed(client), closed(server)]);
    switch (path) {
      case 'client end()':
        client.end();
        break;
      case 'server end()':
        server.end();
        break;
      case 'client destroy()':
        client.destroy();
        break;
      case 'server destroy(err)':
        server.destroy(new Error('churn'));
        break;
      case 'client terminate()':
        client.terminate();
        break;
      case 'server terminate()':
        server.terminate();
        break;
      case 'client socket vanishes':
        client.transport.destroy();
        break;
      case 'server socket vanishes':
        server.transport.destroy();
        break;
      case 'client socket vanishes mid-compression':
        client.write(big);
        setImmediate(() => client.transport.destroy());
        break;
      case 'server socket vanishes mid-compression':
        server.write(big);
        setImmediate(() => server.transport.destroy());
        break;
    }
    const result = await within(both, 10_000);
    if (result === 'timeout') {
      stuck++;
      client.terminate();
      server.terminate();
      return;
    }
    const key = `client ${result[0]}, server ${result[1]}`;
    codes[path] ??= {};
    codes[path][key] = (codes[path][key] ?? 0) + 1;
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        await one(i);
      } catch (err) {
        if (errors.length < 20) errors.push(`#${i}: ${(err as Error).message}`);
      }
      if (i % 500 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  const zlibLiveAfterClose = live.size;
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

  // A server connection leaves the server's list when its transport closes, which can come
  // a little after its 'close' event (after destroy(err) it still waits for the peer's Close):
  // what is left after a short bounded wait is a leak.
  const deadline = Date.now() + 2_000;
  while (wss.connections.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const serverConnectionsLeft = wss.connections.length;
  await wss.shutDown({ gracePeriod: 1_000 });
  await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  serverSides.clear();
  await settle();
  const after = process.memoryUsage();
  hook.disable();
  return {
    count,
    concurrency,
    elapsedMs: Math.round(elapsedMs),
    zlibCreated: created,
    zlibLiveBefore,
    zlibLiveAfterClose,
    zlibLiveAfterGc: live.size,
    activeResourcesBefore,
    activeResourcesAfter: process.getActiveResourcesInfo(),
    rssBeforeMiB: Math.round(before.rss / MiB),
    rssPeakMiB: Math.round(rssPeak / MiB),
    rssAfterMiB: Math.round(after.rss / MiB),
    heapUsedBeforeMiB: Math.round(before.heapUsed / MiB),
    heapUsedAfterMiB: Math.round(after.heapUsed / MiB),
    codes,
    badEchoes,
    stuck,
    serverConnectionsLeft,
    errors,
  };
}

// Run as a program: `node --expose-gc --import tsx deflate-churn.ts 10000 32`.
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const count = Number(process.argv[2] ?? 10_000);
  const concurrency = Number(process.argv[3] ?? 32);
  runChurn(count, concurrency).then(
    (report) => {
      process.stdout.write(`CHURN ${JSON.stringify(report)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`churn failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
