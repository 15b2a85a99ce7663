/**
 * MessageSequencer: the order of fragments, the running size of a message against its limit,
 * and UTF-8 of text, checked at the call that breaks a rule.
 */
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { ErrorCode, ProtocolError } from '../../lib/protocol/errors.js';
import { MessageSequencer } from '../../lib/protocol/message-sequencer.js';
import { Opcode } from '../../lib/protocol/opcodes.js';

function thrown(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

const euro = Buffer.from('€');
const bytes = (...b: number[]) => Buffer.from(b);

describe('MessageSequencer: order', () => {
  it('returns the message opcode for the first frame and for each continuation', () => {
    const s = new MessageSequencer();
    expect(s.inMessage).toBe(false);
    expect(s.startFrame(Opcode.Binary)).toBe(Opcode.Binary);
    expect(s.inMessage).toBe(true);
    expect(s.endFrame(false)).toBe(false);
    expect(s.startFrame(Opcode.Continuation)).toBe(Opcode.Binary);
    expect(s.endFrame(true)).toBe(true);
    expect(s.inMessage).toBe(false);
    expect(s.startFrame(Opcode.Text)).toBe(Opcode.Text);
  });

  it('refuses a continuation with nothing to continue (1002)', () => {
    const err = thrown(() => new MessageSequencer().startFrame(Opcode.Continuation));
    expect(err.code).toBe(ErrorCode.UnexpectedContinuation);
    expect(err.closeCode).toBe(CloseCode.ProtocolError);
  });

  it('refuses a new message inside one (1002)', () => {
    const s = new MessageSequencer();
    s.startFrame(Opcode.Text);
    s.endFrame(false);
    expect(thrown(() => s.startFrame(Opcode.Binary)).code).toBe(ErrorCode.ExpectedContinuation);
  });

  it('refuses opcodes that are not data opcodes', () => {
    for (const opcode of [3, 7, Opcode.Close, Opcode.Ping, 0xf]) {
      expect(thrown(() => new MessageSequencer().startFrame(opcode)).code).toBe(
        ErrorCode.InvalidOpcode,
      );
    }
  });
});

describe('MessageSequencer: size', () => {
  it('accounts bytes over pieces and frames, and refuses the piece that crosses the limit', () => {
    const s = new MessageSequencer({ maxMessageSize: 10 });
    s.startFrame(Opcode.Binary);
    s.payload(Buffer.alloc(4));
    s.payload(Buffer.alloc(0));
    s.endFrame(false);
    s.startFrame(Opcode.Continuation);
    s.payload(Buffer.alloc(6));
    expect(s.messageSize).toBe(10);
    const err = thrown(() => s.payload(Buffer.alloc(1)));
    expect(err.code).toBe(ErrorCode.MessageTooLarge);
    expect(err.closeCode).toBe(CloseCode.MessageTooBig);
    // Nothing over the limit was accounted.
    expect(s.messageSize).toBe(10);
  });

  it('starts every message from zero', () => {
    const s = new MessageSequencer({ maxMessageSize: 3 });
    for (let i = 0; i < 3; i++) {
      s.startFrame(Opcode.Binary);
      s.payload(Buffer.alloc(3));
      expect(s.endFrame(true)).toBe(true);
      expect(s.messageSize).toBe(0);
    }
  });

  it('expect() refuses an announced length that takes the message over, without accounting it', () => {
    const s = new MessageSequencer({ maxMessageSize: 10, maxMessageSizeOption: 'someLimit' });
    s.startFrame(Opcode.Binary);
    s.payload(Buffer.alloc(5));
    s.expect(5);
    expect(s.messageSize).toBe(5);
    const err = thrown(() => s.expect(6));
    expect(err.message).toBe('Message exceeds someLimit (10 bytes)');
  });

  it('names maxMessageSize by default, and has no limit by default', () => {
    expect(new MessageSequencer({ maxMessageSize: 0 }).tooLarge().message).toBe(
      'Message exceeds maxMessageSize (0 bytes)',
    );
    const s = new MessageSequencer();
    s.startFrame(Opcode.Binary);
    s.expect(Number.MAX_SAFE_INTEGER);
    s.payload(Buffer.alloc(1 << 20));
    expect(s.messageSize).toBe(1 << 20);
  });
});

describe('MessageSequencer: UTF-8', () => {
  it('fails at the piece that holds the bad byte, before the message ends', () => {
    const s = new MessageSequencer();
    s.startFrame(Opcode.Text);
    s.payload(Buffer.from('good'));
    const err = thrown(() => s.payload(bytes(0x61, 0xff)));
    expect(err.code).toBe(ErrorCode.InvalidUtf8);
    expect(err.closeCode).toBe(CloseCode.InvalidPayload);
  });

  it('takes a code point cut across pieces and frames; fails one left open at the end', () => {
    const s = new MessageSequencer();
    s.startFrame(Opcode.Text);
    s.payload(euro.subarray(0, 1));
    s.endFrame(false);
    s.startFrame(Opcode.Continuation);
    s.payload(euro.subarray(1, 2));
    s.payload(euro.subarray(2));
    expect(s.endFrame(true)).toBe(true);

    s.startFrame(Opcode.Text);
    s.payload(euro.subarray(0, 2));
    expect(s.endFrame(false)).toBe(false); // may go on in the next frame
    s.startFrame(Opcode.Continuation);
    expect(thrown(() => s.endFrame(true)).code).toBe(ErrorCode.InvalidUtf8);
  });

  it('does not check binary, nor text when validateUtf8 is false', () => {
    const s = new MessageSequencer();
    s.startFrame(Opcode.Binary);
    s.payload(bytes(0xff, 0xc0));
    expect(s.endFrame(true)).toBe(true);
    const off = new MessageSequencer({ validateUtf8: false });
    off.startFrame(Opcode.Text);
    off.payload(bytes(0xff));
    expect(off.endFrame(true)).toBe(true);
    expect(off.whole(Opcode.Text, bytes(0xff))).toBe(Opcode.Text);
  });

  it('opaque(): the current message is not checked as text (it is transformed), the next one is', () => {
    const s = new MessageSequencer({ maxMessageSize: 3 });
    s.startFrame(Opcode.Text);
    s.opaque();
    s.payload(bytes(0xff, 0xfe));
    s.endFrame(true);
    // Still counted against the limit.
    s.startFrame(Opcode.Text);
    s.opaque();
    expect(thrown(() => s.payload(bytes(1, 2, 3, 4))).code).toBe(ErrorCode.MessageTooLarge);
    const t = new MessageSequencer();
    t.startFrame(Opcode.Text);
    t.opaque();
    t.endFrame(true);
    t.startFrame(Opcode.Text);
    expect(thrown(() => t.payload(bytes(0xff))).code).toBe(ErrorCode.InvalidUtf8);
  });
});

describe('MessageSequencer.whole (one untransformed frame)', () => {
  it('checks as startFrame + payload + endFrame(true) would, and leaves no message open', () => {
    const s = new MessageSequencer({ maxMessageSize: 4 });
    expect(s.whole(Opcode.Text, Buffer.from('€'))).toBe(Opcode.Text);
    expect(s.whole(Opcode.Binary, bytes(1, 2, 3, 4))).toBe(Opcode.Binary);
    expect(s.inMessage).toBe(false);
    expect(thrown(() => s.whole(Opcode.Binary, Buffer.alloc(5))).code).toBe(
      ErrorCode.MessageTooLarge,
    );
    expect(thrown(() => s.whole(Opcode.Text, euro.subarray(0, 2))).code).toBe(
      ErrorCode.InvalidUtf8,
    );
    expect(thrown(() => s.whole(Opcode.Text, bytes(0xed, 0xa0, 0x80))).code).toBe(
      ErrorCode.InvalidUtf8,
    );
    expect(s.inMessage).toBe(false);
  });

  it('throws the order error that applies', () => {
    const s = new MessageSequencer();
    expect(thrown(() => s.whole(Opcode.Continuation, Buffer.alloc(0))).code).toBe(
      ErrorCode.UnexpectedContinuation,
    );
    expect(thrown(() => s.whole(5, Buffer.alloc(0))).code).toBe(ErrorCode.InvalidOpcode);
    s.startFrame(Opcode.Text);
    expect(thrown(() => s.whole(Opcode.Binary, Buffer.alloc(0))).code).toBe(
      ErrorCode.ExpectedContinuation,
    );
  });
});
