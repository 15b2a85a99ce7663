import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/interop.js';
import {
  nextControl,
  type OurEchoServer,
  requirePeersForEachTest,
  type ServerSide,
  startOurEchoServer,
  textVectors,
  within,
} from '../helpers/peers.js';

/**
 * Interop with a real browser: headless Chromium (Debian's, driven by playwright-core)
 * loads a page from our HTTP server, opens `new WebSocket(url, 'echo-protocol')` to our
 * WebSocket server on the same port, echoes text and binary, and closes. Chromium offers
 * permessage-deflate; we implement no extension, so none may be agreed. One browser for
 * the whole file, one page per test.
 */

const BINARY_SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 65_537, 5 * 1024 * 1024];

/** What the page reports once it has checked every echo (window.__echoed). */
interface EchoReport {
  protocol: string;
  extensions: string;
  binaryType: string;
  echoes: Array<{ sent: string; ok: boolean; got: string }>;
  errors: string[];
}

/** What the page reports at the end (window.__result). */
interface PageResult extends EchoReport {
  close: { code: number; reason: string; wasClean: boolean };
}

/**
 * The test page. It sends every message at once (text and binary interleaved), checks
 * each echo in order for type and content, publishes the report as window.__echoed, and
 * then waits: window.__startClose() closes with 4000 'bye'; either way the CloseEvent is
 * published with everything else as window.__result.
 */
function pageHtml(port: number): string {
  // JSON is valid JS; '<' is escaped so that no string can end the script element.
  const texts = JSON.stringify(textVectors()).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>websocket-duplex interop</title></head><body>
<script>
'use strict';
(async () => {
  const report = { protocol: '', extensions: '', binaryType: '', echoes: [], errors: [] };
  const pattern = (size) => {
    const out = new Uint8Array(size);
    let x = (size * 2654435761) >>> 0 || 1;
    for (let i = 0; i < size; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      out[i] = x & 0xff;
    }
    return out;
  };
  const describe = (m) => typeof m === 'string'
    ? 'text(' + new TextEncoder().encode(m).length + ')'
    : m instanceof ArrayBuffer ? 'binary(' + m.byteLength + ')' : 'other(' + String(m) + ')';
  const sameBytes = (a, b) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
  let close = { code: 0, reason: '', wasClean: false };
  try {
    const ws = new WebSocket('ws://127.0.0.1:${port}/', 'echo-protocol');
    ws.binaryType = 'arraybuffer';
    const inbox = [];
    let wake = () => {};
    ws.onmessage = (event) => { inbox.push(event.data); wake(); };
    const closed = new Promise((resolve) => {
      ws.onclose = (event) => { wake(); resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }); };
    });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket error before open'));
    });
    ws.onerror = () => report.errors.push('WebSocket error event');
    window.__startClose = () => ws.close(4000, 'bye');
    report.protocol = ws.protocol;
    report.extensions = ws.extensions;
    report.binaryType = ws.binaryType;
    const texts = ${texts};
    const sizes = ${JSON.stringify(BINARY_SIZES)};
    const sent = [];
    for (let i = 0; i < Math.max(texts.length, sizes.length); i++) {
      if (i < texts.length) sent.push(texts[i]);
      if (i < sizes.length) sent.push(pattern(sizes[i]));
    }
    for (const message of sent) ws.send(message);
    const next = async () => {
      const deadline = Date.now() + 20000;
      while (inbox.length === 0) {
        if (ws.readyState === WebSocket.CLOSED) throw new Error('closed while waiting for an echo');
        if (Date.now() > deadline) throw new Error('no echo within 20 s');
        await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 100); });
      }
      return inbox.shift();
    };
    for (const message of sent) {
      const got = await next();
      const ok = typeof message === 'string'
        ? typeof got === 'string' && got === message
        : got instanceof ArrayBuffer && sameBytes(new Uint8Array(got), message);
      report.echoes.push({
        sent: typeof message === 'string' ? describe(message) : 'binary(' + message.length + ')',
        ok,
        got: describe(got),
      });
    }
    window.__echoed = report;
    close = await closed;
  } catch (err) {
    report.errors.push(String(err && err.stack || err));
    window.__echoed = report;
  }
  window.__result = Object.assign({}, report, { close });
})();
</script></body></html>`;
}

/** The page's globals, as page functions see them (no DOM types in this project). */
type PageGlobals = {
  __echoed?: EchoReport;
  __result?: PageResult;
  __startClose?: () => void;
};

let browser: Browser | undefined;
let server: OurEchoServer | undefined;
let page: Page | undefined;

// Fails every test of this file, loudly, when the browser is missing or does not start.
requirePeersForEachTest(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await page?.close();
  page = undefined;
  await server?.close();
  server = undefined;
});

/** Loads the page, and returns our side of its connection once the echoes are checked. */
async function openPage(): Promise<{ page: Page; server: OurEchoServer; serverSide: ServerSide }> {
  if (browser === undefined) throw new Error('Chromium was not launched (see beforeAll)');
  server = await startOurEchoServer(pageHtml);
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 10_000 });
  const serverSide = await server.nextConnection();
  return { page, server, serverSide };
}

async function echoReport(page: Page): Promise<EchoReport> {
  await page.waitForFunction(() => (globalThis as PageGlobals).__echoed !== undefined, undefined, {
    timeout: 25_000,
  });
  return (await page.evaluate(() => (globalThis as PageGlobals).__echoed)) as EchoReport;
}

async function pageResult(page: Page): Promise<PageResult> {
  await page.waitForFunction(() => (globalThis as PageGlobals).__result !== undefined, undefined, {
    timeout: 15_000,
  });
  return (await page.evaluate(() => (globalThis as PageGlobals).__result)) as PageResult;
}

function expectEchoes(report: EchoReport): void {
  expect(report.errors).toEqual([]);
  expect(report.echoes).toHaveLength(textVectors().length + BINARY_SIZES.length);
  for (const echo of report.echoes) {
    expect(echo.ok, `echo of ${echo.sent} (got ${echo.got})`).toBe(true);
  }
}

describe('headless Chromium with our server', () => {
  it('echoes text and binary with their types, answers our ping, and closes with 4000 "bye"', async () => {
    const { page, server, serverSide } = await openPage();
    const report = await echoReport(page);
    expectEchoes(report);
    expect(report.protocol).toBe('echo-protocol');
    expect(serverSide.connection.protocol).toBe('echo-protocol');
    // Chromium offers permessage-deflate; our 101 must leave it out.
    expect(server.upgrades[0]?.['sec-websocket-extensions']).toMatch(/permessage-deflate/);
    expect(server.upgrades[0]?.origin).toBe(`http://127.0.0.1:${server.port}`);
    expect(report.extensions).toBe('');
    expect(report.binaryType).toBe('arraybuffer');

    // A browser cannot send pings, but it must answer ours.
    const pong = nextControl(serverSide.connection, 'pong');
    serverSide.connection.ping('from-us');
    expect((await pong).toString()).toBe('from-us');

    await page.evaluate(() => (globalThis as PageGlobals).__startClose?.());
    const ours = await within(serverSide.closed, 10_000, "our server connection's close");
    expect(ours).toEqual({ code: 4000, reason: 'bye', wasClean: true });
    // Our server answers with the code it received and no reason (RFC 6455 §5.5.1).
    const result = await pageResult(page);
    expect(result.close).toEqual({ code: 4000, reason: '', wasClean: true });
    expect(result.errors).toEqual([]);
    expect(serverSide.closeEvents).toBe(1);
  });

  it('sees our server close with 4001 "server bye" cleanly', async () => {
    const { page, serverSide } = await openPage();
    expectEchoes(await echoReport(page));
    serverSide.connection.close(4001, 'server bye');
    const result = await pageResult(page);
    expect(result.close).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    expect(result.errors).toEqual([]);
    const ours = await within(serverSide.closed, 10_000, "our server connection's close");
    // Chromium echoes the code and the reason of the Close it received.
    expect(ours).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    expect(serverSide.closeEvents).toBe(1);
  });
});
