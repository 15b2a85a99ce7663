import type { Duplex as NodeDuplex, Writable as NodeWritable } from 'node:stream';
import {
  countTraffic,
  observeClose,
  observeError,
  observeOpen,
  observingConnections,
} from '../diagnostics.js';
import type { Extension } from '../extensions/extension.js';
import { disposeExtension } from '../extensions/extension-holds.js';
import { CloseCode } from '../protocol/close-codes.js';
import { type CloseDecision, CloseHandshake } from '../protocol/close-handshake.js';
import { encodeClosePayload, parseClosePayload } from '../protocol/close-payload.js';
import {
  ConnectionClosedError,
  closeCodeFor,
  closeReasonFor,
  ErrorCode,
  InvalidArgumentError,
} from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { asBytes } from '../protocol/message-payload.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
import { CloseDriver } from './close-driver.js';
import * as hook from './connection-hooks.js';
import type { MessageStreamOptions, ResolvedConnectionOptions } from './connection-options.js';
import { type FaultSource, type FrameConsumer, HeldFault } from './fault-deferral.js';
import { InboundProcessor } from './inbound-processor.js';
import { MessageSender } from './message-sender.js';
import { createMessageWritable } from './message-writable.js';
import { StreamTurn, tagged } from './outbound-entry.js';
import { attachTransport, dropTransport } from './transport-events.js';

/** The connection's Duplex, as its core uses it. */
type ConnectionStream = NodeDuplex;

const EMPTY = Buffer.alloc(0);

// Booleans of the connection, in one field.
const INPUT_CLOSED = 1;
const TRANSPORT_CLOSED = 2;
const EXTENSIONS_DISPOSED = 4;
/** Watched by diagnostics_channel subscribers (decided once, at start): counts are kept. */
const OBSERVED = 8;

/**
 * The machinery behind a WebSocketConnection's Duplex: it takes the transport's events,
 * drives the inbound side (frame decoder and message reader) and the sending side
 * (framing, extensions, the batching FrameWriter), answers control frames, and runs the
 * closing handshake, whose decisions come from the sans-I/O CloseHandshake. The Duplex is
 * a thin shell over it: what it reads is what this pushes, what is written to it comes
 * here one entry at a time.
 *
 * Every part is made when first needed: an idle connection holds the core's fields, its
 * two stream states and two integers in the shared keepalive sweep.
 *
 * @see RFC 6455 §5 (framing), §6 (data), §7 (closing)
 */
export class ConnectionCore
  implements hook.KeepaliveTarget, hook.InboundHost, hook.TransportListener, hook.WriterOwner
{
  readonly #stream: ConnectionStream;
  readonly transport: NodeDuplex;
  readonly options: ResolvedConnectionOptions;
  readonly extensions: readonly Extension[];
  readonly remoteAddress: string | undefined;
  #flags = 0;
  #close: CloseDriver | undefined;
  #sender: MessageSender | undefined;
  #inbound: InboundProcessor | undefined;
  #finalCallback: StreamCallback | undefined;
  #failure: Error | undefined;
  closeCode: number = CloseCode.AbnormalClosure;
  closeReason = '';
  owner: hook.ConnectionOwner | undefined;
  /** Our frame consumers piped from this (raw mode), and a fault held back for them. */
  #fault: HeldFault | undefined;
  /** Message streams not yet ended, released if the connection goes first. */
  #turns: Set<StreamTurn> | undefined;
  [hook.keepaliveSeen] = 0;
  [hook.keepalivePinged] = -1;

  constructor(
    stream: ConnectionStream,
    transport: NodeDuplex,
    options: ResolvedConnectionOptions,
    extensions: readonly Extension[],
  ) {
    this.#stream = stream;
    this.transport = transport;
    this.options = options;
    this.extensions = extensions;
    this.remoteAddress = (transport as { remoteAddress?: string }).remoteAddress;
  }

  /** Takes the transport: its events, the keepalive watch, the bytes that came with the 101. */
  start(head: Buffer | undefined): void {
    if (observingConnections()) this.#observe();
    attachTransport(this.transport, this);
    this.options.sweep?.watch(this);
    if (head !== undefined && head.length > 0) this.#onBytes(head);
    if (this.transport.isPaused()) this.transport.resume();
  }

  get closeError(): Error | undefined {
    return this.#failure;
  }

  /** Publishes the opening and keeps counts from now on, for diagnostics_channel subscribers. */
  #observe(): void {
    this.#flags |= OBSERVED;
    const stream = this.#stream as ConnectionStream & { url?: string; protocol?: string };
    observeOpen(this, stream, {
      role: this.options.role,
      url: stream.url,
      protocol: stream.protocol ?? '',
      extensions: this.extensions.map((extension) => extension.name),
      remoteAddress: this.remoteAddress,
    });
  }

  get wasClean(): boolean {
    return this.#close?.handshake.wasClean ?? false;
  }

  /** No Close sent or received, not destroyed. */
  get isOpen(): boolean {
    return this.#close === undefined && !this.#stream.destroyed;
  }

  get transportClosed(): boolean {
    return (this.#flags & TRANSPORT_CLOSED) !== 0;
  }

  /** Whether no more data may be written (our Close went, or the peer's is answered). */
  get closing(): boolean {
    return this.#close?.handshake.closing === true;
  }

  /** Bytes framed but not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.#sender?.queuedBytes ?? this.transport.writableLength;
  }

  // ---------------------------------------------------------------- inbound

  /** Handles a read: every frame in it is decoded, and the answers leave together. */
  #onBytes(chunk: Buffer): void {
    this.options.sweep?.alive(this);
    if ((this.#flags & INPUT_CLOSED) !== 0) return;
    const options = this.options;
    this.#inbound ??= new InboundProcessor(this, {
      role: options.role,
      mode: options.mode,
      limits: options.limits,
      extensions: this.extensions,
    });
    const sender = this.sender;
    sender.hold();
    this.#inbound.push(chunk);
    sender.release();
  }

  /** The reader wants more: the Duplex's _read. */
  read(): void {
    this.#inbound?.readerWantsMore();
  }

  [hook.deliverChunk](chunk: unknown): boolean {
    if ((this.#flags & OBSERVED) !== 0) countTraffic(this, 'received', false);
    return this.#stream.push(chunk);
  }

  [hook.pauseTransport](paused: boolean): void {
    if (this.transport.destroyed) return;
    if (paused) this.transport.pause();
    else this.transport.resume();
  }

  /**
   * Fails the connection for a fault found in what the peer sent. When our consumers are
   * piped from it (a MessageAssembler on raw frames), the failure (Close and destroy) waits
   * until they have processed the frames pushed before the fault, as the connection itself
   * would have read no further while decoding them: see fault-deferral.ts.
   */
  [hook.failConnection](err: Error): void {
    if (!this.#stream.destroyed) this.#fault?.hold(err, (held) => this.fail(held));
    this.fail(err); // waits while the fault is held (see fail)
  }

  /** Registers a consumer of ours piped from the connection. */
  addConsumer(consumer: FrameConsumer): void {
    this.#fault ??= new HeldFault(this.#stream, this.#stream as unknown as FaultSource);
    this.#fault.add(consumer);
  }

  removeConsumer(consumer: FrameConsumer): void {
    this.#fault?.remove(consumer);
  }

  consumerProgress(): void {
    this.#fault?.check();
  }

  [hook.handleControl](frame: Frame): void {
    const observed = (this.#flags & OBSERVED) !== 0;
    if (observed) countTraffic(this, 'received', true);
    switch (frame.opcode) {
      case Opcode.Ping:
        if (!this.closing) {
          this.sender.pong(frame.payload);
          if (observed) countTraffic(this, 'sent', true);
        }
        this.#stream.emit('ping', frame.payload);
        return;
      case Opcode.Pong:
        this.#stream.emit('pong', frame.payload);
        return;
      case Opcode.Close: {
        const { code, reason } = parseClosePayload(frame.payload);
        this.#onClose(code, reason);
        return;
      }
    }
  }

  /** Ends the readable side and answers the peer's Close. @see RFC 6455 §5.5.1, §7.1.5 */
  #onClose(code: number, reason: string): void {
    this.closeCode = code;
    this.closeReason = reason;
    this.#flags |= INPUT_CLOSED;
    this.#inbound?.stop('The peer closed in the middle of a message');
    this.#stream.push(null);
    const conditions = {
      outboundBusy: this.#outboundBusy,
      deferUntilEnd: this.options.deferCloseReply && !this.#stream.writableEnded,
    };
    this.#closeStep((handshake) => handshake.closeReceived(code, reason, conditions));
  }

  // ---------------------------------------------------------------- outbound

  /** The sending side, made at the first write or read. */
  get sender(): MessageSender {
    if (this.#sender === undefined) {
      const stream = this.#stream;
      this.#sender = new MessageSender(
        this.transport,
        {
          mask: this.options.role === 'client',
          budget: Math.max(stream.writableObjectMode ? 16 * 1024 : stream.writableHighWaterMark, 1),
          fragmentationThreshold: this.options.fragmentationThreshold,
          extensions: this.extensions,
        },
        this,
      );
    }
    return this.#sender;
  }

  /** Sends one entry of the writable queue: the Duplex's _write. */
  write(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    if (this.closing) {
      callback(this.closedError('The connection is closing: the message was not sent'));
      return;
    }
    if ((this.#flags & OBSERVED) !== 0) countTraffic(this, 'sent', false);
    this.sender.write(chunk, encoding, callback);
    if (this.#close !== undefined) this[hook.outboundReleased]();
  }

  /** Whether messages written are still on their way to the transport. */
  get #outboundBusy(): boolean {
    return this.#stream.writableLength > 0 || this.#sender?.holdingTurn === true;
  }

  /** Sends a reply to the peer's Close that waited for the messages written before it. */
  [hook.outboundReleased](): void {
    if (this.#close?.handshake.replyDeferred !== true) return;
    if (this.#outboundBusy || this.options.deferCloseReply) return;
    this.#closeStep((handshake) => handshake.replyNow());
  }

  /** Sends a ping or a pong of the application's. */
  control(opcode: typeof Opcode.Ping | typeof Opcode.Pong, data: string | Uint8Array): void {
    const payload = typeof data === 'string' ? Buffer.from(data) : asBytes(data);
    if (payload === undefined) {
      throw new InvalidArgumentError('Ping and pong data is a string or bytes');
    }
    if (payload.length > 125) {
      throw new InvalidArgumentError(
        `Control frame payload is ${payload.length} bytes; the limit is 125`,
      );
    }
    if (this.#close !== undefined || this.#stream.destroyed) {
      throw this.closedError('Cannot send a ping or pong after the closing handshake began');
    }
    this.sender.control(opcode, payload);
    if ((this.#flags & OBSERVED) !== 0) countTraffic(this, 'sent', true);
  }

  /** Opens a message stream: its place in the queue, and the Writable that fills it. */
  openMessageStream(options: MessageStreamOptions): NodeWritable {
    const sender = this.sender;
    const turn = new StreamTurn();
    const message = sender.streamMessage(options.binary !== false);
    this.#turns ??= new Set();
    this.#turns.add(turn);
    this.#stream.write(tagged(EMPTY, turn));
    return createMessageWritable(
      {
        turn,
        message,
        closing: () => this.closing || this.#stream.destroyed,
        release: () => {
          this.#turns?.delete(turn);
          sender.endTurn(turn);
        },
        abort: (err) => {
          if (turn.started && !this.#stream.destroyed) this.#stream.destroy(err);
        },
      },
      options.highWaterMark ?? 64 * 1024,
    );
  }

  // ---------------------------------------------------------------- keepalive

  [hook.keepalivePing](): void {
    if (this.#close === undefined && !this.#stream.destroyed) {
      this.sender.control(Opcode.Ping, EMPTY);
      if ((this.#flags & OBSERVED) !== 0) countTraffic(this, 'sent', true);
    }
  }

  [hook.keepaliveTimeout](): void {
    const err = new ConnectionClosedError('The peer did not answer the keepalive ping in time', {
      code: ErrorCode.KeepaliveTimeout,
    });
    this.#failure ??= err;
    dropTransport(this.transport);
    this.fail(err);
  }

  // ---------------------------------------------------------------- closing

  /** Records the code and reason of close(code, reason), sent after what was written. */
  intendClose(code: number | undefined, reason: string): void {
    this.#closer().handshake.intend(code, reason);
  }

  /** Runs one event through the closing handshake and carries out its decision. */
  #closeStep(step: (handshake: CloseHandshake) => CloseDecision): void {
    const closer = this.#closer();
    closer.apply(step(closer.handshake));
  }

  /** The closing handshake and its driver, made when the close begins. */
  #closer(): CloseDriver {
    this.#close ??= new CloseDriver(
      new CloseHandshake(this.options.role),
      {
        transport: this.transport,
        sendClose: (code, reason) => {
          this.options.sweep?.unwatch(this);
          this.sender.control(Opcode.Close, encodeClosePayload(code, reason));
          if ((this.#flags & OBSERVED) !== 0) countTraffic(this, 'sent', true);
        },
        flush: () => this.#sender?.flush(),
      },
      this.options.closeTimeout,
    );
    return this.#close;
  }

  /** Everything written is out: our Close goes now (the Duplex's _final). */
  final(callback: StreamCallback): void {
    if (this.transportClosed) {
      callback(this.wasClean ? null : this.#abnormalError());
      return;
    }
    this.#finalCallback = callback;
    this.#closeStep((handshake) => handshake.localClose());
  }

  // The transport's events (see transport-events.ts).

  [hook.transportBytes](chunk: Buffer): void {
    this.#onBytes(chunk);
  }

  [hook.transportEnded](): void {
    this.#closeStep((handshake) => handshake.transportEnded());
  }

  [hook.transportErrored](err: Error): void {
    if (this.#failure === undefined && !this.wasClean) this.#failure = err;
  }

  [hook.transportDrained](): void {
    this.#sender?.drained();
  }

  [hook.transportClosed](): void {
    if (this.transportClosed) return;
    this.#flags |= TRANSPORT_CLOSED | INPUT_CLOSED;
    this.options.sweep?.unwatch(this);
    this.#sender?.abandon();
    this.#disposeExtensions();
    this.closeCode = this.#closer().handshake.transportClosed();
    this.#close?.stop();
    this.owner?.[hook.connectionGone](this.#stream);
    if (this.wasClean) {
      this.#finishCleanly();
    } else {
      const err = this.#abnormalError();
      this.#inbound?.stop(err);
      if (!this.#stream.destroyed) this.fail(err);
    }
    if ((this.#flags & OBSERVED) !== 0) {
      observeClose(this, this.transport, {
        code: this.closeCode,
        reason: this.closeReason,
        wasClean: this.wasClean,
        error: this.#failure,
      });
    }
  }

  #finishCleanly(): void {
    const stream = this.#stream;
    // With nothing left unread, the readable side ends now rather than at the next read,
    // so that the stream closes (and finished() settles) even if nobody reads any more.
    if (stream.readableLength === 0) stream.read(0);
    const callback = this.#finalCallback;
    this.#finalCallback = undefined;
    if (callback !== undefined) callback();
    else if (!stream.writableEnded) stream.end();
  }

  /**
   * Frees what the extensions hold (zlib contexts), once, whichever way the connection
   * ended. An extension that a MessageAssembler holds (raw mode: it decodes the frames
   * this pushed, maybe after the transport closed) keeps its incoming side until that
   * assembler ends (see extension-holds.ts).
   */
  #disposeExtensions(): void {
    if ((this.#flags & EXTENSIONS_DISPOSED) !== 0) return;
    this.#flags |= EXTENSIONS_DISPOSED;
    for (const extension of this.extensions) disposeExtension(extension);
  }

  /**
   * Fails the connection: records the error, sends its Close code, and destroys the
   * stream with it. @see RFC 6455 §7.1.7
   */
  fail(err: Error): void {
    this.#flags |= INPUT_CLOSED;
    this.#failure ??= err;
    // A fault held back for our consumers goes when they settle (bounded), as the first error.
    if (this.#fault?.pending === true) return;
    if (!this.#stream.destroyed) this.#stream.destroy(err);
  }

  /**
   * The Duplex is destroyed (its _destroy): the peer gets a Close with the error's code
   * (1000 without one; none for 1006), and everything waiting is released.
   */
  destroy(err: Error | null): void {
    if (err !== null && (this.#flags & OBSERVED) !== 0) observeError(this, err);
    const cause = err ?? this.#failure;
    this.#flags |= INPUT_CLOSED;
    this.#fault?.cancel();
    this.options.sweep?.unwatch(this);
    this.#inbound?.stop(cause ?? 'The connection was destroyed');
    this.#disposeExtensions();
    for (const turn of this.#turns ?? []) turn.abandon();
    // A Close can go out only while the transport's sending side is open (an HTTP/2 stream
    // may already be ended in answer to the peer's END_STREAM: see dropTransport).
    if (!this.transportClosed && !this.transport.destroyed && !this.transport.writableEnded) {
      const code = cause === undefined ? CloseCode.Normal : closeCodeFor(cause);
      const reason = cause === undefined ? '' : closeReasonFor(cause);
      this.#closeStep((handshake) => handshake.fail(code, reason));
    }
    this.#sender?.abandon();
    this.#finalCallback = undefined;
  }

  /**
   * Sends a Close with `code` now, ahead of anything queued (none when undefined), and drops
   * the transport without waiting for the peer's answer.
   */
  dropNow(code: number | undefined, reason: string): void {
    if (code !== undefined && !this.transportClosed) {
      this.#closeStep((handshake) => handshake.fail(code, reason));
      this.#sender?.flush();
    }
    dropTransport(this.transport);
    this.#stream.destroy();
  }

  #abnormalError(): ConnectionClosedError {
    return new ConnectionClosedError(
      `The connection closed abnormally (${CloseCode.AbnormalClosure}) without a closing handshake`,
      {
        codeSent: this.#close?.handshake.sent?.code,
        codeReceived: this.#close?.handshake.received?.code,
      },
    );
  }

  /** The error of an operation after the close, with the codes sent and received. */
  closedError(message: string): ConnectionClosedError {
    const sent = this.#close?.handshake.sent;
    return new ConnectionClosedError(message, {
      codeSent: sent === undefined ? undefined : (sent.code ?? CloseCode.NoStatusReceived),
      codeReceived: this.#close?.handshake.received?.code,
    });
  }
}
