/**
 * Groups 1 (framing), 2 (pings and pongs), 3 (reserved bits), 4 (reserved opcodes) and
 * 10 (miscellaneous), after Autobahn's case groups of the same numbers, plus our own
 * cases (numbered after Autobahn's in each group) for the boundaries they leave out.
 *
 * @see RFC 6455 §5.2 (framing), §5.5.2-§5.5.3 (ping, pong)
 */
import {
  binary,
  chopped,
  close,
  cont,
  echoBinary,
  echoes,
  echoText,
  f,
  fails,
  framewise,
  pattern,
  ping,
  pong,
  pongOf,
  send,
  stars,
  text,
} from './build.js';
import type { ConformanceCase } from './types.js';

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536] as const;

function framingCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  LENGTHS.forEach((n, i) => {
    cases.push({
      id: `1.1.${i + 1}`,
      group: 'Framing',
      title: `text message of ${n} bytes`,
      steps: [send(text(stars(n)))],
      expect: echoes(echoText(stars(n))),
    });
  });
  cases.push({
    id: '1.1.8',
    group: 'Framing',
    title: 'text message of 65536 bytes sent in chops of 997 bytes',
    steps: [chopped(997, text(stars(65536)))],
    expect: echoes(echoText(stars(65536))),
  });
  LENGTHS.forEach((n, i) => {
    const data = Buffer.alloc(n, 0xfe);
    cases.push({
      id: `1.2.${i + 1}`,
      group: 'Framing',
      title: `binary message of ${n} bytes`,
      steps: [send(binary(data))],
      expect: echoes(echoBinary(data)),
    });
  });
  cases.push({
    id: '1.2.8',
    group: 'Framing',
    title: 'binary message of 65536 bytes sent in chops of 997 bytes',
    steps: [chopped(997, binary(Buffer.alloc(65536, 0xfe)))],
    expect: echoes(echoBinary(Buffer.alloc(65536, 0xfe))),
  });
  // Ours: every length boundary of the three length forms, both types.
  const boundaries = [1, 124, 65534, 65537, 131072];
  boundaries.forEach((n, i) => {
    cases.push({
      id: `1.3.${i + 1}`,
      group: 'Framing',
      title: `text message of ${n} bytes`,
      steps: [send(text(stars(n, 'x')))],
      expect: echoes(echoText(stars(n, 'x'))),
    });
    cases.push({
      id: `1.4.${i + 1}`,
      group: 'Framing',
      title: `binary message of ${n} bytes`,
      steps: [send(binary(pattern(n)))],
      expect: echoes(echoBinary(pattern(n))),
    });
  });
  // Ours: non-minimal length encodings are accepted (RFC 6455 §5.2 prescribes no reaction).
  const nonMinimal: Array<[string, 16 | 64, number]> = [
    ['5 bytes in the 16-bit form', 16, 5],
    ['5 bytes in the 64-bit form', 64, 5],
    ['125 bytes in the 16-bit form', 16, 125],
    ['65535 bytes in the 64-bit form', 64, 65535],
  ];
  nonMinimal.forEach(([title, form, n], i) => {
    cases.push({
      id: `1.5.${i + 1}`,
      group: 'Framing',
      title: `text message of ${title} (non-minimal length, accepted)`,
      steps: [send({ ...text(stars(n)), lengthForm: form })],
      expect: echoes(echoText(stars(n))),
    });
  });
  // Ours: masking by role. RFC 6455 §5.1: a server fails an unmasked frame, a client a masked one.
  cases.push({
    id: '1.6.1',
    group: 'Framing',
    title: 'unmasked text frame from the client',
    sides: ['server'],
    steps: [{ send: [text('Hello')], wrongMask: true }],
    expect: fails(1002),
  });
  cases.push({
    id: '1.6.2',
    group: 'Framing',
    title: 'text message, then an unmasked ping from the client',
    sides: ['server'],
    steps: [send(text('Hello')), { send: [ping('x')], wrongMask: true }],
    expect: fails(1002, echoText('Hello')),
  });
  cases.push({
    id: '1.6.3',
    group: 'Framing',
    title: 'masked text frame from the server',
    sides: ['client'],
    steps: [{ send: [text('Hello')], wrongMask: true }],
    expect: fails(1002),
  });
  cases.push({
    id: '1.6.4',
    group: 'Framing',
    title: 'text message, then a masked close from the server',
    sides: ['client'],
    steps: [send(text('Hello')), { send: [close(1000)], wrongMask: true }],
    expect: fails(1002, echoText('Hello')),
  });
  return cases;
}

function pingCases(): ConformanceCase[] {
  const g = 'Pings and pongs';
  const binaryPayload = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
  const tenPings = Array.from({ length: 10 }, (_, i) => ping(`payload-${i}`));
  const tenPongs = Array.from({ length: 10 }, (_, i) => pongOf(`payload-${i}`));
  const cases: ConformanceCase[] = [
    {
      id: '2.1',
      group: g,
      title: 'ping without payload',
      steps: [send(ping())],
      expect: echoes(pongOf()),
    },
    {
      id: '2.2',
      group: g,
      title: 'ping with a small text payload',
      steps: [send(ping('Hello, world!'))],
      expect: echoes(pongOf('Hello, world!')),
    },
    {
      id: '2.3',
      group: g,
      title: 'ping with a small binary payload',
      steps: [send(ping(binaryPayload))],
      expect: echoes(pongOf(binaryPayload)),
    },
    {
      id: '2.4',
      group: g,
      title: 'ping with a 125-byte payload',
      steps: [send(ping(Buffer.alloc(125, 0xfe)))],
      expect: echoes(pongOf(Buffer.alloc(125, 0xfe))),
    },
    {
      id: '2.5',
      group: g,
      title: 'ping with a 126-byte payload',
      steps: [send(ping(Buffer.alloc(126, 0xfe)))],
      expect: fails(1002),
    },
    {
      id: '2.6',
      group: g,
      title: 'ping with a 125-byte payload, sent octet-wise',
      steps: [chopped(1, ping(Buffer.alloc(125, 0xfe)))],
      expect: echoes(pongOf(Buffer.alloc(125, 0xfe))),
    },
    {
      id: '2.7',
      group: g,
      title: 'unsolicited pong without payload',
      steps: [send(pong())],
      expect: echoes(),
    },
    {
      id: '2.8',
      group: g,
      title: 'unsolicited pong with payload',
      steps: [send(pong('unsolicited pong payload'))],
      expect: echoes(),
    },
    {
      id: '2.9',
      group: g,
      title: 'unsolicited pong, then a ping',
      steps: [send(pong('unsolicited pong payload'), ping('ping payload'))],
      expect: echoes(pongOf('ping payload')),
    },
    {
      id: '2.10',
      group: g,
      title: '10 pings back to back',
      steps: [send(...tenPings)],
      expect: echoes(...tenPongs),
    },
    {
      id: '2.11',
      group: g,
      title: '10 pings, sent octet-wise',
      steps: [chopped(1, ...tenPings)],
      expect: echoes(...tenPongs),
    },
  ];
  // Ours: every payload size a ping may have, 0..125, each answered with its own payload.
  for (let n = 0; n <= 125; n++) {
    const payload = pattern(n, n);
    cases.push({
      id: `2.12.${n}`,
      group: g,
      title: `ping with a ${n}-byte payload`,
      steps: [send(ping(payload))],
      expect: echoes(pongOf(payload)),
    });
  }
  cases.push(
    {
      id: '2.13.1',
      group: g,
      title: 'ping of 5 bytes in the 16-bit length form (control frames take the 7-bit form)',
      steps: [send({ ...ping('12345'), lengthForm: 16 })],
      expect: fails(1002),
    },
    {
      id: '2.13.2',
      group: g,
      title: 'ping announcing 65536 bytes in the 64-bit form',
      steps: [send({ ...ping(''), lengthForm: 64, rawLength: 65536n })],
      expect: fails(1002),
    },
    {
      id: '2.13.3',
      group: g,
      title: 'pong with a 126-byte payload',
      steps: [send(pong(Buffer.alloc(126, 1)))],
      expect: fails(1002),
    },
    {
      id: '2.13.4',
      group: g,
      title: 'ping between every fragment of a 5-fragment message',
      steps: [
        send(
          text('a', false),
          ping('1'),
          cont('b', false),
          ping('2'),
          cont('c', false),
          ping('3'),
          cont('d', false),
          ping('4'),
          cont('e'),
        ),
      ],
      expect: echoes(pongOf('1'), pongOf('2'), pongOf('3'), pongOf('4'), echoText('abcde')),
    },
  );
  return cases;
}

function reservedBitCases(): ConformanceCase[] {
  const g = 'Reserved bits';
  const m = 'Hello, world!';
  return [
    {
      id: '3.1',
      group: g,
      title: 'text message with RSV = 1',
      steps: [send(text(m, true, 1))],
      expect: fails(1002),
    },
    {
      id: '3.2',
      group: g,
      title: 'text, then text with RSV = 2, then ping',
      steps: [send(text(m), text(m, true, 2), ping(m))],
      expect: fails(1002, echoText(m)),
    },
    {
      id: '3.3',
      group: g,
      title: 'text, then text with RSV = 3, then ping, sent octet-wise',
      steps: [chopped(1, text(m), text(m, true, 3), ping(m))],
      expect: fails(1002, echoText(m)),
    },
    {
      id: '3.4',
      group: g,
      title: 'text, then text with RSV = 4, then ping, sent frame-wise',
      steps: framewise(10, text(m), text(m, true, 4), ping(m)),
      expect: fails(1002, echoText(m)),
    },
    {
      id: '3.5',
      group: g,
      title: 'binary message with RSV = 5',
      steps: [send(binary(pattern(8), true, 5))],
      expect: fails(1002),
    },
    {
      id: '3.6',
      group: g,
      title: 'ping with RSV = 6',
      steps: [send(f(0x9, m, true, 6))],
      expect: fails(1002),
    },
    {
      id: '3.7',
      group: g,
      title: 'close with RSV = 7',
      steps: [send({ ...close(1000), rsv1: true, rsv2: true, rsv3: true })],
      expect: fails(1002),
    },
    {
      id: '3.8',
      group: g,
      title: 'continuation frame with RSV = 4',
      steps: [send(text('frag', false), cont('ment', true, 4))],
      expect: fails(1002),
    },
    {
      id: '3.9',
      group: g,
      title: 'pong with RSV = 4',
      steps: [send(f(0xa, '', true, 4))],
      expect: fails(1002),
    },
  ];
}

function reservedOpcodeCases(): ConformanceCase[] {
  const g = 'Reserved opcodes';
  const m = 'Hello, world!';
  const cases: ConformanceCase[] = [];
  const groups: Array<[number, readonly number[]]> = [
    [1, [3, 4, 5, 6, 7]],
    [2, [11, 12, 13, 14, 15]],
  ];
  for (const [sub, opcodes] of groups) {
    const kind = sub === 1 ? 'non-control' : 'control';
    const [a, b, c, d, e] = opcodes as [number, number, number, number, number];
    cases.push(
      {
        id: `4.${sub}.1`,
        group: g,
        title: `reserved ${kind} opcode ${a}, no payload`,
        steps: [send(f(a))],
        expect: fails(1002),
      },
      {
        id: `4.${sub}.2`,
        group: g,
        title: `reserved ${kind} opcode ${b} with payload`,
        steps: [send(f(b, 'reserved opcode payload'))],
        expect: fails(1002),
      },
      {
        id: `4.${sub}.3`,
        group: g,
        title: `text, reserved ${kind} opcode ${c}, ping`,
        steps: [send(text(m), f(c), ping(m))],
        expect: fails(1002, echoText(m)),
      },
      {
        id: `4.${sub}.4`,
        group: g,
        title: `text, reserved ${kind} opcode ${d} with payload, ping, frame-wise`,
        steps: framewise(10, text(m), f(d, 'reserved opcode payload'), ping(m)),
        expect: fails(1002, echoText(m)),
      },
      {
        id: `4.${sub}.5`,
        group: g,
        title: `text, reserved ${kind} opcode ${e} with payload, ping, octet-wise`,
        steps: [chopped(1, text(m), f(e, 'reserved opcode payload'), ping(m))],
        expect: fails(1002, echoText(m)),
      },
    );
  }
  return cases;
}

function miscCases(): ConformanceCase[] {
  const frames = [];
  const data = stars(65536);
  for (let at = 0; at < data.length; at += 1300) {
    const piece = data.slice(at, at + 1300);
    frames.push(at === 0 ? text(piece, false) : cont(piece, at + 1300 >= data.length));
  }
  return [
    {
      id: '10.1.1',
      group: 'Miscellaneous',
      title: 'text message of 65536 bytes in fragments of 1300 bytes',
      steps: [send(...frames)],
      expect: echoes(echoText(data)),
    },
  ];
}

export const framingGroups: ConformanceCase[] = [
  ...framingCases(),
  ...pingCases(),
  ...reservedBitCases(),
  ...reservedOpcodeCases(),
  ...miscCases(),
];
