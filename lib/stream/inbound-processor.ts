import type { Extension, MessageCodec } from '../extensions/extension.js';
import { ErrorCode, ProtocolError } from '../protocol/errors.js';
import type { Frame, FrameHeader, Role } from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { MessageBuffer } from '../protocol/message-buffer.js';
import { MessageSequencer } from '../protocol/message-sequencer.js';
import { isControlOpcode, Opcode, Rsv } from '../protocol/opcodes.js';
import { IncomingMessageStream } from './incoming-message-stream.js';

/** What a read of the connection yields. */
export type IncomingChunk = string | Buffer | Frame | IncomingMessageStream;

/** The connection, as the inbound side sees it. */
export interface InboundHost {
  /** Hands a message, frame or message stream to the reader; false when the reader is full. */
  deliver(chunk: IncomingChunk): boolean;
  /** Handles a control frame (ping, pong, close). */
  control(frame: Frame): void;
  /** Stops or restarts the byte source. */
  setPaused(paused: boolean): void;
  /** Fails the connection with a protocol error (or an extension's error). */
  fail(err: Error): void;
}

/** What the inbound side needs to know. */
export interface InboundOptions {
  role: Role;
  maxFrameSize: number;
  maxMessageSize: number;
  /** Raw-fragment mode: frames are delivered as they are. */
  raw: boolean;
  /** Each message is delivered as an IncomingMessageStream. */
  messageStreams: boolean;
  extensions: readonly Extension[];
}

/** Data frames above this size are taken in pieces as they arrive. */
const STREAMING_THRESHOLD = 64 * 1024;

/**
 * Compressed input is fed to an extension in pieces this small when messages are streamed,
 * so that one piece cannot inflate into more than about a megabyte before the reader is
 * asked (the deflate format expands at most about 1032:1).
 */
const STREAMED_CODEC_PIECE = 1024;

const EMPTY = Buffer.alloc(0);

/**
 * The inbound half of a connection: bytes in, messages out. It drives the pure cores (frame
 * decoder, message sequencer, message buffer) and the extensions' codecs, and decides when
 * the transport must pause: while the reader is full, or while an extension is busy with
 * a piece (the rest of the bytes wait in the decoder, in order).
 *
 * @see RFC 6455 §5.4 (fragments), §6.2 (receiving data), RFC 7692 §6.2
 */
export class InboundProcessor {
  readonly #host: InboundHost;
  readonly #options: InboundOptions;
  readonly #decoder: FrameDecoder;
  readonly #sequencer: MessageSequencer;
  readonly #message = new MessageBuffer();

  #text = false;
  #piece: FrameHeader | undefined;
  #incoming: IncomingMessageStream | undefined;
  #codec: MessageCodec | undefined;
  #rawTransformed = false;
  #codecError: Error | undefined;

  #readerFull = false;
  #busy = false;
  #paused = false;
  #stopped = false;

  constructor(host: InboundHost, options: InboundOptions) {
    this.#host = host;
    this.#options = options;
    let allowedRsv = 0;
    for (const extension of options.extensions) allowedRsv |= extension.rsv;
    this.#decoder = new FrameDecoder({
      role: options.role,
      maxFrameSize: options.maxFrameSize,
      allowedRsv,
      streamThreshold: options.raw ? Number.POSITIVE_INFINITY : STREAMING_THRESHOLD,
    });
    this.#sequencer = new MessageSequencer({ maxMessageSize: options.maxMessageSize });
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
  }

  /**
   * Stops all processing: after a Close (RFC 6455 §5.5.1: nothing after it counts) or a
   * failure. A message stream in progress ends with `err`.
   */
  stop(err: Error): void {
    this.#stopped = true;
    this.#incoming?.destroy(err);
    this.#incoming = undefined;
    this.#codec = undefined;
    this.#message.clear();
    // Keep reading (and ignoring) bytes, so that the peer's FIN is seen: a transport left
    // paused by a busy codec or a full reader would hold TCP open until closeTimeout.
    this.#busy = false;
    this.#readerFull = false;
    this.#updatePause();
  }

  #drain(): void {
    try {
      while (!this.#busy && !this.#stopped) {
        const event = this.#decoder.next();
        if (event === null) return;
        if (event.kind === 'frame') this.#frame(event.frame);
        else if (event.kind === 'frame-start') this.#pieceStart(event.header);
        else if (event.kind === 'frame-data') this.#feed(event.data, false, noop);
        else this.#pieceEnd();
      }
    } catch (err) {
      this.#failWith(err as Error);
    }
  }

  #frame(frame: Frame): void {
    if (isControlOpcode(frame.opcode)) {
      this.#host.control(frame);
      return;
    }
    if (this.#options.raw) {
      this.#rawFrame(frame);
      return;
    }
    const rsv = rsvBits(frame);
    if (
      frame.fin &&
      frame.opcode !== Opcode.Continuation &&
      rsv === 0 &&
      !this.#options.messageStreams
    ) {
      // A message in one plain frame, the common case: no gathering, no copy.
      const opcode = this.#sequencer.startFrame(frame.opcode);
      this.#sequencer.payload(frame.payload);
      this.#sequencer.endFrame(true);
      this.#deliver(opcode === Opcode.Text ? frame.payload.toString('utf8') : frame.payload);
      return;
    }
    this.#start(frame.opcode, rsv);
    this.#feed(frame.payload, frame.fin, () => this.#end(frame.fin));
  }

  /** Raw mode: frames go out as they are; order and UTF-8 are still checked. */
  #rawFrame(frame: Frame): void {
    this.#sequencer.startFrame(frame.opcode);
    // A transformed (compressed) message cannot be checked as text without decoding it.
    if (frame.opcode !== Opcode.Continuation) this.#rawTransformed = rsvBits(frame) !== 0;
    if (!this.#rawTransformed) this.#sequencer.payload(frame.payload);
    this.#sequencer.endFrame(frame.fin);
    this.#deliver(frame);
  }

  #pieceStart(header: FrameHeader): void {
    this.#piece = header;
    this.#start(header.opcode, rsvBits(header));
  }

  #pieceEnd(): void {
    const fin = this.#piece?.fin ?? false;
    this.#piece = undefined;
    if (this.#codec !== undefined && fin) this.#feed(EMPTY, true, () => this.#end(true));
    else this.#end(fin);
  }

  #start(frameOpcode: number, rsv: number): void {
    const opcode = this.#sequencer.startFrame(frameOpcode);
    if (frameOpcode === Opcode.Continuation) return;
    this.#text = opcode === Opcode.Text;
    this.#codec = rsv === 0 ? undefined : this.#codecFor(rsv);
    if (this.#options.messageStreams) {
      const incoming = new IncomingMessageStream(!this.#text, () => this.readerWantsMore());
      incoming.once('close', () => this.readerWantsMore());
      this.#incoming = incoming;
      this.#deliver(incoming);
    }
  }

  #codecFor(rsv: number): MessageCodec {
    const limits = { maxMessageSize: this.#options.maxMessageSize };
    for (const extension of this.#options.extensions) {
      const codec = extension.incoming(rsv, limits);
      if (codec !== undefined) return codec;
    }
    throw new ProtocolError(ErrorCode.ReservedBits, 'RSV bits set that no extension claims');
  }

  /**
   * Passes payload through the message's codec, if any, then on to the message. `then`
   * runs once the piece is fully processed (at once without a codec). While a codec works
   * the transport is paused and the decoder keeps the bytes that follow.
   */
  #feed(piece: Buffer, last: boolean, then: () => void): void {
    const codec = this.#codec;
    if (codec === undefined) {
      this.#accept(piece);
      then();
      return;
    }
    if (piece.length === 0 && !last) {
      then();
      return;
    }
    this.#busy = true;
    this.#updatePause();
    const size = this.#options.messageStreams ? STREAMED_CODEC_PIECE : Number.POSITIVE_INFINITY;
    this.#transformPieces(codec, piece, last, size, then);
  }

  #transformPieces(
    codec: MessageCodec,
    piece: Buffer,
    last: boolean,
    size: number,
    then: () => void,
  ): void {
    const head = piece.length > size ? piece.subarray(0, size) : piece;
    const rest = piece.subarray(head.length);
    const isLast = last && rest.length === 0;
    codec.transform(
      head,
      isLast,
      (out) => this.#acceptTransformed(out),
      (err) => {
        // Always continue on a later tick, so that a codec that calls back at once cannot
        // re-enter the drain loop.
        queueMicrotask(() => {
          if (this.#stopped) return;
          const failure = err ?? this.#codecError;
          if (failure) {
            this.#failWith(failure);
            return;
          }
          if (rest.length > 0) {
            this.#transformPieces(codec, rest, last, size, then);
            return;
          }
          this.#busy = false;
          try {
            then();
          } catch (thrown) {
            this.#failWith(thrown as Error);
            return;
          }
          this.#updatePause();
          this.#drain();
        });
      },
    );
  }

  /** Takes a codec's output; an error is kept for the codec's completion. */
  #acceptTransformed(out: Buffer): void {
    if (this.#codecError !== undefined || this.#stopped) return;
    try {
      this.#accept(out);
    } catch (err) {
      this.#codecError = err as Error;
    }
  }

  /** Accounts a piece of the message's (transformed) payload and keeps or streams it. */
  #accept(data: Buffer): void {
    this.#sequencer.payload(data);
    const incoming = this.#incoming;
    if (incoming !== undefined) {
      if (data.length > 0 && !incoming.destroyed && !incoming.push(data)) this.#setReaderFull();
      return;
    }
    this.#message.append(data);
  }

  #end(fin: boolean): void {
    if (!this.#sequencer.endFrame(fin)) return;
    this.#codec = undefined;
    const incoming = this.#incoming;
    if (incoming !== undefined) {
      this.#incoming = undefined;
      if (!incoming.destroyed) incoming.push(null);
      return;
    }
    const payload = this.#message.take();
    this.#deliver(this.#text ? payload.toString('utf8') : payload);
  }

  #deliver(chunk: IncomingChunk): void {
    if (!this.#host.deliver(chunk)) this.#setReaderFull();
  }

  #setReaderFull(): void {
    if (this.#readerFull) return;
    this.#readerFull = true;
    this.#updatePause();
  }

  #updatePause(): void {
    const paused = this.#readerFull || this.#busy;
    if (paused === this.#paused) return;
    this.#paused = paused;
    this.#host.setPaused(paused);
  }

  #failWith(err: Error): void {
    this.stop(err);
    this.#host.fail(err);
  }
}

function rsvBits(frame: { rsv1: boolean; rsv2: boolean; rsv3: boolean }): number {
  return (frame.rsv1 ? Rsv.Rsv1 : 0) | (frame.rsv2 ? Rsv.Rsv2 : 0) | (frame.rsv3 ? Rsv.Rsv3 : 0);
}

function noop(): void {}
