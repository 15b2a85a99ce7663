import { execFile } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../lib/client.js';
import {
  type CloseMessage,
  DiagnosticsChannel,
  type ErrorMessage,
  type HandshakeEndMessage,
  type HandshakeStartMessage,
  type OpenMessage,
} from '../lib/diagnostics.js';
import { ErrorCode, HandshakeError } from '../lib/protocol/errors.js';
import { type WebSocketRequest, WebSocketServer } from '../lib/server.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';
import { clientFrame, listen, Resources, until } from './integration/upgrade-helpers.js';

const resources = new Resources();
afterEach(() => resources.closeAll());

type Events = {
  start: HandshakeStartMessage[];
  end: HandshakeEndMessage[];
  open: OpenMessage[];
  close: CloseMessage[];
  error: ErrorMessage[];
};

/** Subscribes to every channel for the length of `run`, and gives what was published. */
async function recorded(run: (events: Events) => Promise<void>): Promise<Events> {
  const events: Events = { start: [], end: [], open: [], close: [], error: [] };
  const subscriptions: Array<[string, (message: unknown) => void]> = [
    [DiagnosticsChannel.HandshakeStart, (m) => events.start.push(m as HandshakeStartMessage)],
    [DiagnosticsChannel.HandshakeEnd, (m) => events.end.push(m as HandshakeEndMessage)],
    [DiagnosticsChannel.Open, (m) => events.open.push(m as OpenMessage)],
    [DiagnosticsChannel.Close, (m) => events.close.push(m as CloseMessage)],
    [DiagnosticsChannel.Error, (m) => events.error.push(m as ErrorMessage)],
  ];
  for (const [name, fn] of subscriptions) diagnosticsChannel.subscribe(name, fn);
  try {
    await run(events);
  } finally {
    for (const [name, fn] of subscriptions) diagnosticsChannel.unsubscribe(name, fn);
  }
  return events;
}

async function echoServer(
  onConnection: (ws: WebSocketConnection) => void = (ws) => ws.pipe(ws),
): Promise<{ port: number; connections: WebSocketConnection[] }> {
  const server = resources.http(http.createServer());
  const wss = resources.wss(new WebSocketServer({ httpServer: server, path: '/echo' }));
  const connections: WebSocketConnection[] = [];
  wss.on('request', (request: WebSocketRequest) => {
    const ws = request.accept(request.requestedProtocols[0]);
    connections.push(ws);
    onConnection(ws);
  });
  return { port: await listen(server), connections };
}

describe('diagnostics_channel', () => {
  it('publishes each side of a connection: handshake, open, close with exact counts', async () => {
    const { port, connections } = await echoServer();
    const url = `ws://127.0.0.1:${port}/echo`;
    let client: WebSocketConnection | undefined;
    const events = await recorded(async (seen) => {
      client = await connect(url, { protocols: ['chat.v1'], perMessageDeflate: false });
      const echoed: unknown[] = [];
      client.on('data', (m: unknown) => echoed.push(m));
      const pong = once(client, 'pong');
      client.write('one');
      client.write(Buffer.from('two'));
      client.write('three');
      client.ping('are you there');
      await pong;
      await until(() => echoed.length === 3, 5_000, 'three echoes');
      client.end();
      await until(() => seen.close.length === 2, 5_000, 'both closes');
    });
    const server = connections[0]!;
    expect(events.start).toEqual([{ role: 'client', url, proxy: undefined }]);
    expect(events.end).toHaveLength(2);
    const clientEnd = events.end.find((e) => e.role === 'client')!;
    const serverEnd = events.end.find((e) => e.role === 'server')!;
    expect(clientEnd).toMatchObject({
      url,
      status: 101,
      protocol: 'chat.v1',
      extensions: [],
      error: undefined,
    });
    expect(clientEnd.durationMs).toBeGreaterThanOrEqual(0);
    expect(serverEnd).toMatchObject({
      url: '/echo',
      status: 101,
      protocol: 'chat.v1',
      error: undefined,
      remoteAddress: '127.0.0.1',
      durationMs: undefined,
    });
    expect(events.open).toHaveLength(2);
    expect(events.open.find((o) => o.role === 'client')).toEqual({
      connection: client,
      role: 'client',
      url,
      protocol: 'chat.v1',
      extensions: [],
      remoteAddress: '127.0.0.1',
    });
    expect(events.open.find((o) => o.role === 'server')?.connection).toBe(server);
    const clientClose = events.close.find((c) => c.role === 'client')!;
    const serverClose = events.close.find((c) => c.role === 'server')!;
    // The client: 3 messages and a ping and its Close out; 3 echoes, the pong and the
    // server's Close in. The server: the mirror image.
    expect(clientClose).toMatchObject({
      connection: client,
      code: 1000,
      wasClean: true,
      error: undefined,
      received: { messages: 3, controlFrames: 2 },
      sent: { messages: 3, controlFrames: 2 },
    });
    expect(serverClose).toMatchObject({
      connection: server,
      url: undefined,
      code: 1000,
      wasClean: true,
      received: { messages: 3, controlFrames: 2 },
      sent: { messages: 3, controlFrames: 2 },
    });
    expect(clientClose.sent.bytes).toBeGreaterThan(0);
    expect(clientClose.sent.bytes).toBe(serverClose.received.bytes);
    expect(serverClose.sent.bytes).toBe(clientClose.received.bytes);
    expect(events.error).toEqual([]);
  });

  it('publishes a refused handshake on both sides, with the status', async () => {
    const { port } = await echoServer();
    const url = `ws://127.0.0.1:${port}/elsewhere`;
    const events = await recorded(async () => {
      const err = await connect(url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HandshakeError);
    });
    expect(events.end.map((e) => [e.role, e.status, e.url])).toEqual(
      expect.arrayContaining([
        ['server', 404, '/elsewhere'],
        ['client', 404, url],
      ]),
    );
    expect(events.end.find((e) => e.role === 'client')?.error).toBeInstanceOf(HandshakeError);
    expect(events.open).toEqual([]);
    expect(events.close).toEqual([]);
  });

  it('publishes a network failure as status 0 with the error', async () => {
    const unused = net.createServer();
    const port = await listen(unused);
    await new Promise((done) => unused.close(done));
    const events = await recorded(async () => {
      await connect(`ws://127.0.0.1:${port}/`).catch(() => {});
    });
    expect(events.end).toHaveLength(1);
    expect(events.end[0]).toMatchObject({ role: 'client', status: 0 });
    expect((events.end[0]!.error as HandshakeError).code).toBe(ErrorCode.ConnectFailed);
  });

  it('publishes a failed connection once on the error channel, then its close', async () => {
    let server: WebSocketConnection | undefined;
    const wire = resources.http(http.createServer());
    const wss = resources.wss(new WebSocketServer({ httpServer: wire }));
    wss.on('connect', (ws: WebSocketConnection) => {
      server = ws;
    });
    wss.on('request', (request: WebSocketRequest) => request.accept());
    const port = await listen(wire);
    const events = await recorded(async (seen) => {
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await until(() => seen.open.length === 1, 5_000, 'the open');
      // An unmasked frame from a client: the server fails the connection with 1002.
      const masked = clientFrame('x');
      const unmasked = Buffer.from([masked[0]!, masked[1]! & 0x7f, ...masked.subarray(6)]);
      socket.write(unmasked);
      socket.resume();
      await until(() => seen.close.length === 1, 5_000, 'the close');
      socket.destroy();
    });
    expect(events.error).toHaveLength(1);
    expect(events.error[0]).toMatchObject({ connection: server, role: 'server' });
    expect((events.error[0]!.error as { code?: string }).code).toBe(ErrorCode.MaskRequired);
    expect(events.close[0]?.error).toBe(events.error[0]?.error);
    expect(events.close[0]?.wasClean).toBe(false);
  });

  it('decides once, when a connection opens: one opened unobserved is never published', async () => {
    const { port } = await echoServer();
    const unobserved = await connect(`ws://127.0.0.1:${port}/echo`);
    const events = await recorded(async () => {
      unobserved.end();
      await once(unobserved, 'close');
    });
    expect(events.close).toEqual([]);
  });
});

describe('NODE_DEBUG=websocket-duplex', () => {
  const script = resolve(import.meta.dirname, 'helpers/scripts/debug-log-session.ts');
  const run = promisify(execFile);

  it('logs handshakes, opens and closes on stderr through util.debuglog, and nothing without it', async () => {
    const env = { ...process.env, NODE_DEBUG: 'websocket-duplex' };
    const [withDebug, without] = await Promise.all([
      run(process.execPath, ['--import', 'tsx', script], { env, timeout: 20_000 }),
      run(process.execPath, ['--import', 'tsx', script], {
        env: { ...process.env, NODE_DEBUG: '' },
        timeout: 20_000,
      }),
    ]);
    const lines = withDebug.stderr.split('\n').filter((l) => l.startsWith('WEBSOCKET-DUPLEX'));
    const url = /url (\S+)/.exec(withDebug.stdout)![1]!;
    const body = lines.map((l) => l.replace(/^WEBSOCKET-DUPLEX \d+: /, ''));
    expect(body).toEqual(
      expect.arrayContaining([
        `handshake start: client to ${url}`,
        'handshake end: server for /: 101',
        expect.stringMatching(new RegExp(`^handshake end: client to ${url}: 101 in \\d+ ms$`)),
        `open: client ${url}`,
        'open: server connection from 127.0.0.1',
        expect.stringMatching(
          new RegExp(
            `^close: client ${url}: 1000, clean; received 1 messages, 1 control frames, \\d+ bytes; sent 1 messages, 1 control frames, \\d+ bytes; open \\d+ ms$`,
          ),
        ),
      ]),
    );
    expect(lines).toHaveLength(7);
    expect(without.stderr).toBe('');
  });
});
