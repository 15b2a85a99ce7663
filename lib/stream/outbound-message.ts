import type { Frame } from '../protocol/frame.js';
import type { MessageCodec } from '../protocol/message-codec.js';
import { MessageFramer } from '../protocol/message-framer.js';
import type { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';

/** Where an outgoing message's frames go: the connection's writer. */
export type FrameSink = (frames: Frame[], callback: StreamCallback) => void;

/** An extension's codec for this message, with the RSV bits its first frame must carry. */
export interface OutgoingTransform {
  codec: MessageCodec;
  rsv: number;
}

interface Job {
  piece: Buffer;
  fin: boolean;
  callback: StreamCallback;
}

/**
 * Sends ONE outgoing message, given whole or piece by piece, as frames: through the
 * extension's codec when there is one (compression), then cut by a MessageFramer. Pieces
 * are processed strictly in order, one at a time: a codec finishes one before the next.
 *
 * @see RFC 6455 §5.4, RFC 7692 §6.1 (RSV1 on the first frame only)
 */
export class OutboundMessage {
  readonly #framer: MessageFramer;
  readonly #transform: OutgoingTransform | undefined;
  readonly #sink: FrameSink;
  #queue: Job[] = [];
  #working = false;

  constructor(
    opcode: typeof Opcode.Text | typeof Opcode.Binary,
    threshold: number,
    transform: OutgoingTransform | undefined,
    sink: FrameSink,
  ) {
    this.#framer = new MessageFramer(opcode, threshold, transform?.rsv ?? 0);
    this.#transform = transform;
    this.#sink = sink;
  }

  /** Sends the next piece; `fin` ends the message. Calls back once the frames are written. */
  write(piece: Buffer, fin: boolean, callback: StreamCallback): void {
    if (this.#transform === undefined && !this.#working) {
      // The plain path stays synchronous: no queue, no allocation beyond the frames.
      this.#sink(this.#framer.frames(piece, fin), callback);
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
      this.#sink(this.#framer.frames(job.piece, job.fin), done);
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
        this.#sink(this.#framer.frames(payload, job.fin), done);
      },
    );
  }
}
