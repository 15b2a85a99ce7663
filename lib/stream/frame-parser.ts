import { Transform } from 'readable-stream';
import type { Frame, FrameHeader, Role } from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';

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

/**
 * Parses bytes into {@link Frame} objects: a Transform with a byte writable side and an
 * object readable side, over the pure {@link FrameDecoder}. It holds its write callback
 * while its readable side is full, so a slow consumer stops the byte source.
 *
 * A frame whose payload exceeds `streamingThreshold` is not gathered: each piece is handed
 * out as soon as it arrives, as a fragment of its own. The first piece keeps the frame's
 * opcode and RSV bits, later pieces are continuations, and only the last piece carries the
 * frame's FIN. The message is the same (intermediaries may refragment, RFC 6455 §5.4), and a
 * 1 GiB frame never needs 1 GiB of memory.
 *
 * The parser takes ownership of the chunks written to it: masked payloads are unmasked in
 * place and frames are views of those chunks.
 *
 * @example
 * ```ts
 * const parser = new FrameParser({ role: 'client' });
 * parser.on('data', (frame: Frame) => console.log(frame.opcode, frame.payload.length));
 * parser.end(Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f])); // text "Hello"
 * ```
 */
export class FrameParser extends Transform {
  readonly #decoder: FrameDecoder;
  #streaming: FrameHeader | undefined;
  #firstPiece = true;
  #held: Buffer | undefined;

  constructor(options: FrameParserOptions) {
    super({
      readableObjectMode: true,
      readableHighWaterMark: options.highWaterMark ?? 16,
    });
    this.#decoder = new FrameDecoder({
      role: options.role,
      maxFrameSize: options.maxFrameSize,
      allowedRsv: options.allowedRsv,
      streamThreshold: options.streamingThreshold,
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
      callback(err as Error);
      return;
    }
    callback();
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
          this.#streaming = event.header;
          this.#firstPiece = true;
          break;
        case 'frame-data':
          this.#piece(event.data);
          break;
        case 'frame-end':
          this.#endPiece();
          break;
      }
    }
  }

  /** Keeps one piece back so that the last piece of a frame can carry its FIN. */
  #piece(data: Buffer): void {
    if (this.#held !== undefined) this.push(this.#pieceFrame(this.#held, false));
    this.#held = data;
  }

  #endPiece(): void {
    const header = this.#streaming!;
    this.push(this.#pieceFrame(this.#held ?? Buffer.alloc(0), header.fin));
    this.#held = undefined;
    this.#streaming = undefined;
  }

  #pieceFrame(payload: Buffer, fin: boolean): Frame {
    const header = this.#streaming!;
    const first = this.#firstPiece;
    this.#firstPiece = false;
    return {
      fin,
      rsv1: first && header.rsv1,
      rsv2: first && header.rsv2,
      rsv3: first && header.rsv3,
      opcode: first ? header.opcode : Opcode.Continuation,
      payload,
    };
  }
}
