import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { installConnectionApi } from '../../lib/compat/connection-api.js';
import {
  ConnectionClosedError,
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
} from '../../lib/protocol/errors.js';
import { WebSocketRouter } from '../../lib/router.js';
import { WebSocketServer } from '../../lib/server.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { LoopbackServer, nextMessage, until } from '../helpers/loopback-server.js';

/**
 * What a ws user tries in the first hour, each one a trap found by trying the package as a
 * new user would (issue 18): ws's option names, ws's message habits, ws's server shapes,
 * an async handler that rejects, leaving a loop early, writing after the end. Each must
 * either work as a ws user expects or fail at once with an error that says what to do.
 */

installConnectionApi();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function loopback(options: ConstructorParameters<typeof LoopbackServer>[0] = {}) {
  const server = new LoopbackServer(options);
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

describe("ws's option names: refused, naming ours", () => {
  it.each([
    ['maxPayload', 'maxReceivedMessageSize'],
    ['verifyClient', "'request' event"],
    ['handleProtocols', 'protocols'],
    ['server', 'httpServer'],
  ])('WebSocketServer({ %s }) throws InvalidArgumentError naming %s', (name, hint) => {
    const options = { noServer: true, [name]: () => true } as never;
    expect(() => new WebSocketServer(options)).toThrow(InvalidArgumentError);
    expect(() => new WebSocketServer(options)).toThrow(hint);
  });

  it('connect() rejects maxPayload before any I/O, naming maxReceivedMessageSize', async () => {
    const err = await connect('ws://127.0.0.1:1/', { maxPayload: 1 } as never).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('maxReceivedMessageSize');
  });

  it('a bare connection refuses an unknown option', () => {
    const [a] = duplexPair();
    expect(() => new WebSocketConnection(a, { role: 'server', maxPayload: 5 } as never)).toThrow(
      /no option maxPayload: use maxReceivedMessageSize/,
    );
  });

  it.each([
    ['null', null],
    ['NaN', Number.NaN],
    ['-1', -1],
    ['1.5', 1.5],
    ["'64'", '64'],
  ])('refuses maxReceivedMessageSize %s instead of silently using the default', (_name, value) => {
    expect(
      () => new WebSocketServer({ noServer: true, maxReceivedMessageSize: value as never }),
    ).toThrow(/maxReceivedMessageSize must be a non-negative integer/);
  });
});

describe("ws's message habits", () => {
  it("send() of a plain object throws a TypeError instead of sending '[object Object]'", async () => {
    const server = await loopback({ autoAcceptConnections: true });
    const ws = await server.connect();
    expect(() => ws.send({ hello: 1 } as never)).toThrow(TypeError);
    expect(() => ws.write({ hello: 1 } as never)).toThrow(TypeError);
  });

  it("echoes with ws's pattern: on('message', (m) => ws.send(m)) keeps text and binary", async () => {
    const server = await loopback({ autoAcceptConnections: true });
    server.wss.on('connect', (ws) => {
      ws.on('message', (message) => ws.send(message));
    });
    const ws = await server.connect();
    ws.write('text');
    ws.write(Buffer.from([1, 2, 3]));
    expect(await nextMessage(ws)).toBe('text');
    expect(await nextMessage(ws)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('takes ArrayBuffers and typed arrays as binary messages', async () => {
    const server = await loopback({ autoAcceptConnections: true });
    server.wss.on('connect', (ws) => ws.pipe(ws));
    const ws = await server.connect();
    ws.send(new Uint16Array([0x0201]).buffer);
    expect(await nextMessage(ws)).toEqual(Buffer.from([1, 2]));
  });
});

describe("ws's server shapes", () => {
  it('handleUpgrade(req, socket, head, cb) calls cb(connection, request) and accepts', async () => {
    const httpServer = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    const seen: string[] = [];
    httpServer.on('upgrade', (req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws, request) => {
        seen.push(request.url ?? '');
        ws.pipe(ws);
      });
    });
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    cleanups.push(async () => {
      await wss.shutDown({ gracePeriod: 0 });
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    });
    const port = (httpServer.address() as net.AddressInfo).port;
    const ws = await connect(`ws://127.0.0.1:${port}/path?x=1`);
    ws.write('hi');
    expect(await nextMessage(ws)).toBe('hi');
    expect(seen).toEqual(['/path?x=1']);
    ws.terminate();
  });

  it('{ port } creates and owns a hardened HTTP server: 426 to plain requests, close(cb) closes it', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoAcceptConnections: true });
    await once(wss, 'listening');
    const { port } = wss.address() as net.AddressInfo;
    const plain = await new Promise<number>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(plain).toBe(426);
    const connections: Array<[WebSocketConnection, IncomingMessage]> = [];
    wss.on('connection', (ws, request) => connections.push([ws, request]));
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    await until(() => connections.length === 1, 2_000, "'connection'");
    expect(wss.clients.size).toBe(1);
    expect(connections[0]?.[1].url).toBe('/');
    expect(ws.readyState).toBe(WebSocketConnection.OPEN);
    expect(ws.url).toBe(`ws://127.0.0.1:${port}/`);
    const closed = new Promise<Error | undefined>((resolve) => wss.close(resolve));
    ws.close();
    expect(await closed).toBeUndefined();
    expect(ws.readyState).toBe(WebSocketConnection.CLOSED);
    // Closed: nothing listens on the port any more.
    const refused = await new Promise<string>((resolve) => {
      net
        .connect(port, '127.0.0.1')
        .on('connect', () => resolve('connected'))
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('closes a handshake that stalls within handshakeTimeout, not node:http 60-90 s', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handshakeTimeout: 500 });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((resolve) => wss.close(() => resolve())));
    const { port } = wss.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // and never the rest
    const started = Date.now();
    const closed = await Promise.race([
      once(socket, 'close').then(() => true),
      new Promise((resolve) => setTimeout(resolve, 5_000, false)),
    ]);
    socket.destroy();
    expect(closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('async handlers that reject', () => {
  it("answers 500 and emits 'error' on the server: no unhandled rejection", async () => {
    const server = await loopback();
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => {
      rejections.push(reason);
    };
    process.on('unhandledRejection', onRejection);
    cleanups.push(() => {
      process.removeListener('unhandledRejection', onRejection);
    });
    const errors: Error[] = [];
    server.wss.on('error', (err) => errors.push(err));
    server.wss.on('request', async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('database outage');
    });
    const err = await connect(server.url()).catch((e) => e);
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).status).toBe(500);
    await until(() => errors.length === 1, 2_000, "'error'");
    expect(errors[0]?.message).toBe('database outage');
    expect(rejections).toEqual([]);
  });

  it("does the same for a router's async handler", async () => {
    const server = await loopback();
    const errors: Error[] = [];
    server.wss.on('error', (err) => errors.push(err));
    const router = new WebSocketRouter({ server: server.wss });
    router.mount('*', null, async () => {
      throw new Error('handler bug');
    });
    const err = await connect(server.url()).catch((e) => e);
    expect((err as HandshakeError).status).toBe(500);
    await until(() => errors.length === 1, 2_000, "'error'");
    expect(errors[0]?.message).toBe('handler bug');
  });

  it('keeps the server up without an error listener (a warning is printed)', async () => {
    const server = await loopback();
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    cleanups.push(() => {
      process.removeListener('warning', onWarning);
    });
    let calls = 0;
    server.wss.on('request', async (request) => {
      calls++;
      if (calls === 1) throw new Error('first one fails');
      request.accept();
    });
    expect(((await connect(server.url()).catch((e) => e)) as HandshakeError).status).toBe(500);
    const ws = await server.connect();
    expect(ws.readyState).toBe(1);
    await until(() => warnings.length === 1, 2_000, 'the warning');
    expect(warnings[0]?.message).toBe('first one fails');
  });
});

describe('leaving, writing late, and the codes', () => {
  it('closes with 1000, not 1011, when a for await loop is left early', async () => {
    const server = await loopback({ autoAcceptConnections: true });
    const codes: number[] = [];
    server.wss.on('close', (_ws, code) => codes.push(code));
    server.wss.on('connect', (ws) => {
      ws.write('one');
      ws.write('two');
    });
    const ws = await server.connect();
    for await (const message of ws) {
      expect(message).toBe('one');
      break;
    }
    await until(() => codes.length === 1, 3_000, "the server's 'close'");
    expect(codes).toEqual([1000]);
  });

  it('a write after end() fails through its callback with ERR_WS_CONNECTION_CLOSED, no error event', async () => {
    const server = await loopback({ autoAcceptConnections: true });
    const ws = await server.connect();
    const errors: Error[] = [];
    ws.on('error', (err) => errors.push(err));
    ws.end();
    const err = await new Promise<Error | null | undefined>((resolve) =>
      ws.write('late', (e) => resolve(e)),
    );
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as ConnectionClosedError).code).toBe(ErrorCode.ConnectionClosed);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toEqual([]);
  });

  it('sets codeReceived when the peer closed with 1009', async () => {
    const server = await loopback({ autoAcceptConnections: true, deferCloseReply: true });
    server.wss.on('connect', (ws) => ws.close(1009, 'too big'));
    const ws = await server.connect();
    await once(ws, 'end').catch(() => {});
    ws.resume();
    await until(() => ws.readyState !== 1, 2_000, 'the close');
    const err = await new Promise<Error | null | undefined>((resolve) =>
      ws.write('late', (e) => resolve(e)),
    );
    expect((err as ConnectionClosedError).codeReceived).toBe(1009);
  });

  it('close(null) sends a Close without a code: the peer reports 1005', async () => {
    const server = await loopback({ autoAcceptConnections: true });
    const codes: number[] = [];
    server.wss.on('close', (_ws, code) => codes.push(code));
    server.wss.on('connect', (ws) => ws.resume());
    const ws = await server.connect();
    ws.close(null);
    await until(() => codes.length === 1, 3_000, "the server's 'close'");
    expect(codes).toEqual([1005]);
  });

  it('a network failure is ERR_WS_CONNECT_FAILED, with the cause', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const err = await connect(`ws://127.0.0.1:${port}/`).catch((e) => e);
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).code).toBe(ErrorCode.ConnectFailed);
    expect(((err as HandshakeError).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});
