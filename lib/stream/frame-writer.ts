import type { Duplex as NodeDuplex } from 'node:stream';
import type { Frame } from '../protocol/frame.js';
import { firstHeaderByte, frameHeaderSize, writeHeaderBytes } from '../protocol/frame-encoder.js';
import { maskInto } from '../protocol/mask.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
import { outboundReleased, type WriterOwner } from './connection-hooks.js';

/**
 * Size of the shared slab that small frames are written into. Under glibc's mmap threshold
 * (128 KiB), so that slabs come from the heap and reuse its memory, and large enough to hold
 * several masked 16 KiB fragments back to back.
 */
const SLAB_SIZE = 120 * 1024;
/**
 * The answers to a read leave as soon as they reach this size instead of at the end of the
 * read, so that the peer, which waits for them, works on the first part while we produce the
 * rest: two processes echoing to each other then overlap rather than take turns (a whole
 * window in one write leaves each idle while the other works). Half of the 64 KiB a socket
 * read returns: one read's answers leave in about two writes, still one syscall for hundreds
 * of small frames. Writes made outside a read (a broadcast, a loop of sends) stay one batch
 * per tick: there the number of syscalls is the cost (a burst to 10,000 connections).
 */
export const FLUSH_AT = 32 * 1024;
/** Unmasked payloads up to this size are copied next to their header: one part, not two. */
const COPY_UNMASKED_BELOW = 1024;
/** Masked payloads up to this size are masked straight into the slab (a copy is needed anyway). */
const COPY_MASKED_BELOW = 32 * 1024;
/** Payloads from this size are placed word-aligned with their source, for the word-wise XOR. */
const ALIGN_FROM = 128;

/** A constructor of Buffer views without the species lookup of `subarray`. */
type BufferViewConstructor = new (
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
) => Buffer;
const FastBuffer = (Buffer as unknown as { [Symbol.species]: BufferViewConstructor })[
  Symbol.species
];

/**
 * The slab shared by every writer of the process: writing is synchronous, so writers take
 * consecutive ranges of it, and a connection's frames of one batch that lie back to back in
 * it leave as one buffer. A slab is never written twice: when it is full, a new one is taken
 * and the old one lives as long as views of it are queued in sockets.
 */
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;

/** Runs the flush of a writer whose batch was started outside a read (see `hold`). */
function flushOnNextTick(writer: FrameWriter): void {
  writer.flush();
}

/**
 * Writes frames to a connection's transport, in batches: the frames produced while the
 * connection handles one read (cut at FLUSH_AT bytes), or in one tick, go into one batch,
 * and a batch leaves in one transport write (a writev when it has several parts), so that
 * many small messages cost one syscall. Small frames (header and payload) are written into a
 * shared slab, masked on the way on the client side (one pass), so that consecutive frames
 * are one buffer; large unmasked payloads are never copied. Data writes call back once the
 * transport has room (under `budget` bytes queued); control frames are slotted in at once;
 * pongs are coalesced while the transport is backed up.
 *
 * @see RFC 6455 §5.2 (framing), §5.3 (masking), §5.5.3 (pongs)
 */
export class FrameWriter {
  readonly #transport: NodeDuplex;
  readonly #mask: boolean;
  readonly #budget: number;
  readonly #owner: WriterOwner;
  #parts: Buffer[] = [];
  /** Bytes in the batch not yet handed to the transport. */
  #pending = 0;
  /** The current run of back-to-back bytes in the slab: [#runStart, #runEnd) of #runSlab. */
  #runSlab: Buffer | undefined;
  #runStart = 0;
  #runEnd = 0;
  /** Inside a read: the batch is flushed when the read is done, not on the next tick. */
  #holding = false;
  #flushScheduled = false;
  #pendingPong: Buffer | undefined;
  #waiters: StreamCallback[] = [];

  /**
   * @param budget bytes the transport may hold (with the batch) before a data write waits
   *   for its 'drain': gating at a socket's own 16 KiB would send each 16 KiB message alone.
   */
  constructor(
    transport: NodeDuplex,
    options: { mask: boolean; budget: number },
    owner: WriterOwner,
  ) {
    this.#transport = transport;
    this.#mask = options.mask;
    this.#budget = options.budget;
    this.#owner = owner;
  }

  /** Bytes queued here and in the transport, not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.#pending + this.#transport.writableLength;
  }

  /**
   * Holds the batch open while the connection handles a read, so that what its handling
   * produces (an echo's answers) leaves together when `release` is called (or in cuts of
   * FLUSH_AT bytes, when it is more).
   */
  hold(): void {
    this.#holding = true;
  }

  /** Ends a `hold`: flushes what the read produced. */
  release(): void {
    this.#holding = false;
    if (this.#pending > 0) this.flush();
  }

  /** Writes one unfragmented data frame; calls back once the transport has room. */
  message(opcode: number, payload: Buffer, callback: StreamCallback): void {
    this.#frame(0x80 | opcode, payload);
    this.#scheduleFlush();
    this.#afterData(callback);
  }

  /** Writes the frames of (part of) a message; calls back once the transport has room. */
  frames(frames: readonly Frame[], callback: StreamCallback): void {
    const together = this.#mask && frames.length > 1 ? maskedSize(frames) : 0;
    if (together >= SLAB_SIZE) {
      this.#closeRun();
      this.#parts.push(maskedFrames(frames, together));
      this.#pending += together;
    } else {
      for (const frame of frames) this.#frame(firstHeaderByte(frame), frame.payload);
    }
    this.#scheduleFlush();
    this.#afterData(callback);
  }

  /** Writes bytes already framed (a broadcast's shared frame); calls back once there is room. */
  encoded(bytes: Buffer, callback: StreamCallback): void {
    this.#closeRun();
    this.#parts.push(bytes);
    this.#pending += bytes.length;
    this.#scheduleFlush();
    this.#afterData(callback);
  }

  /** Writes a control frame now, between data frames. */
  control(opcode: number, payload: Buffer): void {
    if (this.#transport.destroyed) return;
    this.#frame(0x80 | opcode, payload);
    this.#scheduleFlush();
  }

  /**
   * Answers a ping. While the transport is backed up, only the latest ping's pong is kept,
   * so a ping flood from a peer that does not read cannot grow our queue.
   *
   * @see RFC 6455 §5.5.3 (a pong for the most recent ping only is allowed)
   */
  pong(payload: Buffer): void {
    if (this.#transport.writableNeedDrain) {
      this.#pendingPong = Buffer.from(payload);
      return;
    }
    this.control(Opcode.Pong, payload);
  }

  /** Hands the batch to the transport now: one write, or a corked run of writes. */
  flush(): void {
    this.#flushScheduled = false;
    this.#closeRun();
    const parts = this.#parts;
    if (parts.length === 0) return;
    this.#parts = [];
    this.#pending = 0;
    const transport = this.#transport;
    // Bytes for a transport that is gone, or whose sending side is ended (an HTTP/2 stream
    // ended in answer to the peer's END_STREAM, see dropTransport), can no longer leave.
    if (transport.destroyed || transport.writableEnded) return;
    if (parts.length === 1) {
      transport.write(parts[0]);
    } else {
      transport.cork();
      for (const part of parts) transport.write(part);
      transport.uncork();
    }
    if (this.#waiters.length > 0 && transport.writableLength < this.#budget) this.#release();
  }

  /** Called on the transport's 'drain': sends a coalesced pong, releases waiting writes. */
  drained(): void {
    if (this.#pendingPong !== undefined) {
      const payload = this.#pendingPong;
      this.#pendingPong = undefined;
      this.control(Opcode.Pong, payload);
      this.flush();
    }
    this.#release();
  }

  /** Drops a coalesced pong (after our Close, none may follow) and releases every waiter. */
  abandon(): void {
    this.#pendingPong = undefined;
    this.#release();
  }

  #release(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
    this.#owner[outboundReleased]();
  }

  #afterData(callback: StreamCallback): void {
    if (this.#transport.writableLength + this.#pending < this.#budget) callback();
    else this.#waiters.push(callback);
  }

  /** Encodes one frame into the batch (the caller schedules the flush). */
  #frame(b0: number, payload: Buffer): void {
    const length = payload.length;
    const masked = this.#mask;
    const headerSize = frameHeaderSize(length, masked);
    if (length < (masked ? COPY_MASKED_BELOW : COPY_UNMASKED_BELOW)) {
      const align = masked && length >= ALIGN_FROM ? payload : undefined;
      const at = this.#take(headerSize + length, align);
      const p = writeHeaderBytes(slab, at, b0, length, masked);
      if (masked)
        maskInto(payload, slab, p, slab[p - 4]!, slab[p - 3]!, slab[p - 2]!, slab[p - 1]!);
      else payload.copy(slab, p);
    } else if (masked) {
      this.#closeRun();
      this.#parts.push(maskedFrame(b0, payload, headerSize));
      this.#pending += headerSize + length;
    } else {
      const at = this.#take(headerSize, undefined);
      writeHeaderBytes(slab, at, b0, length, false);
      this.#closeRun();
      this.#parts.push(payload);
      this.#pending += length;
    }
  }

  /**
   * Takes `size` bytes of the slab for this writer's batch, extending the current run when
   * they follow it. With `alignWith`, the payload (after a header of `size - length` bytes)
   * is placed at the same address modulo 8 as that source, so masking runs word-wise; a
   * run that would have to skip bytes for that is closed and a new one begun.
   */
  #take(size: number, alignWith: Buffer | undefined): number {
    let at = slabUsed;
    if (alignWith !== undefined) {
      const payloadAt = at + size - alignWith.length;
      at += (alignWith.byteOffset - slab.byteOffset - payloadAt) & 7;
    }
    if (at + size > slab.length) {
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
      slabUsed = 0;
      return this.#take(size, alignWith);
    }
    if (this.#runSlab !== slab || this.#runEnd !== at) {
      this.#closeRun();
      this.#runSlab = slab;
      this.#runStart = at;
    }
    slabUsed = at + size;
    this.#runEnd = slabUsed;
    this.#pending += size;
    return at;
  }

  /**
   * Ends the current run: it joins the batch as a view of the slab, or as a copy when the
   * transport is backed up, so that a slow reader never pins a whole slab for a few bytes.
   */
  #closeRun(): void {
    const run = this.#runSlab;
    if (run === undefined) return;
    this.#runSlab = undefined;
    const length = this.#runEnd - this.#runStart;
    const view = new FastBuffer(run.buffer, run.byteOffset + this.#runStart, length);
    const pins = length < SLAB_SIZE / 8 && this.#transport.writableLength > 0;
    this.#parts.push(pins ? Buffer.from(view) : view);
  }

  /**
   * Inside a read, flushes a batch that reached FLUSH_AT; outside one, schedules the flush
   * for the end of the tick. Called once per entry, not per frame: the fragments of one
   * large message still leave in one write.
   */
  #scheduleFlush(): void {
    if (this.#holding) {
      if (this.#pending >= FLUSH_AT) this.flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(flushOnNextTick, this);
    }
  }
}

/**
 * Encodes a large masked frame into a buffer of its own, the payload placed at its source's
 * alignment modulo 8 so that masking runs word-wise (the source is never modified: the
 * application may still hold it).
 */
function maskedFrame(b0: number, payload: Buffer, headerSize: number): Buffer {
  const total = headerSize + payload.length;
  const raw = Buffer.allocUnsafe(total + 7);
  const shift = (payload.byteOffset - raw.byteOffset - headerSize) & 7;
  const out = new FastBuffer(raw.buffer, raw.byteOffset + shift, total);
  const p = writeHeaderBytes(out, 0, b0, payload.length, true);
  maskInto(payload, out, p, out[p - 4]!, out[p - 3]!, out[p - 2]!, out[p - 1]!);
  return out;
}

/** The encoded size of masked frames, headers included. */
function maskedSize(frames: readonly Frame[]): number {
  let total = 0;
  for (const frame of frames)
    total += frameHeaderSize(frame.payload.length, true) + frame.payload.length;
  return total;
}

/**
 * Encodes the masked frames of a large message (its 16 KiB fragments, say) back to back into
 * one buffer of `total` bytes, each with a masking key of its own (RFC 6455 §5.3): one
 * allocation and one part of the write instead of a slab every few fragments. The first
 * payload is placed at its source's alignment modulo 8; the others follow suit whenever
 * header and payload sizes are multiples of 8 (16 KiB fragments behind 8-byte headers are).
 */
function maskedFrames(frames: readonly Frame[], total: number): Buffer {
  const first = frames[0]!.payload;
  const raw = Buffer.allocUnsafe(total + 7);
  const shift = (first.byteOffset - raw.byteOffset - frameHeaderSize(first.length, true)) & 7;
  const out = new FastBuffer(raw.buffer, raw.byteOffset + shift, total);
  let at = 0;
  for (const frame of frames) {
    const payload = frame.payload;
    const p = writeHeaderBytes(out, at, firstHeaderByte(frame), payload.length, true);
    maskInto(payload, out, p, out[p - 4]!, out[p - 3]!, out[p - 2]!, out[p - 1]!);
    at = p + payload.length;
  }
  return out;
}
