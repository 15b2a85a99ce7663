import type { Duplex as NodeDuplex } from 'node:stream';
import type { Extension } from '../extensions/extension.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { frameMessage } from '../protocol/message-framer.js';
import { asBytes, invalidMessage } from '../protocol/message-payload.js';
import { Opcode } from '../protocol/opcodes.js';
import type { StreamCallback } from './callbacks.js';
import { outboundReleased, type WriterOwner } from './connection-hooks.js';
import { FrameWriter } from './frame-writer.js';
import { entryOf, type StreamTurn } from './outbound-entry.js';
import { OutboundMessage, type OutgoingTransform } from './outbound-message.js';

/** What the sending side needs to know. */
export interface SenderOptions {
  /** Client frames are masked. @see RFC 6455 §5.3 */
  mask: boolean;
  /** Bytes queued in the transport (and the batch) before a write waits for 'drain'. */
  budget: number;
  /** Largest frame payload when fragmenting (Infinity: never). */
  fragmentationThreshold: number;
  extensions: readonly Extension[];
}

/**
 * The sending half of a connection: it takes the entries of the connection's writable
 * queue one at a time (a message, a raw frame, a broadcast's prepared message, a message
 * stream's turn), frames them, through an extension's codec when one transforms the
 * message, and hands the frames to the FrameWriter. Each entry calls back once its frames
 * are with the transport and there is room for more; an entry that finishes later (a
 * compressed message, a write waiting for 'drain', a message stream holding its turn) tells
 * the owner when it does, so that the reply to a peer's Close can wait for it.
 *
 * @see RFC 6455 §5.4 (fragmentation), §6.1 (sending data)
 */
export class MessageSender {
  readonly #transport: NodeDuplex;
  readonly #options: SenderOptions;
  readonly #owner: WriterOwner;
  #writer: FrameWriter | undefined;
  #turn: StreamTurn | undefined;
  #holding = false;

  constructor(transport: NodeDuplex, options: SenderOptions, owner: WriterOwner) {
    this.#transport = transport;
    this.#options = options;
    this.#owner = owner;
  }

  /** The frame writer, made at the first write (an idle connection holds none). */
  get writer(): FrameWriter {
    if (this.#writer === undefined) {
      const { mask, budget } = this.#options;
      this.#writer = new FrameWriter(this.#transport, { mask, budget }, this.#owner);
      if (this.#holding) this.#writer.hold();
    }
    return this.#writer;
  }

  /** Holds the batch open while the connection handles a read (see FrameWriter.hold). */
  hold(): void {
    this.#holding = true;
    this.#writer?.hold();
  }

  /** Ends a `hold`: what the read produced leaves (see FrameWriter.release). */
  release(): void {
    this.#holding = false;
    this.#writer?.release();
  }

  /** The transport drained: coalesced pongs and waiting writes go on. */
  drained(): void {
    this.#writer?.drained();
  }

  /** Bytes framed but not yet handed to the kernel (the batch and the transport's queue). */
  get queuedBytes(): number {
    return this.#writer?.queuedBytes ?? this.#transport.writableLength;
  }

  /** Whether a message stream holds the queue (later writes wait for its end). */
  get holdingTurn(): boolean {
    return this.#turn !== undefined;
  }

  /**
   * Sends one entry of the connection's writable queue; calls back once it is with the
   * transport and there is room for more.
   */
  write(chunk: unknown, encoding: BufferEncoding, callback: StreamCallback): void {
    if (typeof chunk === 'string') {
      this.#message(textPayload(chunk, encoding), false, true, callback);
      return;
    }
    const bytes = asBytes(chunk);
    if (bytes === undefined) {
      this.#frame(chunk, callback);
      return;
    }
    const entry = entryOf(bytes);
    if (entry === undefined) this.#message(bytes, true, true, callback);
    else if (entry.kind === 'send') this.#message(bytes, entry.binary, entry.compress, callback);
    else if (entry.kind === 'turn') this.#startTurn(entry, callback);
    else if (this.#options.mask || this.#options.extensions.length > 0) {
      // Masked or possibly compressed frames are this connection's own to make.
      this.#message(entry.message.payload, entry.message.binary, true, callback);
    } else {
      this.writer.encoded(entry.message.bytes(this.#options.fragmentationThreshold), callback);
    }
  }

  /** Starts ONE message sent piece by piece (a message stream), through the extensions. */
  streamMessage(binary: boolean): OutboundMessage {
    return this.#outbound(binary, undefined, true);
  }

  /** Ends a message stream's turn: the writes queued after it may go. */
  endTurn(turn: StreamTurn): void {
    if (this.#turn === turn) this.#turn = undefined;
    if (turn.end()) this.#owner[outboundReleased]();
  }

  /** Sends a control frame at once, between data frames. */
  control(opcode: number, payload: Buffer): void {
    this.writer.control(opcode, payload);
  }

  /** Answers a ping (coalesced while the transport is backed up). */
  pong(payload: Buffer): void {
    this.writer.pong(payload);
  }

  /** Hands what is batched to the transport now (before it is ended). */
  flush(): void {
    this.#writer?.flush();
  }

  /** The transport is gone: releases every write that waits for it. */
  abandon(): void {
    this.#writer?.abandon();
  }

  #startTurn(turn: StreamTurn, callback: StreamCallback): void {
    this.#turn = turn;
    turn.start(callback);
  }

  #message(payload: Buffer, binary: boolean, compress: boolean, callback: StreamCallback): void {
    const opcode = binary ? Opcode.Binary : Opcode.Text;
    const { extensions, fragmentationThreshold } = this.#options;
    if (extensions.length === 0) {
      // No extension: framed here, synchronously, without the per-message machinery.
      if (payload.length <= fragmentationThreshold) this.writer.message(opcode, payload, callback);
      else this.writer.frames(frameMessage(opcode, payload, fragmentationThreshold), callback);
      return;
    }
    this.#outbound(binary, payload.length, compress).write(payload, true, (err) => {
      callback(err);
      this.#owner[outboundReleased]();
    });
  }

  /** Raw mode writes Frames as they are (a Close goes through close(), never raw). */
  #frame(chunk: unknown, callback: StreamCallback): void {
    let frame: Frame;
    try {
      frame = checkRawFrame(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.writer.frames([frame], callback);
  }

  /** Starts an outgoing message, through the first extension that wants to transform it. */
  #outbound(binary: boolean, length: number | undefined, compress: boolean): OutboundMessage {
    let transform: OutgoingTransform | undefined;
    for (const extension of this.#options.extensions) {
      const codec = extension.outgoing({ binary, length, compress });
      if (codec !== undefined) {
        transform = { codec, rsv: extension.rsv };
        break;
      }
    }
    return new OutboundMessage(
      binary ? Opcode.Binary : Opcode.Text,
      this.#options.fragmentationThreshold,
      transform,
      (frames, callback) => this.writer.frames(frames, callback),
    );
  }
}

/** A string written to the connection: text, whatever encoding it was written with. */
function textPayload(chunk: string, encoding: BufferEncoding): Buffer {
  if (encoding === 'utf8' || encoding === 'utf-8' || (encoding as string) === 'buffer') {
    return Buffer.from(chunk, 'utf8');
  }
  return Buffer.from(Buffer.from(chunk, encoding).toString('utf8'), 'utf8');
}

/** Checks a raw-mode chunk: a Frame with a Buffer payload, and not a Close. */
export function checkRawFrame(chunk: unknown): Frame {
  const frame = chunk as Frame;
  if (frame === null || typeof frame !== 'object' || !Buffer.isBuffer(frame.payload)) {
    throw invalidMessage(chunk);
  }
  if (frame.opcode === Opcode.Close) {
    throw new InvalidArgumentError('Send a Close with close(code, reason), not as a raw frame');
  }
  return frame;
}
