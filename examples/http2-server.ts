/**
 * WebSockets over HTTP/2 (RFC 8441): one secure server on one port serves a page over
 * HTTP/2 and echoes on WebSockets that arrive as streams of the page's own HTTP/2
 * connection (a browser that loaded the page opens its WebSockets there: no second TCP and
 * TLS handshake). With `allowHTTP1: true` the same port still takes HTTP/1.1 upgrades from
 * clients that do not speak HTTP/2.
 *
 * Run: node --import tsx examples/http2-server.ts [--port=8443] [--cert=cert.pem --key=key.pem]
 * Without --cert and --key, a throwaway self-signed certificate for localhost is made with
 * openssl (browsers warn about it: accept the warning, or pass a certificate they trust).
 * Open https://localhost:8443/ in a browser, or try:
 *   node --import tsx examples/http2-client.ts wss://localhost:8443/echo --insecure
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocketServer } from '../lib/server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});
const port = Number(values.port ?? process.env.PORT ?? 8443);
const host = values.host ?? process.env.HOST ?? '127.0.0.1';
const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

/** The certificate and key given, or a self-signed pair for localhost made by openssl. */
function credentials(): { cert: Buffer; key: Buffer } {
  if (values.cert !== undefined && values.key !== undefined) {
    return { cert: readFileSync(values.cert), key: readFileSync(values.key) };
  }
  const dir = mkdtempSync(join(tmpdir(), 'http2-example-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
      ].concat(
        ['-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=localhost'],
        ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      ),
      { cwd: dir, stdio: 'ignore', timeout: 20_000 },
    );
    log('using a throwaway self-signed certificate for localhost');
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The page: it opens a WebSocket to this origin (over the page's HTTP/2 connection) and echoes. */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>WebSockets over HTTP/2</title></head>
<body><pre id="log"></pre><script>
const out = (line) => { document.getElementById('log').textContent += line + '\\n'; };
const ws = new WebSocket('wss://' + location.host + '/echo');
ws.onopen = () => { out('open'); ws.send('hello over HTTP/2'); };
ws.onmessage = (event) => { out('echo: ' + event.data); ws.close(1000, 'done'); };
ws.onclose = (event) => out('closed ' + event.code + (event.wasClean ? ' (clean)' : ''));
</script></body></html>`;

const server = http2.createSecureServer({ ...credentials(), allowHTTP1: true }, (req, res) => {
  if (req.url !== '/') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
});

// The WebSocket server takes the server's HTTP/2 streams (and, with allowHTTP1, its upgrades).
const wss = new WebSocketServer({
  http2Server: server,
  path: '/echo',
  autoAcceptConnections: true,
  perMessageDeflate: true,
});
wss.on('connection', (ws, request) => {
  log(`WebSocket over HTTP/${request.httpVersion} from ${ws.remoteAddress}`);
  ws.pipe(ws);
  ws.on('close', (code: number) => log(`closed (${code})`));
});

server.listen(port, host, () => {
  const { port: actual } = server.address() as AddressInfo;
  log(`listening on https://localhost:${actual}/ (HTTP/2 and HTTP/1.1)`);
});

const stop = (): void => {
  wss.shutDown().then(() => server.close(() => process.exit(0)));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
