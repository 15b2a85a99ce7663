import type { ClientOptions } from '../client.js';
import {
  type CommandSpec,
  duration,
  expectPositionals,
  flag,
  type OptionValues,
  parseCommandArgs,
  renderHelp,
  text,
} from './args.js';
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
import { type HeartbeatOptions, parseCloseCode } from './session.js';

/** `wsdx connect`'s arguments. */
export const CONNECT_SPEC: CommandSpec = {
  name: 'connect',
  summary:
    'Connects to a WebSocket server. On a terminal: an interactive prompt. In a pipe: stdin\n' +
    'becomes messages and messages go to stdout, undecorated.',
  positionals: [{ name: 'URL', help: 'ws://, wss:// or ws+unix:/path/to.sock:/resource' }],
  options: [
    ...FRAMING_OPTIONS,
    ...CLIENT_HANDSHAKE_OPTIONS,
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
      name: 'close-code',
      type: 'string',
      value: 'CODE',
      help: 'close with this code at the end of input (default 1000)',
    },
    { name: 'close-reason', type: 'string', value: 'TEXT', help: 'close with this reason text' },
    COMPRESS_OPTION,
    {
      name: 'timeout',
      short: 't',
      type: 'string',
      value: 'DURATION',
      help: 'time allowed to connect, TLS and handshake included (default 10s)',
    },
    {
      name: 'linger',
      type: 'string',
      value: 'DURATION',
      help: 'in a pipe, after the end of input, wait until nothing has arrived for this long before closing (default 1s)',
    },
    {
      name: 'reconnect',
      short: 'r',
      type: 'boolean',
      help: 'connect again when the connection drops (backoff 0.5s to 8s, 10 tries in a row)',
    },
  ],
  notes: [
    'Durations are seconds (10, 2.5) or carry a unit (500ms, 2s, 1m).',
    'Interactive commands: /ping [TEXT], /close [CODE [REASON]], /binary FILE, /help;\n' +
      'start a line with // to send a text that begins with /. Ctrl-D closes (1000).',
    "Exit status: 0 clean close (ours, or the peer's with 1000, 1001 or no code); 1 the peer\n" +
      'closed with another code; 2 bad arguments; 3 could not connect; 4 handshake refused;\n' +
      '5 connection lost (no closing handshake, no pong); 130 interrupted.',
  ],
  examples: [
    'wsdx connect ws://127.0.0.1:8080/',
    'echo \'{"op":"subscribe"}\' | wsdx connect wss://example.com/feed -s feed.v1 > feed.jsonl',
    'wsdx connect --binary ws://127.0.0.1:8080/ < image.png > echoed.png',
    "wsdx connect -H 'Authorization: Bearer TOKEN' --ping-interval 10 --ping-timeout 5 wss://example.com/",
  ],
};

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
  linger: number;
}

/** Runs `wsdx connect`: an interactive prompt on a terminal, a pipe otherwise. */
export async function runConnect(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(CONNECT_SPEC, argv);
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(CONNECT_SPEC));
    return 0;
  }
  const [url] = expectPositionals(CONNECT_SPEC, positionals);
  const settings = connectSettings(url!, values);
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  return interactive ? runInteractive(settings) : runPipe(settings);
}

/** Checks the options of `wsdx connect` and resolves their defaults. */
export function connectSettings(url: string, values: OptionValues): ConnectSettings {
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
  return {
    url,
    client: clientOptionsFrom(values, duration(values, 'timeout')),
    framing,
    binary,
    heartbeat: { interval, timeout },
    showControl: flag(values, 'show-control'),
    closeCode: closeCodeText === undefined ? 1000 : parseCloseCode(closeCodeText, '--close-code'),
    closeReason,
    reconnect,
    linger: duration(values, 'linger', true) ?? 1000,
  };
}
