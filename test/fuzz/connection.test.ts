/**
 * Connection-level fuzzing against a live echo server in its own process (permessage-deflate
 * on, closeTimeout 1 s): 2,000 seeded sessions of random bytes, mutated handshakes and
 * mutated sessions (see engines/connection-fuzz.ts). The server must survive, every session
 * must end in an HTTP error, a valid Close or a clean drop within 5 s of the peer's FIN,
 * clean sessions must get their echoes back intact, and afterwards nothing may leak: no
 * connection, socket, timer or handle beyond the listening server, and memory back near
 * where it started.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { fuzzSeed } from '../helpers/seeded-random.js';
import { mib, ServerProcess } from '../helpers/server-process.js';
import { fuzzConnections } from './engines/connection-fuzz.js';

const SESSIONS = 2_000;
const CLOSE_TIMEOUT = 1_000;
let server: ServerProcess;

beforeAll(async () => {
  server = await ServerProcess.start({
    server: { perMessageDeflate: true, closeTimeout: CLOSE_TIMEOUT },
  });
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

async function waitForIdle(
  ms: number,
): Promise<{ settledMs: number; stats: Awaited<ReturnType<ServerProcess['stats']>> }> {
  const started = Date.now();
  for (;;) {
    const stats = await server.stats();
    const idle =
      stats.connections === 0 && stats.sockets === 0 && (stats.resources.TCPSocketWrap ?? 0) === 0;
    if (idle || Date.now() - started > ms) return { settledMs: Date.now() - started, stats };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

it(`survives ${SESSIONS} fuzzed sessions, each ending properly, and leaks nothing`, async () => {
  const before = await server.gc();
  const baseline = await server.stats();
  const report = await fuzzConnections(server.port, fuzzSeed(0xc0_0001), SESSIONS, {
    concurrency: 16,
    boundMs: 5_000,
  });
  expect(server.alive, server.exitReport).toBe(true);
  // Sockets of failed connections may wait up to closeTimeout for the peer's part.
  const { settledMs, stats } = await waitForIdle(CLOSE_TIMEOUT + 2_000);
  const after = await server.gc();
  console.log(
    `connection fuzz: ${report.sessions} sessions in ${report.ms} ms, endings ${JSON.stringify(report.endings)}; ` +
      `${report.echoes} clean sessions echoed intact; slowest close after our FIN ${report.slowestCloseMs} ms; ` +
      `server idle ${settledMs} ms after the last session; errors ${JSON.stringify(stats.errors)}; ` +
      `heap ${mib(before.heap)} -> ${mib(after.heap)}, external ${mib(before.external)} -> ${mib(after.external)}, ` +
      `peak rss ${mib(stats.peak.rss)}`,
  );
  expect(report.failures).toEqual([]);
  expect(report.sessions).toBe(SESSIONS);
  expect(report.echoes).toBeGreaterThan(SESSIONS / 10);
  // Nothing leaks: the same resources as before (the listening socket, the IPC pipe), no timer.
  expect(stats.connections).toBe(0);
  expect(stats.sockets).toBe(0);
  expect(stats.resources).toEqual(baseline.resources);
  expect(stats.errors.untyped ?? 0).toBe(0);
  expect(after.heap - before.heap).toBeLessThan(16 * 1024 * 1024);
  // And it still serves.
  const ws = await connect(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: false });
  const echoed = new Promise((resolve) => ws.once('data', resolve));
  ws.write('still there?');
  expect(await echoed).toBe('still there?');
  ws.end();
  await new Promise((resolve) => ws.once('close', resolve));
}, 120_000);
