import type { Opcode } from './opcodes.js';

/** Which end of the connection we are: it decides who masks. @see RFC 6455 §5.1 */
export type Role = 'server' | 'client';

/**
 * One WebSocket frame, as the parser hands it out and the serializer takes it in. The
 * payload is unmasked: masking is a property of the wire, not of the frame.
 *
 * @see RFC 6455 §5.2
 */
export interface Frame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: Opcode;
  payload: Buffer;
}

/**
 * A decoded frame header. `payloadLength` is exact (the decoder refuses lengths above
 * 2^53-1); `maskKey` is present when the frame was masked on the wire.
 *
 * @see RFC 6455 §5.2
 */
export interface FrameHeader {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: Opcode;
  payloadLength: number;
  maskKey: Buffer | undefined;
}

/** Builds a frame with the reserved bits clear. */
export function createFrame(opcode: Opcode, payload: Buffer, fin = true): Frame {
  return { fin, rsv1: false, rsv2: false, rsv3: false, opcode, payload };
}
