import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLOSE_CODE_OF,
  ConnectionClosedError,
  closeCodeFor,
  closeReasonFor,
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
  ProtocolError,
  truncateUtf8,
  WebSocketError,
} from '../../lib/protocol/errors.js';

describe('error classes', () => {
  it('share the WebSocketError root and carry a stable code', () => {
    const errors = [
      new WebSocketError(ErrorCode.Internal, 'x'),
      new ProtocolError(ErrorCode.InvalidOpcode, 'x'),
      new HandshakeError('x', 400),
      new ConnectionClosedError('x'),
      new InvalidArgumentError('x'),
    ];
    for (const err of errors) {
      expect(err).toBeInstanceOf(Error);
      expect(err).toBeInstanceOf(WebSocketError);
      expect(err.code).toMatch(/^ERR_WS_[A-Z0-9_]+$/);
      expect(err.message).toBe('x');
    }
    expect(errors.map((e) => e.name)).toEqual([
      'WebSocketError',
      'ProtocolError',
      'HandshakeError',
      'ConnectionClosedError',
      'InvalidArgumentError',
    ]);
  });

  it('has distinct ERR_WS_ codes', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ERR_WS_[A-Z0-9_]+$/);
  });

  it("gives a ProtocolError its code's close code", () => {
    expect(new ProtocolError(ErrorCode.ReservedBits, 'x').closeCode).toBe(1002);
    expect(new ProtocolError(ErrorCode.InvalidUtf8, 'x').closeCode).toBe(1007);
  });

  it('keeps the cause', () => {
    const cause = new Error('root');
    expect(new ProtocolError(ErrorCode.Internal, 'x', { cause }).cause).toBe(cause);
    expect(new HandshakeError('x', 0, { cause }).cause).toBe(cause);
    expect(new HandshakeError('x', 0).cause).toBeUndefined();
  });

  it('gives HandshakeError its status, headers and body', () => {
    const err = new HandshakeError('x', 426, { headers: { upgrade: 'websocket' }, body: 'no' });
    expect(err.status).toBe(426);
    expect(err.headers).toEqual({ upgrade: 'websocket' });
    expect(err.body).toBe('no');
    expect(err.code).toBe(ErrorCode.Handshake);
    expect(err.closeCode).toBeUndefined();
    expect(new HandshakeError('x', 0, { code: ErrorCode.HandshakeTimeout }).code).toBe(
      ErrorCode.HandshakeTimeout,
    );
    expect(new HandshakeError('x', 400)).toMatchObject({ headers: {}, body: '' });
  });

  it('gives ConnectionClosedError the codes sent and received', () => {
    const err = new ConnectionClosedError('x', { codeSent: 1000, codeReceived: 1001 });
    expect(err).toMatchObject({
      codeSent: 1000,
      codeReceived: 1001,
      code: ErrorCode.ConnectionClosed,
    });
    expect(new ConnectionClosedError('x')).toMatchObject({
      codeSent: undefined,
      codeReceived: undefined,
    });
  });
});

describe('closeCodeFor', () => {
  it.each([
    ['ProtocolError (framing)', new ProtocolError(ErrorCode.InvalidOpcode, 'x'), 1002],
    ['ProtocolError (UTF-8)', new ProtocolError(ErrorCode.InvalidUtf8, 'x'), 1007],
    ['ProtocolError (message too large)', new ProtocolError(ErrorCode.MessageTooLarge, 'x'), 1009],
    ['ProtocolError (frame too large)', new ProtocolError(ErrorCode.FrameTooLarge, 'x'), 1009],
    ['ProtocolError (unsupported data)', new ProtocolError(ErrorCode.UnsupportedData, 'x'), 1003],
    ['ProtocolError (policy)', new ProtocolError(ErrorCode.PolicyViolation, 'x'), 1008],
    [
      'ProtocolError (extension required)',
      new ProtocolError(ErrorCode.ExtensionRequired, 'x'),
      1010,
    ],
    ['WebSocketError (internal)', new WebSocketError(ErrorCode.Internal, 'x'), 1011],
    [
      'WebSocketError (keepalive timeout)',
      new WebSocketError(ErrorCode.KeepaliveTimeout, 'x'),
      1006,
    ],
    ['HandshakeError', new HandshakeError('x', 400), 1011],
    ['ConnectionClosedError', new ConnectionClosedError('x'), 1006],
    ['InvalidArgumentError', new InvalidArgumentError('x'), 1011],
    ['plain Error', new Error('secret'), 1011],
    ['TypeError', new TypeError('x'), 1011],
    ['AbortError (a consumer let go)', Object.assign(new Error('x'), { name: 'AbortError' }), 1000],
    ['string', 'boom', 1011],
    ['undefined', undefined, 1011],
    ['null', null, 1011],
    ['look-alike object', { closeCode: 1000, code: 'ERR_WS_INTERNAL' }, 1011],
  ])('maps %s to %i', (_name, err, code) => {
    expect(closeCodeFor(err)).toBe(code);
  });

  it('takes every close code from one table that covers every error code', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(Object.hasOwn(CLOSE_CODE_OF, code), code).toBe(true);
      expect(new WebSocketError(code, 'x').closeCode).toBe(CLOSE_CODE_OF[code]);
    }
  });
});

describe('closeReasonFor', () => {
  it('lets a protocol error explain itself', () => {
    expect(closeReasonFor(new ProtocolError(ErrorCode.InvalidOpcode, 'invalid opcode 3'))).toBe(
      'invalid opcode 3',
    );
  });

  it('sends no reason for anything else, so nothing private leaks', () => {
    for (const err of [
      new Error('db password is hunter2'),
      new WebSocketError(ErrorCode.Internal, 'internal'),
      new HandshakeError('x', 400),
      new InvalidArgumentError('x'),
      'text',
      undefined,
    ]) {
      expect(closeReasonFor(err)).toBe('');
    }
  });

  it('bounds the reason to 123 bytes without splitting a code point', () => {
    const long = new ProtocolError(ErrorCode.InvalidUtf8, '€'.repeat(100));
    const reason = closeReasonFor(long);
    expect(reason).toBe('€'.repeat(41));
    expect(Buffer.byteLength(reason)).toBe(123);
    const emoji = closeReasonFor(new ProtocolError(ErrorCode.InvalidUtf8, `a${'😀'.repeat(40)}`));
    expect(emoji).toBe(`a${'😀'.repeat(30)}`);
  });
});

describe('truncateUtf8', () => {
  it('keeps a string that fits', () => {
    expect(truncateUtf8('κόσμε', 10)).toBe('κόσμε');
    expect(truncateUtf8('', 0)).toBe('');
  });

  it('cuts before a code point that would not fit', () => {
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('a😀', 4)).toBe('a');
    expect(truncateUtf8('😀', 3)).toBe('');
    expect(truncateUtf8('abc', 0)).toBe('');
  });

  it('never splits a code point and keeps as much as fits (property)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }).filter((s) => Buffer.from(s).toString() === s),
      fc
        .array(fc.constantFrom('a', 'é', '€', '😀', '👍🏽', '👨‍👩‍👧', '\u{10ffff}'), {
          maxLength: 60,
        })
        .map((a) => a.join('')),
    );
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 200 }), (s, max) => {
        const out = truncateUtf8(s, max);
        const bytes = Buffer.byteLength(out);
        expect(bytes).toBeLessThanOrEqual(max);
        expect(s.startsWith(out)).toBe(true);
        // Whole code points only: the output re-encodes to itself, so no surrogate was cut.
        expect(Buffer.from(out, 'utf8').toString('utf8')).toBe(out);
        // As much as fits: the next code point would overflow.
        const next = String.fromCodePoint(s.codePointAt(out.length) ?? 0);
        if (out.length < s.length) expect(bytes + Buffer.byteLength(next)).toBeGreaterThan(max);
      }),
      { numRuns: 1000 },
    );
  });
});
