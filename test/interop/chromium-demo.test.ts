/**
 * The demo page in a real browser: headless Chromium (Debian's, driven by playwright-core)
 * opens the demo server's page, sees the counter rise, presses reset, and draws on the
 * mirror, which a Node client on lws-mirror-protocol watches and draws on too. A
 * screenshot is kept in test-artifacts/chromium-demo.png.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { type Child, ROOT, startServerExample, stopAll } from '../helpers/child-process.js';
import { launchChromium } from '../helpers/interop.js';
import { until } from '../helpers/loopback-server.js';

/**
 * The little of the DOM that the functions run in the page touch: the project compiles
 * without lib.dom (it is a Node library), and this keeps the declarations in this module.
 */
interface PageElement {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  } | null;
}
declare const document: { getElementById(id: string): PageElement | null };

let browser: Browser | undefined;
let server: Child;
let port: number;
let watcher: WebSocketConnection | undefined;

beforeAll(async () => {
  ({ child: server, port } = await startServerExample('libwebsockets-test-server.ts'));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  watcher?.terminate();
  await browser?.close();
  await stopAll();
});

describe('the demo page in headless Chromium', () => {
  it('shows the counter rising, resets it, and draws on the mirror', async () => {
    const page = await browser!.newPage({ viewport: { width: 800, height: 700 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(
      () =>
        document.getElementById('dumb-status')?.textContent === 'open' &&
        document.getElementById('mirror-status')?.textContent === 'open',
    );

    // The counter rises...
    const number = async (): Promise<number> => Number(await page.locator('#number').textContent());
    await page.waitForFunction(() => Number(document.getElementById('number')?.textContent) >= 20);
    const a = await number();
    await page.waitForTimeout(300);
    const b = await number();
    expect(b).toBeGreaterThan(a);
    // ...and the button sends "reset\n": it starts again from 0.
    await page.click('#reset');
    await page.waitForFunction(() => Number(document.getElementById('number')?.textContent) < 10);
    await server.waitFor(/increment reset received/);

    // The mirror: a Node client watches, and draws a red circle the page must show.
    watcher = await connect(`ws://127.0.0.1:${port}/`, { protocols: ['lws-mirror-protocol'] });
    const seen: string[] = [];
    watcher.on('data', (message: string) => seen.push(message));
    const box = (await page.locator('#mirror').boundingBox())!;
    await page.mouse.move(box.x + 40, box.y + 40);
    await page.mouse.down();
    for (let i = 1; i <= 20; i++) await page.mouse.move(box.x + 40 + i * 10, box.y + 40 + i * 5);
    await page.mouse.up();
    await until(
      () => seen.filter((m) => m.startsWith('d #1f6fd0 ')).length >= 10,
      5_000,
      'strokes',
    );
    expect(seen.find((m) => m.startsWith('d '))).toMatch(/^d #1f6fd0 \d+ \d+ \d+ \d+;$/);
    await page.waitForFunction(
      () => Number(document.getElementById('mirror')?.dataset.drawn) >= 10,
    );

    const drawnBefore = Number(await page.locator('#mirror').getAttribute('data-drawn'));
    watcher.write('c #ff0000 400 180 30;');
    await page.waitForFunction(
      (before) => Number(document.getElementById('mirror')?.dataset.drawn) > before,
      drawnBefore,
    );
    const pixels = await page.evaluate(() => {
      const ctx = document.getElementById('mirror')!.getContext('2d')!;
      const stroke = ctx.getImageData(425, 175, 10, 10).data; // around (430, 180): the circle's edge
      let red = 0;
      for (let i = 0; i < stroke.length; i += 4) {
        if (stroke[i]! > 180 && stroke[i + 1]! < 90 && stroke[i + 2]! < 90) red++;
      }
      const line = ctx.getImageData(40, 40, 210, 110).data; // where the mouse drew
      let blue = 0;
      for (let i = 0; i < line.length; i += 4) if (line[i + 2]! > 150 && line[i]! < 120) blue++;
      return { red, blue };
    });
    expect(pixels.red).toBeGreaterThan(0);
    expect(pixels.blue).toBeGreaterThan(20);

    const dir = join(ROOT, 'test-artifacts');
    await mkdir(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'chromium-demo.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
