/**
 * The options and limits model: the limits each receive mode resolves to, the allowance a
 * compressed frame gets over its message, and the validators every option goes through
 * (a bad value is refused, naming the option, never silently replaced by a default).
 */
import { deflateRawSync, constants as zlibConstants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import {
  checkBoolean,
  checkCount,
  checkDuration,
  checkSize,
  DEFAULTS,
  describe as describeValue,
  type ReceiveMode,
  resolveReceiveLimits,
  type SizeLimitOptions,
} from '../../lib/protocol/limits.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const MiB = 1024 * 1024;
/** The frame allowance over a message of `size` bytes, as the module documents it. */
const allowance = (size: number) => size + Math.ceil(size / 1024) + 64;

/** Calls `fn`, which must throw an InvalidArgumentError; returns its message. */
function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).code).toBe('ERR_WS_INVALID_ARGUMENT');
    return (err as Error).message;
  }
  throw new Error('expected an InvalidArgumentError, nothing was thrown');
}

describe('resolveReceiveLimits: each mode with the defaults', () => {
  it("'messages': the held-message limit (64 MiB), and a frame limit that follows it", () => {
    expect(resolveReceiveLimits({}, 'messages')).toEqual({
      message: { size: 64 * MiB, option: 'maxReceivedMessageSize' },
      frame: { size: allowance(64 * MiB), option: 'maxReceivedMessageSize' },
    });
    expect(DEFAULTS.maxReceivedMessageSize).toBe(64 * MiB);
  });

  it("'streams': no limit at all (the library never holds a streamed message)", () => {
    expect(resolveReceiveLimits({}, 'streams')).toEqual({
      message: { size: Number.POSITIVE_INFINITY, option: 'maxStreamedMessageSize' },
      frame: { size: Number.POSITIVE_INFINITY, option: 'maxStreamedMessageSize' },
    });
  });

  it("'frames': no message limit; a frame, held whole, is bounded by the held-message limit", () => {
    expect(resolveReceiveLimits({}, 'frames')).toEqual({
      message: { size: Number.POSITIVE_INFINITY, option: 'maxStreamedMessageSize' },
      frame: { size: allowance(64 * MiB), option: 'maxReceivedMessageSize' },
    });
  });

  it('a 20 MiB single-frame message passes the default limits in every mode', () => {
    for (const mode of ['messages', 'streams', 'frames'] as const) {
      const { frame, message } = resolveReceiveLimits({}, mode);
      expect(frame.size, mode).toBeGreaterThanOrEqual(20 * MiB);
      expect(message.size, mode).toBeGreaterThanOrEqual(20 * MiB);
    }
  });
});

describe('resolveReceiveLimits: options given', () => {
  const cases: Array<{
    name: string;
    options: SizeLimitOptions;
    mode: ReceiveMode;
    message: [number, string];
    frame: [number, string];
  }> = [
    {
      name: 'maxReceivedMessageSize bounds an assembled message',
      options: { maxReceivedMessageSize: 1000 },
      mode: 'messages',
      message: [1000, 'maxReceivedMessageSize'],
      frame: [allowance(1000), 'maxReceivedMessageSize'],
    },
    {
      name: 'maxReceivedMessageSize does not cut a streamed message',
      options: { maxReceivedMessageSize: 1000 },
      mode: 'streams',
      message: [Number.POSITIVE_INFINITY, 'maxStreamedMessageSize'],
      frame: [Number.POSITIVE_INFINITY, 'maxStreamedMessageSize'],
    },
    {
      name: 'maxReceivedMessageSize does not cut a raw message, only its frames',
      options: { maxReceivedMessageSize: 1000 },
      mode: 'frames',
      message: [Number.POSITIVE_INFINITY, 'maxStreamedMessageSize'],
      frame: [allowance(1000), 'maxReceivedMessageSize'],
    },
    {
      name: 'maxStreamedMessageSize bounds a streamed message and its frames',
      options: { maxStreamedMessageSize: 5000, maxReceivedMessageSize: 10 },
      mode: 'streams',
      message: [5000, 'maxStreamedMessageSize'],
      frame: [allowance(5000), 'maxStreamedMessageSize'],
    },
    {
      name: 'maxStreamedMessageSize bounds a raw message',
      options: { maxStreamedMessageSize: 5000 },
      mode: 'frames',
      message: [5000, 'maxStreamedMessageSize'],
      frame: [allowance(64 * MiB), 'maxReceivedMessageSize'],
    },
    {
      name: 'maxStreamedMessageSize does not touch an assembled message',
      options: { maxStreamedMessageSize: 5000 },
      mode: 'messages',
      message: [64 * MiB, 'maxReceivedMessageSize'],
      frame: [allowance(64 * MiB), 'maxReceivedMessageSize'],
    },
    {
      name: 'maxReceivedFrameSize, when given, is the frame limit as it is',
      options: { maxReceivedFrameSize: 100, maxReceivedMessageSize: 1000 },
      mode: 'messages',
      message: [1000, 'maxReceivedMessageSize'],
      frame: [100, 'maxReceivedFrameSize'],
    },
    {
      name: 'maxReceivedFrameSize in streams mode',
      options: { maxReceivedFrameSize: 100 },
      mode: 'streams',
      message: [Number.POSITIVE_INFINITY, 'maxStreamedMessageSize'],
      frame: [100, 'maxReceivedFrameSize'],
    },
    {
      name: 'Infinity is no limit',
      options: { maxReceivedMessageSize: Number.POSITIVE_INFINITY },
      mode: 'messages',
      message: [Number.POSITIVE_INFINITY, 'maxReceivedMessageSize'],
      frame: [Number.POSITIVE_INFINITY, 'maxReceivedMessageSize'],
    },
    {
      name: '0 is a limit (only empty messages)',
      options: { maxReceivedMessageSize: 0 },
      mode: 'messages',
      message: [0, 'maxReceivedMessageSize'],
      frame: [64, 'maxReceivedMessageSize'],
    },
    {
      name: 'the allowance never goes past 2^53-1',
      options: { maxReceivedMessageSize: Number.MAX_SAFE_INTEGER },
      mode: 'messages',
      message: [Number.MAX_SAFE_INTEGER, 'maxReceivedMessageSize'],
      frame: [Number.MAX_SAFE_INTEGER, 'maxReceivedMessageSize'],
    },
  ];
  for (const c of cases) {
    it(`${c.name} (${c.mode})`, () => {
      const limits = resolveReceiveLimits(c.options, c.mode);
      expect(limits.message).toEqual({ size: c.message[0], option: c.message[1] });
      expect(limits.frame).toEqual({ size: c.frame[0], option: c.frame[1] });
    });
  }
});

describe('the deflate allowance', () => {
  it('covers what DEFLATE makes of incompressible data of every size', () => {
    const rng = new SeededRandom(0xdef1a7e);
    for (const size of [0, 1, 100, 1023, 1024, 16_384, 65_535, 65_536, 200_000, MiB + 7]) {
      const data = rng.bytes(size);
      // As permessage-deflate sends it: sync-flushed, the final 00 00 ff ff taken off.
      const sent = deflateRawSync(data, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(
        0,
        -4,
      );
      const { frame } = resolveReceiveLimits({ maxReceivedMessageSize: size }, 'messages');
      expect(sent.length, `${size} bytes compress to ${sent.length}`).toBeLessThanOrEqual(
        frame.size,
      );
    }
  });
});

describe('resolveReceiveLimits: bad values are refused, naming the option', () => {
  const options = ['maxReceivedFrameSize', 'maxReceivedMessageSize', 'maxStreamedMessageSize'];
  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['NaN', Number.NaN],
    ['negative', -1],
    ['fractional', 1.5],
    ['a string', '1024'],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['above 2^53-1', 2 ** 53],
    ['a boolean', true],
    ['an object', { size: 1 }],
  ];
  for (const option of options) {
    for (const [label, value] of bad) {
      it(`${option}: ${label}`, () => {
        for (const mode of ['messages', 'streams', 'frames'] as const) {
          const message = refused(() =>
            resolveReceiveLimits({ [option]: value } as SizeLimitOptions, mode),
          );
          expect(message).toContain(option);
          expect(message).toContain('non-negative integer');
        }
      });
    }
  }
});

describe('checkSize', () => {
  it('takes non-negative integers and Infinity; undefined gives the fallback', () => {
    expect(checkSize(0, 'x', 5)).toBe(0);
    expect(checkSize(1024, 'x', 5)).toBe(1024);
    expect(checkSize(Number.MAX_SAFE_INTEGER, 'x', 5)).toBe(Number.MAX_SAFE_INTEGER);
    expect(checkSize(Number.POSITIVE_INFINITY, 'x', 5)).toBe(Number.POSITIVE_INFINITY);
    expect(checkSize(undefined, 'x', 5)).toBe(5);
  });

  it('refuses the rest, saying what it got', () => {
    expect(refused(() => checkSize(null, 'someLimit', 5))).toBe(
      'someLimit must be a non-negative integer (bytes) or Infinity, got null',
    );
    expect(refused(() => checkSize('10', 'someLimit', 5))).toContain('got "10"');
    expect(refused(() => checkSize(-3, 'someLimit', 5))).toContain('got -3');
    expect(refused(() => checkSize(Number.NaN, 'someLimit', 5))).toContain('got NaN');
  });
});

describe('checkDuration', () => {
  it('takes positive durations up to 2^31-1 ms; undefined gives the fallback', () => {
    expect(checkDuration(1, 'closeTimeout', 5_000)).toBe(1);
    expect(checkDuration(0.5, 'closeTimeout', 5_000)).toBe(0.5);
    expect(checkDuration(2 ** 31 - 1, 'closeTimeout', 5_000)).toBe(2 ** 31 - 1);
    expect(checkDuration(undefined, 'closeTimeout', 5_000)).toBe(5_000);
  });

  it('refuses 0, negatives, NaN, Infinity, more than setTimeout takes, and non-numbers', () => {
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '100', null]) {
      const message = refused(() => checkDuration(value, 'closeTimeout', 5_000));
      expect(message).toContain('closeTimeout must be a positive number of milliseconds');
    }
  });

  it('with zeroMeansOff: 0 and Infinity turn the timer off (0); negatives are still refused', () => {
    expect(checkDuration(0, 'handshakeTimeout', 10_000, true)).toBe(0);
    expect(checkDuration(Number.POSITIVE_INFINITY, 'handshakeTimeout', 10_000, true)).toBe(0);
    expect(checkDuration(250, 'handshakeTimeout', 10_000, true)).toBe(250);
    expect(refused(() => checkDuration(-1, 'handshakeTimeout', 10_000, true))).toContain(
      'handshakeTimeout must be a non-negative number',
    );
  });
});

describe('checkCount', () => {
  it('takes non-negative integers; refuses the rest, naming the option', () => {
    expect(checkCount(0, 'readableHighWaterMark', 16)).toBe(0);
    expect(checkCount(7, 'readableHighWaterMark', 16)).toBe(7);
    expect(checkCount(undefined, 'readableHighWaterMark', 16)).toBe(16);
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, null, '3']) {
      expect(refused(() => checkCount(value, 'readableHighWaterMark', 16))).toContain(
        'readableHighWaterMark must be a non-negative integer',
      );
    }
  });
});

describe('checkBoolean', () => {
  it("takes booleans; refuses the rest ('false' must not mean true)", () => {
    expect(checkBoolean(true, 'keepalive', false)).toBe(true);
    expect(checkBoolean(false, 'keepalive', true)).toBe(false);
    expect(checkBoolean(undefined, 'keepalive', true)).toBe(true);
    for (const value of ['false', 0, 1, null, {}]) {
      expect(refused(() => checkBoolean(value, 'keepalive', true))).toContain(
        'keepalive must be true or false',
      );
    }
  });
});

describe('describe (values in error messages)', () => {
  it('shows numbers, booleans and null as they are, strings quoted, objects by class', () => {
    expect(describeValue(12)).toBe('12');
    expect(describeValue(false)).toBe('false');
    expect(describeValue(null)).toBe('null');
    expect(describeValue('a"b')).toBe('"a\\"b"');
    expect(describeValue({})).toBe('Object');
    expect(describeValue(new Map())).toBe('Map');
    expect(describeValue(Object.create(null))).toBe('an object');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(() => 1)).toBe('function');
  });
});
