import { InvalidArgumentError } from '../protocol/errors.js';
import type { Role } from '../protocol/frame.js';
import type { ExtensionOffer } from '../protocol/header-parser.js';
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
} from '../protocol/permessage-deflate-params.js';
import { DeflateExtension, type DeflateSettings } from './deflate-extension.js';
import type { Extension, ExtensionFactory } from './extension.js';
import { sharedZlibLimiter } from './zlib-limiter.js';

/**
 * Configuration of permessage-deflate: the negotiation options of RFC 7692 §7.1 and how
 * this side compresses.
 */
export interface PerMessageDeflateConfig extends PerMessageDeflateOptions {
  /**
   * Messages of a known length below this many bytes go out uncompressed. Default 1024:
   * below that deflate's CPU costs more than the bytes it saves. A message stream, of
   * unknown length, is always compressed. 0 compresses everything.
   */
  threshold?: number;
  /**
   * zlib compression level, -1 to 9. Default -1, zlib's own default (level 6), as ws
   * uses, so that both compress alike; 1 is faster and compresses a little less.
   */
  level?: number;
  /** zlib memLevel, 1 to 9: the deflater's hash tables take 2^(memLevel+9) bytes. Default 8. */
  memLevel?: number;
  /**
   * How many zlib jobs may run at once in the whole process (the limit is process-wide;
   * the last value given wins). Default 10, as in ws.
   */
  concurrencyLimit?: number;
}

/** Defaults of the configuration's compression settings. */
const DEFAULTS = { threshold: 1024, level: -1, memLevel: 8 } as const;

/** What `true` and a client's default mean: offer `client_max_window_bits` as browsers do. */
const CLIENT_DEFAULTS: PerMessageDeflateConfig = { clientMaxWindowBits: true };

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Refuses compression settings zlib or the threshold check cannot use. */
function checkSettings(config: PerMessageDeflateConfig): void {
  const { threshold, level, memLevel, concurrencyLimit } = config;
  if (threshold !== undefined && !(typeof threshold === 'number' && threshold >= 0)) {
    throw new InvalidArgumentError('threshold must be a number of 0 or more');
  }
  if (level !== undefined && !isIntegerIn(level, -1, 9)) {
    throw new InvalidArgumentError('level must be an integer from -1 to 9');
  }
  if (memLevel !== undefined && !isIntegerIn(memLevel, 1, 9)) {
    throw new InvalidArgumentError('memLevel must be an integer from 1 to 9');
  }
  if (
    concurrencyLimit !== undefined &&
    !isIntegerIn(concurrencyLimit, 1, Number.MAX_SAFE_INTEGER)
  ) {
    throw new InvalidArgumentError('concurrencyLimit must be an integer of 1 or more');
  }
}

/** Copies the negotiation options alone, so later changes to the caller's object do not leak in. */
function negotiationOptions(config: PerMessageDeflateConfig): PerMessageDeflateOptions {
  const { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits } = config;
  const { clientMaxWindowBits } = config;
  return {
    serverNoContextTakeover,
    clientNoContextTakeover,
    serverMaxWindowBits,
    clientMaxWindowBits,
  };
}

/**
 * Negotiates permessage-deflate (RFC 7692) for one side, configured once and used for
 * every handshake; each agreement gives a DeflateExtension holding that connection's zlib
 * contexts. A client offers and checks the answer, a server picks among the offers.
 * Options are checked here, so a bad one throws InvalidArgumentError at configuration.
 *
 * @see RFC 7692 §5 (negotiation), §7 (permessage-deflate)
 * @example
 * const deflate = new PerMessageDeflate({ serverMaxWindowBits: 10, threshold: 256 }, 'server');
 * const chosen = deflate.negotiate(parseExtensionHeader(req.headers['sec-websocket-extensions']));
 * // chosen?.answer goes in the 101; chosen?.extension to the connection
 */
export class PerMessageDeflate implements ExtensionFactory {
  readonly name: string = PERMESSAGE_DEFLATE;
  readonly role: Role;
  readonly #options: PerMessageDeflateOptions;
  readonly #settings: DeflateSettings;
  readonly #offer: ExtensionOffer;

  constructor(config: PerMessageDeflateConfig, role: Role) {
    if (role !== 'server' && role !== 'client') {
      throw new InvalidArgumentError("role must be 'server' or 'client'");
    }
    checkSettings(config);
    this.role = role;
    this.#options = negotiationOptions(config);
    // Builds the offer now to check the window bits at configuration, not at a handshake.
    this.#offer = buildDeflateOffer(this.#options);
    const limiter = sharedZlibLimiter();
    if (config.concurrencyLimit !== undefined) limiter.limit = config.concurrencyLimit;
    this.#settings = {
      threshold: config.threshold ?? DEFAULTS.threshold,
      level: config.level ?? DEFAULTS.level,
      memLevel: config.memLevel ?? DEFAULTS.memLevel,
      limiter,
    };
  }

  /** Gives the client's one offer, parameters in a fixed order. @see RFC 7692 §5 */
  offer(): ExtensionOffer[] {
    this.#expectRole('client', 'offer');
    return [{ name: this.#offer.name, params: this.#offer.params.map((p) => ({ ...p })) }];
  }

  /**
   * Builds the client's extension from the server's answer; throws HandshakeError when the
   * answer breaks RFC 7692 §7.1 or does not fit the offer, which fails the connection.
   */
  accept(answer: ExtensionOffer): Extension {
    this.#expectRole('client', 'accept');
    const agreement = acceptDeflateResponse(answer, this.#options);
    return new DeflateExtension(agreement, answer, 'client', this.#settings);
  }

  /**
   * Picks, on the server, the first acceptable offer in the client's order; null declines
   * and the connection runs uncompressed. @see RFC 7692 §5.1
   */
  negotiate(
    offers: readonly ExtensionOffer[],
  ): { answer: ExtensionOffer; extension: Extension } | null {
    this.#expectRole('server', 'negotiate');
    const chosen = acceptDeflateOffer(offers, this.#options);
    if (chosen === null) return null;
    const extension = new DeflateExtension(
      chosen.agreement,
      chosen.response,
      'server',
      this.#settings,
    );
    return { answer: chosen.response, extension };
  }

  /** Refuses a method of the other side: its agreement would set up the wrong zlib contexts. */
  #expectRole(role: Role, method: string): void {
    if (this.role !== role) {
      throw new InvalidArgumentError(`${method}() is for a ${role}-side PerMessageDeflate`);
    }
  }
}

/**
 * Turns the `perMessageDeflate` option of a server or client into a factory, or undefined
 * when compression is off. `false` turns it off; `true` uses the defaults; an object is
 * the configuration. When the option is absent, `defaultOn` decides: servers pass false
 * (compression costs memory per connection, so it is opted into, as in ws), clients pass
 * true (browsers offer it, and a server may still decline). A client's `true` or default
 * offers `client_max_window_bits`, as browsers do, letting the server shrink our window.
 *
 * @example
 * resolvePerMessageDeflate(undefined, 'server', false); // undefined: off
 * resolvePerMessageDeflate({ threshold: 0 }, 'server', false); // a PerMessageDeflate
 */
export function resolvePerMessageDeflate(
  value: boolean | PerMessageDeflateConfig | undefined,
  role: Role,
  defaultOn: boolean,
): PerMessageDeflate | undefined {
  const on = value ?? defaultOn;
  if (on === false) return undefined;
  if (on !== true) return new PerMessageDeflate(on, role);
  return new PerMessageDeflate(role === 'client' ? CLIENT_DEFAULTS : {}, role);
}
