import type { Extension } from '../extensions/extension.js';
import type { Frame, Role } from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import type { ReceiveLimits, ReceiveMode } from '../protocol/limits.js';
import type { IncomingLimits, MessageCodec } from '../protocol/message-codec.js';
import { MessageReader, type MessageReaderHandler } from '../protocol/message-reader.js';
import {
  deliverChunk,
  failConnection,
  handleControl,
  type InboundHost,
  pauseTransport,
} from './connection-hooks.js';
import { IncomingMessageStream } from './incoming-message-stream.js';

/** What a read of the connection yields. */
export type IncomingChunk = string | Buffer | Frame | IncomingMessageStream;

/** What the inbound side needs to know. */
export interface InboundOptions {
  role: Role;
  mode: ReceiveMode;
  limits: ReceiveLimits;
  extensions: readonly Extension[];
}

/**
 * The inbound half of a connection, a thin driver of the pure cores: bytes go into the
 * frame decoder, its events into the message reader, and what the reader gives back to the
 * connection. It decides one thing of its own: when the transport must pause, which is
 * while the reader (the connection's readable side, or the current message stream) is full,
 * or while an extension's codec works (the bytes after wait in the decoder, in order).
 *
 * Frames that arrived whole are read whole, as views of the socket's chunks; a data frame
 * still arriving is read piece by piece (UTF-8 and size checked as each piece comes, the
 * pieces gathered straight into the message). Raw frames are always whole.
 *
 * @see RFC 6455 §5.4 (fragments), §6.2 (receiving data), RFC 7692 §6.2
 */
export class InboundProcessor implements MessageReaderHandler {
  readonly #host: InboundHost;
  readonly #decoder: FrameDecoder;
  readonly #reader: MessageReader;
  #incoming: IncomingMessageStream | undefined;
  #readerFull = false;
  #paused = false;
  #stopped = false;
  /** Inside #drain: a reader that asks for more from within a delivery must not re-enter. */
  #draining = false;

  constructor(host: InboundHost, options: InboundOptions) {
    this.#host = host;
    const { extensions, limits, mode } = options;
    let allowedRsv = 0;
    for (const extension of extensions) allowedRsv |= extension.rsv;
    this.#decoder = new FrameDecoder({
      role: options.role,
      maxFrameSize: limits.frame.size,
      maxFrameSizeOption: limits.frame.option,
      allowedRsv,
      streamIncomplete: mode !== 'frames',
    });
    this.#reader = new MessageReader(this, {
      mode,
      maxMessageSize: limits.message.size,
      maxMessageSizeOption: limits.message.option,
      codecFor:
        extensions.length === 0
          ? undefined
          : (rsv, codecLimits) => codecFor(extensions, rsv, codecLimits),
    });
  }

  /** Takes bytes from the transport. */
  push(chunk: Buffer): void {
    if (this.#stopped) return;
    this.#decoder.push(chunk);
    this.#drain();
  }

  /** Tells that a reader (the connection's or the current message's) wants more. */
  readerWantsMore(): void {
    if (!this.#readerFull) return;
    this.#readerFull = false;
    this.#updatePause();
    this.#drain();
  }

  /**
   * Stops all processing: after a Close (RFC 6455 §5.5.1: nothing after it counts) or a
   * failure. A message stream in progress ends with `cause`: the failure's error, or, for
   * a close, a ConnectionClosedError with this message, made by the host only then (most
   * closes find no message in progress, and an error's stack trace is not free).
   */
  stop(cause: Error | string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#reader.stop();
    const incoming = this.#incoming;
    this.#incoming = undefined;
    if (incoming !== undefined) {
      incoming.destroy(typeof cause === 'string' ? this.#host.closedError(cause) : cause);
    }
    // Keep reading (and ignoring) bytes, so that the peer's FIN is seen: a transport left
    // paused by a busy codec or a full reader would hold TCP open until closeTimeout.
    this.#readerFull = false;
    this.#updatePause();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    const decoder = this.#decoder;
    const reader = this.#reader;
    try {
      while (!this.#readerFull && !reader.busy && !this.#stopped) {
        const event = decoder.next();
        if (event === null) break;
        switch (event.kind) {
          case 'frame':
            reader.frame(event.frame);
            break;
          case 'frame-start':
            reader.frameStart(event.header);
            break;
          case 'frame-data':
            reader.frameData(event.data);
            break;
          case 'frame-end':
            reader.frameEnd();
            break;
        }
      }
    } catch (err) {
      this.#draining = false;
      this.#failWith(err as Error);
      return;
    }
    this.#draining = false;
    this.#updatePause();
  }

  // ---------------------------------------------------------------- MessageReaderHandler

  control(frame: Frame): void {
    this.#host[handleControl](frame);
  }

  message(data: string | Buffer): void {
    if (!this.#host[deliverChunk](data)) this.#readerFull = true;
  }

  frame(frame: Frame): void {
    if (!this.#host[deliverChunk](frame)) this.#readerFull = true;
  }

  messageStart(binary: boolean): void {
    const incoming = new IncomingMessageStream(binary, () => this.readerWantsMore());
    incoming.once('close', () => this.readerWantsMore());
    this.#incoming = incoming;
    if (!this.#host[deliverChunk](incoming)) this.#readerFull = true;
  }

  messagePiece(data: Buffer): void {
    const incoming = this.#incoming;
    if (incoming !== undefined && !incoming.destroyed && !incoming.push(data)) {
      this.#readerFull = true;
    }
  }

  messageEnd(): void {
    const incoming = this.#incoming;
    this.#incoming = undefined;
    if (incoming !== undefined && !incoming.destroyed) incoming.push(null);
  }

  codecDone(err: Error | undefined): void {
    if (err !== undefined) {
      this.#failWith(err);
      return;
    }
    this.#drain();
  }

  // ----------------------------------------------------------------

  #updatePause(): void {
    const paused = !this.#stopped && (this.#readerFull || this.#reader.busy);
    if (paused === this.#paused) return;
    this.#paused = paused;
    this.#host[pauseTransport](paused);
  }

  #failWith(err: Error): void {
    this.stop(err);
    this.#host[failConnection](err);
  }
}

/** The codec of the first extension that claims these RSV bits. */
function codecFor(
  extensions: readonly Extension[],
  rsv: number,
  limits: IncomingLimits,
): MessageCodec | undefined {
  for (const extension of extensions) {
    const codec = extension.incoming(rsv, limits);
    if (codec !== undefined) return codec;
  }
  return undefined;
}
