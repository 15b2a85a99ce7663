import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketClient } from '../../lib/client.js';
import * as seed from '../../lib/compat/seed.js';
import { WebSocketFrame } from '../../lib/compat/websocket-frame.js';
import { WebSocketRequest } from '../../lib/handshake/server-handshake.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { WebSocketRouter } from '../../lib/router.js';
import { WebSocketServer } from '../../lib/server.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { silentClient, silentServer } from '../helpers/raw-websocket-peer.js';

type Cleanup = () => unknown;
const cleanups: Cleanup[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP server on loopback with a seed-style server on it; torn down after the test. */
async function seedServer(
  config: Omit<ConstructorParameters<typeof seed.server>[0], 'httpServer'>,
): Promise<{ wss: WebSocketServer; port: number }> {
  const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
  const sockets = new Set<net.Socket>();
  httpServer.on('connection', (s: net.Socket) => sockets.add(s));
  const wss = new seed.server({ ...config, httpServer });
  httpServer.listen({ port: 0, host: '127.0.0.1' });
  await once(httpServer, 'listening');
  cleanups.push(async () => {
    for (const c of wss.connections) c.terminate();
    for (const s of sockets) s.destroy();
    await wss.shutDown({ gracePeriod: 0 });
    await new Promise((resolve) => httpServer.close(resolve));
  });
  return { wss, port: (httpServer.address() as net.AddressInfo).port };
}

/** Connects a seed-style client (new client(config), connect(), 'connect' event). */
function seedConnect(
  url: string,
  config: ConstructorParameters<typeof seed.client>[0] = {},
  protocols?: string | string[],
): Promise<WebSocketConnection> {
  const client = new seed.client(config);
  return new Promise((resolve, reject) => {
    client.on('connect', (connection: WebSocketConnection) => {
      cleanups.push(() => connection.terminate());
      resolve(connection);
    });
    client.on('connectFailed', reject);
    client.connect(url, protocols);
  });
}

/** Resolves with the next server-side connection. */
function nextConnection(wss: WebSocketServer): Promise<WebSocketConnection> {
  return new Promise((resolve) => wss.once('connect', resolve));
}

function closeOf(ws: WebSocketConnection): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
}

describe("the seed's module shape", () => {
  it('exports the same classes under the lower-case names, not a second stack', () => {
    expect(seed.server).toBe(WebSocketServer);
    expect(seed.client).toBe(WebSocketClient);
    expect(seed.router).toBe(WebSocketRouter);
    expect(seed.frame).toBe(WebSocketFrame);
    expect(seed.request).toBe(WebSocketRequest);
    expect(seed.connection).toBe(WebSocketConnection);
  });

  it("a connection made through the seed's names is the library's connection", async () => {
    const { wss, port } = await seedServer({ autoAcceptConnections: true });
    wss.on('connect', (c: WebSocketConnection) => c.pipe(c));
    const ws = await seedConnect(`ws://127.0.0.1:${port}/`);
    expect(ws).toBeInstanceOf(seed.connection);
    const got = once(ws, 'message');
    ws.sendUTF('round trip');
    expect((await got)[0]).toEqual({ type: 'utf8', utf8Data: 'round trip' });
  });
});

describe("the seed's tunables, under the seed's names", () => {
  it('maxReceivedFrameSize: a larger frame closes the connection with 1009', async () => {
    const { wss, port } = await seedServer({
      autoAcceptConnections: true,
      maxReceivedFrameSize: 100,
    });
    const server = nextConnection(wss);
    const ws = await seedConnect(`ws://127.0.0.1:${port}/`, { fragmentOutgoingMessages: false });
    const closed = closeOf(ws);
    ws.sendBytes(Buffer.alloc(100)); // at the limit: fine
    ws.sendBytes(Buffer.alloc(101));
    expect(await closed).toBe(1009);
    expect((await server).closeError).toMatchObject({ closeCode: 1009 });
  });

  it('maxReceivedMessageSize: a larger message closes with 1009, fragments or not', async () => {
    const { port } = await seedServer({
      autoAcceptConnections: true,
      maxReceivedMessageSize: 1_000,
    });
    const ws = await seedConnect(`ws://127.0.0.1:${port}/`, { fragmentationThreshold: 100 });
    const closed = closeOf(ws);
    ws.sendUTF('x'.repeat(1_001));
    expect(await closed).toBe(1009);
  });

  it('fragmentOutgoingMessages and fragmentationThreshold shape what assembleFragments: false sees', async () => {
    const { wss, port } = await seedServer({
      autoAcceptConnections: true,
      fragmentationThreshold: 10,
    });
    wss.on('connect', (c: WebSocketConnection) => c.sendUTF('a'.repeat(35)));
    const ws = await seedConnect(`ws://127.0.0.1:${port}/`, { assembleFragments: false });
    const frames: WebSocketFrame[] = [];
    await new Promise<void>((resolve) => {
      ws.on('frame', (frame: Frame) => {
        frames.push(WebSocketFrame.from(frame));
        if (frame.fin) resolve();
      });
    });
    expect(frames.map((f) => [f.opcode, f.length, f.fin])).toEqual([
      [1, 10, false],
      [0, 10, false],
      [0, 10, false],
      [0, 5, true],
    ]);

    const whole = await seedServer({
      autoAcceptConnections: true,
      fragmentOutgoingMessages: false,
    });
    whole.wss.on('connect', (c: WebSocketConnection) => c.sendUTF('b'.repeat(100_000)));
    const ws2 = await seedConnect(`ws://127.0.0.1:${whole.port}/`, { assembleFragments: false });
    const [frame] = (await once(ws2, 'frame')) as [Frame];
    expect([frame.fin, frame.payload.length]).toEqual([true, 100_000]);
  });

  it('keepalive and keepaliveInterval: the server pings a quiet client', async () => {
    const { port } = await seedServer({
      autoAcceptConnections: true,
      keepalive: true,
      keepaliveInterval: 50,
    });
    const ws = await seedConnect(`ws://127.0.0.1:${port}/`);
    let pings = 0;
    ws.on('ping', () => pings++);
    ws.resume();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(ws.connected).toBe(true); // it answered each ping, so it was not dropped
  });

  it('keepaliveGracePeriod and dropConnectionOnKeepaliveTimeout: a silent peer is dropped, or not', async () => {
    const dropping = await seedServer({
      autoAcceptConnections: true,
      keepaliveInterval: 50,
      keepaliveGracePeriod: 50,
      dropConnectionOnKeepaliveTimeout: true,
    });
    const connected = nextConnection(dropping.wss);
    const silent = await silentClient(dropping.port);
    const server = await connected;
    const started = Date.now();
    expect(await closeOf(server)).toBe(1006);
    await silent.closed;
    expect(Date.now() - started).toBeLessThan(2_000);

    const patient = await seedServer({
      autoAcceptConnections: true,
      keepaliveInterval: 50,
      keepaliveGracePeriod: 50,
      dropConnectionOnKeepaliveTimeout: false,
    });
    const connected2 = nextConnection(patient.wss);
    const silent2 = await silentClient(patient.port);
    const server2 = await connected2;
    server2.resume();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server2.connected).toBe(true);
    expect(silent2.received.length).toBeGreaterThan(0); // the pings it ignored
    silent2.socket.destroy();
  });

  it('closeTimeout: a client whose Close is never answered drops the socket in time', async () => {
    const peer = await silentServer();
    cleanups.push(() => peer.close());
    const ws = await seedConnect(`ws://127.0.0.1:${peer.port}/`, { closeTimeout: 100 });
    const started = Date.now();
    const closed = closeOf(ws);
    ws.resume();
    ws.end();
    expect(await closed).toBe(1006);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(2_000);
  });
});

describe('WebSocket-Node itself against our router (the seed talking to us)', () => {
  interface SeedMessage {
    type: string;
    utf8Data?: string;
  }
  interface SeedConnection {
    protocol: string;
    sendUTF(data: string): void;
    on(event: 'message', listener: (message: SeedMessage) => void): void;
    close(): void;
  }
  interface SeedClient {
    on(event: 'connect', listener: (connection: SeedConnection) => void): void;
    on(event: 'connectFailed', listener: (error: Error) => void): void;
    connect(url: string, protocols?: string | string[]): void;
  }
  const SeedClient = createRequire(import.meta.url)('websocket').client as new () => SeedClient;

  it("routes WebSocket-Node's client by protocol and echoes through our connection", async () => {
    const { wss, port } = await seedServer({});
    const router = new seed.router();
    router.attachServer(wss);
    router.mount('*', 'echo-protocol', (request) => {
      const connection = request.accept(request.origin);
      connection.pipe(connection);
    });
    const client = new SeedClient();
    const connection = await new Promise<SeedConnection>((resolve, reject) => {
      client.on('connect', resolve);
      client.on('connectFailed', reject);
      client.connect(`ws://127.0.0.1:${port}/`, ['nothing-here', 'Echo-Protocol']);
    });
    expect(connection.protocol).toBe('Echo-Protocol'); // matched case-insensitively, answered as spelt
    const message = new Promise<SeedMessage>((resolve) => connection.on('message', resolve));
    connection.sendUTF('hello from the seed');
    expect(await message).toEqual({ type: 'utf8', utf8Data: 'hello from the seed' });
    connection.close();
  });
});
