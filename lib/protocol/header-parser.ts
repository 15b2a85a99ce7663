import { ErrorCode, HandshakeError, InvalidArgumentError } from './errors.js';

/**
 * One parameter of an extension offer or response. `value` is null for a parameter sent
 * without `=`; a quoted-string value is handed out unquoted, its backslash escapes resolved.
 *
 * @see RFC 6455 §9.1
 */
export interface ExtensionParam {
  name: string;
  value: string | null;
}

/**
 * One element of Sec-WebSocket-Extensions: an extension name and its parameters, in the
 * order sent, duplicates kept (the extension's own negotiation decides what they mean).
 *
 * @see RFC 6455 §9.1
 */
export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

/**
 * Bounds on what the header parsers accept, so that a hostile handshake costs a bounded
 * amount of time and memory. Generous for any real client: browsers send one or two
 * extension offers with a handful of parameters.
 */
export const HEADER_LIMITS: {
  maxHeaderLength: number;
  maxOffers: number;
  maxParams: number;
  maxProtocols: number;
} = {
  /** Characters of one header value, all its lines joined. */
  maxHeaderLength: 8192,
  /** Extension offers in one Sec-WebSocket-Extensions value. */
  maxOffers: 32,
  /** Parameters in one extension offer. */
  maxParams: 32,
  /** Subprotocols in one Sec-WebSocket-Protocol value. */
  maxProtocols: 64,
};

/** 1 for every RFC 9110 tchar below 128, 0 elsewhere. @see RFC 9110 §5.6.2 */
const TCHAR = buildTcharTable();

function buildTcharTable(): Uint8Array {
  const table = new Uint8Array(128);
  const specials = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (let i = 0; i < specials.length; i++) table[specials.charCodeAt(i)] = 1;
  return table;
}

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Tells whether a char code is optional whitespace (SP or HTAB). @see RFC 9110 §5.6.3 */
function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Tells whether `s` is an RFC 9110 token (1*tchar): the grammar of extension names,
 * parameter names and subprotocols.
 *
 * @see RFC 9110 §5.6.2
 * @example isToken('chat.v2') // true; isToken('a b') // false
 */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}

function invalidHeader(message: string): HandshakeError {
  return new HandshakeError(message, 400, { code: ErrorCode.InvalidHeader });
}

/**
 * Joins the lines of a header into one value, as RFC 9110 §5.3 allows for list-valued
 * fields, refusing it before any allocation if the total would exceed the length limit.
 */
function joinHeader(value: string | string[] | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const max = HEADER_LIMITS.maxHeaderLength;
  if (typeof value === 'string') {
    if (value.length > max) throw invalidHeader(`${what} header longer than ${max} characters`);
    return value;
  }
  let total = value.length > 0 ? value.length - 1 : 0;
  for (const line of value) {
    total += line.length;
    if (total > max) throw invalidHeader(`${what} header longer than ${max} characters`);
  }
  return value.join(',');
}

/** Cuts OWS from both ends without a regular expression. */
function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/**
 * Splits a comma-separated list (Connection, Upgrade) into lower-cased elements, OWS
 * trimmed and empty elements dropped, as RFC 9110 §5.6.1 asks recipients to do. Element
 * characters are not judged: Upgrade carries `name/version` products, not bare tokens.
 * Throws a HandshakeError 400 (InvalidHeader) on a value over the length limit.
 *
 * @see RFC 9110 §5.6.1, §7.6.1 (Connection), §7.8 (Upgrade)
 * @example parseTokenList('keep-alive, Upgrade') // ['keep-alive', 'upgrade']
 */
export function parseTokenList(value: string | string[] | undefined): string[] {
  const joined = joinHeader(value, 'token list');
  if (joined === undefined) return [];
  const out: string[] = [];
  for (const element of joined.split(',')) {
    const trimmed = trimOws(element);
    if (trimmed.length > 0) out.push(trimmed.toLowerCase());
  }
  return out;
}

/**
 * Tells whether a token-list header (Connection, Upgrade) holds `token`, compared
 * ASCII case-insensitively as those fields require. Throws like parseTokenList on a value
 * over the length limit.
 *
 * @see RFC 6455 §4.2.1 items 3-4, RFC 9110 §7.6.1
 * @example headerHasToken('keep-alive, Upgrade', 'upgrade') // true
 */
export function headerHasToken(value: string | string[] | undefined, token: string): boolean {
  return parseTokenList(value).includes(token.toLowerCase());
}

/**
 * Parses Sec-WebSocket-Protocol into its subprotocols, in the client's order of
 * preference. Subprotocols are tokens compared case-sensitively (RFC 6455 §11.3.4 registers
 * them that way); an empty element, a non-token, a duplicate, or more than
 * `HEADER_LIMITS.maxProtocols` is a malformed request: HandshakeError 400 (InvalidHeader).
 *
 * @see RFC 6455 §4.1 (1#token), §11.3.4
 * @example parseProtocolHeader('chat, superchat') // ['chat', 'superchat']
 */
export function parseProtocolHeader(value: string | string[] | undefined): string[] {
  const joined = joinHeader(value, 'Sec-WebSocket-Protocol');
  if (joined === undefined) return [];
  const out: string[] = [];
  const seen = new Set<string>();
  let position = 0;
  for (const element of joined.split(',')) {
    const protocol = trimOws(element);
    if (protocol.length === 0) {
      throw invalidHeader(`Sec-WebSocket-Protocol: empty element at position ${position}`);
    }
    if (!isToken(protocol)) {
      throw invalidHeader(`Sec-WebSocket-Protocol: invalid subprotocol at position ${position}`);
    }
    if (seen.has(protocol)) {
      throw invalidHeader(`Sec-WebSocket-Protocol: duplicate subprotocol at position ${position}`);
    }
    if (out.length === HEADER_LIMITS.maxProtocols) {
      throw invalidHeader(
        `Sec-WebSocket-Protocol: more than ${HEADER_LIMITS.maxProtocols} subprotocols`,
      );
    }
    seen.add(protocol);
    out.push(protocol);
    position += element.length + 1;
  }
  return out;
}

/**
 * A one-pass scanner over a Sec-WebSocket-Extensions value. Each step reads forward
 * only, so the cost is linear in the (bounded) input whatever it holds.
 */
class ExtensionScanner {
  readonly #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  get done(): boolean {
    return this.#pos >= this.#text.length;
  }

  /** Gives the current char code, or -1 at the end. */
  peek(): number {
    return this.#pos < this.#text.length ? this.#text.charCodeAt(this.#pos) : -1;
  }

  advance(): void {
    this.#pos++;
  }

  skipOws(): void {
    while (isOws(this.peek())) this.#pos++;
  }

  fail(what: string): HandshakeError {
    const code = this.peek();
    const found =
      code === -1 ? 'end of header' : `character ${JSON.stringify(this.#text[this.#pos])}`;
    return invalidHeader(
      `Sec-WebSocket-Extensions: ${what}, found ${found} at position ${this.#pos}`,
    );
  }

  /** Reads 1*tchar or throws, naming what was expected. */
  token(what: string): string {
    const start = this.#pos;
    while (isTchar(this.peek())) this.#pos++;
    if (this.#pos === start) throw this.fail(`expected ${what}`);
    return this.#text.slice(start, this.#pos);
  }

  /**
   * Reads a quoted-string whose unquoted value must itself be a token: RFC 6455 §9.1 says
   * so, which also rules out the empty string and any CTL, SP or separator inside quotes.
   */
  quotedToken(): string {
    this.advance(); // the opening DQUOTE
    let value = '';
    for (;;) {
      let code = this.peek();
      if (code === 0x22) break;
      if (code === 0x5c) {
        this.advance();
        code = this.peek();
        if (code === -1) throw this.fail('unterminated quoted-string');
      }
      if (code === -1) throw this.fail('unterminated quoted-string');
      if (!isTchar(code)) throw this.fail('expected a token character in quoted-string');
      value += String.fromCharCode(code);
      this.advance();
    }
    if (value.length === 0) throw this.fail('expected a token in quoted-string');
    this.advance(); // the closing DQUOTE
    return value;
  }
}

/** Reads `token [ "=" ( token / quoted-string ) ]` after a ';'. */
function scanParam(scanner: ExtensionScanner): ExtensionParam {
  const name = scanner.token('parameter name');
  scanner.skipOws();
  if (scanner.peek() !== 0x3d) return { name, value: null };
  scanner.advance();
  scanner.skipOws();
  const value = scanner.peek() === 0x22 ? scanner.quotedToken() : scanner.token('parameter value');
  scanner.skipOws();
  return { name, value };
}

/** Reads `token *( ";" param )` with OWS between the pieces. */
function scanOffer(scanner: ExtensionScanner): ExtensionOffer {
  const name = scanner.token('extension name');
  const params: ExtensionParam[] = [];
  scanner.skipOws();
  while (scanner.peek() === 0x3b) {
    if (params.length === HEADER_LIMITS.maxParams) {
      throw invalidHeader(
        `Sec-WebSocket-Extensions: more than ${HEADER_LIMITS.maxParams} parameters in one offer`,
      );
    }
    scanner.advance();
    scanner.skipOws();
    params.push(scanParam(scanner));
  }
  return { name, params };
}

/**
 * Parses Sec-WebSocket-Extensions into offers, in order (the client's order of preference,
 * or the server's order of application). Names and values are kept exactly as sent:
 * extension and parameter names are compared case-sensitively by everyone who compares
 * them (ws, python-websockets, browsers send lower case), and RFC 7692 defines its names
 * in lower case. OWS is allowed around ',', ';' and '=' (the implied LWS of RFC 6455's
 * RFC 2616-style ABNF). Empty list elements are refused, as ws refuses them: RFC 6455
 * §9.1 says 1#extension and no client sends them. A malformed value, or more than
 * `HEADER_LIMITS.maxOffers` offers or `maxParams` parameters, throws HandshakeError 400
 * (InvalidHeader) naming the position.
 *
 * @see RFC 6455 §9.1
 * @example parseExtensionHeader('permessage-deflate; client_max_window_bits')
 *   // [{ name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] }]
 */
export function parseExtensionHeader(value: string | string[] | undefined): ExtensionOffer[] {
  const joined = joinHeader(value, 'Sec-WebSocket-Extensions');
  if (joined === undefined) return [];
  const scanner = new ExtensionScanner(joined);
  const offers: ExtensionOffer[] = [];
  scanner.skipOws();
  for (;;) {
    if (offers.length === HEADER_LIMITS.maxOffers) {
      throw invalidHeader(`Sec-WebSocket-Extensions: more than ${HEADER_LIMITS.maxOffers} offers`);
    }
    offers.push(scanOffer(scanner));
    if (scanner.done) return offers;
    if (scanner.peek() !== 0x2c) throw scanner.fail("expected ',' or ';'");
    scanner.advance();
    scanner.skipOws();
  }
}

/** Refuses a name that is not a token, or a value that cannot sit in a quoted-string. */
function checkParamForFormat(param: ExtensionParam): void {
  if (!isToken(param.name)) {
    throw new InvalidArgumentError(
      `Extension parameter name is not a token: ${JSON.stringify(param.name)}`,
    );
  }
  if (param.value === null) return;
  for (let i = 0; i < param.value.length; i++) {
    const code = param.value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || code > 0xff) {
      throw new InvalidArgumentError(
        `Extension parameter ${param.name} has a value that cannot be sent in a header`,
      );
    }
  }
}

/** Writes a value bare when it is a token, else as a quoted-string. @see RFC 9110 §5.6.4 */
function formatValue(value: string): string {
  if (isToken(value)) return value;
  let out = '"';
  for (const ch of value) out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  return `${out}"`;
}

/**
 * Serializes offers into a Sec-WebSocket-Extensions value: `name; p1; p2=v, other`. A
 * value is quoted only when it is not a token (RFC 6455 §9.1 wants tokens, so the parser
 * above would refuse such a value back). Names that are not tokens, and values holding
 * CTLs such as CR or LF, throw InvalidArgumentError: they would break or inject headers.
 *
 * @see RFC 6455 §9.1
 * @example formatExtensionHeader([{ name: 'permessage-deflate', params: [{ name: 'server_max_window_bits', value: '10' }] }])
 *   // 'permessage-deflate; server_max_window_bits=10'
 */
export function formatExtensionHeader(offers: readonly ExtensionOffer[]): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (!isToken(offer.name)) {
      throw new InvalidArgumentError(
        `Extension name is not a token: ${JSON.stringify(offer.name)}`,
      );
    }
    let part = offer.name;
    for (const param of offer.params) {
      checkParamForFormat(param);
      part +=
        param.value === null ? `; ${param.name}` : `; ${param.name}=${formatValue(param.value)}`;
    }
    parts.push(part);
  }
  return parts.join(', ');
}
