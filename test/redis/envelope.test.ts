import { describe, expect, it } from 'vitest';
import { decodeEnvelope, ENVELOPE_HEADER_SIZE, encodeEnvelope } from '../../lib/redis/envelope.js';

const origin = Buffer.from('0102030405060708', 'hex');

describe('the envelope of a message on a Redis channel', () => {
  it.each([
    ['empty text', ''],
    ['ASCII text', 'hello'],
    ['multi-byte text', 'héllo wörld € 🎉'],
    ['empty binary', Buffer.alloc(0)],
    ['binary with every byte', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
    ['a Uint8Array', new Uint8Array([9, 8, 7])],
  ])('round-trips %s, keeping text as text and binary as binary', (_name, data) => {
    const raw = encodeEnvelope(origin, data, 4096);
    const decoded = decodeEnvelope(raw);
    if (typeof decoded === 'string') throw new Error(decoded);
    expect(decoded.origin).toEqual(origin);
    expect(decoded.maxBufferedAmount).toBe(4096);
    if (typeof data === 'string') expect(decoded.data).toBe(data);
    else expect(decoded.data).toEqual(Buffer.from(data));
  });

  it('carries Infinity (no broadcast limit) by default', () => {
    const decoded = decodeEnvelope(encodeEnvelope(origin, 'x'));
    expect(typeof decoded !== 'string' && decoded.maxBufferedAmount).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses every truncation of the header with a reason, never throws', () => {
    const raw = encodeEnvelope(origin, 'abc');
    for (let n = 0; n < ENVELOPE_HEADER_SIZE; n++) {
      expect(decodeEnvelope(raw.subarray(0, n))).toMatch(/shorter than the 24-byte header/);
    }
  });

  it.each([
    ['a foreign first byte', 0, 0x00, /not a backplane message/],
    ['an unknown version', 1, 2, /unknown version 2/],
    ['unknown flags', 2, 0x02, /unknown flags/],
    ['a reserved byte set', 3, 1, /unknown flags/],
  ])('refuses %s', (_name, offset, value, reason) => {
    const raw = encodeEnvelope(origin, 'abc');
    raw[offset] = value;
    expect(decodeEnvelope(raw)).toMatch(reason);
  });

  it('refuses a negative or NaN maxBufferedAmount, and text that is not UTF-8', () => {
    const negative = encodeEnvelope(origin, 'abc');
    negative.writeDoubleBE(-1, 16);
    expect(decodeEnvelope(negative)).toMatch(/invalid maxBufferedAmount/);
    const nan = encodeEnvelope(origin, 'abc');
    nan.writeDoubleBE(Number.NaN, 16);
    expect(decodeEnvelope(nan)).toMatch(/invalid maxBufferedAmount/);
    const text = encodeEnvelope(origin, Buffer.from([0xc3, 0x28]));
    text[2] = 0;
    expect(decodeEnvelope(text)).toMatch(/not valid UTF-8/);
  });

  it('copies a small binary payload out of a large buffer rather than pinning it', () => {
    const big = Buffer.alloc(64 * 1024);
    const raw = encodeEnvelope(origin, Buffer.from([1, 2, 3]));
    raw.copy(big, 100);
    const decoded = decodeEnvelope(big.subarray(100, 100 + raw.length));
    if (typeof decoded === 'string') throw new Error(decoded);
    expect(decoded.data).toEqual(Buffer.from([1, 2, 3]));
    expect((decoded.data as Buffer).buffer.byteLength).toBeLessThan(64 * 1024);
  });
});
