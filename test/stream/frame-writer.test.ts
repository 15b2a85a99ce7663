/**
 * FrameWriter over a recording transport: what leaves is checked with the reference wire
 * reader (test/helpers/wire-reader.ts, no code shared with lib/), and how it leaves with the
 * transport's own calls: a batch is one _write or one _writev (a read's answers are cut at
 * FLUSH_AT), large unmasked payloads are the application's Buffers themselves, data writes
 * wait for room, pongs are coalesced.
 */
import { Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../lib/protocol/frame.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import { outboundReleased, type WriterOwner } from '../../lib/stream/connection-hooks.js';
import { FLUSH_AT, FrameWriter } from '../../lib/stream/frame-writer.js';
import { counting } from '../helpers/frames.js';
import { type WireFrame, WireReader } from '../helpers/wire-reader.js';

const SLAB_SIZE = 120 * 1024;

/** A transport that records each _write/_writev call; with `held`, it calls back only when told. */
class Sink extends Duplex {
  /** The parts of each call of the writable side, in order. */
  readonly calls: Buffer[][] = [];
  held = false;
  #pending: Array<() => void> = [];

  constructor(highWaterMark = 16 * 1024) {
    super({ writableHighWaterMark: highWaterMark });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.calls.push([chunk]);
    this.#done(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: () => void): void {
    this.calls.push(chunks.map((c) => c.chunk));
    this.#done(callback);
  }

  override _read(): void {}

  /** Calls back every write held so far. */
  release(): void {
    this.held = false;
    const pending = this.#pending;
    this.#pending = [];
    for (const callback of pending) callback();
  }

  /** Everything written, as the peer would read it. */
  frames(): WireFrame[] {
    return new WireReader().push(Buffer.concat(this.calls.flat()));
  }

  #done(callback: () => void): void {
    if (this.held) this.#pending.push(callback);
    else callback();
  }
}

function writer(options: { mask?: boolean; budget?: number; highWaterMark?: number } = {}) {
  const sink = new Sink(options.highWaterMark);
  let released = 0;
  const owner: WriterOwner = {
    [outboundReleased]: () => {
      released++;
    },
  };
  const w = new FrameWriter(
    sink,
    { mask: options.mask ?? false, budget: options.budget ?? 64 * 1024 },
    owner,
  );
  sink.on('drain', () => w.drained());
  return { sink, writer: w, released: () => released };
}

const noop = () => {};

const shape = (f: WireFrame) =>
  `${f.fin ? 'F' : '-'}${+f.rsv1}${+f.rsv2}${+f.rsv3} op${f.opcode} ${f.masked ? 'M' : 'U'} ${f.payload.length}`;

/**
 * Every write but the last carries FLUSH_AT bytes or more, and none more than the frame that
 * reached FLUSH_AT added (`largestFrame`, header included): the batch is cut as soon as it can be.
 */
function expectCutAtFlushAt(calls: readonly Buffer[][], largestFrame: number): void {
  const sizes = calls.map((parts) => parts.reduce((sum, part) => sum + part.length, 0));
  expect(sizes.length).toBeGreaterThan(1);
  for (const size of sizes.slice(0, -1)) {
    expect(size).toBeGreaterThanOrEqual(FLUSH_AT);
    expect(size).toBeLessThan(FLUSH_AT + largestFrame);
  }
}

/** A payload at an odd offset of its own memory, so that no alignment is given for free. */
function oddPayload(length: number, start = 0): Buffer {
  const backing = Buffer.allocUnsafeSlow(length + 3);
  const view = backing.subarray(3, 3 + length);
  view.set(counting(length, start));
  return view;
}

describe('FrameWriter: batching', () => {
  for (const mask of [false, true]) {
    it(`${mask ? 'masked' : 'unmasked'}: 200 messages written in one tick leave in one transport write`, async () => {
      const { sink, writer: w } = writer({ mask });
      const payloads = Array.from({ length: 200 }, (_, i) => counting(i % 3 === 0 ? i * 7 : i, i));
      for (const [i, p] of payloads.entries()) {
        w.message(i % 2 === 0 ? Opcode.Text : Opcode.Binary, p, noop);
      }
      expect(sink.calls).toHaveLength(0); // not before the tick ends
      await tick();
      expect(sink.calls).toHaveLength(1);
      const frames = sink.frames();
      expect(frames).toHaveLength(200);
      for (const [i, f] of frames.entries()) {
        expect(f.masked).toBe(mask);
        expect(f.fin).toBe(true);
        expect(f.opcode).toBe(i % 2 === 0 ? Opcode.Text : Opcode.Binary);
        expect(f.payload.equals(payloads[i]!)).toBe(true);
      }
    });
  }

  it('a batch larger than the shared slab still leaves in one write (several parts)', async () => {
    const { sink, writer: w } = writer();
    const payload = counting(1000);
    for (let i = 0; i < 300; i++) w.message(Opcode.Binary, payload, noop);
    await tick();
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]!.length).toBeGreaterThan(1);
    expect(sink.frames()).toHaveLength(300);
  });

  it('control frames are slotted in between data frames, in order', async () => {
    const { sink, writer: w } = writer({ mask: true });
    w.message(Opcode.Text, Buffer.from('one'), noop);
    w.control(Opcode.Ping, Buffer.from('p'));
    w.message(Opcode.Text, Buffer.from('two'), noop);
    w.control(Opcode.Close, Buffer.from([0x03, 0xe8]));
    await tick();
    expect(sink.calls).toHaveLength(1);
    expect(sink.frames().map((f) => `${f.opcode}:${f.payload.toString('hex')}`)).toEqual([
      `1:${Buffer.from('one').toString('hex')}`,
      `9:${Buffer.from('p').toString('hex')}`,
      `1:${Buffer.from('two').toString('hex')}`,
      '8:03e8',
    ]);
  });

  it('frames() keeps FIN, RSV bits and opcodes as given', async () => {
    const { sink, writer: w } = writer();
    const frames: Frame[] = [
      {
        fin: false,
        rsv1: true,
        rsv2: false,
        rsv3: false,
        opcode: Opcode.Text,
        payload: counting(3),
      },
      {
        fin: false,
        rsv1: false,
        rsv2: true,
        rsv3: true,
        opcode: Opcode.Continuation,
        payload: counting(0),
      },
      {
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: Opcode.Continuation,
        payload: counting(2000),
      },
    ];
    w.frames(frames, noop);
    await tick();
    expect(sink.frames().map(shape)).toEqual(['-100 op1 U 3', '-011 op0 U 0', 'F000 op0 U 2000']);
  });

  it('encoded() bytes go out as they are, in their place, not copied', async () => {
    const { sink, writer: w } = writer();
    const shared = Buffer.from([0x82, 0x02, 0xaa, 0xbb]);
    w.message(Opcode.Text, Buffer.from('a'), noop);
    w.encoded(shared, noop);
    w.message(Opcode.Text, Buffer.from('b'), noop);
    await tick();
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toContain(shared);
    expect(sink.frames().map((f) => f.payload.toString('hex'))).toEqual(['61', 'aabb', '62']);
  });
});

describe('FrameWriter: hold / release', () => {
  it('holds the batch while a read is handled, and flushes it in one write at release', async () => {
    const { sink, writer: w } = writer();
    w.hold();
    for (let i = 0; i < 5; i++) w.message(Opcode.Binary, counting(10, i), noop);
    w.control(Opcode.Pong, Buffer.alloc(0));
    await tick();
    await tick();
    expect(sink.calls).toHaveLength(0);
    expect(w.queuedBytes).toBe(5 * 12 + 2);
    w.release();
    expect(sink.calls).toHaveLength(1);
    expect(sink.frames()).toHaveLength(6);
  });

  it('a release with nothing held writes nothing', () => {
    const { sink, writer: w } = writer();
    w.hold();
    w.release();
    expect(sink.calls).toHaveLength(0);
  });

  it("a read's answers leave in cuts of FLUSH_AT bytes, so that the peer starts on them early", () => {
    const { sink, writer: w } = writer({ mask: true, budget: 1024 * 1024 });
    w.hold();
    const payloads = Array.from({ length: 1000 }, (_, i) => counting(64, i));
    for (const p of payloads) w.message(Opcode.Text, p, noop);
    const beforeRelease = sink.calls.length;
    w.release();
    expect(beforeRelease).toBe(Math.floor((1000 * (64 + 6)) / FLUSH_AT));
    expectCutAtFlushAt(sink.calls, 64 + 6);
    expect(sink.frames().map((f) => f.payload)).toEqual(payloads);
  });

  it('the cut falls between entries: the fragments of one large message leave in one write', () => {
    const { sink, writer: w } = writer({ budget: 1024 * 1024 });
    const payload = counting(1024 * 1024);
    const frames: Frame[] = [];
    for (let at = 0; at < payload.length; at += 16 * 1024) {
      frames.push({
        fin: at + 16 * 1024 === payload.length,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: at === 0 ? Opcode.Binary : Opcode.Continuation,
        payload: payload.subarray(at, at + 16 * 1024),
      });
    }
    w.hold();
    w.frames(frames, noop);
    w.message(Opcode.Text, Buffer.from('after'), noop);
    w.release();
    expect(sink.calls).toHaveLength(2);
    expect(sink.calls[0]).toHaveLength(2 * frames.length);
    const received = sink.frames();
    expect(Buffer.concat(received.slice(0, -1).map((f) => f.payload)).equals(payload)).toBe(true);
    expect(received.at(-1)!.payload.toString()).toBe('after');
  });
});

describe('FrameWriter: masking', () => {
  const sizes = [
    0,
    1,
    7,
    125,
    126,
    127,
    128,
    1023,
    1024,
    32 * 1024 - 1,
    32 * 1024,
    65_536,
    200_000,
  ];
  for (const size of sizes) {
    it(`a masked frame of ${size} bytes decodes back, and the source is untouched`, async () => {
      const { sink, writer: w } = writer({ mask: true });
      const payload = oddPayload(size, size);
      const copy = Buffer.from(payload);
      w.message(Opcode.Binary, payload, noop);
      w.message(Opcode.Text, Buffer.from('after'), noop);
      await tick();
      const frames = sink.frames();
      expect(frames.map((f) => f.masked)).toEqual([true, true]);
      expect(frames[0]!.payload.equals(copy)).toBe(true);
      expect(frames[1]!.payload.toString()).toBe('after');
      expect(payload.equals(copy)).toBe(true);
    });
  }

  it('masks each frame with a key of its own', async () => {
    const { sink, writer: w } = writer({ mask: true });
    const zeros = Buffer.alloc(8);
    w.message(Opcode.Binary, zeros, noop);
    w.message(Opcode.Binary, zeros, noop);
    await tick();
    const bytes = Buffer.concat(sink.calls.flat());
    // Each frame: 2 header bytes, 4 key bytes, 8 payload bytes (zeros: the key, twice).
    const key1 = bytes.subarray(2, 6);
    const key2 = bytes.subarray(16, 20);
    expect(bytes.subarray(6, 10).equals(key1)).toBe(true);
    expect(key1.equals(key2)).toBe(false);
  });

  it('many masked frames of every size in one batch, back to back, decode back', async () => {
    const { sink, writer: w } = writer({ mask: true });
    const payloads = Array.from({ length: 120 }, (_, i) => oddPayload((i * 331) % 40_000, i));
    for (const p of payloads) w.message(Opcode.Binary, p, noop);
    await tick();
    expect(sink.calls).toHaveLength(1);
    const frames = sink.frames();
    expect(frames).toHaveLength(payloads.length);
    for (const [i, f] of frames.entries()) expect(f.payload.equals(payloads[i]!)).toBe(true);
  });
});

describe('FrameWriter: the masked fragments of a large message', () => {
  for (const [name, payload, cut] of [
    ['16 KiB fragments of a 1 MiB message', oddPayload(1024 * 1024), 16 * 1024],
    [
      'uneven fragments (header and payload sizes not multiples of 8)',
      oddPayload(300_001, 7),
      12_345,
    ],
  ] as const) {
    it(`${name}: one part, each frame with a key of its own, decoding back`, async () => {
      const { sink, writer: w } = writer({ mask: true });
      const before = Buffer.from(payload);
      const frames: Frame[] = [];
      for (let at = 0; at < payload.length; at += cut) {
        const end = Math.min(at + cut, payload.length);
        frames.push({
          fin: end === payload.length,
          rsv1: false,
          rsv2: false,
          rsv3: false,
          opcode: at === 0 ? Opcode.Binary : Opcode.Continuation,
          payload: payload.subarray(at, end),
        });
      }
      w.frames(frames, noop);
      await tick();
      expect(sink.calls).toHaveLength(1);
      expect(sink.calls[0]).toHaveLength(1);
      const wire = sink.frames();
      expect(wire.map(shape)).toEqual(
        frames.map((f) => `${f.fin ? 'F' : '-'}000 op${f.opcode} M ${f.payload.length}`),
      );
      expect(Buffer.concat(wire.map((f) => f.payload)).equals(payload)).toBe(true);
      const keys = new Set(wire.map((f) => f.maskKey?.toString('hex')));
      expect(keys.size).toBe(wire.length);
      expect(payload.equals(before)).toBe(true); // the source is never masked in place
    });
  }
});

describe('FrameWriter: no copies of large payloads', () => {
  it('an unmasked payload from 1 KiB on is handed to the transport as it is', async () => {
    const { sink, writer: w } = writer();
    const large = counting(64 * 1024);
    const fragment = counting(1024);
    w.message(Opcode.Binary, large, noop);
    w.frames(
      [
        {
          fin: true,
          rsv1: false,
          rsv2: false,
          rsv3: false,
          opcode: Opcode.Binary,
          payload: fragment,
        },
      ],
      noop,
    );
    await tick();
    const parts = sink.calls.flat();
    expect(parts).toContain(large);
    expect(parts).toContain(fragment);
  });

  it('small frames are one view of the shared slab, or a copy when the transport is backed up', async () => {
    const { sink, writer: w } = writer({ highWaterMark: 16 });
    w.message(Opcode.Text, Buffer.from('a'), noop);
    w.message(Opcode.Text, Buffer.from('b'), noop);
    await tick();
    // Not backed up: the two frames lie back to back in the slab and leave as one view of it.
    expect(sink.calls[0]!).toHaveLength(1);
    expect(sink.calls[0]![0]!.buffer.byteLength).toBe(SLAB_SIZE);
    // Backed up: a few bytes must not keep a 120 KiB slab alive in the socket's queue.
    sink.held = true;
    w.message(Opcode.Binary, counting(100), noop);
    await tick();
    w.message(Opcode.Text, Buffer.from('c'), noop);
    await tick();
    expect(sink.writableLength).toBeGreaterThan(0);
    const last = sink.calls.at(-1) ?? [];
    sink.release();
    await tick();
    const parts = [...last, ...sink.calls.flat()];
    const c = parts.find((p) => p.length === 3 && p[2] === 0x63);
    expect(c).toBeDefined();
    expect(c!.buffer.byteLength).not.toBe(SLAB_SIZE);
  });
});

describe('FrameWriter: room in the transport', () => {
  it('calls a data write back at once while under budget', () => {
    const { writer: w } = writer({ budget: 1000 });
    let called = 0;
    w.message(Opcode.Binary, counting(100), () => called++);
    expect(called).toBe(1);
  });

  it('holds a write that takes it over budget until drain, then releases it and tells the owner once', async () => {
    const { sink, writer: w, released } = writer({ budget: 1000, highWaterMark: 100 });
    sink.held = true;
    let first = 0;
    let second = 0;
    w.message(Opcode.Binary, counting(2000), () => first++);
    w.message(Opcode.Binary, counting(10), () => second++);
    expect([first, second]).toEqual([0, 0]);
    expect(w.queuedBytes).toBe(2004 + 12);
    await tick();
    expect(sink.writableLength).toBe(2004 + 12);
    expect(w.queuedBytes).toBe(2004 + 12);
    expect([first, second]).toEqual([0, 0]);
    sink.release();
    await tick();
    expect([first, second]).toEqual([1, 1]);
    expect(released()).toBe(1);
    expect(w.queuedBytes).toBe(0);
  });

  it('abandon() releases every waiting write', async () => {
    const { sink, writer: w, released } = writer({ budget: 10, highWaterMark: 1 });
    sink.held = true;
    let called = 0;
    w.message(Opcode.Binary, counting(100), () => called++);
    await tick();
    expect(called).toBe(0);
    w.abandon();
    expect(called).toBe(1);
    expect(released()).toBe(1);
  });
});

describe('FrameWriter: pongs', () => {
  it('answers a ping at once while the transport has room', async () => {
    const { sink, writer: w } = writer();
    w.pong(Buffer.from('x'));
    await tick();
    expect(sink.frames().map((f) => `${f.opcode}:${f.payload}`)).toEqual([`${Opcode.Pong}:x`]);
  });

  it('coalesces pongs while the transport is backed up: one, for the latest ping, at drain', async () => {
    const { sink, writer: w } = writer({ highWaterMark: 100 });
    sink.held = true;
    w.message(Opcode.Binary, counting(5000), noop);
    await tick();
    expect(sink.writableNeedDrain).toBe(true);
    const callsBefore = sink.calls.length;
    const latest = Buffer.from('ping-999');
    for (let i = 0; i < 999; i++) w.pong(Buffer.from(`ping-${i}`));
    w.pong(latest);
    latest.fill(0x30); // the pong keeps its own copy
    await tick();
    expect(sink.calls.length).toBe(callsBefore);
    sink.release();
    await tick();
    const pongs = sink.frames().filter((f) => f.opcode === Opcode.Pong);
    expect(pongs.map((f) => f.payload.toString())).toEqual(['ping-999']);
  });

  it('abandon() drops a coalesced pong (none may follow our Close)', async () => {
    const { sink, writer: w } = writer({ highWaterMark: 100 });
    sink.held = true;
    w.message(Opcode.Binary, counting(5000), noop);
    await tick();
    w.pong(Buffer.from('late'));
    w.abandon();
    sink.release();
    await tick();
    expect(sink.frames().filter((f) => f.opcode === Opcode.Pong)).toEqual([]);
  });
});

describe('FrameWriter: a destroyed transport', () => {
  it('gets no control frame and no batch', async () => {
    const { sink, writer: w } = writer();
    w.message(Opcode.Text, Buffer.from('queued'), noop);
    sink.destroy();
    w.control(Opcode.Ping, Buffer.alloc(0));
    w.flush();
    await tick();
    expect(sink.calls).toHaveLength(0);
  });
});
