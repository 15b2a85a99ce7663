import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Frame, Role } from '../../lib/protocol/frame.js';
import { FrameDecoder } from '../../lib/protocol/frame-decoder.js';
import { encodeFrame } from '../../lib/protocol/frame-encoder.js';
import { Opcode } from '../../lib/protocol/opcodes.js';

/** Encodes one frame as a peer of the given role would put it on the wire. */
export function wireFrame(
  peerRole: Role,
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  flags: { fin?: boolean; rsv1?: boolean; rsv2?: boolean; rsv3?: boolean } = {},
): Buffer {
  const frame: Frame = {
    fin: flags.fin ?? true,
    rsv1: flags.rsv1 ?? false,
    rsv2: flags.rsv2 ?? false,
    rsv3: flags.rsv3 ?? false,
    opcode: opcode as Frame['opcode'],
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  };
  const key = peerRole === 'client' ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : undefined;
  return Buffer.concat(encodeFrame(frame, key));
}

/** Encodes a Close frame payload from raw parts (any code, even invalid ones). */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

/**
 * A hand-driven WebSocket peer over a raw transport: sends crafted bytes, records every
 * frame it receives (decoded with the role's masking rule), and tells when TCP closed.
 */
export class RawPeer {
  readonly frames: Frame[] = [];
  readonly closed: Promise<void>;
  readonly #transport: Duplex;
  readonly #role: Role;
  readonly #decoder: FrameDecoder;
  #waiters: Array<() => void> = [];
  ended = false;

  constructor(transport: Duplex, role: Role) {
    this.#transport = transport;
    this.#role = role;
    this.#decoder = new FrameDecoder({ role, allowedRsv: 0x70 });
    transport.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk);
      for (let e = this.#decoder.next(); e !== null; e = this.#decoder.next()) {
        if (e.kind === 'frame') this.frames.push(e.frame);
      }
      this.#notify();
    });
    transport.on('end', () => {
      this.ended = true;
      this.#notify();
    });
    transport.on('error', () => {});
    this.closed = once(transport, 'close').then(() => undefined);
  }

  /** Sends raw bytes. */
  send(bytes: Buffer): void {
    this.#transport.write(bytes);
  }

  /** Sends a frame with this peer's masking. */
  sendFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), flags = {}): void {
    this.send(wireFrame(this.#role, opcode, payload, flags));
  }

  /** Resolves with the first received frame of this opcode (waiting at most `ms`). */
  async waitFor(opcode: number, ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find((f) => f.opcode === opcode);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`No frame with opcode ${opcode} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The close code in the first Close frame received (1005 when it had none). */
  async closeCode(ms = 5000): Promise<number> {
    const frame = await this.waitFor(Opcode.Close, ms);
    return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
  }

  /** Stops the transport; no more bytes are read or written. */
  destroy(): void {
    this.#transport.destroy();
  }

  /** Stops reading (the transport's buffers fill up, as with a peer that never reads). */
  pause(): void {
    this.#transport.pause();
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
