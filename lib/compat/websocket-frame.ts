import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { encodeFrame } from '../protocol/frame-encoder.js';
import { generateMaskKey } from '../protocol/mask.js';
import { Opcode } from '../protocol/opcodes.js';

/** WebSocket-Node's frame configuration; only the frame size limit is read. */
export interface WebSocketFrameConfig {
  /** Largest payload, in bytes, that a received frame may carry (kept for the seed's code). */
  maxReceivedFrameSize?: number;
}

/** Options of {@link WebSocketFrame.from}. */
export interface WebSocketFrameFromOptions {
  /** Whether the frame was (or is to be) masked on the wire. Default: false. */
  mask?: boolean;
}

const EMPTY = Buffer.alloc(0);
/** WebSocket-Node's "no status" value of closeStatus. */
const NO_STATUS = -1;

/**
 * WebSocket-Node's frame class, over this library's {@link Frame}: the seed's field names
 * (`binaryPayload`, `opcode`, `fin`, `rsv1`-`rsv3`, `mask`, `length`, `closeStatus`,
 * `maskBytes`) and `toBuffer()`, so that code written for the seed keeps working, while
 * the object is also a Frame (its `payload` is the whole unmasked payload) that a
 * raw-mode connection, the FrameSerializer or encodeFrame take as they are.
 *
 * As in the seed, a Close frame keeps its status code in `closeStatus` and only the reason
 * bytes in `binaryPayload`; `payload` puts the two back together. Masking keys come from
 * a cryptographic source (the seed used Math.random, which RFC 6455 rules out).
 *
 * Parsing is not this class's job: FrameParser (or FrameDecoder) does it, and
 * `WebSocketFrame.from(frame)` wraps what they produce.
 *
 * @see RFC 6455 §5.2 (base framing), §5.5.1 (Close payload)
 * @example
 * ```ts
 * const frame = new WebSocketFrame();
 * frame.fin = true;
 * frame.opcode = 0x01;
 * frame.binaryPayload = Buffer.from('Hello');
 * frame.toBuffer(); // <Buffer 81 05 48 65 6c 6c 6f>
 * ```
 */
export class WebSocketFrame implements Frame {
  fin = false;
  rsv1 = false;
  rsv2 = false;
  rsv3 = false;
  /** Whether toBuffer() masks the payload (a client's frames must be masked, RFC 6455 §5.3). */
  mask = false;
  opcode: Opcode = Opcode.Continuation;
  /** The payload; for a Close frame, the reason bytes only (the code is in closeStatus). */
  binaryPayload: Buffer | undefined;
  /** A Close frame's status code; -1 for none. */
  closeStatus = NO_STATUS;
  /** The masking key last used by toBuffer() (4 bytes). */
  readonly maskBytes: Buffer;
  /** WebSocket-Node's header scratch buffer, kept for code that reads it. */
  readonly frameHeader: Buffer;
  /** The configuration given to the constructor. */
  readonly config: WebSocketFrameConfig;
  /** The frame size limit from the configuration (Infinity without one). */
  readonly maxReceivedFrameSize: number;
  /** WebSocket-Node's parse-error flags; set by from() on a Close payload of one byte. */
  protocolError = false;
  frameTooLarge = false;
  invalidCloseFrameLength = false;
  /** Why the frame was refused, when one of the flags is set. */
  dropReason: string | undefined;

  /** Takes WebSocket-Node's arguments, all optional: shared scratch buffers and the config. */
  constructor(maskBytes?: Buffer, frameHeader?: Buffer, config: WebSocketFrameConfig = {}) {
    this.maskBytes = maskBytes ?? Buffer.alloc(4);
    this.frameHeader = frameHeader ?? Buffer.alloc(10);
    this.config = config;
    this.maxReceivedFrameSize = config.maxReceivedFrameSize ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Wraps a Frame (as FrameParser or a raw-mode connection hands them out) in the seed's
   * shape. The payload is shared, not copied.
   *
   * @example connection.on('frame', (f) => console.log(WebSocketFrame.from(f).length));
   */
  static from(frame: Frame, options: WebSocketFrameFromOptions = {}): WebSocketFrame {
    const out = new WebSocketFrame();
    out.fin = frame.fin;
    out.rsv1 = frame.rsv1;
    out.rsv2 = frame.rsv2;
    out.rsv3 = frame.rsv3;
    out.opcode = frame.opcode;
    out.mask = options.mask ?? false;
    out.payload = frame.payload;
    if (out.invalidCloseFrameLength) {
      out.protocolError = true;
      out.dropReason = 'Close frame payload of 1 byte: a status code takes 2';
    }
    return out;
  }

  /** The payload length on the wire (for a Close frame, the status code's 2 bytes included). */
  get length(): number {
    const reason = this.binaryPayload?.length ?? 0;
    return this.opcode === Opcode.Close && this.closeStatus !== NO_STATUS ? reason + 2 : reason;
  }

  /** The whole unmasked payload, as a Frame carries it. */
  get payload(): Buffer {
    const body = this.binaryPayload ?? EMPTY;
    if (this.opcode !== Opcode.Close || this.closeStatus === NO_STATUS) return body;
    if (!Number.isInteger(this.closeStatus) || this.closeStatus < 0 || this.closeStatus > 0xffff) {
      throw new InvalidArgumentError(`closeStatus must be -1 or 0-65535, got ${this.closeStatus}`);
    }
    const out = Buffer.allocUnsafe(2 + body.length);
    out.writeUInt16BE(this.closeStatus, 0);
    body.copy(out, 2);
    return out;
  }

  /** Sets the payload; on a Close frame, splits off the status code as the seed keeps it. */
  set payload(payload: Buffer) {
    this.invalidCloseFrameLength = false;
    if (this.opcode !== Opcode.Close) {
      this.binaryPayload = payload;
      return;
    }
    if (payload.length >= 2) {
      this.closeStatus = payload.readUInt16BE(0);
      this.binaryPayload = payload.subarray(2);
      return;
    }
    this.closeStatus = NO_STATUS;
    this.binaryPayload = EMPTY;
    this.invalidCloseFrameLength = payload.length === 1;
  }

  /**
   * Serializes the frame, masked with a fresh key when `mask` is set (an all-zero key with
   * `nullMask`, as in the seed, for tests that compare bytes). Throws InvalidArgumentError
   * for a frame the peer would have to fail: a control frame that is fragmented or longer
   * than 125 bytes, a status code that does not fit 16 bits.
   *
   * @see RFC 6455 §5.2, §5.3
   */
  toBuffer(nullMask = false): Buffer {
    let key: Buffer | undefined;
    if (this.mask) {
      key = nullMask ? Buffer.alloc(4) : generateMaskKey();
      key.copy(this.maskBytes);
    }
    const parts = encodeFrame(this, key);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Describes the frame as WebSocket-Node does, for logs. */
  toString(): string {
    return `Opcode: ${this.opcode}, fin: ${this.fin}, length: ${this.length}, hasPayload: ${this.binaryPayload !== undefined}, masked: ${this.mask}`;
  }
}
