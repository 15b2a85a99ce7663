import { connect } from '../client.js';
import type { ClientOptions } from '../handshake/client-options.js';
import { ConnectionClosedError, ErrorCode } from '../protocol/errors.js';
import type { ExtensionOffer } from '../protocol/header-parser.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';

/** The ready states of the standard, as numbers (a WebSocket's `readyState`). */
export const ReadyState = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;

export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

/** How the connection ended, as the close event and the `closed` promise report it. */
export interface CloseOutcome {
  /** The WebSocket connection close code (1005 for a Close without one, 1006 for none). */
  code: number;
  /** The WebSocket connection close reason. */
  reason: string;
  /** Whether both Close frames were exchanged before TCP closed. */
  wasClean: boolean;
  /** Whether the connection was failed (the 'error' event is due). */
  failed: boolean;
  /** Whether the opening handshake succeeded. */
  established: boolean;
}

/** A message read: a string for text, a Buffer for binary. */
export type SessionMessage = string | Buffer;

/** What the session tells its owner. Each is called on the event loop, never re-entrantly. */
export interface SessionHooks {
  /** The opening handshake succeeded (not yet announced: the owner decides when). */
  established(): void;
  /** Something changed: a message can be read, the peer began closing, or the connection closed. */
  changed(): void;
}

/**
 * Options handed to `connect()` whatever the caller passed: reads must be whole messages,
 * and a connection that the bytes sent with its 101 already failed is still handed over
 * (the standard announces 'open' before that failure; see KEEP_FAILED_CONNECTION in
 * lib/handshake/client-handshake.ts, which registers the same symbol).
 */
const FORCED_OPTIONS = {
  assembleFragments: true,
  messageStreams: false,
  [Symbol.for('websocket-duplex.keepFailedConnection')]: true,
} as const;

/**
 * Runs the protocol side shared by WebSocket and WebSocketStream: establishes (or adopts) a
 * WebSocketConnection, reads its messages one at a time when the owner asks (so that an
 * owner that stops asking stops the socket: the connection pauses its transport once its
 * own small buffer is full), runs the standard's "close the WebSocket" steps, and reports
 * how the connection ended. Events and promises are the owners' business.
 *
 * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
 */
export class WebSocketSession {
  /** The ready state; owners move it to OPEN when they announce the connection. */
  readyState: ReadyState = ReadyState.CONNECTING;
  readonly #hooks: SessionHooks;
  readonly #abort = new AbortController();
  #connection: WebSocketConnection | undefined;
  #failRequested = false;
  #closeStarted = false;
  #peerClosing = false;
  #outcome: CloseOutcome | undefined;
  #discarding = false;

  private constructor(hooks: SessionHooks) {
    this.#hooks = hooks;
  }

  /**
   * Starts the opening handshake. A handshake that fails, or a 101 that names no
   * subprotocol when some were offered, fails the connection (code 1006, no detail: the
   * standard forbids telling a script why).
   *
   * @see https://websockets.spec.whatwg.org/#concept-websocket-establish
   */
  static connect(
    url: URL,
    protocols: readonly string[],
    options: ClientOptions,
    hooks: SessionHooks,
  ): WebSocketSession {
    const session = new WebSocketSession(hooks);
    const signal =
      options.signal == null
        ? session.#abort.signal
        : AbortSignal.any([session.#abort.signal, options.signal]);
    connect(url.href, { ...options, ...FORCED_OPTIONS, protocols: [...protocols], signal }).then(
      (connection) => {
        if (session.#failRequested || (protocols.length > 0 && connection.protocol === '')) {
          connection.terminate();
          session.#failBeforeEstablished();
          return;
        }
        session.#attach(connection);
      },
      () => session.#failBeforeEstablished(),
    );
    return session;
  }

  /** Makes a session that never connects (a WebSocketStream whose signal was already aborted). */
  static idle(): WebSocketSession {
    return new WebSocketSession({ established: () => {}, changed: () => {} });
  }

  /** Takes a connection that is already established (a server's, or one made by connect()). */
  static adopt(connection: WebSocketConnection, hooks: SessionHooks): WebSocketSession {
    const session = new WebSocketSession(hooks);
    queueMicrotask(() => session.#attach(connection));
    return session;
  }

  /** The connection, once established. */
  get connection(): WebSocketConnection | undefined {
    return this.#connection;
  }

  /** Whether a Close was sent or received ("the WebSocket closing handshake is started"). */
  get closingHandshakeStarted(): boolean {
    return this.#closeStarted || this.#peerClosing || this.#outcome !== undefined;
  }

  /** Whether the peer's Close arrived after the last message (the readable side ended). */
  get peerClosing(): boolean {
    return this.#peerClosing;
  }

  /** How the connection ended, once it has. */
  get outcome(): CloseOutcome | undefined {
    return this.#outcome;
  }

  /**
   * Reads the next message, or null when none is buffered. Reading is what lets the
   * connection read its transport again; messages still buffered when the connection
   * closes stay readable.
   */
  read(): SessionMessage | null {
    const connection = this.#connection;
    if (connection === undefined || this.#discarding) return null;
    return connection.read() as SessionMessage | null;
  }

  /**
   * From now on reads and drops every message, so that the peer's Close, queued behind
   * them, is reached: after close(), messages are not delivered, but the closing
   * handshake must complete. @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  discardMessages(): void {
    this.#discarding = true;
    this.#drain();
  }

  /**
   * Sends a message: a string as text, a Buffer as binary. Calls back once the
   * connection has handed it to its transport (with an error when it could not be sent).
   */
  send(data: string | Buffer, callback: (err?: Error | null) => void): void {
    const connection = this.#connection;
    if (connection === undefined) {
      callback(new ConnectionClosedError('The connection is not established'));
      return;
    }
    connection.write(data, callback);
  }

  /**
   * Runs "close the WebSocket": nothing when already closing; fails a connection that is
   * not yet established; otherwise starts the closing handshake. The code and reason are
   * validated by the caller. A reason without a code means 1000; neither sends a Close
   * without a body, as browsers do.
   *
   * @see https://websockets.spec.whatwg.org/#dom-websocket-close (step 3)
   */
  close(code: number | null, reason: string): void {
    if (this.readyState === ReadyState.CLOSING || this.readyState === ReadyState.CLOSED) return;
    if (this.readyState === ReadyState.CONNECTING) {
      this.fail();
      this.readyState = ReadyState.CLOSING;
      return;
    }
    this.readyState = ReadyState.CLOSING;
    if (this.closingHandshakeStarted) return;
    this.#closeStarted = true;
    this.#connection?.close(code ?? (reason === '' ? null : 1000), reason);
  }

  /**
   * Fails the WebSocket connection: aborts the handshake, or drops the transport of an
   * established connection. The close that follows reports code 1006 and 'error'.
   *
   * @see RFC 6455 §7.1.7
   */
  fail(): void {
    this.#failRequested = true;
    if (this.#connection === undefined) this.#abort.abort();
    else this.#connection.terminate();
  }

  #attach(connection: WebSocketConnection): void {
    this.#connection = connection;
    connection.on('readable', () => this.#changed());
    connection.on('end', () => {
      this.#peerClosing = true;
      this.#changed();
    });
    const onClose = (): void => {
      this.#outcome = {
        code: connection.closeCode,
        reason: connection.closeReason,
        wasClean: connection.wasClean,
        failed: this.#failRequested || isFailure(connection.closeError),
        established: true,
      };
      this.#changed();
    };
    // The connection may have ended before it was handed over: bytes that came with the
    // 101 are processed at once, and a bad frame among them closes it in the same tick.
    // The owner hears of the establishment first, then of the rest.
    this.#hooks.established();
    if (connection.readableEnded) this.#peerClosing = true;
    if ((connection as { closed?: boolean }).closed === true) onClose();
    else connection.once('close', onClose);
    this.#changed();
  }

  #failBeforeEstablished(): void {
    this.#outcome = { code: 1006, reason: '', wasClean: false, failed: true, established: false };
    this.#changed();
  }

  #changed(): void {
    if (this.#discarding) this.#drain();
    this.#hooks.changed();
  }

  #drain(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    while (connection.read() !== null) {
      // Dropped: messages after close() are not delivered.
    }
  }
}

/**
 * Tells whether the connection was failed (a protocol error, a limit, a keepalive
 * timeout, a transport error), as opposed to closed by the peer's dropping TCP, after
 * which browsers fire no 'error'. WebSocketConnection reports the latter as a
 * ConnectionClosedError with the code ERR_WS_CONNECTION_CLOSED.
 */
function isFailure(error: Error | undefined): boolean {
  if (error === undefined) return false;
  return !(error instanceof ConnectionClosedError && error.code === ErrorCode.ConnectionClosed);
}

/**
 * Writes the agreed extensions as the server's Sec-WebSocket-Extensions value, which is
 * what a browser's `extensions` attribute reports: `name; param=value, other`.
 *
 * @see https://websockets.spec.whatwg.org/#dom-websocket-extensions, RFC 6455 §9.1
 * @example formatExtensions([{ name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: '15' }] }])
 *   // 'permessage-deflate; client_max_window_bits=15'
 */
export function formatExtensions(extensions: readonly ExtensionOffer[]): string {
  return extensions
    .map((extension) =>
      [
        extension.name,
        ...extension.params.map((param) =>
          param.value === null ? param.name : `${param.name}=${param.value}`,
        ),
      ].join('; '),
    )
    .join(', ');
}
