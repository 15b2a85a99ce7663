import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError } from '../protocol/errors.js';

/** One allowed origin: an exact origin (`'https://example.com'`) or a pattern. */
export type OriginRule = string | RegExp;

/**
 * The origins a server accepts: one rule, a list of rules, or a function that decides
 * (it gets `undefined` for a request without an Origin header).
 */
export type AllowedOrigins =
  | OriginRule
  | readonly OriginRule[]
  | ((origin: string | undefined, request: IncomingMessage) => boolean);

/** Options of {@link createOriginMatcher}. */
export interface OriginMatcherOptions {
  /**
   * Refuse requests that carry no Origin header. Default: false, because non-browser
   * clients (this library's, curl, a backend) send none, and cross-site WebSocket hijacking
   * needs a browser, which always sends one.
   */
  requireOrigin?: boolean;
}

/** Decides whether one request's origin may open a connection. */
export type OriginMatcher = (origin: string | undefined, request: IncomingMessage) => boolean;

/**
 * Serializes an origin the way browsers send it (RFC 6454 §6.1): lower-case scheme and
 * host, default port omitted, so that an allow-list entry written by hand matches what a
 * browser sends. 'null' (an opaque origin) and anything that is not a URL are kept as
 * they are (lower-cased), so that they only match themselves.
 *
 * @example normalizeOrigin('HTTPS://Example.COM:443') // 'https://example.com'
 */
export function normalizeOrigin(origin: string): string {
  const trimmed = origin.trim();
  if (trimmed === 'null') return trimmed;
  try {
    const url = new URL(trimmed);
    return url.origin === 'null' ? trimmed.toLowerCase() : url.origin;
  } catch {
    return trimmed.toLowerCase();
  }
}

/**
 * Builds the allow-list check a server runs on every upgrade, before its 'request' event.
 * Browsers let any page open a WebSocket to any host and send the user's cookies along;
 * the Origin header is the only thing that tells a server which site's script is asking,
 * so checking it is the defence against cross-site WebSocket hijacking.
 *
 * Strings are compared as serialized origins (`'https://Example.com:443'` matches
 * `https://example.com`); a RegExp is tested against the Origin header as sent (anchor
 * it: `/^https:\/\/([a-z0-9-]+\.)*example\.com$/`, since an unanchored pattern also matches
 * `https://example.com.evil.test`); a function decides alone, also for requests without
 * an Origin. Requests without an Origin header pass a list unless `requireOrigin` is set.
 *
 * @see RFC 6455 §4.2.1 (item 8), §10.2 (origin considerations); RFC 6454 §7
 * @example
 * const allowed = createOriginMatcher(['https://app.example.com', /^https:\/\/[a-z]+\.example\.com$/]);
 * allowed('https://app.example.com', req); // true
 * allowed('https://evil.test', req); // false
 */
export function createOriginMatcher(
  allowed: AllowedOrigins,
  options: OriginMatcherOptions = {},
): OriginMatcher {
  const requireOrigin = options.requireOrigin ?? false;
  if (typeof allowed === 'function') {
    return (origin, request) => {
      if (origin === undefined && requireOrigin) return false;
      return allowed(origin, request) === true;
    };
  }
  const rules: readonly OriginRule[] = Array.isArray(allowed) ? allowed : [allowed as OriginRule];
  const exact = new Set<string>();
  const patterns: RegExp[] = [];
  for (const rule of rules) {
    if (typeof rule === 'string') exact.add(normalizeOrigin(rule));
    else if (rule instanceof RegExp) patterns.push(rule);
    else throw new InvalidArgumentError('allowedOrigins takes strings, RegExps or a function');
  }
  return (origin) => {
    if (origin === undefined) return !requireOrigin;
    if (exact.has(normalizeOrigin(origin))) return true;
    return patterns.some((pattern) => {
      // A global or sticky RegExp remembers where it stopped; start from scratch each time.
      pattern.lastIndex = 0;
      return pattern.test(origin);
    });
  };
}
