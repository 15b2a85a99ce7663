import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts } from '../helpers/certs.js';
import { type BackgroundCli, isOneLineError, runCli, startCli, tempDir } from '../helpers/cli.js';
import { type Http2ServerFixture, startHttp2Server } from '../helpers/http2-servers.js';

/**
 * `wsdx connect --http2` and `--http2-only` (RFC 8441): against an HTTP/2 echo server in this
 * process, and against `wsdx listen` (HTTP/1.1 only), where --http2 falls back and
 * --http2-only fails in one line.
 */

let h2: Http2ServerFixture;
let http1: BackgroundCli;
let files: { dir: string; cleanup: () => void };
let ca: string;

beforeAll(async () => {
  const certs = makeTestCerts();
  files = tempDir();
  ca = join(files.dir, 'ca.pem');
  writeFileSync(ca, certs.ca);
  h2 = await startHttp2Server({ certs, wss: { autoAcceptConnections: true } });
  h2.wss!.on('connect', (ws) => ws.pipe(ws));
  certs.cleanup();
  http1 = await startCli(['listen', '0', '--echo']);
});
afterAll(async () => {
  await Promise.all([h2?.close(), http1?.stop()]);
  files?.cleanup();
});

describe('wsdx connect over HTTP/2', () => {
  it('echoes over an HTTP/2 stream with --http2 and --http2-only, and says so with --show-control', async () => {
    const linger = ['--linger', '300ms', '--show-control'];
    const [preferred, only] = await Promise.all([
      runCli(['connect', h2.url('/'), '--http2', '--ca', ca, ...linger], { input: 'two\n' }),
      runCli(['connect', h2.url('/'), '--http2-only', '--ca', ca, ...linger], { input: 'only\n' }),
    ]);
    for (const [result, text] of [
      [preferred, 'two'],
      [only, 'only'],
    ] as const) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.toString()).toBe(`${text}\n`);
      expect(result.stderr).toContain(`connected to ${h2.url('/')} (HTTP/2)`);
    }
    expect(h2.sessions.length).toBeGreaterThanOrEqual(2);
  });

  it('falls back to HTTP/1.1 with --http2 when the server has no HTTP/2, and --http2-only fails in one line', async () => {
    const [fallback, refused] = await Promise.all([
      runCli(['connect', http1.url, '--http2', '--linger', '300ms', '--show-control'], {
        input: 'fell back\n',
      }),
      runCli(['connect', http1.url, '--http2-only']),
    ]);
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(fallback.stdout.toString()).toBe('fell back\n');
    expect(fallback.stderr).toContain(`connected to ${http1.url}`);
    expect(fallback.stderr).not.toContain('HTTP/2');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toBe(
      `wsdx: no WebSocket over HTTP/2 at ${http1.url}: the server does not speak HTTP/2 on this port (--http2 falls back to HTTP/1.1)\n`,
    );
    expect(isOneLineError(refused.stderr), refused.stderr).toBe(true);
  });

  it('says in one line when an HTTP/2 server does not take WebSockets (no extended CONNECT)', async () => {
    const plain = http2.createServer((_req, res) => res.end('no websockets here'));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(plain.address() as AddressInfo).port}/`;
    try {
      const result = await runCli(['connect', url, '--http2-only']);
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(
        new RegExp(
          `^wsdx: no WebSocket over HTTP/2 at ${url}: .*extended CONNECT.* \\(--http2 falls back to HTTP/1\\.1\\)\n$`,
        ),
      );
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  });
});
