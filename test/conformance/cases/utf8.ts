/**
 * Group 6 (UTF-8 handling), after Autobahn's cases 6.1-6.23 (the sequences of Markus Kuhn's
 * UTF-8 decoder capability test). Every sequence is sent three ways:
 *   6.N.k    alone, in one frame;
 *   6.N.k.m  in the middle of a longer text, in one frame;
 *   6.N.k.f  one byte per frame, each frame followed by a probe ping, so that the suite sees
 *            exactly at which frame the connection is failed: fail-fast means at the first
 *            frame that makes the text invalid, not at the end of the message.
 * The expected outcome comes from an independent oracle (test/helpers/utf8-oracle.ts).
 *
 * @see RFC 6455 §8.1 (fail the connection on invalid UTF-8, 1007), §5.6
 */
import { failingPiece, isValidUtf8Oracle } from '../../helpers/utf8-oracle.js';
import { chopped, cont, echoes, echoText, fails, probeAnswer, send, text } from './build.js';
import type { ConformanceCase, ExpectedEvent, Step } from './types.js';

const g = 'UTF-8';

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');

/** The Kuhn test sequences, by Autobahn subgroup: [subgroup, what, bytes]. */
const VECTORS: Array<[number, string, Buffer]> = [
  [5, 'κόσμε', h('ceba e1bdb9 cf83 cebc ceb5')],
  // 6.6: every prefix of κόσμε.
  ...Array.from({ length: 11 }, (_, i): [number, string, Buffer] => [
    6,
    `the first ${i + 1} bytes of κόσμε`,
    h('ceba e1bdb9 cf83 cebc ceb5').subarray(0, i + 1),
  ]),
  [7, 'first sequence of 1 byte (U+0000)', h('00')],
  [7, 'first sequence of 2 bytes (U+0080)', h('c280')],
  [7, 'first sequence of 3 bytes (U+0800)', h('e0a080')],
  [7, 'first sequence of 4 bytes (U+10000)', h('f0908080')],
  [8, 'first sequence of 5 bytes', h('f888808080')],
  [8, 'first sequence of 6 bytes', h('fc8480808080')],
  [9, 'last sequence of 1 byte (U+007F)', h('7f')],
  [9, 'last sequence of 2 bytes (U+07FF)', h('dfbf')],
  [9, 'last sequence of 3 bytes (U+FFFF)', h('efbfbf')],
  [9, 'last valid sequence of 4 bytes (U+10FFFF)', h('f48fbfbf')],
  [10, 'last sequence of 4 bytes (U+1FFFFF)', h('f7bfbfbf')],
  [10, 'last sequence of 5 bytes', h('fbbfbfbfbf')],
  [10, 'last sequence of 6 bytes', h('fdbfbfbfbfbf')],
  [11, 'U+D7FF', h('ed9fbf')],
  [11, 'U+E000', h('ee8080')],
  [11, 'U+FFFD', h('efbfbd')],
  [11, 'U+10FFFF', h('f48fbfbf')],
  [11, 'U+110000', h('f4908080')],
  [12, 'first continuation byte 0x80', h('80')],
  [12, 'last continuation byte 0xbf', h('bf')],
  [12, '2 continuation bytes', h('80bf')],
  [12, '3 continuation bytes', h('80bf80')],
  [12, '4 continuation bytes', h('80bf80bf')],
  [12, '5 continuation bytes', h('80bf80bf80')],
  [12, '6 continuation bytes', h('80bf80bf80bf')],
  [12, '7 continuation bytes', h('80bf80bf80bf80')],
  [12, 'all 64 continuation bytes', Buffer.from(Array.from({ length: 64 }, (_, i) => 0x80 + i))],
  [13, 'all 32 2-byte leads, each followed by a space', lonely(0xc0, 0xdf)],
  [13, 'all 16 3-byte leads, each followed by a space', lonely(0xe0, 0xef)],
  [13, 'all 8 4-byte leads, each followed by a space', lonely(0xf0, 0xf7)],
  [13, 'all 4 5-byte leads, each followed by a space', lonely(0xf8, 0xfb)],
  [13, 'both 6-byte leads, each followed by a space', lonely(0xfc, 0xfd)],
  [14, '2-byte sequence missing its last byte (U+0000)', h('c0')],
  [14, '3-byte sequence missing its last byte (U+0000)', h('e080')],
  [14, '4-byte sequence missing its last byte (U+0000)', h('f08080')],
  [14, '5-byte sequence missing its last byte (U+0000)', h('f8808080')],
  [14, '6-byte sequence missing its last byte (U+0000)', h('fc80808080')],
  [14, '2-byte sequence missing its last byte (U+07FF)', h('df')],
  [14, '3-byte sequence missing its last byte (U+FFFF)', h('efbf')],
  [14, '4-byte sequence missing its last byte', h('f7bfbf')],
  [14, '5-byte sequence missing its last byte', h('fbbfbfbf')],
  [14, '6-byte sequence missing its last byte', h('fdbfbfbfbf')],
  [
    15,
    'all of 6.14 concatenated',
    h('c0 e080 f08080 f8808080 fc80808080 df efbf f7bfbf fbbfbfbf fdbfbfbfbf'),
  ],
  [16, 'byte 0xfe', h('fe')],
  [16, 'byte 0xff', h('ff')],
  [16, 'bytes fe fe ff ff', h('fefeffff')],
  [17, 'overlong "/" in 2 bytes', h('c0af')],
  [17, 'overlong "/" in 3 bytes', h('e080af')],
  [17, 'overlong "/" in 4 bytes', h('f08080af')],
  [17, 'overlong "/" in 5 bytes', h('f8808080af')],
  [17, 'overlong "/" in 6 bytes', h('fc80808080af')],
  [18, 'maximum overlong in 2 bytes', h('c1bf')],
  [18, 'maximum overlong in 3 bytes', h('e09fbf')],
  [18, 'maximum overlong in 4 bytes', h('f08fbfbf')],
  [18, 'maximum overlong in 5 bytes', h('f887bfbfbf')],
  [18, 'maximum overlong in 6 bytes', h('fc83bfbfbfbf')],
  [19, 'overlong NUL in 2 bytes', h('c080')],
  [19, 'overlong NUL in 3 bytes', h('e08080')],
  [19, 'overlong NUL in 4 bytes', h('f0808080')],
  [19, 'overlong NUL in 5 bytes', h('f880808080')],
  [19, 'overlong NUL in 6 bytes', h('fc8080808080')],
  [20, 'single surrogate U+D800', h('eda080')],
  [20, 'single surrogate U+DB7F', h('edadbf')],
  [20, 'single surrogate U+DB80', h('edae80')],
  [20, 'single surrogate U+DBFF', h('edafbf')],
  [20, 'single surrogate U+DC00', h('edb080')],
  [20, 'single surrogate U+DF80', h('edbe80')],
  [20, 'single surrogate U+DFFF', h('edbfbf')],
  [21, 'paired surrogates U+D800 U+DC00', h('eda080 edb080')],
  [21, 'paired surrogates U+D800 U+DFFF', h('eda080 edbfbf')],
  [21, 'paired surrogates U+DB7F U+DC00', h('edadbf edb080')],
  [21, 'paired surrogates U+DB7F U+DFFF', h('edadbf edbfbf')],
  [21, 'paired surrogates U+DB80 U+DC00', h('edae80 edb080')],
  [21, 'paired surrogates U+DB80 U+DFFF', h('edae80 edbfbf')],
  [21, 'paired surrogates U+DBFF U+DC00', h('edafbf edb080')],
  [21, 'paired surrogates U+DBFF U+DFFF', h('edafbf edbfbf')],
  // 6.22: noncharacters are valid UTF-8 (U+FFFE, U+FFFF, and the last two of every plane).
  [22, 'U+FFFE', h('efbfbe')],
  [22, 'U+FFFF', h('efbfbf')],
  ...Array.from({ length: 16 }, (_, i): [number, string, Buffer][] => {
    const plane = i + 1;
    const cp = plane * 0x10000 + 0xfffe;
    return [
      [22, `U+${cp.toString(16).toUpperCase()}`, Buffer.from(String.fromCodePoint(cp))],
      [22, `U+${(cp + 1).toString(16).toUpperCase()}`, Buffer.from(String.fromCodePoint(cp + 1))],
    ];
  }).flat(),
  [
    22,
    'U+FDD0 to U+FDEF',
    Buffer.from(Array.from({ length: 32 }, (_, i) => String.fromCodePoint(0xfdd0 + i)).join('')),
  ],
  [23, 'U+FFFD alone', h('efbfbd')],
  [23, 'a valid text around U+FFFD', Buffer.from('a\uFFFDb')],
  [23, 'NUL bytes are valid UTF-8', h('00 00 61 00')],
];

/** Bytes `from`..`to`, each followed by a space: lonely start characters. */
function lonely(from: number, to: number): Buffer {
  const out: number[] = [];
  for (let b = from; b <= to; b++) out.push(b, 0x20);
  return Buffer.from(out);
}

/** The case that sends `bytes` as one text frame. */
function whole(id: string, title: string, bytes: Buffer): ConformanceCase {
  return {
    id,
    group: g,
    title,
    steps: [send(text(bytes))],
    expect: isValidUtf8Oracle(bytes) ? echoes(echoText(bytes)) : fails(1007),
  };
}

/**
 * The case that sends `pieces` as the frames of one text message, each followed by a probe:
 * the probes answered before the Close show the frame at which the connection failed.
 */
export function perFrame(id: string, title: string, pieces: Buffer[]): ConformanceCase {
  const steps: Step[] = [];
  pieces.forEach((piece, i) => {
    const last = i === pieces.length - 1;
    steps.push(send(i === 0 ? text(piece, last) : cont(piece, last)));
    steps.push({ probe: true });
  });
  const failing = failingPiece(pieces);
  const events: ExpectedEvent[] = [];
  if (failing === -1) {
    for (let n = 1; n < pieces.length; n++) events.push(probeAnswer(n));
    events.push(echoText(Buffer.concat(pieces)), probeAnswer(pieces.length));
    return { id, group: g, title, steps, expect: echoes(...events) };
  }
  for (let n = 1; n <= failing; n++) events.push(probeAnswer(n));
  return {
    id,
    group: g,
    title: `${title} (fails at frame ${failing + 1} of ${pieces.length})`,
    steps,
    expect: fails(1007, ...events),
  };
}

function vectorCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const counters = new Map<number, number>();
  for (const [sub, what, bytes] of VECTORS) {
    const k = (counters.get(sub) ?? 0) + 1;
    counters.set(sub, k);
    const id = `6.${sub}.${k}`;
    cases.push(whole(id, what, bytes));
    const embedded = Buffer.concat([Buffer.from('Hello '), bytes, Buffer.from(' world')]);
    cases.push(whole(`${id}.m`, `${what}, in the middle of a text`, embedded));
    if (bytes.length > 1) {
      const pieces = [...bytes].map((b) => Buffer.from([b]));
      cases.push(perFrame(`${id}.f`, `${what}, one byte per frame`, pieces));
    }
  }
  return cases;
}

const HELLO = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!');
const KOSME_EDITED = h('cebae1bdb9cf83cebcceb5eda080656469746564');
const KOSME = h('cebae1bdb9cf83cebcceb5');

function fixedCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [
    {
      id: '6.1.1',
      group: g,
      title: 'empty text message',
      steps: [send(text(''))],
      expect: echoes(echoText('')),
    },
    {
      id: '6.1.2',
      group: g,
      title: 'text message of 3 empty fragments',
      steps: [send(text('', false), cont('', false), cont(''))],
      expect: echoes(echoText('')),
    },
    {
      id: '6.1.3',
      group: g,
      title: 'text message of 3 fragments, first and last empty',
      steps: [send(text('', false), cont('middle frame payload', false), cont(''))],
      expect: echoes(echoText('middle frame payload')),
    },
    whole('6.2.1', 'valid UTF-8 text in one frame', HELLO),
    {
      id: '6.2.2',
      group: g,
      title: 'valid UTF-8 text in 2 fragments, split at a code point boundary',
      steps: [send(text(HELLO.subarray(0, 14), false), cont(HELLO.subarray(14)))],
      expect: echoes(echoText(HELLO)),
    },
    {
      id: '6.2.3',
      group: g,
      title: 'valid UTF-8 text in one frame, octet-wise',
      steps: [chopped(1, text(HELLO))],
      expect: echoes(echoText(HELLO)),
    },
    perFrame(
      '6.2.4',
      'valid UTF-8 text, one byte per frame',
      [...HELLO].map((b) => Buffer.from([b])),
    ),
    whole('6.3.1', 'invalid UTF-8 text (a surrogate in κόσμε-edited) in one frame', KOSME_EDITED),
    perFrame(
      '6.3.2',
      'invalid UTF-8 text, one byte per frame',
      [...KOSME_EDITED].map((b) => Buffer.from([b])),
    ),
    // 6.4: fail-fast. Each part is a frame followed by a probe.
    perFrame('6.4.1', 'fail-fast: valid frame, then a frame holding U+110000, then a valid frame', [
      KOSME,
      h('f4908080'),
      Buffer.from('edited'),
    ]),
    perFrame('6.4.2', 'fail-fast: κόσμε+f4, then 0x90, then the rest', [
      Buffer.concat([KOSME, h('f4')]),
      h('90'),
      Buffer.concat([h('8080'), Buffer.from('edited')]),
    ]),
  ];
  return cases;
}

/**
 * 6.4.3-6.4.5: one frame sent in timed pieces. A frame of up to 64 KiB is validated as a
 * whole, so for 6.4.3-6.4.4 the Close comes by the end of that frame at the latest; a larger
 * frame is validated as it streams in, so for 6.4.5 the Close must come before the frame
 * has been sent.
 */
function chopCases(): ConformanceCase[] {
  const invalid643 = Buffer.concat([KOSME, h('f4908080'), Buffer.from('edited')]);
  const invalid644 = Buffer.concat([KOSME, h('f490'), h('8080'), Buffer.from('edited')]);
  const big = Buffer.alloc(200 * 1024, 0x61);
  big[100] = 0xff;
  return [
    {
      id: '6.4.3',
      group: g,
      title: 'one frame in 3 chops 50 ms apart; the 2nd chop holds U+110000',
      steps: [{ frameChops: { frame: text(invalid643), cuts: [11, 15], pauseMs: 50 } }],
      expect: fails(1007),
    },
    {
      id: '6.4.4',
      group: g,
      title: 'one frame in 3 chops 50 ms apart; the 2nd chop is 0xf4 0x90',
      steps: [{ frameChops: { frame: text(invalid644), cuts: [11, 13], pauseMs: 50 } }],
      expect: fails(1007),
    },
    {
      id: '6.4.5',
      group: g,
      title:
        'fail-fast inside a frame: 200 KiB text frame with 0xff at byte 100, Close due before its second half is sent',
      steps: [
        {
          frameChops: { frame: text(big), cuts: [100 * 1024], pauseMs: 0, closeBeforeLast: true },
        },
      ],
      expect: fails(1007),
    },
  ];
}

export const utf8Group: ConformanceCase[] = [...fixedCases(), ...chopCases(), ...vectorCases()];
