import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { LoopbackServer } from '../helpers/loopback-server.js';
import { killAllPeers, type PeerEvent, PeerProcess } from '../helpers/peers.js';
import { drainOrClose } from '../helpers/stream-events.js';
import { tcpInFlightLimit } from './tcp-buffers.js';

/**
 * The backpressure scenario, at full size: a WebSocketStream reader (in a process
 * of its own, test/web/scripts/backpressure-reader.ts) reads one message and then nothing
 * for 5 s while the peer (here) writes 1 GiB in 64 KiB binary messages. Ours must hold its
 * memory (the peer's write() returns false and it stalls once TCP is full), then resume and
 * deliver every byte. The same reader on undici's WebSocketStream is run for the README's
 * comparison: its figures are printed, and only its integrity is asserted (what it does
 * with memory is undici's business, not a test of ours).
 */

const TOTAL = 1024 ** 3;
const MESSAGE = 64 * 1024;
const PAUSE_MS = 5_000;
const READER = resolve(import.meta.dirname, 'scripts/backpressure-reader.ts');
const MiB = 1024 * 1024;

/** What the peer did: bytes handed to its transport, writes refused, and its hash. */
interface PeerStats {
  handedOver: number;
  refused: number;
  sha256: string;
  finished: Promise<void>;
}

/** Writes TOTAL bytes to a connection in MESSAGE-sized binary messages, honouring write()'s false. */
function writeGigabyte(connection: WebSocketConnection): PeerStats {
  const hash = createHash('sha256');
  const block = randomBytes(MESSAGE);
  const stats: PeerStats = { handedOver: 0, refused: 0, sha256: '', finished: Promise.resolve() };
  stats.finished = (async () => {
    for (let sent = 0, index = 0; sent < TOTAL; sent += MESSAGE, index++) {
      const message = Buffer.from(block);
      message.writeUInt32LE(index, 0);
      hash.update(message);
      const room = connection.write(message, (err?: Error | null) => {
        if (!err) stats.handedOver += MESSAGE;
      });
      if (!room) {
        stats.refused++;
        await drainOrClose(connection);
        if (connection.destroyed) throw new Error('the reader went away');
      }
    }
    stats.sha256 = hash.digest('hex');
  })();
  stats.finished.catch(() => {});
  return stats;
}

let server: LoopbackServer;
let nextPeer: ((stats: PeerStats) => void) | undefined;

beforeAll(async () => {
  server = new LoopbackServer({ autoAcceptConnections: true, keepalive: false });
  server.wss.on('connect', (connection: WebSocketConnection) => {
    connection.resume(); // the reader sends nothing but its Close
    nextPeer?.(writeGigabyte(connection));
  });
  await server.listen();
});

afterEach(killAllPeers);

afterAll(async () => {
  await server.close();
});

interface Run {
  opened: PeerEvent;
  resumed: PeerEvent;
  done: PeerEvent;
  stats: PeerStats;
  /** Bytes the peer had handed to TCP 1 s before the end of the pause, and at its end. */
  stalledAt: [number, number];
}

async function run(mode: 'ours' | 'undici'): Promise<Run> {
  const peer = new Promise<PeerStats>((resolve) => {
    nextPeer = resolve;
  });
  const reader = PeerProcess.spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', READER, server.url('/'), mode, String(TOTAL)],
    { name: `backpressure reader (${mode})`, lifetimeMs: 170_000 },
  );
  const opened = await reader.next('opened', 30_000);
  const stats = await peer;
  await reader.next('paused', 30_000);
  await new Promise((r) => setTimeout(r, PAUSE_MS - 1_000));
  const oneSecondBefore = stats.handedOver;
  await new Promise((r) => setTimeout(r, 1_000));
  const atTheEnd = stats.handedOver;
  reader.send({ command: 'resume' });
  const resumed = await reader.next('resumed', 10_000);
  const done = await reader.next('done', 150_000);
  await stats.finished;
  return { opened, resumed, done, stats, stalledAt: [oneSecondBefore, atTheEnd] };
}

const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

describe('WebSocketStream backpressure, 1 GiB', () => {
  it('our reader, paused 5 s, holds its memory while the peer stalls; then every byte arrives', async () => {
    const { opened, resumed, done, stats, stalledAt } = await run('ours');
    const growth = (resumed.peakRssDuringPause as number) - (opened.baselineRss as number);
    console.log(
      `[web backpressure] ours: baseline RSS ${mib(opened.baselineRss as number)}; RSS growth during the 5 s pause ${mib(growth)}; ` +
        `peer stalled after ${mib(stalledAt[1])} (write() returned false ${stats.refused} times); ` +
        `peak RSS over the run ${mib(done.peakRss as number)} (maxRSS ${mib(done.maxRss as number)}); ` +
        `1 GiB in ${done.seconds} s`,
    );
    expect([done.bytes, done.sha256]).toEqual([TOTAL, stats.sha256]);
    // The peer was told to wait, and waited: nothing moved in the pause's last second,
    // and what it got rid of fits in the kernel's buffers plus the reader's small queue.
    expect(stats.refused).toBeGreaterThan(0);
    expect(stalledAt[1]).toBe(stalledAt[0]);
    expect(stalledAt[1]).toBeLessThan(tcpInFlightLimit() + 32 * MESSAGE);
    // The reader's memory: what it holds is its connection's 16 messages and one chunk of
    // lookahead (about 1 MiB); 32 MiB leaves room for the allocator and the GC.
    expect(growth).toBeLessThan(32 * MiB);
    expect(done.peakRss as number).toBeLessThan((opened.baselineRss as number) + 128 * MiB);
  }, 180_000);

  it("undici's WebSocketStream in the same scenario delivers every byte (its memory is printed for the README)", async () => {
    const { opened, resumed, done, stats, stalledAt } = await run('undici');
    const growth = (resumed.peakRssDuringPause as number) - (opened.baselineRss as number);
    console.log(
      `[web backpressure] undici: baseline RSS ${mib(opened.baselineRss as number)}; RSS growth during the 5 s pause ${mib(growth)}; ` +
        `peer had handed over ${mib(stalledAt[1])} by the end of the pause (write() returned false ${stats.refused} times); ` +
        `peak RSS over the run ${mib(done.peakRss as number)} (maxRSS ${mib(done.maxRss as number)}); ` +
        `1 GiB in ${done.seconds} s`,
    );
    expect([done.bytes, done.sha256]).toEqual([TOTAL, stats.sha256]);
  }, 180_000);
});
