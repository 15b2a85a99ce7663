import { Buffer } from 'node:buffer';
import type { ClientOptions } from '../handshake/client-options.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import {
  checkSubprotocols,
  getUrlRecord,
  toProtocolList,
  validateCloseCodeAndReason,
} from './argument-checks.js';
import { CloseEvent, type CloseEventShape } from './close-event.js';
import type {
  AddEventListenerOptionsShape,
  EventListenerOptionsShape,
  EventListenerShape,
} from './event-types.js';
import { sendBlob } from './send-blob.js';
import {
  copyBufferSource,
  isBufferSource,
  toArrayBuffer,
  toClampedUnsignedShort,
  toDOMString,
  toUSVString,
} from './web-idl.js';
import {
  formatExtensions,
  ReadyState,
  type SessionMessage,
  WebSocketSession,
} from './web-socket-session.js';

/** How binary messages are handed to 'message' listeners. */
export type BinaryType = 'blob' | 'arraybuffer';

/** What send() takes: text, bytes, or a Blob (sent as one binary message, read as a stream). */
export type WebSocketSendData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** The events of a WebSocket and the shape of each (the 'close' event is a {@link CloseEvent}). */
export interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  error: Event;
  close: CloseEventShape;
}

/**
 * The standard WebSocket's public shape: what handlers and listeners see as `this`. Typed
 * structurally, so that our WebSocket is also a lib.dom WebSocket (whose handlers expect
 * theirs): a socket from this module can be passed where code typed against the DOM lib
 * expects one.
 */
export interface WebSocketShape extends EventTarget {
  readonly url: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly extensions: string;
  readonly protocol: string;
  binaryType: BinaryType;
  send(data: WebSocketSendData): void;
  close(code?: number, reason?: string): void;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

/**
 * Node-only options, passed instead of the protocols as the second argument (as undici
 * and ws take theirs): every option of `connect()` (headers, origin, TLS, perMessageDeflate,
 * limits, handshakeTimeout, signal...) but the two that would change what a read yields.
 */
export interface WebSocketInit
  extends Omit<ClientOptions, 'protocols' | 'assembleFragments' | 'messageStreams'> {
  /** The subprotocols to offer, most preferred first. */
  protocols?: string | Iterable<string>;
}

/** Options of {@link toWebSocket}. */
export interface ToWebSocketOptions {
  /** What `url` reports (and the origin of message events). Default: '' (unknown). */
  url?: string | URL;
}

type Handler<K extends keyof WebSocketEventMap> =
  | ((this: WebSocketShape, event: WebSocketEventMap[K]) => unknown)
  | null;

/** A handler attribute's value and the listener that calls it (HTML's event handler). */
interface HandlerSlot {
  value: unknown;
  listener: (event: Event) => void;
}

/** Lets toWebSocket() reach the constructor without a URL. */
const ADOPT: unique symbol = Symbol('adopt');
interface AdoptInit {
  [ADOPT]: WebSocketConnection;
  url: string;
}

/**
 * Speaks the WHATWG WebSocket on Node, over this library's WebSocketConnection: the
 * browser's API, with its checks, its events (each fired in a task of its own, as the
 * standard queues them), `binaryType` ('blob' by default, with Node's Blob) and `bufferedAmount`. Node-only
 * options go in the second argument instead of the protocols.
 *
 * Reading follows the connection's backpressure: a message is read from the connection
 * when its event is about to be fired, so a process busy in its listeners stops the
 * socket instead of growing a queue.
 *
 * @see https://websockets.spec.whatwg.org/#the-websocket-interface
 * @example
 * ```ts
 * const ws = new WebSocket('wss://example.com/chat', ['chat.v1']);
 * ws.binaryType = 'arraybuffer';
 * ws.onopen = () => ws.send('hello');
 * ws.onmessage = (event) => console.log(event.data);
 * ws.onclose = (event) => console.log(event.code, event.reason, event.wasClean);
 * ```
 */
export class WebSocket extends EventTarget implements WebSocketShape {
  declare static readonly CONNECTING: 0;
  declare static readonly OPEN: 1;
  declare static readonly CLOSING: 2;
  declare static readonly CLOSED: 3;
  declare readonly CONNECTING: 0;
  declare readonly OPEN: 1;
  declare readonly CLOSING: 2;
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #origin: string;
  readonly #session: WebSocketSession;
  #binaryType: BinaryType = 'blob';
  #protocol = '';
  #extensions = '';
  #bufferedAmount = 0;
  #released = 0;
  #releaseScheduled = false;
  #openPending = false;
  #taskScheduled = false;
  #closeFired = false;
  readonly #handlers = new Map<string, HandlerSlot>();

  /**
   * Checks the URL and the subprotocols (a SyntaxError DOMException for a bad one) and
   * starts the opening handshake. The second argument is the protocols (a string or a
   * list), or a {@link WebSocketInit} of Node-only options.
   *
   * @see https://websockets.spec.whatwg.org/#dom-websocket-websocket
   */
  constructor(url: string | URL, protocols?: string | Iterable<string> | WebSocketInit) {
    // biome-ignore lint/complexity/noArguments: Web IDL tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to construct 'WebSocket': 1 argument required");
    }
    super();
    const hooks = { established: () => this.#onEstablished(), changed: () => this.#schedule() };
    if (isAdoptInit(protocols)) {
      this.#url = protocols.url;
      this.#origin = originOf(protocols.url);
      this.#session = WebSocketSession.adopt(protocols[ADOPT], hooks);
      return;
    }
    const record = getUrlRecord(url);
    const init = isInit(protocols) ? protocols : { protocols };
    const list = toProtocolList(init.protocols);
    checkSubprotocols(list);
    this.#url = record.href;
    this.#origin = record.origin;
    const { protocols: _offered, ...options } = init;
    this.#session = WebSocketSession.connect(record, list, options, hooks);
  }

  /** Returns the URL the connection was made to, with a ws: or wss: scheme. */
  get url(): string {
    return this.#url;
  }

  /** Returns the state: CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): ReadyState {
    return this.#session.readyState;
  }

  /**
   * Returns the bytes of application data queued by send() and not yet handed to the
   * transport. It changes only between tasks, and keeps counting what is sent after the
   * close. @see https://websockets.spec.whatwg.org/#dom-websocket-bufferedamount
   */
  get bufferedAmount(): number {
    return this.#bufferedAmount;
  }

  /** Returns the extensions the server agreed to, as a Sec-WebSocket-Extensions value. */
  get extensions(): string {
    return this.#extensions;
  }

  /** Returns the subprotocol the server chose ('' when none). */
  get protocol(): string {
    return this.#protocol;
  }

  /** Returns how binary messages are handed out: 'blob' (default) or 'arraybuffer'. */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  /** Changes how binary messages are handed out; a value that is neither is ignored. */
  set binaryType(value: BinaryType) {
    const type = toDOMString(value);
    if (type === 'blob' || type === 'arraybuffer') this.#binaryType = type;
  }

  get onopen(): Handler<'open'> {
    return this.#getHandler('open') as Handler<'open'>;
  }

  set onopen(value: Handler<'open'>) {
    this.#setHandler('open', value);
  }

  get onmessage(): Handler<'message'> {
    return this.#getHandler('message') as Handler<'message'>;
  }

  set onmessage(value: Handler<'message'>) {
    this.#setHandler('message', value);
  }

  get onerror(): Handler<'error'> {
    return this.#getHandler('error') as Handler<'error'>;
  }

  set onerror(value: Handler<'error'>) {
    this.#setHandler('error', value);
  }

  get onclose(): Handler<'close'> {
    return this.#getHandler('close') as Handler<'close'>;
  }

  set onclose(value: Handler<'close'>) {
    this.#setHandler('close', value);
  }

  /**
   * Sends a message: a string as text (UTF-8), an ArrayBuffer, a view or a Blob as binary,
   * in the order of the calls even when a Blob is read asynchronously. Throws an
   * InvalidStateError DOMException while CONNECTING; after the close begins, the data is
   * dropped and only counted in bufferedAmount, as the standard says.
   *
   * @see https://websockets.spec.whatwg.org/#dom-websocket-send
   */
  send(data: WebSocketSendData): void {
    // biome-ignore lint/complexity/noArguments: Web IDL tells a missing argument from undefined
    if (arguments.length === 0) {
      throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required");
    }
    const message = toMessage(data);
    const session = this.#session;
    if (session.readyState === ReadyState.CONNECTING) {
      throw new DOMException('Still in CONNECTING state', 'InvalidStateError');
    }
    const size = message instanceof Blob ? message.size : Buffer.byteLength(message);
    this.#bufferedAmount += size;
    const connection = session.connection;
    if (
      session.readyState !== ReadyState.OPEN ||
      session.closingHandshakeStarted ||
      connection === undefined
    ) {
      return;
    }
    if (message instanceof Blob) {
      sendBlob(
        connection,
        message,
        (bytes) => this.#release(bytes),
        () => session.fail(),
      );
      return;
    }
    session.send(message, (err) => {
      if (!err) this.#release(size);
    });
  }

  /**
   * Closes: checks the code (1000 or 3000-4999, else InvalidAccessError) and the reason (at
   * most 123 bytes, else SyntaxError), then fails a connection still being made or starts
   * the closing handshake after everything sent before.
   *
   * @see https://websockets.spec.whatwg.org/#dom-websocket-close
   */
  close(code?: number, reason?: string): void {
    const closeCode = code === undefined ? null : toClampedUnsignedShort(code);
    const closeReason = reason === undefined ? '' : toUSVString(reason);
    validateCloseCodeAndReason(closeCode, closeReason);
    this.#session.close(closeCode, closeReason);
  }

  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocketShape, event: WebSocketEventMap[K]) => unknown) | null,
    options?: boolean | AddEventListenerOptionsShape,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerShape | null,
    options?: boolean | AddEventListenerOptionsShape,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerShape | null,
    options?: boolean | AddEventListenerOptionsShape,
  ): void {
    super.addEventListener(
      type,
      listener as Parameters<EventTarget['addEventListener']>[1],
      options,
    );
  }

  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: ((this: WebSocketShape, event: WebSocketEventMap[K]) => unknown) | null,
    options?: boolean | EventListenerOptionsShape,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerShape | null,
    options?: boolean | EventListenerOptionsShape,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerShape | null,
    options?: boolean | EventListenerOptionsShape,
  ): void {
    super.removeEventListener(
      type,
      listener as Parameters<EventTarget['addEventListener']>[1],
      options,
    );
  }

  get [Symbol.toStringTag](): string {
    return 'WebSocket';
  }

  // ---------------------------------------------------------------- feedback from the protocol

  #onEstablished(): void {
    this.#openPending = true;
    this.#schedule();
  }

  /** Runs the next task (one event each) on a later turn of the event loop. */
  #schedule(): void {
    if (this.#taskScheduled || this.#closeFired) return;
    this.#taskScheduled = true;
    setImmediate(() => {
      this.#taskScheduled = false;
      this.#runTask();
    });
  }

  /**
   * Runs one task of the WebSocket task source: announce the connection, or fire one
   * message, or, once every message read before it is out, the close.
   *
   * @see https://websockets.spec.whatwg.org/#feedback-from-the-protocol
   */
  #runTask(): void {
    const session = this.#session;
    if (this.#openPending) {
      this.#openPending = false;
      if (session.readyState === ReadyState.CONNECTING) {
        const connection = session.connection!;
        session.readyState = ReadyState.OPEN;
        this.#extensions = formatExtensions(connection.extensions);
        this.#protocol = connection.protocol;
        this.dispatchEvent(new Event('open'));
      }
      this.#schedule();
      return;
    }
    const message = session.read();
    if (message !== null) {
      if (session.readyState === ReadyState.OPEN) this.#fireMessage(message);
      this.#schedule();
      return;
    }
    if (session.peerClosing && session.readyState === ReadyState.OPEN) {
      session.readyState = ReadyState.CLOSING;
    }
    const outcome = session.outcome;
    if (outcome === undefined) return;
    this.#closeFired = true;
    session.readyState = ReadyState.CLOSED;
    if (outcome.failed) this.dispatchEvent(new Event('error'));
    this.dispatchEvent(
      new CloseEvent('close', {
        wasClean: outcome.wasClean,
        code: outcome.code,
        reason: outcome.reason,
      }),
    );
  }

  #fireMessage(message: SessionMessage): void {
    let data: string | Blob | ArrayBuffer;
    if (typeof message === 'string') data = message;
    else if (this.#binaryType === 'blob') data = new Blob([message as Uint8Array<ArrayBuffer>]);
    else data = toArrayBuffer(message);
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }));
  }

  /** Takes sent bytes off bufferedAmount at the next task, not within the current one. */
  #release(bytes: number): void {
    this.#released += bytes;
    if (this.#releaseScheduled) return;
    this.#releaseScheduled = true;
    setImmediate(() => {
      this.#releaseScheduled = false;
      this.#bufferedAmount -= this.#released;
      this.#released = 0;
    });
  }

  #getHandler(type: string): unknown {
    return this.#handlers.get(type)?.value ?? null;
  }

  /**
   * Sets an event handler attribute as HTML does: the listener is added when the first
   * non-null value is set and keeps its place when replaced; null (or any non-object)
   * removes it. @see https://html.spec.whatwg.org/#event-handler-attributes
   */
  #setHandler(type: string, value: unknown): void {
    const slot = this.#handlers.get(type);
    if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
      if (slot !== undefined) {
        this.removeEventListener(type, slot.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (slot !== undefined) {
      slot.value = value;
      return;
    }
    const created: HandlerSlot = {
      value,
      listener: (event) => {
        const handler = created.value;
        if (typeof handler === 'function') handler.call(this, event);
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }

  static {
    for (const target of [WebSocket, WebSocket.prototype]) {
      Object.defineProperties(target, {
        CONNECTING: { value: ReadyState.CONNECTING, enumerable: true },
        OPEN: { value: ReadyState.OPEN, enumerable: true },
        CLOSING: { value: ReadyState.CLOSING, enumerable: true },
        CLOSED: { value: ReadyState.CLOSED, enumerable: true },
      });
    }
  }
}

/**
 * Hands a connection accepted by a server (or made by connect()) to code written for the
 * standard API, as Deno's and Bun's servers do: the WebSocket starts CONNECTING and fires
 * 'open' in the next task, so that handlers set right after this call see it.
 *
 * @example
 * ```ts
 * wss.on('connect', (connection) => {
 *   const ws = toWebSocket(connection);
 *   ws.onmessage = (event) => ws.send(event.data);
 * });
 * ```
 */
export function toWebSocket(
  connection: WebSocketConnection,
  options: ToWebSocketOptions = {},
): WebSocket {
  const init: AdoptInit = { [ADOPT]: connection, url: options.url?.toString() ?? '' };
  return new WebSocket('', init as unknown as WebSocketInit);
}

function isAdoptInit(value: unknown): value is AdoptInit {
  return typeof value === 'object' && value !== null && ADOPT in value;
}

/** Tells a WebSocketInit from protocols: an object that is not iterable. */
function isInit(value: unknown): value is WebSocketInit {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function'
  );
}

/** Converts send()'s `(BufferSource or Blob or USVString)` argument. */
function toMessage(data: unknown): string | Buffer | Blob {
  if (data instanceof Blob) return data;
  if (isBufferSource(data)) return copyBufferSource(data);
  return toUSVString(data);
}

function originOf(url: string): string {
  try {
    return url === '' ? '' : new URL(url).origin;
  } catch {
    return '';
  }
}
