import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { FrameSerializer } from '../../lib/stream/frame-serializer.js';
import { MessageAssembler } from '../../lib/stream/message-assembler.js';
import {
  OutgoingMessageStream,
  type OutgoingMessageStreamOptions,
} from '../../lib/stream/outgoing-message-stream.js';
import { binary, cont, counting, text, view } from '../helpers/frames.js';
import { collector, eventWithin, record, runStage, settle } from '../helpers/stream-events.js';

describe('OutgoingMessageStream: one message as fragments', () => {
  interface Case {
    name: string;
    options?: OutgoingMessageStreamOptions;
    writes: (Buffer | string)[];
    frames: Frame[];
  }
  const cases: Case[] = [
    { name: 'nothing written: one empty final binary frame', writes: [], frames: [binary('')] },
    {
      name: 'nothing written, text: one empty final text frame',
      options: { binary: false },
      writes: [],
      frames: [text('')],
    },
    {
      name: 'each write a non-final fragment, end an empty final one',
      writes: [Buffer.from('ab'), Buffer.from('c')],
      frames: [binary('ab', false), cont('c', false), cont('')],
    },
    {
      name: 'a write above the threshold is cut (default 16 KiB)',
      writes: [counting(20_000)],
      frames: [binary(counting(16_384), false), cont(counting(3616, 16_384), false), cont('')],
    },
    {
      name: 'a custom threshold',
      options: { fragmentationThreshold: 3 },
      writes: [Buffer.from('abcdefg')],
      frames: [binary('abc', false), cont('def', false), cont('g', false), cont('')],
    },
    {
      name: 'fragmentOutgoingMessages: false keeps each write whole',
      options: { fragmentOutgoingMessages: false, fragmentationThreshold: 3 },
      writes: [counting(20_000), Buffer.from('x')],
      frames: [binary(counting(20_000), false), cont('x', false), cont('')],
    },
    {
      name: 'strings are written as UTF-8, a code point may straddle writes',
      options: { binary: false },
      writes: ['h€', Buffer.from([0xe2, 0x82]), Buffer.from([0xac])],
      frames: [
        text('h€', false),
        cont(Buffer.from([0xe2, 0x82]), false),
        cont(Buffer.from([0xac]), false),
        cont(''),
      ],
    },
    {
      name: 'an empty write sends no frame',
      writes: [Buffer.alloc(0), Buffer.from('z')],
      frames: [binary('z', false), cont('')],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.frames.length} 'data'`, async () => {
      const stream = new OutgoingMessageStream(c.options);
      expect(stream.opcode).toBe(c.options?.binary === false ? Opcode.Text : Opcode.Binary);
      const rec = await runStage<Frame>(stream, c.writes);
      expect(rec.data.map(view)).toEqual(c.frames.map(view));
      expect(rec.errors).toEqual([]);
      expect(rec.counts).toEqual({ end: 1, finish: 1, close: 1, drain: 0 });
    });
  }

  it('round-trips a file-like source through serializer, parser and assembler as ONE message', async () => {
    const chunks = Array.from({ length: 20 }, (_, i) => counting(7_000 + i, i));
    const sink = collector<Buffer>();
    await pipeline(
      Readable.from(chunks),
      new OutgoingMessageStream({ fragmentationThreshold: 4096 }),
      new FrameSerializer({ role: 'client' }),
      new FrameParser({ role: 'server' }),
      new MessageAssembler(),
      sink,
    );
    expect(sink.items).toHaveLength(1);
    expect(sink.items[0]!.equals(Buffer.concat(chunks))).toBe(true);
  });

  it('sends a text message whose code points straddle writes, valid as a whole', async () => {
    const whole = Buffer.from('€uro 𝄞 clef '.repeat(500));
    const pieces: Buffer[] = [];
    for (let i = 0; i < whole.length; i += 1001) pieces.push(whole.subarray(i, i + 1001));
    expect(pieces.filter((p) => !isUtf8(p)).length).toBeGreaterThan(2); // cut inside code points
    const sink = collector<string>();
    await pipeline(
      Readable.from(pieces),
      new OutgoingMessageStream({ binary: false, fragmentationThreshold: 333 }),
      new FrameSerializer({ role: 'server' }),
      new FrameParser({ role: 'client' }),
      new MessageAssembler(),
      sink,
    );
    expect(sink.items).toEqual([whole.toString()]);
  });
});

describe('OutgoingMessageStream: failures never complete the message', () => {
  it('a source error tears every stage down and no frame with FIN is sent', async () => {
    const failure = new Error('disk failed');
    async function* source() {
      yield counting(5000);
      yield counting(5000);
      throw failure;
    }
    const sender = new OutgoingMessageStream({ fragmentationThreshold: 1000 });
    const sink = collector<Frame>();
    const recs = [sender, sink].map((s) => record(s, false));
    const err = await pipeline(Readable.from(source()), sender, sink).catch((e: unknown) => e);
    await settle();
    expect(err).toBe(failure);
    expect(sink.items).toHaveLength(10);
    expect(sink.items.filter((f) => f.fin)).toEqual([]);
    expect(recs.map((r) => r.counts.close)).toEqual([1, 1]);
  });

  it('destroy() in the middle of a message: no final frame', async () => {
    const sender = new OutgoingMessageStream();
    const rec = record<Frame>(sender);
    sender.write(Buffer.from('part'));
    await settle();
    sender.destroy();
    sender.destroy();
    await rec.closed;
    await settle();
    expect(rec.data.map(view)).toEqual([view(binary('part', false))]);
    expect(rec.errors).toEqual([]);
    expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
  });

  it('destroy(err) twice: the first error, once', async () => {
    const sender = new OutgoingMessageStream();
    const rec = record<Frame>(sender);
    const first = new Error('first');
    sender.destroy(first);
    sender.destroy(new Error('second'));
    await rec.closed;
    await settle();
    expect(rec.errors).toEqual([first]);
    expect(rec.counts.close).toBe(1);
  });

  const thresholds: unknown[] = [0, -5, 0.5, Number.NaN];
  for (const threshold of thresholds) {
    it(`refuses fragmentationThreshold ${String(threshold)} at construction`, () => {
      expect(
        () => new OutgoingMessageStream({ fragmentationThreshold: threshold as number }),
      ).toThrow(InvalidArgumentError);
    });
  }
});

describe('OutgoingMessageStream: backpressure', () => {
  it('holds its write callback once 16 frames wait to be read', async () => {
    const sender = new OutgoingMessageStream();
    let called = 0;
    const returns: boolean[] = [];
    // 20,000-byte writes are 2 frames each: the 8th write fills the 16-frame readable side.
    for (let i = 0; i < 11; i++) returns.push(sender.write(counting(20_000, i), () => called++));
    await settle();
    expect(sender.readableLength).toBe(16);
    expect(called).toBe(7);
    expect(sender.writableLength).toBe(4 * 20_000);
    // Writes 1-7 were taken at once; 8-11 wait, and the 11th reaches the 64 KiB byte mark.
    expect(returns).toEqual([...Array<boolean>(10).fill(true), false]);
    const rec = record<Frame>(sender);
    await eventWithin(sender, 'drain');
    sender.end();
    await rec.closed;
    expect(called).toBe(11);
    expect(rec.data).toHaveLength(23);
    expect(rec.counts.drain).toBe(1);
  });
});
