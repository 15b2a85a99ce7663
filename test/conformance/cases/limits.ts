/**
 * Group 9 (limits and performance), after Autobahn's cases 9.1-9.8, with the sizes our
 * defaults allow (maxReceivedFrameSize 16 MiB, maxReceivedMessageSize 64 MiB), plus ours:
 * the limits themselves (a frame one byte over, a message over a configured limit, lengths
 * no implementation can hold) and many tiny fragments.
 *
 * @see RFC 6455 §10.4 (limits), §7.4.1 (1009)
 */
import type { FrameSpec } from '../../helpers/frames.js';
import {
  binary,
  cont,
  echoBinary,
  echoes,
  echoText,
  fails,
  pattern,
  send,
  stars,
  text,
} from './build.js';
import type { ConformanceCase, ExpectedEvent } from './types.js';

const g = 'Limits';
const KiB = 1024;
const MiB = 1024 * KiB;

/** The message of `size` bytes as frames of `fragment` bytes. */
function fragmented(kind: 'text' | 'binary', data: Buffer, fragment: number): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (let at = 0; at < data.length; at += fragment) {
    const piece = data.subarray(at, at + fragment);
    const fin = at + fragment >= data.length;
    frames.push(
      at === 0 ? (kind === 'text' ? text(piece, fin) : binary(piece, fin)) : cont(piece, fin),
    );
  }
  return frames;
}

function bigCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const sizes = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB];
  sizes.forEach((size, i) => {
    const t = Buffer.from(stars(size));
    cases.push({
      id: `9.1.${i + 1}`,
      group: g,
      title: `text message of ${size / KiB} KiB in one frame`,
      steps: [send(text(t))],
      expect: echoes(echoText(t)),
      timeoutMs: 30_000,
    });
    const b = Buffer.alloc(size, 0xfe);
    cases.push({
      id: `9.2.${i + 1}`,
      group: g,
      title: `binary message of ${size / KiB} KiB in one frame`,
      steps: [send(binary(b))],
      expect: echoes(echoBinary(b)),
      timeoutMs: 30_000,
    });
  });
  const fragments = [64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB];
  const four = 4 * MiB;
  const t4 = Buffer.from(stars(four));
  const b4 = pattern(four);
  fragments.forEach((size, i) => {
    cases.push({
      id: `9.3.${i + 1}`,
      group: g,
      title: `text message of 4 MiB in fragments of ${size} bytes`,
      steps: [send(...fragmented('text', t4, size))],
      expect: echoes(echoText(t4)),
      timeoutMs: 30_000,
    });
    cases.push({
      id: `9.4.${i + 1}`,
      group: g,
      title: `binary message of 4 MiB in fragments of ${size} bytes`,
      steps: [send(...fragmented('binary', b4, size))],
      expect: echoes(echoBinary(b4)),
      timeoutMs: 30_000,
    });
  });
  // 9.5/9.6: one frame of 1 MiB written in chops (Autobahn: 64 B to 2 KiB; each chop one write).
  const chops = [64, 128, 256, 512, 1024, 2048];
  const t1 = Buffer.from(stars(MiB));
  const b1 = Buffer.alloc(MiB, 0xfe);
  chops.forEach((chop, i) => {
    cases.push({
      id: `9.5.${i + 1}`,
      group: g,
      title: `text message of 1 MiB in one frame, written in chops of ${chop} bytes`,
      steps: [{ send: [text(t1)], chop, batch: true }],
      expect: echoes(echoText(t1)),
      timeoutMs: 30_000,
    });
    cases.push({
      id: `9.6.${i + 1}`,
      group: g,
      title: `binary message of 1 MiB in one frame, written in chops of ${chop} bytes`,
      steps: [{ send: [binary(b1)], chop, batch: true }],
      expect: echoes(echoBinary(b1)),
      timeoutMs: 30_000,
    });
  });
  // 9.7/9.8: 1000 messages back to back, echoed in order.
  const counts = [0, 16, 64, 256, 1024, 4096];
  counts.forEach((size, i) => {
    const tm = Array.from({ length: 1000 }, () => text(stars(size)));
    const te: ExpectedEvent[] = Array.from({ length: 1000 }, () => echoText(stars(size)));
    cases.push({
      id: `9.7.${i + 1}`,
      group: g,
      title: `1000 text messages of ${size} bytes`,
      steps: [send(...tm)],
      expect: echoes(...te),
      timeoutMs: 30_000,
    });
    const bm = Array.from({ length: 1000 }, () => binary(Buffer.alloc(size, 0xfe)));
    const be: ExpectedEvent[] = Array.from({ length: 1000 }, () =>
      echoBinary(Buffer.alloc(size, 0xfe)),
    );
    cases.push({
      id: `9.8.${i + 1}`,
      group: g,
      title: `1000 binary messages of ${size} bytes`,
      steps: [send(...bm)],
      expect: echoes(...be),
      timeoutMs: 30_000,
    });
  });
  return cases;
}

/** A frame header alone, announcing `length` (64-bit form), for lengths no one can send. */
function headerOnly(length: bigint): FrameSpec {
  return { opcode: 0x2, payload: Buffer.alloc(0), lengthForm: 64, rawLength: length };
}

function limitCases(): ConformanceCase[] {
  const limited = { maxReceivedMessageSize: MiB };
  const over = Buffer.alloc(MiB + 1, 0x61);
  return [
    {
      id: '9.9.1',
      group: g,
      title: 'binary frame announcing 64 MiB + 1 byte (header only): over the default limit',
      steps: [send(headerOnly(BigInt(64 * MiB + 1)))],
      expect: fails(1009),
    },
    {
      id: '9.9.2',
      group: g,
      title: 'binary frame announcing 2^63 bytes (the most significant bit set)',
      steps: [send(headerOnly(2n ** 63n))],
      expect: fails(1002),
    },
    {
      id: '9.9.3',
      group: g,
      title: 'binary frame announcing 2^63 - 1 bytes',
      steps: [send(headerOnly(2n ** 63n - 1n))],
      expect: fails(1009),
    },
    {
      id: '9.9.4',
      group: g,
      title: 'binary frame announcing 2^53 bytes',
      steps: [send(headerOnly(2n ** 53n))],
      expect: fails(1009),
    },
    {
      id: '9.9.5',
      group: g,
      title: 'binary frame announcing 2^32 bytes',
      steps: [send(headerOnly(2n ** 32n))],
      expect: fails(1009),
    },
    {
      id: '9.9.6',
      group: g,
      title: 'message of 1 MiB + 1 byte in 4 fragments, limit 1 MiB',
      serverOptions: limited,
      clientOptions: limited,
      steps: [send(...fragmented('text', over, 300 * KiB))],
      expect: fails(1009),
      timeoutMs: 10_000,
    },
    {
      id: '9.9.7',
      group: g,
      title: 'message of exactly 1 MiB in 4 fragments, limit 1 MiB',
      serverOptions: limited,
      clientOptions: limited,
      steps: [send(...fragmented('text', over.subarray(0, MiB), 300 * KiB))],
      expect: echoes(echoText(over.subarray(0, MiB))),
      timeoutMs: 10_000,
    },
    {
      id: '9.9.8',
      group: g,
      title: 'one frame of 1 MiB + 1 byte, frame limit 1 MiB',
      serverOptions: { maxReceivedFrameSize: MiB },
      clientOptions: { maxReceivedFrameSize: MiB },
      steps: [send(binary(over))],
      expect: fails(1009),
      timeoutMs: 10_000,
    },
    {
      id: '9.9.9',
      group: g,
      title: 'text message of 64 KiB in 65536 fragments of 1 byte',
      steps: [send(...fragmented('text', Buffer.from(stars(64 * KiB)), 1))],
      expect: echoes(echoText(stars(64 * KiB))),
      timeoutMs: 30_000,
    },
  ];
}

export const limitsGroup: ConformanceCase[] = [...bigCases(), ...limitCases()];
