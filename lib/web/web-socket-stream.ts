import type { ClientOptions } from '../handshake/client-options.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import {
  checkSubprotocols,
  getUrlRecord,
  toUSVStringSequence,
  validateCloseCodeAndReason,
} from './argument-checks.js';
import {
  type BufferSourceLike,
  copyBufferSource,
  isBufferSource,
  toArrayBuffer,
  toUSVString,
} from './web-idl.js';
import {
  createUnvalidatedWebSocketError,
  toCloseInfo,
  type WebSocketCloseInfo,
  WebSocketError,
} from './web-socket-error.js';
import {
  type CloseOutcome,
  formatExtensions,
  ReadyState,
  type SessionMessage,
  WebSocketSession,
} from './web-socket-session.js';

/** A message read from a WebSocketStream: a string for text, an ArrayBuffer for binary (as Chromium yields). */
export type WebSocketStreamChunk = string | ArrayBuffer;

/** What a WebSocketStream's writable takes: a string is sent as text, bytes as binary. */
export type WebSocketStreamWritableChunk = string | BufferSourceLike;

/** What `opened` resolves with. */
export interface WebSocketOpenInfo {
  readable: ReadableStream<WebSocketStreamChunk>;
  writable: WritableStream<WebSocketStreamWritableChunk>;
  /** The extensions the server agreed to, as a Sec-WebSocket-Extensions value. */
  extensions: string;
  /** The subprotocol the server chose ('' when none). */
  protocol: string;
}

/**
 * Options of a WebSocketStream: the standard's `protocols` and `signal`, and, Node only,
 * every option of `connect()` (headers, origin, TLS, perMessageDeflate, limits...) but the
 * two that would change what a read yields.
 */
export interface WebSocketStreamOptions
  extends Omit<ClientOptions, 'protocols' | 'signal' | 'assembleFragments' | 'messageStreams'> {
  /** The subprotocols to offer, most preferred first. */
  protocols?: Iterable<string>;
  /** Aborts the opening handshake (not the connection once open). */
  signal?: AbortSignal | null;
}

/** Lets WebSocketStream.from() reach the constructor without a URL. */
const ADOPT: unique symbol = Symbol('adopt');
interface AdoptInit {
  [ADOPT]: WebSocketConnection;
  url: string;
}

/** Messages read ahead by the readable side: one, so that an idle reader stops the socket. */
const READABLE_HIGH_WATER_MARK = 1;

/**
 * Speaks WebSocketStream as Chromium ships it (the WHATWG draft): a WebSocket whose
 * messages are a ReadableStream and whose sends are a WritableStream, with backpressure
 * both ways. The
 * readable side pulls one message at a time from the connection, so a reader that stops
 * reading stops the socket (TCP fills and the peer's writes wait); each write's promise
 * settles once the message is handed to the transport and the transport has room.
 *
 * @see https://github.com/whatwg/websockets/pull/48
 * @see https://github.com/ricea/websocketstream-explainer
 * @example
 * ```ts
 * const wss = new WebSocketStream('wss://example.com/feed', { protocols: ['feed.v1'] });
 * const { readable, writable } = await wss.opened;
 * const writer = writable.getWriter();
 * await writer.write('subscribe');
 * for await (const message of readable) console.log(message);
 * const { closeCode, reason } = await wss.closed;
 * ```
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #session: WebSocketSession;
  readonly #opened: Deferred<WebSocketOpenInfo>;
  readonly #closed: Deferred<WebSocketCloseInfo>;
  #readableController: ReadableStreamDefaultController<WebSocketStreamChunk> | undefined;
  /** Whether the readable may still take chunks (not cancelled, closed or errored). */
  #readableOpen = false;
  #writableController: WritableStreamDefaultController | undefined;
  /** Settles a pull that waits for a message. */
  #wakePull: (() => void) | undefined;
  /** Settles the writable's close() once the connection has closed. */
  #pendingWritableClose: Deferred<void> | undefined;
  #handshakeAborted = false;
  #settled = false;
  #abortCleanup: (() => void) | undefined;

  /**
   * Checks the URL and the subprotocols (SyntaxError DOMException) and starts the opening
   * handshake; `signal` aborts it, rejecting `opened` and `closed` with its reason.
   *
   * @see https://github.com/whatwg/websockets/pull/48 (the WebSocketStream constructor)
   */
  constructor(url: string | URL, options?: WebSocketStreamOptions) {
    // biome-ignore lint/complexity/noArguments: Web IDL tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocketStream': 1 argument required");
    }
    this.#opened = deferred();
    this.#closed = deferred();
    const hooks = { established: () => this.#onEstablished(), changed: () => this.#onChanged() };
    if (isAdoptInit(options)) {
      this.#url = options.url;
      this.#session = WebSocketSession.adopt(options[ADOPT], hooks);
      return;
    }
    const record = getUrlRecord(url);
    const init = toOptions(options);
    const protocols =
      init.protocols === undefined ? [] : toUSVStringSequence(init.protocols, 'protocols');
    checkSubprotocols(protocols);
    const signal = init.signal ?? undefined;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("Failed to read the 'signal' property: not an AbortSignal");
    }
    this.#url = record.href;
    const { protocols: _offered, signal: _signal, ...clientOptions } = init;
    if (signal?.aborted) {
      // The standard returns before establishing anything: no connection is attempted.
      this.#session = WebSocketSession.idle();
      this.#handshakeAborted = true;
      this.#opened.reject(signal.reason);
      this.#closed.reject(signal.reason);
      return;
    }
    this.#session = WebSocketSession.connect(record, protocols, clientOptions, hooks);
    if (signal !== undefined) {
      const onAbort = (): void => {
        if (this.#session.readyState !== ReadyState.CONNECTING) return;
        this.#session.fail();
        this.#session.readyState = ReadyState.CLOSING;
        this.#handshakeAborted = true;
        this.#opened.reject(signal.reason);
        this.#closed.reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#abortCleanup = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Gives code written for WebSocketStream a connection accepted by a server (or made by
   * connect()): the same shape on both ends, so `for await` and `pipeTo`/`pipeThrough`
   * compositions work on either.
   *
   * @example
   * ```ts
   * wss.on('connect', async (connection) => {
   *   const { readable, writable } = await WebSocketStream.from(connection).opened;
   *   await readable.pipeTo(writable); // echo, with backpressure
   * });
   * ```
   */
  static from(
    connection: WebSocketConnection,
    options: { url?: string | URL } = {},
  ): WebSocketStream {
    const init: AdoptInit = { [ADOPT]: connection, url: options.url?.toString() ?? '' };
    return new WebSocketStream('', init as unknown as WebSocketStreamOptions);
  }

  /** Returns the URL the connection was made to, with a ws: or wss: scheme. */
  get url(): string {
    return this.#url;
  }

  /** Resolves once the connection is established; rejects when it never is. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened.promise;
  }

  /** Resolves with the close code and reason after a clean close; rejects with a WebSocketError otherwise. */
  get closed(): Promise<WebSocketCloseInfo> {
    return this.#closed.promise;
  }

  /**
   * Closes with an optional code (1000 or 3000-4999, else InvalidAccessError) and reason
   * (at most 123 bytes, else SyntaxError); a reason alone means 1000. Fails a connection
   * still being made.
   *
   * @see https://github.com/whatwg/websockets/pull/48 (close the WebSocket)
   */
  close(closeInfo?: WebSocketCloseInfo): void {
    const { code, reason } = toCloseInfo(closeInfo);
    validateCloseCodeAndReason(code, reason);
    this.#closeWebSocket(code, reason);
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocketStream';
  }

  #closeWebSocket(code: number | null, reason: string): void {
    const wasOpen = this.#session.readyState === ReadyState.OPEN;
    if (wasOpen) {
      // Messages already received stay readable, as those enqueued in a browser do...
      while (this.#enqueueNext()) {
        // (the connection holds at most its readableHighWaterMark of them)
      }
    }
    this.#session.close(code, reason);
    // ...but those that arrive after close() are not delivered; reading on lets the
    // peer's Close, queued behind them, be seen.
    if (wasOpen) this.#session.discardMessages();
  }

  /**
   * Closes "using a reason" (the readable's cancel, the writable's abort): a WebSocketError
   * gives its code and reason, anything else none; a code that cannot be sent (a 1006
   * handed back by a pipe) is dropped rather than thrown.
   */
  #closeUsingReason(reason: unknown): void {
    let code: number | null = null;
    let text = '';
    if (reason instanceof WebSocketError) {
      code = reason.closeCode;
      text = reason.reason;
    }
    try {
      validateCloseCodeAndReason(code, text);
      this.#closeWebSocket(code, text);
    } catch {
      this.#closeWebSocket(null, '');
    }
  }

  #onEstablished(): void {
    this.#abortCleanup?.();
    setImmediate(() => this.#announce());
  }

  /** Resolves `opened` with the two streams (in a task, as the standard queues it). */
  #announce(): void {
    const session = this.#session;
    if (session.readyState !== ReadyState.CONNECTING) return;
    const connection = session.connection!;
    session.readyState = ReadyState.OPEN;
    const readable = new ReadableStream<WebSocketStreamChunk>(
      {
        start: (controller) => {
          this.#readableController = controller;
          this.#readableOpen = true;
        },
        pull: () => this.#pull(),
        cancel: (reason) => {
          this.#readableOpen = false;
          this.#closeUsingReason(reason);
        },
      },
      { highWaterMark: READABLE_HIGH_WATER_MARK },
    );
    const writable = new WritableStream<WebSocketStreamWritableChunk>(
      {
        start: (controller) => {
          this.#writableController = controller;
        },
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeWritable(),
        abort: (reason) => this.#closeUsingReason(reason),
      },
      { highWaterMark: 1 },
    );
    // Members in Web IDL's dictionary order (lexicographic), as a browser returns them.
    this.#opened.resolve({
      extensions: formatExtensions(connection.extensions),
      protocol: connection.protocol,
      readable,
      writable,
    });
    this.#onChanged();
  }

  /**
   * Enqueues the next message, waiting for one if none is buffered: the connection is read
   * only here, when the stream wants a chunk, which is what carries backpressure to TCP.
   */
  #pull(): Promise<void> | undefined {
    if (this.#enqueueNext()) return undefined;
    return new Promise((resolve) => {
      this.#wakePull = resolve;
    });
  }

  /** Enqueues one message if one is buffered; tells whether one was. */
  #enqueueNext(): boolean {
    if (!this.#readableOpen) return false;
    const message = this.#session.read();
    if (message === null) return false;
    this.#readableController!.enqueue(toChunk(message));
    return true;
  }

  #onChanged(): void {
    const wake = this.#wakePull;
    if (wake !== undefined && (this.#enqueueNext() || this.#session.outcome !== undefined)) {
      this.#wakePull = undefined;
      wake();
    }
    const outcome = this.#session.outcome;
    if (outcome !== undefined && !this.#settled) {
      this.#settled = true;
      setImmediate(() => this.#onClosed(outcome));
    }
  }

  /**
   * Settles everything once the connection has closed: after a clean close the readable
   * ends (after the messages still buffered), the writable errors with InvalidStateError
   * and `closed` resolves; otherwise both streams and `closed` fail with a WebSocketError
   * carrying the code (1006 when there was no closing handshake).
   *
   * @see https://github.com/whatwg/websockets/pull/48 (the WebSocket connection is closed)
   */
  #onClosed(outcome: CloseOutcome): void {
    this.#abortCleanup?.();
    const session = this.#session;
    session.readyState = ReadyState.CLOSED;
    if (this.#handshakeAborted) return;
    if (!outcome.established || this.#readableController === undefined) {
      this.#opened.reject(new WebSocketError('WebSocket closed before handshake complete.'));
      this.#closed.reject(
        createUnvalidatedWebSocketError('WebSocket was not cleanly closed.', 1006, ''),
      );
      return;
    }
    const pendingClose = this.#pendingWritableClose;
    if (outcome.wasClean) {
      while (this.#enqueueNext()) {
        // Messages that came before the peer's Close are delivered before the end.
      }
      if (this.#readableOpen) this.#readableController.close();
      this.#readableOpen = false;
      pendingClose?.resolve();
      this.#writableController?.error(
        new DOMException('Cannot write to a closed WebSocketStream.', 'InvalidStateError'),
      );
      this.#closed.resolve({ closeCode: outcome.code, reason: outcome.reason });
      return;
    }
    const error = createUnvalidatedWebSocketError(
      'WebSocket was not cleanly closed.',
      outcome.code,
      outcome.reason,
    );
    this.#readableOpen = false;
    this.#readableController.error(error);
    pendingClose?.reject(error);
    this.#writableController?.error(error);
    this.#closed.reject(error);
  }

  /**
   * Sends one chunk: a BufferSource (copied) as binary, anything else converted to a
   * string as text. The promise settles once the connection has handed the message to its
   * transport and the transport has room: that is the writable's backpressure. After the
   * closing handshake has started, nothing is sent.
   */
  #write(chunk: unknown): Promise<void> | undefined {
    const data = isBufferSource(chunk) ? copyBufferSource(chunk) : toUSVString(chunk);
    const session = this.#session;
    if (session.closingHandshakeStarted) return undefined;
    return new Promise((resolve) => session.send(data, () => resolve()));
  }

  /** Closes the connection when the writable is closed; settles when the connection has. */
  #closeWritable(): Promise<void> {
    const pending = deferred<void>();
    this.#pendingWritableClose = pending;
    this.#closeWebSocket(null, '');
    return pending.promise;
  }
}

/** A promise with its settle functions; its rejection counts as handled (a web API's promise must not crash Node). */
interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

function toChunk(message: SessionMessage): WebSocketStreamChunk {
  return typeof message === 'string' ? message : toArrayBuffer(message);
}

function isAdoptInit(value: unknown): value is AdoptInit {
  return typeof value === 'object' && value !== null && ADOPT in value;
}

/** Converts the WebSocketStreamOptions dictionary: undefined and null are empty, a non-object is a TypeError. */
function toOptions(options: unknown): WebSocketStreamOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError('The provided value is not of type WebSocketStreamOptions');
  }
  return options as WebSocketStreamOptions;
}
