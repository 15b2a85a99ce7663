import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'readable-stream';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ErrorCode, ProtocolError } from '../../lib/protocol/errors.js';
import type { Frame } from '../../lib/protocol/frame.js';
import { FrameParser } from '../../lib/stream/frame-parser.js';
import { IncomingMessageStream } from '../../lib/stream/incoming-message-stream.js';
import { MessageStreamer, type MessageStreamerOptions } from '../../lib/stream/message-streamer.js';
import {
  binary,
  cont,
  counting,
  encodeFrames,
  isFrame,
  ping,
  pong,
  RFC_KEY,
  text,
  view,
} from '../helpers/frames.js';
import { type Recording, record, settle } from '../helpers/stream-events.js';

/** What one message stream gave: its type, its chunks and its events. */
interface ReadMessage {
  stream: IncomingMessageStream;
  rec: Recording<Buffer>;
}

/** Writes frames to a fresh streamer, reads every message stream as it comes, and ends. */
async function stream(
  frames: readonly Frame[],
  options?: MessageStreamerOptions,
  end = true,
): Promise<{ rec: Recording; messages: ReadMessage[]; order: unknown[] }> {
  const streamer = new MessageStreamer(options);
  const rec = record(streamer);
  const messages: ReadMessage[] = [];
  const order: unknown[] = [];
  streamer.on('data', (item: unknown) => {
    if (item instanceof IncomingMessageStream) {
      messages.push({ stream: item, rec: record<Buffer>(item) });
      order.push(item.type);
    } else if (isFrame(item)) {
      order.push(view(item));
    } else {
      order.push({ unexpected: item });
    }
  });
  for (const f of frames) streamer.write(f);
  if (end) streamer.end();
  await rec.closed;
  await Promise.all(messages.map((m) => m.rec.closed));
  await settle();
  return { rec, messages, order };
}

describe('MessageStreamer: one Readable per message', () => {
  interface Case {
    name: string;
    frames: Frame[];
    /** Per message: its type and the chunks it must yield (hex). */
    messages: { type: 'text' | 'binary'; chunks: Buffer[] }[];
    /** The order of what the streamer hands out: message types and control frames. */
    order: unknown[];
  }
  const cases: Case[] = [
    {
      name: 'one binary frame',
      frames: [binary(counting(10))],
      messages: [{ type: 'binary', chunks: [counting(10)] }],
      order: ['binary'],
    },
    {
      name: 'one text frame',
      frames: [text('Hello')],
      messages: [{ type: 'text', chunks: [Buffer.from('Hello')] }],
      order: ['text'],
    },
    {
      name: 'an empty message ends without data',
      frames: [text('')],
      messages: [{ type: 'text', chunks: [] }],
      order: ['text'],
    },
    {
      name: 'fragments are chunks, empty ones skipped',
      frames: [binary('ab', false), cont('', false), cont('c', false), cont('de')],
      messages: [
        { type: 'binary', chunks: [Buffer.from('ab'), Buffer.from('c'), Buffer.from('de')] },
      ],
      order: ['binary'],
    },
    {
      name: 'a control frame inside a message comes after the message stream that it interrupts',
      frames: [text('a', false), ping('1'), cont('b'), pong('2'), binary('z')],
      messages: [
        { type: 'text', chunks: [Buffer.from('a'), Buffer.from('b')] },
        { type: 'binary', chunks: [Buffer.from('z')] },
      ],
      order: ['text', view(ping('1')), view(pong('2')), 'binary'],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.order.length} 'data'`, async () => {
      const { rec, messages, order } = await stream(c.frames);
      expect(order).toEqual(c.order);
      expect(messages).toHaveLength(c.messages.length);
      c.messages.forEach((expected, i) => {
        const got = messages[i]!;
        expect(got.stream.type).toBe(expected.type);
        expect(got.stream.binary).toBe(expected.type === 'binary');
        expect(got.rec.data.map((b) => b.toString('hex'))).toEqual(
          expected.chunks.map((b) => b.toString('hex')),
        );
        expect(got.rec.errors).toEqual([]);
        expect(got.rec.counts).toMatchObject({ end: 1, close: 1 });
      });
      expect(rec.errors).toEqual([]);
      expect(rec.counts).toEqual({ end: 1, finish: 1, close: 1, drain: rec.counts.drain });
    });
  }

  it('reads text whose code points straddle fragments as whole strings with setEncoding', async () => {
    const euro = Buffer.from('€');
    const streamer = new MessageStreamer();
    const parts: string[] = [];
    streamer.on('data', (m: IncomingMessageStream) => {
      m.setEncoding('utf8');
      m.on('data', (s: string) => parts.push(s));
    });
    const rec = record(streamer, false);
    streamer.write(text(euro.subarray(0, 1), false));
    streamer.write(cont(Buffer.concat([euro.subarray(1), euro.subarray(0, 2)]), false));
    streamer.end(cont(euro.subarray(2)));
    await rec.closed;
    await settle();
    expect(parts.join('')).toBe('€€');
    expect(parts.every((s) => !s.includes('\ufffd'))).toBe(true);
  });

  it('moves on to the next message when the reader destroys the current one', async () => {
    const streamer = new MessageStreamer({ messageHighWaterMark: 10 });
    const got: { type: string; data: Buffer[]; errors: number }[] = [];
    streamer.on('data', (m: IncomingMessageStream) => {
      const entry = { type: m.type, data: [] as Buffer[], errors: 0 };
      got.push(entry);
      m.on('error', () => entry.errors++);
      if (got.length === 1) {
        m.destroy(); // skip the first message: never read
      } else {
        m.on('data', (chunk: Buffer) => entry.data.push(chunk));
      }
    });
    const rec = record(streamer, false);
    const frames = [
      binary(counting(100), false),
      ...Array.from({ length: 20 }, () => cont(counting(100), false)),
      cont(''),
      text('next'),
    ];
    for (const f of frames) streamer.write(f);
    streamer.end();
    await rec.closed;
    await settle();
    expect(got.map((g) => [g.type, Buffer.concat(g.data).toString(), g.errors])).toEqual([
      ['binary', '', 0],
      ['text', 'next', 0],
    ]);
    expect(rec.errors).toEqual([]);
    expect(rec.counts).toMatchObject({ end: 1, finish: 1, close: 1 });
  });

  it('fails the current message stream when the frames end inside it; the streamer ends cleanly', async () => {
    const { rec, messages } = await stream([text('done'), binary('cut', false)]);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.rec.errors).toEqual([]);
    expect(messages[0]!.rec.counts.end).toBe(1);
    expect(messages[1]!.rec.errors).toHaveLength(1);
    expect(messages[1]!.rec.counts.end).toBe(0);
    expect(messages[1]!.rec.counts.close).toBe(1);
    expect(rec.errors).toEqual([]);
    expect(rec.counts).toMatchObject({ end: 1, finish: 1, close: 1 });
  });
});

interface ErrorCase {
  name: string;
  frames: Frame[];
  options?: MessageStreamerOptions;
  code: ErrorCode;
  closeCode: number;
  /** Message streams handed out, and whether the last one fails with the same error. */
  messages: number;
  messageFails: boolean;
}

const bad = Buffer.from([0x61, 0xff]);
const errorCases: ErrorCase[] = [
  {
    name: 'a continuation without a message',
    frames: [cont('x')],
    code: ErrorCode.UnexpectedContinuation,
    closeCode: 1002,
    messages: 0,
    messageFails: false,
  },
  {
    name: 'a new message inside a fragmented one',
    frames: [text('a', false), binary('b')],
    code: ErrorCode.ExpectedContinuation,
    closeCode: 1002,
    messages: 1,
    messageFails: true,
  },
  {
    name: 'invalid UTF-8 in the first fragment, before the message ends',
    frames: [text('ok'), text(bad, false)],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    messages: 2,
    messageFails: true,
  },
  {
    name: 'a text message ending inside a code point',
    frames: [text(Buffer.from([0xe2, 0x82]))],
    code: ErrorCode.InvalidUtf8,
    closeCode: 1007,
    messages: 1,
    messageFails: true,
  },
  {
    name: 'fragments adding up above maxMessageSize',
    options: { maxMessageSize: 150 },
    frames: [binary(counting(100), false), cont(counting(51), false)],
    code: ErrorCode.MessageTooLarge,
    closeCode: CloseCode.MessageTooBig,
    messages: 1,
    messageFails: true,
  },
];

describe('MessageStreamer: errors', () => {
  for (const c of errorCases) {
    it(`${c.name}: ${c.code} (${c.closeCode}) on the streamer${c.messageFails ? ' and its message' : ''}, once each`, async () => {
      const { rec, messages } = await stream(c.frames, c.options, false);
      expect(rec.errors).toHaveLength(1);
      const err = rec.errors[0] as ProtocolError;
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err.code).toBe(c.code);
      expect(err.closeCode).toBe(c.closeCode);
      expect(rec.counts).toEqual({ end: 0, finish: 0, close: 1, drain: 0 });
      expect(messages).toHaveLength(c.messages);
      const last = messages[messages.length - 1];
      if (c.messageFails) {
        expect(last!.rec.errors).toEqual([err]);
        expect(last!.rec.counts).toMatchObject({ end: 0, close: 1 });
      }
      for (const m of messages.slice(0, c.messageFails ? -1 : undefined)) {
        expect(m.rec.errors).toEqual([]);
        expect(m.rec.counts.end).toBe(1);
      }
    });
  }

  for (const c of errorCases) {
    it(`${c.name}, through bytes -> parser -> streamer -> slow reader: the pipeline rejects with it`, async () => {
      const parser = new FrameParser({ role: 'server' });
      const streamer = new MessageStreamer(c.options);
      const handedOut: IncomingMessageStream[] = [];
      streamer.on('data', (m: unknown) => {
        if (m instanceof IncomingMessageStream) handedOut.push(m);
      });
      // A reader that takes each message a turn after the previous one has closed: a failing
      // message may still be queued, with nobody listening to it, when it fails.
      const sink = new Writable({
        objectMode: true,
        write(m: IncomingMessageStream | Frame, _encoding, callback) {
          if (!(m instanceof IncomingMessageStream)) return callback();
          m.resume();
          m.once('close', () => setImmediate(callback));
        },
      });
      const recs = [parser, streamer, sink].map((s) => record(s, false));
      const wire = encodeFrames(c.frames, RFC_KEY);
      const err = await pipeline(Readable.from([wire]), parser, streamer, sink).catch(
        (e: unknown) => e,
      );
      await settle();
      expect((err as ProtocolError).code).toBe(c.code);
      expect(recs[1]!.errors).toEqual([err]);
      expect(recs.map((r) => r.counts.close)).toEqual([1, 1, 1]);
      expect(handedOut).toHaveLength(c.messages);
      expect(handedOut.every((m) => m.destroyed)).toBe(true);
      if (c.messageFails) expect(handedOut[handedOut.length - 1]!.errored).toBe(err);
      // A reader that comes late to the failed message still learns why it failed.
      if (c.messageFails) {
        const late = await pipeline(
          handedOut[handedOut.length - 1]!,
          new Writable({ write: (_c, _e, cb) => cb() }),
        ).catch((e: unknown) => e);
        expect(late).toBe(err);
      }
    });
  }
});

describe('MessageStreamer: destroy', () => {
  const cases: { name: string; first: Error | undefined; second: Error | undefined }[] = [
    { name: 'twice without an error', first: undefined, second: undefined },
    {
      name: 'twice with errors: the first one is emitted',
      first: new Error('first'),
      second: new Error('second'),
    },
  ];
  for (const c of cases) {
    it(`${c.name}, with a message in progress: the message is destroyed too`, async () => {
      const streamer = new MessageStreamer();
      const rec = record(streamer);
      let message: IncomingMessageStream | undefined;
      streamer.once('data', (m: IncomingMessageStream) => {
        message = m;
      });
      streamer.write(binary('half', false));
      await settle();
      const messageRec = record(message!, false);
      streamer.destroy(c.first);
      streamer.destroy(c.second);
      await rec.closed;
      await messageRec.closed;
      await settle();
      expect(rec.errors).toEqual(c.first === undefined ? [] : [c.first]);
      expect(messageRec.errors).toEqual(c.first === undefined ? [] : [c.first]);
      expect(rec.counts.close).toBe(1);
      expect(messageRec.counts).toMatchObject({ end: 0, close: 1 });
    });
  }
});

describe('MessageStreamer: backpressure', () => {
  it('holds its write callback while the current message reader is full', async () => {
    const streamer = new MessageStreamer({ messageHighWaterMark: 100 });
    let message: IncomingMessageStream | undefined;
    streamer.on('data', (m: IncomingMessageStream) => {
      message = m;
    });
    let called = 0;
    const frames = [
      binary(counting(100), false),
      ...Array.from({ length: 29 }, (_, i) => cont(counting(100), i === 28)),
    ];
    for (const f of frames) streamer.write(f, () => called++);
    await settle();
    // The first fragment fills the message's 100 bytes: everything after it waits.
    expect(message).toBeDefined();
    expect(message!.readableLength).toBe(100);
    expect(called).toBe(0);
    expect(streamer.writableLength).toBe(30);

    let bytes = 0;
    for await (const chunk of message!) {
      bytes += (chunk as Buffer).length;
      expect(message!.readableLength).toBeLessThanOrEqual(100);
    }
    expect(bytes).toBe(3000);
    await settle();
    expect(called).toBe(30);
  });

  it('does not let an earlier message closing late release the current message', async () => {
    const streamer = new MessageStreamer({ messageHighWaterMark: 10 });
    const messages: IncomingMessageStream[] = [];
    streamer.on('data', (m: IncomingMessageStream) => {
      messages.push(m);
      if (messages.length === 1) m.resume(); // the first message is read; the second is not
    });
    streamer.write(binary('first'));
    for (let i = 0; i < 10; i++)
      streamer.write(i === 0 ? binary(counting(100), false) : cont(counting(100), false));
    await settle(10);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.destroyed).toBe(true); // read to its end and closed
    // The second message holds one fragment; its first 'close'-less wait must not be released.
    expect(messages[1]!.readableLength).toBe(100);
    streamer.destroy();
  });

  it('streams a 64 MiB message holding at most two fragments in the message buffer', async () => {
    const streamer = new MessageStreamer({ messageHighWaterMark: 64 * 1024 });
    const fragment = counting(64 * 1024);
    const count = 1024;
    async function* frames() {
      for (let i = 0; i < count; i++)
        yield i === 0 ? binary(fragment, false) : cont(fragment, i === count - 1);
    }
    let bytes = 0;
    let maxBuffered = 0;
    const sink = new Writable({
      objectMode: true,
      write(m: IncomingMessageStream, _encoding, callback) {
        m.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          maxBuffered = Math.max(maxBuffered, m.readableLength);
        });
        m.once('end', () => callback());
      },
    });
    await pipeline(Readable.from(frames()), streamer, sink);
    expect(bytes).toBe(count * fragment.length);
    expect(maxBuffered).toBeLessThanOrEqual(2 * fragment.length);
  });
});

describe('IncomingMessageStream', () => {
  it("reports 'text' or 'binary'", async () => {
    const { messages } = await stream([text('t'), binary('b')]);
    expect(messages.map((m) => [m.stream.type, m.stream.binary])).toEqual([
      ['text', false],
      ['binary', true],
    ]);
  });
});
