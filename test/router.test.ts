import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeError, InvalidArgumentError } from '../lib/protocol/errors.js';
import { WebSocketRouter, type WebSocketRouterRequest } from '../lib/router.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';
import { LoopbackServer, nextMessage } from './helpers/loopback-server.js';

let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A listening server with a router, whose handlers answer with their own name. */
async function routed(
  mounts: [path: string | RegExp, protocol: string | null, name: string][],
): Promise<{ server: LoopbackServer; router: WebSocketRouter; seen: WebSocketRouterRequest[] }> {
  server = new LoopbackServer();
  const router = new WebSocketRouter({ server: server.wss });
  const seen: WebSocketRouterRequest[] = [];
  for (const [path, protocol, name] of mounts) {
    router.mount(path, protocol, (request) => {
      seen.push(request);
      request.accept().write(name);
    });
  }
  await server.listen();
  return { server, router, seen };
}

/** Connects and returns the protocol agreed and the first message (the handler's name). */
async function ask(
  s: LoopbackServer,
  path: string,
  protocols: string[] = [],
): Promise<{ protocol: string; name: string | Buffer }> {
  const ws = await s.connect(path, { protocols });
  const name = await nextMessage(ws);
  ws.end();
  return { protocol: ws.protocol, name };
}

async function refusal(s: LoopbackServer, path: string, protocols: string[] = []) {
  const err = await s.connect(path, { protocols }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

describe('WebSocketRouter: matching', () => {
  it('routes by exact path, * and RegExp, and answers with the protocol matched', async () => {
    const { server: s, seen } = await routed([
      ['/chat', 'chat', 'exact'],
      [/^\/rooms\/\d+$/, 'chat', 'regexp'],
      ['*', 'chat', 'star'],
    ]);
    expect(await ask(s, '/chat', ['chat'])).toEqual({ protocol: 'chat', name: 'exact' });
    expect(await ask(s, '/rooms/42', ['chat'])).toEqual({ protocol: 'chat', name: 'regexp' });
    expect(await ask(s, '/rooms/42?x=1', ['chat'])).toEqual({ protocol: 'chat', name: 'regexp' });
    expect(await ask(s, '/rooms/abc', ['chat'])).toEqual({ protocol: 'chat', name: 'star' });
    expect(await ask(s, '/chat/more', ['chat'])).toEqual({ protocol: 'chat', name: 'star' });
    expect(seen.map((r) => r.protocol)).toEqual(['chat', 'chat', 'chat', 'chat', 'chat']);
    expect(seen[2]!.resource).toBe('/rooms/42?x=1');
  });

  it("tries the client's protocols in its order, and the first matching mount wins", async () => {
    const { server: s } = await routed([
      ['*', 'b', 'b-handler'],
      ['*', 'a', 'a-handler'],
      ['/x', 'a', 'a-on-x'],
    ]);
    // 'a' is the client's first choice: it wins although 'b' was mounted first.
    expect(await ask(s, '/', ['a', 'b'])).toEqual({ protocol: 'a', name: 'a-handler' });
    expect(await ask(s, '/', ['b', 'a'])).toEqual({ protocol: 'b', name: 'b-handler' });
    // Among mounts for the same protocol, the first mounted that matches the path wins.
    expect(await ask(s, '/x', ['a'])).toEqual({ protocol: 'a', name: 'a-handler' });
    // A protocol nobody serves is skipped for the next one.
    expect(await ask(s, '/', ['zzz', 'b'])).toEqual({ protocol: 'b', name: 'b-handler' });
  });

  it("mounts for null take requests that offer no protocol, '*' takes any", async () => {
    const { server: s, seen } = await routed([
      ['/none', null, 'none'],
      ['/any', '*', 'any'],
    ]);
    expect(await ask(s, '/none')).toEqual({ protocol: '', name: 'none' });
    expect(await ask(s, '/any')).toEqual({ protocol: '', name: 'any' });
    expect(await ask(s, '/any', ['x', 'y'])).toEqual({ protocol: 'x', name: 'any' });
    expect(seen.map((r) => r.protocol)).toEqual([null, null, 'x']);
    // A null mount does not take a request that offers protocols, whatever their name.
    expect((await refusal(s, '/none', ['x'])).status).toBe(404);
    expect((await refusal(s, '/none', ['____no_protocol____'])).status).toBe(404);
  });

  it('compares protocols case-insensitively and answers in the client spelling', async () => {
    const { server: s, seen } = await routed([['*', 'Chat.V1', 'chat']]);
    expect(await ask(s, '/', ['CHAT.v1'])).toEqual({ protocol: 'CHAT.v1', name: 'chat' });
    expect(seen[0]!.protocol).toBe('CHAT.v1');
  });

  it('answers 404 when no mount matches, and the server lives on', async () => {
    const { server: s } = await routed([['/a', 'p', 'a']]);
    const err = await refusal(s, '/b', ['p']);
    expect(err.status).toBe(404);
    expect(err.body).toMatch(/No handler/);
    expect((await refusal(s, '/a', ['q'])).status).toBe(404);
    expect((await refusal(s, '/a')).status).toBe(404);
    expect(await ask(s, '/a', ['p'])).toEqual({ protocol: 'p', name: 'a' });
  });

  it('escapes string paths: a dot is a dot, not any character', async () => {
    const { server: s } = await routed([['/v1.0', null, 'v']]);
    expect(await ask(s, '/v1.0')).toEqual({ protocol: '', name: 'v' });
    expect((await refusal(s, '/v1x0')).status).toBe(404);
  });

  it('uses a global RegExp statelessly (lastIndex never skips a request)', async () => {
    const { server: s } = await routed([[/^\/g$/g, null, 'g']]);
    for (let i = 0; i < 3; i++) expect(await ask(s, '/g')).toEqual({ protocol: '', name: 'g' });
  });
});

describe('WebSocketRouter: mounting', () => {
  it('refuses the same path and protocol twice, however spelt', () => {
    const router = new WebSocketRouter();
    const handler = () => {};
    router.mount('/a', 'p', handler);
    expect(() => router.mount('/a', 'p', handler)).toThrow(InvalidArgumentError);
    expect(() => router.mount('/a', 'P', handler)).toThrow(/already mounted/);
    expect(() => router.mount(/^\/a$/, 'p', handler)).toThrow(InvalidArgumentError);
    router.mount('/a', null, handler);
    expect(() => router.mount('/a', undefined, handler)).toThrow(InvalidArgumentError);
    expect(() => router.mount('/a', '', handler)).toThrow(InvalidArgumentError);
    router.mount('/a', '*', handler);
    router.mount('*', 'p', handler);
    router.mount('/b', 'p', handler);
  });

  it('refuses bad arguments', () => {
    const router = new WebSocketRouter();
    const handler = () => {};
    expect(() => router.mount('', 'p', handler)).toThrow(InvalidArgumentError);
    expect(() => router.mount(42 as unknown as string, 'p', handler)).toThrow(InvalidArgumentError);
    expect(() => router.mount('/a', 7 as unknown as string, handler)).toThrow(InvalidArgumentError);
    expect(() => router.mount('/a', 'p', undefined as unknown as () => void)).toThrow(
      InvalidArgumentError,
    );
  });

  it('unmounts, and refuses to unmount what is not mounted', async () => {
    const { server: s, router } = await routed([
      ['/a', 'p', 'a'],
      ['*', 'p', 'star'],
    ]);
    expect(await ask(s, '/a', ['p'])).toEqual({ protocol: 'p', name: 'a' });
    router.unmount('/a', 'P');
    expect(await ask(s, '/a', ['p'])).toEqual({ protocol: 'p', name: 'star' });
    expect(() => router.unmount('/a', 'p')).toThrow(InvalidArgumentError);
    router.unmount('*', 'p');
    expect((await refusal(s, '/a', ['p'])).status).toBe(404);
    router.mount('/a', 'p', (r) => {
      r.accept().write('again');
    });
    expect(await ask(s, '/a', ['p'])).toEqual({ protocol: 'p', name: 'again' });
  });

  it('attaches to one server at a time; detaching twice is an error', async () => {
    server = new LoopbackServer();
    const other = new LoopbackServer();
    try {
      const router = new WebSocketRouter();
      expect(router.server).toBeNull();
      expect(() => router.detachServer()).toThrow(InvalidArgumentError);
      router.attachServer(server.wss);
      router.attachServer(server.wss); // the same one again: nothing changes
      expect(server.wss.listenerCount('request')).toBe(1);
      expect(() => router.attachServer(other.wss)).toThrow(/already attached/);
      router.detachServer();
      expect(server.wss.listenerCount('request')).toBe(0);
      expect(() => router.detachServer()).toThrow(/not attached/);
      router.attachServer(other.wss);
      expect(router.server).toBe(other.wss);
      expect(() => router.attachServer(null as unknown as typeof other.wss)).toThrow(
        InvalidArgumentError,
      );
    } finally {
      await other.close();
    }
  });

  it('stops routing once detached (the server then has no request handler: 500)', async () => {
    const { server: s, router } = await routed([['*', null, 'x']]);
    expect(await ask(s, '/')).toEqual({ protocol: '', name: 'x' });
    router.detachServer();
    expect((await refusal(s, '/')).status).toBe(500);
  });
});

describe('WebSocketRouterRequest', () => {
  it("carries the request's fields and emits requestAccepted once", async () => {
    server = new LoopbackServer();
    const router = new WebSocketRouter({ server: server.wss });
    const events: string[] = [];
    let captured: WebSocketRouterRequest | undefined;
    router.mount('/r', 'p', (request) => {
      captured = request;
      request.on('requestAccepted', (c: WebSocketConnection) =>
        events.push(`accepted:${c.protocol}`),
      );
      request.on('requestRejected', () => events.push('rejected'));
      request.accept(request.origin).write('hi');
    });
    await server.listen();
    const ws = await server.connect('/r?q=1', {
      protocols: ['p'],
      origin: 'http://example.test',
      headers: { cookie: 'a=1; b="two"; junk' },
    });
    expect(await nextMessage(ws)).toBe('hi');
    const r = captured!;
    expect(r.protocol).toBe('p');
    expect(r.origin).toBe('http://example.test');
    expect(r.resource).toBe('/r?q=1');
    expect(r.resourceURL.pathname).toBe('/r');
    expect(r.httpRequest.headers.host).toBe(`127.0.0.1:${server.port}`);
    expect(r.remoteAddress).toBe('127.0.0.1');
    expect(r.webSocketVersion).toBe(13);
    expect(r.requestedProtocols).toEqual(['p']);
    expect(r.webSocketRequest.state).toBe('accepted');
    expect(r.cookies).toEqual([
      { name: 'a', value: '1' },
      { name: 'b', value: 'two' },
    ]);
    expect(events).toEqual(['accepted:p']);
  });

  it('sets WebSocket-Node cookies on the 101, and refuses ones that would break it', async () => {
    server = new LoopbackServer();
    const router = new WebSocketRouter({ server: server.wss });
    const thrown: unknown[] = [];
    router.mount('/good', null, (request) => {
      request.accept(request.origin, [
        { name: 'id', value: 'v1', path: '/', maxage: 5000, httponly: true, secure: false },
        { name: 'theme', value: 'dark', domain: 'example.test', secure: true },
      ]);
    });
    router.mount('/bad', null, (request) => {
      try {
        request.accept(null, [{ name: 'x', value: 'a;\r\nInjected: 1' }]);
      } catch (err) {
        thrown.push(err);
      }
    });
    await server.listen();
    // Read the 101's Set-Cookie headers through a bare node:http upgrade.
    const upgrade = new Promise<string[]>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: server!.port,
        path: '/good',
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.headers['set-cookie'] ?? []);
      });
      req.on('error', reject);
      req.end();
    });
    expect(await upgrade).toEqual([
      'id=v1; Path=/; Max-Age=5000; HttpOnly',
      'theme=dark; Domain=example.test; Secure',
    ]);
    const err = await refusal(server, '/bad');
    expect(err.status).toBe(500);
    expect(thrown[0]).toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects with the status given and emits requestRejected with itself', async () => {
    server = new LoopbackServer();
    const router = new WebSocketRouter({ server: server.wss });
    const rejected: unknown[] = [];
    router.mount('*', 'p', (request) => {
      request.on('requestRejected', (r: unknown) => rejected.push(r === request));
      request.reject(401, 'Who are you?', { 'www-authenticate': 'Bearer' });
    });
    await server.listen();
    const err = await refusal(server, '/', ['p']);
    expect(err.status).toBe(401);
    expect(err.headers['www-authenticate']).toBe('Bearer');
    expect(err.body).toBe('Who are you?');
    expect(rejected).toEqual([true]);
  });

  it('a handler that throws gets the request answered 500; the router goes on', async () => {
    server = new LoopbackServer();
    const router = new WebSocketRouter({ server: server.wss });
    const errors: unknown[] = [];
    server.wss.on('error', (err: unknown) => errors.push(err));
    let calls = 0;
    router.mount('*', null, (request) => {
      calls++;
      if (calls === 1) throw new Error('handler bug');
      request.accept().write('ok');
    });
    await server.listen();
    expect((await refusal(server, '/')).status).toBe(500);
    expect((errors[0] as Error).message).toBe('handler bug');
    expect(await ask(server, '/')).toEqual({ protocol: '', name: 'ok' });
  });
});
