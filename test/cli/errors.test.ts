import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts } from '../helpers/certs.js';
import { type BackgroundCli, isOneLineError, runCli, startCli, tempDir } from '../helpers/cli.js';

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('connect: how a failed connection is reported', () => {
  let guarded: BackgroundCli;

  beforeAll(async () => {
    guarded = await startCli([
      'listen',
      '0',
      '--echo',
      '--path',
      '/only',
      '--origin',
      'https://good.example',
    ]);
  });
  afterAll(async () => {
    await guarded.stop();
  });

  it('exits 3 with one line when the connection is refused', async () => {
    const port = await freePort();
    const result = await runCli(['connect', `ws://127.0.0.1:${port}/`]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `wsdx: could not connect to ws://127.0.0.1:${port}/: connection refused\n`,
    );
  });

  it('exits 2 with one line for URLs that are not WebSocket URLs', async () => {
    const results = await Promise.all([
      runCli(['connect', 'not a url']),
      runCli(['connect', 'ftp://127.0.0.1/']),
      runCli(['connect', 'ws://127.0.0.1:1/#fragment']),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
    }
    expect(results[0]!.stderr).toContain('Invalid WebSocket URL');
    expect(results[1]!.stderr).toContain('Unsupported URL scheme ftp:');
    expect(results[2]!.stderr).toContain('fragment');
  });

  it('exits 4 with the HTTP status when the server refuses the handshake', async () => {
    const base = guarded.url.replace(/\/only$/, '');
    const [wrongPath, wrongOrigin, rightOne] = await Promise.all([
      runCli(['connect', `${base}/elsewhere`, '--origin', 'https://good.example']),
      runCli(['connect', guarded.url, '--origin', 'https://evil.example']),
      runCli(['connect', guarded.url, '--origin', 'https://good.example', '--linger', '0'], {
        input: 'hi\n',
      }),
    ]);
    expect(wrongPath.code).toBe(4);
    expect(wrongPath.stderr).toMatch(/^wsdx: the server refused the handshake: 404 Not Found.*\n$/);
    expect(wrongOrigin.code).toBe(4);
    expect(wrongOrigin.stderr).toMatch(
      /^wsdx: the server refused the handshake: 403 Forbidden.*\n$/,
    );
    expect(rightOne.code).toBe(0);
  });

  it('exits 3 when the handshake times out', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const result = await runCli(['connect', `ws://127.0.0.1:${port}/`, '--timeout', '300ms']);
      expect(result.code).toBe(3);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
      expect(result.stderr).toMatch(/could not connect .*tim/i);
    } finally {
      silent.close();
    }
  });

  it('exits 2 when send-file has no such file', async () => {
    const result = await runCli(['send-file', 'ws://127.0.0.1:1/', 'no/such/file.bin']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^wsdx: cannot send no\/such\/file\.bin: .*ENOENT.*\n$/);
  });

  it('exits 1 with one line when listen cannot bind its port', async () => {
    const port = Number(new URL(guarded.url).port);
    const result = await runCli(['listen', String(port), '--echo']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`wsdx: cannot listen on 127.0.0.1:${port}: the address is in use\n`);
  });
});

describe('wss: TLS options', () => {
  let server: BackgroundCli;
  let files: { dir: string; cleanup: () => void };
  let ca: string;

  beforeAll(async () => {
    const certs = makeTestCerts();
    files = tempDir();
    ca = join(files.dir, 'ca.pem');
    writeFileSync(ca, certs.ca);
    writeFileSync(join(files.dir, 'server.pem'), certs.serverCert);
    writeFileSync(join(files.dir, 'server.key'), certs.serverKey);
    certs.cleanup();
    server = await startCli([
      'listen',
      '0',
      '--echo',
      '--cert',
      join(files.dir, 'server.pem'),
      '--key',
      join(files.dir, 'server.key'),
    ]);
  });
  afterAll(async () => {
    await server.stop();
    files.cleanup();
  });

  it('serves wss:// and connects with --ca or --insecure, and not without', async () => {
    expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
    const [untrusted, trusted, insecure] = await Promise.all([
      runCli(['connect', server.url]),
      runCli(['connect', server.url, '--ca', ca, '--linger', '300ms'], { input: 'secret\n' }),
      runCli(['connect', server.url, '-k', '--linger', '300ms'], { input: 'anyway\n' }),
    ]);
    expect(untrusted.code).toBe(3);
    expect(isOneLineError(untrusted.stderr), untrusted.stderr).toBe(true);
    expect(untrusted.stderr).toContain('TLS');
    expect(untrusted.stderr).toContain('--ca');
    expect(trusted.code).toBe(0);
    expect(trusted.stdout.toString()).toBe('secret\n');
    expect(insecure.code).toBe(0);
    expect(insecure.stdout.toString()).toBe('anyway\n');
  });

  it('reports a missing --ca file as a usage error', async () => {
    const result = await runCli(['connect', server.url, '--ca', join(files.dir, 'missing.pem')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^wsdx: cannot read --ca .*missing\.pem: .*\n$/);
  });
});
