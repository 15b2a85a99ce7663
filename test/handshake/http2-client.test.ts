import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, WebSocketClient } from '../../lib/client.js';
import type { Http2ConnectRequest } from '../../lib/handshake/http2-connect-request.js';
import { sessionPool } from '../../lib/handshake/http2-session-pool.js';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../../lib/protocol/errors.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import {
  type Http2ServerFixture,
  openSession,
  startHttp2Server,
  within,
} from '../helpers/http2-servers.js';
import { nextMessage, until } from '../helpers/loopback-server.js';

/**
 * The client side of WebSockets over HTTP/2 (RFC 8441): `connect(url, { http2 })` with
 * `true` (the pool's session, HTTP/1.1 when the server does not allow it), 'require', or a
 * session of the caller's; what it sends, what it refuses, and how it fails.
 */

let certs: TestCerts;
let fixture: Http2ServerFixture | undefined;
const clients: WebSocketConnection[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  certs = makeTestCerts();
});

afterAll(() => certs.cleanup());

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await fixture?.close();
  fixture = undefined;
  await until(() => sessionPool.size === 0, 5_000, 'the pool to be empty');
});

/** An echo server over HTTP/2 (secure unless `cleartext`). */
async function echoServer(
  options: Parameters<typeof startHttp2Server>[0] = {},
  cleartext = false,
): Promise<Http2ServerFixture> {
  fixture = await startHttp2Server({
    ...(cleartext ? {} : { certs }),
    wss: { autoAcceptConnections: true },
    ...options,
  });
  fixture.wss?.on('connect', (ws) => ws.pipe(ws));
  return fixture;
}

async function track(promise: Promise<WebSocketConnection>): Promise<WebSocketConnection> {
  const ws = await promise;
  clients.push(ws);
  return ws;
}

async function failure(promise: Promise<unknown>): Promise<HandshakeError> {
  const err = await promise.then(
    () => new Error('expected the handshake to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

/** An HTTPS server that speaks HTTP/1.1 only, with a WebSocketServer on it. */
async function http1Server(): Promise<{ port: number; wss: WebSocketServer }> {
  const server = https.createServer({ key: certs.serverKey, cert: certs.serverCert });
  const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
  wss.on('connect', (ws) => ws.pipe(ws));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    await wss.shutDown({ gracePeriod: 0 });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, wss };
}

describe("http2: 'require'", () => {
  it('opens over HTTP/2, with the subprotocol and the Authorization of the URL', async () => {
    const f = await echoServer({ wss: { autoAcceptConnections: true, protocols: ['b'] } });
    const seen: Array<Record<string, unknown>> = [];
    f.wss!.on('connection', (_ws, request) => seen.push({ ...request.headers }));
    const url = f.url('/path?q=1').replace('wss://', 'wss://user:pa%20ss@');
    const ws = await track(
      connect(url, {
        ...f.clientOptions,
        http2: 'require',
        protocols: ['a', 'b'],
        origin: 'https://o.test',
      }),
    );
    expect(ws.protocol).toBe('b');
    expect(ws.url).toBe(url);
    ws.write(Buffer.from([1, 2, 3]));
    expect(await nextMessage(ws)).toEqual(Buffer.from([1, 2, 3]));
    expect(seen[0]).toMatchObject({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/path?q=1',
      ':authority': `localhost:${f.port}`,
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'a, b',
      origin: 'https://o.test',
      authorization: `Basic ${Buffer.from('user:pa ss').toString('base64')}`,
    });
    expect(seen[0]).not.toHaveProperty('sec-websocket-key');
  });

  it('fails with ERR_WS_HTTP2_UNAVAILABLE when the server does not allow extended CONNECT', async () => {
    const f = await echoServer({ wss: null, allowHTTP1: true });
    const err = await failure(connect(f.url('/'), { ...f.clientOptions, http2: 'require' }));
    expect(err.code).toBe(ErrorCode.Http2Unavailable);
    expect(err.status).toBe(0);
    expect(err.message).toMatch(/SETTINGS_ENABLE_CONNECT_PROTOCOL/);
  });

  it('fails with ERR_WS_HTTP2_UNAVAILABLE against an HTTP/1.1-only server (no h2 in ALPN)', async () => {
    const { port } = await http1Server();
    const err = await failure(
      connect(`wss://localhost:${port}/`, { ca: certs.ca, http2: 'require' }),
    );
    expect(err.code).toBe(ErrorCode.Http2Unavailable);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('fails a refusal with its status, headers and body', async () => {
    const f = await echoServer({ wss: {} });
    f.wss!.on('request', (request) => request.reject(403, 'not you', { 'x-why': 'test' }));
    const err = await failure(connect(f.url('/'), { ...f.clientOptions, http2: 'require' }));
    expect(err.status).toBe(403);
    expect(err.body).toBe('not you');
    expect(err.headers['x-why']).toBe('test');
    expect(err.code).toBe(ErrorCode.Handshake);
  });

  it('keeps at most 1 KiB of a refusal body', async () => {
    const f = await echoServer({ wss: {} });
    f.wss!.on('request', (request) => request.reject(400, 'x'.repeat(100_000)));
    const err = await failure(connect(f.url('/'), { ...f.clientOptions, http2: 'require' }));
    expect(err.body).toHaveLength(1024);
  });

  it('times out (ERR_WS_HANDSHAKE_TIMEOUT) when the server never answers, and cancels the stream', async () => {
    const f = await echoServer({ wss: { handshakeTimeout: 0 } });
    const pending: http2.ServerHttp2Stream[] = [];
    f.wss!.on('request', (request) =>
      pending.push((request.httpRequest as Http2ConnectRequest).stream),
    );
    const started = Date.now();
    const err = await failure(
      connect(f.url('/'), { ...f.clientOptions, http2: 'require', handshakeTimeout: 300 }),
    );
    expect(err.code).toBe(ErrorCode.HandshakeTimeout);
    expect(Date.now() - started).toBeLessThan(3_000);
    await until(() => pending[0]?.closed === true, 5_000, 'the stream to be reset');
    expect(pending[0]!.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  });

  it('drops a session still connecting when its handshake times out (a peer that never speaks TLS)', async () => {
    const held: net.Socket[] = [];
    let closed = 0;
    const silent = net.createServer((socket) => {
      held.push(socket);
      socket.resume(); // reads (and so sees the client's FIN), never answers
      socket.once('close', () => closed++);
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(async () => {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const { port } = silent.address() as AddressInfo;
    const err = await failure(
      connect(`wss://127.0.0.1:${port}/`, { http2: 'require', handshakeTimeout: 300 }),
    );
    expect(err.code).toBe(ErrorCode.HandshakeTimeout);
    expect(sessionPool.size).toBe(0);
    expect(held).toHaveLength(1);
    await until(() => closed === 1, 2_000, 'the abandoned session to let go of its socket');
  });

  it('rejects with the reason of an aborted signal', async () => {
    const f = await echoServer({ wss: { handshakeTimeout: 0 } });
    f.wss!.on('request', () => {});
    const controller = new AbortController();
    const attempt = connect(f.url('/'), {
      ...f.clientOptions,
      http2: 'require',
      signal: controller.signal,
    });
    await within(once(f.wss!, 'request'), 5_000, 'the request');
    controller.abort(new Error('changed my mind'));
    await expect(attempt).rejects.toThrow('changed my mind');
  });
});

describe('http2: true', () => {
  it('multiplexes connections to one origin on one session, closed with the last of them', async () => {
    const f = await echoServer();
    const a = await track(connect(f.url('/'), { ...f.clientOptions, http2: true }));
    const b = await track(connect(f.url('/x'), { ...f.clientOptions, http2: true }));
    expect(f.sessions).toHaveLength(1);
    expect(sessionPool.size).toBe(1);
    a.write('a');
    b.write('b');
    expect(await nextMessage(a)).toBe('a');
    expect(await nextMessage(b)).toBe('b');
    const closed = once(f.sessions[0]!, 'close');
    a.end();
    b.end();
    await within(closed, 5_000, 'the session to close after its last WebSocket');
    expect(sessionPool.size).toBe(0);
  });

  it('opens a session of its own for other TLS options (a CA given by another object)', async () => {
    const f = await echoServer();
    await track(connect(f.url('/'), { ca: certs.ca, http2: true }));
    await track(connect(f.url('/'), { ca: Buffer.from(certs.ca), http2: true }));
    expect(f.sessions).toHaveLength(2);
  });

  it('falls back to HTTP/1.1 when the server does not allow extended CONNECT', async () => {
    const f = await echoServer({ wss: null, allowHTTP1: true });
    const wss = new WebSocketServer({
      httpServer: f.server as unknown as https.Server,
      autoAcceptConnections: true,
    });
    cleanups.push(() => wss.shutDown({ gracePeriod: 0 }));
    f.server.updateSettings({ enableConnectProtocol: false });
    wss.on('connect', (ws) => ws.pipe(ws));
    const ws = await track(connect(f.url('/'), { ...f.clientOptions, http2: true }));
    ws.write('over 1.1');
    expect(await nextMessage(ws)).toBe('over 1.1');
    expect(f.upgrades).toBe(1);
  });

  it('falls back to HTTP/1.1 against a server that does not speak HTTP/2', async () => {
    const { port, wss } = await http1Server();
    const versions: string[] = [];
    wss.on('connection', (_ws, request) => versions.push(request.httpVersion));
    const ws = await track(connect(`wss://localhost:${port}/`, { ca: certs.ca, http2: true }));
    ws.write('fell back');
    expect(await nextMessage(ws)).toBe('fell back');
    expect(versions).toEqual(['1.1']);
  });

  it('uses cleartext HTTP/2 (h2c, prior knowledge) for ws: URLs', async () => {
    const f = await echoServer({}, true);
    const ws = await track(connect(f.url('/'), { http2: 'require' }));
    ws.write('h2c');
    expect(await nextMessage(ws)).toBe('h2c');
    expect(f.sessions).toHaveLength(1);
  });
});

describe('http2: a session of the caller', () => {
  it('runs on it, also when passed before its SETTINGS arrived, and leaves it open', async () => {
    const f = await echoServer();
    const session = http2.connect(f.origin, { ca: certs.ca });
    cleanups.push(() => void session.destroy());
    const ws = await track(connect(f.url('/'), { http2: session }));
    ws.write('on your session');
    expect(await nextMessage(ws)).toBe('on your session');
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.end();
    await within(closed, 5_000, 'the close');
    expect(session.closed).toBe(false);
    expect(sessionPool.size).toBe(0);
  });

  it('does not fall back when its peer refuses extended CONNECT (a PING settles it)', async () => {
    const f = await echoServer({ wss: null });
    const session = await openSession(f, certs);
    cleanups.push(() => void session.destroy());
    const err = await failure(connect(f.url('/'), { http2: session }));
    expect(err.code).toBe(ErrorCode.Http2Unavailable);
    expect(session.destroyed).toBe(false);
  });

  it('fails (status 0) when the session is closed', async () => {
    const f = await echoServer();
    const session = await openSession(f, certs);
    session.destroy();
    const err = await failure(connect(f.url('/'), { http2: session }));
    expect(err.code).toBe(ErrorCode.Http2Unavailable);
  });
});

describe('bad arguments: a typed error, and the shared session survives', () => {
  it.each<[unknown, RegExp]>([
    ['yes', /http2 must be true, false, 'require' or a ClientHttp2Session, got "yes"/],
    [1, /got number/],
    [{}, /got object/],
  ])('refuses http2: %j', async (value, message) => {
    await expect(connect('wss://localhost:1/', { http2: value as boolean })).rejects.toThrow(
      message,
    );
    await expect(connect('wss://localhost:1/', { http2: value as boolean })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('refuses connection-specific and invalid headers before the session sees them', async () => {
    const f = await echoServer();
    const first = await track(connect(f.url('/'), { ...f.clientOptions, http2: true }));
    for (const headers of [
      { 'Keep-Alive': '5' },
      { 'Transfer-Encoding': 'chunked' },
      { 'bad name': 'x' },
    ]) {
      await expect(
        connect(f.url('/'), { ...f.clientOptions, http2: true, headers }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    // node:http2 destroys a whole session over one bad header name: ours never got there.
    first.write('alive');
    expect(await nextMessage(first)).toBe('alive');
    expect(f.sessions).toHaveLength(1);
    expect(f.sessions[0]!.destroyed).toBe(false);
  });

  it('refuses an agent with a session of the caller', async () => {
    const f = await echoServer();
    const session = await openSession(f, certs);
    cleanups.push(() => void session.destroy());
    await expect(
      connect(f.url('/'), { http2: session, agent: new https.Agent() }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('with a proxy', () => {
  /** A CONNECT proxy (RFC 9110 §9.3.6) that records what it was asked for and tunnels it. */
  async function tunnelProxy(): Promise<{ url: string; asked: string[] }> {
    const asked: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      asked.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    cleanups.push(async () => {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    });
    return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, asked };
  }

  it("goes through the proxy over HTTP/1.1 with http2: true, and refuses 'require'", async () => {
    const f = await echoServer({ allowHTTP1: true });
    const proxy = await tunnelProxy();
    const ws = await track(
      connect(f.url('/'), { ...f.clientOptions, http2: true, proxy: proxy.url }),
    );
    expect(proxy.asked).toEqual([new URL(f.url('/')).host]);
    expect(f.sessions).toHaveLength(0);
    ws.write('via the proxy');
    expect(await nextMessage(ws)).toBe('via the proxy');
    await expect(
      connect(f.url('/'), { ...f.clientOptions, http2: 'require', proxy: proxy.url }),
    ).rejects.toThrow(/'require' cannot go through a proxy/);
    expect(proxy.asked).toHaveLength(1);
  });

  it('refuses a proxy with a session of the caller', async () => {
    const f = await echoServer();
    const session = await openSession(f, certs);
    cleanups.push(() => void session.destroy());
    await expect(
      connect(f.url('/'), { http2: session, proxy: 'http://127.0.0.1:1' }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('WebSocketClient', () => {
  it("connects over HTTP/2 with the http2 option, and reports 'connectFailed' otherwise", async () => {
    const f = await echoServer();
    const client = new WebSocketClient({ ...f.clientOptions, http2: 'require' });
    const connected = once(client, 'connect');
    client.connect(f.url('/'));
    const [ws] = (await within(connected, 5_000, "'connect'")) as [WebSocketConnection];
    clients.push(ws);
    ws.write('client');
    expect(await nextMessage(ws)).toBe('client');

    const failed = once(client, 'connectFailed');
    client.connect(f.url('/'), ['a b']);
    const [err] = (await within(failed, 5_000, "'connectFailed'")) as [Error];
    expect(err).toBeInstanceOf(InvalidArgumentError);
  });
});
