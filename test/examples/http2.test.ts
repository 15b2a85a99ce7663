import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { type Child, startExample, stopAll } from '../helpers/child-process.js';
import { nextMessage } from '../helpers/loopback-server.js';

/** examples/http2-server.ts and examples/http2-client.ts, run as their headers say. */

let certs: TestCerts;
let dir: string;

beforeAll(() => {
  certs = makeTestCerts();
  dir = mkdtempSync(join(tmpdir(), 'http2-example-test-'));
  writeFileSync(join(dir, 'cert.pem'), certs.serverCert);
  writeFileSync(join(dir, 'key.pem'), certs.serverKey);
  writeFileSync(join(dir, 'ca.pem'), certs.ca);
});

afterAll(() => {
  certs.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(stopAll);

async function startServer(args: string[]): Promise<{ server: Child; port: number }> {
  const server = startExample('http2-server.ts', args, { env: { PORT: '0' } });
  const [, port] = await server.waitFor(/listening on https:\/\/localhost:(\d+)\//, 30_000);
  return { server, port: Number(port) };
}

describe('examples/http2-server.ts and examples/http2-client.ts', () => {
  it('the client opens 5 WebSockets on one HTTP/2 session, and all echo', async () => {
    const { server, port } = await startServer([
      `--cert=${join(dir, 'cert.pem')}`,
      `--key=${join(dir, 'key.pem')}`,
    ]);
    const client = startExample('http2-client.ts', [
      `wss://localhost:${port}/echo`,
      '--count=5',
      `--ca=${join(dir, 'ca.pem')}`,
      '--require',
    ]);
    const { code } = await client.exited;
    expect(code, client.output).toBe(0);
    expect(client.lines).toContain('5 WebSockets open, over one HTTP/2 session');
    expect(client.lines).toContain('5 of 5 echoes came back');
    await server.waitForCount(/WebSocket over HTTP\/2\.0 from 127\.0\.0\.1/, 5);
    await server.waitForCount(/closed \(1000\)/, 5);
  });

  it('makes its own certificate when given none, serves the page over HTTP/2, and takes HTTP/1.1 upgrades on the same port', async () => {
    const { server, port } = await startServer([]);
    await server.waitFor(/throwaway self-signed certificate/);
    const client = startExample('http2-client.ts', [
      `wss://localhost:${port}/echo`,
      '--count=2',
      '--insecure',
    ]);
    expect((await client.exited).code, client.output).toBe(0);
    expect(client.lines).toContain('2 WebSockets open, over one HTTP/2 session');

    const session = http2.connect(`https://localhost:${port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    const page = await new Promise<string>((resolve, reject) => {
      const request = session.request({ ':path': '/' });
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        body += chunk;
      });
      request.on('end', () => resolve(body));
      request.on('error', reject);
    });
    session.close();
    expect(page).toContain("new WebSocket('wss://' + location.host + '/echo')");

    const overHttp1 = await connect(`wss://localhost:${port}/echo`, { rejectUnauthorized: false });
    overHttp1.write('over HTTP/1.1');
    expect(await nextMessage(overHttp1)).toBe('over HTTP/1.1');
    overHttp1.end();
    await server.waitFor(/WebSocket over HTTP\/1\.1 from 127\.0\.0\.1/);
  });

  it('the client reports a failed connection and exits 1', async () => {
    const client = startExample('http2-client.ts', ['wss://localhost:1/echo', '--require']);
    expect((await client.exited).code).toBe(1);
    expect(client.matching(/Connect Error: No WebSocket over HTTP\/2/), client.output).toHaveLength(
      1,
    );
  });
});
