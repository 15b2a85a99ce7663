import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  listen,
  nextMessage,
  Resources,
  rawConnect,
  readHead,
  until,
  upgradeRequest,
  within,
} from './upgrade-helpers.js';

const resources = new Resources();
afterEach(() => resources.closeAll());

const CONNECTIONS = 1000;

/** Opens `n` client connections, `batch` at a time (a burst of 1000 SYNs would overflow nothing, but be polite). */
async function openClients(url: string, n: number, batch = 100): Promise<WebSocketConnection[]> {
  const clients: WebSocketConnection[] = [];
  for (let at = 0; at < n; at += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, n - at) }, () =>
        connect(url, { handshakeTimeout: 10_000 }),
      ),
    );
    for (const ws of opened) clients.push(resources.ws(ws));
  }
  return clients;
}

/** Collects the 'close' of each connection. */
function closeCodes(clients: WebSocketConnection[]): Array<[number, string]> {
  const codes: Array<[number, string]> = [];
  for (const ws of clients)
    ws.once('close', (code: number, reason: string) => codes.push([code, reason]));
  return codes;
}

/**
 * Collects garbage until memory figures settle: ArrayBuffer backing stores are freed by a
 * background sweeper, so one gc() alone leaves them counted for a while.
 */
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  return process.memoryUsage();
}

const MiB = 1024 * 1024;

describe('graceful shutdown', () => {
  it(`closes ${CONNECTIONS} open connections with 1001 and lets the process exit cleanly`, async () => {
    const serverModule = new URL('../../lib/server.ts', import.meta.url).href;
    const program = `
      import http from 'node:http';
      const { WebSocketServer } = await import(${JSON.stringify(serverModule)});
      const server = http.createServer();
      const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
      wss.on('connect', (ws) => ws.resume());
      server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () => {
        console.log('port ' + server.address().port);
      });
      process.stdin.once('data', async () => {
        process.stdin.destroy();
        const open = wss.connections.length;
        const started = Date.now();
        await wss.shutDown();
        server.close();
        console.log('done ' + open + ' ' + (Date.now() - started) + ' ' + wss.connections.length);
      });
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', program],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      let output = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        output += chunk;
      });
      await within(
        until(() => /port \d+/.test(output), 15_000, 'the child to listen'),
        16_000,
        'port',
      );
      const port = Number(/port (\d+)/.exec(output)?.[1]);

      const started = Date.now();
      const clients = await openClients(`ws://127.0.0.1:${port}/`, CONNECTIONS);
      const connectMs = Date.now() - started;
      const codes = closeCodes(clients);
      for (const ws of clients) ws.resume();

      const shutdownStarted = Date.now();
      child.stdin.write('shut down\n');
      await until(() => codes.length === CONNECTIONS, 10_000, 'every client to see its close');
      const [code, signal] = await within(exited, 10_000, 'the child to exit by itself');
      const totalMs = Date.now() - shutdownStarted;

      expect(
        codes.filter(([c, reason]) => c === 1001 && reason === 'Server shutting down'),
      ).toHaveLength(CONNECTIONS);
      expect(clients.filter((ws) => ws.wasClean)).toHaveLength(CONNECTIONS);
      expect(output).toMatch(new RegExp(`done ${CONNECTIONS} \\d+ 0`));
      expect(signal).toBeNull();
      expect(code).toBe(0);
      console.log(
        `shutdown: ${CONNECTIONS} connections opened in ${connectMs} ms; shutDown() ${/done \d+ (\d+)/.exec(output)?.[1]} ms ` +
          `in the server; all closed and the process exited in ${totalMs} ms`,
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('terminates the connections that do not answer within the grace period', async () => {
    const server = resources.http(http.createServer());
    const wss = resources.wss(
      new WebSocketServer({ httpServer: server, autoAcceptConnections: true }),
    );
    wss.on('connect', (ws: WebSocketConnection) => ws.resume());
    const port = await listen(server);
    const polite = await openClients(`ws://127.0.0.1:${port}/`, 20);
    const codes = closeCodes(polite);
    for (const ws of polite) ws.resume();
    // Raw clients that complete the handshake and then never answer anything.
    const deaf = [];
    for (let i = 0; i < 5; i++) {
      const socket = resources.socket(await rawConnect(port));
      socket.write(upgradeRequest('/'));
      expect((await readHead(socket)).status).toBe(101);
      socket.resume(); // reads (and ignores) the Close: it never answers
      deaf.push(socket);
    }
    const deafClosed = Promise.all(deaf.map((socket) => once(socket, 'close')));
    await until(() => wss.connections.length === 25, 2_000, 'all connections');
    const serverCloses: number[] = [];
    wss.on('close', (_ws: WebSocketConnection, code: number) => serverCloses.push(code));
    const started = Date.now();
    await within(wss.shutDown({ gracePeriod: 300 }), 3_000, 'shutDown');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
    await within(deafClosed, 2_000, 'the deaf sockets to be dropped');
    await until(() => codes.length === 20, 2_000, 'the polite clients');
    expect(codes.every(([code]) => code === 1001)).toBe(true);
    expect(serverCloses).toHaveLength(25);
    expect(serverCloses.filter((code) => code === 1006)).toHaveLength(5);
    expect(wss.connections).toHaveLength(0);
    expect(await wss.shutDown()).toBeUndefined(); // the same promise, already settled
  });

  it('closes every connection with closeAllConnections() and goes on accepting', async () => {
    const server = resources.http(http.createServer());
    const wss = resources.wss(
      new WebSocketServer({ httpServer: server, autoAcceptConnections: true }),
    );
    wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
    const port = await listen(server);
    const clients = await openClients(`ws://127.0.0.1:${port}/`, 3);
    const codes = closeCodes(clients);
    for (const ws of clients) ws.resume();
    wss.closeAllConnections();
    await until(() => codes.length === 3, 2_000, 'the closes');
    expect(codes).toEqual([
      [1000, ''],
      [1000, ''],
      [1000, ''],
    ]);
    const [next] = await openClients(`ws://127.0.0.1:${port}/`, 1);
    next!.write('still accepting');
    expect(await nextMessage(next!)).toBe('still accepting');
  });
});

describe('broadcast', () => {
  /**
   * Opens `n` clients to a fresh auto-accepting server; the first is the slow reader (it
   * reads nothing until told), the others count what they get.
   */
  async function fanOut(n: number) {
    const server = resources.http(http.createServer());
    const wss = resources.wss(
      new WebSocketServer({ httpServer: server, autoAcceptConnections: true }),
    );
    const port = await listen(server);
    const clients = await openClients(`ws://127.0.0.1:${port}/`, n);
    await until(() => wss.connections.length === n, 5_000, 'the server to see every connection');
    const [slow, ...fast] = clients as [WebSocketConnection, ...WebSocketConnection[]];
    const counts = new Map<WebSocketConnection, number>();
    for (const ws of fast) {
      counts.set(ws, 0);
      ws.on('data', () => counts.set(ws, (counts.get(ws) ?? 0) + 1));
    }
    const slowLocalPort = (slow.transport as unknown as { localPort: number }).localPort;
    const slowOnServer = wss.connections.find(
      (ws) => (ws.transport as unknown as { remotePort: number }).remotePort === slowLocalPort,
    );
    expect(slowOnServer).toBeDefined();
    return { wss, slow, fast, counts, slowOnServer: slowOnServer! };
  }

  /** Broadcasts numbered text messages, one per turn of the event loop, as a live feed would. */
  async function feed(wss: WebSocketServer, messages: number, size: number): Promise<number> {
    let queued = 0;
    const filler = 'x'.repeat(size - 8);
    for (let i = 0; i < messages; i++) {
      queued += wss.broadcast(`${String(i).padStart(8, '0')}${filler}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return queued;
  }

  /** Lets the slow reader read, and checks it gets every message in order. */
  async function catchUp(slow: WebSocketConnection, messages: number): Promise<void> {
    const received: string[] = [];
    slow.on('data', (message: string) => received.push(message.slice(0, 8)));
    await until(() => received.length === messages, 10_000, 'the slow reader to catch up');
    expect(received).toEqual(
      Array.from({ length: messages }, (_, i) => String(i).padStart(8, '0')),
    );
  }

  it(`reaches ${CONNECTIONS} connections while one slow reader does not hold the others back`, async () => {
    const { wss, slow, fast, counts, slowOnServer } = await fanOut(CONNECTIONS);
    const MESSAGES = 32;
    const SIZE = 1024;
    const started = Date.now();
    const queued = await feed(wss, MESSAGES, SIZE);
    await until(() => fast.every((ws) => counts.get(ws) === MESSAGES), 10_000, 'every fast reader');
    const fastMs = Date.now() - started;
    expect(queued).toBe(MESSAGES * CONNECTIONS);
    expect(
      wss.connections.filter((ws) => ws !== slowOnServer && ws.bufferedAmount > 0),
    ).toHaveLength(0);
    const unread = slow.readableLength;
    expect(unread).toBeLessThanOrEqual(16); // its own readable buffer, no more
    expect(slowOnServer.bufferedAmount).toBeLessThanOrEqual(MESSAGES * (SIZE + 4));
    await catchUp(slow, MESSAGES);
    console.log(
      `broadcast: ${MESSAGES} x ${SIZE} B to ${CONNECTIONS} connections; the ${CONNECTIONS - 1} fast readers ` +
        `had all of it after ${fastMs} ms while the slow one held ${unread} messages unread; ` +
        `it caught up at ${Date.now() - started} ms`,
    );
  });

  it('costs, for a slow reader, the bytes queued for it and nothing for the others', async () => {
    const { wss, slow, fast, counts, slowOnServer } = await fanOut(20);
    const MESSAGES = 128;
    const SIZE = 64 * 1024;
    const before = await settledMemory();
    const started = Date.now();
    await feed(wss, MESSAGES, SIZE);
    await until(() => fast.every((ws) => counts.get(ws) === MESSAGES), 10_000, 'every fast reader');
    const fastMs = Date.now() - started;
    const after = await settledMemory();
    const queued = slowOnServer.bufferedAmount;
    const sent = MESSAGES * (SIZE + 4);
    // Queued messages are held as the strings given to write() (in the heap) until the
    // socket takes them, then as encoded Buffers (arrayBuffers): count both.
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    const unread = slow.readableLength;
    // The slow reader's server side holds what the kernel would not take, never more than
    // was sent to it, and the process grew by about that much: the fast ones cost nothing
    // (all 20 together were sent 160 MiB).
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(sent);
    expect(grown).toBeLessThan(sent + 8 * MiB);
    expect(
      wss.connections.filter((ws) => ws !== slowOnServer && ws.bufferedAmount > 0),
    ).toHaveLength(0);
    await catchUp(slow, MESSAGES);
    console.log(
      `slow reader: ${MESSAGES} x ${SIZE / 1024} KiB text to 20 connections; the 19 others had all of it after ${fastMs} ms; ` +
        `the slow one's server connection had ${(queued / MiB).toFixed(1)} MiB queued of ${(sent / MiB).toFixed(1)} MiB sent ` +
        `(the rest in kernel socket buffers and its ${unread}-message readable buffer); ` +
        `process heap + arrayBuffers +${(grown / MiB).toFixed(1)} MiB ` +
        `(heap +${((after.heapUsed - before.heapUsed) / MiB).toFixed(1)}, arrayBuffers +${((after.arrayBuffers - before.arrayBuffers) / MiB).toFixed(1)})`,
    );
  });

  it('skips connections over maxBufferedAmount and writes Frames to raw-mode connections', async () => {
    const server = resources.http(http.createServer());
    const raw = resources.wss(
      new WebSocketServer({
        httpServer: server,
        path: '/raw',
        autoAcceptConnections: true,
        assembleFragments: false,
      }),
    );
    const port = await listen(server);
    const client = resources.ws(await connect(`ws://127.0.0.1:${port}/raw`));
    await until(() => raw.connections.length === 1, 2_000, 'the connection');
    expect(raw.broadcast('to raw')).toBe(1);
    expect(raw.broadcast(Buffer.from([1, 2]))).toBe(1);
    expect(await nextMessage(client)).toBe('to raw');
    expect(await nextMessage(client)).toEqual(Buffer.from([1, 2]));
    // A connection whose queue is over the limit misses the message: a raw client that
    // completes the handshake and then reads nothing.
    const deaf = resources.socket(await rawConnect(port));
    deaf.write(upgradeRequest('/raw'));
    expect((await readHead(deaf)).status).toBe(101);
    await until(() => raw.connections.length === 2, 2_000, 'the deaf connection');
    const deafOnServer = raw.connections[1]!;
    expect(raw.broadcast(Buffer.alloc(16 * MiB))).toBe(2);
    await until(
      () => deafOnServer.bufferedAmount > 1024 && raw.connections[0]!.bufferedAmount === 0,
      5_000,
      'the queues',
    );
    expect(raw.broadcast('skipped by the deaf one', { maxBufferedAmount: 1024 })).toBe(1);
    expect(raw.broadcast('for all')).toBe(2);
    expect((await nextMessage(client)).length).toBe(16 * MiB);
    expect(await nextMessage(client)).toBe('skipped by the deaf one');
    expect(await nextMessage(client)).toBe('for all');
    expect(() => raw.broadcast(42 as unknown as string)).toThrow(InvalidArgumentError);
  });
});
