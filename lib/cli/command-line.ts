/**
 * The command a command line asks for, when it does not start with one: the spellings of
 * wscat and websocat, which people type out of habit, map to a wsdx command with the same
 * meaning, so that the first try works.
 */
export interface CommandLine {
  /** The wsdx command to run. */
  command: string;
  /** Its arguments. */
  argv: string[];
}

/** Options at the top level that name the command, and take its main argument. */
const COMMAND_OPTIONS: Readonly<Record<string, string>> = {
  '-c': 'connect',
  '--connect': 'connect',
  '-l': 'listen',
  '--listen': 'listen',
  '--server-mode': 'listen',
};

/** websocat's listening address forms: ws-l:HOST:PORT (and l-ws:, ws-listen:). */
const WEBSOCAT_LISTEN = /^(?:ws-l|l-ws|ws-listen):(.+)$/;

/**
 * Reads the command from a command line that does not start with one of wsdx's commands:
 * - `-c URL`, `--connect URL` (wscat): connect; `-l PORT`, `--listen PORT` (wscat): listen;
 * - `-s PORT` or `--server-mode PORT` first (websocat's simple server): listen;
 * - `ws-l:HOST:PORT [mirror: | sh-c:CMD | cmd:CMD | -]` (websocat): listen, with --echo or
 *   --exec CMD;
 * - a WebSocket URL anywhere (`wsdx ws://host/`, `wsdx -b wss://host/`), or first a URL
 *   without a scheme (`wsdx 127.0.0.1:8080`, `wsdx localhost:8080/chat`): connect.
 * Returns undefined when it is none of these (an unknown command).
 *
 * @example commandLineOf(['-c', 'ws://x/', '-s', 'chat']) // { command: 'connect', argv: ['ws://x/', '-s', 'chat'] }
 */
export function commandLineOf(argv: readonly string[]): CommandLine | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    const command = COMMAND_OPTIONS[name];
    if (command === undefined) continue;
    if (name === '--server-mode' && i !== 0) continue;
    const value = name === arg ? argv[i + 1] : arg.slice(eq + 1);
    if (value === undefined || (value.startsWith('-') && name === arg)) continue;
    const rest = [...argv.slice(0, i), ...argv.slice(i + (name === arg ? 2 : 1))];
    return { command, argv: [value, ...rest] };
  }
  if (argv[0] === '-s' && argv[1] !== undefined && isListenAddress(argv[1])) {
    return { command: 'listen', argv: [argv[1], ...argv.slice(2)] };
  }
  const listenAt = argv.findIndex((arg) => WEBSOCAT_LISTEN.test(arg));
  if (listenAt !== -1) return websocatListen(argv, listenAt);
  if (argv.some(hasWebSocketScheme)) return { command: 'connect', argv: [...argv] };
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-') && looksLikeUrl(first)) {
    return { command: 'connect', argv: [...argv] };
  }
  return undefined;
}

function websocatListen(argv: readonly string[], at: number): CommandLine {
  const address = WEBSOCAT_LISTEN.exec(argv[at]!)![1]!;
  const rest = [...argv.slice(0, at), ...argv.slice(at + 1)];
  const target = rest.findIndex(
    (arg) => arg === 'mirror:' || arg === '-' || /^(?:sh-c|cmd|exec):/.test(arg),
  );
  const mode: string[] = [];
  if (target !== -1) {
    const spec = rest[target]!;
    rest.splice(target, 1);
    if (spec === 'mirror:') mode.push('--echo');
    else if (spec !== '-') mode.push('--exec', spec.slice(spec.indexOf(':') + 1));
  }
  return { command: 'listen', argv: [address, ...mode, ...rest] };
}

/** ws:, wss:, ws+unix: (and wss+unix:) URLs. */
function hasWebSocketScheme(arg: string): boolean {
  return /^wss?(?:\+unix)?:/i.test(arg);
}

/** A URL with a scheme, or a host with a port (and maybe a path) without one. */
function looksLikeUrl(arg: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) return true;
  return /^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d+(?:[/?].*)?$/i.test(arg);
}

/** A PORT or HOST:PORT of `wsdx listen`. */
function isListenAddress(arg: string): boolean {
  return /^\d+$/.test(arg) || /^(?:\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d+$/i.test(arg);
}

/**
 * Adds ws:// to a URL typed without a scheme (`127.0.0.1:8080`, `localhost:8080/chat`), as
 * wscat does; a URL with a scheme (any: the library says which it takes) is left alone.
 *
 * @example withScheme('localhost:8080/chat') // 'ws://localhost:8080/chat'
 */
export function withScheme(url: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^wss?\+unix:/i.test(url)) return url;
  return `ws://${url}`;
}
