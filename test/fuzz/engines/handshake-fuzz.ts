/**
 * Differential fuzzing of the handshake parsers (lib/protocol/handshake.ts and
 * header-parser.ts): seeded valid requests and responses, built from the RFC 6455 §4 and
 * §9.1 grammars, then mutated (headers dropped, repeated, emptied, cut, bytes inserted,
 * control and non-Latin-1 characters, very long lists, wrong methods and versions), go
 * through validateUpgradeRequest / validateUpgradeResponse and through references written
 * from those functions' documented contracts. Both must agree: on success, on exactly what
 * was parsed; on failure, on the HTTP status and the error code. Every failure must be a
 * HandshakeError; no call may take more than a bound; and whatever permessage-deflate
 * makes of the parsed offers must be an agreement in range or a refusal.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, HandshakeError, type HeaderMap } from '../../../lib/protocol/errors.js';
import {
  type UpgradeRequestLike,
  validateUpgradeRequest,
  validateUpgradeResponse,
} from '../../../lib/protocol/handshake.js';
import {
  type ExtensionOffer,
  formatExtensionHeader,
  parseExtensionHeader,
} from '../../../lib/protocol/header-parser.js';
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
} from '../../../lib/protocol/permessage-deflate-params.js';
import { SeededRandom, withoutStackTraces } from '../../helpers/seeded-random.js';

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const MAX_HEADER = 8192;

const TCHAR_TABLE = new Uint8Array(128);
for (let i = 0; i < TCHARS.length; i++) TCHAR_TABLE[TCHARS.charCodeAt(i)] = 1;
function isTchar(c: number): boolean {
  return c < 128 && TCHAR_TABLE[c] === 1;
}
function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}
const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(`${status} ${code}`);
  }
}
const refuse = (status: number, code: string = ErrorCode.Handshake): Refusal =>
  new Refusal(status, code);
const malformed = (): Refusal => refuse(400, ErrorCode.InvalidHeader);

/** Joins a header's lines with ',' (RFC 9110 §5.3), refusing more than 8192 characters. */
function joined(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : value.join(',');
  if (text.length > MAX_HEADER) throw malformed();
  return text;
}

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isOws(s.charCodeAt(a))) a++;
  while (b > a && isOws(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

function tokenList(value: string | string[] | undefined): string[] {
  const text = joined(value);
  if (text === undefined) return [];
  return text
    .split(',')
    .map(trimOws)
    .filter((t) => t.length > 0)
    .map((t) => t.toLowerCase());
}

/** The reference of parseExtensionHeader: RFC 6455 §9.1 with OWS around ',', ';' and '='. */
export function referenceExtensions(value: string | string[] | undefined): ExtensionOffer[] {
  const text = joined(value);
  if (text === undefined) return [];
  let i = 0;
  const ows = (): void => {
    while (i < text.length && isOws(text.charCodeAt(i))) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < text.length && isTchar(text.charCodeAt(i))) i++;
    if (i === start) throw malformed();
    return text.slice(start, i);
  };
  const quoted = (): string => {
    i++;
    let out = '';
    for (;;) {
      if (i >= text.length) throw malformed();
      let c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        i++;
        if (i >= text.length) throw malformed();
        c = text.charCodeAt(i);
      }
      if (!isTchar(c)) throw malformed();
      out += String.fromCharCode(c);
      i++;
    }
    if (out.length === 0) throw malformed();
    i++;
    return out;
  };
  const offers: ExtensionOffer[] = [];
  ows();
  for (;;) {
    if (offers.length === 32) throw malformed();
    const name = token();
    const params: ExtensionOffer['params'] = [];
    ows();
    while (text[i] === ';') {
      if (params.length === 32) throw malformed();
      i++;
      ows();
      const pname = token();
      ows();
      let pvalue: string | null = null;
      if (text[i] === '=') {
        i++;
        ows();
        pvalue = text[i] === '"' ? quoted() : token();
        ows();
      }
      params.push({ name: pname, value: pvalue });
    }
    offers.push({ name, params });
    if (i >= text.length) return offers;
    if (text[i] !== ',') throw malformed();
    i++;
    ows();
  }
}

function referenceProtocols(value: string | string[] | undefined): string[] {
  const text = joined(value);
  if (text === undefined) return [];
  const out: string[] = [];
  for (const element of text.split(',')) {
    const p = trimOws(element);
    if (!isToken(p) || out.includes(p) || out.length === 64) throw malformed();
    out.push(p);
  }
  return out;
}

function single(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined || typeof v === 'string') return v;
  if (v.length === 0) return undefined;
  if (v.length > 1) throw malformed();
  return v[0];
}
const first = (v: string | string[] | undefined): string | undefined =>
  typeof v === 'string' ? v : v?.[0];

function isKeyShape(key: string): boolean {
  return key.length === 24 && key.endsWith('==') && /^[A-Za-z0-9+/]{22}$/.test(key.slice(0, 22));
}

/** The reference of validateUpgradeRequest, from its documented order of checks. */
export function referenceRequest(
  req: UpgradeRequestLike,
): ReturnType<typeof validateUpgradeRequest> {
  const h = req.headers;
  if (req.method !== 'GET') throw refuse(405);
  const dot = req.httpVersion.indexOf('.');
  const major = Number(dot === -1 ? req.httpVersion : req.httpVersion.slice(0, dot));
  const minor = dot === -1 ? 0 : Number(req.httpVersion.slice(dot + 1));
  if (major > 1 || major !== 1 || !(minor >= 1)) throw refuse(400);
  const host = single(h, 'host');
  if (host === undefined) throw refuse(400);
  if (host.trim().length === 0) throw malformed();
  if (!tokenList(h.upgrade).includes('websocket')) throw refuse(400);
  if (!tokenList(h.connection).includes('upgrade')) throw refuse(400);
  const v = h['sec-websocket-version'];
  const lines = v === undefined ? [] : typeof v === 'string' ? [v] : v;
  if (lines.length !== 1 || lines[0]?.trim() !== '13') throw refuse(426);
  const key = single(h, 'sec-websocket-key');
  if (key === undefined) throw refuse(400);
  if (!isKeyShape(key.trim())) throw malformed();
  const protocols = referenceProtocols(h['sec-websocket-protocol']);
  const extensions = referenceExtensions(h['sec-websocket-extensions']);
  const origin = first(h.origin) ?? first(h['sec-websocket-origin']);
  return {
    key: key.trim(),
    version: 13,
    protocols,
    extensions,
    origin,
    host,
    resource: req.url ?? '/',
  };
}

function accept(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** Keys and their accept values, made once: hashing each input would dominate the run. */
const KEYS: ReadonlyArray<readonly [string, string]> = (() => {
  const rng = new SeededRandom(0x6b657973);
  return Array.from({ length: 256 }, () => {
    const key = rng.bytes(16).toString('base64');
    return [key, accept(key)] as const;
  });
})();

/** The reference of validateUpgradeResponse (RFC 6455 §4.1, the client's checks, in order). */
function referenceResponse(
  res: { statusCode: number | undefined; headers: HeaderMap },
  key: string,
  protocols: string[],
  extensions: string[],
): { protocol: string | undefined; extensions: ExtensionOffer[] } {
  const fail = (): Refusal => refuse(res.statusCode ?? 0);
  const h = res.headers;
  if (res.statusCode !== 101) throw fail();
  let upgrade: string[];
  let connection: string[];
  try {
    upgrade = tokenList(h.upgrade);
    connection = tokenList(h.connection);
  } catch {
    throw fail();
  }
  if (upgrade.length !== 1 || upgrade[0] !== 'websocket') throw fail();
  if (!connection.includes('upgrade')) throw fail();
  const acc = h['sec-websocket-accept'];
  const wanted = KEYS.find(([k]) => k === key)?.[1] ?? accept(key);
  if (typeof acc !== 'string' || acc.trim() !== wanted) throw fail();
  let offers: ExtensionOffer[];
  try {
    offers = referenceExtensions(h['sec-websocket-extensions']);
  } catch {
    throw fail();
  }
  const seen = new Set<string>();
  for (const { name } of offers) {
    if (!extensions.includes(name) || seen.has(name)) throw fail();
    seen.add(name);
  }
  const raw = h['sec-websocket-protocol'];
  let protocol: string | undefined;
  if (raw !== undefined) {
    if (protocols.length === 0 || typeof raw !== 'string') throw fail();
    protocol = raw.trim();
    if (!isToken(protocol) || !protocols.includes(protocol)) throw fail();
  }
  return { protocol, extensions: offers };
}

// ---------------------------------------------------------------- generation

function token(rng: SeededRandom, max = 12): string {
  let out = '';
  const n = 1 + rng.int(max);
  for (let i = 0; i < n; i++) out += TCHARS[rng.int(TCHARS.length)];
  return out;
}

const OWS = ['', '', '', ' ', '  ', '\t'];
const NAMES = ['permessage-deflate', 'permessage-deflate', 'x-webkit-deflate-frame', 'foo'];
const PARAMS = [
  'server_no_context_takeover',
  'client_no_context_takeover',
  'server_max_window_bits',
  'client_max_window_bits',
];
const VALUES = ['8', '9', '10', '15', '16', '7', '08', '0', '-1', 'x'];

/** A well-formed Sec-WebSocket-Extensions value, by the §9.1 grammar. */
function extensionHeader(rng: SeededRandom): string {
  const offers: string[] = [];
  const n = 1 + rng.int(3);
  for (let o = 0; o < n; o++) {
    let offer = rng.chance(0.8) ? rng.pick(NAMES) : token(rng);
    const params = rng.int(4);
    for (let p = 0; p < params; p++) {
      offer += `${rng.pick(OWS)};${rng.pick(OWS)}${rng.chance(0.85) ? rng.pick(PARAMS) : token(rng)}`;
      if (rng.chance(0.5)) {
        const value = rng.chance(0.8) ? rng.pick(VALUES) : token(rng, 4);
        const quoted = rng.chance(0.15);
        const escaped = quoted && rng.chance(0.5) ? value.replace(/./, (c) => `\\${c}`) : value;
        offer += `${rng.pick(OWS)}=${rng.pick(OWS)}${quoted ? `"${escaped}"` : value}`;
      }
    }
    offers.push(offer);
  }
  return offers.join(`${rng.pick(OWS)},${rng.pick(OWS)}`);
}

function protocolHeader(rng: SeededRandom): string {
  return Array.from({ length: 1 + rng.int(4) }, () => token(rng, 8)).join(
    `${rng.pick(OWS)},${rng.pick(OWS)}`,
  );
}

const NASTY = [
  '\r',
  '\n',
  '\0',
  '\x7f',
  '"',
  '\\',
  ',',
  ';',
  '=',
  ' ',
  '\t',
  'é',
  '€',
  '\u{1F600}',
  '\uD800',
];

/** Mutates a string: cut, insert, replace, case, repeat. */
function mutateString(rng: SeededRandom, s: string): string {
  const at = rng.int(s.length + 1);
  switch (rng.int(8)) {
    case 0:
      return s.slice(0, at);
    case 1:
      return s.slice(0, at) + rng.pick(NASTY) + s.slice(at);
    case 2:
      return s.slice(0, at) + String.fromCharCode(rng.int(256)) + s.slice(at + 1);
    case 3:
      return rng.chance(0.5) ? s.toUpperCase() : s.toLowerCase();
    case 4:
      return `${rng.pick(OWS)}${s}${rng.pick(OWS)}`;
    case 5:
      return Array.from({ length: 2 + rng.int(rng.chance(0.1) ? 3000 : 5) }, () => s).join(
        rng.pick([',', ', ', ';', '']),
      );
    case 6:
      return '';
    default:
      return s.slice(0, at) + s.slice(at + 1 + rng.int(4));
  }
}

function baseRequest(rng: SeededRandom): UpgradeRequestLike & { headers: HeaderMap } {
  const headers: HeaderMap = {
    host: rng.chance(0.9) ? '127.0.0.1:8080' : 'example.com',
    upgrade: rng.pick(['websocket', 'WebSocket', 'websocket, h2c']),
    connection: rng.pick(['Upgrade', 'keep-alive, Upgrade', 'upgrade']),
    'sec-websocket-version': '13',
    'sec-websocket-key': rng.pick(KEYS)[0],
  };
  if (rng.chance(0.5)) headers['sec-websocket-extensions'] = extensionHeader(rng);
  if (rng.chance(0.4)) headers['sec-websocket-protocol'] = protocolHeader(rng);
  if (rng.chance(0.3)) headers.origin = 'https://example.com';
  return { method: 'GET', httpVersion: '1.1', url: '/chat', headers };
}

const HEADER_NAMES = [
  'host',
  'upgrade',
  'connection',
  'sec-websocket-version',
  'sec-websocket-key',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'origin',
];

function mutateHeaders(rng: SeededRandom, headers: HeaderMap): void {
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    const name = rng.pick(HEADER_NAMES);
    const value = headers[name];
    const text = typeof value === 'string' ? value : (value?.[0] ?? token(rng));
    switch (rng.int(6)) {
      case 0:
        delete headers[name];
        break;
      case 1:
        headers[name] = [text, rng.chance(0.5) ? text : mutateString(rng, text)];
        break;
      case 2:
        headers[name] = rng.chance(0.2) ? [] : [text];
        break;
      case 3:
        headers[name] =
          name === 'sec-websocket-extensions' && rng.chance(0.5)
            ? extensionHeader(rng)
            : mutateString(rng, text);
        break;
      default:
        headers[name] = mutateString(rng, text);
    }
  }
}

/** What a run found. */
export interface HandshakeFuzzReport {
  inputs: number;
  accepted: number;
  statuses: Record<string, number>;
  deflateAgreements: number;
  /** The slowest request parse seen, in µs of wall-clock time (noise included). */
  maxCallMicros: number;
  /** That input re-timed alone, best of 5, in µs: what the parser itself costs on it. */
  slowestRetimedMicros: number;
  failures: string[];
  ms: number;
}

/** The slowest any one parse may be, re-timed alone (a hostile header must stay cheap). */
const MAX_CALL_MS = 5;

type Result<T> =
  | { ok: true; value: T }
  | { ok: false; status: number; code: string }
  | { ok: 'bug'; message: string };

function capture<T>(fn: () => T, libraryCall: boolean): Result<T> {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (err instanceof Refusal) return { ok: false, status: err.status, code: err.code };
    if (libraryCall && err instanceof HandshakeError)
      return { ok: false, status: err.status, code: err.code };
    return { ok: 'bug', message: `${(err as Error)?.name}: ${(err as Error)?.message}` };
  }
}

/** Deep equality of plain data (strings, numbers, null, undefined, arrays, objects). */
function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka)
    if (!equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function same<T>(a: Result<T>, b: Result<T>): boolean {
  if (a.ok === true && b.ok === true) return equal(a.value, b.value);
  if (a.ok === false && b.ok === false) return a.status === b.status && a.code === b.code;
  return false;
}

/** Fuzzes the request and response parsers with `count` inputs (three in four are requests). */
export function fuzzHandshake(seed: number, count: number): HandshakeFuzzReport {
  return withoutStackTraces(() => {
    const started = Date.now();
    const rng = new SeededRandom(seed);
    const report: HandshakeFuzzReport = {
      inputs: 0,
      accepted: 0,
      statuses: {},
      deflateAgreements: 0,
      maxCallMicros: 0,
      slowestRetimedMicros: 0,
      failures: [],
      ms: 0,
    };
    const fail = (i: number, what: string, input: unknown): void => {
      if (report.failures.length < 5) {
        report.failures.push(
          `seed ${seed} input ${i}: ${what}; input ${JSON.stringify(input).slice(0, 600)}`,
        );
      }
    };
    let slowest: UpgradeRequestLike | undefined;
    let slowestIndex = 0;
    for (let i = 0; i < count; i++) {
      report.inputs++;
      if (rng.int(4) < 3) {
        const req = baseRequest(rng);
        if (rng.chance(0.75)) mutateHeaders(rng, req.headers);
        if (rng.chance(0.03)) req.method = rng.pick(['POST', 'get', 'HEAD', '', 'GET ']);
        if (rng.chance(0.03))
          req.httpVersion = rng.pick(['1.0', '2.0', '0.9', '1', '', '1.x', ' 1.1', '1.10']);
        const t0 = process.hrtime.bigint();
        const got = capture(() => validateUpgradeRequest(req), true);
        const micros = Number(process.hrtime.bigint() - t0) / 1000;
        if (micros > report.maxCallMicros) {
          report.maxCallMicros = micros;
          slowest = req;
          slowestIndex = i;
        }
        const want = capture(() => referenceRequest(req), false);
        if (got.ok === 'bug') fail(i, `threw ${got.message}`, req);
        else if (want.ok === 'bug') fail(i, `reference threw ${want.message}`, req);
        else if (!same(got, want))
          fail(i, `got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`, req);
        if (got.ok === true) {
          report.accepted++;
          // What the server's extension does with the offers: an agreement or a refusal.
          const deflate = capture(() => acceptDeflateOffer(got.value.extensions, {}), true);
          if (deflate.ok === 'bug' || deflate.ok === false)
            fail(i, `acceptDeflateOffer: ${JSON.stringify(deflate)}`, req);
          else if (deflate.value !== null) {
            report.deflateAgreements++;
            const a = deflate.value.agreement;
            const inRange = (b: number): boolean => Number.isInteger(b) && b >= 8 && b <= 15;
            if (
              !inRange(a.clientMaxWindowBits) ||
              !inRange(a.serverMaxWindowBits) ||
              a.serverMaxWindowBits === 8
            ) {
              fail(i, `agreement out of range ${JSON.stringify(a)}`, req);
            }
            // The answer must read back as it was written.
            const answer = formatExtensionHeader([deflate.value.response]);
            if (
              JSON.stringify(parseExtensionHeader(answer)) !==
              JSON.stringify([deflate.value.response])
            ) {
              fail(i, `answer ${answer} does not read back`, req);
            }
          }
        } else if (got.ok === false) {
          const key = `${got.status} ${got.code}`;
          report.statuses[key] = (report.statuses[key] ?? 0) + 1;
          if (![400, 405, 426].includes(got.status)) fail(i, `status ${got.status}`, req);
        }
      } else {
        responseInput(rng, i, report, fail);
      }
    }
    if (slowest !== undefined) {
      const input = slowest;
      let best = Number.POSITIVE_INFINITY;
      for (let r = 0; r < 5; r++) {
        const t0 = process.hrtime.bigint();
        capture(() => validateUpgradeRequest(input), true);
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000);
      }
      report.slowestRetimedMicros = best;
      if (best > MAX_CALL_MS * 1000) fail(slowestIndex, `takes ${best} µs alone`, input);
    }
    report.ms = Date.now() - started;
    return report;
  });
}

function responseInput(
  rng: SeededRandom,
  i: number,
  report: HandshakeFuzzReport,
  fail: (i: number, what: string, input: unknown) => void,
): void {
  const [key, acceptValue] = rng.pick(KEYS);
  const protocols = rng.chance(0.5) ? ['chat', 'superchat'] : [];
  const extensions = rng.chance(0.8) ? ['permessage-deflate'] : [];
  const headers: HeaderMap = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': acceptValue,
  };
  if (extensions.length > 0 && rng.chance(0.7))
    headers['sec-websocket-extensions'] = extensionHeader(rng);
  if (protocols.length > 0 && rng.chance(0.7))
    headers['sec-websocket-protocol'] = rng.pick(protocols);
  const res = {
    statusCode: rng.chance(0.9) ? 101 : rng.pick([200, 400, 426, 500, undefined]),
    headers,
  };
  if (rng.chance(0.6)) {
    const rounds = 1 + rng.int(2);
    for (let r = 0; r < rounds; r++) {
      const name = rng.pick([
        'upgrade',
        'connection',
        'sec-websocket-accept',
        'sec-websocket-extensions',
        'sec-websocket-protocol',
      ]);
      const value = headers[name];
      const text = typeof value === 'string' ? value : token(rng);
      if (rng.chance(0.2)) delete headers[name];
      else if (rng.chance(0.15)) headers[name] = [text, text];
      else headers[name] = mutateString(rng, text);
    }
  }
  const expected = { key, offeredProtocols: protocols, offeredExtensions: extensions };
  const got = capture(() => validateUpgradeResponse(res, expected), true);
  const want = capture(() => referenceResponse(res, key, protocols, extensions), false);
  const input = { res, protocols, extensions };
  if (got.ok === 'bug') fail(i, `threw ${got.message}`, input);
  else if (want.ok === 'bug') fail(i, `reference threw ${want.message}`, input);
  else if (got.ok === false) {
    const k = `client ${got.status} ${got.code}`;
    report.statuses[k] = (report.statuses[k] ?? 0) + 1;
    if (
      want.ok !== false ||
      got.status !== (res.statusCode ?? 0) ||
      got.code !== ErrorCode.Handshake
    ) {
      fail(i, `got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`, input);
    }
  } else if (!same(got, want))
    fail(i, `got ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`, input);
  else {
    report.accepted++;
    for (const answer of got.value.extensions) {
      // The client's checks of the answer: an agreement in range, or a HandshakeError.
      const r = capture(() => acceptDeflateResponse(answer, { clientMaxWindowBits: true }), true);
      if (r.ok === 'bug') fail(i, `acceptDeflateResponse threw ${r.message}`, input);
      else if (r.ok === true) {
        report.deflateAgreements++;
        const a = r.value;
        if (
          a.clientMaxWindowBits < 8 ||
          a.clientMaxWindowBits > 15 ||
          a.serverMaxWindowBits < 8 ||
          a.serverMaxWindowBits > 15
        ) {
          fail(i, `agreement out of range ${JSON.stringify(a)}`, input);
        }
      } else if (r.status !== 101) fail(i, `acceptDeflateResponse status ${r.status}`, input);
    }
  }
}
