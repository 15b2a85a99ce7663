import { fstatSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { ClientOptions } from '../client.js';
import {
  type CommandSpec,
  DURATION_PATTERN,
  duration,
  expectPositionals,
  flag,
  list,
  type OptionValues,
  parseCommandArgs,
  renderHelp,
  text,
} from './args.js';
import { withScheme } from './command-line.js';
import { runInteractive } from './connect-interactive.js';
import { runPipe } from './connect-pipe.js';
import { UsageError } from './errors.js';
import {
  CLIENT_HANDSHAKE_OPTIONS,
  COMPRESS_OPTION,
  clientOptionsFrom,
  FRAMING_OPTIONS,
  framingOf,
} from './options.js';
import { note } from './output.js';
import { type HeartbeatOptions, parseCloseCode } from './session.js';

/** `wsdx connect`'s arguments. */
export const CONNECT_SPEC: CommandSpec = {
  name: 'connect',
  summary:
    'Connects to a WebSocket server. On a terminal: an interactive prompt. In a pipe: stdin\n' +
    'becomes messages and messages go to stdout, undecorated. `wsdx URL` is the same.',
  positionals: [
    {
      name: 'URL',
      help: 'ws://, wss:// or ws+unix:/path/to.sock:/resource; ws:// is added to HOST:PORT[/PATH]',
    },
  ],
  options: [
    ...FRAMING_OPTIONS,
    ...CLIENT_HANDSHAKE_OPTIONS,
    {
      name: 'execute',
      short: 'x',
      type: 'string',
      multiple: true,
      value: 'TEXT',
      help: 'send TEXT as a message instead of reading stdin (repeatable), then close as at the end of input (wscat)',
    },
    {
      name: 'one-message',
      short: '1',
      type: 'boolean',
      help: 'send at most one message, and close after the first message received (websocat)',
    },
    {
      name: 'exit-on-eof',
      short: 'E',
      type: 'boolean',
      help: 'close as soon as the input ends, without waiting for answers (websocat)',
    },
    {
      name: 'wait',
      short: 'w',
      type: 'string',
      value: 'DURATION',
      help: 'after the end of input, stay this long whatever arrives, then close (wscat); inf: until the peer closes',
    },
    {
      name: 'linger',
      type: 'string',
      value: 'DURATION',
      help: 'after the end of input, close once nothing has come or gone for this long (default 1s); inf or never: stay until the peer closes',
    },
    {
      name: 'no-close',
      type: 'boolean',
      help: 'at the end of input, stay until the peer closes (websocat; the same as --linger inf)',
    },
    { name: 'ping-interval', type: 'string', value: 'DURATION', help: 'send a ping this often' },
    {
      name: 'ping-timeout',
      type: 'string',
      value: 'DURATION',
      help: 'give up (exit 5) when a pong takes longer (needs --ping-interval)',
    },
    {
      name: 'show-control',
      type: 'boolean',
      help: 'show the agreed subprotocol and extensions, pings, pongs and close codes (on stderr in a pipe)',
    },
    {
      name: 'show-ping-pong',
      short: 'P',
      type: 'boolean',
      help: 'the same as --show-control (wscat)',
    },
    {
      name: 'verbose',
      short: 'v',
      type: 'boolean',
      multiple: true,
      help: 'the same as --show-control (websocat; -vv too)',
    },
    {
      name: 'close-code',
      type: 'string',
      value: 'CODE',
      help: 'close with this code at the end of input (default 1000)',
    },
    { name: 'close-reason', type: 'string', value: 'TEXT', help: 'close with this reason text' },
    COMPRESS_OPTION,
    {
      name: 'timeout',
      type: 'string',
      value: 'DURATION',
      help: 'time allowed to connect, proxy, TLS and handshake included (default 10s)',
    },
    {
      name: 'reconnect',
      short: 'r',
      type: 'boolean',
      help: 'connect again when the connection drops (backoff 0.5s to 8s, 10 tries in a row)',
    },
    { name: 'no-color', type: 'boolean', help: 'no colors on a terminal (as NO_COLOR=1)' },
  ],
  notes: [
    'Durations are seconds (10, 2.5) or carry a unit (500ms, 2s, 1m, 1h).',
    'At the end of input (in a pipe), wsdx waits until nothing has come or gone for --linger\n' +
      '(1s), or exactly --wait, and closes: WebSocket has no half-close. It stays connected,\n' +
      'reading until the peer closes, with --linger inf, --wait inf or --no-close, and when\n' +
      'stdin is /dev/null or another device that is not a terminal (wsdx URL < /dev/null reads\n' +
      'a feed). -E closes at once; -1 closes after the first message received.',
    'Interactive commands: /ping [TEXT], /close [CODE [REASON]], /binary FILE, /help;\n' +
      'start a line with // to send a text that begins with /. Ctrl-D closes (1000).',
    'The proxy: --proxy URL, or HTTPS_PROXY (wss:), HTTP_PROXY (ws:) and NO_PROXY from the\n' +
      'environment unless --proxy none.',
    "Exit status: 0 clean close (ours, or the peer's with 1000, 1001 or no code); 1 the peer\n" +
      'closed with another code; 2 bad arguments; 3 could not connect (network, TLS, proxy);\n' +
      '4 handshake refused; 5 connection lost (no closing handshake, no pong); 130 interrupted.',
  ],
  examples: [
    'wsdx connect ws://127.0.0.1:8080/',
    'wsdx 127.0.0.1:8080                      (the same, as wscat -c and websocat)',
    'echo \'{"op":"subscribe"}\' | wsdx wss://example.com/feed -s feed.v1 > feed.jsonl',
    'wsdx wss://example.com/feed < /dev/null  (read until the server closes)',
    'wsdx -x \'{"op":"ping"}\' -w 2 ws://127.0.0.1:8080/',
    'wsdx connect --binary ws://127.0.0.1:8080/ < image.png > echoed.png',
    "wsdx connect -H 'Authorization: Bearer TOKEN' --ping-interval 10 --ping-timeout 5 wss://example.com/",
  ],
  foreignOptions: {
    '-p': "wscat's protocol version: 13 is the only one, nothing to choose",
    '--slash': 'slash commands (/ping, /close...) are always on at the interactive prompt',
    '-u': "websocat's one-way modes: stdin and stdout are both always connected",
    '-U': "websocat's one-way modes: stdin and stdout are both always connected",
    '--host': "use -H 'Host: NAME' to send another Host header",
    '-q': 'wsdx is quiet in a pipe already: only errors go to stderr',
  },
};

/** Where the messages to send come from. */
export type InputSource =
  | { kind: 'stdin' }
  /** -x TEXT: these messages, then the end of input. */
  | { kind: 'messages'; messages: string[] }
  /** stdin is /dev/null (or another non-terminal device): nothing to send. */
  | { kind: 'none' };

/** What ends a session in a pipe, once the input has ended. */
export type Ending =
  /** Close once quiet for this many ms (0: at once). */
  | { kind: 'linger'; ms: number }
  /** Close after exactly this many ms. */
  | { kind: 'wait'; ms: number }
  /** Never close ourselves: read until the peer closes. */
  | { kind: 'stay' }
  /** Close after the first message received (-1). */
  | { kind: 'first-message' };

/** Everything `wsdx connect` was asked to do, checked. */
export interface ConnectSettings {
  url: string;
  client: ClientOptions;
  framing: 'lines' | 'binary' | 'message';
  binary: boolean;
  heartbeat: HeartbeatOptions;
  showControl: boolean;
  closeCode: number;
  closeReason: string;
  reconnect: boolean;
  input: InputSource;
  ending: Ending;
  /** Send at most one message (-1). */
  oneMessage: boolean;
  /** The --ca file, for the advice in TLS errors. */
  caFile: string | undefined;
}

/** Runs `wsdx connect`: an interactive prompt on a terminal, a pipe otherwise. */
export async function runConnect(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(CONNECT_SPEC, oldTimeoutSpelling(argv));
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(CONNECT_SPEC));
    return 0;
  }
  const [url] = expectPositionals(CONNECT_SPEC, positionals);
  const settings = connectSettings(url!, values, stdinIsDevice());
  // --no-color is wscat's: the same switch as NO_COLOR, which the terminal views read.
  if (flag(values, 'no-color')) process.env.NO_COLOR = '1';
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const interactive = terminal && settings.input.kind === 'stdin' && !settings.oneMessage;
  return interactive ? runInteractive(settings) : runPipe(settings);
}

/**
 * Reads the `-t DURATION` of the previous release (the time allowed to connect) as
 * --timeout, with a note: -t is websocat's --text now. Kept for one release.
 */
function oldTimeoutSpelling(argv: readonly string[]): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length - 1; i++) {
    if (out[i] === '--') break;
    if (out[i] === '-t' && DURATION_PATTERN.test(out[i + 1]!)) {
      out[i] = '--timeout';
      note('-t is --text now (as in websocat): the time allowed to connect is --timeout');
    }
  }
  return out;
}

/**
 * Tells whether stdin is /dev/null or another device that is not a terminal (or is
 * closed): then there is nothing to send, and the session reads until the peer closes,
 * rather than closing on an input that ended before it began.
 */
function stdinIsDevice(): boolean {
  try {
    return fstatSync(0).isCharacterDevice() && !isatty(0);
  } catch {
    return true;
  }
}

/** Checks the options of `wsdx connect` and resolves their defaults. */
export function connectSettings(
  url: string,
  values: OptionValues,
  stdinIsNull = false,
): ConnectSettings {
  const { framing, binary } = framingOf(values);
  const interval = duration(values, 'ping-interval');
  const timeout = duration(values, 'ping-timeout');
  if (timeout !== undefined && interval === undefined) {
    throw new UsageError('--ping-timeout needs --ping-interval (how often to ping)');
  }
  const reconnect = flag(values, 'reconnect');
  if (reconnect && framing === 'message') {
    throw new UsageError('--reconnect cannot resume a --message cut short: use one or the other');
  }
  const closeCodeText = text(values, 'close-code');
  const closeReason = text(values, 'close-reason') ?? '';
  if (Buffer.byteLength(closeReason) > 123) {
    throw new UsageError('--close-reason is limited to 123 bytes of UTF-8');
  }
  const executed = list(values, 'execute');
  if (executed.length > 0 && framing === 'message') {
    throw new UsageError('-x sends its own messages: it does not combine with --message');
  }
  const input: InputSource =
    executed.length > 0
      ? { kind: 'messages', messages: executed }
      : stdinIsNull
        ? { kind: 'none' }
        : { kind: 'stdin' };
  const oneMessage = flag(values, 'one-message');
  return {
    url: withScheme(url),
    client: clientOptionsFrom(values, duration(values, 'timeout')),
    framing,
    binary,
    heartbeat: { interval, timeout },
    showControl:
      flag(values, 'show-control') ||
      flag(values, 'show-ping-pong') ||
      values.verbose !== undefined,
    closeCode: closeCodeText === undefined ? 1000 : parseCloseCode(closeCodeText, '--close-code'),
    closeReason,
    reconnect,
    input,
    ending: endingOf(values, input, oneMessage),
    oneMessage,
    caFile: text(values, 'ca'),
  };
}

/** Decides what closes the session once the input has ended (see the notes of --help). */
function endingOf(values: OptionValues, input: InputSource, oneMessage: boolean): Ending {
  const linger = duration(values, 'linger', { zero: true, forever: true });
  const wait = duration(values, 'wait', { zero: true, forever: true });
  const exitOnEof = flag(values, 'exit-on-eof');
  const noClose = flag(values, 'no-close');
  const chosen = [
    linger === undefined ? undefined : '--linger',
    wait === undefined ? undefined : '--wait',
    exitOnEof ? '-E' : undefined,
    noClose ? '--no-close' : undefined,
    oneMessage ? '-1' : undefined,
  ].filter((name) => name !== undefined);
  if (chosen.length > 1) throw new UsageError(`choose one of ${chosen.join(', ')}`);
  if (oneMessage) return { kind: 'first-message' };
  if (noClose || linger === Number.POSITIVE_INFINITY || wait === Number.POSITIVE_INFINITY) {
    return { kind: 'stay' };
  }
  if (exitOnEof) return { kind: 'linger', ms: 0 };
  if (wait !== undefined) return { kind: 'wait', ms: wait };
  if (linger !== undefined) return { kind: 'linger', ms: linger };
  if (input.kind === 'none') return { kind: 'stay' };
  return { kind: 'linger', ms: 1000 };
}
