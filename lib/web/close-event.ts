import type { EventInitShape } from './event-types.js';
import { toUnsignedShort, toUSVString } from './web-idl.js';

/** What a CloseEvent is created with (each member optional, as in the standard's dictionary). */
export interface CloseEventInit extends EventInitShape {
  /** Whether the connection closed cleanly. Default: false. */
  wasClean?: boolean;
  /** The close code (an unsigned short: taken modulo 2^16). Default: 0. */
  code?: number;
  /** The close reason. Default: ''. */
  reason?: string;
}

/** A close event's shape, as handlers see it: lib.dom's CloseEvent fits it too. */
export interface CloseEventShape extends Event {
  readonly wasClean: boolean;
  readonly code: number;
  readonly reason: string;
}

/**
 * Carries how a WebSocket connection ended, for the 'close' event: whether it closed
 * cleanly, its close code and its reason. Node 20 has no CloseEvent global (Node 23 does),
 * so this one is shipped; it behaves as the standard's, down to the conversions of its
 * init dictionary.
 *
 * @see https://websockets.spec.whatwg.org/#the-closeevent-interface
 * @example
 * ```ts
 * const event = new CloseEvent('close', { wasClean: true, code: 1000, reason: 'done' });
 * event.code; // 1000
 * ```
 */
export class CloseEvent extends Event implements CloseEventShape {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, eventInitDict: CloseEventInit = {}) {
    // biome-ignore lint/complexity/noArguments: Web IDL tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'CloseEvent': 1 argument required");
    }
    super(type, eventInitDict);
    const init = eventInitDict ?? {};
    this.#wasClean = Boolean(init.wasClean);
    this.#code = init.code === undefined ? 0 : toUnsignedShort(init.code);
    this.#reason = init.reason === undefined ? '' : toUSVString(init.reason);
  }

  /** Returns true if the connection closed cleanly (both Close frames exchanged). */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** Returns the close code: the peer's, 1005 when its Close had none, 1006 when there was none. */
  get code(): number {
    return this.#code;
  }

  /** Returns the close reason sent by the peer ('' when none). */
  get reason(): string {
    return this.#reason;
  }

  get [Symbol.toStringTag](): string {
    return 'CloseEvent';
  }
}
