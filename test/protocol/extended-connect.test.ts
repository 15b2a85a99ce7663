import { describe, expect, it } from 'vitest';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../../lib/protocol/errors.js';
import {
  buildExtendedConnectAccept,
  buildExtendedConnectRejection,
  buildExtendedConnectRequest,
  CONNECTION_SPECIFIC_FIELDS,
  isExtendedConnect,
  type ReceivedHeaderBlock,
  validateExtendedConnect,
  validateExtendedConnectResponse,
  WEBSOCKET_PROTOCOL,
} from '../../lib/protocol/extended-connect.js';

/** What Chromium 156 sends (captured in test/interop/chromium-http2.test.ts), trimmed. */
function chromiumConnect(): ReceivedHeaderBlock {
  return {
    ':method': 'CONNECT',
    ':authority': 'localhost:35623',
    ':scheme': 'https',
    ':path': '/ws?room=1',
    ':protocol': 'websocket',
    pragma: 'no-cache',
    origin: 'https://localhost:35623',
    'sec-websocket-version': '13',
    'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
  };
}

function refusal(headers: ReceivedHeaderBlock): HandshakeError {
  try {
    validateExtendedConnect(headers);
  } catch (err) {
    expect(err).toBeInstanceOf(HandshakeError);
    return err as HandshakeError;
  }
  throw new Error('expected a refusal');
}

describe('isExtendedConnect', () => {
  it.each<[ReceivedHeaderBlock, boolean]>([
    [{ ':method': 'CONNECT', ':protocol': 'websocket' }, true],
    [{ ':method': 'CONNECT', ':protocol': 'webtransport' }, true],
    [{ ':method': 'CONNECT', ':authority': 'proxy.test:443' }, false], // a proxy's CONNECT
    [{ ':method': 'GET', ':protocol': 'websocket' }, false],
    [{}, false],
  ])('%j -> %s', (headers, expected) => {
    expect(isExtendedConnect(headers)).toBe(expected);
  });
});

describe('validateExtendedConnect (the server side, RFC 8441 §4-5)', () => {
  it("takes Chromium's request: authority as host, path as resource, no key", () => {
    const info = validateExtendedConnect(chromiumConnect());
    expect(info).toEqual({
      key: '',
      version: 13,
      protocols: [],
      extensions: [
        { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] },
      ],
      origin: 'https://localhost:35623',
      host: 'localhost:35623',
      resource: '/ws?room=1',
      scheme: 'https',
    });
  });

  it('reads subprotocols in order, and the old Sec-WebSocket-Origin', () => {
    const info = validateExtendedConnect({
      ...chromiumConnect(),
      origin: undefined,
      'sec-websocket-origin': 'https://old.test',
      'sec-websocket-protocol': 'chat.v2, chat.v1',
    });
    expect(info.protocols).toEqual(['chat.v2', 'chat.v1']);
    expect(info.origin).toBe('https://old.test');
  });

  it('compares :protocol case-insensitively, as the Upgrade token', () => {
    expect(
      validateExtendedConnect({ ...chromiumConnect(), ':protocol': 'WebSocket' }).version,
    ).toBe(13);
  });

  it('ignores a Sec-WebSocket-Key: superseded by :protocol (RFC 8441 §5)', () => {
    const info = validateExtendedConnect({ ...chromiumConnect(), 'sec-websocket-key': 'junk' });
    expect(info.key).toBe('');
  });

  it('answers a method other than CONNECT 405 with allow: CONNECT', () => {
    const err = refusal({ ...chromiumConnect(), ':method': 'GET' });
    expect(err.status).toBe(405);
    expect(err.headers).toEqual({ allow: 'CONNECT' });
  });

  it('answers a CONNECT without :protocol 400 (it is no WebSocket)', () => {
    const err = refusal({ ...chromiumConnect(), ':protocol': undefined });
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/Missing :protocol/);
  });

  it('answers another :protocol 501, naming it (cut to 64 characters)', () => {
    const err = refusal({ ...chromiumConnect(), ':protocol': 'webtransport' });
    expect(err.status).toBe(501);
    expect(err.message).toContain('"webtransport"');
    expect(
      refusal({ ...chromiumConnect(), ':protocol': 'x'.repeat(10_000) }).message.length,
    ).toBeLessThan(150);
  });

  it.each([':scheme', ':path', ':authority'])('answers a request without %s 400', (name) => {
    const err = refusal({ ...chromiumConnect(), [name]: undefined });
    expect(err.status).toBe(400);
    expect(err.message).toContain(name);
  });

  it.each(['ftp', ''])('answers :scheme %j 400', (scheme) => {
    expect(refusal({ ...chromiumConnect(), ':scheme': scheme }).status).toBe(400);
  });

  it('answers a blank :authority 400', () => {
    expect(refusal({ ...chromiumConnect(), ':authority': '   ' }).status).toBe(400);
  });

  it.each([...CONNECTION_SPECIFIC_FIELDS])(
    'answers a request carrying %s 400 (RFC 9113 §8.2.2)',
    (name) => {
      const err = refusal({ ...chromiumConnect(), [name]: 'x' });
      expect(err.status).toBe(400);
      expect(err.code).toBe(ErrorCode.InvalidHeader);
    },
  );

  it.each<[string, string | string[] | undefined]>([
    ['missing', undefined],
    ['8', '8'],
    ['two values', ['13', '13']],
  ])(
    'answers sec-websocket-version %s 400 with sec-websocket-version: 13, never 426',
    (_, value) => {
      const err = refusal({ ...chromiumConnect(), 'sec-websocket-version': value });
      expect(err.status).toBe(400);
      expect(err.headers).toEqual({ 'sec-websocket-version': '13' });
    },
  );

  it('answers malformed subprotocols and extensions 400 (InvalidHeader)', () => {
    expect(refusal({ ...chromiumConnect(), 'sec-websocket-protocol': 'a b' }).code).toBe(
      ErrorCode.InvalidHeader,
    );
    expect(refusal({ ...chromiumConnect(), 'sec-websocket-extensions': ';;' }).status).toBe(400);
  });

  it('checks in order: method before protocol before scheme before version', () => {
    expect(refusal({ ':method': 'GET' }).status).toBe(405);
    expect(refusal({ ':method': 'CONNECT' }).message).toMatch(/:protocol/);
    expect(refusal({ ':method': 'CONNECT', ':protocol': 'websocket' }).message).toMatch(/:scheme/);
  });
});

describe('buildExtendedConnectAccept', () => {
  it('answers 200 with no accept key, and only what was agreed', () => {
    expect(buildExtendedConnectAccept({})).toEqual({ ':status': 200 });
    expect(
      buildExtendedConnectAccept({
        protocol: 'chat',
        extensions: 'permessage-deflate',
        headers: { 'Set-Cookie': ['a=1', 'b=2'], 'X-Trace': '7' },
      }),
    ).toEqual({
      ':status': 200,
      'sec-websocket-protocol': 'chat',
      'sec-websocket-extensions': 'permessage-deflate',
      'set-cookie': ['a=1', 'b=2'],
      'x-trace': '7',
    });
  });

  it.each([
    [{ protocol: 'a b' }, /token/],
    [{ extensions: 'x\r\ny' }, /Extensions/],
    [{ headers: { Connection: 'keep-alive' } }, /connection-specific/],
    [{ headers: { upgrade: 'websocket' } }, /connection-specific/],
    [{ headers: { 'Transfer-Encoding': 'chunked' } }, /connection-specific/],
    [{ headers: { ':status': '101' } }, /Invalid header name/],
    [{ headers: { 'bad name': 'x' } }, /Invalid header name/],
    [{ headers: { 'x-a': 'v\r\nInjected: 1' } }, /Invalid value/],
    [{ headers: { 'x-a': 'v\0' } }, /Invalid value/],
    [{ headers: { 'Sec-WebSocket-Protocol': 'x' } }, /set by the handshake/],
    [{ headers: { 'content-length': '0' } }, /set by the handshake/],
  ])('refuses %j with InvalidArgumentError, before anything is sent', (init, message) => {
    expect(() => buildExtendedConnectAccept(init)).toThrow(InvalidArgumentError);
    expect(() => buildExtendedConnectAccept(init)).toThrow(message);
  });
});

describe('buildExtendedConnectRejection', () => {
  it('gives the status, a text body of the reason and its exact length', () => {
    expect(buildExtendedConnectRejection(403, 'Origin not allowed: é')).toEqual({
      headers: {
        ':status': 403,
        'content-type': 'text/plain; charset=utf-8',
        'content-length': 22,
      },
      body: 'Origin not allowed: é',
    });
  });

  it('gives the status number as the body by default, and extra headers', () => {
    const { headers, body } = buildExtendedConnectRejection(401, undefined, {
      'WWW-Authenticate': 'Bearer',
    });
    expect(body).toBe('401');
    expect(headers['www-authenticate']).toBe('Bearer');
  });

  it.each([200, 101, 600, 404.5, Number.NaN])('refuses status %s', (status) => {
    expect(() => buildExtendedConnectRejection(status)).toThrow(InvalidArgumentError);
  });

  it('refuses content-type, connection-specific fields and bad values', () => {
    expect(() => buildExtendedConnectRejection(400, '', { 'content-type': 'x' })).toThrow(
      /set by the handshake/,
    );
    expect(() => buildExtendedConnectRejection(400, '', { connection: 'close' })).toThrow(
      /connection-specific/,
    );
    expect(() => buildExtendedConnectRejection(400, '', { 'x-a': '\n' })).toThrow(/Invalid value/);
  });
});

describe('buildExtendedConnectRequest (the client side)', () => {
  it('asks with :method CONNECT and :protocol websocket, :authority and no Host', () => {
    expect(
      buildExtendedConnectRequest({
        scheme: 'https',
        authority: 'example.com',
        path: '/chat?x=1',
        protocols: ['chat.v2', 'chat.v1'],
        extensions: 'permessage-deflate; client_max_window_bits',
        origin: 'https://example.com',
        headers: { Authorization: 'Bearer t' },
      }),
    ).toEqual({
      ':method': 'CONNECT',
      ':protocol': WEBSOCKET_PROTOCOL,
      ':scheme': 'https',
      ':path': '/chat?x=1',
      ':authority': 'example.com',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'chat.v2, chat.v1',
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
      origin: 'https://example.com',
      authorization: 'Bearer t',
    });
  });

  it.each([
    [{ headers: { Host: 'other' } }, /set by the handshake/],
    [{ headers: { 'Keep-Alive': '5' } }, /connection-specific/],
    [{ headers: { 'Proxy-Connection': 'x' } }, /connection-specific/],
    [{ headers: { 'HTTP2-Settings': 'x' } }, /connection-specific/],
    [{ headers: { te: 'trailers' } }, /set by the handshake/],
    [{ headers: { 'a\u0000b': 'x' } }, /Invalid header name/],
    [{ headers: { 'x-a': 'é€' } }, /Invalid value/],
    [{ path: 'no-slash' }, /:path/],
    [{ path: '/a b' }, /:path/],
    [{ authority: '' }, /:authority/],
    [{ protocols: ['a,b'] }, /subprotocol/],
    [{ origin: 'x\ny' }, /Origin/],
  ])('refuses %j before node:http2 sees it', (override, message) => {
    const init = { scheme: 'https' as const, authority: 'a.test', path: '/', ...override };
    expect(() => buildExtendedConnectRequest(init)).toThrow(InvalidArgumentError);
    expect(() => buildExtendedConnectRequest(init)).toThrow(message);
  });
});

describe('validateExtendedConnectResponse', () => {
  const offer = { offeredProtocols: ['chat'], offeredExtensions: ['permessage-deflate'] };

  it.each([200, 201, 299])(
    'takes %s (any 2xx opens a CONNECT tunnel, RFC 9110 §9.3.6)',
    (status) => {
      expect(validateExtendedConnectResponse({ ':status': status }, offer)).toEqual({
        protocol: undefined,
        extensions: [],
      });
    },
  );

  it('reads the agreed subprotocol and extensions', () => {
    const answer = validateExtendedConnectResponse(
      {
        ':status': 200,
        'sec-websocket-protocol': 'chat',
        'sec-websocket-extensions': 'permessage-deflate; server_no_context_takeover',
      },
      offer,
    );
    expect(answer.protocol).toBe('chat');
    expect(answer.extensions[0]?.name).toBe('permessage-deflate');
  });

  it('fails a refusal with its status and headers (pseudo-headers left out)', () => {
    let caught: unknown;
    try {
      validateExtendedConnectResponse({ ':status': 403, 'x-why': 'nope' }, offer);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HandshakeError);
    expect((caught as HandshakeError).status).toBe(403);
    expect((caught as HandshakeError).headers).toEqual({ 'x-why': 'nope' });
  });

  it.each<[ReceivedHeaderBlock, RegExp]>([
    [{ ':status': 200, 'sec-websocket-protocol': 'other' }, /not requested/],
    [{ ':status': 200, 'sec-websocket-extensions': 'x-unknown' }, /not offered/],
    [
      { ':status': 200, 'sec-websocket-extensions': 'permessage-deflate, permessage-deflate' },
      /twice/,
    ],
    [{ ':status': 101 }, /Unexpected server response: 101/],
    [{}, /Unexpected server response: none/],
  ])('fails %j', (headers, message) => {
    expect(() => validateExtendedConnectResponse(headers, offer)).toThrow(message);
  });
});
