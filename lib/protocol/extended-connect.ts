import { ErrorCode, HandshakeError, type HeaderMap, InvalidArgumentError } from './errors.js';
import { isFieldValue, type UpgradeRequestInfo, validateAgreement } from './handshake.js';
import { isToken, parseExtensionHeader, parseProtocolHeader } from './header-parser.js';

/**
 * The rules of WebSockets over HTTP/2 (RFC 8441), without I/O: the extended CONNECT request
 * a client sends, the checks a server runs on it, the answers (200 or a refusal) as HTTP/2
 * header blocks, and the client's checks of the answer. The HTTP/1.1 handshake's rules that
 * still apply (version 13, subprotocols, extensions, origin) are the same functions.
 *
 * @see RFC 8441 §4 (the extended CONNECT), §5 (its use for WebSockets)
 */

/** The `:protocol` value that asks for a WebSocket. @see RFC 8441 §4, RFC 6455 §11.2 */
export const WEBSOCKET_PROTOCOL = 'websocket';

/** An HTTP/2 header block as node:http2 takes it (values may be numbers, as `:status`). */
export type Http2HeaderBlock = Record<string, string | string[] | number>;

/** An HTTP/2 header block as node:http2 delivers it (`:status` is a number). */
export type ReceivedHeaderBlock = Record<string, string | string[] | number | undefined>;

/**
 * Connection-specific fields: an HTTP/2 message carrying one is malformed, and node:http2
 * throws when asked to send one (ERR_HTTP2_INVALID_CONNECTION_HEADERS). `te` is the
 * exception when it says `trailers`, checked apart.
 *
 * @see RFC 9113 §8.2.2
 */
export const CONNECTION_SPECIFIC_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'http2-settings',
]);

/** The only protocol version spoken: 13. @see RFC 6455 §4.1, RFC 8441 §5 */
const SUPPORTED_VERSION = '13';

/** Schemes an extended CONNECT may name. @see RFC 8441 §4, RFC 9113 §8.3.1 */
const SCHEMES: ReadonlySet<string> = new Set(['https', 'http']);

/** What a valid extended CONNECT asks for: the HTTP/1.1 request's fields, and its scheme. */
export interface ExtendedConnectInfo extends UpgradeRequestInfo {
  /** '' over HTTP/2: the key and its accept are superseded by `:protocol` (RFC 8441 §5). */
  key: string;
  /** The `:scheme`: 'https' or 'http'. */
  scheme: string;
}

function badRequest(message: string, code: ErrorCode = ErrorCode.Handshake): HandshakeError {
  return new HandshakeError(message, 400, { code });
}

/** Gives a pseudo-header's value as one string, or undefined when absent or empty. */
function pseudo(headers: ReceivedHeaderBlock, name: string): string | undefined {
  const value = headers[name];
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return undefined;
  return value === '' ? undefined : value;
}

function asHeaderValue(
  value: string | string[] | number | undefined,
): string | string[] | undefined {
  return typeof value === 'number' ? String(value) : value;
}

/**
 * Tells whether a stream's headers are an extended CONNECT (`:method CONNECT` with a
 * `:protocol`), whatever the protocol: the requests a WebSocket server over HTTP/2 answers.
 * A plain CONNECT (no `:protocol`) is a proxy's business, not ours.
 *
 * @see RFC 8441 §4
 * @example isExtendedConnect({ ':method': 'CONNECT', ':protocol': 'websocket' }) // true
 */
export function isExtendedConnect(headers: ReceivedHeaderBlock): boolean {
  return headers[':method'] === 'CONNECT' && headers[':protocol'] !== undefined;
}

/**
 * Requires Sec-WebSocket-Version: 13. A wrong or missing one is answered 400 with the
 * version spoken, not 426 as over HTTP/1.1: a 426 must carry an Upgrade field (RFC 9110
 * §15.5.22), which HTTP/2 forbids (RFC 9113 §8.2.2).
 *
 * @see RFC 6455 §4.2.2 (item 4), §4.4, RFC 8441 §5
 */
function checkVersion(headers: ReceivedHeaderBlock): void {
  const raw = asHeaderValue(headers['sec-websocket-version']);
  const lines = raw === undefined ? [] : typeof raw === 'string' ? [raw] : raw;
  if (lines.length !== 1 || lines[0]?.trim() !== SUPPORTED_VERSION) {
    throw new HandshakeError(
      lines.length === 0
        ? 'Missing sec-websocket-version header'
        : 'Unsupported sec-websocket-version',
      400,
      { headers: { 'sec-websocket-version': SUPPORTED_VERSION } },
    );
  }
}

/**
 * Validates an extended CONNECT on the server side and says what it asks for, in this
 * order, each failure a HandshakeError carrying the status to answer: `:method` CONNECT
 * (405); `:protocol` present (400: a plain CONNECT is no WebSocket) and `websocket`,
 * compared case-insensitively as RFC 6455 compares the Upgrade token (501 for another
 * protocol: the server does not implement it); `:scheme` http or https, `:path` and
 * `:authority` present (400, RFC 8441 §4 requires them); no connection-specific field
 * (400, RFC 9113 §8.2.2); sec-websocket-version 13 (400 with the version, see
 * checkVersion); sec-websocket-protocol and -extensions well-formed (400). No key is
 * required or read (RFC 8441 §5). Origin is returned, not judged.
 *
 * node:http2 (nghttp2) already resets most malformed streams itself; these checks hold for
 * headers handed to `handleStream()` by an application, whatever their origin.
 *
 * @see RFC 8441 §4, §5, RFC 6455 §4.2.1
 * @example
 * const info = validateExtendedConnect(headers); // throws HandshakeError
 * stream.respond(buildExtendedConnectAccept({}));
 */
export function validateExtendedConnect(headers: ReceivedHeaderBlock): ExtendedConnectInfo {
  if (headers[':method'] !== 'CONNECT') {
    throw new HandshakeError(
      'Method not allowed: a WebSocket over HTTP/2 is an extended CONNECT (RFC 8441)',
      405,
      { headers: { allow: 'CONNECT' } },
    );
  }
  const protocol = pseudo(headers, ':protocol');
  if (protocol === undefined) {
    throw badRequest('Missing :protocol: a CONNECT without one is not a WebSocket (RFC 8441 §4)');
  }
  if (protocol.toLowerCase() !== WEBSOCKET_PROTOCOL) {
    throw new HandshakeError(
      `Unsupported :protocol ${JSON.stringify(protocol.slice(0, 64))}: this endpoint speaks websocket`,
      501,
    );
  }
  const scheme = pseudo(headers, ':scheme');
  if (scheme === undefined || !SCHEMES.has(scheme.toLowerCase())) {
    throw badRequest('An extended CONNECT needs :scheme http or https (RFC 8441 §4)');
  }
  const path = pseudo(headers, ':path');
  if (path === undefined) throw badRequest('An extended CONNECT needs a :path (RFC 8441 §4)');
  const authority = pseudo(headers, ':authority');
  if (authority === undefined || authority.trim() === '') {
    throw badRequest('An extended CONNECT needs an :authority (RFC 8441 §4)');
  }
  for (const name of Object.keys(headers)) {
    if (CONNECTION_SPECIFIC_FIELDS.has(name.toLowerCase())) {
      throw badRequest(
        `Connection-specific header ${name} in an HTTP/2 request`,
        ErrorCode.InvalidHeader,
      );
    }
  }
  checkVersion(headers);
  const protocols = parseProtocolHeader(asHeaderValue(headers['sec-websocket-protocol']));
  const extensions = parseExtensionHeader(asHeaderValue(headers['sec-websocket-extensions']));
  const origin = firstValue(headers.origin) ?? firstValue(headers['sec-websocket-origin']);
  return {
    key: '',
    version: 13,
    protocols,
    extensions,
    origin,
    host: authority,
    resource: path,
    scheme: scheme.toLowerCase(),
  };
}

function firstValue(value: string | string[] | number | undefined): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value : value?.[0];
}

/** Fields the server's answers set themselves, besides pseudo-headers and connection-specific ones. */
const RESERVED_ACCEPT_FIELDS: ReadonlySet<string> = new Set([
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'te',
]);

const RESERVED_REJECT_FIELDS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'te',
]);

/**
 * Copies an application's extra fields into an HTTP/2 header block, lower-cased (RFC 9113
 * §8.2.1 wants lower-case names), refusing what node:http2 would throw on or what would
 * break the answer: a name that is not a token, a pseudo-header, a connection-specific
 * field, a reserved one, a value with a control character.
 */
function addFields(
  out: Http2HeaderBlock,
  headers: HeaderMap | undefined,
  reserved: ReadonlySet<string>,
): void {
  if (headers === undefined) return;
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    if (!isToken(rawName)) {
      throw new InvalidArgumentError(`Invalid header name: ${JSON.stringify(rawName)}`);
    }
    if (CONNECTION_SPECIFIC_FIELDS.has(name)) {
      throw new InvalidArgumentError(
        `Header ${rawName} is connection-specific and cannot be sent over HTTP/2 (RFC 9113 §8.2.2)`,
      );
    }
    if (reserved.has(name)) {
      throw new InvalidArgumentError(
        `Header ${rawName} is set by the handshake and cannot be given`,
      );
    }
    const lines = typeof value === 'string' ? [value] : value;
    for (const line of lines) {
      if (typeof line !== 'string' || !isFieldValue(line)) {
        throw new InvalidArgumentError(`Invalid value for header ${rawName}`);
      }
    }
    const previous = out[name];
    out[name] =
      previous === undefined
        ? typeof value === 'string'
          ? value
          : [...value]
        : [...[previous].flat().map(String), ...lines];
  }
}

/**
 * Builds the header block that accepts an extended CONNECT: `:status 200`, the chosen
 * subprotocol (a token) and the agreed extensions, and the application's extra fields
 * (Set-Cookie, say), checked. No Sec-WebSocket-Accept: over HTTP/2 the key is not used.
 * Bad input throws InvalidArgumentError before anything is sent.
 *
 * @see RFC 8441 §5 ("a 200 response"; the key and accept are superseded), RFC 6455 §4.2.2
 * @example buildExtendedConnectAccept({ protocol: 'chat' }) // { ':status': 200, 'sec-websocket-protocol': 'chat' }
 */
export function buildExtendedConnectAccept(init: {
  protocol?: string | undefined;
  extensions?: string | undefined;
  headers?: HeaderMap | undefined;
}): Http2HeaderBlock {
  const out: Http2HeaderBlock = { ':status': 200 };
  if (init.protocol !== undefined) {
    if (!isToken(init.protocol)) {
      throw new InvalidArgumentError('Sec-WebSocket-Protocol must be a token');
    }
    out['sec-websocket-protocol'] = init.protocol;
  }
  if (init.extensions !== undefined && init.extensions !== '') {
    if (!isFieldValue(init.extensions)) {
      throw new InvalidArgumentError('Invalid Sec-WebSocket-Extensions value');
    }
    out['sec-websocket-extensions'] = init.extensions;
  }
  addFields(out, init.headers, RESERVED_ACCEPT_FIELDS);
  return out;
}

/** What refuses an extended CONNECT: the header block and its body. */
export interface ExtendedConnectRejection {
  headers: Http2HeaderBlock;
  body: string;
}

/**
 * Builds the answer that refuses an extended CONNECT: the status (an integer 300-599), a
 * text/plain body of `reason` (the status's number by default) with its exact length, and
 * the application's extra fields (WWW-Authenticate, say), checked. The stream carries one
 * request, so nothing like HTTP/1.1's `Connection: close` is needed: ending the stream ends
 * the exchange. Bad input throws InvalidArgumentError.
 *
 * @see RFC 8441 §5 (a non-2xx answer refuses), RFC 9113 §8.1
 * @example buildExtendedConnectRejection(404, 'No WebSocket endpoint at this path')
 */
export function buildExtendedConnectRejection(
  status: number,
  reason?: string,
  headers?: HeaderMap,
): ExtendedConnectRejection {
  if (!Number.isInteger(status) || status < 300 || status > 599) {
    throw new InvalidArgumentError(`Invalid status for a rejected WebSocket request: ${status}`);
  }
  const body = reason ?? String(status);
  const out: Http2HeaderBlock = {
    ':status': status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  };
  addFields(out, headers, RESERVED_REJECT_FIELDS);
  return { headers: out, body };
}

/** Fields a client's extended CONNECT sets itself (besides the connection-specific ones). */
const RESERVED_REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'host',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'te',
]);

/**
 * Builds a client's extended CONNECT: `:method CONNECT`, `:protocol websocket`, `:scheme`,
 * `:path`, `:authority` (never a Host field), sec-websocket-version 13, the subprotocols and
 * extensions offered, the Origin, and the application's extra fields, checked (a bad name
 * here must never reach node:http2, whose request() destroys the whole session over one).
 *
 * @see RFC 8441 §4, §5, RFC 9113 §8.3.1
 * @example
 * buildExtendedConnectRequest({ scheme: 'https', authority: 'example.com', path: '/chat' })
 */
export function buildExtendedConnectRequest(init: {
  scheme: 'https' | 'http';
  authority: string;
  path: string;
  protocols?: readonly string[] | undefined;
  extensions?: string | undefined;
  origin?: string | undefined;
  headers?: HeaderMap | undefined;
}): Http2HeaderBlock {
  if (init.authority === '' || !isFieldValue(init.authority)) {
    throw new InvalidArgumentError(`Invalid :authority ${JSON.stringify(init.authority)}`);
  }
  if (!init.path.startsWith('/') || !isFieldValue(init.path) || /\s/.test(init.path)) {
    throw new InvalidArgumentError(`Invalid :path ${JSON.stringify(init.path)}`);
  }
  const out: Http2HeaderBlock = {
    ':method': 'CONNECT',
    ':protocol': WEBSOCKET_PROTOCOL,
    ':scheme': init.scheme,
    ':path': init.path,
    ':authority': init.authority,
    'sec-websocket-version': SUPPORTED_VERSION,
  };
  const protocols = init.protocols ?? [];
  if (protocols.length > 0) {
    for (const protocol of protocols) {
      if (!isToken(protocol)) throw new InvalidArgumentError(`Invalid subprotocol: ${protocol}`);
    }
    out['sec-websocket-protocol'] = protocols.join(', ');
  }
  if (init.extensions !== undefined && init.extensions !== '') {
    if (!isFieldValue(init.extensions)) {
      throw new InvalidArgumentError('Invalid Sec-WebSocket-Extensions value');
    }
    out['sec-websocket-extensions'] = init.extensions;
  }
  if (init.origin !== undefined) {
    if (!isFieldValue(init.origin)) throw new InvalidArgumentError('Invalid Origin value');
    out.origin = init.origin;
  }
  addFields(out, init.headers, RESERVED_REQUEST_FIELDS);
  return out;
}

/**
 * Validates the server's answer to an extended CONNECT on the client side: a 2xx status
 * (RFC 9110 §9.3.6: any 2xx establishes a CONNECT tunnel; RFC 8441 §5 servers send 200),
 * else a HandshakeError with the status and headers; then the subprotocol and extensions,
 * as over HTTP/1.1 (validateAgreement). No Sec-WebSocket-Accept is expected (RFC 8441 §5).
 *
 * @see RFC 8441 §5, RFC 6455 §4.1 (items 5-6)
 * @example
 * validateExtendedConnectResponse({ ':status': 200 }, { offeredProtocols: [], offeredExtensions: [] })
 */
export function validateExtendedConnectResponse(
  headers: ReceivedHeaderBlock,
  expected: { offeredProtocols: readonly string[]; offeredExtensions: readonly string[] },
): ReturnType<typeof validateAgreement> {
  const status = Number(headers[':status'] ?? 0);
  const fields: HeaderMap = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(':')) fields[name] = asHeaderValue(value);
  }
  if (!(status >= 200 && status < 300)) {
    throw new HandshakeError(`Unexpected server response: ${status || 'none'}`, status, {
      headers: fields,
    });
  }
  return validateAgreement({ statusCode: status, headers: fields }, expected);
}
