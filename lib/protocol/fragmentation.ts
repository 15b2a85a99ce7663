import type { Frame } from './frame.js';
import { Opcode } from './opcodes.js';

/**
 * Splits one message payload into frames of at most `threshold` bytes: the first carries
 * the message opcode, the rest are continuations, the last has FIN. Payload slices are
 * views, not copies. With no threshold (or a payload that fits) the message is one frame.
 *
 * @see RFC 6455 §5.4
 */
export function fragmentMessage(
  opcode: typeof Opcode.Text | typeof Opcode.Binary,
  payload: Buffer,
  threshold: number = Number.POSITIVE_INFINITY,
  rsv1 = false,
): Frame[] {
  if (payload.length <= threshold) {
    return [{ fin: true, rsv1, rsv2: false, rsv3: false, opcode, payload }];
  }
  const frames: Frame[] = [];
  for (let offset = 0; offset < payload.length; offset += threshold) {
    const first = offset === 0;
    const end = Math.min(offset + threshold, payload.length);
    frames.push({
      fin: end === payload.length,
      rsv1: first && rsv1,
      rsv2: false,
      rsv3: false,
      opcode: first ? opcode : Opcode.Continuation,
      payload: payload.subarray(offset, end),
    });
  }
  return frames;
}

/**
 * Checks a fragmentation threshold given by the application.
 * @returns the threshold, or undefined when it is not a positive safe integer.
 */
export function isValidThreshold(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
