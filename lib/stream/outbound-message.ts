import type { MessageCodec } from '../extensions/extension.js';
import type { Frame } from '../protocol/frame.js';
import { Opcode, Rsv } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';

/** Where an outgoing message's frames go: the connection, which encodes and writes them. */
export type FrameSink = (frames: Frame[], callback: StreamCallback) => void;

/** An extension's codec for this message, with the RSV bits its first frame must carry. */
export interface OutgoingTransform {
  codec: MessageCodec;
  rsv: number;
}

/**
 * Turns ONE outgoing message, given whole or piece by piece, into frames: through the
 * extension's codec when there is one (compression), cut at the fragmentation threshold,
 * the first frame carrying the opcode (and the codec's RSV bits), continuations after it,
 * FIN on the last. Pieces are processed strictly in order, one at a time.
 *
 * @see RFC 6455 §5.4, RFC 7692 §6.1 (RSV1 on the first frame only)
 */
export class OutboundMessage {
  readonly #opcode: typeof Opcode.Text | typeof Opcode.Binary;
  readonly #threshold: number;
  readonly #transform: OutgoingTransform | undefined;
  readonly #sink: FrameSink;
  #started = false;
  #queue: Array<{ piece: Buffer; fin: boolean; callback: StreamCallback }> = [];
  #working = false;

  constructor(
    opcode: typeof Opcode.Text | typeof Opcode.Binary,
    threshold: number,
    transform: OutgoingTransform | undefined,
    sink: FrameSink,
  ) {
    this.#opcode = opcode;
    this.#threshold = threshold;
    this.#transform = transform;
    this.#sink = sink;
  }

  /** Sends the next piece; `fin` ends the message. Calls back once the frames are written. */
  write(piece: Buffer, fin: boolean, callback: StreamCallback): void {
    if (this.#transform === undefined && !this.#working) {
      // The plain path stays synchronous: no queue, no allocation beyond the frames.
      this.#sink(this.#frames(piece, fin), callback);
      return;
    }
    this.#queue.push({ piece, fin, callback });
    if (!this.#working) this.#next();
  }

  #next(): void {
    const job = this.#queue.shift();
    if (job === undefined) {
      this.#working = false;
      return;
    }
    this.#working = true;
    const done: StreamCallback = (err) => {
      job.callback(err);
      this.#next();
    };
    const transform = this.#transform;
    if (transform === undefined) {
      this.#sink(this.#frames(job.piece, job.fin), done);
      return;
    }
    const output: Buffer[] = [];
    transform.codec.transform(
      job.piece,
      job.fin,
      (chunk) => output.push(chunk),
      (err) => {
        if (err) {
          done(err);
          return;
        }
        const payload = output.length === 1 ? output[0]! : Buffer.concat(output);
        this.#sink(this.#frames(payload, job.fin), done);
      },
    );
  }

  /** Cuts a piece into frames; an empty piece that does not end the message sends nothing. */
  #frames(payload: Buffer, fin: boolean): Frame[] {
    if (payload.length === 0 && !fin) return [];
    const frames: Frame[] = [];
    let offset = 0;
    do {
      const end = Math.min(offset + this.#threshold, payload.length);
      frames.push(this.#frame(payload.subarray(offset, end), fin && end === payload.length));
      offset = end;
    } while (offset < payload.length);
    return frames;
  }

  #frame(payload: Buffer, fin: boolean): Frame {
    const first = !this.#started;
    this.#started = true;
    const rsv = first && this.#transform !== undefined ? this.#transform.rsv : 0;
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
