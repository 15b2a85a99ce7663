import { describe, expect, it } from 'vitest';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../../lib/protocol/errors.js';
import {
  type ExtensionOffer,
  formatExtensionHeader,
  HEADER_LIMITS,
  headerHasToken,
  isToken,
  parseExtensionHeader,
  parseProtocolHeader,
  parseTokenList,
} from '../../lib/protocol/header-parser.js';

type HeaderValue = string | string[] | undefined;

/** Runs `fn` and returns the HandshakeError it must throw (400, InvalidHeader). */
function expectInvalidHeader(fn: () => unknown): HandshakeError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(HandshakeError);
  const err = caught as HandshakeError;
  expect(err.status).toBe(400);
  expect(err.code).toBe(ErrorCode.InvalidHeader);
  return err;
}

const long = (n: number): string => 'a'.repeat(n);

describe('isToken', () => {
  it.each<[string, boolean]>([
    ['chat', true],
    ["!#$%&'*+-.^_`|~09AZaz", true],
    ['', false],
    ['a b', false],
    ['a,b', false],
    ['a;b', false],
    ['a=b', false],
    ['"a"', false],
    ['a/b', false],
    ['a\tb', false],
    ['a\r\nb', false],
    ['é', false],
    ['a\u0000', false],
    ['(a)', false],
    ['a{b}', false],
  ])('%j -> %s', (input, expected) => {
    expect(isToken(input)).toBe(expected);
  });
});

describe('parseTokenList', () => {
  it.each<[HeaderValue, string[]]>([
    [undefined, []],
    ['', []],
    ['Upgrade', ['upgrade']],
    ['keep-alive, Upgrade', ['keep-alive', 'upgrade']],
    ['  a ,\tb\t, ,,c  ', ['a', 'b', 'c']],
    [',,,', []],
    ['WebSocket/13, h2c', ['websocket/13', 'h2c']],
    [
      ['keep-alive', 'Upgrade'],
      ['keep-alive', 'upgrade'],
    ],
    [['', 'x'], ['x']],
    [[], []],
  ])('%j -> %j', (input, expected) => {
    expect(parseTokenList(input)).toEqual(expected);
  });

  it('accepts a value of exactly the limit', () => {
    expect(parseTokenList(long(HEADER_LIMITS.maxHeaderLength))).toHaveLength(1);
  });

  it.each<[string, HeaderValue]>([
    ['one long line', long(HEADER_LIMITS.maxHeaderLength + 1)],
    ['many lines joined', Array.from({ length: 5000 }, () => 'ab')],
    ['many empty lines', Array.from({ length: HEADER_LIMITS.maxHeaderLength + 2 }, () => '')],
  ])('refuses %s over the limit', (_, input) => {
    expectInvalidHeader(() => parseTokenList(input));
  });
});

describe('headerHasToken', () => {
  it.each<[HeaderValue, string, boolean]>([
    ['keep-alive, Upgrade', 'upgrade', true],
    ['keep-alive, Upgrade', 'UPGRADE', true],
    ['keep-alive', 'upgrade', false],
    ['upgraded', 'upgrade', false],
    [undefined, 'upgrade', false],
    [['close', 'upgrade'], 'upgrade', true],
    ['websocket', 'websocket', true],
  ])('%j has %j -> %s', (value, token, expected) => {
    expect(headerHasToken(value, token)).toBe(expected);
  });
});

describe('parseProtocolHeader', () => {
  it.each<[HeaderValue, string[]]>([
    [undefined, []],
    ['chat', ['chat']],
    ['chat, superchat', ['chat', 'superchat']],
    ['  chat\t,superchat  ', ['chat', 'superchat']],
    ['Chat, chat', ['Chat', 'chat']],
    [
      ['chat', 'v2.json, v1.json'],
      ['chat', 'v2.json', 'v1.json'],
    ],
    [
      Array.from({ length: HEADER_LIMITS.maxProtocols }, (_, i) => `p${i}`).join(','),
      Array.from({ length: HEADER_LIMITS.maxProtocols }, (_, i) => `p${i}`),
    ],
  ])('%j -> %j', (input, expected) => {
    expect(parseProtocolHeader(input)).toEqual(expected);
  });

  it.each<[string, HeaderValue, string]>([
    ['an empty value', '', 'empty element at position 0'],
    ['a blank value', '   ', 'empty element'],
    ['an empty element', 'a,,b', 'empty element at position 2'],
    ['a trailing comma', 'a,', 'empty element at position 2'],
    ['a leading comma', ',a', 'empty element at position 0'],
    ['an empty line', ['a', ''], 'empty element'],
    ['inner space', 'a b', 'invalid subprotocol'],
    ['a separator', 'a/b', 'invalid subprotocol at position 0'],
    ['a quoted protocol', '"chat"', 'invalid subprotocol'],
    ['a non-ASCII char', 'chät', 'invalid subprotocol'],
    ['a CR LF', 'a\r\nb', 'invalid subprotocol'],
    ['a duplicate', 'chat, chat', 'duplicate subprotocol at position 5'],
    ['a duplicate across lines', ['chat', 'chat'], 'duplicate subprotocol'],
    [
      'too many',
      Array.from({ length: HEADER_LIMITS.maxProtocols + 1 }, (_, i) => `p${i}`).join(','),
      `more than ${HEADER_LIMITS.maxProtocols} subprotocols`,
    ],
    ['over-long', long(HEADER_LIMITS.maxHeaderLength + 1), 'longer than'],
  ])('refuses %s', (_, input, message) => {
    expect(expectInvalidHeader(() => parseProtocolHeader(input)).message).toContain(message);
  });
});

const pmd = 'permessage-deflate';

describe('parseExtensionHeader', () => {
  it.each<[string, HeaderValue, ExtensionOffer[]]>([
    ['absent', undefined, []],
    ['a bare name', pmd, [{ name: pmd, params: [] }]],
    [
      'a valueless param',
      `${pmd}; client_max_window_bits`,
      [{ name: pmd, params: [{ name: 'client_max_window_bits', value: null }] }],
    ],
    [
      'a token value',
      `${pmd}; server_max_window_bits=10`,
      [{ name: pmd, params: [{ name: 'server_max_window_bits', value: '10' }] }],
    ],
    [
      'a quoted value',
      `${pmd}; server_max_window_bits="10"`,
      [{ name: pmd, params: [{ name: 'server_max_window_bits', value: '10' }] }],
    ],
    [
      'a quoted value with escapes',
      'x; p="a\\b\\-c"',
      [{ name: 'x', params: [{ name: 'p', value: 'ab-c' }] }],
    ],
    [
      'OWS everywhere',
      ' \tx ;\tp = 1 ; q ,  y ;r= "2"\t',
      [
        {
          name: 'x',
          params: [
            { name: 'p', value: '1' },
            { name: 'q', value: null },
          ],
        },
        { name: 'y', params: [{ name: 'r', value: '2' }] },
      ],
    ],
    [
      'no OWS at all',
      'x;p=1;q,y',
      [
        {
          name: 'x',
          params: [
            { name: 'p', value: '1' },
            { name: 'q', value: null },
          ],
        },
        { name: 'y', params: [] },
      ],
    ],
    [
      'several offers in order, duplicates kept',
      `${pmd}; client_max_window_bits=10; client_max_window_bits=11, ${pmd}, x-webkit-deflate-frame`,
      [
        {
          name: pmd,
          params: [
            { name: 'client_max_window_bits', value: '10' },
            { name: 'client_max_window_bits', value: '11' },
          ],
        },
        { name: pmd, params: [] },
        { name: 'x-webkit-deflate-frame', params: [] },
      ],
    ],
    [
      'names kept as sent (case-sensitive)',
      'PerMessage-Deflate; Server_No_Context_Takeover',
      [
        {
          name: 'PerMessage-Deflate',
          params: [{ name: 'Server_No_Context_Takeover', value: null }],
        },
      ],
    ],
    [
      'several header lines',
      [`${pmd}; a`, 'foo; b=1'],
      [
        { name: pmd, params: [{ name: 'a', value: null }] },
        { name: 'foo', params: [{ name: 'b', value: '1' }] },
      ],
    ],
  ])('parses %s', (_, input, expected) => {
    expect(parseExtensionHeader(input)).toEqual(expected);
  });

  it('accepts exactly the limits', () => {
    const params = Array.from({ length: HEADER_LIMITS.maxParams }, (_, i) => `p${i}`).join(';');
    const offers = Array.from({ length: HEADER_LIMITS.maxOffers }, () => `x;${params}`).join(',');
    const parsed = parseExtensionHeader(offers);
    expect(parsed).toHaveLength(HEADER_LIMITS.maxOffers);
    expect(parsed[0]?.params).toHaveLength(HEADER_LIMITS.maxParams);
  });

  it.each<[string, HeaderValue, string]>([
    ['an empty value', '', 'expected extension name, found end of header at position 0'],
    ['a blank value', '  \t', 'expected extension name, found end of header at position 3'],
    ['an empty element', 'a,,b', 'expected extension name, found character "," at position 2'],
    ['a leading comma', ', a', 'expected extension name, found character "," at position 0'],
    ['a trailing comma', 'a, ', 'expected extension name, found end of header at position 3'],
    ['an empty line', ['a', ''], 'expected extension name, found end of header at position 2'],
    ['an empty param', 'a;;b', 'expected parameter name, found character ";" at position 2'],
    ['a trailing semicolon', 'a;', 'expected parameter name, found end of header at position 2'],
    ['a missing value', 'a; b=', 'expected parameter value, found end of header at position 5'],
    ['a missing value before ;', 'a; b=;c', 'expected parameter value'],
    ['a missing name before =', 'a; =1', 'expected parameter name, found character "="'],
    [
      'space inside a name',
      'perm essage',
      `expected ',' or ';', found character "e" at position 5`,
    ],
    ['space inside a value', 'a; b=1 2', `expected ',' or ';', found character "2" at position 7`],
    ['a bad name char', 'a/b', `expected ',' or ';', found character "/" at position 1`],
    ['a bad leading char', '@a', 'expected extension name, found character "@" at position 0'],
    ['a bad value char', 'a; b=(1)', 'expected parameter value, found character "("'],
    ['a double =', 'a; b==1', 'expected parameter value, found character "="'],
    [
      'an unterminated quote',
      'a; b="10',
      'unterminated quoted-string, found end of header at position 8',
    ],
    ['an escape at the end', 'a; b="1\\', 'unterminated quoted-string'],
    ['an empty quoted string', 'a; b=""', 'expected a token in quoted-string'],
    ['a space in quotes', 'a; b="1 0"', 'expected a token character in quoted-string'],
    ['a comma in quotes', 'a; b="1,0"', 'expected a token character in quoted-string'],
    ['an escaped quote', 'a; b="1\\"0"', 'expected a token character in quoted-string'],
    ['an escaped space', 'a; b="\\ "', 'expected a token character in quoted-string'],
    ['text after quotes', 'a; b="1"x', `expected ',' or ';', found character "x"`],
    ['a quoted name', '"a"; b', 'expected extension name, found character "\\""'],
    ['a CR LF', 'a\r\nb', `expected ',' or ';', found character "\\r" at position 1`],
    ['a NUL', 'a\u0000', `expected ',' or ';', found character "\\u0000"`],
    ['a non-ASCII char', 'défl', `expected ',' or ';', found character "é" at position 1`],
    [
      'too many offers',
      Array.from({ length: HEADER_LIMITS.maxOffers + 1 }, () => 'x').join(','),
      `more than ${HEADER_LIMITS.maxOffers} offers`,
    ],
    [
      'too many params',
      `x${';p'.repeat(HEADER_LIMITS.maxParams + 1)}`,
      `more than ${HEADER_LIMITS.maxParams} parameters`,
    ],
    ['over-long', `x; p="${long(HEADER_LIMITS.maxHeaderLength)}"`, 'longer than 8192 characters'],
    [
      'over-long across lines',
      [long(5000), long(5000)],
      'Sec-WebSocket-Extensions header longer than',
    ],
  ])('refuses %s', (_, input, message) => {
    expect(expectInvalidHeader(() => parseExtensionHeader(input)).message).toContain(message);
  });

  it('stays linear on hostile input', () => {
    const hostile = `x; p="${'\\a'.repeat(4000)}`;
    const start = performance.now();
    for (let i = 0; i < 100; i++) expectInvalidHeader(() => parseExtensionHeader(hostile));
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('formatExtensionHeader', () => {
  it.each<[string, ExtensionOffer[], string]>([
    ['nothing', [], ''],
    ['a bare name', [{ name: pmd, params: [] }], pmd],
    [
      'params with and without values',
      [
        {
          name: pmd,
          params: [
            { name: 'client_max_window_bits', value: null },
            { name: 'server_max_window_bits', value: '10' },
          ],
        },
      ],
      `${pmd}; client_max_window_bits; server_max_window_bits=10`,
    ],
    [
      'several offers',
      [
        { name: pmd, params: [{ name: 'a', value: null }] },
        { name: pmd, params: [] },
      ],
      `${pmd}; a, ${pmd}`,
    ],
    [
      'a value that needs quotes',
      [{ name: 'x', params: [{ name: 'p', value: 'a "b" \\c' }] }],
      'x; p="a \\"b\\" \\\\c"',
    ],
    ['an empty value', [{ name: 'x', params: [{ name: 'p', value: '' }] }], 'x; p=""'],
  ])('formats %s', (_, offers, expected) => {
    expect(formatExtensionHeader(offers)).toBe(expected);
  });

  it.each<[string, ExtensionOffer[]]>([
    ['a name with CR LF', [{ name: 'x\r\nSet-Cookie: a=b', params: [] }]],
    ['an empty name', [{ name: '', params: [] }]],
    ['a param name with space', [{ name: 'x', params: [{ name: 'a b', value: null }] }]],
    ['a value with LF', [{ name: 'x', params: [{ name: 'p', value: 'a\nb' }] }]],
    ['a value with NUL', [{ name: 'x', params: [{ name: 'p', value: '\u0000' }] }]],
    ['a value beyond Latin-1', [{ name: 'x', params: [{ name: 'p', value: '€' }] }]],
  ])('refuses %s', (_, offers) => {
    expect(() => formatExtensionHeader(offers)).toThrow(InvalidArgumentError);
  });

  it.each([`${pmd}; client_max_window_bits; server_max_window_bits=10, ${pmd}`, 'x; p=1; q, y; r'])(
    'round-trips %j',
    (header) => {
      expect(formatExtensionHeader(parseExtensionHeader(header))).toBe(header);
    },
  );
});
