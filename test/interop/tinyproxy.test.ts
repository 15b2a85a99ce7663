import diagnosticsChannel from 'node:diagnostics_channel';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, WebSocketClient } from '../../lib/client.js';
import { DiagnosticsChannel, type HandshakeStartMessage } from '../../lib/diagnostics.js';
import { ErrorCode, HandshakeError } from '../../lib/protocol/errors.js';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.js';
import { listen, nextMessage, Resources } from '../integration/upgrade-helpers.js';

/**
 * The client's `proxy` option against a real HTTP proxy, Debian's tinyproxy, started for
 * these tests (a missing tinyproxy fails them): ws: and wss: through its CONNECT tunnel,
 * credentials from the proxy URL, the environment (only when asked), NO_PROXY, and the
 * proxy's refusals and absence as typed errors.
 */

/** The servers, for the whole file; the connections, for each test. */
const servers = new Resources();
const resources = new Resources();
let certs: TestCerts;
let open: Tinyproxy;
let guarded: Tinyproxy;
let plain: { port: number; headers: IncomingHttpHeaders[] };
let secure: { port: number; headers: IncomingHttpHeaders[] };

async function echoServer(
  server: http.Server,
): Promise<{ port: number; headers: IncomingHttpHeaders[] }> {
  servers.http(server);
  const wss = servers.wss(new WebSocketServer({ httpServer: server }));
  const headers: IncomingHttpHeaders[] = [];
  wss.on('request', (request: WebSocketRequest) => {
    headers.push(request.httpRequest.headers);
    const ws = request.accept();
    ws.pipe(ws);
  });
  return { port: await listen(server), headers };
}

beforeAll(async () => {
  certs = makeTestCerts();
  [open, guarded, plain, secure] = await Promise.all([
    startTinyproxy(),
    startTinyproxy({ user: 'alice', password: 's3cret' }),
    echoServer(http.createServer()),
    echoServer(https.createServer({ cert: certs.serverCert, key: certs.serverKey })),
  ]);
});
afterAll(async () => {
  await servers.closeAll();
  await Promise.all([open?.stop(), guarded?.stop()]);
  certs?.cleanup();
});
afterEach(() => resources.closeAll());

async function failure(promise: Promise<unknown>): Promise<HandshakeError> {
  const err = await promise.then(
    () => new Error('expected the handshake to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HandshakeError);
  return err as HandshakeError;
}

/** Sets environment variables for one test, and puts them back. */
async function withEnv<T>(
  vars: Record<string, string | undefined>,
  run: () => Promise<T>,
): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const name of Object.keys(vars)) {
    saved[name] = process.env[name];
    if (vars[name] === undefined) delete process.env[name];
    else process.env[name] = vars[name];
  }
  try {
    return await run();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const PROXY_VARS = [
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'no_proxy',
  'NO_PROXY',
];
const noProxyEnv = Object.fromEntries(PROXY_VARS.map((name) => [name, undefined]));

describe('connect() through tinyproxy (HTTP CONNECT)', () => {
  it('tunnels ws: and echoes, the proxy asked for exactly that host and port', async () => {
    const before = open.connects().length;
    const ws = resources.ws(
      await connect(`ws://127.0.0.1:${plain.port}/through`, { proxy: open.url }),
    );
    ws.write('hello through the proxy');
    expect(await nextMessage(ws)).toBe('hello through the proxy');
    ws.write(Buffer.alloc(200_000, 3));
    expect(await nextMessage(ws)).toEqual(Buffer.alloc(200_000, 3));
    expect(open.connects().slice(before)).toEqual([`127.0.0.1:${plain.port}`]);
  });

  it('tunnels wss: with TLS end to end (the proxy sees only the tunnel)', async () => {
    const before = open.connects().length;
    const ws = resources.ws(
      await connect(`wss://localhost:${secure.port}/tls`, { proxy: open.url, ca: certs.ca }),
    );
    ws.write('secret');
    expect(await nextMessage(ws)).toBe('secret');
    const socket = ws.transport as TLSSocket;
    expect(socket.encrypted).toBe(true);
    expect(socket.authorized).toBe(true);
    expect(open.connects().slice(before)).toEqual([`localhost:${secure.port}`]);
  });

  it('checks the certificate through the tunnel as it does without one', async () => {
    const err = await failure(
      connect(`wss://localhost:${secure.port}/`, { proxy: open.url, ca: certs.otherCa }),
    );
    expect(err.code).toBe(ErrorCode.ConnectFailed);
    expect(err.status).toBe(0);
    expect((err.cause as NodeJS.ErrnoException).code).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED/);
  });

  it('sends the credentials of the proxy URL as Proxy-Authorization, and never to the server', async () => {
    const refused = await failure(connect(`ws://127.0.0.1:${plain.port}/`, { proxy: guarded.url }));
    expect(refused.status).toBe(407);
    expect(refused.code).toBe(ErrorCode.ProxyRefused);
    expect(refused.message).toContain(`refused to tunnel to 127.0.0.1:${plain.port}: 407`);
    const wrong = await failure(
      connect(`ws://127.0.0.1:${plain.port}/`, {
        proxy: guarded.url.replace('//', '//alice:wrong@'),
      }),
    );
    // tinyproxy answers wrong credentials with 401 (407 is for none at all): whatever the
    // proxy says is what the error carries.
    expect(wrong.status).toBe(401);
    expect(wrong.code).toBe(ErrorCode.ProxyRefused);
    expect(wrong.message).not.toContain('wrong');

    const seen = plain.headers.length;
    const proxyUrl = guarded.url.replace('//', `//alice:${encodeURIComponent('s3cret')}@`);
    const ws = resources.ws(await connect(`ws://127.0.0.1:${plain.port}/`, { proxy: proxyUrl }));
    ws.write('authorized');
    expect(await nextMessage(ws)).toBe('authorized');
    expect(plain.headers).toHaveLength(seen + 1);
    expect(plain.headers[seen]?.['proxy-authorization']).toBeUndefined();
  });

  it('reports an unreachable proxy as ERR_WS_CONNECT_FAILED with the cause', async () => {
    const unused = net.createServer();
    const port = await listen(unused);
    await new Promise((resolve) => unused.close(resolve));
    const err = await failure(
      connect(`ws://127.0.0.1:${plain.port}/`, { proxy: `http://u:p@127.0.0.1:${port}` }),
    );
    expect(err.code).toBe(ErrorCode.ConnectFailed);
    expect(err.status).toBe(0);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(err.message).toBe(
      `Could not connect to the proxy http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it("reads HTTP_PROXY and HTTPS_PROXY only with proxy: 'env', and honours NO_PROXY", async () => {
    await withEnv({ ...noProxyEnv, HTTP_PROXY: open.url, HTTPS_PROXY: open.url }, async () => {
      const before = open.connects().length;
      // Not asked: the environment is not read.
      const direct = resources.ws(await connect(`ws://127.0.0.1:${plain.port}/`));
      direct.write('direct');
      expect(await nextMessage(direct)).toBe('direct');
      expect(open.connects().length).toBe(before);
      // Asked: ws: takes HTTP_PROXY, wss: takes HTTPS_PROXY.
      const viaEnv = resources.ws(await connect(`ws://127.0.0.1:${plain.port}/`, { proxy: 'env' }));
      const viaEnvTls = resources.ws(
        await connect(`wss://localhost:${secure.port}/`, { proxy: 'env', ca: certs.ca }),
      );
      viaEnv.write('env');
      viaEnvTls.write('env tls');
      expect(await nextMessage(viaEnv)).toBe('env');
      expect(await nextMessage(viaEnvTls)).toBe('env tls');
      expect(open.connects().slice(before)).toEqual([
        `127.0.0.1:${plain.port}`,
        `localhost:${secure.port}`,
      ]);
    });
    await withEnv(
      { ...noProxyEnv, HTTP_PROXY: open.url, NO_PROXY: `example.com, 127.0.0.1:${plain.port}` },
      async () => {
        const before = open.connects().length;
        const ws = resources.ws(await connect(`ws://127.0.0.1:${plain.port}/`, { proxy: 'env' }));
        ws.write('bypassed');
        expect(await nextMessage(ws)).toBe('bypassed');
        expect(open.connects().length).toBe(before);
      },
    );
  });

  it('takes the proxy as a WebSocketClient default, and tells diagnostics which proxy (without credentials)', async () => {
    const starts: HandshakeStartMessage[] = [];
    const onStart = (message: unknown): void => {
      starts.push(message as HandshakeStartMessage);
    };
    diagnosticsChannel.subscribe(DiagnosticsChannel.HandshakeStart, onStart);
    try {
      const proxyUrl = guarded.url.replace('//', `//alice:${encodeURIComponent('s3cret')}@`);
      const client = new WebSocketClient({ proxy: proxyUrl });
      const connected = new Promise<unknown>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connectFailed', reject);
      });
      client.connect(`ws://127.0.0.1:${plain.port}/client`);
      const ws = resources.ws((await connected) as Parameters<typeof resources.ws>[0]);
      ws.write('client');
      expect(await nextMessage(ws)).toBe('client');
    } finally {
      diagnosticsChannel.unsubscribe(DiagnosticsChannel.HandshakeStart, onStart);
    }
    expect(starts).toEqual([
      { role: 'client', url: `ws://127.0.0.1:${plain.port}/client`, proxy: guarded.url },
    ]);
  });
});
