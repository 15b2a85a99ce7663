import { afterEach, describe, expect, it } from 'vitest';
import { installConnectionApi } from '../../lib/compat/connection-api.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf, connectionPair, type PairKind } from '../helpers/connections.js';

// What importing the package does: the seed's face goes on the connection's prototype.
installConnectionApi();

const open: WebSocketConnection<Incoming>[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

async function pair(kind: PairKind, server = {}, client = {}) {
  const p = await connectionPair(kind, server, client);
  open.push(p.server, p.client);
  return p;
}

describe("WebSocket-Node's connection API on the same class", () => {
  it("emits 'message' objects and keeps flowing with only event listeners", async () => {
    const { server, client } = await pair('memory');
    server.on('message', (m: { type: string; utf8Data?: string; binaryData?: Buffer }) => {
      if (m.type === 'utf8') server.sendUTF(m.utf8Data);
      else server.sendBytes(m.binaryData!);
    });
    const got: Array<{ type: string }> = [];
    client.on('message', (m: { type: string }) => got.push(m));
    // More messages than any highWaterMark: events alone must keep the stream flowing.
    for (let i = 0; i < 100; i++) client.send(i % 2 ? `t${i}` : Buffer.from([i]));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toHaveLength(100);
    expect(got[1]).toEqual({ type: 'utf8', utf8Data: 't1' });
    expect(got[0]).toEqual({ type: 'binary', binaryData: Buffer.from([0]) });
    expect(client.connected).toBe(true);
  });

  it("reports 'close' with (reasonCode, description) and drop() closes at once", async () => {
    const { server, client } = await pair('tcp');
    server.on('error', () => {});
    client.on('error', () => {});
    const closed = closeOf(client);
    server.drop(1008, 'policy');
    expect(await closed).toEqual([1008, 'policy']);
    expect(server.connected).toBe(false);
    expect(typeof client.remoteAddress).toBe('string');
  });

  it("emits 'frame' events in raw mode", async () => {
    const { server, client } = await pair('memory', { assembleFragments: false });
    const frames: Frame[] = [];
    server.on('frame', (f: Frame) => frames.push(f));
    client.write('x'.repeat(20_000));
    await new Promise((r) => setTimeout(r, 50));
    expect(frames.map((f) => f.opcode)).toEqual([Opcode.Text, Opcode.Continuation]);
  });
});

describe("WebSocket-Node's raw mode", () => {
  it("sends whole messages with sendUTF/sendBytes and emits 'frame' with the seed's fields", async () => {
    const { server, client } = await pair(
      'memory',
      { assembleFragments: false },
      { assembleFragments: false },
    );
    const frames: Array<{ length: number; binaryPayload: Buffer | undefined; opcode: number }> = [];
    server.on('frame', (f: { length: number; binaryPayload: Buffer | undefined; opcode: number }) =>
      frames.push(f),
    );
    client.sendUTF('hello');
    client.sendBytes(Buffer.from([1, 2]));
    await new Promise((r) => setTimeout(r, 50));
    expect(frames.map((f) => [f.opcode, f.length])).toEqual([
      [Opcode.Text, 5],
      [Opcode.Binary, 2],
    ]);
    expect(frames[0]!.binaryPayload!.toString()).toBe('hello');
    expect(server.webSocketVersion).toBe(13);
  });
});
