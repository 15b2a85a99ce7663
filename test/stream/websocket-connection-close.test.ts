import { finished } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError, ErrorCode } from '../../lib/protocol/errors.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { activeTimers, closeOf, connectionPair } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { closePayload, RawPeer } from '../helpers/raw-peer.js';
import { tcpPair } from '../helpers/tcp-pair.js';

const open: WebSocketConnection<Incoming>[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

/** Settles finished() into 'resolved' or the rejection's error, never hanging. */
async function settle(ws: WebSocketConnection<Incoming>): Promise<'resolved' | Error> {
  try {
    await finished(ws);
    return 'resolved';
  } catch (err) {
    return err as Error;
  }
}

describe('closing in every order', () => {
  it('local first: the server closes TCP first, and no timer is left behind', async () => {
    const timersBefore = activeTimers();
    const [a, b] = await tcpPair();
    const server = new WebSocketConnection(a, { role: 'server' });
    const client = new WebSocketConnection(b, { role: 'client' });
    server.resume();
    client.resume();
    const fins: string[] = [];
    b.once('end', () => fins.push('server sent FIN'));
    a.once('end', () => fins.push('client sent FIN'));
    const settled = Promise.all([settle(server), settle(client)]);
    server.end();
    expect(await settled).toEqual(['resolved', 'resolved']);
    expect(fins[0]).toBe('server sent FIN');
    expect([server.closeCode, client.closeCode]).toEqual([1000, 1000]);
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it('remote first: a Close from the peer is echoed with its code', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, { role: 'server' });
    const peer = new RawPeer(b, 'client');
    server.resume();
    const settled = settle(server);
    peer.sendFrame(Opcode.Close, closePayload(4321, 'done'));
    expect(await peer.closeCode()).toBe(4321);
    await peer.closed;
    expect(await settled).toBe('resolved');
    expect([server.closeCode, server.closeReason, server.wasClean]).toEqual([4321, 'done', true]);
  });

  it('a Close with no code is answered with no code and reported as 1005', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, { role: 'server' });
    const peer = new RawPeer(b, 'client');
    server.resume();
    const closed = closeOf(server);
    peer.sendFrame(Opcode.Close);
    const reply = await peer.waitFor(Opcode.Close);
    expect(reply.payload.length).toBe(0);
    expect(await closed).toEqual([1005, '']);
  });

  it('simultaneous: both send Close, both finish cleanly', async () => {
    const { server, client } = await connectionPair('tcp');
    server.resume();
    client.resume();
    const settled = Promise.all([settle(server), settle(client)]);
    server.close(1000);
    client.close(1000);
    expect(await settled).toEqual(['resolved', 'resolved']);
    expect(server.wasClean && client.wasClean).toBe(true);
  });

  it('the peer vanishes: 1006 is reported and finished() rejects', async () => {
    const { server, client, transports } = await connectionPair('tcp');
    open.push(client);
    server.resume();
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    const closed = closeOf(server);
    transports[1].destroy();
    const result = await settle(server);
    expect(result).toBeInstanceOf(ConnectionClosedError);
    expect(await closed).toEqual([1006, '']);
    expect(server.wasClean).toBe(false);
    expect(errors).toHaveLength(1);
  });

  it('the peer never answers the Close: the client gives up after closeTimeout', async () => {
    const timersBefore = activeTimers();
    const [a, b] = duplexPair();
    const client = new WebSocketConnection(b, { role: 'client', closeTimeout: 100 });
    const silent = new RawPeer(a, 'server'); // reads, never answers
    client.resume();
    client.on('error', () => {});
    const started = Date.now();
    client.end();
    await closeOf(client);
    const elapsed = Date.now() - started;
    expect(await silent.closeCode()).toBe(1000);
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(2000);
    expect(client.closeCode).toBe(1006);
    expect(client.wasClean).toBe(false);
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it('terminate() drops the transport at once with 1006 and no Close frame', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, { role: 'server' });
    const peer = new RawPeer(b, 'client');
    const closed = closeOf(server);
    server.terminate();
    expect(await closed).toEqual([1006, '']);
    await peer.closed;
    expect(peer.frames.filter((f) => f.opcode === Opcode.Close)).toHaveLength(0);
  });

  it('end() sends Close only after everything written before it', async () => {
    const [a, b] = duplexPair();
    const client = new WebSocketConnection(b, { role: 'client' });
    const peer = new RawPeer(a, 'server');
    for (let i = 0; i < 100; i++) client.write(Buffer.alloc(10_000, i));
    client.end();
    await peer.waitFor(Opcode.Close);
    const opcodes = peer.frames.map((f) => f.opcode);
    expect(opcodes.indexOf(Opcode.Close)).toBe(100);
    expect(opcodes.slice(0, 100).every((o) => o === Opcode.Binary)).toBe(true);
    client.terminate();
  });

  it('a keepalive drops a silent peer with 1006, after one ping', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, {
      role: 'server',
      keepalive: true,
      keepaliveInterval: 50,
      keepaliveGracePeriod: 50,
    });
    const peer = new RawPeer(b, 'client');
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    server.resume();
    const started = Date.now();
    const [code] = await closeOf(server);
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(peer.frames.filter((f) => f.opcode === Opcode.Ping)).toHaveLength(1);
    expect((errors[0] as ConnectionClosedError).code).toBe(ErrorCode.KeepaliveTimeout);
  });

  it('a keepalive keeps a peer that answers, and any incoming data counts as life', async () => {
    const { server, client } = await connectionPair('memory', {
      keepalive: true,
      keepaliveInterval: 30,
      keepaliveGracePeriod: 30,
    });
    open.push(server, client);
    server.resume();
    client.resume();
    let pings = 0;
    client.on('ping', () => pings++);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.isOpen).toBe(true);
    expect(pings).toBeGreaterThanOrEqual(2);
  });

  it('keepalive without dropConnectionOnKeepaliveTimeout only pings', async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection(a, {
      role: 'server',
      keepalive: true,
      keepaliveInterval: 30,
      dropConnectionOnKeepaliveTimeout: false,
    });
    open.push(server);
    const peer = new RawPeer(b, 'client');
    await new Promise((r) => setTimeout(r, 200));
    expect(server.isOpen).toBe(true);
    expect(peer.frames.filter((f) => f.opcode === Opcode.Ping).length).toBeGreaterThanOrEqual(2);
  });
});
