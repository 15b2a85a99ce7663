import { type Browser, type CDPSession, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Http2ConnectRequest } from '../../lib/handshake/http2-connect-request.js';
import type { HttpServerLike } from '../../lib/handshake/upgrade-dispatcher.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { type Http2ServerFixture, startHttp2Server, within } from '../helpers/http2-servers.js';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  type OurClose,
  ourClose,
  requirePeer,
  requirePeersForEachTest,
  textVectors,
} from '../helpers/peers.js';

/**
 * WebSockets over HTTP/2 with a real browser (RFC 8441): headless Chromium (Debian's, driven
 * by playwright-core) loads a page over HTTP/2 from our secure server (a CA made at test
 * time; the browser is told to ignore certificate errors, here only), then opens a
 * WebSocket to the same origin. Chromium sends it as an extended CONNECT on the HTTP/2
 * connection it holds, because the server announces SETTINGS_ENABLE_CONNECT_PROTOCOL: the
 * server sees a stream and no 'upgrade', and the DevTools protocol reports the handshake's
 * status as 200, not 101. Echoes (text, binary, 64 KiB, 5 MiB), permessage-deflate, close
 * codes both ways. The negative control: with HTTP/2 WebSockets off, Chromium falls back to
 * an HTTP/1.1 Upgrade on a second connection, and still works.
 */

const BINARY_SIZES = [0, 1, 125, 126, 65_535, 65_536, 5 * 1024 * 1024];

/** What the page reports (window.__report). */
interface PageReport {
  protocol: string;
  extensions: string;
  echoes: Array<{ sent: string; ok: boolean }>;
  errors: string[];
  close?: { code: number; reason: string; wasClean: boolean };
}

/**
 * The test page. `__open(path)` opens the WebSocket, sends every message at once, checks
 * each echo in order, and resolves with the report; `__close()` closes with 4000 'bye';
 * `__closed` resolves with the CloseEvent, whoever closed.
 */
function pageHtml(): string {
  const texts = JSON.stringify(textVectors()).replace(/</g, '\\u003c');
  return `<!doctype html><html><head><meta charset="utf-8"><title>h2</title></head><body><script>
'use strict';
const pattern = (size) => {
  const out = new Uint8Array(size);
  let x = (size * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; out[i] = x & 0xff; }
  return out;
};
const same = (a, b) => { if (a.length !== b.length) return false; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; };
let ws;
let closed;
window.__open = async (path) => {
  const report = { protocol: '', extensions: '', echoes: [], errors: [] };
  ws = new WebSocket('wss://' + location.host + path, ['echo-protocol']);
  ws.binaryType = 'arraybuffer';
  const inbox = [];
  let wake = () => {};
  ws.onmessage = (e) => { inbox.push(e.data); wake(); };
  closed = new Promise((resolve) => { ws.onclose = (e) => { wake(); resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }); }; });
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('error before open')); });
  ws.onerror = () => report.errors.push('error event');
  report.protocol = ws.protocol;
  report.extensions = ws.extensions;
  const sent = [...${texts}, ...${JSON.stringify(BINARY_SIZES)}.map(pattern)];
  for (const m of sent) ws.send(m);
  for (const m of sent) {
    const deadline = Date.now() + 20000;
    while (inbox.length === 0) {
      if (ws.readyState === WebSocket.CLOSED) { report.errors.push('closed while waiting'); return report; }
      if (Date.now() > deadline) { report.errors.push('no echo within 20 s'); return report; }
      await new Promise((r) => { wake = r; setTimeout(r, 100); });
    }
    const got = inbox.shift();
    const ok = typeof m === 'string' ? got === m : got instanceof ArrayBuffer && same(new Uint8Array(got), m);
    report.echoes.push({ sent: typeof m === 'string' ? 'text(' + m.length + ')' : 'binary(' + m.length + ')', ok });
  }
  return report;
};
window.__close = () => ws.close(4000, 'bye');
window.__closed = () => closed;
</script></body></html>`;
}

type PageGlobals = {
  __open(path: string): Promise<PageReport>;
  __close(): void;
  __closed(): Promise<{ code: number; reason: string; wasClean: boolean }>;
};

let certs: TestCerts | undefined;
let browser: Browser | undefined;
let fixture: Http2ServerFixture | undefined;
let extraServer: WebSocketServer | undefined;
let page: Page | undefined;

// Fails every test of this file, loudly, when the browser is missing or does not start.
requirePeersForEachTest(async () => {
  requirePeer(CHROMIUM);
  certs = makeTestCerts();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, '--headless', '--ignore-certificate-errors'],
    timeout: 20_000,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  certs?.cleanup();
});

afterEach(async () => {
  await page?.close();
  page = undefined;
  await extraServer?.shutDown({ gracePeriod: 0 });
  extraServer = undefined;
  await fixture?.close();
  fixture = undefined;
});

/** Our side: the connections accepted, with the HTTP version of their handshake. */
interface Accepted {
  connection: WebSocketConnection;
  httpVersion: string;
  overStream: boolean;
  closed: Promise<OurClose>;
}

/** Starts our secure HTTP/2 server serving the page, with HTTP/1.1 allowed on the same port. */
async function startServer(http2WebSockets: boolean): Promise<{ accepted: Accepted[] }> {
  const html = pageHtml();
  fixture = await startHttp2Server({
    certs,
    allowHTTP1: true,
    wss: null,
    onRequest: (req, res) => {
      if (req.url !== '/') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(html);
    },
  });
  const options = {
    autoAcceptConnections: true,
    protocols: ['echo-protocol'],
    perMessageDeflate: true,
  };
  // With HTTP/2 WebSockets off, the same server takes HTTP/1.1 upgrades only.
  const wss = http2WebSockets
    ? new WebSocketServer({ ...options, http2Server: fixture.server })
    : new WebSocketServer({ ...options, httpServer: fixture.server as unknown as HttpServerLike });
  extraServer = wss;
  const accepted: Accepted[] = [];
  wss.on('connection', (connection, request) => {
    connection.pipe(connection);
    accepted.push({
      connection,
      httpVersion: request.httpVersion,
      overStream: request instanceof Http2ConnectRequest,
      closed: ourClose(connection, 60_000),
    });
  });
  return { accepted };
}

/** Opens the page over HTTP/2 and watches the DevTools protocol's network events. */
async function openPage(): Promise<{ statuses: number[]; pageProtocol: () => string | undefined }> {
  if (browser === undefined || fixture === undefined) throw new Error('not started');
  page = await browser.newPage();
  const cdp: CDPSession = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const statuses: number[] = [];
  let pageProtocol: string | undefined;
  cdp.on('Network.webSocketHandshakeResponseReceived', (event) => {
    statuses.push(event.response.status);
  });
  cdp.on('Network.responseReceived', (event) => {
    if (event.response.url === `https://localhost:${fixture!.port}/`)
      pageProtocol = event.response.protocol;
  });
  await page.goto(`https://localhost:${fixture.port}/`, { timeout: 15_000 });
  return { statuses, pageProtocol: () => pageProtocol };
}

async function echo(path = '/'): Promise<PageReport> {
  return within(
    page!.evaluate((p) => (globalThis as unknown as PageGlobals).__open(p), path),
    60_000,
    "the page's echoes",
  );
}

function expectEchoes(report: PageReport): void {
  expect(report.errors).toEqual([]);
  expect(report.echoes).toHaveLength(textVectors().length + BINARY_SIZES.length);
  for (const e of report.echoes) expect(e.ok, e.sent).toBe(true);
}

describe('headless Chromium, WebSockets over HTTP/2 (RFC 8441)', () => {
  it('opens over the HTTP/2 connection (200, not 101), echoes everything with permessage-deflate, and closes 4000 cleanly', async () => {
    const { accepted } = await startServer(true);
    const { statuses, pageProtocol } = await openPage();
    const report = await echo('/');
    expectEchoes(report);
    expect(report.protocol).toBe('echo-protocol');
    expect(report.extensions).toMatch(/^permessage-deflate/);
    expect(pageProtocol()).toBe('h2');
    expect(statuses).toEqual([200]);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({ httpVersion: '2.0', overStream: true });
    expect(fixture!.upgrades).toBe(0);
    expect(fixture!.sessions).toHaveLength(1);
    expect(accepted[0]!.connection.extensions.map((e) => e.name)).toEqual(['permessage-deflate']);

    await page!.evaluate(() => (globalThis as unknown as PageGlobals).__close());
    const theirs = await within(
      page!.evaluate(() => (globalThis as unknown as PageGlobals).__closed()),
      15_000,
      "the page's CloseEvent",
    );
    expect(await accepted[0]!.closed).toEqual({ code: 4000, reason: 'bye', wasClean: true });
    // Chromium's Close carries END_STREAM; ours answers it with Close and END_STREAM, so
    // its CloseEvent is clean (a reset there would make it 1006).
    expect(theirs).toEqual({ code: 4000, reason: '', wasClean: true });
    // The session outlives the WebSocket: the page's connection is still there.
    expect(fixture!.sessions[0]!.destroyed).toBe(false);
  });

  it('sees our server close with 4001 "server bye" cleanly', async () => {
    const { accepted } = await startServer(true);
    await openPage();
    expectEchoes(await echo('/'));
    accepted[0]!.connection.close(4001, 'server bye');
    const theirs = await within(
      page!.evaluate(() => (globalThis as unknown as PageGlobals).__closed()),
      15_000,
      "the page's CloseEvent",
    );
    expect(theirs).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    expect(await accepted[0]!.closed).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
  });

  it('runs several WebSockets of the page on the one session', async () => {
    const { accepted } = await startServer(true);
    const { statuses } = await openPage();
    const reports = await within(
      page!.evaluate(async () => {
        const g = globalThis as unknown as PageGlobals;
        const out: PageReport[] = [];
        for (const path of ['/a', '/b', '/c']) out.push(await g.__open(path));
        return out;
      }),
      90_000,
      'three echo rounds',
    );
    for (const report of reports) expectEchoes(report);
    expect(statuses).toEqual([200, 200, 200]);
    expect(accepted.map((a) => a.overStream)).toEqual([true, true, true]);
    expect(fixture!.sessions).toHaveLength(1);
  });
});

describe('negative control: HTTP/2 WebSockets off', () => {
  it('Chromium falls back to an HTTP/1.1 Upgrade (101) and still echoes', async () => {
    const { accepted } = await startServer(false);
    const { statuses, pageProtocol } = await openPage();
    expectEchoes(await echo('/'));
    expect(pageProtocol()).toBe('h2');
    expect(statuses).toEqual([101]);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).toMatchObject({ httpVersion: '1.1', overStream: false });
    expect(fixture!.upgrades).toBe(1);
  });
});
