import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'readable-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Opcode } from '../../lib/protocol/opcodes.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import type { IncomingMessageStream } from '../../lib/stream/incoming-message-stream.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf, readChunks } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { ToyExtension } from '../helpers/toy-extension.js';

const open: WebSocketConnection<Incoming>[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

function extended(serverOptions = {}, clientOptions = {}) {
  const [a, b] = duplexPair();
  const serverExt = new ToyExtension();
  const clientExt = new ToyExtension();
  const server = new WebSocketConnection(a, {
    role: 'server',
    extensions: [serverExt],
    ...serverOptions,
  });
  const client = new WebSocketConnection(b, {
    role: 'client',
    extensions: [clientExt],
    ...clientOptions,
  });
  open.push(server, client);
  return { server, client, serverExt, clientExt };
}

describe('extensions on the connection', () => {
  it('transforms messages both ways and shows the agreed extension', async () => {
    const { server, client } = extended();
    server.pipe(server);
    const messages = ['héllo', Buffer.from([1, 2, 3]), 'x'.repeat(50_000), Buffer.alloc(0)];
    for (const m of messages) client.write(m);
    expect(await readChunks(client, messages.length)).toEqual(messages);
    expect(client.extensions).toEqual([
      { name: 'x-toy', params: [{ name: 'double', value: null }] },
    ]);
  });

  it('sets the RSV bit on the first frame of a transformed message only', async () => {
    const [a, b] = duplexPair();
    const client = new WebSocketConnection(b, {
      role: 'client',
      extensions: [new ToyExtension()],
      fragmentationThreshold: 10,
    });
    open.push(client);
    const peer = new RawPeer(a, 'server');
    client.write(Buffer.alloc(25, 0x0f));
    await peer.waitFor(Opcode.Continuation);
    await new Promise((r) => setTimeout(r, 20));
    expect(peer.frames.map((f) => [f.opcode, f.rsv2, f.fin, f.payload[0]])).toEqual([
      [Opcode.Binary, true, false, 0xf0],
      [Opcode.Continuation, false, false, 0xf0],
      [Opcode.Continuation, false, true, 0xf0],
    ]);
  });

  it('sends a message untransformed with send(data, { compress: false })', async () => {
    const [a, b] = duplexPair();
    const ext = new ToyExtension();
    const client = new WebSocketConnection(b, { role: 'client', extensions: [ext] });
    open.push(client);
    const peer = new RawPeer(a, 'server');
    client.send('plain', { compress: false });
    const frame = await peer.waitFor(Opcode.Text);
    expect([frame.rsv2, frame.payload.toString()]).toEqual([false, 'plain']);
    expect(ext.outgoingCalls).toEqual([{ binary: false, length: 5, compress: false }]);
  });

  it('keeps order when transformed writes are batched', async () => {
    const { server, client } = extended();
    client.cork();
    for (let i = 0; i < 200; i++) client.write(`m${i}`);
    client.uncork();
    expect(await readChunks(server, 200)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });

  it('streams a large message through the codec in both directions', async () => {
    const { server, client } = extended({ messageStreams: true });
    const data = randomBytes(3 * 1024 * 1024);
    const received = new Promise<string>((resolve, reject) => {
      server.once('data', (chunk) => {
        const m = chunk as unknown as IncomingMessageStream;
        const hash = createHash('sha256');
        m.on('data', (c: Buffer) => hash.update(c));
        m.once('end', () => resolve(hash.digest('hex')));
        m.once('error', reject);
      });
    });
    const chunks = Array.from({ length: 48 }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    await pipeline(Readable.from(chunks), client.createMessageStream({ binary: true }));
    expect(await received).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('refuses a transformed message over the limit with 1009', async () => {
    const { server, client } = extended({ maxReceivedMessageSize: 1000 });
    server.on('error', () => {});
    server.resume();
    const closed = closeOf(client);
    client.write(Buffer.alloc(5000));
    expect((await closed)[0]).toBe(1009);
  });

  it('fails RSV bits that no negotiated extension claims', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, { role: 'server', extensions: [new ToyExtension()] });
    open.push(server);
    server.on('error', () => {});
    const peer = new RawPeer(b, 'client');
    peer.sendFrame(Opcode.Text, 'x', { rsv1: true });
    expect(await peer.closeCode()).toBe(1002);
  });

  it.each(['end', 'destroy', 'terminate', 'peer vanishes'])(
    'disposes the extensions exactly once when the connection ends by %s',
    async (how) => {
      const { server, client, serverExt, clientExt } = extended();
      server.resume();
      client.resume();
      server.on('error', () => {});
      client.on('error', () => {});
      const closed = Promise.all([closeOf(server), closeOf(client)]);
      if (how === 'end') client.end();
      else if (how === 'destroy') client.destroy(new Error('x'));
      else if (how === 'terminate') client.terminate();
      else client.transport.destroy();
      await closed;
      await new Promise((r) => setTimeout(r, 20));
      expect([serverExt.disposed, clientExt.disposed]).toEqual([1, 1]);
    },
  );
});
