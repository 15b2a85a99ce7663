/**
 * Group 7 (close handling), after Autobahn's cases 7.1-7.13, plus ours: every close code
 * boundary valid and invalid, reasons valid and invalid (every invalid UTF-8 sequence of
 * group 6 as a reason), and data of every kind after the Close.
 *
 * What our implementation answers to a Close: its own Close with the peer's code (an empty
 * Close to an empty one) and no reason, at once; nothing it receives after a Close counts,
 * not even a frame that would otherwise fail the connection.
 *
 * @see RFC 6455 §5.5.1 (Close), §7.4 (status codes), §8.1 (UTF-8 of the reason)
 */
import { judgeUtf8 } from '../../helpers/utf8-oracle.js';
import {
  answersClose,
  binary,
  chopped,
  close,
  cont,
  echoText,
  f,
  fails,
  framewise,
  pattern,
  ping,
  send,
  stars,
  text,
} from './build.js';
import type { ConformanceCase } from './types.js';

const g = 'Close handling';
const HW = 'Hello World!';

function closeBehaviour(): ConformanceCase[] {
  return [
    {
      id: '7.1.1',
      group: g,
      title: 'text message, then Close 1000',
      steps: [send(text(HW), close(1000))],
      expect: answersClose(1000, echoText(HW)),
    },
    {
      id: '7.1.2',
      group: g,
      title: 'two Close frames (the second is ignored)',
      steps: [send(close(1000), close(1000))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.3',
      group: g,
      title: 'Close, then a ping (ignored)',
      steps: [send(close(1000), ping(HW))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.4',
      group: g,
      title: 'Close, then a text message (ignored)',
      steps: [send(close(1000), text(HW))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.5',
      group: g,
      title: 'text fragment, Close, then the last fragment (message dropped)',
      steps: [send(text('fragment1', false), close(1000), cont('fragment2'))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.6',
      group: g,
      title: '256 KiB text message, then Close, then a ping',
      steps: [send(text(stars(262144, 'B')), close(1000), ping(HW))],
      expect: answersClose(1000, echoText(stars(262144, 'B'))),
      timeoutMs: 10_000,
    },
    // Ours: data after a Close, including frames that would fail the connection before it.
    {
      id: '7.1.7',
      group: g,
      title: 'Close, then a binary message (ignored)',
      steps: [send(close(1000), binary(pattern(100)))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.8',
      group: g,
      title: 'Close, then a reserved opcode (ignored, not a protocol error)',
      steps: [send(close(1000), f(0x3, 'x'))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.9',
      group: g,
      title: 'Close, then invalid UTF-8 text (ignored)',
      steps: [send(close(1000), text(Buffer.from([0xff])))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.10',
      group: g,
      title: 'Close, then an unmasked/masked-by-the-wrong-role frame (ignored)',
      steps: [send(close(1000)), { send: [text(HW)], wrongMask: true }],
      expect: answersClose(1000),
    },
    {
      id: '7.1.11',
      group: g,
      title: 'Close, then garbage bytes (ignored)',
      steps: [send(close(1000)), { raw: Buffer.from('GET / HTTP/1.1\r\n\r\n') }],
      expect: answersClose(1000),
    },
    {
      id: '7.1.12',
      group: g,
      title: 'Close sent octet-wise',
      steps: [chopped(1, close(1000, 'bye'))],
      expect: answersClose(1000),
    },
    {
      id: '7.1.13',
      group: g,
      title: 'text message and Close frame-wise',
      steps: framewise(10, text(HW), close(1000)),
      expect: answersClose(1000, echoText(HW)),
    },
    {
      id: '7.3.1',
      group: g,
      title: 'Close with an empty payload',
      steps: [send(close())],
      expect: answersClose(null),
    },
    {
      id: '7.3.2',
      group: g,
      title: 'Close with a 1-byte payload',
      steps: [send(f(0x8, Buffer.from([0x03])))],
      expect: fails(1002),
    },
    {
      id: '7.3.3',
      group: g,
      title: 'Close 1000 without a reason',
      steps: [send(close(1000))],
      expect: answersClose(1000),
    },
    {
      id: '7.3.4',
      group: g,
      title: 'Close 1000 with a reason',
      steps: [send(close(1000, HW))],
      expect: answersClose(1000),
    },
    {
      id: '7.3.5',
      group: g,
      title: 'Close 1000 with a 123-byte reason',
      steps: [send(close(1000, stars(123)))],
      expect: answersClose(1000),
    },
    {
      id: '7.3.6',
      group: g,
      title: 'Close 1000 with a 124-byte reason (payload 126 bytes)',
      steps: [send(close(1000, stars(124)))],
      expect: fails(1002),
    },
    {
      id: '7.5.1',
      group: g,
      title: 'Close 1000 with an invalid UTF-8 reason',
      steps: [send(close(1000, Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex')))],
      expect: fails(1007),
    },
  ];
}

/** Close codes a Close frame may carry. @see RFC 6455 §7.4.1, §7.4.2; IANA registry */
const VALID_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3001, 3500, 3998,
  3999, 4000, 4001, 4500, 4998, 4999,
];
/** Codes that must never be on the wire: unassigned, reserved, or for local reports only. */
const INVALID_CODES = [
  0, 1, 2, 999, 1004, 1005, 1006, 1015, 1016, 1017, 1100, 1999, 2000, 2001, 2500, 2998, 2999, 5000,
  5001, 32768, 60000, 65535,
];

function codeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  VALID_CODES.forEach((code, i) => {
    cases.push({
      id: `7.7.${i + 1}`,
      group: g,
      title: `Close with valid code ${code}`,
      steps: [send(close(code))],
      expect: answersClose(code),
    });
  });
  INVALID_CODES.forEach((code, i) => {
    cases.push({
      id: `7.9.${i + 1}`,
      group: g,
      title: `Close with invalid code ${code}`,
      steps: [send(close(code))],
      expect: fails(1002),
    });
  });
  return cases;
}

/** Reasons: valid ones are accepted (and not echoed); every invalid UTF-8 one fails with 1007. */
function reasonCases(): ConformanceCase[] {
  const valid: Array<[string, Buffer]> = [
    ['one byte', Buffer.from('a')],
    ['41 euro signs (123 bytes of 3-byte UTF-8)', Buffer.from('€'.repeat(41))],
    ['U+10FFFF', Buffer.from(String.fromCodePoint(0x10ffff))],
    ['U+FFFE (a noncharacter)', Buffer.from('\uFFFE')],
    ['NUL bytes', Buffer.from([0, 0])],
  ];
  const invalid: Array<[string, Buffer]> = [
    ['a lone continuation byte', Buffer.from([0x80])],
    ['a truncated 2-byte sequence', Buffer.from([0xc3])],
    ['a truncated 3-byte sequence at the end', Buffer.from([0x61, 0xe2, 0x82])],
    ['a truncated 4-byte sequence at the end', Buffer.from([0xf0, 0x9f, 0x98])],
    ['an overlong "/"', Buffer.from([0xc0, 0xaf])],
    ['overlong NUL', Buffer.from([0xc0, 0x80])],
    ['a surrogate U+D800', Buffer.from([0xed, 0xa0, 0x80])],
    ['U+110000', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['byte 0xff', Buffer.from([0xff])],
    ['byte 0xfe', Buffer.from([0xfe])],
    ['a 5-byte sequence', Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])],
    ['41 euro signs with the last one cut', Buffer.from('€'.repeat(41)).subarray(0, 122)],
  ];
  const cases: ConformanceCase[] = [];
  valid.forEach(([what, reason], i) => {
    cases.push({
      id: `7.5.2.${i + 1}`,
      group: g,
      title: `Close 1000 with a valid reason: ${what}`,
      steps: [send(close(1000, reason))],
      expect: answersClose(1000),
    });
  });
  invalid.forEach(([what, reason], i) => {
    if (judgeUtf8(reason).complete) throw new Error(`reason ${what} is valid UTF-8`);
    cases.push({
      id: `7.5.3.${i + 1}`,
      group: g,
      title: `Close 1000 with an invalid reason: ${what}`,
      steps: [send(close(1000, reason))],
      expect: fails(1007),
    });
  });
  return cases;
}

export const closeGroup: ConformanceCase[] = [
  ...closeBehaviour(),
  ...codeCases(),
  ...reasonCases(),
];
