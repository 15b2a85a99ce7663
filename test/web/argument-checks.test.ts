import { describe, expect, it } from 'vitest';
import { CloseEvent } from '../../lib/web/close-event.js';
import { WebSocket } from '../../lib/web/web-socket.js';
import { WebSocketError } from '../../lib/web/web-socket-error.js';
import { WebSocketStream } from '../../lib/web/web-socket-stream.js';

/**
 * The standard's argument checks, as tables: each row is an input and what must happen,
 * the exact error class and name (a DOMException where the standard throws one, a
 * TypeError where Web IDL's conversion does) or the value that results. Nothing here
 * reaches a server: connections go to a closed port and are failed at once.
 */

/** A closed port: a constructor that succeeds starts a handshake that fails at once. */
const NOWHERE = 'ws://127.0.0.1:1/';

type Outcome = { ok: string } | { throws: 'TypeError' | string };

/** Runs `f` and says what happened: its result, or the error's kind. */
function outcome(f: () => unknown): Outcome {
  try {
    return { ok: String(f()) };
  } catch (err) {
    if (err instanceof DOMException) return { throws: `DOMException ${err.name}` };
    if (err instanceof TypeError) return { throws: 'TypeError' };
    return { throws: `unexpected ${String(err)}` };
  }
}

/** Makes a WebSocket and fails it at once, returning `read(ws)`. */
function webSocket(url: unknown, protocols?: unknown, read = (ws: WebSocket) => ws.url): string {
  const ws = new WebSocket(url as string, protocols as string[]);
  ws.close();
  return read(ws);
}

describe('new WebSocket(url): the URL checks', () => {
  it.each<[string, unknown, Outcome]>([
    ['a fragment', 'ws://example.com/#x', { throws: 'DOMException SyntaxError' }],
    ['an empty fragment', 'ws://example.com/#', { throws: 'DOMException SyntaxError' }],
    ['an ftp: URL', 'ftp://example.com/', { throws: 'DOMException SyntaxError' }],
    ['a file: URL', 'file:///tmp/x', { throws: 'DOMException SyntaxError' }],
    ['ws+unix: (not a web scheme)', 'ws+unix:/tmp/x.sock', { throws: 'DOMException SyntaxError' }],
    ['an empty string (no base URL in Node)', '', { throws: 'DOMException SyntaxError' }],
    ['a relative URL', '/chat', { throws: 'DOMException SyntaxError' }],
    ['no host', 'ws://', { throws: 'DOMException SyntaxError' }],
    ['a bad IPv6 host', 'ws://[::1/', { throws: 'DOMException SyntaxError' }],
    ['a port out of range', 'wss://h:99999/', { throws: 'DOMException SyntaxError' }],
    ['a Symbol', Symbol('url'), { throws: 'TypeError' }],
    ['http: (becomes ws:)', 'http://127.0.0.1:1/a?b=1', { ok: 'ws://127.0.0.1:1/a?b=1' }],
    ['https: (becomes wss:)', 'HTTPS://127.0.0.1:443/', { ok: 'wss://127.0.0.1/' }],
    ['a default port', 'ws://127.0.0.1:80/', { ok: 'ws://127.0.0.1/' }],
    ['a space in the path', 'ws://127.0.0.1:1/a b', { ok: 'ws://127.0.0.1:1/a%20b' }],
    ['a URL object', new URL('ws://127.0.0.1:1/x'), { ok: 'ws://127.0.0.1:1/x' }],
  ])('%s', (_name, url, expected) => {
    expect(outcome(() => webSocket(url))).toEqual(expected);
  });

  it('throws TypeError without arguments', () => {
    expect(outcome(() => Reflect.construct(WebSocket, []))).toEqual({ throws: 'TypeError' });
  });
});

describe('new WebSocket(url, protocols): the subprotocol checks', () => {
  it.each<[string, unknown, Outcome]>([
    ['an empty name', '', { throws: 'DOMException SyntaxError' }],
    ['a space', 'a b', { throws: 'DOMException SyntaxError' }],
    ['a non-ASCII name', 'é', { throws: 'DOMException SyntaxError' }],
    ['a comma (two names in one)', 'a,b', { throws: 'DOMException SyntaxError' }],
    ['a separator', '(x)', { throws: 'DOMException SyntaxError' }],
    ['a slash', 'a/b', { throws: 'DOMException SyntaxError' }],
    ['a quote', '"q"', { throws: 'DOMException SyntaxError' }],
    ['a control character', 'a\u0000', { throws: 'DOMException SyntaxError' }],
    ['a tab', 'a\tb', { throws: 'DOMException SyntaxError' }],
    ['a duplicate', ['chat', 'chat'], { throws: 'DOMException SyntaxError' }],
    ['a duplicate among several', ['a', 'b', 'a'], { throws: 'DOMException SyntaxError' }],
    ['a Symbol in the list', [Symbol('p')], { throws: 'TypeError' }],
    ['names differing in case (not duplicates)', ['chat', 'CHAT'], { ok: 'ok' }],
    ['one string', 'chat.v1', { ok: 'ok' }],
    ['an empty list', [], { ok: 'ok' }],
    ['any iterable', new Set(['a', 'b']), { ok: 'ok' }],
    ['a number in the list (converted)', ['x', 5], { ok: 'ok' }],
    ['every tchar', ["!#$%&'*+-.^_`|~09AZaz"], { ok: 'ok' }],
  ])('%s', (_name, protocols, expected) => {
    expect(outcome(() => webSocket(NOWHERE, protocols, () => 'ok'))).toEqual(expected);
  });

  it('takes a non-iterable object as Node-only options, with its own protocols checked', () => {
    expect(outcome(() => webSocket(NOWHERE, { protocols: ['a', 'b'] }, () => 'ok'))).toEqual({
      ok: 'ok',
    });
    expect(outcome(() => webSocket(NOWHERE, { protocols: ['a', 'a'] }, () => 'ok'))).toEqual({
      throws: 'DOMException SyntaxError',
    });
  });
});

describe('WebSocket.close(code, reason): the code and reason checks', () => {
  const x = (n: number): string => 'x'.repeat(n);
  it.each<[string, unknown[], Outcome]>([
    ['999', [999], { throws: 'DOMException InvalidAccessError' }],
    ['1001 (the protocol reserves it)', [1001], { throws: 'DOMException InvalidAccessError' }],
    ['1005', [1005], { throws: 'DOMException InvalidAccessError' }],
    ['1006', [1006], { throws: 'DOMException InvalidAccessError' }],
    ['1015', [1015], { throws: 'DOMException InvalidAccessError' }],
    ['2999', [2999], { throws: 'DOMException InvalidAccessError' }],
    ['5000', [5000], { throws: 'DOMException InvalidAccessError' }],
    ['-1 ([Clamp]: 0)', [-1], { throws: 'DOMException InvalidAccessError' }],
    ['65536 ([Clamp]: 65535)', [65536], { throws: 'DOMException InvalidAccessError' }],
    ['NaN ([Clamp]: 0)', [Number.NaN], { throws: 'DOMException InvalidAccessError' }],
    ['null (0)', [null], { throws: 'DOMException InvalidAccessError' }],
    [
      'Infinity ([Clamp]: 65535)',
      [Number.POSITIVE_INFINITY],
      { throws: 'DOMException InvalidAccessError' },
    ],
    ['4999.5 (rounds to even: 5000)', [4999.5], { throws: 'DOMException InvalidAccessError' }],
    ['a Symbol', [Symbol('c')], { throws: 'TypeError' }],
    ['a BigInt', [10n], { throws: 'TypeError' }],
    ['1000', [1000], { ok: 'ok' }],
    ['3000', [3000], { ok: 'ok' }],
    ['4999', [4999], { ok: 'ok' }],
    ['"4000" (converted)', ['4000'], { ok: 'ok' }],
    ['2999.5 (rounds to even: 3000)', [2999.5], { ok: 'ok' }],
    ['999.6 (rounds to 1000)', [999.6], { ok: 'ok' }],
    ['no code', [], { ok: 'ok' }],
    ['a reason of 123 bytes', [1000, x(123)], { ok: 'ok' }],
    ['a reason of 124 bytes', [1000, x(124)], { throws: 'DOMException SyntaxError' }],
    ['123 bytes of two-byte characters', [1000, `${'é'.repeat(61)}x`], { ok: 'ok' }],
    [
      '124 bytes of two-byte characters',
      [1000, 'é'.repeat(62)],
      { throws: 'DOMException SyntaxError' },
    ],
    ['41 lone surrogates (U+FFFD: 123 bytes)', [1000, '\uD800'.repeat(41)], { ok: 'ok' }],
    [
      '42 lone surrogates (126 bytes)',
      [1000, '\uD800'.repeat(42)],
      { throws: 'DOMException SyntaxError' },
    ],
    [
      'a bad code with a long reason (the code is checked first)',
      [1001, x(124)],
      { throws: 'DOMException InvalidAccessError' },
    ],
    ['a reason without a code (sent with 1000)', [undefined, 'bye'], { ok: 'ok' }],
  ])('%s', (_name, args, expected) => {
    const ws = new WebSocket(NOWHERE);
    try {
      expect(outcome(() => (ws.close as (...a: unknown[]) => void)(...args) ?? 'ok')).toEqual(
        expected,
      );
    } finally {
      ws.close();
    }
  });
});

describe('WebSocket.send(data): the checks', () => {
  it.each<[string, unknown[], Outcome]>([
    ['no argument', [], { throws: 'TypeError' }],
    ['a Symbol (converted before the state is looked at)', [Symbol('d')], { throws: 'TypeError' }],
    ['a string while CONNECTING', ['x'], { throws: 'DOMException InvalidStateError' }],
    ['bytes while CONNECTING', [new Uint8Array(1)], { throws: 'DOMException InvalidStateError' }],
    ['a Blob while CONNECTING', [new Blob(['x'])], { throws: 'DOMException InvalidStateError' }],
  ])('%s', (_name, args, expected) => {
    const ws = new WebSocket(NOWHERE);
    try {
      expect(outcome(() => (ws.send as (...a: unknown[]) => void)(...args))).toEqual(expected);
    } finally {
      ws.close();
    }
  });
});

describe('new WebSocketStream(url, options): the checks', () => {
  const wss = (url: unknown, options?: unknown): string => {
    const stream = new WebSocketStream(url as string, options as undefined);
    stream.close();
    return stream.url;
  };
  it.each<[string, unknown, unknown, Outcome]>([
    ['a fragment', 'ws://example.com/#x', undefined, { throws: 'DOMException SyntaxError' }],
    ['an ftp: URL', 'ftp://example.com/', undefined, { throws: 'DOMException SyntaxError' }],
    ['a relative URL', '/chat', undefined, { throws: 'DOMException SyntaxError' }],
    ['options that are a number', NOWHERE, 5, { throws: 'TypeError' }],
    ['options that are a string', NOWHERE, 'x', { throws: 'TypeError' }],
    ['protocols that are a string', NOWHERE, { protocols: 'a' }, { throws: 'TypeError' }],
    [
      'duplicate protocols',
      NOWHERE,
      { protocols: ['a', 'a'] },
      { throws: 'DOMException SyntaxError' },
    ],
    [
      'a protocol that is not a token',
      NOWHERE,
      { protocols: ['a b'] },
      { throws: 'DOMException SyntaxError' },
    ],
    ['a signal that is not an AbortSignal', NOWHERE, { signal: {} }, { throws: 'TypeError' }],
    ['null options', NOWHERE, null, { ok: NOWHERE }],
    ['a null signal', NOWHERE, { signal: null }, { ok: NOWHERE }],
    ['https: (becomes wss:)', 'https://127.0.0.1:1/', undefined, { ok: 'wss://127.0.0.1:1/' }],
  ])('%s', (_name, url, options, expected) => {
    expect(outcome(() => wss(url, options))).toEqual(expected);
  });
});

describe('WebSocketStream.close(closeInfo) and new WebSocketError(message, init): the checks', () => {
  const rows: Array<[string, unknown, Outcome]> = [
    ['true (not a dictionary)', true, { throws: 'TypeError' }],
    ['a string', 'x', { throws: 'TypeError' }],
    ['closeCode 1001', { closeCode: 1001 }, { throws: 'DOMException InvalidAccessError' }],
    ['closeCode 2999', { closeCode: 2999 }, { throws: 'DOMException InvalidAccessError' }],
    [
      'closeCode 70000 (clamped to 65535, as Chromium does)',
      { closeCode: 70000 },
      { throws: 'DOMException InvalidAccessError' },
    ],
    ['closeCode NaN', { closeCode: Number.NaN }, { throws: 'DOMException InvalidAccessError' }],
    ['closeCode a Symbol', { closeCode: Symbol('c') }, { throws: 'TypeError' }],
    ['a reason of 124 bytes', { reason: 'x'.repeat(124) }, { throws: 'DOMException SyntaxError' }],
    [
      'a bad code and a long reason',
      { closeCode: 1001, reason: 'x'.repeat(124) },
      { throws: 'DOMException InvalidAccessError' },
    ],
    ['closeCode 4000 and 123 bytes', { closeCode: 4000, reason: 'x'.repeat(123) }, { ok: 'ok' }],
    ['null', null, { ok: 'ok' }],
    ['an empty dictionary', {}, { ok: 'ok' }],
    ['a reason alone', { reason: 'r' }, { ok: 'ok' }],
  ];

  it.each(rows)('close(%s)', (_name, info, expected) => {
    const stream = new WebSocketStream(NOWHERE);
    try {
      expect(outcome(() => stream.close(info as undefined) ?? 'ok')).toEqual(expected);
    } finally {
      stream.close();
    }
  });

  it.each(
    rows.filter(
      ([name]) => name !== 'null' && name !== 'true (not a dictionary)' && name !== 'a string',
    ),
  )('new WebSocketError(message, %s)', (_name, init, expected) => {
    expect(outcome(() => new WebSocketError('m', init as undefined) && 'ok')).toEqual(expected);
  });

  it.each<[string, unknown, number | null, string]>([
    ['nothing', undefined, null, ''],
    ['a code', { closeCode: 4000 }, 4000, ''],
    ['a reason alone (the code becomes 1000)', { reason: 'r' }, 1000, 'r'],
    ['both', { closeCode: 3000, reason: 'why' }, 3000, 'why'],
    ['a fractional code (rounded)', { closeCode: 4000.5 }, 4000, ''],
  ])('new WebSocketError with %s', (_name, init, closeCode, reason) => {
    const error = new WebSocketError('message', init as undefined);
    expect([error.name, error.message, error.closeCode, error.reason, error.code]).toEqual([
      'WebSocketError',
      'message',
      closeCode,
      reason,
      0,
    ]);
    expect(error).toBeInstanceOf(DOMException);
    expect(Object.prototype.toString.call(error)).toBe('[object WebSocketError]');
  });
});

describe('new CloseEvent(type, init): the conversions', () => {
  it.each<[string, unknown, [boolean, number, string]]>([
    ['no init', undefined, [false, 0, '']],
    ['everything', { wasClean: true, code: 4000, reason: 'bye' }, [true, 4000, 'bye']],
    ['a code above 65535 (modulo 2^16)', { code: 70_000 }, [false, 4464, '']],
    ['a negative code', { code: -1 }, [false, 65_535, '']],
    ['a code that is not a number', { code: 'x' }, [false, 0, '']],
    ['a fractional code (truncated)', { code: 1000.9 }, [false, 1000, '']],
    ['a truthy wasClean', { wasClean: 1 }, [true, 0, '']],
    ['a lone surrogate in the reason', { reason: 'a\uD800' }, [false, 0, 'a\uFFFD']],
  ])('%s', (_name, init, expected) => {
    const event = new CloseEvent('close', init as undefined);
    expect([event.wasClean, event.code, event.reason]).toEqual(expected);
    expect([event.type, event.bubbles, event.cancelable]).toEqual(['close', false, false]);
  });

  it('throws TypeError without a type, and says it is a CloseEvent', () => {
    expect(outcome(() => Reflect.construct(CloseEvent, []))).toEqual({ throws: 'TypeError' });
    expect(Object.prototype.toString.call(new CloseEvent('close'))).toBe('[object CloseEvent]');
    expect(new CloseEvent('close')).toBeInstanceOf(Event);
  });
});
