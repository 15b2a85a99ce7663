import type { Duplex as NodeDuplex } from 'node:stream';
import type { CloseDecision, CloseHandshake } from '../protocol/close-handshake.js';
import { dropTransport } from './transport-events.js';

/** What carrying out a close decision needs from the connection. */
export interface CloseEffects {
  readonly transport: NodeDuplex;
  /** Sends our Close frame (ahead of nothing: everything written before it is out). */
  sendClose(code: number | undefined, reason: string): void;
  /** Hands batched frames to the transport, before it is ended. */
  flush(): void;
}

/**
 * Carries out what a connection's CloseHandshake decides: sends the Close, ends or destroys
 * the transport, and runs the one close timer, whose firing is the handshake's `timeout()`.
 * The decisions are the sans-I/O core's; this is the I/O.
 *
 * @see RFC 6455 §7.1 (closing the connection)
 */
export class CloseDriver {
  readonly handshake: CloseHandshake;
  readonly #effects: CloseEffects;
  readonly #closeTimeout: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(handshake: CloseHandshake, effects: CloseEffects, closeTimeout: number) {
    this.handshake = handshake;
    this.#effects = effects;
    this.#closeTimeout = closeTimeout;
  }

  /** Applies a decision, in its order: Close, end, destroy, clear the timer, start it. */
  apply(decision: CloseDecision): void {
    const { sendClose } = decision;
    if (sendClose !== undefined && !this.#stopped) {
      this.#effects.sendClose(sendClose.code, sendClose.reason);
    }
    if (decision.endTransport === true) {
      this.#effects.flush();
      this.#effects.transport.end();
    }
    if (decision.destroyTransport === true) dropTransport(this.#effects.transport);
    if (decision.clearTimer === true) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (decision.startTimer === true && this.#timer === undefined && !this.#stopped) {
      this.#timer = setTimeout(() => {
        // The timer is spent: a decision made now (a deferred reply) may start the next wait.
        this.#timer = undefined;
        this.apply(this.handshake.timeout());
      }, this.#closeTimeout);
      this.#timer.unref();
    }
  }

  /** The transport is gone: nothing more to send or wait for. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
