/**
 * PreparedMessage: a broadcast message framed once. Its bytes, per fragmentation threshold,
 * must be exactly what the framer and the frame encoder make of the message (and what the
 * reference encoder makes, sharing no code), unmasked; each threshold is framed once.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../lib/protocol/frame-encoder.js';
import { frameMessage } from '../../lib/protocol/message-framer.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { tagged } from '../../lib/stream/outbound-entry.js';
import { PreparedMessage } from '../../lib/stream/prepared-message.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { counting, encodeReference } from '../helpers/frames.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { settle } from '../helpers/stream-events.js';
import { WireReader } from '../helpers/wire-reader.js';

const SIZES = [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 100_000];
const THRESHOLDS = [1, 7, 125, 126, 16 * 1024, 65_536, Number.POSITIVE_INFINITY];

describe('PreparedMessage.bytes', () => {
  for (const binary of [true, false]) {
    for (const size of SIZES) {
      it(`${binary ? 'binary' : 'text'} of ${size} bytes: the framer + encoder bytes at every threshold`, () => {
        const payload = Buffer.from(counting(size).map((b) => (binary ? b : 0x20 + (b % 90))));
        const opcode = binary ? Opcode.Binary : Opcode.Text;
        const prepared = new PreparedMessage(payload, binary);
        for (const threshold of THRESHOLDS) {
          if (size / threshold > 20_000) continue; // threshold 1 on large messages: too many frames to matter
          const frames = frameMessage(opcode, payload, threshold);
          const expected = Buffer.concat(frames.flatMap((f) => encodeFrame(f)));
          const bytes = prepared.bytes(threshold);
          expect(bytes.equals(expected), `threshold ${threshold}`).toBe(true);
          expect(bytes.equals(Buffer.concat(frames.map((f) => encodeReference(f))))).toBe(true);
          const read = new WireReader().push(bytes);
          expect(read.every((f) => !f.masked)).toBe(true);
          expect(Buffer.concat(read.map((f) => f.payload)).equals(payload)).toBe(true);
        }
      });
    }
  }

  it('frames each threshold once: the same Buffer for the same threshold, whatever the order', () => {
    const prepared = new PreparedMessage(counting(50_000), true);
    const a = prepared.bytes(16 * 1024);
    const b = prepared.bytes(1000);
    const c = prepared.bytes(Number.POSITIVE_INFINITY);
    expect(prepared.bytes(16 * 1024)).toBe(a);
    expect(prepared.bytes(1000)).toBe(b);
    expect(prepared.bytes(Number.POSITIVE_INFINITY)).toBe(c);
    expect(a.equals(b)).toBe(false);
  });

  it('keeps the payload and type it was made with', () => {
    const payload = Buffer.from('hi');
    const prepared = new PreparedMessage(payload, false);
    expect(prepared.payload).toBe(payload);
    expect(prepared.binary).toBe(false);
  });
});

describe('a server connection sending a prepared message', () => {
  for (const threshold of [10, 16 * 1024]) {
    it(`puts the prepared bytes on the wire, as a plain write would (threshold ${threshold})`, async () => {
      const [a, b] = duplexPair();
      const server = new WebSocketConnection(a, {
        role: 'server',
        fragmentationThreshold: threshold,
      });
      const peer = new RawPeer(b, 'client');
      const payload = counting(40_000);
      const prepared = new PreparedMessage(payload, true);
      server.write(tagged(payload, { kind: 'prepared', message: prepared }));
      server.write(payload);
      server.write(
        tagged(Buffer.from('txt'), {
          kind: 'prepared',
          message: new PreparedMessage(Buffer.from('txt'), false),
        }),
      );
      await settle(5);
      const perMessage = Math.ceil(payload.length / threshold);
      expect(peer.frames).toHaveLength(2 * perMessage + 1);
      const first = peer.frames.slice(0, perMessage);
      const second = peer.frames.slice(perMessage, 2 * perMessage);
      expect(first).toEqual(second);
      expect(Buffer.concat(first.map((f) => f.payload)).equals(payload)).toBe(true);
      expect(peer.frames.at(-1)).toMatchObject({ opcode: Opcode.Text, fin: true });
      expect(peer.frames.at(-1)!.payload.toString()).toBe('txt');
      server.destroy();
    });
  }
});
