import type { Duplex as NodeDuplex } from 'node:stream';
import type { Frame } from '../protocol/frame.js';
import { encodeFrame, frameHeaderSize, writeFrameHeader } from '../protocol/frame-encoder.js';
import { generateMaskKey, mask } from '../protocol/mask.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';

/**
 * Bytes of consecutive masked frames packed into one buffer: under glibc's default mmap
 * threshold (128 KiB), so that packs come from the heap and reuse its memory; one buffer
 * per message measured SLOWER from 1 MiB on, every one of them page-faulted in afresh.
 */
const MASKED_PACK_SIZE = 120 * 1024;

/**
 * Writes encoded frames to a connection's transport: masking on the client side, every
 * frame produced in one tick leaving in one writev (the transport is corked for the tick),
 * data writes calling back once the transport has room, control frames slotted in at once
 * between frames, and pongs coalesced while the transport is backed up.
 *
 * @see RFC 6455 §5.3 (masking), §5.5.3 (pongs)
 */
export class FrameWriter {
  readonly #transport: NodeDuplex;
  readonly #mask: boolean;
  readonly #budget: number;
  #corked = false;
  #pendingPong: Buffer | undefined;
  #drainWaiters: Array<() => void> = [];

  /**
   * @param budget bytes the transport may hold before a data write waits for its 'drain':
   *   gating at a socket's own 16 KiB would send each 16 KiB message alone.
   */
  constructor(transport: NodeDuplex, options: { mask: boolean; budget: number }) {
    this.#transport = transport;
    this.#mask = options.mask;
    this.#budget = options.budget;
    transport.on('drain', () => this.#onDrain());
  }

  /** Writes the frames of a message; calls back once the transport has room again. */
  write(frames: Frame[], callback: StreamCallback): void {
    this.#corkForTick();
    let hasRoom = true;
    if (this.#mask && frames.length > 1) {
      hasRoom = this.#writeMaskedFrames(frames);
    } else {
      for (const frame of frames) hasRoom = this.#writeFrame(frame);
    }
    if (hasRoom || this.#transport.writableLength < this.#budget) callback();
    else this.#drainWaiters.push(() => callback());
  }

  /** Writes a control frame now, between data frames. */
  control(opcode: number, payload: Buffer): void {
    if (this.#transport.destroyed) return;
    this.#corkForTick();
    this.#writeFrame({
      fin: true,
      rsv1: false,
      rsv2: false,
      rsv3: false,
      opcode: opcode as Frame['opcode'],
      payload,
    });
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

  /** Drops a coalesced pong (after our Close, none may follow) and releases every waiter. */
  release(): void {
    this.#pendingPong = undefined;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  #onDrain(): void {
    if (this.#pendingPong !== undefined) {
      const payload = this.#pendingPong;
      this.#pendingPong = undefined;
      this.control(Opcode.Pong, payload);
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /**
   * Writes the frames of one fragmented message masked, packed back to back into buffers of
   * up to MASKED_PACK_SIZE bytes: one allocation and one transport write per pack instead
   * of one per fragment (147 instead of 1,024 of each for 16 MiB at the default 16 KiB
   * threshold: a quarter less CPU to send 16 MiB, a tenth less for 1 MiB). A fragment
   * larger than a pack gets a buffer of its own, as from encodeFrame. The bytes are exactly
   * encodeFrame's for each frame in turn, each with its own fresh key.
   */
  #writeMaskedFrames(frames: Frame[]): boolean {
    let hasRoom = true;
    let from = 0;
    while (from < frames.length) {
      let size = maskedFrameSize(frames[from]!);
      let to = from + 1;
      while (to < frames.length && size + maskedFrameSize(frames[to]!) <= MASKED_PACK_SIZE) {
        size += maskedFrameSize(frames[to]!);
        to++;
      }
      hasRoom = this.#transport.write(packMaskedFrames(frames, from, to, size));
      from = to;
    }
    return hasRoom;
  }

  #writeFrame(frame: Frame): boolean {
    const parts = encodeFrame(frame, this.#mask ? generateMaskKey() : undefined);
    let hasRoom = true;
    for (const part of parts) hasRoom = this.#transport.write(part);
    return hasRoom;
  }

  /**
   * Corks the transport until the next tick, so that every frame produced in one tick
   * leaves in one writev (one syscall for many small messages).
   */
  #corkForTick(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#transport.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.#transport.uncork();
    });
  }
}

/** Bytes of a frame once encoded masked: header, key and payload. */
function maskedFrameSize(frame: Frame): number {
  return frameHeaderSize(frame.payload.length, true) + frame.payload.length;
}

/** Encodes `frames[from..to)` masked, back to back, into one new buffer of `size` bytes. */
function packMaskedFrames(frames: Frame[], from: number, to: number, size: number): Buffer {
  // Place the first payload at its source's alignment modulo 8, as encodeFrame does, so that
  // mask() runs its fused word loop; with 8-byte headers (payloads of 126 to 65,535 bytes)
  // and fragment lengths a multiple of 8, the next payloads stay aligned too.
  const first = frames[from]!.payload;
  const raw = Buffer.allocUnsafe(size + 7);
  const shift = (first.byteOffset - raw.byteOffset - frameHeaderSize(first.length, true)) & 7;
  const out = raw.subarray(shift, shift + size);
  let at = 0;
  for (let i = from; i < to; i++) {
    const frame = frames[i]!;
    const payload = frame.payload;
    const maskKey = generateMaskKey();
    at = writeFrameHeader(out, at, {
      fin: frame.fin,
      rsv1: frame.rsv1,
      rsv2: frame.rsv2,
      rsv3: frame.rsv3,
      opcode: frame.opcode,
      payloadLength: payload.length,
      maskKey,
    });
    mask(payload, maskKey, out, at);
    at += payload.length;
  }
  return out;
}
