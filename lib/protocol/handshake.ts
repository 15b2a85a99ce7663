import { createHash, randomBytes } from 'node:crypto';
import { ErrorCode, HandshakeError, type HeaderMap, InvalidArgumentError } from './errors.js';
import {
  type ExtensionOffer,
  headerHasToken,
  isToken,
  parseExtensionHeader,
  parseProtocolHeader,
  parseTokenList,
} from './header-parser.js';

/** The GUID appended to the key before hashing. @see RFC 6455 §1.3, §4.2.2 */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The only protocol version this library speaks. @see RFC 6455 §4.1, §11.6 */
const SUPPORTED_VERSION = '13';

/**
 * Generates a Sec-WebSocket-Key: 16 bytes from the cryptographic source, base64 (24
 * characters). The key need not be secret, but it must be fresh for each connection so
 * that caches and intermediaries cannot replay an old answer.
 *
 * @see RFC 6455 §4.1 (item 7), §10.3
 * @example generateKey() // e.g. 'dGhlIHNhbXBsZSBub25jZQ=='
 */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/**
 * Computes Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). It proves the server
 * read this very request as a WebSocket handshake.
 *
 * @see RFC 6455 §4.2.2 (item 5.4)
 * @example acceptValue('dGhlIHNhbXBsZSBub25jZQ==') // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
 */
export function acceptValue(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID, 'latin1')
    .digest('base64');
}

function isBase64Char(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2b || // +
    code === 0x2f // /
  );
}

/**
 * Tells whether a key has the shape of base64 of 16 bytes: 22 characters of the base64
 * alphabet and '=='. The unused low bits of the 22nd character are not judged, as ws does
 * not judge them: a sloppy encoder still sends 16 random bytes.
 *
 * @see RFC 6455 §4.1 (item 7), §4.2.1 (item 5)
 * @example isValidKey('dGhlIHNhbXBsZSBub25jZQ==') // true
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || !key.endsWith('==')) return false;
  for (let i = 0; i < 22; i++) {
    if (!isBase64Char(key.charCodeAt(i))) return false;
  }
  return true;
}

/** The parts of an HTTP request that the server-side handshake looks at. */
export interface UpgradeRequestLike {
  method: string | undefined;
  /** As node:http gives it: '1.1', '1.0', '2.0'. */
  httpVersion: string;
  /** Lower-case names, as node:http gives them. */
  headers: HeaderMap;
  url?: string | undefined;
}

/** What a valid opening handshake request asks for. */
export interface UpgradeRequestInfo {
  key: string;
  version: 13;
  /** Requested subprotocols, in the client's order of preference. */
  protocols: string[];
  /** Extension offers, in the client's order of preference. */
  extensions: ExtensionOffer[];
  /** Origin, or Sec-WebSocket-Origin from pre-RFC clients; the first if several. */
  origin: string | undefined;
  host: string;
  /** The request target as sent, '/' when absent. */
  resource: string;
}

function badRequest(message: string, code: ErrorCode = ErrorCode.Handshake): HandshakeError {
  return new HandshakeError(message, 400, { code });
}

/** Gives a header's single value, or undefined when absent; throws when repeated. */
function singleValue(headers: HeaderMap, name: string, label: string): string | undefined {
  const value = headers[name];
  if (value === undefined || typeof value === 'string') return value;
  if (value.length === 0) return undefined;
  if (value.length > 1) throw badRequest(`Multiple ${label} headers`, ErrorCode.InvalidHeader);
  return value[0];
}

function checkMethod(method: string | undefined): void {
  if (method !== 'GET') {
    throw new HandshakeError('Method not allowed: a WebSocket upgrade must be a GET', 405, {
      headers: { allow: 'GET' },
    });
  }
}

/** Requires HTTP/1.x with x >= 1: the Upgrade mechanism belongs to HTTP/1.1. */
function checkHttpVersion(httpVersion: string): void {
  const dot = httpVersion.indexOf('.');
  const major = Number(dot === -1 ? httpVersion : httpVersion.slice(0, dot));
  const minor = dot === -1 ? 0 : Number(httpVersion.slice(dot + 1));
  if (major > 1) {
    throw badRequest(`HTTP/${httpVersion} has no Upgrade; WebSocket over HTTP/2 is RFC 8441`);
  }
  if (major !== 1 || !(minor >= 1)) {
    throw badRequest(`HTTP/1.1 or later required, got HTTP/${httpVersion}`);
  }
}

function checkHost(headers: HeaderMap): string {
  const host = singleValue(headers, 'host', 'Host');
  if (host === undefined) throw badRequest('Missing Host header');
  if (host.trim().length === 0) throw badRequest('Empty Host header', ErrorCode.InvalidHeader);
  return host;
}

function checkUpgradeTokens(headers: HeaderMap): void {
  if (!headerHasToken(headers.upgrade, 'websocket')) {
    throw badRequest("Upgrade header must contain 'websocket'");
  }
  if (!headerHasToken(headers.connection, 'upgrade')) {
    throw badRequest("Connection header must contain 'upgrade'");
  }
}

/**
 * Requires Sec-WebSocket-Version: 13. A missing header is answered like a wrong one, 426
 * with the version we speak: a request that carries the upgrade markers but no version
 * comes from a pre-RFC draft client (hixie-76 sent none), which is exactly "a version not
 * understood", and the 426 tells it what to speak.
 *
 * @see RFC 6455 §4.2.2 (item 4), §4.4
 */
function checkVersion(headers: HeaderMap): void {
  const raw = headers['sec-websocket-version'];
  const lines = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
  if (lines.length !== 1 || lines[0]?.trim() !== SUPPORTED_VERSION) {
    const message =
      lines.length === 0
        ? 'Missing Sec-WebSocket-Version header'
        : 'Unsupported Sec-WebSocket-Version';
    throw new HandshakeError(message, 426, {
      headers: { 'sec-websocket-version': SUPPORTED_VERSION },
    });
  }
}

function checkKey(headers: HeaderMap): string {
  const key = singleValue(headers, 'sec-websocket-key', 'Sec-WebSocket-Key');
  if (key === undefined) throw badRequest('Missing Sec-WebSocket-Key header');
  if (!isValidKey(key.trim())) {
    throw badRequest('Invalid Sec-WebSocket-Key header', ErrorCode.InvalidHeader);
  }
  return key.trim();
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0];
}

/**
 * Validates an opening handshake request on the server side and says what it asks for.
 * The checks run in this order, each failure a HandshakeError carrying the status to
 * answer with: method GET (405 with `allow: GET`); HTTP/1.1 or later (400, HTTP/2 too:
 * that is RFC 8441's extended CONNECT); Host (400); Upgrade holds 'websocket' and
 * Connection holds 'upgrade' (400); Sec-WebSocket-Version 13 (426 with
 * `sec-websocket-version: 13`, missing too: see checkVersion); Sec-WebSocket-Key (400);
 * Sec-WebSocket-Protocol and -Extensions well-formed (400). The version is checked before
 * the key so that a client of another version learns what to speak rather than that its
 * key is wrong. Code: InvalidHeader when a header is present but malformed, Handshake
 * when something required is missing or unsupported. Origin is returned, not judged.
 *
 * @see RFC 6455 §4.2.1, §4.2.2, RFC 9110 §15.5.6 (405), §15.5.22 (426)
 * @example
 * const info = validateUpgradeRequest(req); // throws HandshakeError
 * socket.write(buildAcceptResponse({ key: info.key }));
 */
export function validateUpgradeRequest(req: UpgradeRequestLike): UpgradeRequestInfo {
  const { headers } = req;
  checkMethod(req.method);
  checkHttpVersion(req.httpVersion);
  const host = checkHost(headers);
  checkUpgradeTokens(headers);
  checkVersion(headers);
  const key = checkKey(headers);
  const protocols = parseProtocolHeader(headers['sec-websocket-protocol']);
  const extensions = parseExtensionHeader(headers['sec-websocket-extensions']);
  const origin = firstValue(headers.origin) ?? firstValue(headers['sec-websocket-origin']);
  return { key, version: 13, protocols, extensions, origin, host, resource: req.url ?? '/' };
}

/**
 * Tells whether a header value can be written as is: no CTL but HTAB, Latin-1 only (so no
 * CR, LF or NUL, which RFC 9113 §8.2.1 also forbids in an HTTP/2 field value).
 *
 * @see RFC 9110 §5.5
 * @example isFieldValue('Bearer t') // true; isFieldValue('a\r\nb') // false
 */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || code > 0xff) return false;
  }
  return true;
}

/**
 * Writes extra header lines, refusing what would inject or break a header (a name that is
 * not a token, a value with CR, LF or another CTL) and names the caller may not set.
 */
function formatHeaderLines(headers: HeaderMap | undefined, reserved: ReadonlySet<string>): string {
  if (headers === undefined) return '';
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (!isToken(name)) {
      throw new InvalidArgumentError(`Invalid header name: ${JSON.stringify(name)}`);
    }
    if (reserved.has(name.toLowerCase())) {
      throw new InvalidArgumentError(`Header ${name} is set by the handshake and cannot be given`);
    }
    for (const line of typeof value === 'string' ? [value] : value) {
      if (!isFieldValue(line)) {
        throw new InvalidArgumentError(`Invalid value for header ${name}`);
      }
      out += `${name}: ${line}\r\n`;
    }
  }
  return out;
}

/**
 * Names a 101 answer may not carry from the caller: the handshake's own fields, and
 * framing fields that a 1xx response must not have (RFC 9110 §8.6, RFC 9112 §6.1).
 */
const RESERVED_ACCEPT_HEADERS: ReadonlySet<string> = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/**
 * Builds the head of the 101 answer that completes a server's handshake, ending with the
 * empty line. `protocol` must be a token (one of the client's, see selectProtocol) and
 * `extensions` a formatted Sec-WebSocket-Extensions value; extra headers are validated,
 * and may not repeat the handshake's own fields. Any bad input throws InvalidArgumentError
 * before anything is written, so no response can be split or smuggled.
 *
 * @see RFC 6455 §4.2.2 (item 5)
 * @example
 * buildAcceptResponse({ key: 'dGhlIHNhbXBsZSBub25jZQ==', protocol: 'chat' })
 * // 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
 * // 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n'
 */
export function buildAcceptResponse(init: {
  key: string;
  protocol?: string | undefined;
  extensions?: string | undefined;
  headers?: HeaderMap | undefined;
}): string {
  if (!isValidKey(init.key)) throw new InvalidArgumentError('Invalid Sec-WebSocket-Key');
  let head =
    'HTTP/1.1 101 Switching Protocols\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${acceptValue(init.key)}\r\n`;
  if (init.protocol !== undefined) {
    if (!isToken(init.protocol)) {
      throw new InvalidArgumentError('Sec-WebSocket-Protocol must be a token');
    }
    head += `Sec-WebSocket-Protocol: ${init.protocol}\r\n`;
  }
  if (init.extensions !== undefined && init.extensions !== '') {
    if (!isFieldValue(init.extensions)) {
      throw new InvalidArgumentError('Invalid Sec-WebSocket-Extensions value');
    }
    head += `Sec-WebSocket-Extensions: ${init.extensions}\r\n`;
  }
  return `${head}${formatHeaderLines(init.headers, RESERVED_ACCEPT_HEADERS)}\r\n`;
}

/** Reason phrases for the statuses a rejected upgrade commonly carries. @see RFC 9110 §15 */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const RESERVED_REJECT_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'content-type',
  'content-length',
  'transfer-encoding',
]);

/**
 * Builds a complete HTTP error response refusing an upgrade: status line, `Connection:
 * close` (the socket is closed after it), a text/plain body of `reason` (the status's
 * reason phrase by default) with its exact Content-Length, and validated extra headers
 * (e.g. HandshakeError's `allow` or `sec-websocket-version`). The caller's reason goes in
 * the body only, never in the status line. `status` must be an integer 300-599: a 1xx or
 * 2xx does not refuse anything. Bad input throws InvalidArgumentError.
 *
 * @see RFC 6455 §4.2.2, RFC 9112 §4 (status line), §9.6 (Connection: close)
 * @example buildRejectResponse(426, undefined, { 'sec-websocket-version': '13' })
 */
export function buildRejectResponse(status: number, reason?: string, headers?: HeaderMap): string {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw new InvalidArgumentError(`Invalid status for a rejected upgrade: ${status}`);
  }
  const text = STATUS_TEXT[status] ?? '';
  const body = reason ?? (text || String(status));
  return (
    `HTTP/1.1 ${status} ${text}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `${formatHeaderLines(headers, RESERVED_REJECT_HEADERS)}\r\n${body}`
  );
}

/** The parts of the server's answer that the client-side handshake looks at. */
export interface UpgradeResponseLike {
  statusCode: number | undefined;
  headers: HeaderMap;
}

/** What the server agreed to. */
export interface UpgradeResponseInfo {
  protocol: string | undefined;
  /** The extensions in use, in the server's order (the order they apply). */
  extensions: ExtensionOffer[];
}

/** Fails the client's handshake: the status is what the server answered (101 here). */
function badResponse(message: string, res: UpgradeResponseLike, cause?: unknown): HandshakeError {
  return new HandshakeError(message, res.statusCode ?? 0, {
    code: ErrorCode.Handshake,
    headers: res.headers,
    cause,
  });
}

/** Runs a header parser, turning its 400 into a failure that carries the status received. */
function parseResponseHeader<T>(res: UpgradeResponseLike, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof HandshakeError) throw badResponse(err.message, res, err);
    throw err;
  }
}

function checkResponseUpgrade(res: UpgradeResponseLike): void {
  const upgrade = parseResponseHeader(res, () => parseTokenList(res.headers.upgrade));
  if (upgrade.length !== 1 || upgrade[0] !== 'websocket') {
    throw badResponse("Invalid Upgrade header in response: expected 'websocket'", res);
  }
  const hasUpgrade = parseResponseHeader(res, () =>
    headerHasToken(res.headers.connection, 'upgrade'),
  );
  if (!hasUpgrade) {
    throw badResponse("Invalid Connection header in response: expected 'Upgrade'", res);
  }
}

function checkResponseAccept(res: UpgradeResponseLike, key: string): void {
  const accept = res.headers['sec-websocket-accept'];
  if (accept === undefined) throw badResponse('Missing Sec-WebSocket-Accept header', res);
  if (typeof accept !== 'string' || accept.trim() !== acceptValue(key)) {
    throw badResponse('Invalid Sec-WebSocket-Accept header', res);
  }
}

function checkResponseProtocol(
  res: UpgradeResponseLike,
  offered: readonly string[],
): string | undefined {
  const raw = res.headers['sec-websocket-protocol'];
  if (raw === undefined) return undefined;
  if (offered.length === 0) {
    throw badResponse('Server sent a subprotocol but none was requested', res);
  }
  const protocol = typeof raw === 'string' ? raw.trim() : undefined;
  if (protocol === undefined || !isToken(protocol)) {
    throw badResponse('Invalid Sec-WebSocket-Protocol header in response: expected one token', res);
  }
  if (!offered.includes(protocol)) {
    throw badResponse(`Server sent a subprotocol that was not requested: ${protocol}`, res);
  }
  return protocol;
}

function checkResponseExtensions(
  res: UpgradeResponseLike,
  offered: readonly string[],
): ExtensionOffer[] {
  const extensions = parseResponseHeader(res, () =>
    parseExtensionHeader(res.headers['sec-websocket-extensions']),
  );
  const seen = new Set<string>();
  for (const { name } of extensions) {
    if (!offered.includes(name)) {
      throw badResponse(`Server accepted an extension that was not offered: ${name}`, res);
    }
    if (seen.has(name)) throw badResponse(`Server accepted extension ${name} twice`, res);
    seen.add(name);
  }
  return extensions;
}

/**
 * Validates the server's answer on the client side, in RFC 6455 §4.1's order: status 101
 * (else a HandshakeError with the status received), Upgrade exactly 'websocket' (case-
 * insensitive), Connection holding 'upgrade', Sec-WebSocket-Accept equal to
 * acceptValue(key), Sec-WebSocket-Extensions naming only offered extensions, each at most
 * once, and Sec-WebSocket-Protocol absent or one token among those offered (absent is
 * allowed even when some were offered: the server chose none, as browsers accept). Every
 * failure is a HandshakeError (code Handshake) with the status received and the headers.
 * The extensions' parameters are the extension's own business (acceptDeflateResponse).
 *
 * @see RFC 6455 §4.1 (the client's checks, items 1-6), §4.2.2
 * @example
 * const { protocol, extensions } = validateUpgradeResponse(res, {
 *   key, offeredProtocols: ['chat'], offeredExtensions: ['permessage-deflate'],
 * });
 */
export function validateUpgradeResponse(
  res: UpgradeResponseLike,
  expected: {
    key: string;
    offeredProtocols: readonly string[];
    offeredExtensions: readonly string[];
  },
): UpgradeResponseInfo {
  if (res.statusCode !== 101) {
    throw badResponse(`Unexpected server response: ${res.statusCode ?? 'none'}`, res);
  }
  checkResponseUpgrade(res);
  checkResponseAccept(res, expected.key);
  return validateAgreement(res, expected);
}

/**
 * Checks what an accepting answer agreed to, whatever carried it (a 101, or the 200 of an
 * HTTP/2 extended CONNECT): Sec-WebSocket-Extensions naming only offered extensions, each
 * at most once, and Sec-WebSocket-Protocol absent or one token among those offered. Fails
 * with a HandshakeError carrying the status received, as validateUpgradeResponse does.
 *
 * @see RFC 6455 §4.1 (items 5-6), RFC 8441 §5 (the same fields over HTTP/2)
 * @example validateAgreement({ statusCode: 200, headers: {} }, { offeredProtocols: [], offeredExtensions: [] })
 */
export function validateAgreement(
  res: UpgradeResponseLike,
  expected: { offeredProtocols: readonly string[]; offeredExtensions: readonly string[] },
): UpgradeResponseInfo {
  const extensions = checkResponseExtensions(res, expected.offeredExtensions);
  const protocol = checkResponseProtocol(res, expected.offeredProtocols);
  return { protocol, extensions };
}

/**
 * Picks the server's subprotocol: with a list, the first of the client's protocols, in the
 * client's order of preference, that the server supports (compared case-sensitively);
 * with a function, whatever it returns. A function returning a protocol the client did
 * not request throws InvalidArgumentError: the client would fail the connection.
 *
 * @see RFC 6455 §4.2.2 (item 5.4, /subprotocol/), §1.9
 * @example selectProtocol(['v2', 'v1'], ['v1', 'v2']) // 'v2'
 */
export function selectProtocol(
  requested: readonly string[],
  supported: readonly string[] | ((requested: readonly string[]) => string | undefined),
): string | undefined {
  if (typeof supported === 'function') {
    const chosen = supported(requested);
    if (chosen !== undefined && !requested.includes(chosen)) {
      throw new InvalidArgumentError(`Selected subprotocol was not requested: ${chosen}`);
    }
    return chosen;
  }
  return requested.find((protocol) => supported.includes(protocol));
}
