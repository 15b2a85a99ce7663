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
  MessageFragmenter,
  type MessageFragmenterOptions,
} from '../../lib/stream/message-fragmenter.js';
import { binary, cont, counting, text, view } from '../helpers/frames.js';
import { collector, eventWithin, record, runStage, settle } from '../helpers/stream-events.js';

describe('MessageFragmenter: frames of each message', () => {
  interface Case {
    name: string;
    options?: MessageFragmenterOptions;
    message: string | Uint8Array;
    frames: Frame[];
  }
  const big = counting(40_000);
  const cases: Case[] = [
    { name: 'a string is one text frame', message: 'hello', frames: [text('hello')] },
    { name: 'an empty string is one empty text frame', message: '', frames: [text('')] },
    {
      name: 'an empty Buffer is one empty binary frame',
      message: Buffer.alloc(0),
      frames: [binary('')],
    },
    {
      name: 'a Uint8Array is binary',
      message: new Uint8Array([1, 2, 3]),
      frames: [binary(Buffer.from([1, 2, 3]))],
    },
    {
      name: 'a Uint8Array view with an offset',
      message: new Uint8Array(new Uint8Array(counting(10)).buffer, 3, 4),
      frames: [binary(Buffer.from([3, 4, 5, 6]))],
    },
    {
      name: 'exactly the default threshold (16 KiB) is one frame',
      message: counting(16_384),
      frames: [binary(counting(16_384))],
    },
    {
      name: 'one byte over the default threshold is two frames',
      message: counting(16_385),
      frames: [binary(counting(16_384), false), cont(counting(1, 16_384))],
    },
    {
      name: 'threshold 4 cuts 10 bytes of text into 4 + 4 + 2',
      options: { fragmentationThreshold: 4 },
      message: 'abcdefghij',
      frames: [text('abcd', false), cont('efgh', false), cont('ij')],
    },
    {
      name: 'text is cut at bytes, even inside a code point',
      options: { fragmentationThreshold: 2 },
      message: '€€',
      frames: [
        text(Buffer.from([0xe2, 0x82]), false),
        cont(Buffer.from([0xac, 0xe2]), false),
        cont(Buffer.from([0x82, 0xac])),
      ],
    },
    {
      name: 'a multiple of the threshold: no empty last frame',
      options: { fragmentationThreshold: 20_000 },
      message: big,
      frames: [binary(big.subarray(0, 20_000), false), cont(big.subarray(20_000))],
    },
    {
      name: 'fragmentOutgoingMessages: false keeps any message whole',
      options: { fragmentOutgoingMessages: false, fragmentationThreshold: 10 },
      message: big,
      frames: [binary(big)],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.frames.length} 'data'`, async () => {
      const rec = await runStage<Frame>(new MessageFragmenter(c.options), [c.message]);
      expect(rec.data.map(view)).toEqual(c.frames.map(view));
      expect(rec.errors).toEqual([]);
      expect(rec.counts).toEqual({ end: 1, finish: 1, close: 1, drain: 0 });
    });
  }

  it('cuts views of the message, not copies', async () => {
    const message = counting(50_000);
    const rec = await runStage<Frame>(new MessageFragmenter(), [message]);
    expect(rec.data).toHaveLength(4);
    for (const f of rec.data) expect(f.payload.buffer).toBe(message.buffer);
  });

  it('keeps message boundaries: one write is one message', async () => {
    const rec = await runStage<Frame>(new MessageFragmenter({ fragmentationThreshold: 3 }), [
      'abcd',
      Buffer.from('efg'),
      '',
      'hi',
    ]);
    expect(rec.data.map(view)).toEqual(
      [text('abc', false), cont('d'), binary('efg'), text(''), text('hi')].map(view),
    );
  });

  it('round-trips through serializer, parser and assembler', async () => {
    const messages = [
      '',
      'x',
      '€'.repeat(10_000),
      counting(0),
      counting(16_385),
      counting(100_000),
    ];
    const sink = collector<string | Buffer>();
    await pipeline(
      Readable.from(messages),
      new MessageFragmenter({ fragmentationThreshold: 1000 }),
      new FrameSerializer({ role: 'client' }),
      new FrameParser({ role: 'server' }),
      new MessageAssembler(),
      sink,
    );
    expect(sink.items).toEqual(messages);
  });
});

describe('MessageFragmenter: invalid input and options', () => {
  const inputs: { name: string; input: unknown }[] = [
    { name: 'a number', input: 42 },
    { name: 'a plain object', input: { data: 'x' } },
    { name: 'an array of bytes', input: [1, 2, 3] },
  ];
  for (const c of inputs) {
    it(`${c.name}: a TypeError, one 'error', one 'close', the messages before it sent`, async () => {
      const fragmenter = new MessageFragmenter();
      const rec = record<Frame>(fragmenter);
      fragmenter.write('before');
      fragmenter.write(c.input);
      fragmenter.write('after');
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(1);
      expect(rec.errors[0]).toBeInstanceOf(TypeError);
      expect((rec.errors[0] as TypeError & { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(rec.data.map(view)).toEqual([view(text('before'))]);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
    });
  }

  it('takes an ArrayBuffer, a DataView and other typed arrays as binary messages, viewed', async () => {
    const fragmenter = new MessageFragmenter();
    const rec = record<Frame>(fragmenter);
    const bytes = new Uint16Array([0x0201, 0x0403]);
    fragmenter.write(bytes.buffer);
    fragmenter.write(new DataView(bytes.buffer, 1, 2));
    fragmenter.write(bytes);
    fragmenter.end();
    await rec.closed;
    expect(rec.errors).toEqual([]);
    expect(rec.data.map((f) => [f.opcode, [...f.payload]])).toEqual([
      [Opcode.Binary, [1, 2, 3, 4]],
      [Opcode.Binary, [2, 3]],
      [Opcode.Binary, [1, 2, 3, 4]],
    ]);
  });

  const thresholds: unknown[] = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '16', 2 ** 53];
  for (const threshold of thresholds) {
    it(`refuses fragmentationThreshold ${String(threshold)} at construction`, () => {
      expect(() => new MessageFragmenter({ fragmentationThreshold: threshold as number })).toThrow(
        InvalidArgumentError,
      );
    });
  }

  it('fails a pipeline with the same error and tears every stage down', async () => {
    const source = Readable.from(['ok', 7, 'never']);
    const fragmenter = new MessageFragmenter();
    const serializer = new FrameSerializer({ role: 'server' });
    const sink = collector<Buffer>();
    const stages = [source, fragmenter, serializer, sink];
    const recs = stages.map((s) => record(s, false));
    const err = await pipeline(source, fragmenter, serializer, sink).catch((e: unknown) => e);
    await settle();
    expect(err).toBeInstanceOf(TypeError);
    expect(recs.map((r) => r.counts.close)).toEqual([1, 1, 1, 1]);
    expect(recs[1]!.errors).toEqual([err]);
    expect(Buffer.concat(sink.items).toString('hex')).toBe('81026f6b');
  });
});

describe('MessageFragmenter: destroy', () => {
  const cases: {
    name: string;
    first: Error | undefined;
    second: Error | undefined;
    errors: number;
  }[] = [
    { name: 'twice without an error', first: undefined, second: undefined, errors: 0 },
    {
      name: 'twice with errors: the first one is emitted',
      first: new Error('first'),
      second: new Error('second'),
      errors: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const fragmenter = new MessageFragmenter();
      const rec = record(fragmenter);
      fragmenter.destroy(c.first);
      fragmenter.destroy(c.second);
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(c.errors);
      if (c.errors === 1) expect(rec.errors[0]).toBe(c.first);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
    });
  }
});

describe('MessageFragmenter: backpressure', () => {
  it('holds its write callback while its readable side is full', async () => {
    const fragmenter = new MessageFragmenter({ highWaterMark: 4, fragmentationThreshold: 100 });
    let called = 0;
    const returns: boolean[] = [];
    // Each message is 3 frames: the second message fills the readable side (6 >= 4).
    for (let i = 0; i < 6; i++) returns.push(fragmenter.write(counting(300, i), () => called++));
    await settle();
    expect(called).toBe(1);
    expect(fragmenter.readableLength).toBe(6);
    expect(fragmenter.writableLength).toBe(5);
    expect(returns).toEqual([true, true, true, true, false, false]);
    const rec = record<Frame>(fragmenter);
    await eventWithin(fragmenter, 'drain');
    fragmenter.end();
    await rec.closed;
    expect(called).toBe(6);
    expect(rec.data).toHaveLength(18);
  });

  it('frames a large message all at once: its frames are views, the memory is the message', async () => {
    const fragmenter = new MessageFragmenter({ highWaterMark: 1, fragmentationThreshold: 1024 });
    const message = counting(1024 * 1024);
    let called = 0;
    fragmenter.write(message, () => called++);
    await settle();
    expect(fragmenter.readableLength).toBe(1024);
    expect(called).toBe(0);
    const frames: Frame[] = [];
    for (
      let f = fragmenter.read() as Frame | null;
      f !== null;
      f = fragmenter.read() as Frame | null
    )
      frames.push(f);
    expect(frames).toHaveLength(1024);
    expect(frames.every((f) => f.payload.buffer === message.buffer)).toBe(true);
    await settle();
    expect(called).toBe(1);
  });
});
