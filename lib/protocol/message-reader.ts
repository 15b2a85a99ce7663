import { ErrorCode, ProtocolError } from './errors.js';
import type { Frame, FrameHeader } from './frame.js';
import type { ReceiveMode } from './limits.js';
import { MessageBuffer } from './message-buffer.js';
import type { IncomingLimits, MessageCodec } from './message-codec.js';
import { MessageSequencer } from './message-sequencer.js';
import { Opcode, Rsv } from './opcodes.js';

/**
 * Where a {@link MessageReader} hands what it reads. Which methods are called depends on the
 * reader's mode: `message` in 'messages' mode; `messageStart`/`messagePiece`/`messageEnd` in
 * 'streams' mode; `frame` in 'frames' mode; `control` and `codecDone` in every mode.
 */
export interface MessageReaderHandler {
  /** A control frame (ping, pong, close), in its place between data frames. */
  control(frame: Frame): void;
  /** A whole message: a string for text, a Buffer for binary. */
  message(data: string | Buffer): void;
  /** A message begins; its payload follows in pieces. */
  messageStart(binary: boolean): void;
  /** The next piece of the current message's payload, already checked (size, UTF-8). */
  messagePiece(data: Buffer): void;
  /** The current message ended. */
  messageEnd(): void;
  /** A data frame as it came on the wire, after the order, size and UTF-8 checks. */
  frame(frame: Frame): void;
  /**
   * An extension's codec finished the piece it was given (see `busy`): with an error the
   * reader is dead and the connection must fail with it; without, feeding may go on.
   */
  codecDone(err: Error | undefined): void;
}

/** Options of {@link MessageReader}. */
export interface MessageReaderOptions {
  /** How messages are handed out: whole, as streams of pieces, or as their frames. */
  mode: ReceiveMode;
  /** Largest message payload (after decompression), summed over fragments. Default: no limit. */
  maxMessageSize?: number;
  /** The option that set `maxMessageSize`, named in the error. Default: 'maxMessageSize'. */
  maxMessageSizeOption?: string;
  /**
   * Gives the codec for a message whose first frame carries these RSV bits (an extension's
   * incoming codec), or undefined when no extension claims them. Without it, a message
   * with RSV bits fails with ReservedBits.
   */
  codecFor?: (rsv: number, limits: IncomingLimits) => MessageCodec | undefined;
}

/** What to do once a piece of payload has been taken in. */
const AFTER_NOTHING = 0;
const AFTER_FRAME = 1;
const AFTER_FINAL_FRAME = 2;
type After = typeof AFTER_NOTHING | typeof AFTER_FRAME | typeof AFTER_FINAL_FRAME;

/**
 * In 'streams' mode compressed input is given to the codec in pieces this small, so that
 * one piece cannot inflate into more than about a megabyte before the reader is asked (the
 * deflate format expands at most about 1032:1).
 */
const STREAMED_CODEC_PIECE = 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Reads messages out of frames, without I/O: frames (or the pieces of a frame, as the
 * decoder streams them) go in, and whole messages, streamed messages or checked frames come
 * out through a handler, with control frames in their place. It is the one place for the
 * rules about messages, whoever drives it (the connection, MessageAssembler,
 * MessageStreamer):
 *
 * - order: a continuation needs a message to continue, a new message may not begin inside
 *   one (1002);
 * - extensions: a message whose first frame has RSV bits goes through the codec that the
 *   extension gives for them, piece by piece; while a codec works the reader is `busy` and
 *   the driver must stop feeding it (everything after waits, in order);
 * - UTF-8 of text, checked piece by piece as the bytes come, inside a frame too, so the
 *   connection fails at the first bad byte (1007);
 * - the size limit, checked before any byte over it is kept, announced lengths refused at
 *   the header (1009);
 * - gathering: a message in one frame that arrived whole is handed on as it is (a view, no
 *   copy); one frame arriving in pieces is copied once into a buffer of its announced size;
 *   fragments are gathered by MessageBuffer, whose memory stays within a small factor of
 *   the payload whatever the fragmentation.
 *
 * Protocol errors are thrown from the input methods (and given to `codecDone` when they
 * surface inside a codec's work); after one, the reader must not be fed again.
 *
 * @see RFC 6455 §5.4 (fragmentation), §5.6 (data frames), §8.1 (UTF-8), §9 (extensions),
 *   §10.4 (limits); RFC 7692 §6.2 (decompression)
 * @example
 * const reader = new MessageReader(handler, { mode: 'messages', maxMessageSize: 1 << 20 });
 * reader.frame(createFrame(Opcode.Text, Buffer.from('Hel'), false));
 * reader.frame(createFrame(Opcode.Continuation, Buffer.from('lo'))); // handler.message('Hello')
 */
export class MessageReader {
  readonly #handler: MessageReaderHandler;
  readonly #mode: ReceiveMode;
  readonly #limits: IncomingLimits;
  readonly #codecFor: MessageReaderOptions['codecFor'];
  readonly #sequencer: MessageSequencer;
  #buffer: MessageBuffer | undefined;

  /** The current message is text. */
  #text = false;
  /** FIN of the frame being streamed in pieces. */
  #pieceFin = false;
  #stopped = false;

  // The current message's codec, and the piece it is working on.
  #codec: MessageCodec | undefined;
  #busy = false;
  #after: After = AFTER_NOTHING;
  #codecRest: Buffer = EMPTY;
  #codecLast = false;
  #codecError: Error | undefined;

  constructor(handler: MessageReaderHandler, options: MessageReaderOptions) {
    this.#handler = handler;
    this.#mode = options.mode;
    this.#limits = {
      maxMessageSize: options.maxMessageSize ?? Number.POSITIVE_INFINITY,
      maxMessageSizeOption: options.maxMessageSizeOption ?? 'maxMessageSize',
    };
    this.#codecFor = options.codecFor;
    this.#sequencer = new MessageSequencer(this.#limits);
  }

  /** Whether an extension's codec is working: feed nothing until `codecDone`. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Whether a message has begun and not yet ended. */
  get inMessage(): boolean {
    return this.#sequencer.inMessage;
  }

  /**
   * Takes a whole frame.
   *
   * @throws ProtocolError for a frame that breaks a rule.
   */
  frame(frame: Frame): void {
    if (this.#stopped) return;
    const opcode = frame.opcode;
    if (opcode >= Opcode.Close) {
      this.#handler.control(frame);
      return;
    }
    if (this.#mode === 'frames') {
      this.#rawFrame(frame);
      return;
    }
    const rsv = rsvOf(frame);
    if (frame.fin && opcode !== Opcode.Continuation && rsv === 0 && this.#mode === 'messages') {
      // A message in one plain frame, the common case: checked whole, handed on as it is.
      const payload = frame.payload;
      this.#sequencer.whole(opcode, payload);
      this.#handler.message(opcode === Opcode.Text ? payload.toString('utf8') : payload);
      return;
    }
    this.#begin(opcode, rsv);
    this.#feed(frame.payload, frame.fin, frame.fin ? AFTER_FINAL_FRAME : AFTER_FRAME);
  }

  /**
   * Takes the header of a frame whose payload follows in pieces ('messages' and 'streams'
   * modes; raw frames are always whole).
   *
   * @throws ProtocolError for a frame that breaks a rule.
   */
  frameStart(header: FrameHeader): void {
    if (this.#stopped) return;
    const rsv = rsvOf(header);
    this.#pieceFin = header.fin;
    this.#begin(header.opcode, rsv);
    if (this.#codec !== undefined) return; // the decoded size is not announced
    // The frame's length is announced: refuse it now if it takes the message past the
    // limit, before any of its bytes is looked at.
    this.#sequencer.expect(header.payloadLength);
    if (header.fin && header.opcode !== Opcode.Continuation && this.#mode === 'messages') {
      // One frame, one message: gather it straight into a buffer of its size.
      this.#message().reserve(header.payloadLength);
    }
  }

  /**
   * Takes the next piece of the frame begun with `frameStart`.
   *
   * @throws ProtocolError (size, UTF-8) as soon as the piece breaks a rule.
   */
  frameData(data: Buffer): void {
    if (this.#stopped) return;
    this.#feed(data, false, AFTER_NOTHING);
  }

  /**
   * Ends the frame begun with `frameStart`.
   *
   * @throws ProtocolError (text ending inside a code point).
   */
  frameEnd(): void {
    if (this.#stopped) return;
    const fin = this.#pieceFin;
    if (this.#codec !== undefined && fin) this.#feed(EMPTY, true, AFTER_FINAL_FRAME);
    else this.#finish(fin ? AFTER_FINAL_FRAME : AFTER_FRAME);
  }

  /** Stops for good (a Close arrived, or the connection failed) and lets go of what is held. */
  stop(): void {
    this.#stopped = true;
    this.#codec = undefined;
    this.#codecRest = EMPTY;
    this.#buffer?.clear();
  }

  /** Raw mode: frames go out as they are; order, size and UTF-8 are still checked. */
  #rawFrame(frame: Frame): void {
    const sequencer = this.#sequencer;
    sequencer.startFrame(frame.opcode);
    // A transformed (compressed) message cannot be checked as text without decoding it.
    if (frame.opcode !== Opcode.Continuation && rsvOf(frame) !== 0) sequencer.opaque();
    sequencer.payload(frame.payload);
    sequencer.endFrame(frame.fin);
    this.#handler.frame(frame);
  }

  #begin(frameOpcode: number, rsv: number): void {
    const opcode = this.#sequencer.startFrame(frameOpcode);
    if (frameOpcode === Opcode.Continuation) return;
    this.#text = opcode === Opcode.Text;
    this.#codec = rsv === 0 ? undefined : this.#codecOf(rsv);
    if (this.#mode === 'streams') this.#handler.messageStart(!this.#text);
  }

  #codecOf(rsv: number): MessageCodec {
    const codec = this.#codecFor?.(rsv, this.#limits);
    if (codec === undefined) {
      throw new ProtocolError(ErrorCode.ReservedBits, 'RSV bits set that no extension claims');
    }
    return codec;
  }

  #message(): MessageBuffer {
    if (this.#buffer === undefined) this.#buffer = new MessageBuffer();
    return this.#buffer;
  }

  /**
   * Passes payload through the message's codec, if any, then on to the message; `after`
   * says what follows once it is taken in (at once without a codec, later with one).
   */
  #feed(piece: Buffer, last: boolean, after: After): void {
    const codec = this.#codec;
    if (codec === undefined) {
      this.#accept(piece);
      this.#finish(after);
      return;
    }
    if (piece.length === 0 && !last) {
      this.#finish(after);
      return;
    }
    this.#busy = true;
    this.#after = after;
    this.#transform(codec, piece, last);
  }

  #transform(codec: MessageCodec, piece: Buffer, last: boolean): void {
    const size = this.#mode === 'streams' ? STREAMED_CODEC_PIECE : Number.POSITIVE_INFINITY;
    const head = piece.length > size ? piece.subarray(0, size) : piece;
    this.#codecRest = piece.subarray(head.length);
    this.#codecLast = last;
    codec.transform(head, last && this.#codecRest.length === 0, this.#onOutput, this.#onDone);
  }

  /** Takes a codec's output; an error waits for the codec's completion. */
  readonly #onOutput = (out: Buffer): void => {
    if (this.#codecError !== undefined || this.#stopped) return;
    try {
      this.#accept(out);
    } catch (err) {
      this.#codecError = err as Error;
    }
  };

  /**
   * Goes on after the codec finished a piece, always on a later microtask, so that a codec
   * that calls back at once cannot re-enter the driver's loop.
   */
  readonly #onDone = (err?: Error | null): void => {
    queueMicrotask(() => this.#codecFinished(err ?? this.#codecError));
  };

  #codecFinished(err: Error | undefined): void {
    if (this.#stopped) return;
    const codec = this.#codec;
    if (err === undefined && codec !== undefined && this.#codecRest.length > 0) {
      this.#transform(codec, this.#codecRest, this.#codecLast);
      return;
    }
    this.#busy = false;
    let failure = err;
    if (failure === undefined) {
      try {
        this.#finish(this.#after);
      } catch (thrown) {
        failure = thrown as Error;
      }
    }
    if (failure !== undefined) this.stop();
    this.#handler.codecDone(failure);
  }

  /** Accounts a piece of the message's (decoded) payload, then keeps or hands it on. */
  #accept(data: Buffer): void {
    this.#sequencer.payload(data);
    if (this.#mode === 'streams') {
      if (data.length > 0) this.#handler.messagePiece(data);
      return;
    }
    this.#message().append(data);
  }

  #finish(after: After): void {
    if (after === AFTER_NOTHING) return;
    if (!this.#sequencer.endFrame(after === AFTER_FINAL_FRAME)) return;
    this.#codec = undefined;
    if (this.#mode === 'streams') {
      this.#handler.messageEnd();
      return;
    }
    const payload = this.#message().take();
    this.#handler.message(this.#text ? payload.toString('utf8') : payload);
  }
}

/** The RSV bits of a frame, as a mask of `Rsv` values. */
export function rsvOf(frame: { rsv1: boolean; rsv2: boolean; rsv3: boolean }): number {
  return (frame.rsv1 ? Rsv.Rsv1 : 0) | (frame.rsv2 ? Rsv.Rsv2 : 0) | (frame.rsv3 ? Rsv.Rsv3 : 0);
}
