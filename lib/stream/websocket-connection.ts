import type { Duplex as NodeDuplex, Writable as NodeWritable } from 'node:stream';
import type { Extension } from '../extensions/extension.js';
import { CloseCode } from '../protocol/close-codes.js';
import { validateCloseArguments } from '../protocol/close-payload.js';
import type { ExtensionOffer } from '../protocol/header-parser.js';
import {
  asBytes,
  invalidMessage,
  messagePayload,
  type SeedMessage,
} from '../protocol/message-payload.js';
import { Opcode } from '../protocol/opcodes.js';
import { Duplex } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import { ConnectionCore } from './connection-core.js';
import type { ConnectionEvents, Incoming, Message, Outgoing } from './connection-events.js';
import * as hook from './connection-hooks.js';
import {
  type ConnectionInit,
  type MessageStreamOptions,
  type ReadyState,
  resolveConnectionInit,
  type SendOptions,
} from './connection-options.js';
import {
  addConsumer,
  consumerProgress,
  type FaultSource,
  type FrameConsumer,
  removeConsumer,
} from './fault-deferral.js';
import { checkRawFrame } from './message-sender.js';
import { tagged } from './outbound-entry.js';
import { startSelfEcho, stopSelfEcho } from './self-echo.js';
import { dropTransport } from './transport-events.js';

/** The transport under a connection: a TCP or TLS socket, an HTTP/2 stream, a test pair. */
export type Transport = NodeDuplex;

export type {
  ConnectionEvents,
  Incoming,
  IncomingOf,
  Message,
  Outgoing,
  SeedFrame,
} from './connection-events.js';
export type { MessageStreamOptions, ReadyState, SendOptions } from './connection-options.js';
export type { IncomingChunk } from './inbound-processor.js';

const EMPTY = Buffer.alloc(0);
const NO_EXTENSIONS: readonly Extension[] = Object.freeze([]);

/**
 * The connection's typed face: its events (an unknown event name does not compile), what
 * a read yields in its mode (`In`: string | Buffer, an IncomingMessageStream, or a Frame),
 * WebSocket-Node's methods, installed on the prototype by lib/compat/connection-api.ts when
 * the package is imported (nothing here depends on it), and the ready-state constants.
 */
export interface WebSocketConnection<In extends Incoming = Message> {
  // EventEmitter's methods, typed by the connection's events (see TypedEventMethods).
  on<E extends keyof ConnectionEvents<In>>(event: E, listener: ConnectionEvents<In>[E]): this;
  once<E extends keyof ConnectionEvents<In>>(event: E, listener: ConnectionEvents<In>[E]): this;
  addListener<E extends keyof ConnectionEvents<In>>(
    event: E,
    listener: ConnectionEvents<In>[E],
  ): this;
  prependListener<E extends keyof ConnectionEvents<In>>(
    event: E,
    listener: ConnectionEvents<In>[E],
  ): this;
  prependOnceListener<E extends keyof ConnectionEvents<In>>(
    event: E,
    listener: ConnectionEvents<In>[E],
  ): this;
  off<E extends keyof ConnectionEvents<In>>(event: E, listener: ConnectionEvents<In>[E]): this;
  removeListener<E extends keyof ConnectionEvents<In>>(
    event: E,
    listener: ConnectionEvents<In>[E],
  ): this;
  /** Reads the next message (or message stream, or Frame), or null when none is buffered. */
  read(size?: number): In | null;
  /** Reads the messages one by one; leaving the loop early closes with 1000. */
  [Symbol.asyncIterator](): NodeJS.AsyncIterator<In>;
  /** Whether the connection is open (WebSocket-Node's name for `isOpen`). */
  readonly connected: boolean;
  /** The protocol version spoken: 13, the only one (RFC 6455). */
  readonly webSocketVersion: number;
  /** Sends a text message (WebSocket-Node's API; the same as `write(String(data))`). */
  sendUTF(data: unknown, callback?: (err?: Error | null) => void): boolean;
  /** Sends a binary message (WebSocket-Node's API; the same as `write(buffer)`). */
  sendBytes(data: Uint8Array, callback?: (err?: Error | null) => void): boolean;
  /**
   * Closes at once (WebSocket-Node's API): sends a Close with `reasonCode` (1002 by
   * default) unless `skipCloseFrame`, then drops the transport without waiting. Given an
   * options object as second argument, it is Readable's `drop(limit, options)` instead.
   */
  drop(
    reasonCode?: number,
    description?: string | { signal?: AbortSignal },
    skipCloseFrame?: boolean,
  ): this;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
}

/**
 * A WebSocket connection as a Duplex stream: one read is one message (`string` for text,
 * `Buffer` for binary), one write is one message (a string is sent as text, bytes as
 * binary). Pings are answered, the closing handshake is run, and backpressure goes end to
 * end: when nothing reads, the connection stops reading its transport.
 *
 * - `end()` sends Close 1000 after everything written before it; the readable side keeps
 *   delivering until the peer's Close. `close(code, reason)` does the same with a code.
 * - A Close from the peer ends the readable side after the last message and is answered.
 * - `destroy(err)` sends a Close with the error's code (1011 for errors that are not ours)
 *   and emits `err`; `terminate()` drops the transport at once.
 * - Errors (a protocol violation by the peer, an abnormal closure) are emitted as 'error'
 *   and kept in `closeError`. The connection keeps a do-nothing 'error' listener of its own,
 *   so that an error nobody listens for closes the connection instead of crashing the
 *   process: a hostile peer cannot take a server down, not even one that only does
 *   `ws.pipe(ws)`. A write after the close fails through its callback with
 *   ERR_WS_CONNECTION_CLOSED, never as an 'error' event.
 *
 * 'close' is emitted with `(closeCode, closeReason)`, as ws and WebSocket-Node do.
 *
 * This class is the stream shell; the machinery (inbound and sending sides, control frames,
 * the closing handshake, keepalive) is its ConnectionCore.
 *
 * @see RFC 6455 §5 (framing), §7 (closing)
 * @example
 * ```ts
 * const ws = new WebSocketConnection(socket, { role: 'server' });
 * ws.pipe(ws); // echo, text stays text and binary stays binary
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above declares what compat/ and the prototype add.
export class WebSocketConnection<In extends Incoming = Message>
  extends Duplex
  implements FaultSource
{
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  /** The subprotocol agreed in the handshake ('' when none). */
  readonly protocol: string;
  /** The URL a client connection was opened to (after redirects); undefined on a server. */
  readonly url: string | undefined;
  readonly #core: ConnectionCore;
  #selfEcho = false;

  constructor(transport: Transport, init: ConnectionInit) {
    const options = resolveConnectionInit(init);
    super({
      readableObjectMode: true,
      writableObjectMode: options.mode === 'frames',
      decodeStrings: false,
      allowHalfOpen: true,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
    });
    this.protocol = init.protocol ?? '';
    this.url = init.url;
    this.#core = new ConnectionCore(this, transport, options, init.extensions ?? NO_EXTENSIONS);
    this.on('error', ignoreError);
    this.#core.start(init.head);
  }

  /** The close code: the peer's (1005 when its Close had none), or 1006 when there was no closing handshake. */
  get closeCode(): number {
    return this.#core.closeCode;
  }

  /** The reason text of the peer's Close ('' when none). */
  get closeReason(): string {
    return this.#core.closeReason;
  }

  /** Whether both Close frames were exchanged before the transport closed. */
  get wasClean(): boolean {
    return this.#core.wasClean;
  }

  /** The error that ended the connection, also when no 'error' listener was there to see it. */
  get closeError(): Error | undefined {
    return this.#core.closeError;
  }

  /** Bytes written but not yet handed to the kernel: our queue, our batch and the transport's. */
  get bufferedAmount(): number {
    return this.writableLength + this.#core.queuedBytes;
  }

  /**
   * Where the connection stands, as ws and the WHATWG WebSocket say it: OPEN (1) until a
   * Close is sent or received, CLOSING (2) until the transport is gone, then CLOSED (3). A
   * connection exists once its handshake succeeded, so it is never CONNECTING (0).
   */
  get readyState(): ReadyState {
    if (this.#core.transportClosed) return 3;
    return this.#core.isOpen ? 1 : 2;
  }

  /** Whether the connection is open for messages both ways (no Close sent or received). */
  get isOpen(): boolean {
    return this.#core.isOpen;
  }

  /** The extensions agreed in the handshake, with their parameters, in the order they apply. */
  get extensions(): ExtensionOffer[] {
    return this.#core.extensions.map((extension) => extension.agreed);
  }

  /**
   * The extensions themselves, for a MessageAssembler that assembles this connection's raw
   * frames (`new MessageAssembler({ extensions: ws.extensionObjects })`): in raw mode the
   * connection does not decode messages, so their incoming side is free for it. The
   * assembler holds them: their incoming side outlives the connection's close until the
   * assembler ends or is destroyed, which frees it.
   */
  get extensionObjects(): readonly Extension[] {
    return this.#core.extensions;
  }

  /** The transport, for its addresses and TLS details. */
  get transport(): Transport {
    return this.#core.transport;
  }

  /** The peer's address, as the transport reported it when the connection began. */
  get remoteAddress(): string | undefined {
    return this.#core.remoteAddress;
  }

  /**
   * Sends a ping (at most 125 bytes of payload). The peer answers with a pong, which is
   * emitted as 'pong'.
   *
   * @see RFC 6455 §5.5.2
   */
  ping(data: string | Uint8Array = EMPTY): void {
    this.#core.control(Opcode.Ping, data);
  }

  /** Sends an unsolicited pong (a unidirectional heartbeat). @see RFC 6455 §5.5.3 */
  pong(data: string | Uint8Array = EMPTY): void {
    this.#core.control(Opcode.Pong, data);
  }

  /**
   * Closes with a code (1000 by default) and reason, after everything written before;
   * `null` sends a Close with no status code (the peer then reports 1005). Throws
   * InvalidArgumentError for a code that may not be sent, a reason over 123 bytes, or a
   * reason without a code.
   *
   * @see RFC 6455 §5.5.1, §7.4
   */
  close(code: number | null = CloseCode.Normal, reason = ''): this {
    validateCloseArguments(code ?? undefined, reason);
    this.#core.intendClose(code ?? undefined, reason);
    this.end();
    return this;
  }

  /** Drops the transport at once, with no closing handshake (1006). */
  terminate(): void {
    dropTransport(this.#core.transport);
    this.destroy();
  }

  /**
   * Sends one message: a string as text, bytes as binary, unless `options.binary` says
   * otherwise; `compress: false` sends it untransformed by extensions (permessage-deflate).
   * WebSocket-Node's message objects are sent as what they carry; anything else (a plain
   * object) throws a TypeError rather than going out as "[object Object]". Returns what
   * `write()` returns.
   */
  send(data: Outgoing<In> | SeedMessage, callback?: (err?: Error | null) => void): boolean;
  send(
    data: Outgoing<In> | SeedMessage,
    options: SendOptions,
    callback?: (err?: Error | null) => void,
  ): boolean;
  send(
    data: unknown,
    optionsOrCallback?: SendOptions | ((err?: Error | null) => void),
    maybeCallback?: (err?: Error | null) => void,
  ): boolean {
    const options = typeof optionsOrCallback === 'function' ? undefined : optionsOrCallback;
    const callback = typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback;
    const plain = options?.binary === undefined && options?.compress !== false;
    if (plain && (typeof data === 'string' || data instanceof Uint8Array)) {
      return this.write(data, callback);
    }
    const { payload, binary } = messagePayload(data);
    if (plain) return this.write(binary ? payload : payload.toString('utf8'), callback);
    const entry = {
      kind: 'send',
      binary: options?.binary ?? binary,
      compress: options?.compress ?? true,
    } as const;
    return this.write(tagged(payload, entry), callback);
  }

  /**
   * Returns a Writable that sends ONE message of any length as fragments, with
   * backpressure. Writes to the connection made after this call wait until the message
   * stream ends; control frames still go out between its fragments.
   *
   * @example
   * ```ts
   * await pipeline(fs.createReadStream('big.bin'), ws.createMessageStream({ binary: true }));
   * ```
   */
  createMessageStream(options: MessageStreamOptions = {}): NodeWritable {
    return this.#core.openMessageStream(options);
  }

  /**
   * Writes one message (see the class note). After the close, the callback gets a
   * ConnectionClosedError carrying the codes sent and received, and no 'error' is emitted.
   */
  override write(chunk: Outgoing<In>, callback?: (err?: Error | null) => void): boolean;
  override write(
    chunk: Outgoing<In>,
    encoding: BufferEncoding,
    callback?: (err?: Error | null) => void,
  ): boolean;
  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (this.writableEnded || this.destroyed || this.#core.closing) {
      const cb = typeof encoding === 'function' ? encoding : callback;
      const err = this.#core.closedError('The connection is closed: the message was not sent');
      if (typeof cb === 'function') process.nextTick(cb as StreamCallback, err);
      return false;
    }
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
      // Raw mode takes Frames; otherwise other bytes (an ArrayBuffer, a DataView) are viewed.
      if (this.writableObjectMode) checkRawFrame(chunk);
      else chunk = asBytes(chunk) ?? throwInvalid(chunk);
    }
    return super.write(chunk, encoding as BufferEncoding, callback as StreamCallback);
  }

  /**
   * Pipes into `destination`, as Readable's pipe() does. `ws.pipe(ws)`, the echo, is done
   * with shared listeners instead of pipe()'s closures (see self-echo.ts): the same
   * behaviour for a fraction of the memory per connection.
   */
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    if ((destination as unknown) !== this || this.#selfEcho)
      return super.pipe(destination, options);
    this.#selfEcho = true;
    startSelfEcho(this, options?.end !== false);
    return destination;
  }

  override unpipe(destination?: NodeJS.WritableStream): this {
    const self = destination === undefined || (destination as unknown) === this;
    if (this.#selfEcho && self) {
      this.#selfEcho = false;
      stopSelfEcho(this);
      if (destination !== undefined) return this;
    }
    return super.unpipe(destination);
  }

  // The Duplex's hooks: everything goes to the core.

  override _read(): void {
    this.#core.read();
  }

  override _write(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    this.#core.write(chunk, encoding, callback);
  }

  override _final(callback: StreamCallback): void {
    this.#core.final(callback);
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#core.destroy(err);
    callback(err);
  }

  /** Adds the close code and reason to 'close', as ws's and WebSocket-Node's listeners expect. */
  override emit<E extends keyof ConnectionEvents<In>>(
    event: E,
    ...args: Parameters<ConnectionEvents<In>[E]>
  ): boolean;
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && args.length === 0) {
      return super.emit('close', this.#core.closeCode, this.#core.closeReason);
    }
    return super.emit(event, ...args);
  }

  /** Closes at once (WebSocket-Node's drop(), installed by compat/). */
  [hook.dropNow](code: number | undefined, reason: string): void {
    this.#core.dropNow(code, reason);
  }

  // A MessageAssembler piped from a raw-mode connection (see fault-deferral.ts).

  [addConsumer](consumer: FrameConsumer): void {
    this.#core.addConsumer(consumer);
  }

  [removeConsumer](consumer: FrameConsumer): void {
    this.#core.removeConsumer(consumer);
  }

  [consumerProgress](): void {
    this.#core.consumerProgress();
  }

  /** Lets a server learn, without a listener, when the connection is gone. */
  [hook.ownedBy](owner: hook.ConnectionOwner): void {
    this.#core.owner = owner;
  }
}

// The ready states on every instance, as ws and the WHATWG WebSocket have them: on the
// prototype, so that they cost no memory per connection.
for (const [name, value] of Object.entries({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 })) {
  Object.defineProperty(WebSocketConnection.prototype, name, { value, enumerable: true });
}

function ignoreError(): void {}

function throwInvalid(chunk: unknown): never {
  throw invalidMessage(chunk);
}
