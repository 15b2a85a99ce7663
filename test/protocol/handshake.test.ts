import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  HandshakeError,
  type HeaderMap,
  InvalidArgumentError,
} from '../../lib/protocol/errors.js';
import {
  acceptValue,
  buildAcceptResponse,
  buildRejectResponse,
  generateKey,
  isValidKey,
  selectProtocol,
  type UpgradeRequestLike,
  type UpgradeResponseLike,
  validateUpgradeRequest,
  validateUpgradeResponse,
  WEBSOCKET_GUID,
} from '../../lib/protocol/handshake.js';

/** The example of RFC 6455 §1.3. */
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('key and accept', () => {
  it('exports the RFC 6455 GUID', () => {
    expect(WEBSOCKET_GUID).toBe('258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
  });

  it('computes the RFC 6455 §1.3 example', () => {
    expect(acceptValue(KEY)).toBe(ACCEPT);
  });

  it('generates fresh valid keys of 16 bytes', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateKey()));
    expect(keys.size).toBe(100);
    for (const key of keys) {
      expect(isValidKey(key)).toBe(true);
      expect(Buffer.from(key, 'base64')).toHaveLength(16);
    }
  });

  it.each<[string, boolean]>([
    [KEY, true],
    ['AAAAAAAAAAAAAAAAAAAAAA==', true],
    ['+/+/+/+/+/+/+/+/+/+/+w==', true],
    ['dGhlIHNhbXBsZSBub25jZR==', true], // non-canonical low bits: not judged
    ['', false],
    ['dGhlIHNhbXBsZSBub25jZQ=', false],
    ['dGhlIHNhbXBsZSBub25jZQ===', false],
    ['dGhlIHNhbXBsZSBub25jZQAA', false],
    ['dGhlIHNhbXBsZSBub25jZ===', false],
    ['dGhlIHNhbXBsZSBub25j-Q==', false],
    ['dGhlIHNhbXBsZSBub25j_Q==', false],
    ['dGhlIHNhbXBsZSBub25j Q==', false],
    ['dGhlIHNhbXBsZSBub25jZQ==\r\n', false],
    ['dGhlIHNhbXBsZSBub25jZSBhbmQgbW9yZQ==', false], // 26 bytes
  ])('isValidKey(%j) -> %s', (key, expected) => {
    expect(isValidKey(key)).toBe(expected);
  });
});

function request(
  overrides: Partial<UpgradeRequestLike> = {},
  headers: HeaderMap = {},
): UpgradeRequestLike {
  return {
    method: 'GET',
    httpVersion: '1.1',
    url: '/chat?room=1',
    ...overrides,
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
  };
}

describe('validateUpgradeRequest', () => {
  it('accepts the RFC 6455 §1.2 request', () => {
    const info = validateUpgradeRequest(
      request(
        {},
        {
          origin: 'http://example.com',
          'sec-websocket-protocol': 'chat, superchat',
          'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        },
      ),
    );
    expect(info).toEqual({
      key: KEY,
      version: 13,
      protocols: ['chat', 'superchat'],
      extensions: [
        { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] },
      ],
      origin: 'http://example.com',
      host: 'server.example.com',
      resource: '/chat?room=1',
    });
  });

  it.each<
    [
      string,
      Partial<UpgradeRequestLike>,
      HeaderMap,
      Partial<ReturnType<typeof validateUpgradeRequest>>,
    ]
  >([
    ['a minimal request', {}, {}, { protocols: [], extensions: [], origin: undefined }],
    ['no url', { url: undefined }, {}, { resource: '/' }],
    ['HTTP/1.2', { httpVersion: '1.2' }, {}, { key: KEY }],
    [
      'mixed-case markers',
      {},
      { upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' },
      { key: KEY },
    ],
    ['Upgrade among others', {}, { upgrade: 'h2c, websocket' }, { key: KEY }],
    ['Connection as lines', {}, { connection: ['keep-alive', 'Upgrade'] }, { key: KEY }],
    ['a key in a one-element array', {}, { 'sec-websocket-key': [KEY] }, { key: KEY }],
    ['a key with OWS', {}, { 'sec-websocket-key': ` ${KEY}\t` }, { key: KEY }],
    ['version with OWS', {}, { 'sec-websocket-version': ' 13 ' }, { version: 13 }],
    [
      'Sec-WebSocket-Origin (old clients)',
      {},
      { 'sec-websocket-origin': 'http://a' },
      { origin: 'http://a' },
    ],
    [
      'Origin first',
      {},
      { origin: 'http://o', 'sec-websocket-origin': 'http://a' },
      { origin: 'http://o' },
    ],
    ['Origin lines', {}, { origin: ['http://o', 'http://p'] }, { origin: 'http://o' }],
    [
      'protocol lines',
      {},
      { 'sec-websocket-protocol': ['a', 'b, c'] },
      { protocols: ['a', 'b', 'c'] },
    ],
  ])('accepts %s', (_, overrides, headers, expected) => {
    expect(validateUpgradeRequest(request(overrides, headers))).toMatchObject(expected);
  });

  it.each<[string, Partial<UpgradeRequestLike>, HeaderMap, number, string, string]>([
    ['POST', { method: 'POST' }, {}, 405, ErrorCode.Handshake, 'Method not allowed'],
    ['lower-case get', { method: 'get' }, {}, 405, ErrorCode.Handshake, 'Method not allowed'],
    ['no method', { method: undefined }, {}, 405, ErrorCode.Handshake, 'Method not allowed'],
    ['HTTP/1.0', { httpVersion: '1.0' }, {}, 400, ErrorCode.Handshake, 'HTTP/1.1 or later'],
    ['HTTP/0.9', { httpVersion: '0.9' }, {}, 400, ErrorCode.Handshake, 'HTTP/1.1 or later'],
    [
      'a garbled version',
      { httpVersion: 'x.y' },
      {},
      400,
      ErrorCode.Handshake,
      'HTTP/1.1 or later',
    ],
    ['HTTP/2.0', { httpVersion: '2.0' }, {}, 400, ErrorCode.Handshake, 'RFC 8441'],
    ['HTTP/3', { httpVersion: '3' }, {}, 400, ErrorCode.Handshake, 'RFC 8441'],
    ['no Host', {}, { host: undefined }, 400, ErrorCode.Handshake, 'Missing Host'],
    ['an empty Host', {}, { host: ' ' }, 400, ErrorCode.InvalidHeader, 'Empty Host'],
    ['two Hosts', {}, { host: ['a', 'b'] }, 400, ErrorCode.InvalidHeader, 'Multiple Host'],
    [
      'no Upgrade',
      {},
      { upgrade: undefined },
      400,
      ErrorCode.Handshake,
      "Upgrade header must contain 'websocket'",
    ],
    [
      'another Upgrade',
      {},
      { upgrade: 'h2c' },
      400,
      ErrorCode.Handshake,
      "Upgrade header must contain 'websocket'",
    ],
    [
      'no Connection',
      {},
      { connection: undefined },
      400,
      ErrorCode.Handshake,
      "Connection header must contain 'upgrade'",
    ],
    [
      'Connection: keep-alive',
      {},
      { connection: 'keep-alive' },
      400,
      ErrorCode.Handshake,
      "Connection header must contain 'upgrade'",
    ],
    [
      'no key',
      {},
      { 'sec-websocket-key': undefined },
      400,
      ErrorCode.Handshake,
      'Missing Sec-WebSocket-Key',
    ],
    [
      'a short key',
      {},
      { 'sec-websocket-key': 'abc' },
      400,
      ErrorCode.InvalidHeader,
      'Invalid Sec-WebSocket-Key',
    ],
    [
      'a joined key',
      {},
      { 'sec-websocket-key': `${KEY}, ${KEY}` },
      400,
      ErrorCode.InvalidHeader,
      'Invalid Sec-WebSocket-Key',
    ],
    [
      'two keys',
      {},
      { 'sec-websocket-key': [KEY, KEY] },
      400,
      ErrorCode.InvalidHeader,
      'Multiple Sec-WebSocket-Key',
    ],
    [
      'a bad protocol list',
      {},
      { 'sec-websocket-protocol': 'a,,b' },
      400,
      ErrorCode.InvalidHeader,
      'Sec-WebSocket-Protocol',
    ],
    [
      'a duplicate protocol',
      {},
      { 'sec-websocket-protocol': 'a, a' },
      400,
      ErrorCode.InvalidHeader,
      'duplicate',
    ],
    [
      'bad extensions',
      {},
      { 'sec-websocket-extensions': 'x; y="' },
      400,
      ErrorCode.InvalidHeader,
      'Sec-WebSocket-Extensions',
    ],
    [
      'an over-long Connection',
      {},
      { connection: 'a'.repeat(9000) },
      400,
      ErrorCode.InvalidHeader,
      'longer than',
    ],
  ])('refuses %s', (_, overrides, headers, status, code, message) => {
    const err = catchError(() => validateUpgradeRequest(request(overrides, headers)));
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ status, code });
    expect((err as HandshakeError).message).toContain(message);
    if (status === 405) expect((err as HandshakeError).headers).toEqual({ allow: 'GET' });
    else expect((err as HandshakeError).headers).toEqual({});
  });

  it.each<[string, HeaderMap, string]>([
    ['a missing version', { 'sec-websocket-version': undefined }, 'Missing Sec-WebSocket-Version'],
    ['version 8', { 'sec-websocket-version': '8' }, 'Unsupported Sec-WebSocket-Version'],
    ['version 14', { 'sec-websocket-version': '14' }, 'Unsupported'],
    ['version 013', { 'sec-websocket-version': '013' }, 'Unsupported'],
    ['a joined version', { 'sec-websocket-version': '13, 8' }, 'Unsupported'],
    ['two versions', { 'sec-websocket-version': ['13', '13'] }, 'Unsupported'],
    ['an empty version', { 'sec-websocket-version': '' }, 'Unsupported'],
    [
      'version 8 without a key (checked first)',
      { 'sec-websocket-version': '8', 'sec-websocket-key': undefined },
      'Unsupported',
    ],
  ])('answers 426 with the version for %s', (_, headers, message) => {
    const err = catchError(() => validateUpgradeRequest(request({}, headers)));
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ status: 426, code: ErrorCode.Handshake });
    expect((err as HandshakeError).message).toContain(message);
    expect((err as HandshakeError).headers).toEqual({ 'sec-websocket-version': '13' });
  });

  it('checks in order: method before anything else', () => {
    const err = catchError(() =>
      validateUpgradeRequest(request({ method: 'PUT', httpVersion: '1.0' }, { host: undefined })),
    );
    expect(err).toMatchObject({ status: 405 });
  });
});

describe('buildAcceptResponse', () => {
  it('builds the RFC 6455 §1.3 answer', () => {
    expect(buildAcceptResponse({ key: KEY })).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        '\r\n',
    );
  });

  it('adds protocol, extensions and extra headers in that order', () => {
    expect(
      buildAcceptResponse({
        key: KEY,
        protocol: 'chat',
        extensions: 'permessage-deflate; client_max_window_bits=10',
        headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Id': '7', 'X-None': undefined },
      }),
    ).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n' +
        'Set-Cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\n' +
        'X-Id: 7\r\n' +
        '\r\n',
    );
  });

  it('omits an empty extensions value', () => {
    expect(buildAcceptResponse({ key: KEY, extensions: '' })).not.toContain('Extensions');
  });

  it.each<[string, Parameters<typeof buildAcceptResponse>[0]]>([
    ['an invalid key', { key: 'abc' }],
    ['a protocol with CR LF', { key: KEY, protocol: 'chat\r\nX-Evil: 1' }],
    ['a protocol with space', { key: KEY, protocol: 'a b' }],
    ['an empty protocol', { key: KEY, protocol: '' }],
    ['extensions with LF', { key: KEY, extensions: 'x\nX-Evil: 1' }],
    ['a header name with CR LF', { key: KEY, headers: { 'X-A\r\nX-Evil': '1' } }],
    ['a header name with colon', { key: KEY, headers: { 'X-A:': '1' } }],
    ['an empty header name', { key: KEY, headers: { '': '1' } }],
    ['a header value with CR LF', { key: KEY, headers: { 'X-A': '1\r\nX-Evil: 1' } }],
    ['a header value with LF in an array', { key: KEY, headers: { 'X-A': ['ok', '1\n2'] } }],
    ['a header value with NUL', { key: KEY, headers: { 'X-A': '\u0000' } }],
    ['Sec-WebSocket-Accept', { key: KEY, headers: { 'Sec-WebSocket-Accept': 'x' } }],
    ['Upgrade', { key: KEY, headers: { upgrade: 'h2c' } }],
    ['Connection', { key: KEY, headers: { CONNECTION: 'close' } }],
    ['Sec-WebSocket-Protocol', { key: KEY, headers: { 'sec-websocket-protocol': 'x' } }],
    ['Sec-WebSocket-Extensions', { key: KEY, headers: { 'sec-websocket-extensions': 'x' } }],
    ['Content-Length', { key: KEY, headers: { 'content-length': '0' } }],
    ['Transfer-Encoding', { key: KEY, headers: { 'Transfer-Encoding': 'chunked' } }],
  ])('refuses %s', (_, init) => {
    expect(() => buildAcceptResponse(init)).toThrow(InvalidArgumentError);
  });
});

describe('buildRejectResponse', () => {
  it('builds a 400 with the default reason', () => {
    expect(buildRejectResponse(400)).toBe(
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 11\r\n' +
        '\r\n' +
        'Bad Request',
    );
  });

  it('builds a 426 with its version header', () => {
    expect(buildRejectResponse(426, undefined, { 'sec-websocket-version': '13' })).toBe(
      'HTTP/1.1 426 Upgrade Required\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 16\r\n' +
        'sec-websocket-version: 13\r\n' +
        '\r\n' +
        'Upgrade Required',
    );
  });

  it('puts the reason in the body only, counting UTF-8 bytes', () => {
    expect(buildRejectResponse(405, 'Méthode\r\nX: 1', { allow: 'GET' })).toBe(
      'HTTP/1.1 405 Method Not Allowed\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 14\r\n' +
        'allow: GET\r\n' +
        '\r\n' +
        'Méthode\r\nX: 1',
    );
  });

  it('builds an unknown status with an empty reason phrase', () => {
    expect(buildRejectResponse(499, '')).toBe(
      'HTTP/1.1 499 \r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 0\r\n' +
        '\r\n',
    );
    expect(buildRejectResponse(499)).toMatch(/\r\n\r\n499$/);
  });

  it('builds a redirect with Location', () => {
    expect(buildRejectResponse(302, 'Found', { Location: '/elsewhere' })).toContain(
      'Content-Length: 5\r\nLocation: /elsewhere\r\n\r\nFound',
    );
  });

  it('answers a HandshakeError as it says', () => {
    const err = catchError(() => validateUpgradeRequest(request({ method: 'POST' })));
    const { status, headers } = err as HandshakeError;
    expect(buildRejectResponse(status, undefined, headers)).toContain(
      'HTTP/1.1 405 Method Not Allowed\r\n',
    );
  });

  it.each<[string, number, HeaderMap | undefined]>([
    ['status 101', 101, undefined],
    ['status 200', 200, undefined],
    ['status 600', 600, undefined],
    ['a fractional status', 400.5, undefined],
    ['NaN', Number.NaN, undefined],
    ['a header value with CR LF', 400, { 'X-A': 'a\r\nSet-Cookie: x' }],
    ['a header name with space', 400, { 'X A': 'a' }],
    ['Content-Length', 400, { 'content-length': '1' }],
    ['Content-Type', 400, { 'Content-Type': 'text/html' }],
    ['Connection', 400, { connection: 'keep-alive' }],
    ['Transfer-Encoding', 400, { 'transfer-encoding': 'chunked' }],
  ])('refuses %s', (_, status, headers) => {
    expect(() => buildRejectResponse(status, undefined, headers)).toThrow(InvalidArgumentError);
  });
});

function response(
  headers: HeaderMap = {},
  statusCode: number | undefined = 101,
): UpgradeResponseLike {
  return {
    statusCode,
    headers: {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-accept': ACCEPT,
      ...headers,
    },
  };
}

const expected = {
  key: KEY,
  offeredProtocols: ['chat', 'superchat'],
  offeredExtensions: ['permessage-deflate', 'x-other'],
};

describe('validateUpgradeResponse', () => {
  it.each<[string, HeaderMap, typeof expected, ReturnType<typeof validateUpgradeResponse>]>([
    ['a bare answer', {}, expected, { protocol: undefined, extensions: [] }],
    ['no protocol though some were offered', {}, expected, { protocol: undefined, extensions: [] }],
    [
      'a chosen protocol',
      { 'sec-websocket-protocol': 'superchat' },
      expected,
      { protocol: 'superchat', extensions: [] },
    ],
    [
      'a protocol with OWS',
      { 'sec-websocket-protocol': ' chat ' },
      expected,
      { protocol: 'chat', extensions: [] },
    ],
    [
      'mixed-case markers',
      { upgrade: 'WebSocket', connection: 'keep-alive, upgrade' },
      expected,
      { protocol: undefined, extensions: [] },
    ],
    [
      'an accept with OWS',
      { 'sec-websocket-accept': ` ${ACCEPT} ` },
      expected,
      { protocol: undefined, extensions: [] },
    ],
    [
      'accepted extensions in server order',
      { 'sec-websocket-extensions': 'x-other, permessage-deflate; server_max_window_bits=10' },
      expected,
      {
        protocol: undefined,
        extensions: [
          { name: 'x-other', params: [] },
          { name: 'permessage-deflate', params: [{ name: 'server_max_window_bits', value: '10' }] },
        ],
      },
    ],
  ])('accepts %s', (_, headers, exp, info) => {
    expect(validateUpgradeResponse(response(headers), exp)).toEqual(info);
  });

  it.each<[string, number | undefined, string]>([
    ['200', 200, 'Unexpected server response: 200'],
    ['403', 403, 'Unexpected server response: 403'],
    ['no status', undefined, 'Unexpected server response: none'],
  ])('fails on status %s with that status', (_, statusCode, message) => {
    const err = catchError(() => validateUpgradeResponse({ ...response(), statusCode }, expected));
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ status: statusCode ?? 0, code: ErrorCode.Handshake, message });
    expect((err as HandshakeError).headers).toMatchObject({ upgrade: 'websocket' });
  });

  it.each<[string, HeaderMap, Partial<typeof expected>, string]>([
    ['no Upgrade', { upgrade: undefined }, {}, 'Invalid Upgrade header'],
    ['Upgrade: h2c', { upgrade: 'h2c' }, {}, 'Invalid Upgrade header'],
    ['Upgrade with two tokens', { upgrade: 'websocket, h2c' }, {}, 'Invalid Upgrade header'],
    ['an over-long Upgrade', { upgrade: 'a'.repeat(9000) }, {}, 'longer than'],
    ['no Connection', { connection: undefined }, {}, 'Invalid Connection header'],
    ['Connection: close', { connection: 'close' }, {}, 'Invalid Connection header'],
    ['no accept', { 'sec-websocket-accept': undefined }, {}, 'Missing Sec-WebSocket-Accept'],
    [
      'a wrong accept',
      { 'sec-websocket-accept': acceptValue('AAAAAAAAAAAAAAAAAAAAAA==') },
      {},
      'Invalid Sec-WebSocket-Accept',
    ],
    [
      'two accepts',
      { 'sec-websocket-accept': [ACCEPT, ACCEPT] },
      {},
      'Invalid Sec-WebSocket-Accept',
    ],
    [
      'an accept for another key',
      {},
      { key: 'AAAAAAAAAAAAAAAAAAAAAA==' },
      'Invalid Sec-WebSocket-Accept',
    ],
    [
      'a protocol when none offered',
      { 'sec-websocket-protocol': 'chat' },
      { offeredProtocols: [] },
      'none was requested',
    ],
    ['a protocol not offered', { 'sec-websocket-protocol': 'other' }, {}, 'not requested: other'],
    ['a protocol in another case', { 'sec-websocket-protocol': 'Chat' }, {}, 'not requested: Chat'],
    ['two protocols', { 'sec-websocket-protocol': 'chat, superchat' }, {}, 'expected one token'],
    [
      'protocol lines',
      { 'sec-websocket-protocol': ['chat', 'superchat'] },
      {},
      'expected one token',
    ],
    ['an empty protocol', { 'sec-websocket-protocol': '' }, {}, 'expected one token'],
    [
      'an extension not offered',
      { 'sec-websocket-extensions': 'x-unknown' },
      {},
      'not offered: x-unknown',
    ],
    [
      'an extension when none offered',
      { 'sec-websocket-extensions': 'permessage-deflate' },
      { offeredExtensions: [] },
      'not offered',
    ],
    [
      'an extension twice',
      { 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' },
      {},
      'twice',
    ],
    [
      'malformed extensions',
      { 'sec-websocket-extensions': 'permessage-deflate;' },
      {},
      'expected parameter name',
    ],
  ])('fails on %s with status 101', (_, headers, exp, message) => {
    const err = catchError(() =>
      validateUpgradeResponse(response(headers), { ...expected, ...exp }),
    );
    expect(err).toBeInstanceOf(HandshakeError);
    expect(err).toMatchObject({ status: 101, code: ErrorCode.Handshake });
    expect((err as HandshakeError).message).toContain(message);
  });
});

describe('selectProtocol', () => {
  it.each<[string, string[], string[], string | undefined]>([
    ['the client order wins', ['v2', 'v1'], ['v1', 'v2'], 'v2'],
    ['the first supported', ['x', 'v1', 'v2'], ['v2', 'v1'], 'v1'],
    ['none in common', ['a'], ['b'], undefined],
    ['nothing requested', [], ['a'], undefined],
    ['case-sensitive', ['Chat'], ['chat'], undefined],
  ])('%s', (_, requested, supported, chosen) => {
    expect(selectProtocol(requested, supported)).toBe(chosen);
  });

  it('calls a function with the requested list', () => {
    const seen: (readonly string[])[] = [];
    const pick = (requested: readonly string[]): string | undefined => {
      seen.push(requested);
      return requested.at(-1);
    };
    expect(selectProtocol(['a', 'b'], pick)).toBe('b');
    expect(selectProtocol(['a'], () => undefined)).toBeUndefined();
    expect(seen).toEqual([['a', 'b']]);
  });

  it('refuses a function that picks what was not requested', () => {
    expect(() => selectProtocol(['a'], () => 'b')).toThrow(InvalidArgumentError);
  });
});
