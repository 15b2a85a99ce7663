import { describe, expect, it } from 'vitest';
import { isControlOpcode, isKnownOpcode, Opcode, Rsv } from '../../lib/protocol/opcodes.js';

/** Opcodes 0..15 as RFC 6455 §5.2 lists them: [opcode, known, control]. */
const TABLE: [number, boolean, boolean][] = [
  [0x0, true, false], // continuation
  [0x1, true, false], // text
  [0x2, true, false], // binary
  [0x3, false, false], // reserved non-control
  [0x4, false, false],
  [0x5, false, false],
  [0x6, false, false],
  [0x7, false, false],
  [0x8, true, true], // close
  [0x9, true, true], // ping
  [0xa, true, true], // pong
  [0xb, false, true], // reserved control
  [0xc, false, true],
  [0xd, false, true],
  [0xe, false, true],
  [0xf, false, true],
];

describe('opcodes', () => {
  it.each(TABLE)('opcode %i: known %s, control %s', (opcode, known, control) => {
    expect(isKnownOpcode(opcode)).toBe(known);
    expect(isControlOpcode(opcode)).toBe(control);
  });

  it('covers all 16 values of the 4-bit field', () => {
    expect(TABLE.map(([op]) => op)).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it('names the six defined opcodes', () => {
    expect(Opcode).toEqual({
      Continuation: 0x0,
      Text: 0x1,
      Binary: 0x2,
      Close: 0x8,
      Ping: 0x9,
      Pong: 0xa,
    });
    for (const op of Object.values(Opcode)) expect(isKnownOpcode(op)).toBe(true);
  });

  it('places the reserved bits where they sit in the first header byte', () => {
    expect(Rsv).toEqual({ Rsv1: 0x40, Rsv2: 0x20, Rsv3: 0x10 });
    expect(Rsv.Rsv1 | Rsv.Rsv2 | Rsv.Rsv3 | 0x80 | 0x0f).toBe(0xff);
  });
});
