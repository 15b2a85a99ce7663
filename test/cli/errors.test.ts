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

let guarded: BackgroundCli;

/** A plain ws: server's address spelt with wss:, for the TLS error of a port without TLS. */
function guardedPlainUrl(): string {
  return guarded.url.replace(/^ws:/, 'wss:');
}

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

describe('connect: how a failed connection is reported', () => {
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
  let otherAddress: BackgroundCli;
  let files: { dir: string; cleanup: () => void };
  let ca: string;
  let otherCa: string;

  beforeAll(async () => {
    const certs = makeTestCerts();
    files = tempDir();
    ca = join(files.dir, 'ca.pem');
    otherCa = join(files.dir, 'other-ca.pem');
    writeFileSync(ca, certs.ca);
    writeFileSync(otherCa, certs.otherCa);
    writeFileSync(join(files.dir, 'server.pem'), certs.serverCert);
    writeFileSync(join(files.dir, 'server.key'), certs.serverKey);
    certs.cleanup();
    const tls = ['--cert', join(files.dir, 'server.pem'), '--key', join(files.dir, 'server.key')];
    // The certificate is for localhost, 127.0.0.1 and ::1; 127.0.0.2 is loopback too, and not in it.
    [server, otherAddress] = await Promise.all([
      startCli(['listen', '0', '--echo', ...tls]),
      startCli(['listen', '127.0.0.2:0', '--echo', ...tls]),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server.stop(), otherAddress.stop()]);
    files.cleanup();
  });

  it('reports every TLS failure as one line that fits what was given, exit 3', async () => {
    const plain = guardedPlainUrl();
    const [notTls, untrusted, wrongCa, wrongHost] = await Promise.all([
      runCli(['connect', plain]),
      runCli(['connect', server.url]),
      runCli(['connect', server.url, '--ca', otherCa]),
      runCli(['connect', otherAddress.url, '--ca', ca]),
    ]);
    expect(notTls.stderr).toBe(
      `wsdx: could not connect to ${plain}: TLS: the server does not speak TLS on this port (is it ws:// rather than wss://?)\n`,
    );
    expect(untrusted.stderr).toBe(
      `wsdx: could not connect to ${server.url}: TLS: the server certificate is not trusted (self-signed, or signed by an unknown CA): trust its CA with --ca FILE, or skip the check with --insecure\n`,
    );
    expect(wrongCa.stderr).toBe(
      `wsdx: could not connect to ${server.url}: TLS: the server certificate is not signed by the CA in ${otherCa}: check --ca, or skip the check with --insecure\n`,
    );
    expect(wrongHost.stderr).toBe(
      `wsdx: could not connect to ${otherAddress.url}: TLS: the server certificate is not for this host (it is for 127.0.0.1, ::1): connect by a name it holds, or skip the check with --insecure\n`,
    );
    for (const result of [notTls, untrusted, wrongCa, wrongHost]) {
      expect(result.code).toBe(3);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
    }
  });

  it('serves wss:// and connects with --ca or --insecure, and not without', async () => {
    expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/$/);
    const [untrusted, trusted, insecure, noCheck] = await Promise.all([
      runCli(['connect', server.url]),
      runCli(['connect', server.url, '--ca', ca, '--linger', '300ms'], { input: 'secret\n' }),
      runCli(['connect', server.url, '-k', '--linger', '300ms'], { input: 'anyway\n' }),
      runCli(['-c', server.url, '-n', '--linger', '300ms'], { input: 'as wscat -n\n' }),
    ]);
    expect(noCheck.code).toBe(0);
    expect(noCheck.stdout.toString()).toBe('as wscat -n\n');
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
