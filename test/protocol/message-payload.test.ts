/**
 * What an application may send: a string is text, bytes of any kind are binary (viewed,
 * never copied), WebSocket-Node's message objects are what they carry, and anything else
 * is refused with a TypeError that says what is accepted.
 */
import { describe, expect, it } from 'vitest';
import {
  asBytes,
  invalidMessage,
  isSeedMessage,
  messagePayload,
  toBuffer,
} from '../../lib/protocol/message-payload.js';

/** Asserts that `view` shares memory with `bytes` by writing through one and reading the other. */
function expectSameMemory(view: Buffer, bytes: Uint8Array): void {
  const before = bytes[0];
  view[0] = 0xa5;
  expect(bytes[0]).toBe(0xa5);
  view[0] = before!;
}

describe('toBuffer', () => {
  it('returns a Buffer as it is', () => {
    const b = Buffer.from('abc');
    expect(toBuffer(b)).toBe(b);
  });

  it('views a Uint8Array at its offset, without copying', () => {
    const whole = new Uint8Array([1, 2, 3, 4, 5]);
    const part = whole.subarray(1, 4);
    const view = toBuffer(part);
    expect([...view]).toEqual([2, 3, 4]);
    expectSameMemory(view, part);
  });

  it('views an ArrayBuffer, a DataView and a wider typed array as their bytes', () => {
    const ab = new Uint8Array([9, 8, 7]).buffer;
    expect([...toBuffer(ab)]).toEqual([9, 8, 7]);
    const dv = new DataView(new Uint8Array([0, 1, 2, 3]).buffer, 1, 2);
    expect([...toBuffer(dv)]).toEqual([1, 2]);
    const words = new Uint16Array([0x0102, 0x0304]);
    expect(toBuffer(words).length).toBe(4);
    expectSameMemory(toBuffer(words), new Uint8Array(words.buffer));
  });
});

describe('messagePayload', () => {
  it('a string is text, as UTF-8', () => {
    expect(messagePayload('κόσμε')).toEqual({ payload: Buffer.from('κόσμε'), binary: false });
    expect(messagePayload('')).toEqual({ payload: Buffer.alloc(0), binary: false });
  });

  it('a Buffer is binary, the same Buffer', () => {
    const b = Buffer.from([1, 2]);
    const { payload, binary } = messagePayload(b);
    expect(binary).toBe(true);
    expect(payload).toBe(b);
  });

  it('any other bytes are binary, viewed', () => {
    const u8 = new Uint8Array([1, 2, 3]).subarray(1);
    const fromU8 = messagePayload(u8);
    expect(fromU8.binary).toBe(true);
    expectSameMemory(fromU8.payload, u8);
    expect(messagePayload(new Uint8Array([4]).buffer)).toEqual({
      payload: Buffer.from([4]),
      binary: true,
    });
    expect(messagePayload(new DataView(new ArrayBuffer(2)))).toEqual({
      payload: Buffer.alloc(2),
      binary: true,
    });
  });

  it("takes WebSocket-Node's message objects as what they carry", () => {
    expect(messagePayload({ type: 'utf8', utf8Data: 'hé' })).toEqual({
      payload: Buffer.from('hé'),
      binary: false,
    });
    const data = Buffer.from([0xff]);
    const { payload, binary } = messagePayload({ type: 'binary', binaryData: data });
    expect(binary).toBe(true);
    expect(payload).toBe(data);
  });

  const refused: Array<[string, unknown, string]> = [
    ['a plain object', { hello: 'world' }, 'got an object (Object)'],
    ['null', null, 'got null'],
    ['undefined', undefined, 'got undefined'],
    ['a number', 42, 'got number'],
    ['a boolean', true, 'got boolean'],
    ['an array', [1, 2], 'got an object (Array)'],
    ['a Map', new Map(), 'got an object (Map)'],
    ['a utf8 seed message without a string', { type: 'utf8', utf8Data: 5 }, 'an object'],
    ['a binary seed message without a Buffer', { type: 'binary', binaryData: 'x' }, 'an object'],
  ];
  for (const [name, value, got] of refused) {
    it(`refuses ${name}: TypeError ERR_INVALID_ARG_TYPE`, () => {
      let err: unknown;
      try {
        messagePayload(value);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE');
      expect((err as Error).message).toContain('A message is a string (text) or bytes');
      expect((err as Error).message).toContain(got);
    });
  }
});

describe('asBytes, isSeedMessage, invalidMessage', () => {
  it('asBytes views bytes and gives undefined for anything else', () => {
    const b = Buffer.from('x');
    expect(asBytes(b)).toBe(b);
    expect(asBytes(new Uint8Array(2))?.length).toBe(2);
    expect(asBytes(new ArrayBuffer(3))?.length).toBe(3);
    expect(asBytes('x')).toBeUndefined();
    expect(asBytes({ length: 1 })).toBeUndefined();
    expect(asBytes(null)).toBeUndefined();
  });

  it('isSeedMessage recognises exactly the two shapes', () => {
    expect(isSeedMessage({ type: 'utf8', utf8Data: '' })).toBe(true);
    expect(isSeedMessage({ type: 'binary', binaryData: Buffer.alloc(0) })).toBe(true);
    expect(isSeedMessage({ type: 'binary', binaryData: new Uint8Array(1) })).toBe(false);
    expect(isSeedMessage({ type: 'text', utf8Data: '' })).toBe(false);
    expect(isSeedMessage(null)).toBe(false);
    expect(isSeedMessage('utf8')).toBe(false);
  });

  it('invalidMessage makes the error without throwing it', () => {
    const err = invalidMessage(Symbol('s'));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain('got symbol');
  });
});
