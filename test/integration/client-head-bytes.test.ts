import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { WebSocketError } from '../../lib/protocol/errors.js';
import { casesFor } from '../conformance/cases/index.js';
import type { ConformanceCase } from '../conformance/cases/types.js';
import { encodeReference, type FrameSpec } from '../helpers/frames.js';
import { expectedAccept, readHttpHead } from '../helpers/handshaking-peer.js';
import { type WireFrame, WireReader } from '../helpers/wire-reader.js';

/**
 * A server whose 101 arrives in the same read as frames that break a rule (Autobahn's
 * fuzzing server does exactly that): the bytes are read while the connection is being made,
 * before anyone can listen to it, so what they cause must reach the caller through
 * connect() itself. Every conformance case in which our client fails the connection, sent
 * this way, must reject connect() with the error whose close code the case expects, and the
 * Close that goes out must carry that code.
 */

/** The cases of the suite that end with our client failing the connection, from frames alone. */
const failing = casesFor('client').filter(
  (c) =>
    c.expect.close.by === 'implementation' &&
    c.deflate === undefined &&
    c.clientOptions === undefined &&
    c.steps.length > 0 &&
    c.steps.every((step) => 'send' in step && step.wrongMask !== true),
);

let server: net.Server;
let port: number;
/** The frames of the case the next connection is for, and what the client sent back. */
let pending: { frames: FrameSpec[]; got: (frames: WireFrame[]) => void } | undefined;

beforeAll(async () => {
  server = net.createServer((socket) => {
    const job = pending;
    socket.on('error', () => {});
    readHttpHead(socket).then(
      (head) => {
        const accept = expectedAccept(head.headers['sec-websocket-key'] ?? '');
        const response =
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`;
        const frames = (job?.frames ?? []).map((spec) => encodeReference(spec));
        // One write: the 101 and the frames reach the client in the same read.
        socket.write(Buffer.concat([Buffer.from(response, 'latin1'), ...frames]));
        const reader = new WireReader();
        const seen: WireFrame[] = [];
        socket.on('data', (chunk: Buffer) => seen.push(...reader.push(chunk)));
        socket.on('close', () => job?.got(seen));
        socket.resume(); // readHttpHead leaves it paused
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function expectedCode(c: ConformanceCase): number {
  const close = c.expect.close;
  if (close.by !== 'implementation') throw new Error(`${c.id} is not a failing case`);
  return close.code;
}

describe('a client whose first frames arrive with the 101', () => {
  it('covers every frame error of the conformance suite', () => {
    // The suite has dozens of such cases (framing, fragmentation, UTF-8, close codes):
    // a filter that matched almost none would test nothing.
    expect(failing.length).toBeGreaterThan(40);
    expect(new Set(failing.map(expectedCode))).toEqual(new Set([1002, 1007, 1009]));
  });

  it.each(failing.map((c) => [`${c.id} ${c.title}`, c] as const))(
    '%s: connect() rejects with the error, and its Close goes out',
    async (_name, c) => {
      const frames = c.steps.flatMap((step) => ('send' in step ? step.send : []));
      const clientFrames = new Promise<WireFrame[]>((resolve) => {
        pending = { frames, got: resolve };
      });
      const outcome = await connect(`ws://127.0.0.1:${port}/`, { closeTimeout: 500 }).then(
        (ws) => {
          ws.destroy();
          return 'resolved';
        },
        (err: unknown) => err,
      );
      expect(outcome).toBeInstanceOf(WebSocketError);
      expect((outcome as WebSocketError).closeCode).toBe(expectedCode(c));
      const sent = await clientFrames;
      const close = sent.find((frame) => frame.opcode === 0x8);
      expect(close?.payload.readUInt16BE(0)).toBe(expectedCode(c));
    },
  );

  it('resolves with a live connection when the frames that came with the 101 are valid', async () => {
    pending = {
      frames: [{ opcode: 0x1, payload: 'first' }],
      got: () => {},
    };
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    const first = await new Promise((resolve) => ws.once('data', resolve));
    expect(first).toBe('first');
    ws.terminate();
  });
});
