import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  type BackgroundCli,
  collect,
  runCli,
  spawnCli,
  startCli,
  tempDir,
  waitFor,
} from '../helpers/cli.js';

let echo: BackgroundCli;
let files: { dir: string; cleanup: () => void };

beforeAll(async () => {
  files = tempDir();
  echo = await startCli(['listen', '0', '--echo']);
});
afterAll(async () => {
  await echo.stop();
  files.cleanup();
});

/** An in-process server for checks the CLI cannot see (headers, close codes, pings). */
async function librarySide(onRequest: (request: WebSocketRequest) => void): Promise<{
  url: string;
  close: () => Promise<void>;
}> {
  const server = http.createServer();
  const wss = new WebSocketServer({ httpServer: server });
  wss.on('request', onRequest);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      await wss.shutDown({ gracePeriod: 200 });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('connect in a pipe, against wsdx listen --echo', () => {
  it('sends one text message per line and prints each back, undecorated', async () => {
    const input = 'hello\n\nwörld ✓ 𝄞\n{"json": true}\n';
    const result = await runCli(['connect', echo.url, '--linger', '300ms'], { input });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe(input);
  });

  it('keeps 30 000 short lines in order (many small messages queued at once)', async () => {
    const input = `${Array.from({ length: 30_000 }, (_, i) => String(i)).join('\n')}\n`;
    const result = await runCli(['connect', echo.url, '--linger', '500ms'], {
      input,
      timeout: 30_000,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.toString() === input).toBe(true);
  });

  it('sends all of stdin as one message with --message (text, or binary with --binary)', async () => {
    const text = 'line one\nline two\n'.repeat(1000);
    const binary = randomBytes(300_000);
    const [asText, asBinary] = await Promise.all([
      runCli(['connect', echo.url, '--message', '--linger', '300ms'], { input: text }),
      runCli(['connect', echo.url, '--message', '--binary', '--linger', '300ms'], {
        input: binary,
      }),
    ]);
    expect(asText.code).toBe(0);
    expect(asText.stdout.toString()).toBe(text);
    expect(asBinary.code).toBe(0);
    expect(asBinary.stdout.equals(binary)).toBe(true);
  });

  it('passes 100 MiB of binary through --binary with a matching SHA-256', async () => {
    const file = join(files.dir, 'big.bin');
    const hash = createHash('sha256');
    const block = randomBytes(1024 * 1024);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      block[0] = i; // each MiB differs, so that reordering would show
      const copy = Buffer.from(block);
      hash.update(copy);
      chunks.push(copy);
    }
    writeFileSync(file, Buffer.concat(chunks));
    const fd = openSync(file, 'r');
    try {
      const result = await runCli(['connect', echo.url, '--binary', '--linger', '500ms'], {
        input: fd,
        keepStdout: false,
        timeout: 45_000,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdoutBytes).toBe(100 * 1024 * 1024);
      expect(result.stdoutSha256).toBe(hash.digest('hex'));
    } finally {
      closeSync(fd);
    }
  }, 60_000);

  it('sends pings with --ping-interval and shows control frames on stderr with --show-control', async () => {
    const result = await runCli(
      [
        'connect',
        echo.url,
        '--ping-interval',
        '100ms',
        '--ping-timeout',
        '2s',
        '--show-control',
        '--linger',
        '450ms',
      ],
      { input: 'x\n' },
    );
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('x\n');
    expect(result.stderr).toMatch(/^wsdx: > ping "wsdx 1"$/m);
    expect(result.stderr).toMatch(/^wsdx: < pong "wsdx 1"$/m);
    expect(result.stderr).toMatch(/^wsdx: closed: 1000 normal \(we closed\)$/m);
  });
});

describe('connect --compress', () => {
  it('negotiates permessage-deflate when both ends ask, and goes on without when one does not', async () => {
    const compressing = await startCli(['listen', '0', '--echo', '--compress']);
    try {
      const text = 'compress me, '.repeat(50_000);
      const flags = ['--show-control', '--linger', '300ms'];
      const [both, clientOnly, serverOnly] = await Promise.all([
        runCli(['connect', compressing.url, '--compress', '--message', ...flags], { input: text }),
        runCli(['connect', echo.url, '-z', ...flags], { input: 'plain\n' }),
        runCli(['connect', compressing.url, ...flags], { input: 'plain\n' }),
      ]);
      expect(both.code).toBe(0);
      expect(both.stdout.toString() === text).toBe(true);
      expect(both.stderr).toMatch(/^wsdx: connected to ws:\S+ \(permessage-deflate\)$/m);
      for (const plain of [clientOnly, serverOnly]) {
        expect(plain.code).toBe(0);
        expect(plain.stdout.toString()).toBe('plain\n');
        expect(plain.stderr).toMatch(/^wsdx: connected to ws:\/\/\S+$/m);
      }
      expect(compressing.stderr()).toMatch(
        /#\d connected from 127\.0\.0\.1 \(permessage-deflate\)/,
      );
    } finally {
      await compressing.stop();
    }
  });
});

describe('connect in a pipe, against a library server', () => {
  it('offers -s subprotocols and sends -H headers and --origin', async () => {
    let seen: WebSocketRequest | undefined;
    const server = await librarySide((request) => {
      seen = request;
      request.accept('chat.v2').end();
    });
    try {
      const result = await runCli([
        'connect',
        server.url,
        '-s',
        'chat.v1',
        '-s',
        'chat.v2',
        '-H',
        'Authorization: Bearer t0ken',
        '-H',
        'X-Trace: 1',
        '--origin',
        'https://app.example',
      ]);
      expect(result.code).toBe(0);
      expect(seen?.requestedProtocols).toEqual(['chat.v1', 'chat.v2']);
      expect(seen?.origin).toBe('https://app.example');
      expect(seen?.httpRequest.headers.authorization).toBe('Bearer t0ken');
      expect(seen?.httpRequest.headers['x-trace']).toBe('1');
    } finally {
      await server.close();
    }
  });

  it('closes with --close-code and --close-reason at the end of input', async () => {
    const closes: Array<[number, string]> = [];
    const server = await librarySide((request) => {
      const ws = request.accept();
      ws.resume();
      ws.on('close', (code: number, reason: string) => closes.push([code, reason]));
    });
    try {
      const result = await runCli(
        [
          'connect',
          server.url,
          '--close-code',
          '4000',
          '--close-reason',
          'done here',
          '--linger',
          '0',
        ],
        { input: 'bye\n' },
      );
      expect(result.code).toBe(0);
      await waitFor(() => closes.length === 1, 5_000, 'the close');
      expect(closes).toEqual([[4000, 'done here']]);
    } finally {
      await server.close();
    }
  });

  it('exits 0 when the peer closes with 1000 and 1 when it closes with another code', async () => {
    const server = await librarySide((request) => {
      const code = request.resource === '/fail' ? 4001 : 1000;
      request.accept().close(code, code === 1000 ? '' : 'not today');
    });
    try {
      const stdinOpen = { timeout: 10_000 };
      const normal = spawnCli(['connect', server.url]);
      const failing = spawnCli(['connect', `${server.url}fail`]);
      const [ok, bad] = await Promise.all([
        collect(normal, stdinOpen.timeout),
        collect(failing, stdinOpen.timeout),
      ]);
      expect(ok.code).toBe(0);
      expect(ok.stderr).toBe('');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toBe(
        'wsdx: the peer closed the connection with 4001 private use "not today"\n',
      );
    } finally {
      await server.close();
    }
  });

  it('exits 5 when pongs stop coming within --ping-timeout', async () => {
    const server = await librarySide((request) => {
      const ws = request.accept();
      ws.transport.pause(); // never reads again: pings go unanswered
    });
    try {
      const child = spawnCli([
        'connect',
        server.url,
        '--ping-interval',
        '100ms',
        '--ping-timeout',
        '300ms',
      ]);
      const result = await collect(child, 10_000);
      expect(result.code).toBe(5);
      expect(result.stderr).toBe('wsdx: connection lost: no pong within 300 ms\n');
    } finally {
      await server.close();
    }
  });

  it('reconnects with --reconnect after the connection drops, and keeps sending stdin', async () => {
    const connections: WebSocketConnection[] = [];
    const received: string[] = [];
    const server = await librarySide((request) => {
      const ws = request.accept();
      connections.push(ws);
      ws.on('data', (message: string) => {
        received.push(message);
        ws.write(`echo ${message}`);
      });
    });
    try {
      const child = spawnCli(['connect', server.url, '--reconnect', '--linger', '300ms']);
      const done = collect(child, 15_000);
      child.stdin!.write('one\n');
      await waitFor(() => received.includes('one'), 5_000, 'the first message');
      connections[0]!.terminate();
      await waitFor(() => connections.length === 2, 5_000, 'a second connection');
      child.stdin!.end('two\n');
      const result = await done;
      expect(result.code).toBe(0);
      expect(received).toEqual(['one', 'two']);
      expect(result.stdout.toString()).toBe('echo one\necho two\n');
      expect(result.stderr).toMatch(
        /^wsdx: connection lost: .*; reconnecting in 500 ms \(1\/10\)\n$/,
      );
    } finally {
      await server.close();
    }
  });
});
