import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Readable, Transform, Writable } from 'readable-stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../lib/protocol/errors.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import type { IncomingMessageStream } from '../../lib/stream/incoming-message-stream.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf, connectionPair, readChunks } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { RawPeer } from '../helpers/raw-peer.js';

const open: WebSocketConnection<Incoming>[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pair(server = {}, client = {}) {
  const p = await connectionPair('tcp', server, client);
  open.push(p.server, p.client);
  return p;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('messages as streams', () => {
  it('sends a file as one binary message and receives it as a stream, byte-identical', async () => {
    const file = join(dir, 'in.bin');
    const data = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(file, data);
    const { server, client } = await pair({ messageStreams: true });
    const out = join(dir, 'out.bin');
    const received = new Promise<void>((resolve, reject) => {
      server.once('data', (message: IncomingMessageStream) => {
        expect(message.binary).toBe(true);
        pipeline(message, createWriteStream(out)).then(resolve, reject);
      });
    });
    await pipeline(createReadStream(file), client.createMessageStream({ binary: true }));
    await received;
    expect(sha256(await readFile(out))).toBe(sha256(data));
  });

  it('receives a file sent as one whole write, identical, in aggregation mode', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const { server, client } = await pair();
    client.write(data);
    const [message] = (await readChunks(server, 1)) as Buffer[];
    expect(sha256(message!)).toBe(sha256(data));
  });

  it('makes writes after createMessageStream wait their turn; pings still get through', async () => {
    const { server, client } = await pair();
    client.write('before');
    const stream = client.createMessageStream({ binary: false });
    client.write('after');
    const pongs: string[] = [];
    client.on('pong', (d: Buffer) => pongs.push(d.toString()));
    const got = readChunks(server, 3);
    stream.write('hel');
    await new Promise((r) => setTimeout(r, 30));
    client.ping('mid-message');
    await new Promise((r) => setTimeout(r, 30));
    stream.end('lo');
    expect(await got).toEqual(['before', 'hello', 'after']);
    expect(pongs).toEqual(['mid-message']);
  });

  it('validates UTF-8 of a text message stream as it arrives (1007 at the first bad fragment)', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection<IncomingMessageStream>(a, {
      role: 'server',
      messageStreams: true,
    });
    open.push(server);
    const peer = new RawPeer(b, 'client');
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    const streamErrors: unknown[] = [];
    server.on('data', (m: IncomingMessageStream) => {
      m.on('error', (e) => streamErrors.push(e));
      m.resume();
    });
    const closed = closeOf(server);
    peer.sendFrame(Opcode.Text, 'fine', { fin: false });
    peer.sendFrame(Opcode.Continuation, Buffer.from([0xc0]), { fin: false });
    expect(await peer.closeCode()).toBe(1007);
    await closed;
    expect(errors).toHaveLength(1);
    expect(streamErrors).toHaveLength(1);
    expect(streamErrors[0]).toBeInstanceOf(ProtocolError);
  });

  it('a reader that never reads: write() turns false and memory stays bounded', async () => {
    const { server, client } = await pair();
    server.pause();
    const message = Buffer.alloc(64 * 1024, 1);
    const before = process.memoryUsage();
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      accepted += message.length;
      if (!client.write(message)) {
        const drained = await Promise.race([
          new Promise((r) => client.once('drain', () => r(true))),
          new Promise((r) => setTimeout(() => r(false), 300)),
        ]);
        if (!drained) break;
      }
    }
    const after = process.memoryUsage();
    const grown = after.rss + after.arrayBuffers - (before.rss + before.arrayBuffers);
    // What TCP and both ends buffer, not 10,000 x 64 KiB = 625 MiB.
    expect(accepted).toBeLessThan(64 * 1024 * 1024);
    expect(grown).toBeLessThan(128 * 1024 * 1024);
    expect(server.readableLength).toBeLessThanOrEqual(16);
    expect(client.bufferedAmount).toBeGreaterThan(0);
  });

  it('streams a 1 GiB message with bounded peak RSS (child process)', async () => {
    const run = promisify(execFile);
    const script = join(import.meta.dirname, '../helpers/scripts/huge-message.ts');
    const baseline = JSON.parse(
      (
        await run(process.execPath, ['--import', 'tsx', script], {
          env: { ...process.env, SIZE: '65536' },
        })
      ).stdout,
    );
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script], {
      timeout: 120_000,
    });
    const result = JSON.parse(stdout);
    console.log(
      `1 GiB message: ${result.seconds}s, peak RSS ${result.rssMiB} MiB (baseline ${baseline.rssMiB} MiB)`,
    );
    expect(result.received).toBe(1024 ** 3);
    expect(result.got).toBe(result.sent);
    // Both ends live in that one process; the growth over a 64 KiB run is what streaming costs.
    expect(result.rssMiB - baseline.rssMiB).toBeLessThan(200);
  }, 180_000);
});

describe('pipeline compositions', () => {
  it('pipeline(source, ws) sends everything and resolves after the closing handshake', async () => {
    const { server, client } = await pair();
    const got: unknown[] = [];
    server.on('data', (m) => got.push(m));
    server.on('end', () => server.end());
    await pipeline(Readable.from(['a', Buffer.from('b'), 'c'], { objectMode: true }), client);
    await closeOf(server);
    expect(got).toEqual(['a', Buffer.from('b'), 'c']);
    expect(client.wasClean).toBe(true);
  });

  it('pipeline(ws, transform, sink) resolves when the peer closes', async () => {
    const { server, client } = await pair();
    const seen: string[] = [];
    const upper = new Transform({
      objectMode: true,
      transform(m: string, _e, cb) {
        cb(null, m.toUpperCase());
      },
    });
    const sink = new Writable({
      objectMode: true,
      write(m: string, _e, cb) {
        seen.push(m);
        cb();
      },
    });
    const done = pipeline(server, upper, sink);
    client.write('x');
    client.write('y');
    client.resume();
    client.end();
    await done;
    expect(seen).toEqual(['X', 'Y']);
  });

  it('an error in a transform tears down the connection with 1011 and rejects the pipeline', async () => {
    const { server, client } = await pair();
    const failing = new Transform({
      objectMode: true,
      transform(_m, _e, cb) {
        cb(new Error('boom'));
      },
    });
    const done = pipeline(
      server,
      failing,
      new Writable({ objectMode: true, write: (_m, _e, cb) => cb() }),
    );
    const clientClosed = closeOf(client);
    client.on('error', () => {});
    client.resume();
    client.write('trigger');
    await expect(done).rejects.toThrow('boom');
    expect((await clientClosed)[0]).toBe(1011);
  });

  it("a peer's protocol error rejects a pipeline reading the connection, with the typed error", async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, { role: 'server' });
    open.push(server);
    const peer = new RawPeer(b, 'client');
    const done = pipeline(server, new Writable({ objectMode: true, write: (_m, _e, cb) => cb() }));
    peer.sendFrame(0x0b, 'x');
    await expect(done).rejects.toBeInstanceOf(ProtocolError);
    expect(await peer.closeCode()).toBe(1002);
  });
});
