/**
 * Attacks on the opening handshake, against an echo server in its own process. The HTTP
 * layer is node:http's: the server is created with headersTimeout 2 s (node's default is
 * 60 s) and a 250 ms connections-checking interval (default 30 s), so that the bounds can
 * be measured in CI; the bounds scale with those two settings (see docs-security.md).
 *
 * Each attack states its bound and prints what was measured: the time until the offending
 * connection is answered and closed, the server's memory growth, and the round trips of a
 * well-behaved client served meanwhile.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeMeasure, underAttack } from '../helpers/attack-kit.js';
import { rawClientHandshake } from '../helpers/handshaking-peer.js';
import { ServerProcess } from '../helpers/server-process.js';

const HEADERS_TIMEOUT = 2_000;
const CHECK_INTERVAL = 250;
/** Every connection that stalls the handshake is answered 408 and closed within this. */
const STALL_BOUND_MS = HEADERS_TIMEOUT + CHECK_INTERVAL + 1_000;
/** The slowest round trip the control client may see during an attack. */
const CONTROL_BOUND_MS = 1_000;
const MiB = 1024 * 1024;

let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({
    http: {
      headersTimeout: HEADERS_TIMEOUT,
      requestTimeout: 5_000,
      connectionsCheckingInterval: CHECK_INTERVAL,
    },
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

/** A raw connection that records what it gets back and when it closes. */
interface Probe {
  socket: net.Socket;
  received: () => string;
  closedAt: Promise<number>;
}

function openRaw(port: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    const closedAt = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.once('connect', () => resolve({ socket, received: () => data, closedAt }));
    socket.once('error', reject);
  });
}

const statusOf = (text: string): string => text.split('\r\n')[0] ?? '';

it(`slow handshake (one byte per second): answered 408 and closed within ${STALL_BOUND_MS} ms`, async () => {
  const request =
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const m = await underAttack(server, async () => {
    const attackers = await Promise.all(Array.from({ length: 50 }, () => openRaw(server.port)));
    const started = Date.now();
    let i = 1;
    const dripper = setInterval(() => {
      for (const a of attackers)
        if (!a.socket.destroyed) a.socket.write(request[i % request.length]!);
      i++;
    }, 1_000);
    for (const a of attackers) a.socket.write(request[0]!);
    const closed = await Promise.all(attackers.map((a) => a.closedAt));
    clearInterval(dripper);
    return {
      slowestMs: Math.max(...closed) - started,
      bytesSent: i,
      answers: new Set(attackers.map((a) => statusOf(a.received()))),
    };
  });
  console.log(
    describeMeasure(
      'slow handshake x50',
      m,
      `answered ${[...m.result.answers].join(', ')} after ${m.result.bytesSent} bytes each, all closed within ${m.result.slowestMs} ms`,
    ),
  );
  expect([...m.result.answers]).toEqual(['HTTP/1.1 408 Request Timeout']);
  expect(m.result.slowestMs).toBeLessThan(STALL_BOUND_MS);
  expect(m.control.failures).toEqual([]);
  expect(m.control.maxMs).toBeLessThan(CONTROL_BOUND_MS);
  expect(m.heldGrowth).toBeLessThan(8 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
}, 30_000);

it('oversized header block: answered 431 at once, 200 times over', async () => {
  const pad = `X-Pad: ${'a'.repeat(1_000)}\r\n`.repeat(100); // 100 KiB, node's limit is 16 KiB
  const request =
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${pad}\r\n`;
  const m = await underAttack(server, async () => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const a = await openRaw(server.port);
        a.socket.write(request);
        const closedAt = await a.closedAt;
        return { status: statusOf(a.received()), ms: closedAt - started };
      }),
    );
    return {
      statuses: new Set(results.map((r) => r.status)),
      slowestMs: Math.max(...results.map((r) => r.ms)),
    };
  });
  console.log(
    describeMeasure(
      'oversized header block (100 KiB) x200',
      m,
      `answered ${[...m.result.statuses].join(', ')}, all closed within ${m.result.slowestMs} ms`,
    ),
  );
  expect([...m.result.statuses]).toEqual(['HTTP/1.1 431 Request Header Fields Too Large']);
  expect(m.result.slowestMs).toBeLessThan(2_000);
  expect(m.control.failures).toEqual([]);
  // 200 x 100 KiB = 20 MB arrive; what is read is garbage once refused, freed by the next GC.
  expect(m.heldGrowth).toBeLessThan(48 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
}, 30_000);

it('oversized WebSocket headers within the HTTP limit: answered 400 by our parser, fast', async () => {
  const cases = [
    ['Sec-WebSocket-Extensions', `permessage-deflate; ${'x'.repeat(9_000)}`],
    ['Sec-WebSocket-Extensions', Array.from({ length: 40 }, (_, i) => `x-ext-${i}`).join(', ')],
    ['Sec-WebSocket-Extensions', `permessage-deflate${'; a=1'.repeat(40)}`],
    ['Sec-WebSocket-Protocol', Array.from({ length: 70 }, (_, i) => `p${i}`).join(', ')],
  ] as const;
  for (const [name, value] of cases) {
    const started = Date.now();
    const hs = await rawClientHandshake(
      server.port,
      name === 'Sec-WebSocket-Protocol' ? { protocols: value } : { extensions: value },
    );
    hs.socket.destroy();
    console.log(
      `${name} of ${value.length} characters: ${hs.head.startLine} in ${Date.now() - started} ms`,
    );
    expect(hs.status).toBe(400);
    expect(Date.now() - started).toBeLessThan(1_000);
  }
}, 30_000);

it(`10,000 connections that never finish the handshake: all answered 408 and closed within ${STALL_BOUND_MS} ms of opening`, async () => {
  const COUNT = 10_000;
  const m = await underAttack(server, async () => {
    const started = Date.now();
    const probes: Probe[] = [];
    // Half send a partial request, half nothing at all; opened 200 at a time.
    for (let i = 0; i < COUNT; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, COUNT - i) }, () => openRaw(server.port)),
      );
      batch.forEach((p, k) => {
        if ((i + k) % 2 === 0)
          p.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      });
      probes.push(...batch);
    }
    const openedMs = Date.now() - started;
    const peakOpen = (await server.stats()).sockets;
    const closed = await Promise.all(probes.map((p) => p.closedAt));
    const statuses = new Map<string, number>();
    for (const p of probes) {
      const s = statusOf(p.received()) || '(closed without an answer)';
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    return { openedMs, peakOpen, lastClosedMs: Math.max(...closed) - started, statuses };
  });
  const after = await server.stats();
  console.log(
    describeMeasure(
      `${COUNT} stalled handshakes`,
      m,
      `opened in ${m.result.openedMs} ms (${m.result.peakOpen} open at once on the server), answers ${JSON.stringify([...m.result.statuses])}, last closed ${m.result.lastClosedMs} ms after the first opened; per connection ${(m.heldGrowth / COUNT / 1024).toFixed(1)} KiB held`,
    ),
  );
  expect([...m.result.statuses]).toEqual([['HTTP/1.1 408 Request Timeout', COUNT]]);
  expect(m.result.lastClosedMs).toBeLessThan(m.result.openedMs + STALL_BOUND_MS);
  expect(m.control.failures).toEqual([]);
  expect(m.control.maxMs).toBeLessThan(CONTROL_BOUND_MS);
  expect(m.heldGrowth).toBeLessThan(64 * MiB);
  expect(m.retainedGrowth).toBeLessThan(4 * MiB);
  expect(after.sockets).toBe(0);
  expect(server.alive).toBe(true);
}, 60_000);
