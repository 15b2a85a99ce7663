/**
 * Reference frames for the stream-stage tests: a frame builder and a deliberately naive
 * encoder (byte-at-a-time masking, no shared code with lib/protocol) that serves as the
 * oracle the parser is checked against and the serializer is compared with.
 *
 * @see RFC 6455 §5.2 (base framing), §5.3 (masking)
 */
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';

/** Fields of a frame to encode; anything left out takes the value of a plain final frame. */
export interface FrameSpec {
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Any 4-bit value, including the reserved ones (to build invalid input). */
  opcode: number;
  payload?: Buffer | string;
  /** A 4-byte masking key: the frame is masked with it. */
  maskKey?: Uint8Array;
  /**
   * Forces the length form: 7, 16 or 64 bits. Default: the shortest. A forced form may be
   * non-minimal or (for invalid input) too small, which the caller asks for on purpose.
   */
  lengthForm?: 7 | 16 | 64;
  /** Overrides the encoded length (for invalid input such as a 64-bit length with its MSB set). */
  rawLength?: bigint;
}

/** The RFC 6455 §5.7 example key. */
export const RFC_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Builds a Frame object with the reserved bits clear. */
export function frame(opcode: number, payload: Buffer | string = '', fin = true): Frame {
  return {
    fin,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: opcode as Frame['opcode'],
    payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload,
  };
}

/** Shorthands for the frames the tests build most. */
export const text = (payload: string | Buffer, fin = true): Frame =>
  frame(Opcode.Text, payload, fin);
export const binary = (payload: Buffer | string, fin = true): Frame =>
  frame(Opcode.Binary, payload, fin);
export const cont = (payload: Buffer | string, fin = true): Frame =>
  frame(Opcode.Continuation, payload, fin);
export const ping = (payload: Buffer | string = ''): Frame => frame(Opcode.Ping, payload);
export const pong = (payload: Buffer | string = ''): Frame => frame(Opcode.Pong, payload);
export const close = (payload: Buffer | string = ''): Frame => frame(Opcode.Close, payload);

/** Encodes one frame, byte by byte, as the RFC describes it. */
export function encodeReference(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload, 'utf8')
      : (spec.payload ?? Buffer.alloc(0));
  const length = BigInt(payload.length);
  const form = spec.lengthForm ?? (payload.length <= 125 ? 7 : payload.length <= 0xffff ? 16 : 64);
  const encodedLength = spec.rawLength ?? length;
  const bytes: number[] = [];
  bytes.push(
    (spec.fin === false ? 0 : 0x80) |
      (spec.rsv1 ? 0x40 : 0) |
      (spec.rsv2 ? 0x20 : 0) |
      (spec.rsv3 ? 0x10 : 0) |
      (spec.opcode & 0x0f),
  );
  const maskBit = spec.maskKey === undefined ? 0 : 0x80;
  if (form === 7) {
    bytes.push(maskBit | Number(encodedLength & 0x7fn));
  } else if (form === 16) {
    bytes.push(maskBit | 126, Number((encodedLength >> 8n) & 0xffn), Number(encodedLength & 0xffn));
  } else {
    bytes.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n)
      bytes.push(Number((encodedLength >> shift) & 0xffn));
  }
  const key = spec.maskKey;
  if (key !== undefined) bytes.push(key[0]!, key[1]!, key[2]!, key[3]!);
  const out = Buffer.alloc(bytes.length + payload.length);
  out.set(bytes, 0);
  for (let i = 0; i < payload.length; i++) {
    out[bytes.length + i] = key === undefined ? payload[i]! : payload[i]! ^ key[i & 3]!;
  }
  return out;
}

/** Encodes Frame objects with the reference encoder, masked with `maskKey` if given. */
export function encodeFrames(frames: readonly Frame[], maskKey?: Uint8Array): Buffer {
  return Buffer.concat(frames.map((f) => encodeReference({ ...f, maskKey })));
}

/** A comparable view of a frame: what the tests compare instead of Buffer identity. */
export interface FrameView {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  payload: string;
}

/** Turns a frame into a {@link FrameView} (payload as hex), for `toEqual` with readable diffs. */
export function view(f: Frame): FrameView {
  return {
    fin: f.fin,
    rsv1: f.rsv1,
    rsv2: f.rsv2,
    rsv3: f.rsv3,
    opcode: f.opcode,
    payload: f.payload.toString('hex'),
  };
}

/** Tells whether a value is a Frame object (as stages pass control frames on). */
export function isFrame(value: unknown): value is Frame {
  return (
    value !== null &&
    typeof value === 'object' &&
    'opcode' in value &&
    'payload' in value &&
    Buffer.isBuffer((value as Frame).payload)
  );
}

/** Bytes 0, 1, 2... modulo 256: a payload whose every offset is recognisable. */
export function counting(length: number, start = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (start + i) & 0xff;
  return out;
}
