import { ErrorCode, ProtocolError } from './errors.js';
import { Opcode } from './opcodes.js';
import { isValidUtf8 as isWholeUtf8, Utf8Validator } from './utf8-validator.js';

/** Options of {@link MessageSequencer}. */
export interface MessageSequencerOptions {
  /**
   * Largest message payload, in bytes, summed over its fragments (after decompression
   * where an extension compresses). Default: no limit.
   */
  maxMessageSize?: number;
  /** The option that set `maxMessageSize`, named in the error. Default: 'maxMessageSize'. */
  maxMessageSizeOption?: string;
  /** Whether text payloads are checked as UTF-8. Default: true. */
  validateUtf8?: boolean;
}

/** The type of message a data frame belongs to. */
export type MessageOpcode = typeof Opcode.Text | typeof Opcode.Binary;

/**
 * Tracks the messages of one direction of a connection: the order of their fragments, the
 * running size of the current message and the UTF-8 validity of text, so that every rule
 * about messages lives in one place whether frames are assembled, streamed or handed to
 * the user raw.
 *
 * Use: `startFrame()` for each data frame header, `payload()` for its bytes (in any number
 * of pieces, after decompression), `endFrame()` when its payload is complete.
 *
 * @see RFC 6455 §5.4 (fragmentation), §8.1 (UTF-8 fail-fast), §10.4 (limits)
 */
export class MessageSequencer {
  readonly #maxMessageSize: number;
  readonly #maxMessageSizeOption: string;
  readonly #validateUtf8: boolean;
  #utf8: Utf8Validator | undefined;
  #opcode: MessageOpcode | 0 = 0;
  /** Whether the current message's text is checked (false for a transformed payload). */
  #checkText = false;
  #size = 0;

  constructor(options: MessageSequencerOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? Number.POSITIVE_INFINITY;
    this.#maxMessageSizeOption = options.maxMessageSizeOption ?? 'maxMessageSize';
    this.#validateUtf8 = options.validateUtf8 ?? true;
  }

  /** Whether a fragmented message has begun and not yet ended. */
  get inMessage(): boolean {
    return this.#opcode !== 0;
  }

  /** Bytes of the current message accounted so far. */
  get messageSize(): number {
    return this.#size;
  }

  /**
   * Checks that a data frame may come now and returns the opcode of the message it belongs
   * to. A continuation needs an open message; a Text or Binary frame needs none.
   *
   * @see RFC 6455 §5.4
   */
  startFrame(opcode: number): MessageOpcode {
    if (opcode === Opcode.Continuation) {
      if (this.#opcode === 0) {
        throw new ProtocolError(
          ErrorCode.UnexpectedContinuation,
          'Continuation frame without a message to continue',
        );
      }
      return this.#opcode;
    }
    if (opcode !== Opcode.Text && opcode !== Opcode.Binary) {
      throw new ProtocolError(ErrorCode.InvalidOpcode, `Opcode ${opcode} is not a data opcode`);
    }
    if (this.#opcode !== 0) {
      throw new ProtocolError(
        ErrorCode.ExpectedContinuation,
        'New data frame while a fragmented message is in progress',
      );
    }
    this.#opcode = opcode;
    this.#size = 0;
    this.#checkText = opcode === Opcode.Text && this.#validateUtf8;
    if (this.#checkText) {
      if (this.#utf8 === undefined) this.#utf8 = new Utf8Validator();
      else this.#utf8.reset();
    }
    return opcode;
  }

  /**
   * Checks a message that came in one untransformed frame: the same rules as
   * `startFrame`, `payload` and `endFrame(true)` in turn, with text checked in one pass
   * and no validator state (the common case, on the hot path).
   *
   * @see RFC 6455 §5.4, §8.1, §10.4
   */
  whole(opcode: number, payload: Uint8Array): MessageOpcode {
    if (this.#opcode !== 0 || (opcode !== Opcode.Text && opcode !== Opcode.Binary)) {
      return this.startFrame(opcode); // throws the error that applies
    }
    if (payload.length > this.#maxMessageSize) throw this.tooLarge();
    if (opcode === Opcode.Text && this.#validateUtf8 && !isWholeUtf8(payload)) {
      throw invalidUtf8();
    }
    return opcode;
  }

  /**
   * Tells that the current message's payload is transformed by an extension and will not be
   * seen decoded here (raw mode with compression): its bytes still count against the limit,
   * but are not checked as UTF-8, which only the decoded text could be.
   */
  opaque(): void {
    this.#checkText = false;
  }

  /**
   * Accounts bytes of the current message: refuses them once the message would exceed the
   * limit (before anything is kept), and for text fails at the first chunk that holds an
   * invalid UTF-8 sequence, not at the end of the message.
   *
   * @see RFC 6455 §8.1, §10.4
   */
  payload(data: Uint8Array): void {
    // Written so that no sum can overflow past 2^53 and compare wrongly.
    if (data.length > this.#maxMessageSize - this.#size) throw this.tooLarge();
    this.#size += data.length;
    if (this.#checkText && !this.#utf8!.write(data)) throw invalidUtf8();
  }

  /**
   * Refuses a message announced to be `length` bytes in all (a message in one frame, whose
   * header says so) before any of its bytes arrive.
   */
  expect(length: number): void {
    if (length > this.#maxMessageSize - this.#size) throw this.tooLarge();
  }

  /** The error for a message over the limit, naming the option that sets it. */
  tooLarge(): ProtocolError {
    return new ProtocolError(
      ErrorCode.MessageTooLarge,
      `Message exceeds ${this.#maxMessageSizeOption} (${this.#maxMessageSize} bytes)`,
    );
  }

  /**
   * Ends the current frame. With `fin`, ends the message too (text must then end on a code
   * point boundary) and returns true.
   */
  endFrame(fin: boolean): boolean {
    if (!fin) return false;
    if (this.#checkText && !this.#utf8!.end()) throw invalidUtf8();
    this.#opcode = 0;
    this.#size = 0;
    return true;
  }
}

function invalidUtf8(): ProtocolError {
  return new ProtocolError(ErrorCode.InvalidUtf8, 'Text message is not valid UTF-8');
}
