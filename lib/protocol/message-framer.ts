import type { Frame } from './frame.js';
import { Opcode, Rsv } from './opcodes.js';

/**
 * Cuts ONE message, given whole or piece by piece, into frames: the first frame carries
 * the message's opcode and the RSV bits of the extension that transformed it, every later
 * frame is a continuation with no RSV bit, FIN marks the last; no frame is longer than the
 * threshold. Payloads are views of the pieces, never copies.
 *
 * It is the one place where that rule is written, for every sender: the connection, the
 * MessageFragmenter and OutgoingMessageStream stages, and FrameParser re-cutting a frame it
 * streams (whose first piece may itself be a continuation: the opcode is whatever the run
 * starts with).
 *
 * @see RFC 6455 §5.4 (fragmentation), RFC 7692 §6.1 (RSV1 on the first frame only)
 * @example
 * const framer = new MessageFramer(Opcode.Binary, 4);
 * framer.frames(Buffer.from('abcdef'), false); // Binary 'abcd', Continuation 'ef' (no FIN)
 * framer.frames(Buffer.alloc(0), true); // Continuation '' with FIN
 */
export class MessageFramer {
  readonly #opcode: Opcode;
  readonly #threshold: number;
  readonly #rsv: number;
  #started = false;

  /**
   * @param opcode the opcode of the run's first frame (Text or Binary for a message).
   * @param threshold the largest frame payload; Infinity never cuts.
   * @param rsv RSV bits (a mask of `Rsv` values) for the first frame.
   */
  constructor(opcode: Opcode, threshold: number = Number.POSITIVE_INFINITY, rsv = 0) {
    this.#opcode = opcode;
    this.#threshold = threshold;
    this.#rsv = rsv;
  }

  /** Whether the first frame went out (the next one is a continuation). */
  get started(): boolean {
    return this.#started;
  }

  /**
   * Returns the frames for the next piece; `fin` ends the message. An empty piece that does
   * not end it gives no frame; an empty final piece gives one empty frame with FIN.
   */
  frames(piece: Buffer, fin: boolean): Frame[] {
    if (piece.length === 0 && !fin) return [];
    const frames: Frame[] = [];
    const threshold = this.#threshold;
    let offset = 0;
    do {
      const end = Math.min(offset + threshold, piece.length);
      frames.push(this.#next(piece.subarray(offset, end), fin && end === piece.length));
      offset = end;
    } while (offset < piece.length);
    return frames;
  }

  #next(payload: Buffer, fin: boolean): Frame {
    const first = !this.#started;
    this.#started = true;
    const rsv = first ? this.#rsv : 0;
    return {
      fin,
      rsv1: (rsv & Rsv.Rsv1) !== 0,
      rsv2: (rsv & Rsv.Rsv2) !== 0,
      rsv3: (rsv & Rsv.Rsv3) !== 0,
      opcode: first ? this.#opcode : Opcode.Continuation,
      payload,
    };
  }
}

/**
 * Frames a whole message: its frames of at most `threshold` bytes, as {@link MessageFramer}
 * cuts them.
 *
 * @see RFC 6455 §5.4
 * @example frameMessage(Opcode.Text, Buffer.from('hi')); // one Text frame with FIN
 */
export function frameMessage(
  opcode: typeof Opcode.Text | typeof Opcode.Binary,
  payload: Buffer,
  threshold: number = Number.POSITIVE_INFINITY,
  rsv = 0,
): Frame[] {
  return new MessageFramer(opcode, threshold, rsv).frames(payload, true);
}

/**
 * Checks a fragmentation threshold given by the application.
 *
 * @returns whether it is a positive safe integer.
 */
export function isValidThreshold(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
