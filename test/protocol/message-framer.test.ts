/**
 * MessageFramer, the one place where "the first frame carries opcode and RSV, the rest are
 * continuations, FIN marks the last, no frame over the threshold" is written.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../lib/protocol/frame.js';
import {
  frameMessage,
  isValidThreshold,
  MessageFramer,
} from '../../lib/protocol/message-framer.js';
import { Opcode, Rsv } from '../../lib/protocol/opcodes.js';
import { baseSeed, mulberry32 } from '../helpers/chunking.js';
import { counting } from '../helpers/frames.js';

/** A frame's header fields and payload length, for compact comparisons. */
function shape(f: Frame): string {
  return `${f.fin ? 'F' : '-'}${f.rsv1 ? 1 : 0}${f.rsv2 ? 1 : 0}${f.rsv3 ? 1 : 0} op${f.opcode} ${f.payload.length}`;
}

describe('MessageFramer: a whole message', () => {
  it('one frame with FIN when it fits (and with no threshold)', () => {
    const payload = counting(100);
    const frames = new MessageFramer(Opcode.Text).frames(payload, true);
    expect(frames.map(shape)).toEqual(['F000 op1 100']);
    expect(frames[0]!.payload.equals(payload)).toBe(true);
  });

  it('cut at the threshold: opcode first, continuations after, FIN on the last only', () => {
    const frames = new MessageFramer(Opcode.Binary, 4).frames(counting(10), true);
    expect(frames.map(shape)).toEqual(['-000 op2 4', '-000 op0 4', 'F000 op0 2']);
    expect(Buffer.concat(frames.map((f) => f.payload)).equals(counting(10))).toBe(true);
  });

  it('an exact multiple of the threshold gives no empty frame at the end', () => {
    const frames = frameMessage(Opcode.Binary, counting(8), 4);
    expect(frames.map(shape)).toEqual(['-000 op2 4', 'F000 op0 4']);
  });

  it('RSV bits on the first frame only', () => {
    const frames = frameMessage(Opcode.Text, counting(5), 2, Rsv.Rsv1 | Rsv.Rsv3);
    expect(frames.map(shape)).toEqual(['-101 op1 2', '-000 op0 2', 'F000 op0 1']);
  });

  it('an empty message is one empty frame with FIN and the RSV bits', () => {
    expect(frameMessage(Opcode.Binary, Buffer.alloc(0), 4, Rsv.Rsv2).map(shape)).toEqual([
      'F010 op2 0',
    ]);
  });

  it('payloads are views of the message, never copies', () => {
    const payload = counting(10);
    const frames = frameMessage(Opcode.Binary, payload, 3);
    let offset = 0;
    for (const f of frames) {
      expect(f.payload.buffer).toBe(payload.buffer);
      expect(f.payload.byteOffset).toBe(payload.byteOffset + offset);
      offset += f.payload.length;
    }
  });
});

describe('MessageFramer: a message piece by piece', () => {
  it('continues across pieces; an empty final piece gives one empty frame with FIN', () => {
    const framer = new MessageFramer(Opcode.Text, 4, Rsv.Rsv1);
    expect(framer.started).toBe(false);
    expect(framer.frames(Buffer.alloc(0), false)).toEqual([]);
    expect(framer.started).toBe(false);
    expect(framer.frames(counting(6), false).map(shape)).toEqual(['-100 op1 4', '-000 op0 2']);
    expect(framer.started).toBe(true);
    expect(framer.frames(counting(3), false).map(shape)).toEqual(['-000 op0 3']);
    expect(framer.frames(Buffer.alloc(0), false)).toEqual([]);
    expect(framer.frames(Buffer.alloc(0), true).map(shape)).toEqual(['F000 op0 0']);
  });

  it('a final piece with bytes carries FIN on its last frame', () => {
    const framer = new MessageFramer(Opcode.Binary);
    framer.frames(counting(3), false);
    expect(framer.frames(counting(100_000), true).map(shape)).toEqual(['F000 op0 100000']);
  });

  it('may start a run with a continuation (a streamed frame re-cut)', () => {
    const framer = new MessageFramer(Opcode.Continuation);
    expect(framer.frames(counting(2), false).map(shape)).toEqual(['-000 op0 2']);
    expect(framer.frames(counting(2), true).map(shape)).toEqual(['F000 op0 2']);
  });
});

describe('MessageFramer: seeded random messages and cuts', () => {
  it('every frame within the threshold, one FIN at the end, the payload whole', () => {
    const seed = baseSeed(
      process.env.PROPERTY_SEED === undefined ? undefined : Number(process.env.PROPERTY_SEED),
    );
    for (let run = 0; run < 300; run++) {
      const s = (seed + run) >>> 0;
      const random = mulberry32(s);
      const where = `seed ${s} (PROPERTY_SEED=${seed})`;
      const length = Math.floor(random() * 3000);
      const threshold = 1 + Math.floor(random() * 500);
      const rsv = random() < 0.5 ? Rsv.Rsv1 : 0;
      const payload = counting(length, run);
      const framer = new MessageFramer(Opcode.Binary, threshold, rsv);
      const frames: Frame[] = [];
      let at = 0;
      while (at < length) {
        const end = Math.min(length, at + Math.floor(random() * 800));
        frames.push(...framer.frames(payload.subarray(at, end), false));
        at = end;
      }
      frames.push(...framer.frames(Buffer.alloc(0), true));
      expect(frames.length, where).toBeGreaterThan(0);
      expect(
        frames.every((f) => f.payload.length <= threshold),
        where,
      ).toBe(true);
      expect(
        frames.map((f) => f.fin),
        where,
      ).toEqual(frames.map((_, i) => i === frames.length - 1));
      expect(frames[0]!.opcode, where).toBe(Opcode.Binary);
      expect(frames[0]!.rsv1, where).toBe(rsv !== 0);
      expect(
        frames.slice(1).every((f) => f.opcode === Opcode.Continuation && !f.rsv1),
        where,
      ).toBe(true);
      expect(Buffer.concat(frames.map((f) => f.payload)).equals(payload), where).toBe(true);
    }
  });
});

describe('isValidThreshold', () => {
  it('takes positive safe integers only', () => {
    expect(isValidThreshold(1)).toBe(true);
    expect(isValidThreshold(16_384)).toBe(true);
    expect(isValidThreshold(Number.MAX_SAFE_INTEGER)).toBe(true);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '16', null, undefined]) {
      expect(isValidThreshold(bad), String(bad)).toBe(false);
    }
  });
});
