import { once } from 'node:events';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { sessionPool } from '../../lib/handshake/http2-session-pool.js';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ConnectionClosedError } from '../../lib/protocol/errors.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  END_STREAM,
  type FrameTap,
  FrameType,
  H2Error,
  startFrameTap,
  type TappedFrame,
} from '../helpers/http2-frame-tap.js';
import {
  connectHeaders,
  type Http2ServerFixture,
  startHttp2Server,
  within,
} from '../helpers/http2-servers.js';
import { nextMessage, until } from '../helpers/loopback-server.js';

/**
 * WebSockets over HTTP/2 streams, our client to our server (RFC 8441): how they close on
 * the wire (read by a tap on cleartext h2c: END_STREAM for a clean close, RST_STREAM CANCEL
 * for an abnormal one, never the session), many on one session, HTTP/2 flow control as the
 * backpressure, and the loss of the session.
 */

let fixture: Http2ServerFixture | undefined;
let tap: FrameTap | undefined;
const sessions: ClientHttp2Session[] = [];
const clients: WebSocketConnection[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  for (const session of sessions.splice(0)) session.destroy();
  await fixture?.close();
  await tap?.close();
  fixture = undefined;
  tap = undefined;
  await until(() => sessionPool.size === 0, 5_000, 'the pool to be empty');
});

/** An echo server on h2c, and a tap in front of it. */
async function tappedEcho(options: Parameters<typeof startHttp2Server>[0] = {}): Promise<{
  f: Http2ServerFixture;
  url: string;
  session: () => Promise<ClientHttp2Session>;
}> {
  fixture = await startHttp2Server({ wss: { autoAcceptConnections: true }, ...options });
  fixture.wss!.on('connect', (ws) => ws.pipe(ws));
  tap = await startFrameTap(fixture.port);
  const port = tap.port;
  return {
    f: fixture,
    url: `ws://127.0.0.1:${port}/`,
    session: async () => {
      const s = http2.connect(`http://127.0.0.1:${port}`);
      s.on('error', () => {});
      sessions.push(s);
      await within(once(s, 'remoteSettings'), 5_000, 'SETTINGS');
      return s;
    },
  };
}

async function open(url: string, options = {}): Promise<WebSocketConnection> {
  const ws = await connect(url, { http2: 'require', ...options });
  clients.push(ws);
  return ws;
}

function closeOf(ws: WebSocketConnection, ms = 5_000): Promise<{ code: number; clean: boolean }> {
  if (ws.closed) return Promise.resolve({ code: ws.closeCode, clean: ws.wasClean });
  return within(
    new Promise((resolve) =>
      ws.once('close', (code: number) => resolve({ code, clean: ws.wasClean })),
    ),
    ms,
    'a close',
  );
}

function streamIdOf(ws: WebSocketConnection): number {
  return (ws.transport as unknown as { id: number }).id;
}

const resets = (frames: TappedFrame[]) => frames.filter((f) => f.type === FrameType.RstStream);
const ends = (frames: TappedFrame[], direction: 'c2s' | 's2c') =>
  frames.filter(
    (f) =>
      f.direction === direction &&
      (f.type === FrameType.Data || f.type === FrameType.Headers) &&
      (f.flags & END_STREAM) !== 0,
  );

/** A masked client frame (key 0, so the payload is as given). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

describe('closing on the wire (RFC 8441 §5)', () => {
  it('a clean close initiated by the client: Close both ways, then END_STREAM both ways, no RST_STREAM', async () => {
    const { f, url } = await tappedEcho();
    const ws = await open(url);
    await open(url); // keeps the pooled session open: closing one WebSocket leaves it alone
    const id = streamIdOf(ws);
    const serverSide = f.wss!.connections[0]!;
    const [client, server] = [closeOf(ws), closeOf(serverSide)];
    ws.close(4000, 'bye');
    expect(await client).toEqual({ code: 4000, clean: true });
    expect(await server).toEqual({ code: 4000, clean: true });
    await until(
      () => ends(tap!.ofStream(id), 'c2s').length === 1,
      5_000,
      "the client's END_STREAM",
    );
    const frames = tap!.ofStream(id);
    expect(ends(frames, 's2c')).toHaveLength(1);
    expect(resets(frames)).toEqual([]);
    expect(tap!.frames.filter((fr) => fr.type === FrameType.GoAway)).toEqual([]);
  });

  it('a clean close initiated by the server: the same, and the server ends first', async () => {
    const { f, url } = await tappedEcho();
    const ws = await open(url);
    const id = streamIdOf(ws);
    const serverSide = f.wss!.connections[0]!;
    const client = closeOf(ws);
    serverSide.close(4001, 'server bye');
    expect(await client).toEqual({ code: 4001, clean: true });
    expect(await closeOf(serverSide)).toEqual({ code: 4001, clean: true });
    await until(
      () => ends(tap!.ofStream(id), 'c2s').length === 1,
      5_000,
      "the client's END_STREAM",
    );
    const frames = tap!.ofStream(id);
    const serverEnd = frames.indexOf(ends(frames, 's2c')[0]!);
    const clientEnd = frames.indexOf(ends(frames, 'c2s')[0]!);
    expect(serverEnd).toBeGreaterThanOrEqual(0);
    expect(serverEnd).toBeLessThan(clientEnd);
    expect(resets(frames)).toEqual([]);
  });

  it('a peer whose Close carries END_STREAM (as Chromium sends it) is answered with Close and END_STREAM, not a reset', async () => {
    const { f, session } = await tappedEcho();
    const s = await session();
    const stream = s.request(connectHeaders({ port: tap!.port, secure: false }), {
      endStream: false,
    });
    const [headers] = (await within(once(stream, 'response'), 5_000, 'the 200')) as [
      http2.IncomingHttpHeaders,
    ];
    expect(headers[':status']).toBe(200);
    const serverSide = f.wss!.connections[0]!;
    const received: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => received.push(chunk));
    const closePayload = Buffer.from([0x03, 0xe8]);
    stream.end(clientFrame(0x8, closePayload));
    expect(await closeOf(serverSide)).toEqual({ code: 1000, clean: true });
    await within(once(stream, 'close'), 5_000, "the stream's close");
    expect(Buffer.concat(received)).toEqual(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    const frames = tap!.ofStream(stream.id!);
    expect(ends(frames, 's2c')).toHaveLength(1);
    expect(resets(frames)).toEqual([]);
  });

  it("terminate() resets the stream with CANCEL, the peer sees 1006, and the session's other WebSockets go on", async () => {
    const { f, url } = await tappedEcho();
    const a = await open(url);
    const b = await open(url);
    const [serverA] = f.wss!.connections;
    const closed = closeOf(serverA!);
    a.terminate();
    expect(await closed).toEqual({ code: CloseCode.AbnormalClosure, clean: false });
    const rst = resets(tap!.ofStream(streamIdOf(a)));
    expect(rst).toEqual([expect.objectContaining({ direction: 'c2s', errorCode: H2Error.Cancel })]);
    b.write('still open');
    expect(await nextMessage(b)).toBe('still open');
    expect(f.sessions).toHaveLength(1);
    expect(tap!.frames.filter((fr) => fr.type === FrameType.GoAway)).toEqual([]);
  });

  it('a server terminate() resets with CANCEL too', async () => {
    const { f, url } = await tappedEcho();
    const ws = await open(url);
    const closed = closeOf(ws);
    f.wss!.connections[0]!.terminate();
    expect(await closed).toEqual({ code: CloseCode.AbnormalClosure, clean: false });
    expect(resets(tap!.ofStream(streamIdOf(ws)))).toEqual([
      expect.objectContaining({ direction: 's2c', errorCode: H2Error.Cancel }),
    ]);
  });

  it('a peer that never answers our Close is reset with CANCEL after closeTimeout', async () => {
    const { f, session } = await tappedEcho({
      wss: { autoAcceptConnections: true, closeTimeout: 200 },
    });
    const s = await session();
    const stream: ClientHttp2Stream = s.request(
      connectHeaders({ port: tap!.port, secure: false }),
      {
        endStream: false,
      },
    );
    stream.on('error', () => {});
    stream.resume(); // reads, never answers
    await within(once(stream, 'response'), 5_000, 'the 200');
    const serverSide = f.wss!.connections[0]!;
    const started = Date.now();
    serverSide.close(1000);
    expect(await closeOf(serverSide)).toEqual({ code: CloseCode.AbnormalClosure, clean: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await within(once(stream, 'close'), 5_000, "the stream's close");
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(resets(tap!.ofStream(stream.id!))).toEqual([
      expect.objectContaining({ direction: 's2c', errorCode: H2Error.Cancel }),
    ]);
  });
});

describe('1,000 WebSockets on one HTTP/2 session', () => {
  it('open, echo, survive one of them failing with a protocol error, and close', async () => {
    fixture = await startHttp2Server({ wss: { autoAcceptConnections: true } });
    const f = fixture;
    f.wss!.on('connect', (ws) => ws.pipe(ws));
    const url = f.url('/');
    const count = 1_000;
    const all = await Promise.all(
      Array.from({ length: count }, () => open(url, { handshakeTimeout: 30_000 })),
    );
    expect(f.sessions).toHaveLength(1);
    expect(f.wss!.connections).toHaveLength(count);
    expect(new Set(all.map(streamIdOf)).size).toBe(count);

    const echoes = await Promise.all(
      all.map((ws, i) => {
        ws.write(`m${i}`);
        return nextMessage(ws, 20_000);
      }),
    );
    expect(echoes).toEqual(all.map((_, i) => `m${i}`));

    // One breaks the protocol (a reserved opcode): it alone is failed with 1002.
    const culprit = all[500]!;
    const culpritClosed = closeOf(culprit);
    (culprit.transport as Duplex).write(clientFrame(0x3, Buffer.alloc(0)));
    expect((await culpritClosed).code).toBe(CloseCode.ProtocolError);
    const others = all.filter((ws) => ws !== culprit);
    expect(others.every((ws) => ws.isOpen)).toBe(true);
    expect(f.sessions[0]!.destroyed).toBe(false);
    expect(f.sessions[0]!.closed).toBe(false);
    const again = await Promise.all(
      others.map((ws, i) => {
        ws.write(Buffer.from([i & 0xff, i >> 8]));
        return nextMessage(ws, 20_000);
      }),
    );
    expect(again).toEqual(others.map((_, i) => Buffer.from([i & 0xff, i >> 8])));
    expect(f.wss!.connections).toHaveLength(count - 1);

    const closes = others.map((ws) => closeOf(ws, 30_000));
    for (const ws of others) ws.close();
    const results = await Promise.all(closes);
    expect(results.every((r) => r.code === 1000 && r.clean)).toBe(true);
    await until(() => f.wss!.connections.length === 0, 10_000, 'every server connection to close');
    await until(() => sessionPool.size === 0, 10_000, 'the pooled session to close');
  }, 120_000);
});

describe('HTTP/2 flow control is the backpressure', () => {
  /**
   * Writes 64 KiB messages, respecting write()'s false and 'drain', until no 'drain' comes
   * for 500 ms; returns the bytes accepted by then.
   */
  async function writeUntilStalled(ws: WebSocketConnection, limit: number): Promise<number> {
    const message = Buffer.alloc(64 * 1024, 7);
    let accepted = 0;
    while (accepted < limit) {
      accepted += message.length;
      if (ws.write(message)) continue;
      const drained = await Promise.race([
        once(ws, 'drain').then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 500)),
      ]);
      if (!drained) return accepted;
    }
    return accepted;
  }

  it.each(['server', 'client'] as const)(
    "stops a writer when the %s's reader never reads, with memory bounded, and the session's other WebSockets flow",
    async (stalled) => {
      fixture = await startHttp2Server({ wss: { autoAcceptConnections: true } });
      const f = fixture;
      const serverSides: WebSocketConnection[] = [];
      f.wss!.on('connect', (ws) => {
        serverSides.push(ws);
        if (serverSides.length > 1) ws.pipe(ws);
      });
      const url = f.url('/');
      const blocked = await open(url);
      const other = await open(url);
      await until(() => serverSides.length === 2, 5_000, 'both server connections');
      // The reader is the side that never reads; the writer is the other end.
      const [writer, reader] =
        stalled === 'server' ? [blocked, serverSides[0]!] : [serverSides[0]!, blocked];
      const heapBefore = process.memoryUsage().heapUsed;
      const accepted = await writeUntilStalled(writer, 256 * 1024 * 1024);
      // Bounded by the windows and stream buffers (64 KiB stream window, the readable
      // buffers, the writable high-water marks: about 1.1 MiB measured), never by what the
      // writer had to send (256 MiB).
      expect(accepted).toBeLessThan(4 * 1024 * 1024);
      expect(writer.bufferedAmount).toBeLessThan(1024 * 1024);
      global.gc?.();
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
      // The session is not blocked: HTTP/2 flow control is per stream.
      other.write('meanwhile');
      expect(await nextMessage(other)).toBe('meanwhile');
      // Once the reader reads, every byte arrives.
      let received = 0;
      reader.on('data', (m: Buffer) => {
        received += m.length;
      });
      await until(() => received === accepted, 20_000, `all ${accepted} bytes to arrive`);
    },
    60_000,
  );
});

describe('losing the session', () => {
  it.each(['client', 'server'] as const)(
    "closes every WebSocket on it with 1006 when the %s's session is destroyed mid-message",
    async (side) => {
      fixture = await startHttp2Server({ wss: { autoAcceptConnections: true } });
      const f = fixture;
      const serverSides: WebSocketConnection[] = [];
      f.wss!.on('connect', (ws) => serverSides.push(ws));
      const s = http2.connect(f.origin);
      s.on('error', () => {});
      sessions.push(s);
      const count = 50;
      const all = await Promise.all(
        Array.from({ length: count }, () => open(f.url('/'), { http2: s })),
      );
      await until(() => serverSides.length === count, 5_000, 'every server connection');
      // Each is in the middle of a message: a stream of fragments that is never ended.
      for (const ws of all) {
        const message = ws.createMessageStream({ binary: true });
        message.on('error', () => {});
        message.write(Buffer.alloc(256 * 1024, 1));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closes = [...all, ...serverSides].map((ws) => closeOf(ws, 10_000));
      if (side === 'client') s.destroy();
      else f.sessions[0]!.destroy();
      const results = await Promise.all(closes);
      expect(results).toEqual(
        Array.from({ length: 2 * count }, () => ({
          code: CloseCode.AbnormalClosure,
          clean: false,
        })),
      );
      for (const ws of [...all, ...serverSides]) {
        expect(ws.closeError).toBeInstanceOf(Error);
      }
      expect(all[0]!.closeError).toBeInstanceOf(ConnectionClosedError);
    },
    30_000,
  );
});
