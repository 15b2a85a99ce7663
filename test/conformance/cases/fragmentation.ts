/**
 * Group 5 (fragmentation), after Autobahn's cases 5.1-5.20, plus ours from 5.21 on:
 * interleaved messages, empty fragments, control frames between every fragment.
 *
 * @see RFC 6455 §5.4 (fragmentation), §5.5 (control frames are never fragmented)
 */
import {
  answersClose,
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
  text,
} from './build.js';
import type { ConformanceCase } from './types.js';

const g = 'Fragmentation';
const HW = 'Hello, world!';

/** Frame-wise sending: each frame its own write, 10 ms apart (Autobahn's "sync" mode). */
const PAUSE = 10;

export const fragmentationGroup: ConformanceCase[] = [
  {
    id: '5.1',
    group: g,
    title: 'ping in 2 fragments',
    steps: [send(f(0x9, 'fragment1', false), cont('fragment2'))],
    expect: fails(1002),
  },
  {
    id: '5.2',
    group: g,
    title: 'pong in 2 fragments',
    steps: [send(f(0xa, 'fragment1', false), cont('fragment2'))],
    expect: fails(1002),
  },
  {
    id: '5.3',
    group: g,
    title: 'text message in 2 fragments',
    steps: [send(text('fragment1', false), cont('fragment2'))],
    expect: echoes(echoText('fragment1fragment2')),
  },
  {
    id: '5.4',
    group: g,
    title: 'text message in 2 fragments, frame-wise',
    steps: framewise(PAUSE, text('fragment1', false), cont('fragment2')),
    expect: echoes(echoText('fragment1fragment2')),
  },
  {
    id: '5.5',
    group: g,
    title: 'text message in 2 fragments, octet-wise',
    steps: [chopped(1, text('fragment1', false), cont('fragment2'))],
    expect: echoes(echoText('fragment1fragment2')),
  },
  {
    id: '5.6',
    group: g,
    title: 'text message in 2 fragments with a ping in between',
    steps: [send(text('fragment1', false), ping('ping payload'), cont('fragment2'))],
    expect: echoes(pongOf('ping payload'), echoText('fragment1fragment2')),
  },
  {
    id: '5.7',
    group: g,
    title: 'text message in 2 fragments with a ping in between, frame-wise',
    steps: framewise(PAUSE, text('fragment1', false), ping('ping payload'), cont('fragment2')),
    expect: echoes(pongOf('ping payload'), echoText('fragment1fragment2')),
  },
  {
    id: '5.8',
    group: g,
    title: 'text message in 2 fragments with a ping in between, octet-wise',
    steps: [chopped(1, text('fragment1', false), ping('ping payload'), cont('fragment2'))],
    expect: echoes(pongOf('ping payload'), echoText('fragment1fragment2')),
  },
  {
    id: '5.9',
    group: g,
    title: 'final continuation without a message, then a text message',
    steps: [send(cont('non-continuation payload'), text(HW))],
    expect: fails(1002),
  },
  {
    id: '5.10',
    group: g,
    title: 'final continuation without a message, then a text message, frame-wise',
    steps: framewise(PAUSE, cont('non-continuation payload'), text(HW)),
    expect: fails(1002),
  },
  {
    id: '5.11',
    group: g,
    title: 'final continuation without a message, then a text message, octet-wise',
    steps: [chopped(1, cont('non-continuation payload'), text(HW))],
    expect: fails(1002),
  },
  {
    id: '5.12',
    group: g,
    title: 'non-final continuation without a message, then a text message',
    steps: [send(cont('non-continuation payload', false), text(HW))],
    expect: fails(1002),
  },
  {
    id: '5.13',
    group: g,
    title: 'non-final continuation without a message, then a text message, frame-wise',
    steps: framewise(PAUSE, cont('non-continuation payload', false), text(HW)),
    expect: fails(1002),
  },
  {
    id: '5.14',
    group: g,
    title: 'non-final continuation without a message, then a text message, octet-wise',
    steps: [chopped(1, cont('non-continuation payload', false), text(HW))],
    expect: fails(1002),
  },
  {
    id: '5.15',
    group: g,
    title: 'text in 2 fragments, then a continuation with nothing to continue, then text',
    steps: [
      send(
        text('fragment1', false),
        cont('fragment2'),
        cont('fragment3', false),
        text('fragment4'),
      ),
    ],
    expect: fails(1002, echoText('fragment1fragment2')),
  },
  {
    id: '5.16',
    group: g,
    title: '2x (non-final continuation without a message, text in 2 fragments)',
    steps: [
      send(
        cont('fragment1', false),
        text('fragment2', false),
        cont('fragment3'),
        cont('fragment1', false),
        text('fragment2', false),
        cont('fragment3'),
      ),
    ],
    expect: fails(1002),
  },
  {
    id: '5.17',
    group: g,
    title: '2x (final continuation without a message, text in 2 fragments)',
    steps: [
      send(
        cont('fragment1'),
        text('fragment2', false),
        cont('fragment3'),
        cont('fragment1'),
        text('fragment2', false),
        cont('fragment3'),
      ),
    ],
    expect: fails(1002),
  },
  {
    id: '5.18',
    group: g,
    title: 'text message in 2 fragments, both with the text opcode',
    steps: [send(text('fragment1', false), text('fragment2'))],
    expect: fails(1002),
  },
  {
    id: '5.19',
    group: g,
    title: 'text in 5 fragments with 2 pings between, a pause in the middle',
    steps: [
      send(text('fragment1', false), cont('fragment2', false), ping('pongme 1!')),
      { delay: 200 },
      send(
        cont('fragment3', false),
        cont('fragment4', false),
        ping('pongme 2!'),
        cont('fragment5'),
      ),
    ],
    expect: echoes(
      pongOf('pongme 1!'),
      pongOf('pongme 2!'),
      echoText('fragment1fragment2fragment3fragment4fragment5'),
    ),
  },
  {
    id: '5.20',
    group: g,
    title: 'as 5.19, frame-wise',
    steps: [
      ...framewise(PAUSE, text('fragment1', false), cont('fragment2', false), ping('pongme 1!')),
      { awaitEvents: 1 },
      { delay: 200 },
      ...framewise(
        PAUSE,
        cont('fragment3', false),
        cont('fragment4', false),
        ping('pongme 2!'),
        cont('fragment5'),
      ),
    ],
    expect: echoes(
      pongOf('pongme 1!'),
      pongOf('pongme 2!'),
      echoText('fragment1fragment2fragment3fragment4fragment5'),
    ),
  },
  // Ours.
  {
    id: '5.21',
    group: g,
    title: 'interleaved messages: text fragment, then a whole binary message',
    steps: [send(text('fragment1', false), binary(pattern(4)))],
    expect: fails(1002),
  },
  {
    id: '5.22',
    group: g,
    title: 'interleaved messages: binary fragment, then a text fragment',
    steps: [send(binary(pattern(4), false), text('x', false), cont('y'))],
    expect: fails(1002),
  },
  {
    id: '5.23',
    group: g,
    title: 'binary message in 3 fragments',
    steps: [send(binary(pattern(10), false), cont(pattern(10, 1), false), cont(pattern(10, 2)))],
    expect: echoes(echoBinary(Buffer.concat([pattern(10), pattern(10, 1), pattern(10, 2)]))),
  },
  {
    id: '5.24',
    group: g,
    title: 'text message of empty fragments around one byte',
    steps: [send(text('', false), cont('', false), cont('a', false), cont('', false), cont(''))],
    expect: echoes(echoText('a')),
  },
  {
    id: '5.25',
    group: g,
    title: 'binary message made only of empty fragments',
    steps: [send(binary('', false), cont('', false), cont(''))],
    expect: echoes(echoBinary(Buffer.alloc(0))),
  },
  {
    id: '5.26',
    group: g,
    title: 'unsolicited pong and ping between fragments',
    steps: [send(text('a', false), pong('p'), cont('b', false), ping('q'), cont('c'))],
    expect: echoes(pongOf('q'), echoText('abc')),
  },
  {
    id: '5.27',
    group: g,
    title: 'Close in the middle of a fragmented message (message dropped)',
    steps: [send(text('fragment1', false), close(1000), cont('fragment2'))],
    expect: answersClose(1000),
  },
  {
    id: '5.28',
    group: g,
    title: 'two fragmented messages back to back, text then binary',
    steps: [send(text('ab', false), cont('cd'), binary(pattern(3), false), cont(pattern(3, 9)))],
    expect: echoes(echoText('abcd'), echoBinary(Buffer.concat([pattern(3), pattern(3, 9)]))),
  },
  {
    id: '5.29',
    group: g,
    title: 'continuation after a complete message',
    steps: [send(text('whole'), cont('more'))],
    expect: fails(1002, echoText('whole')),
  },
];
