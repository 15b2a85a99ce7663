import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame, Role } from '../protocol/frame.js';
import { encodeFrame } from '../protocol/frame-encoder.js';
import { generateMaskKey } from '../protocol/mask.js';
import { Transform } from './bases.js';
import type { StreamCallback } from './callbacks.js';

/** Options of {@link FrameSerializer}. */
export interface FrameSerializerOptions {
  /** Our end: a client masks every frame with a fresh key, a server never masks. @see RFC 6455 §5.3 */
  role: Role;
  /** Frames buffered on the writable side before `write()` returns false. Default: 16. */
  highWaterMark?: number;
}

/** Encoded bytes below this size are copied into one batch buffer rather than pushed apart. */
const COALESCE_BELOW = 4096;

/**
 * Serializes {@link Frame} objects into bytes: a Transform with an object writable side and
 * a byte readable side, over the pure encoder. An unmasked payload is never copied: header
 * and payload go out as two chunks. Frames that queued up while the reader was slow are
 * encoded together in `_writev`, their small pieces joined into one buffer so that the
 * socket gets one write for many frames.
 *
 * @example
 * ```ts
 * const serializer = new FrameSerializer({ role: 'server' });
 * serializer.pipe(socket);
 * serializer.write(createFrame(Opcode.Text, Buffer.from('Hello')));
 * ```
 */
export class FrameSerializer extends Transform {
  readonly #mask: boolean;
  #batch: Buffer[] = [];

  constructor(options: FrameSerializerOptions) {
    super({ writableObjectMode: true, writableHighWaterMark: options.highWaterMark ?? 16 });
    this.#mask = options.role === 'client';
  }

  override _transform(frame: Frame, _encoding: BufferEncoding, callback: StreamCallback): void {
    try {
      this.#encodeInto(this.#batch, frame);
    } catch (err) {
      this.#batch = [];
      callback(err as Error);
      return;
    }
    this.#pushBatch();
    callback();
  }

  override _writev(
    entries: Array<{ chunk: Frame; encoding: BufferEncoding }>,
    callback: StreamCallback,
  ): void {
    // Encode all but the last here; the last goes through Transform's own _write so that
    // its backpressure logic (hold the callback while the readable side is full) applies.
    try {
      for (let i = 0; i < entries.length - 1; i++) this.#encodeInto(this.#batch, entries[i]!.chunk);
    } catch (err) {
      this.#batch = [];
      callback(err as Error);
      return;
    }
    const last = entries[entries.length - 1]!;
    (Transform.prototype as unknown as WriteMethod)._write.call(
      this,
      last.chunk,
      last.encoding,
      callback,
    );
  }

  #encodeInto(out: Buffer[], frame: Frame): void {
    if (frame === null || typeof frame !== 'object' || !Buffer.isBuffer(frame.payload)) {
      throw new InvalidArgumentError('FrameSerializer takes Frame objects with a Buffer payload');
    }
    const parts = encodeFrame(frame, this.#mask ? generateMaskKey() : undefined);
    for (const part of parts) out.push(part);
  }

  /**
   * Pushes the encoded parts, joining runs of small ones into one buffer. (No closure here:
   * this runs once per write, and a closure per call cost 2.8x on 64-byte messages under
   * tsx, whose keepNames wraps each one in a defineProperty.)
   */
  #pushBatch(): void {
    const parts = this.#batch;
    this.#batch = [];
    let runStart = 0;
    let runLength = 0;
    for (let i = 0; i <= parts.length; i++) {
      const part = i < parts.length ? parts[i]! : undefined;
      if (part !== undefined && part.length < COALESCE_BELOW) {
        runLength += part.length;
        continue;
      }
      // End of a run of small parts: one of them goes as it is, several are joined.
      const count = i - runStart;
      if (count === 1) this.push(parts[runStart]);
      else if (count > 1) this.push(Buffer.concat(parts.slice(runStart, i), runLength));
      if (part !== undefined) this.push(part);
      runStart = i + 1;
      runLength = 0;
    }
  }
}

interface WriteMethod {
  _write(this: Transform, chunk: unknown, encoding: BufferEncoding, cb: StreamCallback): void;
}
