import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ErrorCode, ProtocolError, type WebSocketError } from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { FrameSerializer } from '../../lib/stream/frame-serializer.js';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  type Message,
  MessageAssembler,
  type MessageAssemblerOptions,
} from '../../lib/stream/message-assembler.js';
import {
  binary,
  close,
  cont,
  counting,
  encodeFrames,
  frame,
  isFrame,
  ping,
  pong,
  RFC_KEY,
  text,
  view,
} from '../helpers/frames.js';
import { collector, eventWithin, record, runStage, settle } from '../helpers/stream-events.js';

type Out = Message | Frame;

/** A comparable form of what the assembler hands out. */
function show(item: unknown): unknown {
  if (typeof item === 'string') return { text: item };
  if (Buffer.isBuffer(item)) return { binary: item.toString('hex') };
  if (isFrame(item)) return { frame: view(item) };
  return { other: item };
}

const euro = Buffer.from('€'); // e2 82 ac
const bad = Buffer.from([0x61, 0xff, 0x62]);

describe('MessageAssembler: messages', () => {
  interface Case {
    name: string;
    frames: Frame[];
    out: Out[];
    options?: MessageAssemblerOptions;
  }
  const cases: Case[] = [
    { name: 'one text frame', frames: [text('Hello')], out: ['Hello'] },
    { name: 'one binary frame', frames: [binary(counting(10))], out: [counting(10)] },
    {
      name: 'empty text and empty binary',
      frames: [text(''), binary('')],
      out: ['', Buffer.alloc(0)],
    },
    {
      name: 'RFC 6455 §5.7 fragmented text',
      frames: [text('Hel', false), cont('lo')],
      out: ['Hello'],
    },
    {
      name: 'a code point split over three fragments',
      frames: [
        text(euro.subarray(0, 1), false),
        cont(euro.subarray(1, 2), false),
        cont(euro.subarray(2)),
      ],
      out: ['€'],
    },
    {
      name: 'empty fragments anywhere',
      frames: [binary('', false), cont('ab', false), cont('', false), cont('c', false), cont('')],
      out: [Buffer.from('abc')],
    },
    {
      name: 'control frames between fragments come out first, as Frames',
      frames: [text('a', false), ping('1'), cont('b', false), pong('2'), cont('c')],
      out: [ping('1'), pong('2'), 'abc'],
    },
    {
      name: 'a close frame is passed on in place',
      frames: [binary('x'), close(Buffer.from([0x03, 0xe8])), text('after')],
      out: [Buffer.from('x'), close(Buffer.from([0x03, 0xe8])), 'after'],
    },
    {
      name: 'messages in a row, fragmented and not',
      frames: [text('1'), binary('2', false), cont('3'), text('4', false), cont('5'), binary('6')],
      out: ['1', Buffer.from('23'), '45', Buffer.from('6')],
    },
    {
      name: 'tiny and large fragments alternating (copied blocks and kept views)',
      frames: [
        binary(counting(1), false),
        cont(counting(2000, 1), false),
        cont(counting(1, 2001), false),
        cont(counting(3000, 2002), false),
        cont(counting(700, 5002)),
      ],
      out: [counting(5702)],
    },
    {
      name: 'a message of exactly maxMessageSize in one frame',
      options: { maxMessageSize: 4096 },
      frames: [binary(counting(4096))],
      out: [counting(4096)],
    },
    {
      name: 'a message of exactly maxMessageSize in 64-byte fragments (copied, no per-piece cost)',
      options: { maxMessageSize: 4096 },
      frames: Array.from({ length: 64 }, (_, i) =>
        i === 0 ? binary(counting(64), false) : cont(counting(64, i * 64), i === 63),
      ),
      out: [counting(4096)],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.out.length} 'data'`, async () => {
      const rec = await runStage(new MessageAssembler(c.options), c.frames);
      expect(rec.data.map(show)).toEqual(c.out.map(show));
      expect(rec.errors).toEqual([]);
      expect(rec.counts).toEqual({ end: 1, finish: 1, close: 1, drain: rec.counts.drain });
    });
  }

  it('hands a single-frame binary message on without copying it', async () => {
    const payload = counting(100);
    const rec = await runStage(new MessageAssembler(), [binary(payload)]);
    expect(rec.data).toHaveLength(1);
    expect(rec.data[0]).toBe(payload);
  });

  it('passes a 4 MiB message in 65,536 fragments of 64 bytes with the default limit', async () => {
    const whole = counting(4 * 1024 * 1024);
    const frames = Array.from({ length: 65_536 }, (_, i) => {
      const piece = whole.subarray(i * 64, (i + 1) * 64);
      return i === 0 ? binary(piece, false) : cont(piece, i === 65_535);
    });
    expect(DEFAULT_MAX_MESSAGE_SIZE).toBeGreaterThan(whole.length);
    const rec = await runStage<Buffer>(new MessageAssembler({ highWaterMark: 1024 }), frames);
    expect(rec.errors).toEqual([]);
    expect(rec.data).toHaveLength(1);
    expect(rec.data[0]!.equals(whole)).toBe(true);
  });

  it('passes 100,000 empty fragments (no cost per fragment kept)', async () => {
    const frames: Frame[] = [text('x', false)];
    for (let i = 0; i < 100_000; i++) frames.push(cont('', false));
    frames.push(cont('y'));
    const rec = await runStage(new MessageAssembler({ maxMessageSize: 2 }), frames);
    expect(rec.errors).toEqual([]);
    expect(rec.data).toEqual(['xy']);
  });

  it('drops a message cut off by the end of the frames, without an error', async () => {
    const rec = await runStage(new MessageAssembler(), [
      text('done'),
      binary('cut', false),
      cont('off', false),
    ]);
    expect(rec.data).toEqual(['done']);
    expect(rec.errors).toEqual([]);
    expect(rec.counts).toMatchObject({ end: 1, finish: 1, close: 1 });
  });
});

interface ErrorCase {
  name: string;
  frames: Frame[];
  options?: MessageAssemblerOptions;
  code: ErrorCode;
  closeCode: number | undefined;
  /** Messages and control frames handed out before the failure. */
  before: number;
}

const errorCases: ErrorCase[] = [
  {
    name: 'a continuation without a message',
    frames: [cont('x')],
    code: ErrorCode.UnexpectedContinuation,
    closeCode: 1002,
    before: 0,
  },
  {
    name: 'a continuation after a complete message',
    frames: [text('a'), cont('x')],
    code: ErrorCode.UnexpectedContinuation,
    closeCode: 1002,
    before: 1,
  },
  {
    name: 'a text frame inside a fragmented message',
    frames: [text('a', false), ping(), text('b')],
    code: ErrorCode.ExpectedContinuation,
    closeCode: 1002,
    before: 1,
  },
  {
    name: 'a binary frame inside a fragmented message',
    frames: [binary('a', false), binary('b', false)],
    code: ErrorCode.ExpectedContinuation,
    closeCode: 1002,
    before: 0,
  },
  {
    name: 'invalid UTF-8 in a one-frame text message',
    frames: [text(bad)],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    before: 0,
  },
  {
    name: 'invalid UTF-8 in the first fragment fails before the message ends',
    frames: [text('ok'), text(bad, false)],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    before: 1,
  },
  {
    name: 'an overlong encoding split over two fragments',
    frames: [text(Buffer.from([0xc0]), false), cont(Buffer.from([0xaf]), false)],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    before: 0,
  },
  {
    name: 'a UTF-16 surrogate',
    frames: [text(Buffer.from([0xed, 0xa0, 0x80]))],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    before: 0,
  },
  {
    name: 'a text message ending inside a code point',
    frames: [text(euro.subarray(0, 2), false), cont('')],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    before: 0,
  },
  {
    name: 'a one-frame message above maxMessageSize',
    options: { maxMessageSize: 100 },
    frames: [binary(counting(100)), binary(counting(101))],
    code: ErrorCode.MessageTooLarge,
    closeCode: CloseCode.MessageTooBig,
    before: 1,
  },
  {
    name: 'fragments that add up above maxMessageSize, failing before the last',
    options: { maxMessageSize: 100 },
    frames: [text('a'.repeat(60), false), cont('b'.repeat(41), false)],
    code: ErrorCode.MessageTooLarge,
    closeCode: CloseCode.MessageTooBig,
    before: 0,
  },
];

describe('MessageAssembler: errors, written directly', () => {
  const direct: ErrorCase[] = [
    ...errorCases,
    {
      name: 'a reserved data opcode',
      frames: [frame(3, 'x')],
      code: ErrorCode.InvalidOpcode,
      closeCode: 1002,
      before: 0,
    },
  ];
  for (const c of direct) {
    it(`${c.name}: ${c.code} (${c.closeCode}), one 'error', one 'close'`, async () => {
      const assembler = new MessageAssembler(c.options);
      const rec = record(assembler);
      // Not ended: the failure must come from the frames themselves, not from the end.
      for (const f of c.frames) assembler.write(f);
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(1);
      const err = rec.errors[0] as ProtocolError;
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err.code).toBe(c.code);
      expect(err.closeCode).toBe(c.closeCode);
      expect(rec.data).toHaveLength(c.before);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
    });
  }

  const misuse: { name: string; input: unknown }[] = [
    { name: 'a string', input: 'text' },
    { name: 'a Buffer', input: Buffer.from('x') },
    { name: 'an object without a payload', input: { opcode: Opcode.Text, fin: true } },
  ];
  for (const c of misuse) {
    it(`${c.name} instead of a Frame: a TypeError (ERR_INVALID_ARG_TYPE), no close code`, async () => {
      const assembler = new MessageAssembler();
      const rec = record(assembler);
      assembler.write(c.input);
      await rec.closed;
      expect(rec.errors).toHaveLength(1);
      expect(rec.errors[0]).toBeInstanceOf(TypeError);
      expect((rec.errors[0] as TypeError & { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
      expect((rec.errors[0] as WebSocketError).closeCode).toBeUndefined();
      expect(rec.counts.close).toBe(1);
    });
  }
});

describe('MessageAssembler: errors through a real pipeline (bytes -> parser -> assembler -> sink)', () => {
  for (const c of errorCases) {
    for (const chunkSize of [Number.POSITIVE_INFINITY, 1, 7]) {
      it(`${c.name} (chunks of ${chunkSize}): rejects with ${c.code}, every stage torn down once`, async () => {
        const wire = encodeFrames(c.frames, RFC_KEY);
        const chunks: Buffer[] = [];
        for (let i = 0; i < wire.length; i += Math.min(chunkSize, wire.length)) {
          chunks.push(Buffer.from(wire.subarray(i, i + chunkSize)));
        }
        const source = Readable.from(chunks);
        const parser = new FrameParser({ role: 'server' });
        const assembler = new MessageAssembler(c.options);
        const sink = collector<Out>();
        const stages = [source, parser, assembler, sink];
        const recs = stages.map((s) => record(s, false));
        const err = await pipeline(source, parser, assembler, sink).then(
          () => new Error('the pipeline did not fail'),
          (e: unknown) => e,
        );
        await settle();
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).code).toBe(c.code);
        expect((err as ProtocolError).closeCode).toBe(c.closeCode);
        expect(recs[2]!.errors).toEqual([err]);
        expect(recs.map((r) => r.counts.close)).toEqual([1, 1, 1, 1]);
        expect(stages.every((s) => s.destroyed)).toBe(true);
        expect(sink.items).toHaveLength(c.before);
      });
    }
  }

  it('reports the first error; the stage that would fail later gets that same error', async () => {
    // The assembler fails on the bad UTF-8; the reserved opcode comes 20 ms later and is
    // never parsed: the pipeline has destroyed the parser with the first error by then.
    async function* slowly() {
      yield encodeFrames([text(bad)], RFC_KEY);
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield Buffer.from([0x83, 0x80, 0, 0, 0, 0]);
    }
    const parser = new FrameParser({ role: 'server' });
    const assembler = new MessageAssembler();
    const recs = [parser, assembler].map((s) => record(s, false));
    const err = await pipeline(Readable.from(slowly()), parser, assembler, collector()).catch(
      (e: unknown) => e,
    );
    await settle();
    expect((err as ProtocolError).code).toBe(ErrorCode.InvalidUtf8);
    // pipeline() destroys the other stages with that same error: one 'error' each, the same object.
    expect(recs.map((r) => r.errors.length)).toEqual([1, 1]);
    expect(recs.every((r) => r.errors[0] === err)).toBe(true);
  });

  it('reports the parser error when the parser fails first', async () => {
    const wire = Buffer.concat([
      encodeFrames([text('ok'), text('a', false)], RFC_KEY),
      Buffer.from([0x83, 0x80, 0, 0, 0, 0]),
    ]);
    const parser = new FrameParser({ role: 'server' });
    const assembler = new MessageAssembler();
    const sink = collector<Out>();
    const recs = [parser, assembler].map((s) => record(s, false));
    const err = await pipeline(Readable.from([wire]), parser, assembler, sink).catch(
      (e: unknown) => e,
    );
    await settle();
    expect((err as ProtocolError).code).toBe(ErrorCode.InvalidOpcode);
    expect(recs.map((r) => r.errors.length)).toEqual([1, 1]);
    expect(recs.every((r) => r.errors[0] === err)).toBe(true);
    expect(sink.items).toEqual(['ok']);
  });

  it("reports the consumer's error and tears the stages down", async () => {
    const wire = encodeFrames([text('1'), text('2'), text('3')], RFC_KEY);
    const parser = new FrameParser({ role: 'server' });
    const assembler = new MessageAssembler();
    const failure = new Error('consumer gave up');
    let writes = 0;
    const sink = new Writable({
      objectMode: true,
      write(_chunk, _encoding, callback) {
        writes++;
        callback(writes === 2 ? failure : null);
      },
    });
    const recs = [parser, assembler].map((s) => record(s, false));
    const err = await pipeline(Readable.from([wire]), parser, assembler, sink).catch(
      (e: unknown) => e,
    );
    await settle();
    expect(err).toBe(failure);
    expect(writes).toBe(2);
    expect(recs.map((r) => r.counts.close)).toEqual([1, 1]);
  });
});

describe('MessageAssembler: destroy', () => {
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
    {
      name: 'with an error, then without',
      first: new Error('first'),
      second: undefined,
      errors: 1,
    },
  ];
  for (const c of cases) {
    it(`${c.name}, in the middle of a message`, async () => {
      const assembler = new MessageAssembler();
      const rec = record(assembler);
      assembler.write(text('half', false));
      await settle();
      assembler.destroy(c.first);
      assembler.destroy(c.second);
      await rec.closed;
      await settle();
      expect(rec.errors).toHaveLength(c.errors);
      if (c.errors === 1) expect(rec.errors[0]).toBe(c.first);
      expect(rec.data).toEqual([]);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
    });
  }
});

describe('MessageAssembler: backpressure', () => {
  it('holds its write callback while its readable side is full', async () => {
    const assembler = new MessageAssembler({ highWaterMark: 2 });
    let called = 0;
    const returns: boolean[] = [];
    for (let i = 0; i < 10; i++) returns.push(assembler.write(text(`${i}`), () => called++));
    await settle();
    // The first write is done at once; the second is held, and counts until its callback.
    expect(returns).toEqual([true, true, ...Array<boolean>(8).fill(false)]);
    expect(called).toBe(1); // the second message filled the readable side: its callback waits
    expect(assembler.readableLength).toBe(2);
    expect(assembler.writableLength).toBe(9);
    const rec = record<string>(assembler);
    await eventWithin(assembler, 'drain');
    assembler.end();
    await rec.closed;
    expect(called).toBe(10);
    expect(rec.data).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(rec.counts.drain).toBe(1);
  });
});

describe('serializer -> parser -> assembler: a slow consumer stops the producer', () => {
  interface Flow {
    name: string;
    /** One message as the frames the producer writes. */
    message: (i: number) => Frame[];
    bytes: number;
  }
  const flows: Flow[] = [
    {
      name: '1000-byte one-frame messages',
      message: (i) => [binary(counting(1000, i))],
      bytes: 1000,
    },
    {
      name: '64 KiB messages in four 16 KiB fragments',
      message: (i) =>
        [0, 1, 2, 3].map((k) => {
          const piece = counting(16 * 1024, i + k);
          return k === 0 ? binary(piece, false) : cont(piece, k === 3);
        }),
      bytes: 64 * 1024,
    },
  ];
  for (const flow of flows) {
    it(flow.name, async () => {
      const serializer = new FrameSerializer({ role: 'client' });
      const parser = new FrameParser({ role: 'server' });
      const assembler = new MessageAssembler();
      serializer.pipe(parser as unknown as NodeJS.WritableStream);
      parser.pipe(assembler as unknown as NodeJS.WritableStream);
      const limit = 3000;
      let produced = 0;
      let blocked = false;
      const produce = () => {
        blocked = false;
        while (produced < limit) {
          let room = true;
          for (const f of flow.message(produced)) room = serializer.write(f);
          produced++;
          if (!room) {
            blocked = true;
            serializer.once('drain', produce);
            return;
          }
        }
        serializer.end();
      };
      produce();
      await settle(20);
      // Nobody reads: the producer is stopped after a bounded number of messages.
      const stoppedAt = produced;
      expect(blocked).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(produced).toBe(stoppedAt);
      // The bound: the high-water marks of the six sides, in messages (16 frames or 16 KiB each).
      const bound = 16 * 4 + Math.ceil((2 * 16 * 1024) / flow.bytes) + 8;
      expect(stoppedAt).toBeLessThanOrEqual(bound);

      // A slow consumer: one message per turn of the event loop. What is in flight stays bounded.
      let consumed = 0;
      let maxInFlight = 0;
      for await (const message of assembler) {
        const expected = Buffer.concat(flow.message(consumed).map((f) => f.payload));
        if (!(message as Buffer).equals(expected)) throw new Error(`message ${consumed} differs`);
        consumed++;
        maxInFlight = Math.max(maxInFlight, produced - consumed);
        await settle(1);
      }
      expect(consumed).toBe(limit);
      expect(maxInFlight).toBeLessThanOrEqual(bound);
    });
  }
});

describe('MessageAssembler: the limit counts payload, whatever the fragmentation', () => {
  it('passes 2,990 bytes in two fragments under a 3,000-byte limit', async () => {
    const assembler = new MessageAssembler({ maxMessageSize: 3000 });
    assembler.write(binary(counting(1500), false));
    assembler.write(cont(counting(1490), true));
    const message = assembler.read() as Buffer;
    expect(message.length).toBe(2990);
  });
});

describe('MessageAssembler: memory held by fragments', () => {
  it('does not let a 1 KiB fragment pin the 64 KiB chunk it is a view of', () => {
    const assembler = new MessageAssembler();
    const chunk = Buffer.alloc(64 * 1024, 7);
    assembler.write(binary(chunk.subarray(0, 1024), false));
    assembler.write(cont(chunk.subarray(1024, 2048), true));
    const message = assembler.read() as Buffer;
    expect(message.length).toBe(2048);
    expect(message.buffer.byteLength).toBeLessThan(64 * 1024);
  });
});
