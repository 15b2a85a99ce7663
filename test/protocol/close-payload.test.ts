import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeClosePayload,
  parseClosePayload,
  validateCloseArguments,
} from '../../lib/protocol/close-payload.js';
import {
  ErrorCode,
  InvalidArgumentError,
  ProtocolError,
  WebSocketError,
} from '../../lib/protocol/errors.js';

/**
 * The spec rule, written out independently of close-codes.ts: which codes may travel in a
 * Close frame. @see RFC 6455 §7.4.1 (defined), §7.4.2 (ranges), IANA registry (1012-1014)
 */
function specAllowsOnWire(code: number): boolean {
  const defined = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011];
  const ianaRegistered = [1012, 1013, 1014];
  if (defined.includes(code) || ianaRegistered.includes(code)) return true;
  return code >= 3000 && code <= 4999;
}

function payload(code: number, reason: Uint8Array | string = ''): Buffer {
  const body = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(code, 0);
  body.copy(out, 2);
  return out;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectProtocolError(fn: () => unknown, code: string, closeCode: number): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(ProtocolError);
  expect(err).toBeInstanceOf(WebSocketError);
  expect((err as ProtocolError).code).toBe(code);
  expect((err as ProtocolError).closeCode).toBe(closeCode);
}

function expectInvalidArgument(fn: () => unknown, message?: RegExp): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
  expect((err as InvalidArgumentError).closeCode).toBeUndefined();
  if (message) expect((err as Error).message).toMatch(message);
}

describe('parseClosePayload', () => {
  it('reports an empty payload as 1005 with no reason', () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ code: 1005, reason: '' });
  });

  it('fails a 1-byte payload with 1002', () => {
    for (const byte of [0x00, 0x03, 0xe8, 0xff]) {
      expectProtocolError(
        () => parseClosePayload(Uint8Array.of(byte)),
        ErrorCode.InvalidClosePayload,
        1002,
      );
    }
  });

  it('accepts exactly the codes the spec allows on the wire, 0..65535', () => {
    const wrong: number[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      let accepted: boolean;
      try {
        accepted = parseClosePayload(payload(code, 'ok')).code === code;
      } catch (err) {
        const e = err as ProtocolError;
        if (e.code !== ErrorCode.InvalidCloseCode || e.closeCode !== 1002) throw err;
        accepted = false;
      }
      if (accepted !== specAllowsOnWire(code)) wrong.push(code);
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    [1004, false],
    [1005, false],
    [1006, false],
    [1015, false],
    [1016, false],
    [2999, false],
    [3000, true],
    [4999, true],
    [5000, false],
    [999, false],
    [0, false],
    [1000, true],
    [1014, true],
  ])('code %i on the wire: accepted %s', (code, ok) => {
    if (ok) expect(parseClosePayload(payload(code))).toEqual({ code, reason: '' });
    else
      expectProtocolError(() => parseClosePayload(payload(code)), ErrorCode.InvalidCloseCode, 1002);
  });

  it.each([
    ['ASCII', 'going away'],
    ['2-byte', 'κόσμε ß'],
    ['3-byte', '日本語 €'],
    ['4-byte', '😀👍🏽'],
    ['123 bytes of 3-byte chars', '€'.repeat(41)],
    ['U+FFFE noncharacter and a BOM', '\ufeff\ufffe'],
  ])('decodes a %s reason', (_name, reason) => {
    expect(parseClosePayload(payload(1000, reason))).toEqual({ code: 1000, reason });
  });

  it('decodes a reason of 123 bytes and, since length is the frame layer’s rule, of 124', () => {
    expect(parseClosePayload(payload(4000, 'a'.repeat(123))).reason).toBe('a'.repeat(123));
    expect(parseClosePayload(payload(4000, 'a'.repeat(124))).reason).toBe('a'.repeat(124));
  });

  it.each([
    ['lone continuation', [0x80]],
    ['truncated sequence', [0x61, 0xe2, 0x82]],
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['overlong', [0xc0, 0xaf]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['0xFF', [0xff]],
  ])('fails a reason with invalid UTF-8 (%s) with 1007', (_name, bytes) => {
    expectProtocolError(
      () => parseClosePayload(payload(1000, Uint8Array.from(bytes))),
      ErrorCode.InvalidUtf8,
      1007,
    );
  });

  it('checks the code before the reason', () => {
    expectProtocolError(
      () => parseClosePayload(payload(1005, Uint8Array.of(0xff))),
      ErrorCode.InvalidCloseCode,
      1002,
    );
  });

  it('reads a view at an offset into a larger buffer, and a plain Uint8Array', () => {
    const backing = Buffer.concat([
      Buffer.from([0xff, 0xff]),
      payload(1001, 'bye'),
      Buffer.from([0xff]),
    ]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 5);
    expect(parseClosePayload(view)).toEqual({ code: 1001, reason: 'bye' });
    expect(parseClosePayload(Uint8Array.of(0x0f, 0xa0))).toEqual({ code: 4000, reason: '' });
  });

  it('round-trips whatever encodeClosePayload makes (property)', () => {
    const reason = fc
      .string({ unit: 'grapheme', maxLength: 40 })
      .filter((s) => Buffer.byteLength(s) <= 123);
    const code = fc.oneof(
      fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
      fc.integer({ min: 3000, max: 4999 }),
    );
    fc.assert(
      fc.property(code, reason, (c, r) => {
        expect(parseClosePayload(encodeClosePayload(c, r))).toEqual({ code: c, reason: r });
      }),
    );
  });
});

describe('encodeClosePayload', () => {
  it('gives an empty payload without a code', () => {
    for (const reason of [undefined, '']) {
      const out = encodeClosePayload(undefined, reason);
      expect(Buffer.isBuffer(out)).toBe(true);
      expect(out.length).toBe(0);
    }
    expect(encodeClosePayload().length).toBe(0);
  });

  it('refuses a reason without a code', () => {
    expectInvalidArgument(() => encodeClosePayload(undefined, 'why'), /code/);
  });

  it('encodes the code in network byte order followed by the UTF-8 reason', () => {
    expect(encodeClosePayload(1000)).toEqual(Buffer.from([0x03, 0xe8]));
    expect(encodeClosePayload(1000, '')).toEqual(Buffer.from([0x03, 0xe8]));
    expect(encodeClosePayload(4999, 'é€')).toEqual(
      Buffer.from([0x13, 0x87, 0xc3, 0xa9, 0xe2, 0x82, 0xac]),
    );
  });

  it('returns a new Buffer on every call', () => {
    const a = encodeClosePayload(1000, 'x');
    const b = encodeClosePayload(1000, 'x');
    expect(a).not.toBe(b);
    a[0] = 0;
    expect(b[0]).toBe(0x03);
  });

  it('accepts exactly the sendable codes, 0..5000', () => {
    const wrong: number[] = [];
    for (let code = 0; code <= 5000; code++) {
      let accepted: boolean;
      try {
        accepted = encodeClosePayload(code).readUInt16BE(0) === code;
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err;
        accepted = false;
      }
      if (accepted !== specAllowsOnWire(code)) wrong.push(code);
    }
    expect(wrong).toEqual([]);
  });

  it.each([1000.5, Number.NaN, Number.POSITIVE_INFINITY, -1000, 65536 + 1000])(
    'refuses the non-code %s',
    (code) => {
      expectInvalidArgument(() => encodeClosePayload(code), /close code/);
    },
  );

  it('refuses a code of the wrong type from untyped callers', () => {
    expectInvalidArgument(() => encodeClosePayload('1000' as unknown as number));
    expectInvalidArgument(() => encodeClosePayload(1000, 42 as unknown as string), /string/);
  });

  it('accepts a reason of 123 UTF-8 bytes and refuses 124, naming the count', () => {
    for (const reason of [
      'a'.repeat(123),
      '€'.repeat(41),
      `${'😀'.repeat(30)}abc`,
      `é${'a'.repeat(121)}`,
    ]) {
      expect(Buffer.byteLength(reason)).toBe(123);
      expect(encodeClosePayload(1000, reason).length).toBe(125);
    }
    for (const reason of ['a'.repeat(124), `${'€'.repeat(41)}a`, '😀'.repeat(31)]) {
      const bytes = Buffer.byteLength(reason);
      expectInvalidArgument(
        () => encodeClosePayload(1000, reason),
        new RegExp(`\\b${bytes} bytes`),
      );
    }
  });

  it('counts bytes, not UTF-16 units: 42 chars of 3 bytes are 126 bytes', () => {
    const reason = '€'.repeat(42);
    expect(reason.length).toBe(42);
    expectInvalidArgument(() => encodeClosePayload(1000, reason), /126 bytes/);
  });

  it.each(['\ud800', 'a\udc00b', 'end\ud83d', '\ude00start'])(
    'refuses the lone surrogate in %j (it would go out as U+FFFD)',
    (reason) => {
      expectInvalidArgument(() => encodeClosePayload(1000, reason), /surrogate/);
    },
  );

  it('accepts a surrogate pair', () => {
    expect(encodeClosePayload(1000, '\ud83d\ude00').subarray(2).toString('utf8')).toBe('😀');
  });
});

describe('validateCloseArguments', () => {
  it('follows the same rules as encodeClosePayload, without encoding', () => {
    const cases: [number | undefined, string | undefined][] = [
      [undefined, undefined],
      [undefined, ''],
      [undefined, 'x'],
      [1000, undefined],
      [1000, 'ok'],
      [1005, undefined],
      [1006, 'x'],
      [1015, undefined],
      [2999, undefined],
      [3000, 'a'.repeat(123)],
      [3000, 'a'.repeat(124)],
      [4999, '\ud800'],
      [5000, undefined],
    ];
    for (const [code, reason] of cases) {
      let encoded = true;
      try {
        encodeClosePayload(code, reason);
      } catch {
        encoded = false;
      }
      if (encoded) expect(() => validateCloseArguments(code, reason)).not.toThrow();
      else expectInvalidArgument(() => validateCloseArguments(code, reason));
    }
  });

  it('returns nothing', () => {
    expect(validateCloseArguments(1000, 'ok')).toBeUndefined();
  });
});
