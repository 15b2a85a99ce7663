import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import http2, { type ServerHttp2Stream } from 'node:http2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { DiagnosticsChannel, type HandshakeEndMessage } from '../../lib/diagnostics.js';
import { Http2ConnectRequest } from '../../lib/handshake/http2-connect-request.js';
import type { WebSocketRequest } from '../../lib/handshake/server-handshake.js';
import {
  HandshakeError,
  InvalidArgumentError,
  type WebSocketError,
} from '../../lib/protocol/errors.js';
import { WebSocketRouter } from '../../lib/router.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import {
  connectHeaders,
  type Http2ServerFixture,
  openSession,
  rawRequest,
  startHttp2Server,
  within,
} from '../helpers/http2-servers.js';
import { nextMessage } from '../helpers/loopback-server.js';

/**
 * The server side of WebSockets over HTTP/2 (RFC 8441): what a WebSocketServer given
 * `http2Server` announces, accepts and refuses, through raw node:http2 requests and our
 * client. Every refusal leaves the session usable: a WebSocket opens on it afterwards.
 */

let certs: TestCerts;
let fixture: Http2ServerFixture | undefined;
const sessions: http2.ClientHttp2Session[] = [];
const clients: WebSocketConnection[] = [];

beforeAll(() => {
  certs = makeTestCerts();
});

afterAll(() => certs.cleanup());

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const session of sessions.splice(0)) session.destroy();
  await fixture?.close();
  fixture = undefined;
});

async function start(
  options: Parameters<typeof startHttp2Server>[0] = {},
): Promise<Http2ServerFixture> {
  fixture = await startHttp2Server({ certs, ...options });
  return fixture;
}

async function session(f: Http2ServerFixture): Promise<http2.ClientHttp2Session> {
  const s = await openSession(f, certs);
  sessions.push(s);
  return s;
}

/** Opens a WebSocket over HTTP/2 with our client, tracked for teardown. */
async function open(f: Http2ServerFixture, path = '/', options = {}): Promise<WebSocketConnection> {
  const ws = await connect(f.url(path), { ...f.clientOptions, http2: 'require', ...options });
  clients.push(ws);
  return ws;
}

/** Checks that the session still carries a WebSocket (an echo) after whatever happened. */
async function expectSessionUsable(
  f: Http2ServerFixture,
  s: http2.ClientHttp2Session,
): Promise<void> {
  expect(s.destroyed).toBe(false);
  const ws = await connect(f.url('/'), { http2: s });
  clients.push(ws);
  ws.write('still here');
  expect(await nextMessage(ws)).toBe('still here');
}

function upgradeErrors(wss: WebSocketServer): Array<[WebSocketError, unknown]> {
  const seen: Array<[WebSocketError, unknown]> = [];
  wss.on('upgradeError', (error, request) => seen.push([error, request]));
  return seen;
}

describe('SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)', () => {
  it('is announced to sessions once a WebSocketServer is attached, and withdrawn when it closes', async () => {
    const f = await start({ wss: null });
    expect((await session(f)).remoteSettings.enableConnectProtocol).toBe(false);
    const wss = new WebSocketServer({ http2Server: f.server, autoAcceptConnections: true });
    expect((await session(f)).remoteSettings.enableConnectProtocol).toBe(true);
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    expect((await session(f)).remoteSettings.enableConnectProtocol).toBe(false);
    expect(f.server.listenerCount('stream')).toBe(0);
    expect(f.server.listenerCount('connect')).toBe(0);
  });
});

describe('accepting an extended CONNECT', () => {
  it("hands 'request' an Http2ConnectRequest, answers 200 with the subprotocol, and echoes", async () => {
    const f = await start({ wss: { protocols: ['chat.v1'] } });
    const requests: WebSocketRequest[] = [];
    const connections: Array<[WebSocketConnection, unknown]> = [];
    f.wss!.on('request', (request) => {
      requests.push(request);
      const ws = request.accept('chat.v1');
      ws.pipe(ws);
    });
    f.wss!.on('connection', (ws, request) => connections.push([ws, request]));
    const ws = await open(f, '/chat?room=1', {
      protocols: ['chat.v2', 'chat.v1'],
      origin: 'https://app.test',
    });
    expect(ws.protocol).toBe('chat.v1');
    ws.write('hello');
    expect(await nextMessage(ws)).toBe('hello');

    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.httpRequest).toBeInstanceOf(Http2ConnectRequest);
    expect(request.httpRequest.httpVersion).toBe('2.0');
    expect(request.httpRequest.method).toBe('CONNECT');
    expect(request.httpRequest.url).toBe('/chat?room=1');
    expect(request.httpRequest.headers[':protocol']).toBe('websocket');
    expect(request.httpRequest.socket.remoteAddress).toBe('127.0.0.1');
    expect(request.resourceURL.href).toBe(`wss://localhost:${f.port}/chat?room=1`);
    expect(request.host).toBe(`localhost:${f.port}`);
    expect(request.origin).toBe('https://app.test');
    expect(request.requestedProtocols).toEqual(['chat.v2', 'chat.v1']);
    expect(request.remoteAddress).toBe('127.0.0.1');
    expect(request.key).toBe('');
    expect(connections).toHaveLength(1);
    expect(connections[0]![1]).toBe(request.httpRequest);
    expect(connections[0]![0].remoteAddress).toBe('127.0.0.1');
    expect(connections[0]![0].transport).toBe((request.httpRequest as Http2ConnectRequest).stream);
    expect(f.upgrades).toBe(0);
    expect(f.sessions).toHaveLength(1);
  });

  it('accepts later (an async decision): what the client sent meanwhile waits in the stream', async () => {
    const f = await start({ wss: {} });
    f.wss!.on('request', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const ws = request.accept();
      ws.pipe(ws);
    });
    const ws = await open(f);
    ws.write('after the wait');
    expect(await nextMessage(ws)).toBe('after the wait');
  });

  it('negotiates permessage-deflate in the same headers', async () => {
    const f = await start({ wss: { autoAcceptConnections: true, perMessageDeflate: true } });
    f.wss!.on('connect', (ws) => ws.pipe(ws));
    const ws = await open(f, '/', { perMessageDeflate: true });
    expect(ws.extensions.map((e) => e.name)).toEqual(['permessage-deflate']);
    const big = 'compressible '.repeat(10_000);
    ws.write(big);
    expect(await nextMessage(ws)).toBe(big);
    expect(f.wss!.connections[0]!.extensions.map((e) => e.name)).toEqual(['permessage-deflate']);
  });

  it('routes by path and subprotocol with a WebSocketRouter, as over HTTP/1.1', async () => {
    const f = await start({ wss: {} });
    const router = new WebSocketRouter({ server: f.wss! });
    router.mount('/echo', 'echo-protocol', (request) => {
      const ws = request.accept();
      ws.pipe(ws);
    });
    const ws = await open(f, '/echo', { protocols: ['echo-protocol'] });
    expect(ws.protocol).toBe('echo-protocol');
    const s = await session(f);
    const answer = await rawRequest(s, connectHeaders(f, '/elsewhere'));
    expect(answer.status).toBe(404);
    expect(answer.body).toBe('No handler is available for the given request');
  });

  it('takes streams from a server with a request listener (node 20 answers CONNECT 405 there)', async () => {
    const f = await start({
      wss: { autoAcceptConnections: true },
      onRequest: (_req, res) => res.end('a page'),
    });
    f.wss!.on('connect', (ws) => ws.pipe(ws));
    const ws = await open(f);
    ws.write('through the compatibility layer');
    expect(await nextMessage(ws)).toBe('through the compatibility layer');
    // A plain CONNECT (a proxy's) is still refused, as node would.
    const s = await session(f);
    const plain = await rawRequest(s, { ':method': 'CONNECT', ':authority': 'elsewhere.test:443' });
    expect(plain.status).toBe(405);
    // Pages are still served.
    const page = await rawRequest(s, { ':path': '/' });
    expect(page.body).toBe('a page');
  });

  it('takes HTTP/1.1 upgrades and HTTP/2 streams on one secure port (allowHTTP1)', async () => {
    const f = await start({ allowHTTP1: true, wss: { autoAcceptConnections: true } });
    const versions: string[] = [];
    f.wss!.on('connection', (ws, request) => {
      versions.push(request.httpVersion);
      ws.pipe(ws);
    });
    const over1 = await connect(f.url('/'), { ...f.clientOptions });
    clients.push(over1);
    const over2 = await open(f);
    over1.write('one');
    over2.write('two');
    expect(await nextMessage(over1)).toBe('one');
    expect(await nextMessage(over2)).toBe('two');
    expect(versions.sort()).toEqual(['1.1', '2.0']);
    expect(f.upgrades).toBe(1);
  });

  it('serves several WebSocketServers on one HTTP/2 server by path, and refuses two on one path', async () => {
    const f = await start({ wss: null });
    const a = new WebSocketServer({
      http2Server: f.server,
      path: '/a',
      autoAcceptConnections: true,
    });
    const b = new WebSocketServer({
      http2Server: f.server,
      path: '/b',
      autoAcceptConnections: true,
    });
    a.on('connect', (ws) => ws.on('data', () => ws.write('from a')));
    b.on('connect', (ws) => ws.on('data', () => ws.write('from b')));
    const toA = await open(f, '/a');
    const toB = await open(f, '/b?x=1');
    toA.write('?');
    toB.write('?');
    expect(await nextMessage(toA)).toBe('from a');
    expect(await nextMessage(toB)).toBe('from b');
    expect(() => new WebSocketServer({ http2Server: f.server, path: '/a' })).toThrow(
      /already handles path \/a/,
    );
    const s = await session(f);
    expect((await rawRequest(s, connectHeaders(f, '/c'))).status).toBe(404);
    for (const wss of [a, b]) await wss.shutDown({ gracePeriod: 0 });
  });

  it('takes streams handed to handleStream (noServer)', async () => {
    const f = await start({ wss: null, settings: { enableConnectProtocol: true } });
    const wss = new WebSocketServer({ noServer: true });
    const seen: WebSocketConnection[] = [];
    f.server.on('stream', (stream: ServerHttp2Stream, headers) => {
      if (headers[':method'] !== 'CONNECT') return;
      wss.handleStream(stream, headers, (ws, request) => {
        expect(request).toBeInstanceOf(Http2ConnectRequest);
        seen.push(ws);
        ws.pipe(ws);
      });
    });
    const ws = await open(f);
    ws.write('no server');
    expect(await nextMessage(ws)).toBe('no server');
    expect(seen).toHaveLength(1);
    const s = await session(f);
    expect(
      (await rawRequest(s, connectHeaders(f, '/', { 'sec-websocket-version': '8' }))).status,
    ).toBe(400);
    await wss.shutDown({ gracePeriod: 0 });
  });
});

describe('refusing over HTTP/2: a status on the stream, never the session', () => {
  it.each<[string, Record<string, string>, number, RegExp]>([
    ['a wrong :protocol', { ':protocol': 'webtransport' }, 501, /Unsupported :protocol/],
    ['a missing version', { 'sec-websocket-version': '' }, 400, /Missing sec-websocket-version/],
    ['a wrong version', { 'sec-websocket-version': '8' }, 400, /Unsupported sec-websocket-version/],
    ['malformed subprotocols', { 'sec-websocket-protocol': 'a b' }, 400, /Sec-WebSocket-Protocol/],
  ])(
    'answers %s with its status, reports upgradeError, and the session goes on',
    async (_, extra, status, message) => {
      const f = await start({ wss: { autoAcceptConnections: true } });
      f.wss!.on('connect', (ws) => ws.pipe(ws));
      const errors = upgradeErrors(f.wss!);
      const s = await session(f);
      const headers = connectHeaders(f, '/', extra);
      if (extra['sec-websocket-version'] === '') delete headers['sec-websocket-version'];
      const answer = await rawRequest(s, headers);
      expect(answer.status).toBe(status);
      expect(answer.body).toMatch(message);
      if (status === 400 && /version/.test(message.source)) {
        expect(answer.headers['sec-websocket-version']).toBe('13');
      }
      expect(errors).toHaveLength(1);
      expect(errors[0]![0]).toBeInstanceOf(HandshakeError);
      expect((errors[0]![0] as HandshakeError).status).toBe(status);
      expect(errors[0]![1]).toBeInstanceOf(Http2ConnectRequest);
      await expectSessionUsable(f, s);
    },
  );

  it('answers a refused origin 403', async () => {
    const f = await start({
      wss: { autoAcceptConnections: true, allowedOrigins: ['https://app.test'] },
    });
    f.wss!.on('connect', (ws) => ws.pipe(ws));
    const s = await session(f);
    const answer = await rawRequest(s, connectHeaders(f, '/', { origin: 'https://evil.test' }));
    expect(answer.status).toBe(403);
    expect(answer.body).toBe('Origin not allowed');
    const good = await connect(f.url('/'), { http2: s, origin: 'https://app.test' });
    clients.push(good);
    expect(good.isOpen).toBe(true);
  });

  it('answers a path the server does not take 404', async () => {
    const f = await start({ wss: { autoAcceptConnections: true, path: '/chat' } });
    const s = await session(f);
    const answer = await rawRequest(s, connectHeaders(f, '/other'));
    expect(answer.status).toBe(404);
    expect(answer.body).toBe('No WebSocket endpoint at this path');
    expect(s.destroyed).toBe(false);
  });

  it("answers the application's reject() with its status, reason and headers", async () => {
    const f = await start({ wss: {} });
    f.wss!.on('request', (request) =>
      request.reject(401, 'Who are you?', { 'www-authenticate': 'Bearer' }),
    );
    const err = await connect(f.url('/'), { ...f.clientOptions, http2: 'require' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect((err as HandshakeError).status).toBe(401);
    expect((err as HandshakeError).body).toBe('Who are you?');
    expect((err as HandshakeError).headers['www-authenticate']).toBe('Bearer');
  });

  it('answers 500 and throws when accept() is given a header HTTP/2 cannot carry', async () => {
    const f = await start({ wss: {} });
    const thrown: unknown[] = [];
    f.wss!.on('request', (request) => {
      try {
        request.accept(undefined, undefined, { connection: 'keep-alive' });
      } catch (err) {
        thrown.push(err);
      }
    });
    const s = await session(f);
    const answer = await rawRequest(s, connectHeaders(f));
    expect(answer.status).toBe(500);
    expect(thrown).toHaveLength(1);
    expect(thrown[0]).toBeInstanceOf(InvalidArgumentError);
    expect((thrown[0] as Error).message).toMatch(/connection-specific/);
  });

  it('answers 503 when the application does not decide within handshakeTimeout', async () => {
    const f = await start({ wss: { handshakeTimeout: 200 } });
    f.wss!.on('request', () => {});
    const errors = upgradeErrors(f.wss!);
    const s = await session(f);
    const answer = await rawRequest(s, connectHeaders(f));
    expect(answer.status).toBe(503);
    expect(errors.map(([e]) => e.code)).toEqual(['ERR_WS_HANDSHAKE_TIMEOUT']);
  });

  it('answers 503 once shutting down, and pending requests too', async () => {
    const f = await start({ wss: {} });
    const pending = once(f.wss!, 'request');
    f.wss!.on('request', () => {});
    const s = await session(f);
    const first = rawRequest(s, connectHeaders(f));
    await within(pending, 5_000, 'the request');
    const shutDown = f.wss!.shutDown({ gracePeriod: 0 });
    expect((await first).status).toBe(503);
    await shutDown;
  });

  it('lets a request go when its client resets the stream (requestRejected 0)', async () => {
    const f = await start({ wss: {} });
    const errors = upgradeErrors(f.wss!);
    const requests: WebSocketRequest[] = [];
    f.wss!.on('request', (request) => {
      requests.push(request);
      if (requests.length === 1) return; // the first waits; the one after it is echoed
      const ws = request.accept();
      ws.pipe(ws);
    });
    const s = await session(f);
    const stream = s.request(connectHeaders(f), { endStream: false });
    stream.on('error', () => {});
    await within(once(f.wss!, 'request'), 5_000, 'the request');
    const rejected = once(requests[0]!, 'requestRejected');
    stream.close(http2.constants.NGHTTP2_CANCEL);
    expect(await within(rejected, 5_000, 'requestRejected')).toEqual([0]);
    expect(requests[0]!.state).toBe('rejected');
    expect(errors.map(([e]) => e.message)).toEqual([
      'The client went away before the request was answered',
    ]);
    await expectSessionUsable(f, s);
  });
});

describe('options', () => {
  it('refuses http2Server with port or noServer, and what is not an HTTP/2 server', async () => {
    const server = http2.createServer();
    expect(() => new WebSocketServer({ http2Server: server, noServer: true })).toThrow(
      /exactly one of httpServer \(and\/or http2Server\), port and noServer/,
    );
    expect(() => new WebSocketServer({ http2Server: server, port: 0 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new WebSocketServer({ http2Server: {} as unknown as http2.Http2Server })).toThrow(
      /http2Server takes servers made by http2.createServer/,
    );
    expect(
      () => new WebSocketServer({ http2Servr: server } as unknown as { noServer: true }),
    ).toThrow(InvalidArgumentError);
    expect(server.listenerCount('stream')).toBe(0);
  });

  it('takes a list, alongside httpServer', async () => {
    const a = http2.createServer();
    const b = http2.createServer();
    const wss = new WebSocketServer({ http2Server: [a, b], autoAcceptConnections: true });
    expect(a.listenerCount('stream')).toBe(1);
    expect(b.listenerCount('stream')).toBe(1);
    await wss.shutDown({ gracePeriod: 0 });
    expect(a.listenerCount('stream') + b.listenerCount('stream')).toBe(0);
  });
});

describe('diagnostics_channel over HTTP/2', () => {
  it("publishes both sides' handshake ends: 200 with what was agreed, a refusal's status", async () => {
    const f = await start({ wss: { path: '/chat', protocols: ['v1'] } });
    f.wss!.on('request', (request) =>
      request.resource.startsWith('/chat?no') ? request.reject(401) : request.accept('v1'),
    );
    const ends: HandshakeEndMessage[] = [];
    const starts: unknown[] = [];
    const record = (message: unknown) => ends.push(message as HandshakeEndMessage);
    const recordStart = (message: unknown) => starts.push(message);
    diagnosticsChannel.subscribe(DiagnosticsChannel.HandshakeEnd, record);
    diagnosticsChannel.subscribe(DiagnosticsChannel.HandshakeStart, recordStart);
    try {
      clients.push(await open(f, '/chat', { protocols: ['v1'] }));
      await open(f, '/chat?no').catch(() => undefined);
      await open(f, '/elsewhere').catch(() => undefined);
    } finally {
      diagnosticsChannel.unsubscribe(DiagnosticsChannel.HandshakeEnd, record);
      diagnosticsChannel.unsubscribe(DiagnosticsChannel.HandshakeStart, recordStart);
    }
    const client = ends.filter((end) => end.role === 'client');
    expect(client.map((end) => [end.url, end.status, end.protocol, end.error?.name])).toEqual([
      [f.url('/chat'), 200, 'v1', undefined],
      [f.url('/chat?no'), 401, undefined, 'HandshakeError'],
      [f.url('/elsewhere'), 404, undefined, 'HandshakeError'],
    ]);
    expect(starts).toEqual(
      ['/chat', '/chat?no', '/elsewhere'].map((path) => ({
        role: 'client',
        url: f.url(path),
        proxy: undefined,
      })),
    );
    const server = ends.filter((end) => end.role === 'server');
    expect(server.map((end) => [end.url, end.status, end.protocol])).toEqual([
      ['/chat', 200, 'v1'],
      ['/chat?no', 401, undefined],
      ['/elsewhere', 404, undefined],
    ]);
    expect(server[0]!.remoteAddress).toBe('127.0.0.1');
  });
});
