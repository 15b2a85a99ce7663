/**
 * Failure semantics, with real processes: redis-server killed (SIGKILL) in the middle of a
 * stream of broadcasts and started again; a server process killed with SIGKILL.
 *
 * Bounds checked here (reconnect backoff 50-500 ms, presenceTtl 1,500 ms):
 * - local delivery goes on while Redis is away; no connection is closed;
 * - the outage is reported ('degraded') and every publish meanwhile counted (stats.dropped,
 *   and 'restored' reports the outage's count);
 * - memory stays bounded: 20,000 publishes of 1 KiB during the outage queue nothing;
 * - cross-process delivery resumes by itself within 3 s of Redis coming back, in order,
 *   each message at most once;
 * - a SIGKILLed process leaves the presence count within presenceTtl (+500 ms of polling).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniquePrefix } from './helpers/backplane-peers.js';
import {
  BackplaneProcess,
  type Client,
  closeClients,
  eventually,
  openClients,
  sequence,
  stopWorkers,
} from './helpers/backplane-process.js';
import type { WorkerStats } from './helpers/backplane-worker.js';
import { RedisServer, stopAllRedis } from './helpers/redis-server.js';

const PRESENCE_TTL = 1_500;
let redis: RedisServer;
let a: BackplaneProcess;
let b: BackplaneProcess;
let aClients: Client[];
let bClients: Client[];

beforeAll(async () => {
  redis = await RedisServer.start();
  const config = {
    redis: redis.url,
    prefix: uniquePrefix(),
    presenceTtl: PRESENCE_TTL,
    reconnect: { minDelay: 50, maxDelay: 500 },
  };
  [a, b] = await Promise.all([BackplaneProcess.start(config), BackplaneProcess.start(config)]);
  aClients = await openClients(a.port, 20);
  bClients = await openClients(b.port, 20);
  for (const w of [a, b]) {
    await eventually(
      async () => (await stats(w)).connections === 20,
      5_000,
      () => 'connections accepted',
    );
  }
}, 60_000);

afterAll(async () => {
  closeClients();
  await stopWorkers();
  await stopAllRedis();
});

const stats = (w: BackplaneProcess) => w.request<WorkerStats>({ cmd: 'stats' });

describe('redis-server killed mid-stream and restarted', () => {
  it('keeps local delivery and every connection, reports and counts the outage, stays bounded, and resumes by itself', async () => {
    await a.request({ cmd: 'start-stream', tag: 's', intervalMs: 5, maxCount: 100_000 });
    const firstB = bClients[0]!;
    await eventually(
      () => sequence(firstB.messages, 's').length >= 50,
      5_000,
      () => 'stream reaches b',
    );

    await redis.kill('SIGKILL');
    const killedAt = Date.now();
    await eventually(
      () => a.eventsOf('degraded').length === 1 && b.eventsOf('degraded').length === 1,
      5_000,
      () =>
        `degraded events: a ${a.eventsOf('degraded').length}, b ${b.eventsOf('degraded').length}`,
    );
    expect(a.eventsOf('degraded')[0]!.reason).toBe('unavailable');
    const bSeenAtOutage = sequence(firstB.messages, 's').length;
    const aSeenAtOutage = sequence(aClients[0]!.messages, 's').length;

    // Local delivery goes on: a's own clients keep getting the stream.
    await eventually(
      () => sequence(aClients[0]!.messages, 's').length >= aSeenAtOutage + 100,
      5_000,
      () => 'local delivery during the outage',
    );
    // A burst during the outage (to a topic nobody here is in) is dropped at once and
    // counted: nothing is queued for later.
    const before = await stats(a);
    await a.request(
      { cmd: 'publish', topic: 'void', tag: 'burst', count: 20_000, size: 1024 },
      60_000,
    );
    const during = await stats(a);
    expect(during.stats.dropped - before.stats.dropped).toBeGreaterThanOrEqual(20_000);
    expect(during.stats.pendingPublishes).toBe(0);
    expect(during.stats.pendingBytes).toBe(0);
    expect(during.degraded).toBe(true);
    // The 20 MB published did not stay (a generous bound for GC slack).
    expect(during.heapUsed - before.heapUsed).toBeLessThan(16 * 1024 * 1024);
    expect(sequence(firstB.messages, 's').length).toBeLessThanOrEqual(bSeenAtOutage + 1);

    const downFor = Date.now() - killedAt;
    await redis.restart();
    const restartedAt = Date.now();
    const resumeMs = await eventually(
      () => sequence(firstB.messages, 's').length > bSeenAtOutage + 10,
      3_000,
      () => 'delivery to b resumed',
    );
    await eventually(
      () => a.eventsOf('restored').length === 1 && b.eventsOf('restored').length === 1,
      3_000,
      () => 'restored events',
    );
    const report = a.eventsOf('restored')[0]!.report as { dropped: number; durationMs: number };
    expect(report.dropped).toBeGreaterThanOrEqual(20_000);
    expect(report.durationMs).toBeGreaterThanOrEqual(downFor);
    const streamed = await a.request<number>({ cmd: 'stop-stream' });

    // Every connection is still open, nobody was closed.
    for (const w of [a, b]) {
      const s = await stats(w);
      expect(s.open).toBe(20);
      expect(s.closed).toBe(0);
    }
    for (const c of [...aClients, ...bClients]) expect(c.closes).toBe(0);

    // At most once, in order: b saw an increasing sequence with a gap (the outage);
    // a's own clients saw every message exactly once.
    await eventually(
      () => sequence(aClients[0]!.messages, 's').at(-1) === streamed - 1,
      5_000,
      () => 'the stream finished locally',
    );
    await eventually(
      () => sequence(firstB.messages, 's').at(-1) === streamed - 1,
      5_000,
      () => 'the stream finished at b',
    );
    const atB = sequence(firstB.messages, 's');
    for (let i = 1; i < atB.length; i++) expect(atB[i]!).toBeGreaterThan(atB[i - 1]!);
    expect(atB.length).toBeLessThan(streamed);
    console.log(
      `chaos: heap +${((during.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)} MiB over 20,000 publishes during the outage; Redis down ${downFor} ms; b got the stream again ${resumeMs} ms after restart (${Date.now() - restartedAt} ms to the end of checks); ${streamed - atB.length} of ${streamed} stream messages missed at b; a dropped ${report.dropped}`,
    );
  });
});

describe('a server process killed with SIGKILL', () => {
  it(`leaves the presence count within presenceTtl (${PRESENCE_TTL} ms)`, async () => {
    await Promise.all([
      a.request({ cmd: 'join', topic: 'lobby', count: 20 }),
      b.request({ cmd: 'join', topic: 'lobby', count: 5 }),
    ]);
    await eventually(
      async () => (await b.request<number>({ cmd: 'size', topic: 'lobby' })) === 25,
      5_000,
      () => 'presence 25',
    );
    await a.kill('SIGKILL');
    const killedAt = Date.now();
    const gone = await eventually(
      async () => (await b.request<number>({ cmd: 'size', topic: 'lobby' })) === 5,
      PRESENCE_TTL + 500,
      () => 'the killed process left the count',
    );
    console.log(
      `presence: a SIGKILLed process left the count ${gone} ms after the kill (bound ${PRESENCE_TTL} ms)`,
    );
    expect(Date.now() - killedAt).toBeLessThanOrEqual(PRESENCE_TTL + 500);
    expect(b.alive).toBe(true);
  });
});
