import { finished } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  ErrorCode,
  InvalidArgumentError,
  ProtocolError,
} from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import { MessageAssembler } from '../../lib/stream/message-assembler.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf, connectionPair, type PairKind, readChunks } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { closePayload, RawPeer } from '../helpers/raw-peer.js';

const open: WebSocketConnection<Incoming>[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

async function pair(kind: PairKind, server = {}, client = {}) {
  const p = await connectionPair(kind, server, client);
  open.push(p.server, p.client);
  return p;
}

/** A server connection facing a hand-driven client. */
function rawClient(options = {}) {
  const [a, b] = duplexPair();
  const server = new WebSocketConnection(a, { role: 'server', ...options });
  open.push(server);
  return { server, peer: new RawPeer(b, 'client') };
}

describe.each<PairKind>(['memory', 'tcp'])('WebSocketConnection over %s', (kind) => {
  it('echoes with types kept: text stays text, binary stays binary', async () => {
    const { server, client } = await pair(kind);
    server.pipe(server);
    const messages = [
      'héllo',
      Buffer.from([0, 1, 2, 255]),
      '',
      Buffer.alloc(0),
      'x'.repeat(70_000),
      Buffer.alloc(200_000, 7),
    ];
    for (const m of messages) client.write(m);
    const got = await readChunks(client, messages.length);
    expect(got).toEqual(messages);
    expect(got.map((m) => typeof m)).toEqual(messages.map((m) => typeof m));
  });

  it('delivers one read per write, never merging boundaries', async () => {
    const { server, client } = await pair(kind);
    for (let i = 0; i < 500; i++) client.write(`m${i}`);
    const got = await readChunks(server, 500);
    expect(got).toEqual(Array.from({ length: 500 }, (_, i) => `m${i}`));
  });

  it('runs a clean closing handshake on end(), with finished() resolving on both sides', async () => {
    const { server, client } = await pair(kind);
    server.resume();
    client.resume();
    server.on('end', () => server.end());
    const closes = [closeOf(server), closeOf(client)];
    client.end();
    await Promise.all([finished(client), finished(server)]);
    expect(await Promise.all(closes)).toEqual([
      [1000, ''],
      [1000, ''],
    ]);
    expect(client.wasClean && server.wasClean).toBe(true);
  });

  it('answers a Close from the peer and ends the readable side after the last message', async () => {
    const { server, client } = await pair(kind);
    client.write('last');
    client.close(4000, 'bye');
    const got: unknown[] = [];
    const closed = closeOf(server);
    server.on('data', (m) => got.push(m));
    await finished(server, { writable: false });
    expect(got).toEqual(['last']);
    const [code, reason] = await closed;
    expect([code, reason]).toEqual([4000, 'bye']);
    await finished(client);
    expect(client.closeCode).toBe(4000);
    expect(client.wasClean).toBe(true);
  });

  it('closes cleanly when both ends close at the same time', async () => {
    const { server, client } = await pair(kind);
    server.resume();
    client.resume();
    server.end();
    client.end();
    await Promise.all([finished(server), finished(client)]);
    expect(server.wasClean).toBe(true);
    expect(client.wasClean).toBe(true);
  });

  it('keeps two 16 MiB messages in flight in an echo flowing (no read/write deadlock)', async () => {
    const { server, client } = await pair(kind);
    server.pipe(server);
    const big = [Buffer.alloc(16 * 1024 * 1024, 1), Buffer.alloc(16 * 1024 * 1024, 2)];
    const got = readChunks(client, 2);
    client.write(big[0]!);
    client.write(big[1]!);
    const echoed = (await got) as Buffer[];
    expect(echoed.map((b) => [b.length, b[0], b[b.length - 1]])).toEqual([
      [16 * 1024 * 1024, 1, 1],
      [16 * 1024 * 1024, 2, 2],
    ]);
  });
});

describe('WebSocketConnection control frames', () => {
  it('answers a ping with a pong carrying the same payload, and emits ping once', async () => {
    const { server, peer } = rawClient();
    let pings = 0;
    server.on('ping', (data: Buffer) => {
      pings++;
      expect(data.toString()).toBe('are you there');
    });
    peer.sendFrame(Opcode.Ping, 'are you there');
    const pong = await peer.waitFor(Opcode.Pong);
    expect(pong.payload.toString()).toBe('are you there');
    expect(pings).toBe(1);
  });

  it('emits pong for an unsolicited pong, and ping()/pong() send what they are given', async () => {
    const { server, client } = await pair('memory');
    const pongs: string[] = [];
    client.on('pong', (d: Buffer) => pongs.push(d.toString()));
    server.pong('beat');
    client.ping('x'.repeat(125));
    await new Promise((r) => setTimeout(r, 50));
    expect(pongs).toEqual(['beat', 'x'.repeat(125)]);
  });

  it('refuses control payloads over 125 bytes and pings after close', async () => {
    const { client } = await pair('memory');
    expect(() => client.ping(Buffer.alloc(126))).toThrow(InvalidArgumentError);
    expect(() => client.pong('x'.repeat(126))).toThrow(/125/);
    client.end();
    expect(() => client.ping()).toThrow(ConnectionClosedError);
  });

  it('coalesces pongs under a ping flood from a peer that does not read', async () => {
    const { server, transports } = await pair('tcp');
    const serverSocket = transports[0];
    // The client side never reads: stop its transport, and flood pings through it.
    const clientSocket = transports[1];
    clientSocket.removeAllListeners('data');
    clientSocket.pause();
    const ping = Buffer.concat([Buffer.from([0x89, 0x80 | 125, 1, 2, 3, 4]), Buffer.alloc(125)]);
    let peak = 0;
    for (let i = 0; i < 40_000; i++) {
      clientSocket.write(ping);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
      peak = Math.max(peak, serverSocket.writableLength);
    }
    await new Promise((r) => setTimeout(r, 200));
    peak = Math.max(peak, serverSocket.writableLength);
    // 40,000 pongs would be ~5 MiB queued; coalescing keeps the queue near one socket buffer.
    expect(peak).toBeLessThan(1024 * 1024);
    expect(server.destroyed).toBe(false);
  });
});

describe('WebSocketConnection errors and limits', () => {
  const cases: Array<[string, (peer: RawPeer) => void, number, string]> = [
    [
      'an unmasked frame to a server',
      (p) => p.send(Buffer.from([0x81, 0x01, 0x41])),
      1002,
      ErrorCode.MaskRequired,
    ],
    ['a reserved opcode', (p) => p.sendFrame(0x3, 'x'), 1002, ErrorCode.InvalidOpcode],
    [
      'RSV1 without an extension',
      (p) => p.sendFrame(Opcode.Text, 'x', { rsv1: true }),
      1002,
      ErrorCode.ReservedBits,
    ],
    [
      'a continuation without a message',
      (p) => p.sendFrame(Opcode.Continuation, 'x'),
      1002,
      ErrorCode.UnexpectedContinuation,
    ],
    [
      'a new message inside a fragmented one',
      (p) => {
        p.sendFrame(Opcode.Text, 'a', { fin: false });
        p.sendFrame(Opcode.Text, 'b');
      },
      1002,
      ErrorCode.ExpectedContinuation,
    ],
    [
      'invalid UTF-8 in text',
      (p) => p.sendFrame(Opcode.Text, Buffer.from([0xce, 0xba, 0xff])),
      1007,
      ErrorCode.InvalidUtf8,
    ],
    [
      'invalid UTF-8 in the first fragment (fail fast)',
      (p) => p.sendFrame(Opcode.Text, Buffer.from([0xed, 0xa0, 0x80]), { fin: false }),
      1007,
      ErrorCode.InvalidUtf8,
    ],
    [
      'a 1-byte Close payload',
      (p) => p.sendFrame(Opcode.Close, Buffer.from([3])),
      1002,
      ErrorCode.InvalidClosePayload,
    ],
    [
      'an invalid close code',
      (p) => p.sendFrame(Opcode.Close, closePayload(1005)),
      1002,
      ErrorCode.InvalidCloseCode,
    ],
    [
      'a frame over maxReceivedFrameSize',
      (p) => p.sendFrame(Opcode.Binary, Buffer.alloc(2000)),
      1009,
      ErrorCode.FrameTooLarge,
    ],
    [
      'a message over maxReceivedMessageSize',
      (p) => {
        for (let i = 0; i < 5; i++)
          p.sendFrame(i === 0 ? Opcode.Binary : Opcode.Continuation, Buffer.alloc(900), {
            fin: false,
          });
      },
      1009,
      ErrorCode.MessageTooLarge,
    ],
    [
      'a fragmented ping',
      (p) => p.send(Buffer.from([0x09, 0x81, 0, 0, 0, 0, 0x78])),
      1002,
      ErrorCode.FragmentedControlFrame,
    ],
  ];

  it.each(cases)(
    'fails the connection on %s with the right code, one error',
    async (_name, act, code, errorCode) => {
      const { server, peer } = rawClient({
        maxReceivedFrameSize: 1000,
        maxReceivedMessageSize: 4000,
      });
      const errors: unknown[] = [];
      server.on('error', (e) => errors.push(e));
      server.resume();
      act(peer);
      expect(await peer.closeCode()).toBe(code);
      await peer.closed;
      await new Promise((r) => setImmediate(r));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(ProtocolError);
      expect((errors[0] as ProtocolError).code).toBe(errorCode);
      expect((errors[0] as ProtocolError).closeCode).toBe(code);
      expect(server.destroyed).toBe(true);
    },
  );

  it('does not crash a process without an error listener, and keeps the error in closeError', async () => {
    const { server, peer } = rawClient();
    const closed = closeOf(server);
    server.resume();
    peer.sendFrame(0x3, 'x');
    expect(await peer.closeCode()).toBe(1002);
    expect(await closed).toEqual([1006, '']);
    expect((server.closeError as ProtocolError).code).toBe(ErrorCode.InvalidOpcode);
  });

  it('passes 4 MiB in 64-byte fragments (65,536 of them) under a 5 MiB limit', async () => {
    const { server, peer } = rawClient({ maxReceivedMessageSize: 5 * 1024 * 1024 });
    const chunks: Buffer[] = [];
    for (let i = 0; i < 65_536; i++) {
      const last = i === 65_535;
      chunks.push(
        Buffer.from([(i === 0 ? 0x02 : 0x00) | (last ? 0x80 : 0), 0x80 | 64, 0, 0, 0, 0]),
        Buffer.alloc(64, i & 0xff),
      );
    }
    peer.send(Buffer.concat(chunks));
    const [message] = (await readChunks(server, 1)) as Buffer[];
    expect(message!.length).toBe(4 * 1024 * 1024);
    expect(message![64 * 300]).toBe(300 & 0xff);
  });

  it('destroy(err) sends the error code and emits that same error', async () => {
    const { server, peer } = rawClient();
    const err = new ProtocolError(ErrorCode.PolicyViolation, 'go away');
    const seen: unknown[] = [];
    server.on('error', (e) => seen.push(e));
    const closed = closeOf(server);
    server.destroy(err);
    expect(await peer.closeCode()).toBe(1008);
    await closed;
    expect(seen).toEqual([err]);
  });

  it('destroy() with a foreign error sends 1011 without its message', async () => {
    const { server, peer } = rawClient();
    server.on('error', () => {});
    server.destroy(new Error('secret database password'));
    const close = await peer.waitFor(Opcode.Close);
    expect(close.payload.readUInt16BE(0)).toBe(1011);
    expect(close.payload.subarray(2).toString()).toBe('');
  });

  it('validates close() arguments before any I/O', async () => {
    const { client } = await pair('memory');
    expect(() => client.close(1005)).toThrow(InvalidArgumentError);
    expect(() => client.close(999)).toThrow(InvalidArgumentError);
    expect(() => client.close(1000, 'x'.repeat(124))).toThrow(InvalidArgumentError);
    expect(client.isOpen).toBe(true);
  });

  it('reports a write after close through the callback, not a crash', async () => {
    const { server, client } = await pair('memory');
    server.resume();
    client.resume();
    server.end();
    await closeOf(client);
    const err = await new Promise((resolve) => client.write('late', resolve));
    expect(err).toBeInstanceOf(Error);
  });
});

describe('WebSocketConnection raw-fragment mode', () => {
  it('reads and writes Frames, and a MessageAssembler turns them into messages', async () => {
    const { server, client } = await pair('memory', { assembleFragments: false }, {});
    client.write('x'.repeat(40_000)); // 3 fragments at the 16 KiB default threshold
    const frames = (await readChunks(server, 3)) as Frame[];
    expect(frames.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
      [Opcode.Text, false, 16384],
      [Opcode.Continuation, false, 16384],
      [Opcode.Continuation, true, 40_000 - 32768],
    ]);
    const assembler = new MessageAssembler();
    for (const f of frames) assembler.write(f);
    expect(assembler.read()).toBe('x'.repeat(40_000));
  });

  it('keeps fragment-order and UTF-8 checks in raw mode', async () => {
    const { server, peer } = rawClient({ assembleFragments: false });
    server.on('error', () => {});
    server.resume();
    peer.sendFrame(Opcode.Text, Buffer.from([0xff]));
    expect(await peer.closeCode()).toBe(1007);
  });

  it('writes raw frames as given', async () => {
    const { server, client } = await pair('memory', {}, { assembleFragments: false });
    const text = (payload: string, opcode: number, fin: boolean): Frame => ({
      fin,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: opcode as Frame['opcode'],
      payload: Buffer.from(payload),
    });
    client.write(text('ab', Opcode.Text, false));
    client.write(text('cd', Opcode.Continuation, true));
    expect(await readChunks(server, 1)).toEqual(['abcd']);
  });
});

describe('no crash without error handlers', () => {
  it('survives a peer that drops TCP under ws.pipe(ws), whose own listener would rethrow', async () => {
    const { server, transports } = await pair('tcp');
    server.pipe(server);
    const closed = closeOf(server);
    transports[1].destroy();
    expect(await closed).toEqual([1006, '']);
    expect(server.closeError).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('batched writes', () => {
  it('writes 50,000 queued small messages in order without deep recursion', async () => {
    const { server, client } = await pair('memory');
    client.cork();
    for (let i = 0; i < 50_000; i++) client.write(`m${i}`);
    client.uncork();
    const got = (await readChunks(server, 50_000)) as string[];
    expect(got[0]).toBe('m0');
    expect(got[49_999]).toBe('m49999');
  });
});

describe('deferCloseReply', () => {
  it('lets an echo answer the messages that came just before the Close', async () => {
    const { server, client } = await pair('tcp', { deferCloseReply: true });
    server.pipe(server); // pipe ends the writable side when the readable side ends
    const got: unknown[] = [];
    client.on('data', (m) => got.push(m));
    for (let i = 0; i < 100; i++) client.write(`m${i}`);
    const closed = closeOf(client);
    client.end();
    await closed;
    expect(got).toHaveLength(100);
    expect(client.wasClean).toBe(true);
  });

  it('without it, the Close is answered at once and later replies are refused', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, { role: 'server' });
    open.push(server);
    const peer = new RawPeer(b, 'client');
    server.resume();
    peer.sendFrame(Opcode.Close, closePayload(1000));
    expect(await peer.closeCode()).toBe(1000);
    const err = await new Promise((resolve) => server.write('late', resolve));
    // Refused: either as a write after the closing handshake or after the stream ended.
    expect(err).toBeInstanceOf(Error);
    expect(peer.frames.filter((f) => f.opcode === Opcode.Text)).toHaveLength(0);
  });

  it('answers after closeTimeout when the application never ends', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, {
      role: 'server',
      deferCloseReply: true,
      closeTimeout: 100,
    });
    open.push(server);
    const peer = new RawPeer(b, 'client');
    server.resume();
    const started = Date.now();
    peer.sendFrame(Opcode.Close, closePayload(4000));
    expect(await peer.closeCode()).toBe(4000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });
});
