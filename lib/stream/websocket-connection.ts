import type { Duplex as NodeDuplex } from 'node:stream';
import { Duplex, type Writable } from 'readable-stream';
import { WebSocketFrame } from '../compat/websocket-frame.js';
import type { Extension } from '../extensions/extension.js';
import { CloseCode } from '../protocol/close-codes.js';
import {
  encodeClosePayload,
  parseClosePayload,
  validateCloseArguments,
} from '../protocol/close-payload.js';
import {
  ConnectionClosedError,
  closeCodeFor,
  closeReasonFor,
  ErrorCode,
  InvalidArgumentError,
} from '../protocol/errors.js';
import { fragmentMessage } from '../protocol/fragmentation.js';
import type { Frame } from '../protocol/frame.js';
import type { ExtensionOffer } from '../protocol/header-parser.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
import {
  type ConnectionInit,
  type ResolvedConnectionOptions,
  resolveConnectionOptions,
} from './connection-options.js';
import { FrameWriter } from './frame-writer.js';
import { InboundProcessor, type IncomingChunk } from './inbound-processor.js';
import { IncomingMessageStream } from './incoming-message-stream.js';
import { Keepalive } from './keepalive.js';
import { messagePayload, toBuffer } from './message-fragmenter.js';
import { createMessageWritable } from './message-writable.js';
import { OutboundMessage, type OutgoingTransform } from './outbound-message.js';

/** The transport under a connection: a TCP or TLS socket, an HTTP/2 stream, a test pair. */
export type Transport = NodeDuplex;

export type { IncomingChunk } from './inbound-processor.js';

/** Per-message options of {@link WebSocketConnection.send}. */
export interface SendOptions {
  /** Send as binary (true) or text (false). Default: binary for bytes, text otherwise. */
  binary?: boolean;
  /** Let extensions (permessage-deflate) transform this message. Default: true. */
  compress?: boolean;
}

/** Options of {@link WebSocketConnection.createMessageStream}. */
export interface MessageStreamOptions {
  /** Send a binary message (default) or a text one. */
  binary?: boolean;
  /** Bytes buffered by the message stream before its write() returns false. Default: 64 KiB. */
  highWaterMark?: number;
}

/** The turn that a message stream holds on the connection's outgoing side. */
interface StreamTurn {
  started: boolean;
  /** Called when the turn comes (the writes before the stream are out). */
  begin: () => void;
  /** The connection's write callback for the marker, released when the stream ends. */
  release: StreamCallback | undefined;
}

/**
 * A WebSocket connection as a Duplex stream: one read is one message (`string` for text,
 * `Buffer` for binary), one write is one message (a string is sent as text, a Buffer or
 * Uint8Array as binary). Pings are answered, the closing handshake is run, and backpressure
 * goes end to end: when nothing reads, the connection stops reading its transport.
 *
 * - `end()` sends Close 1000 after everything written before it; the readable side keeps
 *   delivering until the peer's Close. `close(code, reason)` does the same with a code.
 * - A Close from the peer ends the readable side after the last message and is answered.
 * - `destroy(err)` sends a Close with the error's code (1011 for errors that are not ours)
 *   and emits `err`; `terminate()` drops the transport at once.
 * - Errors (a protocol violation by the peer, an abnormal closure, a write after the close)
 *   are emitted as 'error' and kept in `closeError`. The connection keeps a do-nothing
 *   'error' listener of its own, so that an error nobody listens for closes the connection
 *   instead of crashing the process: a hostile peer cannot take a server down, not even
 *   one that only does `ws.pipe(ws)` (pipe's own listener rethrows when it is alone).
 *
 * 'close' is emitted with `(closeCode, closeReason)`.
 *
 * @see RFC 6455 §5 (framing), §7 (closing)
 * @example
 * ```ts
 * const ws = new WebSocketConnection(socket, { role: 'server' });
 * ws.pipe(ws); // echo, text stays text and binary stays binary
 * ```
 */
export class WebSocketConnection extends Duplex {
  /** The subprotocol agreed in the handshake ('' when none). */
  readonly protocol: string;
  readonly #transport: Transport;
  readonly #options: ResolvedConnectionOptions;
  readonly #writer: FrameWriter;
  readonly #inbound: InboundProcessor;
  readonly #extensions: readonly Extension[];
  #extensionsDisposed = false;
  readonly #keepalive: Keepalive | undefined;

  // Inbound state.
  #inputClosed = false;

  // Outbound state.
  #turns = new Map<Buffer | object, StreamTurn>();

  // Closing state.
  #closeArgs: { code: number; reason: string } | undefined;
  #closeSent: { code: number; reason: string } | undefined;
  #closeReceived: { code: number; reason: string } | undefined;
  #finalCallback: StreamCallback | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #replyDeferred = false;
  #replyWhenDrained = false;
  #encodesInFlight = 0;
  #transportClosed = false;
  #failure: Error | undefined;
  #closeCode: number = CloseCode.AbnormalClosure;
  #closeReason = '';
  #seedBridged = false;
  readonly #sendOptions = new WeakMap<object, { binary: boolean; compress: boolean }>();
  readonly #remoteAddress: string | undefined;

  constructor(transport: Transport, init: ConnectionInit) {
    const options = resolveConnectionOptions(init);
    const raw = !options.assembleFragments;
    super({
      readableObjectMode: true,
      writableObjectMode: raw,
      decodeStrings: false,
      allowHalfOpen: true,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark ?? (raw ? 16 : 64 * 1024),
    });
    this.#transport = transport;
    this.#remoteAddress = (transport as { remoteAddress?: string }).remoteAddress;
    this.#options = options;
    this.protocol = options.protocol;
    this.#writer = new FrameWriter(transport, {
      mask: options.role === 'client',
      budget: raw ? 0 : this.writableHighWaterMark,
    });
    this.#extensions = init.extensions ?? [];
    this.#inbound = new InboundProcessor(
      {
        deliver: (chunk) => this.push(chunk),
        control: (frame) => this.#onControl(frame),
        setPaused: (paused) => this.#setTransportPaused(paused),
        fail: (err) => this.#fail(err),
      },
      {
        role: options.role,
        maxFrameSize: options.maxReceivedFrameSize,
        maxMessageSize: options.maxReceivedMessageSize,
        raw,
        messageStreams: options.messageStreams,
        extensions: this.#extensions,
      },
    );
    if (options.keepalive) {
      this.#keepalive = new Keepalive({
        interval: options.keepaliveInterval,
        gracePeriod: options.keepaliveGracePeriod,
        drop: options.dropConnectionOnKeepaliveTimeout,
        onIdle: () => this.#sendControl(Opcode.Ping, Buffer.alloc(0)),
        onTimeout: () => this.#dropSilentPeer(),
      });
    }
    this.on('error', ignoreError);
    this.on('newListener', (event: string | symbol) => this.#bridgeSeedEvents(event));
    this.#attach(init.head);
  }

  /** The close code: the peer's (1005 when its Close had none), or 1006 when there was no closing handshake. */
  get closeCode(): number {
    return this.#closeCode;
  }

  /** The reason text of the peer's Close ('' when none). */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** Whether both Close frames were exchanged before the transport closed. */
  get wasClean(): boolean {
    return this.#closeSent !== undefined && this.#closeReceived !== undefined;
  }

  /** The error that ended the connection, also when no 'error' listener was there to see it. */
  get closeError(): Error | undefined {
    return this.#failure;
  }

  /** Bytes written but not yet handed to the kernel (our queue plus the transport's). */
  get bufferedAmount(): number {
    return this.writableLength + this.#transport.writableLength;
  }

  /** Whether the connection is open for messages both ways (no Close sent or received). */
  get isOpen(): boolean {
    return !this.#closing && !this.destroyed;
  }

  /** The extensions agreed in the handshake, with their parameters, in the order they apply. */
  get extensions(): ExtensionOffer[] {
    return this.#extensions.map((extension) => extension.agreed);
  }

  /** The transport, for its addresses and TLS details. */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Sends a ping (at most 125 bytes of payload). The peer answers with a pong, which is
   * emitted as 'pong'.
   *
   * @see RFC 6455 §5.5.2
   */
  ping(data: string | Uint8Array = Buffer.alloc(0)): void {
    this.#sendUserControl(Opcode.Ping, data);
  }

  /** Sends an unsolicited pong (a unidirectional heartbeat). @see RFC 6455 §5.5.3 */
  pong(data: string | Uint8Array = Buffer.alloc(0)): void {
    this.#sendUserControl(Opcode.Pong, data);
  }

  /**
   * Closes with a code and reason, after everything written before. Throws
   * InvalidArgumentError for a code that may not be sent or a reason over 123 bytes.
   *
   * @see RFC 6455 §7.4
   */
  close(code: number = CloseCode.Normal, reason = ''): this {
    validateCloseArguments(code, reason);
    if (this.#closeArgs === undefined) this.#closeArgs = { code, reason };
    this.end();
    return this;
  }

  /** Drops the transport at once, with no closing handshake (1006). */
  terminate(): void {
    this.#transport.destroy();
    this.destroy();
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
  createMessageStream(options: MessageStreamOptions = {}): Writable {
    const binary = options.binary !== false;
    const marker = this.writableObjectMode ? {} : Buffer.alloc(0);
    const turn: StreamTurn = { started: false, begin: () => {}, release: undefined };
    const ready = new Promise<void>((resolve) => {
      turn.begin = resolve;
    });
    const message = this.#outboundMessage(binary, undefined, true);
    this.#turns.set(marker, turn);
    this.write(marker);
    return createMessageWritable(
      {
        ready,
        message,
        closing: () => this.#closing,
        release: () => this.#endTurn(turn),
        abort: (err) => {
          if (turn.started && !this.destroyed) this.destroy(err);
        },
      },
      options.highWaterMark ?? 64 * 1024,
    );
  }

  // ---------------------------------------------------------------- WebSocket-Node's API

  /** Whether the connection is open (WebSocket-Node's name for {@link isOpen}). */
  get connected(): boolean {
    return this.isOpen;
  }

  /** The protocol version spoken (RFC 6455's 13, the only one), as WebSocket-Node reports it. */
  get webSocketVersion(): number {
    return 13;
  }

  /** The peer's address, as the transport reported it when the connection began. */
  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  /** Sends a text message (WebSocket-Node's API; the same as `write(string)`). */
  sendUTF(data: unknown, callback?: (err?: Error | null) => void): boolean {
    return this.write(String(data), callback);
  }

  /** Sends a binary message (WebSocket-Node's API; the same as `write(Buffer)`). */
  sendBytes(data: Uint8Array, callback?: (err?: Error | null) => void): boolean {
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('sendBytes takes a Buffer');
    return this.write(data, callback);
  }

  /**
   * Sends a Buffer as binary and anything else as text (WebSocket-Node's API). With
   * options, chooses per message: `compress: false` sends it untransformed by extensions
   * (permessage-deflate), `binary` overrides the type given by the data.
   */
  send(data: unknown, callback?: (err?: Error | null) => void): boolean;
  send(data: unknown, options: SendOptions, callback?: (err?: Error | null) => void): boolean;
  send(
    data: unknown,
    optionsOrCallback?: SendOptions | ((err?: Error | null) => void),
    maybeCallback?: (err?: Error | null) => void,
  ): boolean {
    const options = typeof optionsOrCallback === 'function' ? undefined : optionsOrCallback;
    const callback = typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback;
    if (options === undefined || this.writableObjectMode) {
      return data instanceof Uint8Array ? this.write(data, callback) : this.sendUTF(data, callback);
    }
    const binary = options.binary ?? data instanceof Uint8Array;
    const payload =
      data instanceof Uint8Array ? Buffer.from(toBuffer(data)) : Buffer.from(String(data));
    // The options travel with this (fresh) buffer through the writable queue.
    this.#sendOptions.set(payload, { binary, compress: options.compress ?? true });
    return this.write(payload, callback);
  }

  /**
   * Closes at once (WebSocket-Node's API): sends a Close with the code unless told not to,
   * then drops the transport without waiting for the peer's answer. This replaces
   * Readable's experimental `drop(limit)` iterator helper, whose name WebSocket-Node took
   * first; use `Readable.from(connection).drop(n)` for that.
   */
  // @ts-expect-error: deliberately not the signature of Readable's drop(limit) helper.
  override drop(code: number = CloseCode.ProtocolError, reason = '', skipCloseFrame = false): void {
    validateCloseArguments(code, reason);
    if (!skipCloseFrame && !this.#closing) this.#sendClose(code, reason);
    this.#transport.end();
    this.#transport.destroy();
    this.destroy();
  }

  /**
   * Turns reads into WebSocket-Node's 'message' events ({ type: 'utf8', utf8Data } or
   * { type: 'binary', binaryData }) and, in raw mode, 'frame' events, once somebody
   * listens for them. Listening puts the stream in flowing mode, so a connection used
   * only through events never stalls; one that is also piped keeps the pipe's backpressure.
   */
  #bridgeSeedEvents(event: string | symbol): void {
    if ((event !== 'message' && event !== 'frame') || this.#seedBridged) return;
    this.#seedBridged = true;
    this.on('data', (chunk: IncomingChunk) => {
      if (typeof chunk === 'string') this.emit('message', { type: 'utf8', utf8Data: chunk });
      else if (Buffer.isBuffer(chunk)) this.emit('message', { type: 'binary', binaryData: chunk });
      else if (chunk instanceof IncomingMessageStream) this.emit('message', chunk);
      else this.emit('frame', WebSocketFrame.from(chunk));
    });
  }

  // ---------------------------------------------------------------- inbound

  #attach(head: Buffer | undefined): void {
    const transport = this.#transport;
    (transport as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    transport.on('data', (chunk: Buffer) => this.#onBytes(chunk));
    transport.on('end', () => this.#onTransportEnd());
    transport.on('error', (err: Error) => this.#onTransportError(err));
    transport.on('close', () => this.#onTransportClose());
    this.#keepalive?.start();
    if (head !== undefined && head.length > 0) this.#onBytes(head);
    if (transport.isPaused()) transport.resume();
  }

  #onBytes(chunk: Buffer): void {
    this.#keepalive?.alive();
    if (!this.#inputClosed) this.#inbound.push(chunk);
  }

  #setTransportPaused(paused: boolean): void {
    if (this.#transport.destroyed) return;
    if (paused) this.#transport.pause();
    else this.#transport.resume();
  }

  override _read(): void {
    this.#inbound.readerWantsMore();
  }

  #onControl(frame: Frame): void {
    switch (frame.opcode) {
      case Opcode.Ping:
        this.#sendPong(frame.payload);
        this.emit('ping', frame.payload);
        return;
      case Opcode.Pong:
        this.emit('pong', frame.payload);
        return;
      case Opcode.Close: {
        const { code, reason } = parseClosePayload(frame.payload);
        this.#onClose(code, reason);
        return;
      }
    }
  }

  /** Answers the peer's Close and ends the readable side. @see RFC 6455 §5.5.1, §7.1.5 */
  #onClose(code: number, reason: string): void {
    this.#closeReceived = { code, reason };
    this.#closeCode = code;
    this.#closeReason = reason;
    this.#inputClosed = true;
    this.#inbound.stop(closedError('The peer closed in the middle of a message'));
    this.push(null);
    if (this.#closeSent === undefined && this.#outboundBusy) {
      // Messages written before the Close arrived (queued, or being compressed) go out
      // first, as RFC 6455 §5.5.1 allows; the reply follows them, at most closeTimeout.
      this.#replyDeferred = true;
      this.#replyWhenDrained = true;
      this.#startCloseTimer(() => this.#replyToClose());
      return;
    }
    if (this.#closeSent === undefined && this.#options.deferCloseReply && !this.writableEnded) {
      // Our answers to the last messages may still be on their way (an echo, a filter
      // process): the reply waits for end(), at most closeTimeout.
      this.#replyDeferred = true;
      this.#startCloseTimer(() => this.#replyToClose());
      return;
    }
    this.#replyToClose();
  }

  /** Answers the peer's Close, echoing its code as RFC 6455 §5.5.1 suggests. */
  #replyToClose(): void {
    this.#replyDeferred = false;
    this.#replyWhenDrained = false;
    const received = this.#closeReceived!;
    if (this.#closeSent === undefined) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = undefined;
      const code = received.code === CloseCode.NoStatusReceived ? undefined : received.code;
      this.#sendClose(code, '');
    }
    this.#afterHandshake();
  }

  // ---------------------------------------------------------------- outbound

  override _write(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    this.#writeChunk(chunk, encoding, (err) => {
      callback(err);
      this.#afterWrite();
    });
  }

  /** Whether messages written are still on their way to the transport. */
  get #outboundBusy(): boolean {
    return this.#encodesInFlight > 0 || this.writableLength > 0;
  }

  /** Sends a Close reply that waited for the messages written before it. */
  #afterWrite(): void {
    if (this.#replyWhenDrained && !this.#outboundBusy) this.#replyToClose();
  }

  override _writev(
    entries: Array<{ chunk: unknown; encoding: BufferEncoding }>,
    callback: StreamCallback,
  ): void {
    this.#writeEntries(entries, 0, (err) => {
      callback(err);
      this.#afterWrite();
    });
  }

  /**
   * Writes batched entries strictly in order: a compressed one may finish later. Loops
   * while entries complete at once, so that thousands of queued small messages do not
   * become thousands of nested calls.
   */
  #writeEntries(
    entries: Array<{ chunk: unknown; encoding: BufferEncoding }>,
    start: number,
    callback: StreamCallback,
  ): void {
    for (let index = start; index < entries.length; index++) {
      const entry = entries[index]!;
      if (index === entries.length - 1) {
        this.#writeChunk(entry.chunk, entry.encoding, callback);
        return;
      }
      let sync = true;
      let completed = false;
      let failure: Error | null | undefined;
      this.#writeChunk(entry.chunk, entry.encoding, (err) => {
        if (sync) {
          completed = true;
          failure = err;
        } else if (err) callback(err);
        else this.#writeEntries(entries, index + 1, callback);
      });
      sync = false;
      if (!completed) return;
      if (failure) {
        callback(failure);
        return;
      }
    }
  }

  #writeChunk(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    const turn = this.#turns.get(chunk as object);
    if (turn !== undefined) {
      this.#turns.delete(chunk as object);
      this.#startTurn(turn, callback);
      return;
    }
    if (this.#closing) {
      this.#writeAfterClose(callback);
      return;
    }
    if (this.writableObjectMode && (typeof chunk === 'string' || chunk instanceof Uint8Array)) {
      // Raw mode is about what is read: messages may still be written whole, as
      // WebSocket-Node's sendUTF and sendBytes do with assembleFragments: false.
      this.#writeMessage(chunk, 'utf8', callback);
      return;
    }
    if (this.writableObjectMode) {
      let frame: Frame;
      try {
        frame = checkRawFrame(chunk);
      } catch (err) {
        callback(err as Error);
        return;
      }
      this.#writeFrames([frame], callback);
      return;
    }
    this.#writeMessage(chunk, encoding, callback);
  }

  #writeMessage(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    let message: { payload: Buffer; binary: boolean };
    try {
      const text =
        typeof chunk === 'string' && encoding !== 'utf8' && encoding !== 'utf-8'
          ? Buffer.from(chunk, encoding).toString('utf8')
          : chunk;
      message = messagePayload(text);
    } catch (err) {
      callback(err as Error);
      return;
    }
    const { payload } = message;
    // Only bytes handed over by send(data, options) carry options.
    const options = message.binary ? this.#sendOptions.get(payload) : undefined;
    const binary = options?.binary ?? message.binary;
    if (this.#extensions.length === 0) {
      // No extension: frame it here, synchronously, without the per-message machinery.
      const opcode = binary ? Opcode.Binary : Opcode.Text;
      this.#writeFrames(
        fragmentMessage(opcode, payload, this.#options.fragmentThreshold),
        callback,
      );
      return;
    }
    // A compressed message finishes later: a Close from the peer must not overtake it.
    this.#encodesInFlight++;
    this.#outboundMessage(binary, payload.length, options?.compress ?? true).write(
      payload,
      true,
      (err) => {
        this.#encodesInFlight--;
        callback(err);
      },
    );
  }

  /** Starts an outgoing message, through the first extension that wants to transform it. */
  #outboundMessage(
    binary: boolean,
    length: number | undefined,
    compress: boolean,
  ): OutboundMessage {
    let transform: OutgoingTransform | undefined;
    for (const extension of this.#extensions) {
      const codec = extension.outgoing({ binary, length, compress });
      if (codec !== undefined) {
        transform = { codec, rsv: extension.rsv };
        break;
      }
    }
    return new OutboundMessage(
      binary ? Opcode.Binary : Opcode.Text,
      this.#options.fragmentThreshold,
      transform,
      (frames, callback) => this.#writeFrames(frames, callback),
    );
  }

  /** Writes a message's frames, unless the connection is closing. */
  #writeFrames(frames: Frame[], callback: StreamCallback): void {
    if (this.#closeSent !== undefined || this.#transportClosed || this.destroyed) {
      callback(closedError('The connection is closing'));
      return;
    }
    this.#writer.write(frames, callback);
  }

  /** Answers a ping (coalesced by the writer under a flood), unless our Close went out. */
  #sendPong(payload: Buffer): void {
    if (this.#closeSent === undefined && !this.#transportClosed) this.#writer.pong(payload);
  }

  #sendUserControl(
    opcode: typeof Opcode.Ping | typeof Opcode.Pong,
    data: string | Uint8Array,
  ): void {
    const payload =
      typeof data === 'string'
        ? Buffer.from(data)
        : data instanceof Uint8Array
          ? toBuffer(data)
          : undefined;
    if (payload === undefined)
      throw new InvalidArgumentError('Ping and pong data is a string or bytes');
    if (payload.length > 125) {
      throw new InvalidArgumentError(
        `Control frame payload is ${payload.length} bytes; the limit is 125`,
      );
    }
    if (this.#closing)
      throw closedError('Cannot send a ping or pong after the closing handshake began');
    this.#sendControl(opcode, payload);
  }

  #sendControl(opcode: number, payload: Buffer): void {
    if (this.#transportClosed || this.#closeSent !== undefined) return;
    this.#writer.control(opcode, payload);
  }

  #startTurn(turn: StreamTurn, callback: StreamCallback): void {
    if (this.#closing) {
      turn.release = undefined;
      this.#writeAfterClose(callback);
      return;
    }
    turn.started = true;
    turn.release = callback;
    turn.begin();
  }

  #endTurn(turn: StreamTurn): void {
    const release = turn.release;
    turn.release = undefined;
    release?.();
  }

  #writeAfterClose(callback: StreamCallback): void {
    callback(closedError('The connection is closing'));
  }

  // ---------------------------------------------------------------- closing

  /** Whether no more data may be written (a reply to the peer's Close may be deferred). */
  get #closing(): boolean {
    if (this.#closeSent !== undefined || this.#transportClosed) return true;
    return this.#closeReceived !== undefined && !this.#replyDeferred;
  }

  override _final(callback: StreamCallback): void {
    if (this.#transportClosed) {
      callback(this.wasClean ? null : this.#abnormalError());
      return;
    }
    this.#finalCallback = callback;
    if (this.#replyDeferred) {
      this.#replyToClose();
      return;
    }
    if (this.#closeSent === undefined) {
      const args = this.#closeArgs ?? { code: CloseCode.Normal, reason: '' };
      this.#sendClose(args.code, args.reason);
    }
    this.#afterHandshake();
  }

  /** Sends our Close and starts waiting for the peer's part. @see RFC 6455 §7.1.2 */
  #sendClose(code: number | undefined, reason: string): void {
    if (this.#closeSent !== undefined || this.#transportClosed) return;
    this.#sendControl(Opcode.Close, encodeClosePayload(code, reason));
    this.#closeSent = { code: code ?? CloseCode.NoStatusReceived, reason };
    this.#keepalive?.stop();
    this.#startCloseTimer();
  }

  /**
   * Once both Close frames are exchanged, the server closes TCP first; the client waits
   * for it (at most `closeTimeout`). @see RFC 6455 §7.1.1
   */
  #afterHandshake(): void {
    if (this.#closeSent === undefined || this.#closeReceived === undefined) return;
    if (this.#options.role === 'server') this.#transport.end();
    this.#startCloseTimer();
  }

  /** Bounds a wait for the peer (by default: then drops the transport) by closeTimeout. */
  #startCloseTimer(onTimeout: () => void = () => this.#transport.destroy()): void {
    if (this.#closeTimer !== undefined || this.#transportClosed) return;
    this.#closeTimer = setTimeout(onTimeout, this.#options.closeTimeout);
    this.#closeTimer.unref?.();
  }

  #onTransportEnd(): void {
    // The peer closed its side of TCP: no WebSocket traffic can follow. @see RFC 6455 §7.1.1
    if (this.#options.role === 'client' || this.#closeSent !== undefined) this.#transport.destroy();
    else this.#transport.end();
  }

  #onTransportError(err: Error): void {
    if (this.#failure === undefined && !this.wasClean) this.#failure = err;
  }

  #onTransportClose(): void {
    if (this.#transportClosed) return;
    this.#transportClosed = true;
    this.#inputClosed = true;
    clearTimeout(this.#closeTimer);
    this.#keepalive?.stop();
    this.#writer.release();
    this.#disposeExtensions();
    if (this.wasClean) {
      this.#finishCleanly();
      return;
    }
    this.#closeCode = this.#closeReceived?.code ?? CloseCode.AbnormalClosure;
    this.#inbound.stop(this.#abnormalError());
    if (!this.destroyed) this.#fail(this.#abnormalError());
  }

  #finishCleanly(): void {
    // With nothing left unread, the readable side ends now rather than at the next read,
    // so that the stream closes (and finished() settles) even if nobody reads any more.
    if (this.readableLength === 0) this.read(0);
    const callback = this.#finalCallback;
    this.#finalCallback = undefined;
    if (callback !== undefined) callback();
    else if (!this.writableEnded) this.end();
  }

  /** Frees what the extensions hold (zlib contexts), once, whichever way the connection ended. */
  #disposeExtensions(): void {
    if (this.#extensionsDisposed) return;
    this.#extensionsDisposed = true;
    for (const extension of this.#extensions) extension.dispose();
  }

  #abnormalError(): ConnectionClosedError {
    return new ConnectionClosedError(
      `The connection closed abnormally (${CloseCode.AbnormalClosure}) without a closing handshake`,
      {
        codeSent: this.#closeSent?.code,
        codeReceived: this.#closeReceived?.code,
        closeCode: CloseCode.AbnormalClosure,
      },
    );
  }

  #dropSilentPeer(): void {
    const err = new ConnectionClosedError('The peer did not answer the keepalive ping in time', {
      code: ErrorCode.KeepaliveTimeout,
      closeCode: CloseCode.AbnormalClosure,
    });
    this.#failure = err;
    this.#transport.destroy();
    this.#fail(err);
  }

  /**
   * Fails the connection: records the error, sends its Close code, and destroys the
   * stream with it. @see RFC 6455 §7.1.7
   */
  #fail(err: Error): void {
    this.#inputClosed = true;
    if (this.#failure === undefined) this.#failure = err;
    if (this.destroyed) return;
    this.destroy(err);
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    const cause = err ?? this.#failure;
    this.#inputClosed = true;
    this.#keepalive?.stop();
    this.#inbound.stop(cause ?? closedError('The connection was destroyed'));
    this.#disposeExtensions();
    for (const turn of this.#turns.values()) turn.begin();
    if (!this.#transportClosed && !this.#transport.destroyed) {
      const received = this.#closeReceived;
      if (received !== undefined) {
        this.#replyDeferred = false;
        const code = received.code === CloseCode.NoStatusReceived ? undefined : received.code;
        this.#sendClose(code, '');
      } else {
        const code = cause === undefined ? CloseCode.Normal : closeCodeFor(cause);
        if (code !== CloseCode.AbnormalClosure) {
          this.#sendClose(code, cause === undefined ? '' : closeReasonFor(cause));
        }
      }
      // The server closes TCP first; a client waits for it, at most closeTimeout.
      if (this.#options.role === 'server') this.#transport.end();
      this.#startCloseTimer();
    }
    this.#writer.release();
    this.#finalCallback = undefined;
    callback(err);
  }

  /** Adds the close code and reason to 'close', as WebSocket-Node's listeners expect. */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'close' && args.length === 0) {
      return super.emit('close', this.#closeCode, this.#closeReason);
    }
    return super.emit(event, ...args);
  }
}

function checkRawFrame(chunk: unknown): Frame {
  const frame = chunk as Frame;
  if (frame === null || typeof frame !== 'object' || !Buffer.isBuffer(frame.payload)) {
    throw new InvalidArgumentError(
      'In raw mode the connection takes Frame objects, strings or bytes',
    );
  }
  if (frame.opcode === Opcode.Close) {
    throw new InvalidArgumentError('Send a Close with close(code, reason), not as a raw frame');
  }
  return frame;
}

function ignoreError(): void {}

function closedError(message: string): ConnectionClosedError {
  return new ConnectionClosedError(message);
}
