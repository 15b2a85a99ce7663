import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts } from '../helpers/certs.js';
import { type BackgroundCli, isOneLineError, runCli, startCli, tempDir } from '../helpers/cli.js';
import { startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.js';

/**
 * `wsdx connect --proxy` and the proxy environment, through a real tinyproxy started here
 * (a missing tinyproxy fails these tests).
 */

let proxy: Tinyproxy;
let guarded: Tinyproxy;
let plain: BackgroundCli;
let secure: BackgroundCli;
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
  [proxy, guarded, plain, secure] = await Promise.all([
    startTinyproxy(),
    startTinyproxy({ user: 'alice', password: 's3cret' }),
    startCli(['listen', '0', '--echo']),
    startCli([
      'listen',
      '0',
      '--echo',
      '--cert',
      join(files.dir, 'server.pem'),
      '--key',
      join(files.dir, 'server.key'),
    ]),
  ]);
});
afterAll(async () => {
  await Promise.all([proxy?.stop(), guarded?.stop(), plain?.stop(), secure?.stop()]);
  files?.cleanup();
});

const authority = (url: string): string => new URL(url).host;

describe('wsdx connect through an HTTP proxy', () => {
  it('goes through --proxy URL, and through HTTP_PROXY/HTTPS_PROXY by default, unless --proxy none or NO_PROXY', async () => {
    const linger = ['--linger', '300ms'];
    const [explicit, fromEnv, none, bypassed] = await Promise.all([
      runCli(['connect', plain.url, '--proxy', proxy.url, ...linger], { input: 'explicit\n' }),
      runCli(['connect', secure.url, '--ca', ca, ...linger], {
        input: 'from the environment\n',
        env: { HTTPS_PROXY: proxy.url },
      }),
      runCli(['connect', plain.url, '--proxy', 'none', ...linger], {
        input: 'direct\n',
        env: { HTTP_PROXY: proxy.url },
      }),
      runCli(['connect', plain.url, ...linger], {
        input: 'bypassed\n',
        env: { HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' },
      }),
    ]);
    for (const [result, text] of [
      [explicit, 'explicit'],
      [fromEnv, 'from the environment'],
      [none, 'direct'],
      [bypassed, 'bypassed'],
    ] as const) {
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toBe(`${text}\n`);
    }
    const tunnels = proxy.connects();
    expect(tunnels.filter((t) => t === authority(secure.url))).toHaveLength(1);
    // Only --proxy URL went through it: --proxy none and NO_PROXY went direct.
    expect(tunnels.filter((t) => t === authority(plain.url))).toHaveLength(1);
  });

  it('sends the credentials of the proxy URL, and says in one line when the proxy refuses or is not there', async () => {
    const unused = net.createServer();
    await new Promise<void>((resolve) => unused.listen(0, '127.0.0.1', resolve));
    const { port } = unused.address() as net.AddressInfo;
    await new Promise((resolve) => unused.close(resolve));
    const withCredentials = guarded.url.replace('//', '//alice:s3cret@');
    const [refused, authorized, absent] = await Promise.all([
      runCli(['connect', plain.url, '--proxy', guarded.url]),
      runCli(['-c', plain.url, '--proxy', withCredentials, '--linger', '300ms'], {
        input: 'authorized\n',
      }),
      runCli(['connect', plain.url], { env: { HTTP_PROXY: `http://127.0.0.1:${port}` } }),
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toBe(
      `wsdx: the proxy ${guarded.url} refused to tunnel to ${authority(plain.url)}: 407 Proxy Authentication Required (give its credentials in the URL: --proxy http://USER:PASS@HOST:PORT)\n`,
    );
    expect(authorized.stderr).toBe('');
    expect(authorized.code).toBe(0);
    expect(authorized.stdout.toString()).toBe('authorized\n');
    expect(absent.code).toBe(3);
    expect(absent.stderr).toBe(
      `wsdx: could not connect to the proxy http://127.0.0.1:${port}: connection refused (set with --proxy, or HTTP_PROXY/HTTPS_PROXY; --proxy none goes direct)\n`,
    );
    for (const result of [refused, absent]) {
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
      expect(result.stderr).not.toContain('s3cret');
    }
  });
});
