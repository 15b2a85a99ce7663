import { CloseCode } from './close-codes.js';
import type { Role } from './frame.js';

/** A Close frame's contents: `code` undefined sends a Close without a status code. */
export interface ClosePayload {
  readonly code: number | undefined;
  readonly reason: string;
}

/**
 * What the connection must do after an event of the closing handshake, in this order:
 * send a Close, end its side of the transport (TCP FIN, or END_STREAM on HTTP/2), destroy
 * the transport, clear the close timer, start it (unless running; it calls `timeout()`).
 */
export interface CloseDecision {
  sendClose?: ClosePayload;
  endTransport?: boolean;
  destroyTransport?: boolean;
  startTimer?: boolean;
  clearTimer?: boolean;
}

/** Where the handshake stands: OPEN, CLOSING (a Close sent or received), CLOSED (transport gone). */
export type CloseState = 'open' | 'closing' | 'closed';

/** What a received Close must wait for before it is answered (see `closeReceived`). */
export interface ReplyConditions {
  /** Messages written before the Close arrived are still on their way out. */
  outboundBusy: boolean;
  /** The application asked to answer only after its `end()` (deferCloseReply). */
  deferUntilEnd: boolean;
}

const NOTHING: CloseDecision = Object.freeze({});

/**
 * The closing handshake of one connection, without I/O: events go in (the application
 * closes, the peer's Close arrives, the transport ends, the timer fires, the connection
 * fails) and decisions come out. Every rule of RFC 6455 §7 about closing lives here once:
 *
 * - a Close is sent at most once; after it no data frame may follow (§5.5.1);
 * - a received Close is answered, echoing its code, or with no code when it had none
 *   (1005 is reported locally and never sent, §7.4.1);
 * - the answer may wait until messages written before the Close are out, or until the
 *   application's `end()` (deferCloseReply), at most until the close timer fires;
 * - once both Close frames are exchanged, the server closes the transport first and the
 *   client waits for it, at most until the close timer fires (§7.1.1);
 * - the peer's end of the transport before the handshake completes: the client drops its
 *   side, the server ends its own (§7.1.1 allows the server to close at once);
 * - a failure sends the error's close code unless it is 1006 (nothing can be sent, §7.1.7).
 *
 * @see RFC 6455 §7 (closing the connection)
 * @example
 * const handshake = new CloseHandshake('server');
 * handshake.localClose(); // { sendClose: { code: 1000, reason: '' }, startTimer: true }
 * handshake.closeReceived(1000, '', { outboundBusy: false, deferUntilEnd: false });
 * // { endTransport: true, startTimer: true }: both sides closed; the server ends TCP first
 */
export class CloseHandshake {
  readonly #role: Role;
  #intended: ClosePayload | undefined;
  #sent: ClosePayload | undefined;
  #received: { code: number; reason: string } | undefined;
  /** The reply to a received Close waits (for the outbound side, or for end()). */
  #replyDeferred = false;
  #transportClosed = false;

  constructor(role: Role) {
    this.#role = role;
  }

  /** Where the handshake stands. */
  get state(): CloseState {
    if (this.#transportClosed) return 'closed';
    return this.#sent !== undefined || this.#received !== undefined ? 'closing' : 'open';
  }

  /** The Close we sent, if any (`code` undefined: sent without a code). */
  get sent(): ClosePayload | undefined {
    return this.#sent;
  }

  /** The Close the peer sent, if any (code 1005 when it carried none). */
  get received(): { code: number; reason: string } | undefined {
    return this.#received;
  }

  /** Whether data may no longer be written: our Close went, or the peer's is answered at once. */
  get closing(): boolean {
    if (this.#sent !== undefined || this.#transportClosed) return true;
    return this.#received !== undefined && !this.#replyDeferred;
  }

  /** Whether the reply to the peer's Close is waiting (see `replyNow`). */
  get replyDeferred(): boolean {
    return this.#replyDeferred;
  }

  /** Whether both Close frames were exchanged. */
  get wasClean(): boolean {
    return this.#sent !== undefined && this.#received !== undefined;
  }

  /**
   * Records the code and reason the application closes with (close()); the Close goes out
   * at `localClose`, after everything written before it. The first call counts.
   */
  intend(code: number | undefined, reason: string): void {
    this.#intended ??= { code, reason };
  }

  /**
   * The application closes, after everything it wrote (end(), close()): with the intended
   * code, or 1000. Answers a deferred reply instead when the peer closed first.
   *
   * @see RFC 6455 §7.1.2 (Start the WebSocket Closing Handshake)
   */
  localClose(): CloseDecision {
    if (this.#transportClosed) return NOTHING;
    if (this.#replyDeferred) return this.replyNow();
    if (this.#sent !== undefined) return this.#afterBoth();
    this.#sent = this.#intended ?? { code: CloseCode.Normal, reason: '' };
    if (this.#received === undefined) return { sendClose: this.#sent, startTimer: true };
    return this.#afterBoth(this.#sent);
  }

  /**
   * The peer's Close arrived. It is answered at once unless `conditions` say to wait; then
   * `replyNow()` answers it (or `timeout()`, when the timer fires first).
   *
   * @see RFC 6455 §5.5.1, §7.1.5
   */
  closeReceived(code: number, reason: string, conditions: ReplyConditions): CloseDecision {
    if (this.#received !== undefined || this.#transportClosed) return NOTHING;
    this.#received = { code, reason };
    if (this.#sent !== undefined) return this.#afterBoth();
    if (conditions.outboundBusy || conditions.deferUntilEnd) {
      this.#replyDeferred = true;
      return { startTimer: true };
    }
    return this.#reply();
  }

  /** Answers the peer's Close now (the messages before it are out, or end() was called). */
  replyNow(): CloseDecision {
    if (!this.#replyDeferred) return NOTHING;
    this.#replyDeferred = false;
    return { clearTimer: true, ...this.#reply() };
  }

  /**
   * The close timer fired: a deferred reply goes out now; any other wait (for the peer's
   * Close, or for the server to close TCP) ends by dropping the transport.
   *
   * @see RFC 6455 §7.1.1 (the client may close TCP when the server does not)
   */
  timeout(): CloseDecision {
    if (this.#transportClosed) return NOTHING;
    if (this.#replyDeferred) {
      this.#replyDeferred = false;
      return this.#reply();
    }
    return { destroyTransport: true };
  }

  /**
   * The peer ended its side of the transport: no WebSocket traffic can follow. A client (or
   * a server whose Close went out) drops the rest; a server that sent no Close yet ends its
   * own side.
   *
   * @see RFC 6455 §7.1.1
   */
  transportEnded(): CloseDecision {
    if (this.#transportClosed) return NOTHING;
    if (this.#role === 'client' || this.#sent !== undefined) return { destroyTransport: true };
    return { endTransport: true };
  }

  /**
   * The connection fails or is destroyed with a close code: the peer's Close (if any) is
   * answered as usual, else a Close with `code` goes out unless it is 1006 (nothing can be
   * sent); then the server ends the transport and both sides bound the wait.
   *
   * @see RFC 6455 §7.1.7 (Fail the WebSocket Connection)
   */
  fail(code: number, reason: string): CloseDecision {
    if (this.#transportClosed) return NOTHING;
    this.#replyDeferred = false;
    let sendClose: ClosePayload | undefined;
    if (this.#sent === undefined) {
      if (this.#received !== undefined) sendClose = { code: echo(this.#received.code), reason: '' };
      else if (code !== CloseCode.AbnormalClosure) sendClose = { code, reason };
      if (sendClose !== undefined) this.#sent = sendClose;
    }
    return { sendClose, endTransport: this.#role === 'server', startTimer: true };
  }

  /**
   * The transport closed. Returns the close code to report: the peer's (1005 when its Close
   * had none), or 1006 when the handshake did not complete.
   *
   * @see RFC 6455 §7.1.5, §7.4.1 (1006)
   */
  transportClosed(): number {
    this.#transportClosed = true;
    this.#replyDeferred = false;
    return this.#received?.code ?? CloseCode.AbnormalClosure;
  }

  /** Sends the answer to the peer's Close, echoing its code. */
  #reply(): CloseDecision {
    this.#sent = { code: echo(this.#received!.code), reason: '' };
    return this.#afterBoth(this.#sent);
  }

  /** Both Close frames are exchanged: the server closes TCP first, the client waits for it. */
  #afterBoth(sendClose?: ClosePayload): CloseDecision {
    return { sendClose, endTransport: this.#role === 'server', startTimer: true };
  }
}

/** The code that answers a received one: the same, or none for 1005 (which had none). */
function echo(code: number): number | undefined {
  return code === CloseCode.NoStatusReceived ? undefined : code;
}
