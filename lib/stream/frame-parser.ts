import type { Frame, FrameHeader, Role } from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { MessageFramer } from '../protocol/message-framer.js';
import { rsvOf } from '../protocol/message-reader.js';
import { Transform } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import {
  addConsumer,
  consumerProgress,
  type FaultSource,
  type FrameConsumer,
  HeldFault,
  removeConsumer,
} from './fault-deferral.js';

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /** Our end: a server requires masked frames, a client refuses them. @see RFC 6455 §5.1 */
  role: Role;
  /** Largest frame payload accepted, in bytes; above it the parser fails with 1009. Default: 2^53-1. */
  maxFrameSize?: number;
  /** Reserved bits claimed by negotiated extensions (a mask of `Rsv` values). Default: 0. */
  allowedRsv?: number;
  /**
   * Data frames with a payload above this many bytes are handed out as their bytes arrive,
   * as a run of fragments (see the class comment). Default: Infinity (every frame whole).
   */
  streamingThreshold?: number;
  /** Frames buffered on the readable side before the parser stops taking bytes. Default: 16. */
  highWaterMark?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Parses bytes into {@link Frame} objects: a Transform with a byte writable side and an
 * object readable side, over the pure {@link FrameDecoder}. It holds its write callback
 * while its readable side is full, so a slow consumer stops the byte source.
 *
 * A frame whose payload exceeds `streamingThreshold` is not gathered: each piece is handed
 * out as soon as it arrives, as a fragment of its own, cut by a MessageFramer: the first
 * piece keeps the frame's opcode and RSV bits, later pieces are continuations, and only the
 * last piece carries the frame's FIN. The message is the same (intermediaries may
 * refragment, RFC 6455 §5.4), and a 1 GiB frame never needs 1 GiB of memory.
 *
 * The parser takes ownership of the chunks written to it: masked payloads are unmasked in
 * place and frames are views of those chunks.
 *
 * Piped into a MessageAssembler or MessageStreamer, the parser holds a protocol error back
 * until they have processed every frame it handed out (at most a few seconds), so that
 * what the stages deliver before the error is what a connection delivers: see
 * fault-deferral.ts. Other consumers see the error at once.
 *
 * @example
 * ```ts
 * const parser = new FrameParser({ role: 'client' });
 * parser.on('data', (frame: Frame) => console.log(frame.opcode, frame.payload.length));
 * parser.end(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])); // text "Hello"
 * ```
 */
export class FrameParser extends Transform implements FaultSource {
  readonly #decoder: FrameDecoder;
  /** The streamed frame's framer and FIN, and the piece held back to learn which is last. */
  #framer: MessageFramer | undefined;
  #fin = false;
  #held: Buffer | undefined;
  /** Our consumers, and a fault held back for them; made when the first one is piped. */
  #fault: HeldFault | undefined;

  constructor(options: FrameParserOptions) {
    super({
      readableObjectMode: true,
      readableHighWaterMark: options.highWaterMark ?? 16,
    });
    this.#decoder = new FrameDecoder({
      role: options.role,
      maxFrameSize: options.maxFrameSize,
      allowedRsv: options.allowedRsv,
      streamingThreshold: options.streamingThreshold,
    });
  }

  /** Changes the reserved bits that extensions claim (after a late negotiation). */
  setAllowedRsv(bits: number): void {
    this.#decoder.setAllowedRsv(bits);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: StreamCallback): void {
    try {
      this.#decoder.push(chunk);
      this.#drain();
    } catch (err) {
      if (this.#fault?.hold(err as Error, callback) !== true) callback(err as Error);
      return;
    }
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#fault?.cancel();
    callback(err);
  }

  [addConsumer](consumer: FrameConsumer): void {
    this.#fault ??= new HeldFault(this, this);
    this.#fault.add(consumer);
  }

  [removeConsumer](consumer: FrameConsumer): void {
    this.#fault?.remove(consumer);
  }

  [consumerProgress](): void {
    this.#fault?.check();
  }

  override _flush(callback: StreamCallback): void {
    // Bytes of an unfinished frame at the end of the input are a truncated stream, which
    // is the transport's business (1006), not a protocol error: they are dropped.
    callback();
  }

  #drain(): void {
    for (let event = this.#decoder.next(); event !== null; event = this.#decoder.next()) {
      switch (event.kind) {
        case 'frame':
          this.push(event.frame);
          break;
        case 'frame-start':
          this.#start(event.header);
          break;
        case 'frame-data':
          // One piece is held back, so that the last piece of the frame can carry its FIN.
          if (this.#held !== undefined) this.#pushPieces(this.#held, false);
          this.#held = event.data;
          break;
        case 'frame-end':
          this.#pushPieces(this.#held ?? EMPTY, this.#fin);
          this.#held = undefined;
          this.#framer = undefined;
          break;
      }
    }
  }

  #start(header: FrameHeader): void {
    this.#framer = new MessageFramer(header.opcode, Number.POSITIVE_INFINITY, rsvOf(header));
    this.#fin = header.fin;
  }

  #pushPieces(piece: Buffer, fin: boolean): void {
    for (const frame of this.#framer!.frames(piece, fin)) this.push(frame);
  }
}

export type { Frame };
