/**
 * The entries of the connection's one outbound queue: a tagged chunk is a new view of the
 * payload (never a copy) that carries its entry, and a message stream's turn holds the
 * queue from its start until its end.
 */
import { describe, expect, it } from 'vitest';
import { entryOf, type SendEntry, StreamTurn, tagged } from '../../lib/stream/outbound-entry.js';
import { PreparedMessage } from '../../lib/stream/prepared-message.js';

describe('tagged / entryOf', () => {
  it('makes a new view of the payload, sharing its memory, that carries the entry', () => {
    const backing = Buffer.from('..payload..');
    const payload = backing.subarray(2, 9);
    const entry: SendEntry = { kind: 'send', binary: false, compress: false };
    const chunk = tagged(payload, entry);
    expect(chunk).not.toBe(payload);
    expect(chunk.toString()).toBe('payload');
    expect(chunk.byteOffset).toBe(payload.byteOffset);
    expect(chunk.buffer).toBe(payload.buffer);
    chunk[0] = 0x50; // 'P': written through the view
    expect(backing.toString()).toBe('..Payload..');
    expect(entryOf(chunk)).toBe(entry);
  });

  it('leaves the payload itself untagged, and plain chunks carry nothing', () => {
    const payload = Buffer.from('x');
    tagged(payload, { kind: 'send', binary: true, compress: true });
    expect(entryOf(payload)).toBeUndefined();
    expect(entryOf(Buffer.alloc(3))).toBeUndefined();
  });

  it('an empty chunk can hold a stream turn or a prepared message', () => {
    const turn = new StreamTurn();
    expect(entryOf(tagged(Buffer.alloc(0), turn))).toBe(turn);
    const prepared = {
      kind: 'prepared',
      message: new PreparedMessage(Buffer.from('m'), false),
    } as const;
    expect(entryOf(tagged(prepared.message.payload, prepared))).toBe(prepared);
  });
});

describe('StreamTurn', () => {
  it('is ready once started, and its end releases the queue exactly once', async () => {
    const turn = new StreamTurn();
    expect(turn.kind).toBe('turn');
    let ready = false;
    void turn.ready.then(() => {
      ready = true;
    });
    await Promise.resolve();
    expect(ready).toBe(false);
    expect(turn.started).toBe(false);
    let released = 0;
    turn.start(() => released++);
    expect(turn.started).toBe(true);
    await turn.ready;
    expect(ready).toBe(true);
    expect(released).toBe(0);
    expect(turn.end()).toBe(true);
    expect(released).toBe(1);
    expect(turn.end()).toBe(false);
    expect(released).toBe(1);
  });

  it('ends without holding anything when it never started', () => {
    const turn = new StreamTurn();
    expect(turn.end()).toBe(false);
  });

  it('abandon() lets a stream that will never get its turn stop waiting, without starting it', async () => {
    const turn = new StreamTurn();
    turn.abandon();
    await turn.ready;
    expect(turn.started).toBe(false);
    expect(turn.end()).toBe(false);
  });
});
