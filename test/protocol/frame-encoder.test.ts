import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidArgumentError } from '../../lib/protocol/errors.js';
import { createFrame } from '../../lib/protocol/frame.js';
import {
  encodeFrame,
  encodeFrameHeader,
  type FrameHeaderFields,
  frameHeaderSize,
  writeFrameHeader,
} from '../../lib/protocol/frame-encoder.js';
import { Opcode } from '../../lib/protocol/opcodes.js';

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function fields(payloadLength: number, extra: Partial<FrameHeaderFields> = {}): FrameHeaderFields {
  return {
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: Opcode.Binary,
    payloadLength,
    ...extra,
  };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

describe('frameHeaderSize', () => {
  it('gives 2, 4 or 10 bytes, plus 4 when masked, switching at 126 and 65536', () => {
    const cases: [number, number][] = [
      [0, 2],
      [125, 2],
      [126, 4],
      [65_535, 4],
      [65_536, 10],
      [2 ** 32, 10],
      [Number.MAX_SAFE_INTEGER, 10],
    ];
    for (const [length, size] of cases) {
      expect(frameHeaderSize(length, false), `${length}`).toBe(size);
      expect(frameHeaderSize(length, true), `${length} masked`).toBe(size + 4);
    }
  });
});

describe('encodeFrameHeader / writeFrameHeader', () => {
  it('uses the shortest length form at each boundary', () => {
    const cases: [number, string][] = [
      [0, '8200'],
      [1, '8201'],
      [125, '827d'],
      [126, '827e007e'],
      [127, '827e007f'],
      [65_535, '827effff'],
      [65_536, '827f0000000000010000'],
      [2 ** 32, '827f0000000100000000'],
      [2 ** 32 + 5, '827f0000000100000005'],
      [Number.MAX_SAFE_INTEGER, '827f001fffffffffffff'],
    ];
    for (const [length, expected] of cases) {
      expect(hex(encodeFrameHeader(fields(length))), `${length}`).toBe(expected);
      const masked = `${expected.slice(0, 2)}${(Number.parseInt(expected.slice(2, 4), 16) | 0x80).toString(16)}${expected.slice(4)}37fa213d`;
      expect(hex(encodeFrameHeader(fields(length, { maskKey: KEY }))), `${length} masked`).toBe(
        masked,
      );
    }
  });

  it('sets fin, the RSV bits and the opcode in the first byte', () => {
    const header = encodeFrameHeader({
      fin: false,
      rsv1: true,
      rsv2: true,
      rsv3: true,
      opcode: 0x0,
      payloadLength: 3,
    });
    expect(hex(header)).toBe('7003');
    expect(hex(encodeFrameHeader(fields(0, { opcode: 0x3, rsv2: true })))).toBe('a300');
    expect(hex(encodeFrameHeader(fields(0, { opcode: Opcode.Ping, rsv1: true })))).toBe('c900');
  });

  it('writes at an offset and returns the offset after the header', () => {
    const target = Buffer.alloc(20, 0xee);
    expect(writeFrameHeader(target, 3, fields(300, { maskKey: KEY }))).toBe(3 + 8);
    expect(hex(target.subarray(0, 12))).toBe('eeeeee82fe012c37fa213dee');
  });

  it('throws InvalidArgumentError for invalid fields', () => {
    const bad: FrameHeaderFields[] = [
      fields(-1),
      fields(1.5),
      fields(Number.NaN),
      fields(Number.POSITIVE_INFINITY),
      fields(2 ** 53),
      fields(0, { opcode: 16 }),
      fields(0, { opcode: -1 }),
      fields(0, { opcode: 1.5 }),
      fields(126, { opcode: Opcode.Ping }),
      fields(126, { opcode: Opcode.Close }),
      fields(0, { opcode: Opcode.Pong, fin: false }),
      fields(0, { opcode: 0xf, fin: false }),
      fields(0, { maskKey: Buffer.alloc(3) }),
      fields(0, { maskKey: Buffer.alloc(5) }),
    ];
    for (const f of bad) {
      const what = JSON.stringify(f);
      expect(() => encodeFrameHeader(f), what).toThrow(InvalidArgumentError);
      expect(() => writeFrameHeader(Buffer.alloc(20), 0, f), what).toThrow(InvalidArgumentError);
    }
    expect(() => encodeFrameHeader(fields(-1))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, closeCode: undefined }),
    );
  });

  it('accepts a control frame of exactly 125 bytes', () => {
    expect(hex(encodeFrameHeader(fields(125, { opcode: Opcode.Close })))).toBe('887d');
  });

  it('throws InvalidArgumentError when the target is too small or the offset invalid', () => {
    expect(() => writeFrameHeader(Buffer.alloc(3), 0, fields(126))).toThrow(InvalidArgumentError);
    expect(() => writeFrameHeader(Buffer.alloc(10), 7, fields(0, { maskKey: KEY }))).toThrow(
      InvalidArgumentError,
    );
    expect(() => writeFrameHeader(Buffer.alloc(10), -1, fields(0))).toThrow(InvalidArgumentError);
    expect(() => writeFrameHeader(Buffer.alloc(10), 0.5, fields(0))).toThrow(InvalidArgumentError);
  });
});

describe('encodeFrame', () => {
  it('encodes the RFC 6455 §5.7 examples', () => {
    const hello = Buffer.from('Hello');
    expect(hex(Buffer.concat(encodeFrame(createFrame(Opcode.Text, hello))))).toBe('810548656c6c6f');
    expect(hex(Buffer.concat(encodeFrame(createFrame(Opcode.Text, hello), KEY)))).toBe(
      '818537fa213d7f9f4d5158',
    );
    expect(
      hex(Buffer.concat(encodeFrame(createFrame(Opcode.Text, Buffer.from('Hel'), false)))),
    ).toBe('010348656c');
    expect(
      hex(Buffer.concat(encodeFrame(createFrame(Opcode.Continuation, Buffer.from('lo'))))),
    ).toBe('80026c6f');
    expect(hex(Buffer.concat(encodeFrame(createFrame(Opcode.Ping, hello))))).toBe('890548656c6c6f');
    expect(hex(Buffer.concat(encodeFrame(createFrame(Opcode.Pong, hello), KEY)))).toBe(
      '8a8537fa213d7f9f4d5158',
    );
    const b256 = Buffer.alloc(256, 7);
    const e256 = Buffer.concat(encodeFrame(createFrame(Opcode.Binary, b256)));
    expect(hex(e256.subarray(0, 4))).toBe('827e0100');
    expect(e256.length).toBe(260);
    const b64k = Buffer.alloc(65_536, 9);
    const e64k = Buffer.concat(encodeFrame(createFrame(Opcode.Binary, b64k)));
    expect(hex(e64k.subarray(0, 10))).toBe('827f0000000000010000');
    expect(e64k.length).toBe(65_546);
  });

  it('returns [header, payload] without copying an unmasked payload', () => {
    const payload = Buffer.from('abc');
    const out = encodeFrame(createFrame(Opcode.Binary, payload));
    expect(out).toHaveLength(2);
    expect(out[1]).toBe(payload);
    const empty = encodeFrame(createFrame(Opcode.Binary, Buffer.alloc(0)));
    expect(empty).toHaveLength(2);
    expect(hex(empty[0]!)).toBe('8200');
  });

  it('returns one Buffer when masked and never modifies the payload', () => {
    for (const length of [0, 1, 5, 125, 126, 127, 1000, 65_535, 65_536, 100_003]) {
      for (let shift = 0; shift < 4; shift++) {
        const backing = Buffer.alloc(length + 8);
        for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 7) & 0xff;
        const payload = backing.subarray(shift, shift + length);
        const pristine = Buffer.from(payload);
        const out = encodeFrame(createFrame(Opcode.Binary, payload), KEY);
        expect(out).toHaveLength(1);
        const frame = out[0]!;
        const headerSize = frameHeaderSize(length, true);
        expect(frame.length).toBe(headerSize + length);
        expect(payload.equals(pristine)).toBe(true);
        const body = frame.subarray(headerSize);
        for (let i = 0; i < length; i++) {
          if (body[i] !== (pristine[i]! ^ KEY[i & 3]!)) {
            throw new Error(`length ${length} shift ${shift}: byte ${i} wrong`);
          }
        }
        expect(hex(frame.subarray(headerSize - 4, headerSize))).toBe('37fa213d');
      }
    }
  });

  it('throws InvalidArgumentError for a control frame that is too long or not final', () => {
    expect(() => encodeFrame(createFrame(Opcode.Ping, Buffer.alloc(126)))).toThrow(
      InvalidArgumentError,
    );
    expect(() => encodeFrame(createFrame(Opcode.Ping, Buffer.alloc(126)), KEY)).toThrow(
      InvalidArgumentError,
    );
    expect(() => encodeFrame(createFrame(Opcode.Close, Buffer.alloc(2), false))).toThrow(
      InvalidArgumentError,
    );
    expect(() => encodeFrame(createFrame(Opcode.Text, Buffer.alloc(2)), Buffer.alloc(2))).toThrow(
      InvalidArgumentError,
    );
  });
});
