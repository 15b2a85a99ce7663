/**
 * Attacks after the handshake, against echo servers in their own processes:
 * - `server`: permessage-deflate on, every limit at its default (frames 16 MiB, messages
 *   64 MiB, closeTimeout 5 s), keepalive shortened to 1 s + 1 s (default 20 s + 10 s) so
 *   that the silent-peer bound can be measured in CI;
 * - `limited`: the same with maxReceivedMessageSize 1 MiB, to see a fragment flood refused.
 * Each attack states its bound and prints what was measured: the time until the offending
 * connection gets its Close (or is dropped), the server's memory growth (peak, and what is
 * retained after a GC), and the round trips of a well-behaved client served meanwhile.
 */
import { once } from 'node:events';
import type net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeMeasure, underAttack } from '../helpers/attack-kit.js';
import { rawClientHandshake } from '../helpers/handshaking-peer.js';
import { mib, ServerProcess } from '../helpers/server-process.js';
import { drainOrClose } from '../helpers/stream-events.js';
import { WireReader } from '../helpers/wire-reader.js';

const MiB = 1024 * 1024;
const KEEPALIVE = 1_000;
const CONTROL_BOUND_MS = 1_000;
let server: ServerProcess;
let limited: ServerProcess;

beforeAll(async () => {
  [server, limited] = await Promise.all([
    ServerProcess.start({
      server: {
        perMessageDeflate: true,
        keepaliveInterval: KEEPALIVE,
        keepaliveGracePeriod: KEEPALIVE,
      },
    }),
    ServerProcess.start({ server: { perMessageDeflate: true, maxReceivedMessageSize: MiB } }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([server?.stop(), limited?.stop()]);
});

/** An attacker's connection after a hand-made handshake, reading the server's frames. */
interface Attacker {
  socket: net.Socket;
  /** Resolves with the server's Close code (null: empty Close) and when it came. */
  close: Promise<{ code: number | null; at: number }>;
  /** Resolves when TCP closed. */
  closed: Promise<number>;
  /** Frames received so far, by opcode. */
  counts: Map<number, number>;
}

async function attacker(port: number, extensions?: string, read = true): Promise<Attacker> {
  const hs = await rawClientHandshake(port, extensions === undefined ? {} : { extensions });
  if (hs.status !== 101) throw new Error(`handshake failed: ${hs.head.startLine}`);
  const socket = hs.socket;
  const reader = new WireReader();
  const counts = new Map<number, number>();
  let onClose: (v: { code: number | null; at: number }) => void = () => {};
  const close = new Promise<{ code: number | null; at: number }>((resolve) => {
    onClose = resolve;
  });
  const take = (chunk: Buffer): void => {
    for (const f of reader.push(chunk)) {
      counts.set(f.opcode, (counts.get(f.opcode) ?? 0) + 1);
      if (f.opcode === 8)
        onClose({ code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null, at: Date.now() });
    }
  };
  take(hs.head.rest);
  socket.on('data', take);
  const closed = new Promise<number>((resolve) => {
    if (socket.destroyed) resolve(Date.now());
    else socket.once('close', () => resolve(Date.now()));
  });
  if (read) socket.resume();
  return { socket, close, closed, counts };
}

/** Masks frames the way a client must, with one fixed key (the server cannot tell). */
function frame(opcode: number, payload: Buffer, fin = true, rsv1 = false): Buffer {
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const n = payload.length;
  const ext = n > 0xffff ? 8 : n > 125 ? 2 : 0;
  const out = Buffer.allocUnsafe(2 + ext + 4 + n);
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  if (ext === 0) out[1] = 0x80 | n;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  key.copy(out, 2 + ext);
  for (let i = 0; i < n; i++) out[6 + ext + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

/** Writes, waiting for room; stops when the socket is gone. Resolves false if it was. */
async function send(socket: net.Socket, bytes: Buffer): Promise<boolean> {
  if (socket.destroyed || socket.writableEnded) return false;
  if (socket.write(bytes)) return true;
  await drainOrClose(socket);
  return !socket.destroyed;
}

/** `count` copies of one frame, back to back. */
function repeated(one: Buffer, count: number): Buffer {
  const out = Buffer.allocUnsafe(one.length * count);
  out.fill(one);
  return out;
}

it('frames announcing 2^63, 2^63-1, 2^53 and 2^32 bytes: Close 1002 or 1009 at once, nothing buffered', async () => {
  const lengths: Array<[bigint, number]> = [
    [2n ** 63n, 1002],
    [2n ** 64n - 1n, 1002],
    [2n ** 63n - 1n, 1009],
    [2n ** 53n, 1009],
    [2n ** 32n, 1009],
    [BigInt(64 * MiB + 1), 1009],
  ];
  const m = await underAttack(server, async () => {
    const results = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const [length, want] = lengths[i % lengths.length]!;
        const a = await attacker(server.port);
        const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        header.writeBigUInt64BE(length, 2);
        const sentAt = Date.now();
        a.socket.write(Buffer.concat([header, Buffer.alloc(1024)]));
        const close = await a.close;
        a.socket.end();
        await a.closed;
        return { ok: close.code === want, ms: close.at - sentAt, got: close.code, want };
      }),
    );
    return {
      wrong: results.filter((r) => !r.ok),
      slowestMs: Math.max(...results.map((r) => r.ms)),
    };
  });
  console.log(
    describeMeasure(
      'huge announced lengths x120',
      m,
      `every Close within ${m.result.slowestMs} ms of the header`,
    ),
  );
  expect(m.result.wrong).toEqual([]);
  expect(m.result.slowestMs).toBeLessThan(500);
  expect(m.heldGrowth).toBeLessThan(8 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
  expect(m.control.failures).toEqual([]);
}, 30_000);

it('flood of tiny fragments: memory follows the payload, not the fragment count; Close 1009 at the message limit', async () => {
  // Under the default limit (64 MiB): 2,000,000 one-byte fragments and 1,000,000 empty ones.
  const one = frame(0x0, Buffer.from('a'), false);
  const empty = frame(0x0, Buffer.alloc(0), false);
  const m = await underAttack(server, async () => {
    const a = await attacker(server.port);
    const started = Date.now();
    await send(a.socket, frame(0x1, Buffer.from('a'), false));
    const block = repeated(one, 100_000);
    for (let i = 0; i < 20; i++) await send(a.socket, block);
    const emptyBlock = repeated(empty, 100_000);
    for (let i = 0; i < 10; i++) await send(a.socket, emptyBlock);
    // The message is legal: finish it and get it back whole.
    const echoed = new Promise<number>((resolve) => {
      let bytes = 0;
      a.socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= 2_000_001) resolve(Date.now());
      });
    });
    await send(a.socket, frame(0x0, Buffer.from('a'), true));
    const echoedAt = await echoed;
    a.socket.destroy();
    return { ms: echoedAt - started };
  });
  console.log(
    describeMeasure(
      'tiny fragments under the default limit',
      m,
      `3,000,002 fragments (2,000,002 B of payload, ${mib(3_000_002 * 7)} on the wire) assembled and echoed in ${m.result.ms} ms`,
    ),
  );
  // About the payload (2 MiB) held once more by the echo, and the socket reads in flight.
  expect(m.heldGrowth).toBeLessThan(24 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
  expect(m.control.failures).toEqual([]);
  expect(m.control.maxMs).toBeLessThan(CONTROL_BOUND_MS);

  // Under a 1 MiB limit, the same flood is refused with 1009 once the payload passes it.
  const l = await underAttack(limited, async () => {
    const a = await attacker(limited.port);
    const started = Date.now();
    await send(a.socket, frame(0x1, Buffer.from('a'), false));
    const block = repeated(one, 100_000);
    let sent = 1;
    while (sent < 3_000_000 && (await send(a.socket, block))) {
      sent += 100_000;
      const done = await Promise.race([
        a.close,
        new Promise((resolve) => setImmediate(resolve, undefined)),
      ]);
      if (done !== undefined) break;
    }
    const close = await a.close;
    a.socket.destroy();
    return { code: close.code, ms: close.at - started, sent };
  });
  console.log(
    describeMeasure(
      'tiny fragments, limit 1 MiB',
      l,
      `Close ${l.result.code} ${l.result.ms} ms after the flood began (${l.result.sent} fragments sent)`,
    ),
  );
  expect(l.result.code).toBe(1009);
  expect(l.result.ms).toBeLessThan(5_000);
  expect(l.heldGrowth).toBeLessThan(24 * MiB);
  expect(l.control.failures).toEqual([]);
}, 60_000);

it('ping flood from a peer that never reads the pongs: pongs coalesced, memory bounded, others served', async () => {
  const ping = frame(0x9, Buffer.alloc(125, 0x70));
  const m = await underAttack(server, async () => {
    const a = await attacker(server.port, undefined, false);
    a.socket.pause();
    const block = repeated(ping, 10_000);
    const started = Date.now();
    let pings = 0;
    while (Date.now() - started < 3_000) {
      if (!(await send(a.socket, block))) break;
      pings += 10_000;
    }
    // Now read what came back: far fewer pongs than pings.
    a.socket.resume();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pongs = a.counts.get(0xa) ?? 0;
    a.socket.write(frame(0x8, Buffer.from([0x03, 0xe8])));
    const close = await Promise.race([
      a.close,
      new Promise<undefined>((r) => setTimeout(r, 5_000, undefined)),
    ]);
    a.socket.destroy();
    return {
      pings,
      pongs,
      close: close?.code,
      mbPerSecond: (pings * ping.length) / MiB / ((Date.now() - started) / 1000),
    };
  });
  console.log(
    describeMeasure(
      'ping flood, pongs unread',
      m,
      `${m.result.pings} pings (${m.result.mbPerSecond.toFixed(0)} MiB/s) drew ${m.result.pongs} pongs; Close answered ${m.result.close}`,
    ),
  );
  expect(m.result.pongs).toBeLessThan(m.result.pings / 10);
  expect(m.result.close).toBe(1000);
  expect(m.heldGrowth).toBeLessThan(32 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
  expect(m.control.failures).toEqual([]);
  expect(m.control.maxMs).toBeLessThan(CONTROL_BOUND_MS);
}, 30_000);

it('decompression bomb (256 KiB inflating to 256 MiB): Close 1009 at the 64 MiB limit, memory bounded by it', async () => {
  // 1 MiB of zeros, compressed and flushed; the copies of it inflate one MiB each.
  const piece = zlib.deflateRawSync(Buffer.alloc(MiB), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const bomb = Buffer.concat(Array.from({ length: 256 }, () => piece));
  const body = bomb.subarray(0, bomb.length - 4);
  const m = await underAttack(server, async () => {
    const a = await attacker(server.port, 'permessage-deflate');
    const started = Date.now();
    await send(a.socket, frame(0x2, body, true, true));
    const close = await a.close;
    const finAt = await Promise.race([once(a.socket, 'end').then(() => Date.now()), a.closed]);
    a.socket.end();
    await a.closed;
    // When the server lets go of its socket (the control client keeps one of its own).
    let releasedAt = 0;
    while (releasedAt === 0 && Date.now() - started < 10_000) {
      if ((await server.stats()).sockets <= 1) releasedAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return {
      code: close.code,
      closeMs: close.at - started,
      finMs: finAt - started,
      releasedMs: releasedAt === 0 ? Number.POSITIVE_INFINITY : releasedAt - started,
    };
  });
  console.log(
    describeMeasure(
      'decompression bomb',
      m,
      `${mib(body.length)} compressed; Close ${m.result.code} after ${m.result.closeMs} ms, server FIN after ${m.result.finMs} ms, server socket released after ${m.result.releasedMs} ms`,
    ),
  );
  expect(m.result.code).toBe(1009);
  expect(m.result.closeMs).toBeLessThan(3_000);
  expect(m.result.finMs).toBeLessThan(3_000);
  // Known lib bug (conformance 12.9.15): the connection failed while inflating never resumes
  // its socket, so the server holds it until closeTimeout (5 s) instead of at once.
  expect(m.result.releasedMs).toBeLessThan(5_000 + 3_000);
  // The inflated message is refused the moment it passes 64 MiB: it is what is held.
  expect(m.heldGrowth).toBeLessThan(64 * MiB + 16 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
  expect(m.control.failures).toEqual([]);
}, 60_000);

it(`peer that never reads while we write: memory bounded, dropped after keepalive (${KEEPALIVE} + ${KEEPALIVE} ms)`, async () => {
  const message = frame(0x2, Buffer.alloc(MiB, 0x42));
  const m = await underAttack(server, async () => {
    const a = await attacker(server.port, undefined, false);
    a.socket.pause();
    const started = Date.now();
    // 100 MiB of messages to echo, queued on our side without waiting for room.
    for (let i = 0; i < 100; i++) a.socket.write(message);
    // What the server has not taken, sampled while the socket lives (a closed one forgets).
    let stuck = 0;
    const sampler = setInterval(() => {
      if (!a.socket.destroyed) stuck = a.socket.writableLength;
    }, 50);
    const closedAt = await Promise.race([
      a.closed,
      new Promise<number>((r) => setTimeout(r, 20_000, 0)),
    ]);
    clearInterval(sampler);
    a.socket.destroy();
    return { ms: closedAt === 0 ? Number.POSITIVE_INFINITY : closedAt - started, unsent: stuck };
  });
  console.log(
    describeMeasure(
      'peer never reads',
      m,
      `dropped ${m.result.ms} ms after it began (${mib(m.result.unsent)} of its 100 MiB never taken by the server)`,
    ),
  );
  expect(m.result.ms).toBeLessThan(2 * KEEPALIVE + 4_000);
  expect(m.result.unsent).toBeGreaterThan(50 * MiB);
  // 16 messages of 1 MiB waiting to be read and one being written back (measured 30-34 MiB
  // at peak: each message's pieces stay until a GC after they are joined): twice that.
  expect(m.heldGrowth).toBeLessThan(48 * MiB);
  expect(m.retainedGrowth).toBeLessThan(2 * MiB);
  expect(m.control.failures).toEqual([]);
}, 60_000);
