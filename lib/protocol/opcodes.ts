/**
 * Frame opcodes.
 *
 * @see RFC 6455 §5.2 (opcode), §11.8 (registry)
 */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Tells whether an opcode is one that RFC 6455 defines (the others are reserved). */
export function isKnownOpcode(opcode: number): opcode is Opcode {
  return (
    opcode === 0x0 ||
    opcode === 0x1 ||
    opcode === 0x2 ||
    opcode === 0x8 ||
    opcode === 0x9 ||
    opcode === 0xa
  );
}

/**
 * Tells whether an opcode is a control opcode: the high bit of the nibble is set.
 *
 * @see RFC 6455 §5.5
 */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Bit masks of the three reserved bits, as they sit in the first header byte. */
export const Rsv = {
  Rsv1: 0x40,
  Rsv2: 0x20,
  Rsv3: 0x10,
} as const;
