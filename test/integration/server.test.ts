import { once } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import {
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
  type WebSocketError,
} from '../../lib/protocol/errors.js';
import { acceptValue, generateKey } from '../../lib/protocol/handshake.js';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  clientFrame,
  listen,
  nextMessage,
  Resources,
  rawConnect,
  rawExchange,
  readHead,
  until,
  upgradeRequest,
  within,
} from './upgrade-helpers.js';

const resources = new Resources();
afterEach(() => resources.closeAll());

/** An HTTP server whose plain requests get 200 'plain', listening on loopback. */
async function httpServer(
  options: http.ServerOptions = {},
): Promise<{ server: http.Server; port: number }> {
  const server = resources.http(
    http.createServer(options, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('plain');
    }),
  );
  return { server, port: await listen(server) };
}

async function echoServer(options: Partial<ConstructorParameters<typeof WebSocketServer>[0]> = {}) {
  const { server, port } = await httpServer();
  const wss = resources.wss(
    new WebSocketServer({ httpServer: server, autoAcceptConnections: true, ...options }),
  );
  wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
  return { server, port, wss };
}

/** Checks the shape every refusal must have: status, short text body, Connection: close, closed. */
function expectRefusal(
  response: Awaited<ReturnType<typeof rawExchange>>,
  status: number,
  body: string | RegExp,
): void {
  expect(response.status).toBe(status);
  expect(response.headers.connection).toBe('close');
  expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
  const text = response.rest.toString('utf8');
  expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(text));
  expect(text.length).toBeLessThan(200);
  if (typeof body === 'string') expect(text).toBe(body);
  else expect(text).toMatch(body);
  expect(response.closed).toBe(true);
}

/** Proves the server still works: a full echo round trip. */
async function expectAlive(port: number, path = '/'): Promise<void> {
  const ws = resources.ws(await connect(`ws://127.0.0.1:${port}${path}`));
  ws.write('still alive');
  expect(await nextMessage(ws)).toBe('still alive');
  ws.end();
}

describe('handshake failures get the right HTTP answer and never crash the server', () => {
  it('answers 405 with Allow: GET to a POST upgrade', async () => {
    const { port, wss } = await echoServer();
    const errors: WebSocketError[] = [];
    wss.on('upgradeError', (err: WebSocketError) => errors.push(err));
    const response = await rawExchange(
      port,
      upgradeRequest('/', { 'Content-Length': '0' }, 'POST / HTTP/1.1'),
    );
    expectRefusal(response, 405, /GET/);
    expect(response.headers.allow).toBe('GET');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(HandshakeError);
    await expectAlive(port);
  });

  it.each([
    [
      'a missing Sec-WebSocket-Key',
      { 'Sec-WebSocket-Key': undefined },
      /Missing Sec-WebSocket-Key/,
    ],
    [
      'a malformed Sec-WebSocket-Key',
      { 'Sec-WebSocket-Key': 'c2hvcnQ=' },
      /Invalid Sec-WebSocket-Key/,
    ],
    ['an Upgrade that is not websocket', { Upgrade: 'h2c' }, /Upgrade header/],
    ['a malformed Sec-WebSocket-Protocol', { 'Sec-WebSocket-Protocol': 'a b, ,c' }, /./],
  ])('answers 400 to %s', async (_name, headers, body) => {
    const { port } = await echoServer();
    expectRefusal(await rawExchange(port, upgradeRequest('/', headers)), 400, body);
    await expectAlive(port);
  });

  it('answers 400 to an HTTP/1.0 upgrade', async () => {
    const { port } = await echoServer();
    const response = await rawExchange(port, upgradeRequest('/', {}, 'GET / HTTP/1.0'));
    expectRefusal(response, 400, /HTTP\/1\.1/);
  });

  it.each([
    ['version 8', '8'],
    ['no version', undefined],
  ])('answers 426 with Sec-WebSocket-Version: 13 to %s', async (_name, version) => {
    const { port } = await echoServer();
    const response = await rawExchange(
      port,
      upgradeRequest('/', { 'Sec-WebSocket-Version': version }),
    );
    expectRefusal(response, 426, /Sec-WebSocket-Version/);
    expect(response.headers['sec-websocket-version']).toBe('13');
    await expectAlive(port);
  });

  it('answers 404 to a path no WebSocket server claims', async () => {
    const { port } = await echoServer({ path: '/chat' });
    expectRefusal(
      await rawExchange(port, upgradeRequest('/other')),
      404,
      'No WebSocket endpoint at this path',
    );
    expectRefusal(await rawExchange(port, upgradeRequest('/chat/x')), 404, /No WebSocket endpoint/);
    await expectAlive(port, '/chat?query=1');
  });

  it('answers 403 to an origin outside the allow-list', async () => {
    const { port, wss } = await echoServer({ allowedOrigins: 'https://app.example.com' });
    const errors: WebSocketError[] = [];
    wss.on('upgradeError', (err: WebSocketError) => errors.push(err));
    const response = await rawExchange(
      port,
      upgradeRequest('/', { Origin: 'https://evil.example' }),
    );
    expectRefusal(response, 403, 'Origin not allowed');
    expect(errors.map((err) => (err as HandshakeError).status)).toEqual([403]);
  });

  it('answers 503 to new upgrades and to requests in flight while shutting down', async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const pending: WebSocketRequest[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      if (request.resource === '/accept') request.accept();
      else pending.push(request); // left for later
    });
    // An open connection that never answers the Close keeps the shutdown in its grace period.
    const silent = resources.socket(await rawConnect(port));
    silent.write(upgradeRequest('/accept'));
    expect((await readHead(silent)).status).toBe(101);
    const inFlight = rawExchange(port, upgradeRequest('/pending'));
    await until(() => pending.length === 1, 2_000, 'the pending request');
    const shutDown = wss.shutDown({ gracePeriod: 500 });
    expect(wss.isShuttingDown).toBe(true);
    expectRefusal(await inFlight, 503, 'Server shutting down');
    expect(pending[0]?.state).toBe('rejected');
    expectRefusal(await rawExchange(port, upgradeRequest('/new')), 503, 'Server shutting down');
    await within(shutDown, 2_000, 'shutDown');
    expect(wss.connections).toHaveLength(0);
    expect(server.listenerCount('upgrade')).toBe(0);
  });

  it('answers 503 when the application neither accepts nor rejects in time', async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server, handshakeTimeout: 150 }));
    const requests: WebSocketRequest[] = [];
    const errors: WebSocketError[] = [];
    wss.on('request', (request: WebSocketRequest) => requests.push(request));
    wss.on('upgradeError', (err: WebSocketError) => errors.push(err));
    const started = Date.now();
    const response = await rawExchange(port, upgradeRequest('/'));
    expectRefusal(response, 503, 'Handshake timed out');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.state).toBe('rejected');
    expect(errors.map((err) => err.code)).toEqual([ErrorCode.HandshakeTimeout]);
    // A late decision does not throw: it gets a connection that is already closed.
    const late = requests[0]!.accept();
    const [code] = (await within(once(late, 'close'), 1_000, 'close')) as [number];
    expect(code).toBe(1006);
    expect(() => requests[0]!.reject(400)).not.toThrow();
    expect(wss.connections).toHaveLength(0);
  });

  it('answers 500 when nothing listens for requests and auto-accept is off', async () => {
    const { server, port } = await httpServer();
    resources.wss(new WebSocketServer({ httpServer: server }));
    expectRefusal(await rawExchange(port, upgradeRequest('/')), 500, /No handler/);
  });

  it('answers 500 and throws when the application accepts a subprotocol the client did not offer', async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const thrown: unknown[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      try {
        request.accept('not-offered');
      } catch (err) {
        thrown.push(err);
      }
    });
    const response = await rawExchange(
      port,
      upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'chat' }),
    );
    expectRefusal(response, 500, 'Internal Server Error');
    expect(thrown).toHaveLength(1);
    expect(thrown[0]).toBeInstanceOf(InvalidArgumentError);
  });

  it("sends the application's own refusal: status, reason and headers", async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const rejected: number[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      request.on('requestRejected', (status: number) => rejected.push(status));
      request.reject(401, 'Token expired', { 'WWW-Authenticate': 'Bearer' });
      expect(() => request.reject(401)).toThrow(InvalidArgumentError);
      expect(() => request.accept()).toThrow(InvalidArgumentError);
    });
    const response = await rawExchange(port, upgradeRequest('/'));
    expectRefusal(response, 401, 'Token expired');
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(rejected).toEqual([401]);
  });

  it('leaves oversized header blocks to node:http (431) and keeps serving', async () => {
    const { server, port } = await httpServer({ maxHeaderSize: 2048 });
    const wss = resources.wss(
      new WebSocketServer({ httpServer: server, autoAcceptConnections: true }),
    );
    wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
    const response = await rawExchange(
      port,
      upgradeRequest('/', { 'X-Padding': 'x'.repeat(4096) }),
    );
    expect(response.status).toBe(431);
    expect(response.closed).toBe(true);
    await expectAlive(port);
  });

  it('survives clients that reset or vanish mid-handshake', async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server, handshakeTimeout: 300 }));
    const pending: WebSocketRequest[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      pending.push(request);
      // Accepted after the client reset: a late accept, no throw, no connection.
      if (pending.length === 3) setTimeout(() => request.accept(), 100);
    });
    for (let i = 0; i < 3; i++) {
      const socket = await rawConnect(port);
      socket.write(upgradeRequest('/'));
      await new Promise((resolve) => setTimeout(resolve, 30));
      socket.resetAndDestroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(pending).toHaveLength(3);
    expect(pending.every((request) => request.state !== 'pending')).toBe(true);
    expect(wss.connections).toHaveLength(0);
    wss.on('request', (request: WebSocketRequest) => {
      const ws = request.accept();
      ws.pipe(ws);
    });
    await expectAlive(port);
  });
});

describe('accepting', () => {
  it('auto-accepts and echoes text as text and binary as binary', async () => {
    const { port, wss } = await echoServer();
    const connects: WebSocketConnection[] = [];
    wss.on('connect', (ws: WebSocketConnection) => connects.push(ws));
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`));
    ws.write('héllo');
    expect(await nextMessage(ws)).toBe('héllo');
    ws.write(Buffer.from([1, 2, 3]));
    expect(await nextMessage(ws)).toEqual(Buffer.from([1, 2, 3]));
    expect(connects).toHaveLength(1);
    expect(wss.connections).toEqual(connects);
    const closed = once(wss, 'close');
    ws.end();
    ws.resume();
    const [connection, code] = await within(closed, 2_000, "the server's close event");
    expect(connection).toBe(connects[0]);
    expect(code).toBe(1000);
    expect(wss.connections).toHaveLength(0);
  });

  it("chooses the client's most preferred subprotocol the server speaks, and none without a match", async () => {
    const { port } = await echoServer({ protocols: ['v1', 'v2', 'v3'] });
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`, { protocols: ['v3', 'v1'] }));
    expect(ws.protocol).toBe('v3');
    const none = resources.ws(await connect(`ws://127.0.0.1:${port}/`, { protocols: ['other'] }));
    expect(none.protocol).toBe('');
    const socket = resources.socket(await rawConnect(port));
    socket.write(upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'other' }));
    const head = await readHead(socket);
    expect(head.status).toBe(101);
    expect(head.headers['sec-websocket-protocol']).toBeUndefined();
  });

  it('lets a function choose the subprotocol', async () => {
    const { port } = await echoServer({ protocols: (requested) => requested.at(-1) });
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`, { protocols: ['a', 'b'] }));
    expect(ws.protocol).toBe('b');
  });

  it("describes the request in 'request' and adds the application's headers to the 101", async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const requests: WebSocketRequest[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      requests.push(request);
      request.accept('chat', undefined, { 'Set-Cookie': 'session=1' });
    });
    const key = generateKey();
    const socket = resources.socket(await rawConnect(port));
    socket.write(
      upgradeRequest('/room/1?user=ann', {
        'Sec-WebSocket-Key': key,
        Origin: 'https://app.example.com',
        'Sec-WebSocket-Protocol': 'chat, superchat',
        'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
      }),
    );
    const head = await readHead(socket);
    expect(head.statusLine).toBe('HTTP/1.1 101 Switching Protocols');
    expect(head.headers['sec-websocket-accept']).toBe(acceptValue(key));
    expect(head.headers['sec-websocket-protocol']).toBe('chat');
    expect(head.headers['set-cookie']).toBe('session=1');
    expect(head.headers['sec-websocket-extensions']).toBeUndefined();
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.resource).toBe('/room/1?user=ann');
    expect(request.resourceURL.searchParams.get('user')).toBe('ann');
    expect(request.resourceURL.protocol).toBe('ws:');
    expect(request.host).toBe('127.0.0.1');
    expect(request.origin).toBe('https://app.example.com');
    expect(request.requestedProtocols).toEqual(['chat', 'superchat']);
    expect(request.requestedExtensions.map((offer) => offer.name)).toEqual(['permessage-deflate']);
    expect(request.remoteAddress).toBe('127.0.0.1');
    expect(request.httpRequest.headers.host).toBe('127.0.0.1');
    expect(request.state).toBe('accepted');
  });

  it('accepts 200 ms later without losing the head or the bytes that arrived meanwhile', async () => {
    const { server, port } = await httpServer();
    const heads: number[] = [];
    server.prependListener('upgrade', (_req, _socket, head: Buffer) => heads.push(head.length));
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const accepted: WebSocketConnection[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      setTimeout(() => {
        const ws = request.accept();
        accepted.push(ws);
        ws.pipe(ws);
      }, 200);
    });
    const socket = resources.socket(await rawConnect(port));
    // The request and a first frame in one write: the frame is the upgrade's `head`.
    socket.write(Buffer.concat([Buffer.from(upgradeRequest('/')), clientFrame('in the head')]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(clientFrame('sent meanwhile'));
    socket.write(clientFrame(Buffer.from([0xde, 0xad])));
    const head = await readHead(socket);
    expect(head.status).toBe(101);
    expect(accepted).toHaveLength(1);
    expect(heads).toEqual([clientFrame('in the head').length]);
    // The echo: three unmasked server frames, in order.
    let bytes = head.rest;
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
    });
    socket.resume();
    const expected = Buffer.concat([
      Buffer.from([0x81, 11]),
      Buffer.from('in the head'),
      Buffer.from([0x81, 14]),
      Buffer.from('sent meanwhile'),
      Buffer.from([0x82, 2, 0xde, 0xad]),
    ]);
    const deadline = Date.now() + 2_000;
    while (bytes.length < expected.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(bytes).toEqual(expected);
  });

  it('accepts 200 ms later for a client that writes right after the 101', async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const received: Array<string | Buffer> = [];
    wss.on('request', (request: WebSocketRequest) => {
      setTimeout(() => {
        const ws = request.accept();
        // The server writes at once too: the client gets it with (or right after) the 101.
        ws.write('welcome');
        ws.on('data', (message: string | Buffer) => received.push(message));
      }, 200);
    });
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`));
    ws.write('first');
    ws.write('second');
    expect(await nextMessage(ws)).toBe('welcome');
    const deadline = Date.now() + 2_000;
    while (received.length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual(['first', 'second']);
  });

  it('applies its connection tunables to the connections it accepts', async () => {
    const { port, wss } = await echoServer({ maxReceivedMessageSize: 1024 });
    const closes: number[] = [];
    wss.on('close', (_ws: WebSocketConnection, code: number) => closes.push(code));
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`));
    ws.on('error', () => {});
    ws.write(Buffer.alloc(2048));
    ws.resume();
    const [code] = (await within(once(ws, 'close'), 3_000, 'close')) as [number];
    expect(code).toBe(1009);
    await within(
      (async () => {
        while (closes.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      3_000,
      "the server's close",
    );
    expect(closes).toHaveLength(1);
  });

  it("is not cut by the HTTP server's own request and header timeouts", async () => {
    const { server, port } = await httpServer({
      requestTimeout: 300,
      headersTimeout: 200,
      connectionsCheckingInterval: 50,
    });
    const wss = resources.wss(
      new WebSocketServer({ httpServer: server, autoAcceptConnections: true }),
    );
    wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`));
    await new Promise((resolve) => setTimeout(resolve, 700));
    ws.write('still here');
    expect(await nextMessage(ws)).toBe('still here');
    expect(wss.connections).toHaveLength(1);
  });

  it('leaves plain HTTP requests to the HTTP server', async () => {
    const { port } = await echoServer();
    const response = await fetch(`http://127.0.0.1:${port}/`);
    expect(await response.text()).toBe('plain');
  });
});

describe('several WebSocket servers, one HTTP server', () => {
  it('routes each upgrade by path to exactly one of them', async () => {
    const { server, port } = await httpServer();
    const a = resources.wss(
      new WebSocketServer({ httpServer: server, path: '/a', autoAcceptConnections: true }),
    );
    const b = resources.wss(
      new WebSocketServer({ httpServer: server, path: '/b', autoAcceptConnections: true }),
    );
    const seen: string[] = [];
    a.on('connect', (ws: WebSocketConnection) => {
      seen.push('a');
      ws.write('from a');
    });
    b.on('connect', (ws: WebSocketConnection) => {
      seen.push('b');
      ws.write('from b');
    });
    const wsA = resources.ws(await connect(`ws://127.0.0.1:${port}/a`));
    const wsB = resources.ws(await connect(`ws://127.0.0.1:${port}/b?x=1`));
    expect(await nextMessage(wsA)).toBe('from a');
    expect(await nextMessage(wsB)).toBe('from b');
    expect(seen.sort()).toEqual(['a', 'b']);
    expect(server.listenerCount('upgrade')).toBe(1);
    expectRefusal(await rawExchange(port, upgradeRequest('/c')), 404, /No WebSocket endpoint/);
    expect(() => new WebSocketServer({ httpServer: server, path: '/a' })).toThrow(
      InvalidArgumentError,
    );
    await a.shutDown();
    expectRefusal(await rawExchange(port, upgradeRequest('/a')), 404, /No WebSocket endpoint/);
    await b.shutDown();
    expect(server.listenerCount('upgrade')).toBe(0);
  });

  it('attaches to several HTTP servers at once', async () => {
    const one = await httpServer();
    const two = await httpServer();
    const wss = resources.wss(
      new WebSocketServer({ httpServer: [one.server, two.server], autoAcceptConnections: true }),
    );
    wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
    await expectAlive(one.port);
    await expectAlive(two.port);
  });

  it('takes upgrades from the application with noServer and handleUpgrade', async () => {
    const { server, port } = await httpServer();
    const wss = resources.wss(
      new WebSocketServer({ noServer: true, path: '/ws', autoAcceptConnections: true }),
    );
    wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
    server.on('upgrade', (req, socket, head) => {
      if (wss.shouldHandle(req)) wss.handleUpgrade(req, socket, head);
      else socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    await expectAlive(port, '/ws');
    const response = await rawExchange(port, upgradeRequest('/nope'));
    expect(response.status).toBe(400);
    expect(() => new WebSocketServer({})).toThrow(InvalidArgumentError);
    expect(() => new WebSocketServer({ noServer: true, httpServer: server })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('origin checks', () => {
  const cases: Array<
    [string, ConstructorParameters<typeof WebSocketServer>[0], string | undefined, number]
  > = [
    [
      'an exact origin, normalized',
      { allowedOrigins: 'HTTPS://App.Example.com:443' },
      'https://app.example.com',
      101,
    ],
    [
      'another origin',
      { allowedOrigins: 'https://app.example.com' },
      'https://app.example.com.evil.test',
      403,
    ],
    [
      'a RegExp',
      { allowedOrigins: /^https:\/\/[a-z]+\.example\.com$/ },
      'https://beta.example.com',
      101,
    ],
    [
      'a RegExp miss',
      { allowedOrigins: [/^https:\/\/[a-z]+\.example\.com$/g] },
      'http://beta.example.com',
      403,
    ],
    ['a list', { allowedOrigins: ['https://a.test', 'https://b.test'] }, 'https://b.test', 101],
    ['no Origin (not a browser)', { allowedOrigins: 'https://a.test' }, undefined, 101],
    [
      'no Origin with requireOrigin',
      { allowedOrigins: 'https://a.test', requireOrigin: true },
      undefined,
      403,
    ],
    [
      'a function',
      { allowedOrigins: (origin) => origin?.endsWith('.trusted.test') === true },
      'https://x.trusted.test',
      101,
    ],
    ['a function saying no', { allowedOrigins: () => false }, 'https://x.trusted.test', 403],
    ["the opaque origin 'null'", { allowedOrigins: 'https://a.test' }, 'null', 403],
  ];
  it.each(cases)('judges %s', async (_name, options, origin, status) => {
    const { port } = await echoServer(options);
    const socket = resources.socket(await rawConnect(port));
    socket.write(upgradeRequest('/', { Origin: origin }));
    const head = await readHead(socket);
    expect(head.status).toBe(status);
  });

  it('lets a client with an allowed origin through end to end', async () => {
    const { port } = await echoServer({ allowedOrigins: ['https://app.example.com'] });
    const ws = resources.ws(
      await connect(`ws://127.0.0.1:${port}/`, { origin: 'https://app.example.com' }),
    );
    ws.write('ok');
    expect(await nextMessage(ws)).toBe('ok');
    const refused = await connect(`ws://127.0.0.1:${port}/`, { origin: 'https://evil.test' }).catch(
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(HandshakeError);
    expect((refused as HandshakeError).status).toBe(403);
    expect((refused as HandshakeError).body).toBe('Origin not allowed');
  });
});
