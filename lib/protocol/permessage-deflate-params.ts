import { ErrorCode, HandshakeError, InvalidArgumentError } from './errors.js';
import type { ExtensionOffer, ExtensionParam } from './header-parser.js';

/**
 * Negotiation of permessage-deflate's parameters (RFC 7692 §7.1), pure: no zlib here.
 *
 * Window bits and Node's zlib. RFC 7692 allows windows of 2^8 to 2^15 bytes, but zlib
 * (1.2.9 and later) refuses windowBits 8 for a raw deflate stream, and Node silently raises
 * it to 9. What that means for each side:
 * - Our own compression, server side: the server never agrees to compress with 8. When
 *   its `serverMaxWindowBits` option is 8 it answers `server_max_window_bits=9`, which is
 *   what zlib will really use; when a client demands `server_max_window_bits=8` the offer
 *   is declined (the next offer is tried; at worst the connection runs uncompressed), so
 *   every agreement the server makes holds without relying on zlib internals.
 * - Our own compression, client side: the client cannot decline a server that answers
 *   `client_max_window_bits=8` without failing the connection, so it accepts it and the
 *   agreement says 8. That is safe to hand to zlib as is: zlib's deflate never emits a
 *   match more than `2^windowBits - 262` bytes back (MAX_DIST in deflate.c), i.e. 250 at
 *   the 9 Node really uses, inside the 256-byte window the peer allowed.
 * - Decompression: always inflate with windowBits 15, whatever was agreed. A window larger
 *   than the sender's is always safe (it only bounds how far back a match may reach), and
 *   one inflater size keeps the runtime simple. The cost is 32 KiB per inflater, which is
 *   also why the server's `clientMaxWindowBits` is a request and not a requirement below.
 *
 * What the agreement means to the runtime (the other file): `serverNoContextTakeover`
 * says the server resets its deflater after each message (and the client may reset its
 * inflater); `clientNoContextTakeover` likewise for the client's deflater. The window bits
 * are those each side compresses with.
 */

/** The registered name of the extension. @see RFC 7692 §7 */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/**
 * Options of permessage-deflate, for either side (RFC 7692 §7.1). All default to
 * absent: nothing requested, 15 bits, context takeover allowed.
 */
export interface PerMessageDeflateOptions {
  /** Client: ask the server to reset its context per message. Server: always do so. */
  serverNoContextTakeover?: boolean;
  /** Client: announce it resets its context per message. Server: require the client to. */
  clientNoContextTakeover?: boolean;
  /** Client: the largest server window accepted. Server: the largest it will use. 8..15. */
  serverMaxWindowBits?: number;
  /**
   * Client: 8..15 to limit its own window, or `true` to offer the parameter without a value
   * (letting the server choose the client's window: browsers do this). Server: 8..15 to ask
   * a client that allows it for a smaller window; `true` means no preference.
   */
  clientMaxWindowBits?: number | true;
}

/** The parameters both ends use once permessage-deflate is agreed. @see RFC 7692 §7.1 */
export interface DeflateAgreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8..15, 15 when absent; never 8 in an agreement made by acceptDeflateOffer. */
  serverMaxWindowBits: number;
  /** 8..15, 15 when absent. */
  clientMaxWindowBits: number;
}

/** The largest window RFC 7692 allows, and the default when no parameter limits it. */
const MAX_WINDOW_BITS = 15;

/** The smallest window zlib's raw deflate really uses. */
const MIN_DEFLATE_WINDOW_BITS = 9;

/**
 * The exact spellings of a window-bits value: a decimal integer 8..15 without leading
 * zeros or sign. @see RFC 7692 §7.1.2.1, §7.1.2.2
 */
const WINDOW_BITS_VALUES: ReadonlyMap<string, number> = new Map(
  [8, 9, 10, 11, 12, 13, 14, 15].map((n) => [String(n), n]),
);

/** The four parameters as read from one offer or response. */
interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` only in an offer: the parameter without a value. */
  clientMaxWindowBits: number | true | undefined;
}

type ReadResult = { ok: true; params: DeflateParams } | { ok: false; reason: string };

/** Reads one parameter into `into`, or says why it is invalid. */
function readParam(param: ExtensionParam, into: DeflateParams, isOffer: boolean): string | null {
  const { name, value } = param;
  switch (name) {
    case 'server_no_context_takeover':
    case 'client_no_context_takeover': {
      if (value !== null) return `${name} must have no value`;
      if (name === 'server_no_context_takeover') into.serverNoContextTakeover = true;
      else into.clientNoContextTakeover = true;
      return null;
    }
    case 'server_max_window_bits': {
      const bits = value === null ? undefined : WINDOW_BITS_VALUES.get(value);
      if (bits === undefined) return `invalid ${name} value: ${JSON.stringify(value)}`;
      into.serverMaxWindowBits = bits;
      return null;
    }
    case 'client_max_window_bits': {
      if (value === null && isOffer) {
        into.clientMaxWindowBits = true;
        return null;
      }
      const bits = value === null ? undefined : WINDOW_BITS_VALUES.get(value);
      if (bits === undefined) return `invalid ${name} value: ${JSON.stringify(value)}`;
      into.clientMaxWindowBits = bits;
      return null;
    }
    default:
      return `unknown parameter ${JSON.stringify(name)}`;
  }
}

/**
 * Reads an offer's or a response's parameters, refusing what RFC 7692 §7.1 says makes
 * either one unacceptable: an unknown parameter, an invalid value, a repeated parameter.
 * Parameter names are compared case-sensitively, as RFC 7692 defines them in lower case.
 * `client_max_window_bits` may go without a value only in an offer (§7.1.2.2).
 */
function readParams(params: readonly ExtensionParam[], isOffer: boolean): ReadResult {
  const out: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const param of params) {
    if (seen.has(param.name)) return { ok: false, reason: `repeated parameter ${param.name}` };
    seen.add(param.name);
    const reason = readParam(param, out, isOffer);
    if (reason !== null) return { ok: false, reason };
  }
  return { ok: true, params: out };
}

function isWindowBits(bits: unknown): bits is number {
  return typeof bits === 'number' && Number.isInteger(bits) && bits >= 8 && bits <= 15;
}

/** Refuses options that cannot be negotiated: window bits outside 8..15. */
function checkOptions(opts: PerMessageDeflateOptions): void {
  if (opts.serverMaxWindowBits !== undefined && !isWindowBits(opts.serverMaxWindowBits)) {
    throw new InvalidArgumentError('serverMaxWindowBits must be an integer from 8 to 15');
  }
  const client = opts.clientMaxWindowBits;
  if (client !== undefined && client !== true && !isWindowBits(client)) {
    throw new InvalidArgumentError('clientMaxWindowBits must be true or an integer from 8 to 15');
  }
}

/** Lists the parameters in one fixed order, values as decimal strings. */
function toParams(p: DeflateParams): ExtensionParam[] {
  const params: ExtensionParam[] = [];
  if (p.serverNoContextTakeover) params.push({ name: 'server_no_context_takeover', value: null });
  if (p.clientNoContextTakeover) params.push({ name: 'client_no_context_takeover', value: null });
  if (p.serverMaxWindowBits !== undefined) {
    params.push({ name: 'server_max_window_bits', value: String(p.serverMaxWindowBits) });
  }
  if (p.clientMaxWindowBits !== undefined) {
    const value = p.clientMaxWindowBits === true ? null : String(p.clientMaxWindowBits);
    params.push({ name: 'client_max_window_bits', value });
  }
  return params;
}

/**
 * Builds the client's permessage-deflate offer from its options, parameters in a fixed
 * order. Options out of range throw InvalidArgumentError. To let servers limit the
 * client's window (many want to), set `clientMaxWindowBits: true`, as browsers do.
 *
 * @see RFC 7692 §5, §7.1
 * @example buildDeflateOffer({ clientMaxWindowBits: true })
 *   // { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] }
 */
export function buildDeflateOffer(opts: PerMessageDeflateOptions): ExtensionOffer {
  checkOptions(opts);
  const params = toParams({
    serverNoContextTakeover: opts.serverNoContextTakeover === true,
    clientNoContextTakeover: opts.clientNoContextTakeover === true,
    serverMaxWindowBits: opts.serverMaxWindowBits,
    clientMaxWindowBits: opts.clientMaxWindowBits,
  });
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * Settles the server's window: the smaller of the server's own limit (raised to 9, see the
 * module comment) and the client's; undefined when the client demands 8, to decline.
 */
function serverWindowBits(
  offered: number | undefined,
  own: number | undefined,
): number | undefined {
  const bits = Math.min(
    Math.max(own ?? MAX_WINDOW_BITS, MIN_DEFLATE_WINDOW_BITS),
    offered ?? MAX_WINDOW_BITS,
  );
  return bits < MIN_DEFLATE_WINDOW_BITS ? undefined : bits;
}

/**
 * Settles the client's window as the server answers it: only if the client offered the
 * parameter (§7.1.2.2 forbids it otherwise), the server's wish capped by the client's
 * own value. A server wish the client gave no room for is dropped: we inflate with 15
 * bits anyway, so a limit would only save the client's memory, not ours.
 */
function clientWindowBits(
  offered: number | true | undefined,
  own: number | true | undefined,
): number | undefined {
  if (offered === undefined) return undefined;
  const wish = own === true ? undefined : own;
  if (offered === true) return wish;
  return Math.min(wish ?? offered, offered);
}

/** Answers one valid offer under the server's options, or null to decline it. */
function answerOffer(
  offered: DeflateParams,
  opts: PerMessageDeflateOptions,
): { agreement: DeflateAgreement; response: ExtensionOffer } | null {
  const serverBits = serverWindowBits(offered.serverMaxWindowBits, opts.serverMaxWindowBits);
  if (serverBits === undefined) return null;
  const clientBits = clientWindowBits(offered.clientMaxWindowBits, opts.clientMaxWindowBits);
  const answered =
    offered.serverMaxWindowBits !== undefined || opts.serverMaxWindowBits !== undefined;
  const response: DeflateParams = {
    serverNoContextTakeover:
      offered.serverNoContextTakeover || opts.serverNoContextTakeover === true,
    clientNoContextTakeover:
      offered.clientNoContextTakeover || opts.clientNoContextTakeover === true,
    serverMaxWindowBits: answered ? serverBits : undefined,
    clientMaxWindowBits: clientBits,
  };
  const agreement: DeflateAgreement = {
    serverNoContextTakeover: response.serverNoContextTakeover,
    clientNoContextTakeover: response.clientNoContextTakeover,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: clientBits ?? MAX_WINDOW_BITS,
  };
  return { agreement, response: { name: PERMESSAGE_DEFLATE, params: toParams(response) } };
}

/**
 * Chooses, on the server, the first acceptable permessage-deflate offer in the client's
 * order of preference and answers it; null declines the extension (the connection then
 * runs uncompressed). Offers of other extensions in the list are skipped, so the whole
 * parsed header may be passed. An offer with an unknown, repeated or invalid parameter is
 * declined, not an error (RFC 7692 §7.1), as is one demanding `server_max_window_bits=8`
 * (see the module comment). Otherwise every offer is acceptable: the server honours
 * `server_no_context_takeover` (it must echo it, §7.1.1.1), answers the smaller of both
 * sides' server window, echoes the client's `client_no_context_takeover`, and asks for its
 * own client window only when the client offered `client_max_window_bits`. Options out of
 * range throw InvalidArgumentError.
 *
 * @see RFC 7692 §5 (negotiation), §7.1 (parameters)
 * @example
 * const offers = parseExtensionHeader('permessage-deflate; client_max_window_bits');
 * acceptDeflateOffer(offers, { clientMaxWindowBits: 10 })?.response
 * // { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: '10' }] }
 */
export function acceptDeflateOffer(
  offers: readonly ExtensionOffer[],
  serverOpts: PerMessageDeflateOptions,
): { agreement: DeflateAgreement; response: ExtensionOffer } | null {
  checkOptions(serverOpts);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const read = readParams(offer.params, true);
    if (!read.ok) continue;
    const answer = answerOffer(read.params, serverOpts);
    if (answer !== null) return answer;
  }
  return null;
}

function responseError(reason: string): HandshakeError {
  return new HandshakeError(`Invalid permessage-deflate response: ${reason}`, 101, {
    code: ErrorCode.Handshake,
  });
}

/** Settles the server's window from the response, failing if it exceeds the request. */
function agreedServerBits(answered: number | undefined, requested: number | undefined): number {
  if (requested === undefined) return answered ?? MAX_WINDOW_BITS;
  if (answered === undefined) {
    throw responseError('server_max_window_bits was requested but not answered');
  }
  if (answered > requested) {
    throw responseError(`server_max_window_bits=${answered} exceeds the ${requested} requested`);
  }
  return answered;
}

/** Settles the client's window from the response, failing where §7.1.2.2 forbids it. */
function agreedClientBits(
  answered: number | undefined,
  offered: number | true | undefined,
): number {
  if (offered === undefined) {
    if (answered !== undefined) throw responseError('client_max_window_bits was not offered');
    return MAX_WINDOW_BITS;
  }
  if (offered === true) return answered ?? MAX_WINDOW_BITS;
  if (answered !== undefined && answered > offered) {
    throw responseError(`client_max_window_bits=${answered} exceeds the ${offered} offered`);
  }
  return answered ?? offered;
}

/**
 * Checks, on the client, the server's permessage-deflate response against what was
 * offered, and gives the agreement. The connection must fail (RFC 7692 §7.1) on an unknown,
 * repeated or invalid parameter, on `server_no_context_takeover` requested but not echoed
 * (§7.1.1.1), on `server_max_window_bits` requested but missing or larger (§7.1.2.1), and
 * on `client_max_window_bits` not offered, valueless, or larger than offered (§7.1.2.2):
 * each throws HandshakeError (status 101, code Handshake). A server may always add
 * `server_no_context_takeover`, `client_no_context_takeover` and `server_max_window_bits`
 * on its own. `offered` must be the options buildDeflateOffer was given.
 *
 * @see RFC 7692 §5, §7.1
 * @example
 * const [response] = validateUpgradeResponse(res, expected).extensions;
 * const agreement = acceptDeflateResponse(response, { clientMaxWindowBits: true });
 */
export function acceptDeflateResponse(
  response: ExtensionOffer,
  offered: PerMessageDeflateOptions,
): DeflateAgreement {
  checkOptions(offered);
  if (response.name !== PERMESSAGE_DEFLATE) {
    throw responseError(`extension ${JSON.stringify(response.name)} is not ${PERMESSAGE_DEFLATE}`);
  }
  const read = readParams(response.params, false);
  if (!read.ok) throw responseError(read.reason);
  const answered = read.params;
  // Never true here: readParams refuses a valueless client_max_window_bits in a response.
  const answeredClientBits =
    typeof answered.clientMaxWindowBits === 'number' ? answered.clientMaxWindowBits : undefined;
  if (offered.serverNoContextTakeover === true && !answered.serverNoContextTakeover) {
    throw responseError('server_no_context_takeover was requested but not answered');
  }
  return {
    serverNoContextTakeover: answered.serverNoContextTakeover,
    clientNoContextTakeover:
      answered.clientNoContextTakeover || offered.clientNoContextTakeover === true,
    serverMaxWindowBits: agreedServerBits(
      answered.serverMaxWindowBits,
      offered.serverMaxWindowBits,
    ),
    clientMaxWindowBits: agreedClientBits(answeredClientBits, offered.clientMaxWindowBits),
  };
}
