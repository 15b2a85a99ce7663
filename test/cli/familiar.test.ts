import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import { type CliResult, collect, runCli, spawnCli, startCli, waitFor } from '../helpers/cli.js';

/**
 * wsdx under the spellings wscat and websocat users type, each run as a real process,
 * for what the README's table (run by readme-examples.test.ts) does not show: credentials
 * and redirects seen by the server, -1 and -E against servers that make them matter, the
 * notes of the renamed flags, and a feed read through 5 s of silence.
 */

let library: { url: string; headers: IncomingHttpHeaders[]; close: () => Promise<void> };

/**
 * An in-process server for what the CLI cannot show: the request headers it got, a feed
 * (/feed: three messages, then a Close), a slow echo (/slow: each answer 400 ms late), a
 * redirect (/moved: 302 to /echo, before any WebSocket server sees it), an echo elsewhere.
 */
async function libraryServer(): Promise<typeof library> {
  const server = http.createServer();
  server.prependListener('upgrade', (req, socket) => {
    if (req.url !== '/moved') return;
    socket.end('HTTP/1.1 302 Found\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n');
  });
  const wss = new WebSocketServer({ httpServer: server });
  const headers: IncomingHttpHeaders[] = [];
  wss.on('request', (request: WebSocketRequest) => {
    if (request.resource === '/moved') return;
    headers.push(request.httpRequest.headers);
    const ws = request.accept(request.requestedProtocols[0]);
    if (request.resource === '/feed') {
      for (const n of [1, 2, 3]) ws.write(`message ${n}`);
      ws.close(1000);
      ws.resume();
      return;
    }
    const delay = request.resource === '/slow' ? 400 : 0;
    ws.on('data', (message: string | Buffer) => {
      setTimeout(() => {
        if (ws.isOpen) ws.write(message);
      }, delay);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    headers,
    close: async () => {
      await wss.shutDown({ gracePeriod: 200 });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

beforeAll(async () => {
  library = await libraryServer();
});
afterAll(async () => {
  await library?.close();
});

function ok(result: CliResult, stdout: string | Buffer): void {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  if (typeof stdout === 'string') expect(result.stdout.toString()).toBe(stdout);
  else expect(result.stdout.equals(stdout)).toBe(true);
}

describe("wscat's spellings", () => {
  it('sends --auth as Basic credentials, follows redirects with -L, and says when it did not', async () => {
    const seen = library.headers.length;
    const [auth, redirected, notFollowed] = await Promise.all([
      runCli(['-c', `${library.url}/echo`, '--auth', 'alice:s3cret', '--linger', '300ms'], {
        input: 'auth\n',
      }),
      runCli(['-c', `${library.url}/moved`, '-L', '--linger', '300ms'], { input: 'moved\n' }),
      runCli(['-c', `${library.url}/moved`]),
    ]);
    ok(auth, 'auth\n');
    ok(redirected, 'moved\n');
    const authorizations = library.headers.slice(seen).map((h) => h.authorization);
    expect(authorizations).toContain(`Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    expect(notFollowed.code).toBe(4);
    expect(notFollowed.stderr).toBe(
      'wsdx: the server refused the handshake: 302 Found: redirected to /echo (-L follows redirects)\n',
    );
  });
});

describe("websocat's spellings", () => {
  it('-1 takes one message and exits; -E closes at the end of input without waiting for answers', async () => {
    const devNull = openSync('/dev/null', 'r');
    try {
      const [one, exitOnEof, lingering] = await Promise.all([
        runCli(['-1', `${library.url}/feed`], { input: devNull }),
        runCli(['-E', `${library.url}/slow`], { input: 'late\n' }),
        runCli([`${library.url}/slow`], { input: 'late\n' }),
      ]);
      ok(one, 'message 1\n');
      ok(exitOnEof, '');
      ok(lingering, 'late\n');
    } finally {
      closeSync(devNull);
    }
  });
});

describe('the renamed flags of the previous release', () => {
  it('reads listen -s NAME and connect -t DURATION as before, with a note; listen -b is --binary', async () => {
    const server = await startCli(['listen', '0', '--echo', '-s', 'chat.v1']);
    const binary = await startCli(['listen', '0', '-b']);
    try {
      expect(server.stderr()).toMatch(/^wsdx: in listen, -s NAME is --subprotocol NAME/m);
      expect(binary.stderr()).toMatch(
        /^wsdx: -b is --binary now \(as in connect and websocat\); broadcast is --broadcast$/m,
      );
      const result = await runCli(
        ['connect', server.url, '-t', '5', '-s', 'chat.v1', '--show-control', '--linger', '300ms'],
        { input: 'hi\n' },
      );
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toBe('hi\n');
      expect(result.stderr).toMatch(
        /^wsdx: -t is --text now \(as in websocat\): the time allowed to connect is --timeout$/m,
      );
      expect(result.stderr).toMatch(/^wsdx: connected to \S+ \(subprotocol chat\.v1\)$/m);
      // listen -b prints messages raw: no newline after a text message.
      const ws = await connect(binary.url);
      ws.write('raw');
      await waitFor(() => binary.stdout() === 'raw', 5_000, 'the raw message');
      ws.end();
    } finally {
      await Promise.all([server.stop(), binary.stop()]);
    }
  });
});

describe('reading a feed: stay connected until the peer closes', () => {
  it('with stdin at /dev/null, --linger inf or --no-close, through 5 s of silence; not by default', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
    wss.on('connect', (ws) => {
      ws.resume();
      const timer = setTimeout(() => {
        ws.write('after five seconds');
        ws.close(1000);
      }, 5_000);
      ws.once('close', () => clearTimeout(timer));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/feed`;
    const devNull = openSync('/dev/null', 'r');
    try {
      const started = Date.now();
      const timed = async (run: Promise<CliResult>) => {
        const result = await run;
        return { result, ms: Date.now() - started };
      };
      const [fromNull, lingerInf, lingerNever, noClose, byDefault] = await Promise.all([
        timed(runCli(['connect', url], { input: devNull, timeout: 15_000 })),
        timed(runCli(['connect', url, '--linger', 'inf'], { input: '', timeout: 15_000 })),
        timed(runCli([url, '--linger', 'never'], { input: '', timeout: 15_000 })),
        timed(collect(spawnCli([url, '--no-close'], 'ignore'), 15_000)),
        timed(runCli(['connect', url], { input: '', timeout: 15_000 })),
      ]);
      for (const { result, ms } of [fromNull, lingerInf, lingerNever, noClose]) {
        ok(result, 'after five seconds\n');
        expect(ms).toBeGreaterThanOrEqual(4_900);
      }
      // An input that ends at once: closed after the default linger (1 s), the feed unread.
      ok(byDefault.result, '');
      expect(byDefault.ms).toBeLessThan(4_500);
    } finally {
      closeSync(devNull);
      await wss.shutDown({ gracePeriod: 100 });
      server.closeAllConnections();
      server.close();
    }
  }, 30_000);
});
