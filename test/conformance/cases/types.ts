/**
 * The shape of a conformance case: what a raw peer does, and the one behaviour it accepts
 * from our implementation, whichever side (server or client) is under test. Cases are
 * written from the peer's point of view and are the same for both sides unless `roles`
 * says otherwise; the runner masks the peer's frames as its role requires.
 */
import type { ClientOptions } from '../../../lib/handshake/client-handshake.js';
import type { WebSocketServerOptions } from '../../../lib/server.js';
import type { FrameSpec } from '../../helpers/frames.js';

/** The side of our implementation a case runs against. */
export type Side = 'server' | 'client';

/** Something the implementation must send, in order. */
export type ExpectedEvent =
  | { kind: 'text'; data: string | Buffer; compressed?: boolean }
  | { kind: 'binary'; data: Buffer; compressed?: boolean }
  | { kind: 'pong'; data: Buffer | string }
  /** The pong that answers the n-th probe (numbered from 1 within the case). */
  | { kind: 'probe'; n: number };

/** How the connection must end. Every case ends with both Close frames and TCP closed by the server. */
export type CloseExpectation =
  /** After the events, the peer sends Close 1000; the implementation answers Close 1000. */
  | { by: 'peer' }
  /** The implementation fails the connection: it sends Close with this code (the peer answers it). */
  | { by: 'implementation'; code: number }
  /** The steps sent the peer's Close; the implementation answers with this code (null: empty Close). */
  | { by: 'peer-steps'; reply: number | null };

/** One thing the peer does. */
export type Step =
  /**
   * Sends frames back to back in one write, or `chop` bytes per write with a turn of the
   * event loop after each write (after each 64 KiB with `batch`).
   */
  | { send: FrameSpec[]; chop?: number; wrongMask?: boolean; batch?: boolean }
  /** Sends raw bytes (already encoded), optionally chopped. */
  | { raw: Buffer; chop?: number }
  /** Waits. */
  | { delay: number }
  /**
   * Sends a Ping 'probe N' and waits for its Pong or a Close: proves that everything sent
   * before was processed, and that the connection was (or was not yet) failed by then.
   */
  | { probe: true }
  /**
   * Sends ONE frame in pieces cut at these payload offsets, `pauseMs` apart; with
   * `closeBeforeLast`, the implementation's Close must arrive before the last piece is sent.
   */
  | {
      frameChops: { frame: FrameSpec; cuts: number[]; pauseMs: number; closeBeforeLast?: boolean };
    }
  /** Waits until the implementation has sent this many events. */
  | { awaitEvents: number }
  /**
   * Sends a message compressed with the peer's agreed permessage-deflate: in `fragments`
   * frames (RSV1 on the first only, or on all with `rsv1On`), optionally ending in BFINAL,
   * optionally after an empty first frame, optionally with a ping after the first frame.
   */
  | {
      compressed: { kind: 'text' | 'binary'; data: Buffer };
      fragments?: number;
      final?: boolean;
      rsv1On?: 'first' | 'all';
      chop?: number;
      emptyFirst?: boolean;
      pingBetween?: string;
    };

/** permessage-deflate handshake of a case. */
export interface DeflateSpec {
  /** Server side: the raw client's Sec-WebSocket-Extensions offer, verbatim. */
  offer?: string;
  /** Server side: the exact answer expected (null: the extension declined). */
  expectAnswer?: string | null;
  /** Client side: the client's configuration (ClientOptions.perMessageDeflate). */
  clientConfig?: ClientOptions['perMessageDeflate'];
  /** Client side: the exact offer expected from our client (null: no offer). */
  expectOffer?: string | null;
  /** Client side: the raw server's answer, verbatim (null: none). */
  answer?: string | null;
  /** Client side: the answer is invalid, so the client must fail the handshake. */
  handshakeFails?: boolean;
}

/** A conformance case. */
export interface ConformanceCase {
  /** Autobahn-style number, e.g. '5.19', or our own numbering inside its group. */
  id: string;
  /** The group: 'Framing', 'Pings', ... */
  group: string;
  /** What is sent, in a few words. */
  title: string;
  /** Sides it applies to (default both). */
  sides?: readonly Side[];
  steps: Step[];
  expect: { events: ExpectedEvent[]; close: CloseExpectation };
  /** Time budget for the case (default 5 s). */
  timeoutMs?: number;
  deflate?: DeflateSpec;
  /** Options of our server for this case (default: the plain echo server). */
  serverOptions?: Omit<WebSocketServerOptions, 'httpServer'>;
  /** Options of our client for this case. */
  clientOptions?: ClientOptions;
}
