import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, MAX_BODY_EXCERPT, WebSocketClient } from '../../lib/client.js';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../../lib/protocol/errors.js';
import { acceptValue, isValidKey } from '../../lib/protocol/handshake.js';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  listen,
  nextMessage,
  type RawResponse,
  Resources,
  readHead,
  within,
} from './upgrade-helpers.js';

const resources = new Resources();
afterEach(() => resources.closeAll());
const socketDir = mkdtempSync(join(tmpdir(), 'ws-duplex-unix-'));
afterAll(() => rmSync(socketDir, { recursive: true, force: true }));

/** An HTTP server with a WebSocket echo server on it; `seen` records each upgrade's headers. */
async function echoServer(host = '127.0.0.1') {
  const server = resources.http(http.createServer((_req, res) => res.writeHead(404).end()));
  const seen: http.IncomingHttpHeaders[] = [];
  server.prependListener('upgrade', (req: http.IncomingMessage) => seen.push(req.headers));
  const wss = resources.wss(
    new WebSocketServer({ httpServer: server, autoAcceptConnections: true, protocols: ['chat'] }),
  );
  wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
  const port = await listen(server, host);
  return { server, wss, port, seen };
}

/**
 * A raw TCP server that reads the request head and lets `answer` write whatever it likes:
 * the way to test answers a real server would never give.
 */
async function rawServer(answer: (socket: net.Socket, request: RawResponse) => void) {
  const requests: RawResponse[] = [];
  const server = resources.net(
    net.createServer((socket) => {
      socket.on('error', () => {});
      readHead(socket).then(
        (request) => {
          requests.push(request);
          answer(socket, request);
        },
        () => socket.destroy(),
      );
    }),
  );
  const port = await listen(server);
  return { port, requests };
}

function accept101(request: RawResponse, extra = ''): string {
  const key = request.headers['sec-websocket-key'] ?? '';
  return (
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptValue(key)}\r\n${extra}\r\n`
  );
}

async function failure(promise: Promise<unknown>): Promise<HandshakeError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the handshake to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

describe('connect()', () => {
  it('sends a well-formed upgrade request and echoes', async () => {
    const { port, seen } = await echoServer();
    const ws = resources.ws(
      await connect(`ws://localhost:${port}/path?q=1`, {
        protocols: ['other', 'chat'],
        origin: 'https://app.example.com',
        headers: { 'X-Custom': 'yes' },
      }),
    );
    expect(ws.protocol).toBe('chat');
    ws.write('round trip');
    expect(await nextMessage(ws)).toBe('round trip');
    expect(seen).toHaveLength(1);
    const headers = seen[0]!;
    expect(headers.connection).toBe('Upgrade');
    expect(headers.upgrade).toBe('websocket');
    expect(headers['sec-websocket-version']).toBe('13');
    expect(isValidKey(String(headers['sec-websocket-key']))).toBe(true);
    expect(headers['sec-websocket-protocol']).toBe('other, chat');
    expect(headers.origin).toBe('https://app.example.com');
    expect(headers['x-custom']).toBe('yes');
    expect(headers.host).toBe(`localhost:${port}`);
  });

  it('connects over IPv6 loopback', async (context) => {
    const probe = net.createServer();
    const ipv6 = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!ipv6) context.skip();
    const { port } = await echoServer('::1');
    const ws = resources.ws(await connect(`ws://[::1]:${port}/`));
    ws.write(Buffer.from('v6'));
    expect(await nextMessage(ws)).toEqual(Buffer.from('v6'));
  });

  it('connects over a Unix domain socket with ws+unix:', async () => {
    const server = resources.http(http.createServer());
    const wss = resources.wss(new WebSocketServer({ httpServer: server }));
    const requests: WebSocketRequest[] = [];
    wss.on('request', (request: WebSocketRequest) => {
      requests.push(request);
      const ws = request.accept();
      ws.pipe(ws);
    });
    const socketPath = join(socketDir, 'ws.sock');
    server.listen(socketPath);
    await once(server, 'listening');
    const ws = resources.ws(await connect(`ws+unix:${socketPath}:/chat?room=2`));
    ws.write('over unix');
    expect(await nextMessage(ws)).toBe('over unix');
    expect(requests).toHaveLength(1);
    expect(requests[0]?.resource).toBe('/chat?room=2');
    expect(requests[0]?.remoteAddress).toBeUndefined();
  });

  it('takes the frames that came in the same packet as the 101', async () => {
    const { port } = await rawServer((socket, request) => {
      socket.write(
        Buffer.concat([Buffer.from(accept101(request)), Buffer.from([0x81, 2]), Buffer.from('hi')]),
      );
    });
    const ws = resources.ws(await connect(`ws://127.0.0.1:${port}/`));
    expect(await nextMessage(ws)).toBe('hi');
  });

  const bad101: Array<[string, string[] | undefined, (request: RawResponse) => string, RegExp]> = [
    [
      'a wrong Sec-WebSocket-Accept',
      undefined,
      () =>
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      /Sec-WebSocket-Accept/,
    ],
    [
      'no Sec-WebSocket-Accept',
      undefined,
      () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      /Missing Sec-WebSocket-Accept/,
    ],
    [
      'an Upgrade other than websocket',
      undefined,
      (request) => accept101(request).replace('Upgrade: websocket', 'Upgrade: h2c'),
      /Upgrade/,
    ],
    [
      'a Connection without upgrade',
      undefined,
      (request) => accept101(request).replace('Connection: Upgrade', 'Connection: keep-alive'),
      /Connection|Upgrade/,
    ],
    [
      'no Upgrade and no Connection',
      undefined,
      (request) => accept101(request).replace('Upgrade: websocket\r\nConnection: Upgrade\r\n', ''),
      /Upgrade/,
    ],
    [
      'a subprotocol that was not offered',
      ['chat'],
      (request) => accept101(request, 'Sec-WebSocket-Protocol: other\r\n'),
      /not requested: other/,
    ],
    [
      'a subprotocol when none was offered',
      undefined,
      (request) => accept101(request, 'Sec-WebSocket-Protocol: chat\r\n'),
      /none was requested/,
    ],
    [
      'an empty subprotocol',
      ['chat'],
      (request) => accept101(request, 'Sec-WebSocket-Protocol: \r\n'),
      /Sec-WebSocket-Protocol/,
    ],
    [
      'an extension that was not offered',
      undefined,
      (request) => accept101(request, 'Sec-WebSocket-Extensions: x-never-offered\r\n'),
      /not offered: x-never-offered/,
    ],
  ];
  it.each(bad101)('fails a 101 with %s', async (_name, protocols, answer, message) => {
    let serverSocket: net.Socket | undefined;
    const { port } = await rawServer((socket, request) => {
      serverSocket = socket;
      socket.write(answer(request));
    });
    const err = await failure(connect(`ws://127.0.0.1:${port}/`, { protocols }));
    expect(err.status).toBe(101);
    expect(err.code).toBe(ErrorCode.Handshake);
    expect(err.message).toMatch(message);
    // The client hangs up on a server it cannot trust.
    await within(once(serverSocket!, 'close'), 2_000, 'the client to close the socket');
  });

  it('turns a refusal into a HandshakeError with the status, headers and 1 KiB of body', async () => {
    const body = `${'why '.repeat(2_500)}`;
    const { port } = await rawServer((socket) => {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: nope\r\n' +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
    });
    const err = await failure(connect(`ws://127.0.0.1:${port}/`));
    expect(err.status).toBe(403);
    expect(err.headers['x-reason']).toBe('nope');
    expect(err.body).toBe(body.slice(0, MAX_BODY_EXCERPT));
    expect(err.message).toMatch(/403/);
  });

  it('reports a short refusal body whole, and a server that speaks plain HTTP', async () => {
    const server = resources.http(
      http.createServer((_req, res) => res.writeHead(200).end('just HTTP')),
    );
    const port = await listen(server);
    const err = await failure(connect(`ws://127.0.0.1:${port}/`));
    expect(err.status).toBe(200);
    expect(err.body).toBe('just HTTP');
  });

  it('fails with status 0 and the cause when nothing listens', async () => {
    const probe = net.createServer();
    const port = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    const err = await failure(connect(`ws://127.0.0.1:${port}/`));
    expect(err.status).toBe(0);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('gives up after handshakeTimeout on a server that never answers', async () => {
    const { port, requests } = await rawServer(() => {});
    const started = Date.now();
    const err = await failure(connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 200 }));
    expect(err.code).toBe(ErrorCode.HandshakeTimeout);
    expect(err.status).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(requests).toHaveLength(1);
  });

  it('aborts with the signal, before or during the handshake', async () => {
    const { port, requests } = await rawServer(() => {});
    const controller = new AbortController();
    const pending = connect(`ws://127.0.0.1:${port}/`, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const reason = new Error('user gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const already = AbortSignal.abort(new Error('too late'));
    await expect(connect(`ws://127.0.0.1:${port}/`, { signal: already })).rejects.toThrow(
      'too late',
    );
    expect(requests).toHaveLength(1);
  });

  it.each([
    ['an unknown scheme', 'ftp://127.0.0.1/', {}],
    ['a fragment', 'ws://127.0.0.1/#part', {}],
    ['not a URL', 'not a url', {}],
    ['a subprotocol that is not a token', 'ws://127.0.0.1/', { protocols: ['a b'] }],
    ['a subprotocol offered twice', 'ws://127.0.0.1/', { protocols: ['a', 'a'] }],
    ['a header the handshake sets', 'ws://127.0.0.1/', { headers: { 'Sec-WebSocket-Key': 'x' } }],
    ['a bad connection option', 'ws://127.0.0.1/', { maxReceivedFrameSize: -1 }],
  ])('rejects %s with InvalidArgumentError', async (_name, url, options) => {
    await expect(connect(url, options)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('redirects', () => {
  /** An HTTP server that redirects every upgrade to `location(req)` and records its headers. */
  async function redirector(status: number, location: (port: number) => string) {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = resources.http(http.createServer());
    let port = 0;
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      seen.push(req.headers);
      socket.end(
        `HTTP/1.1 ${status} Moved\r\nLocation: ${location(port)}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
    });
    port = await listen(server);
    return { port, seen };
  }

  it('does not follow by default', async () => {
    const target = await echoServer();
    const { port } = await redirector(302, () => `ws://127.0.0.1:${target.port}/`);
    const err = await failure(connect(`ws://127.0.0.1:${port}/`));
    expect(err.status).toBe(302);
    expect(err.headers.location).toBe(`ws://127.0.0.1:${target.port}/`);
    expect(err.message).toMatch(/followRedirects/);
    expect(target.seen).toHaveLength(0);
  });

  it.each([301, 302, 303, 307, 308])(
    'follows a %i and keeps credentials on the same origin',
    async (status) => {
      const server = resources.http(http.createServer());
      const wss = resources.wss(
        new WebSocketServer({ noServer: true, autoAcceptConnections: true }),
      );
      wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
      const hops: string[] = [];
      const seen: http.IncomingHttpHeaders[] = [];
      server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
        hops.push(req.url ?? '');
        seen.push(req.headers);
        if (req.url === '/old') {
          socket.end(`HTTP/1.1 ${status} Moved\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n`);
        } else {
          wss.handleUpgrade(req, socket, head);
        }
      });
      const port = await listen(server);
      const ws = resources.ws(
        await connect(`ws://127.0.0.1:${port}/old`, {
          followRedirects: true,
          headers: { Authorization: 'Bearer secret', Cookie: 'session=1' },
        }),
      );
      ws.write('after redirect');
      expect(await nextMessage(ws)).toBe('after redirect');
      expect(hops).toEqual(['/old', '/new']);
      expect(seen.at(-1)?.authorization).toBe('Bearer secret');
      expect(seen.at(-1)?.cookie).toBe('session=1');
    },
  );

  it('drops Authorization and Cookie when the origin changes', async () => {
    const target = await echoServer();
    const { port, seen } = await redirector(
      307,
      (own) => `http://127.0.0.1:${target.port}/elsewhere?from=${own}`,
    );
    const ws = resources.ws(
      await connect(`ws://user:pass@127.0.0.1:${port}/`, {
        followRedirects: true,
        headers: { Authorization: 'Bearer secret', cookie: 'session=1', 'X-Trace': 'abc' },
      }),
    );
    ws.write('moved');
    expect(await nextMessage(ws)).toBe('moved');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.authorization).toBe('Bearer secret');
    expect(target.seen).toHaveLength(1);
    expect(target.seen[0]?.authorization).toBeUndefined();
    expect(target.seen[0]?.cookie).toBeUndefined();
    expect(target.seen[0]?.['x-trace']).toBe('abc');
  });

  it('stops after maxRedirects', async () => {
    const { port, seen } = await redirector(302, () => '/again');
    const err = await failure(
      connect(`ws://127.0.0.1:${port}/`, { followRedirects: true, maxRedirects: 3 }),
    );
    expect(err.message).toMatch(/Too many redirects/);
    expect(err.status).toBe(302);
    expect(seen).toHaveLength(4);
  });

  it('refuses a redirect to a Unix socket or another scheme', async () => {
    const unix = await redirector(302, () => 'ws+unix:/tmp/x.sock:/');
    const err = await failure(connect(`ws://127.0.0.1:${unix.port}/`, { followRedirects: true }));
    expect(err.message).toMatch(/Unix socket/);
    const ftp = await redirector(302, () => 'ftp://127.0.0.1/');
    const err2 = await failure(connect(`ws://127.0.0.1:${ftp.port}/`, { followRedirects: true }));
    expect(err2.message).toMatch(/scheme/);
  });
});

describe('WebSocketClient', () => {
  it("emits 'connect' once", async () => {
    const { port } = await echoServer();
    const client = new WebSocketClient();
    const events: string[] = [];
    client.on('connectFailed', () => events.push('connectFailed'));
    const [connection] = (await within(
      new Promise<[WebSocketConnection]>((resolve) => {
        client.on('connect', (ws: WebSocketConnection) => {
          events.push('connect');
          resolve([ws]);
        });
        client.connect(`ws://127.0.0.1:${port}/`, 'chat', 'https://app.example.com');
      }),
      3_000,
      'connect',
    )) as [WebSocketConnection];
    resources.ws(connection);
    expect(connection.protocol).toBe('chat');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(['connect']);
  });

  it("emits 'connectFailed' once for a refusal, or 'httpResponse' instead when listened for", async () => {
    const { port } = await rawServer((socket) => {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\nConnection: close\r\n\r\nwho?');
    });
    const failing = new WebSocketClient();
    const failed: unknown[] = [];
    failing.on('connect', () => failed.push('connect'));
    failing.on('connectFailed', (err: unknown) => failed.push(err));
    failing.connect(`ws://127.0.0.1:${port}/`);
    await within(
      (async () => {
        while (failed.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      3_000,
      'connectFailed',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(failed).toHaveLength(1);
    expect((failed[0] as HandshakeError).status).toBe(401);
    expect((failed[0] as HandshakeError).body).toBe('who?');

    const listening = new WebSocketClient();
    const events: string[] = [];
    listening.on('connectFailed', () => events.push('connectFailed'));
    const body = new Promise<string>((resolve) => {
      listening.on('httpResponse', (response: http.IncomingMessage, client: WebSocketClient) => {
        events.push(`httpResponse ${response.statusCode}`);
        expect(client).toBe(listening);
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
      });
    });
    listening.connect(`ws://127.0.0.1:${port}/`);
    expect(await within(body, 3_000, 'the response body')).toBe('who?');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(['httpResponse 401']);
  });

  it("aborts attempts in progress, each ending in one 'connectFailed'", async () => {
    const { port } = await rawServer(() => {});
    const client = new WebSocketClient();
    const failed: unknown[] = [];
    client.on('connectFailed', (err: unknown) => failed.push(err));
    client.connect(`ws://127.0.0.1:${port}/a`);
    client.connect(`ws://127.0.0.1:${port}/b`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(failed).toHaveLength(2);
    expect(
      failed.every((err) => err instanceof HandshakeError && /aborted/.test(err.message)),
    ).toBe(true);
  });

  it("reports bad arguments through 'connectFailed' too", async () => {
    const client = new WebSocketClient();
    const failed: unknown[] = [];
    client.on('connectFailed', (err: unknown) => failed.push(err));
    client.connect('ftp://nowhere/');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(InvalidArgumentError);
  });
});
