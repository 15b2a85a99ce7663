import type { WebSocketServer } from '../server.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import {
  type CommandSpec,
  expectPositionals,
  flag,
  list,
  type OptionValues,
  parseCommandArgs,
  renderHelp,
  text,
} from './args.js';
import { UsageError } from './errors.js';
import { execFor } from './exec.js';
import type { Framing } from './framing.js';
import { broadcastFrom, echo, PrintMode } from './listen-modes.js';
import {
  COMPRESS_OPTION,
  compressionOf,
  FRAMING_OPTIONS,
  framingOf,
  parseListenAddress,
  serverTlsFrom,
} from './options.js';
import { note } from './output.js';
import { type ServeOptions, serve, serveUntilSignal } from './serve.js';

/** `wsdx listen`'s arguments. */
export const LISTEN_SPEC: CommandSpec = {
  name: 'listen',
  summary:
    'Runs a WebSocket server. By default it prints what arrives and sends what is typed\n' +
    '(to every client); --echo, --broadcast and --exec choose another behaviour.',
  positionals: [
    {
      name: 'PORT',
      help: 'the port (0: any free one), or HOST:PORT; the host defaults to 127.0.0.1',
    },
  ],
  options: [
    { name: 'echo', short: 'e', type: 'boolean', help: 'send every message back to its sender' },
    {
      name: 'broadcast',
      short: 'b',
      type: 'boolean',
      help: 'send every message to every other client',
    },
    {
      name: 'exec',
      short: 'x',
      type: 'string',
      value: 'CMD',
      help: 'run CMD (with sh -c) for each connection, its stdin and stdout piped to it',
    },
    ...FRAMING_OPTIONS,
    {
      name: 'host',
      type: 'string',
      value: 'HOST',
      help: 'the address to listen on (default 127.0.0.1)',
    },
    {
      name: 'path',
      short: 'p',
      type: 'string',
      value: 'PATH',
      help: 'accept only this path (others get 404)',
    },
    {
      name: 'subprotocol',
      short: 's',
      type: 'string',
      multiple: true,
      value: 'NAME',
      help: "a subprotocol the server speaks (repeatable); the client's preferred one is chosen",
    },
    {
      name: 'origin',
      short: 'o',
      type: 'string',
      multiple: true,
      value: 'ORIGIN',
      help: 'allow this Origin (repeatable); others are refused with 403',
    },
    { name: 'cert', type: 'string', value: 'FILE', help: 'certificate chain (PEM): serve wss://' },
    { name: 'key', type: 'string', value: 'FILE', help: 'private key of --cert (PEM)' },
    COMPRESS_OPTION,
  ],
  notes: [
    'Framing: --lines (default) prints a newline after each text message and sends each typed\n' +
      'line as a text message; --binary sends stdin in raw chunks as binary messages and prints\n' +
      'messages raw; --message prints messages raw. With --exec it applies to the process: its\n' +
      'stdout is cut into messages (lines, chunks, or all of it as one message) and messages are\n' +
      'written to its stdin. The listening URL is printed on stderr.',
    'SIGINT or SIGTERM closes every connection with 1001 and exits 0.',
  ],
  examples: [
    'wsdx listen 8080 --echo',
    'wsdx listen 8080 --broadcast --path /chat',
    "wsdx listen 8080 --exec 'tr a-z A-Z'",
    'wsdx listen 0.0.0.0:8443 --cert server.crt --key server.key -s chat.v1 -o https://app.example.com',
  ],
};

/** Runs `wsdx listen` until SIGINT or SIGTERM. */
export async function runListen(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(LISTEN_SPEC, argv);
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(LISTEN_SPEC));
    return 0;
  }
  const [port] = expectPositionals(LISTEN_SPEC, positionals);
  const { framing, binary } = framingOf(values);
  const handler = modeFor(values, framing, binary);
  const served = await serve({
    address: parseListenAddress(port!, text(values, 'host')),
    tls: serverTlsFrom(values),
    server: serverOptionsFor(values, handler),
  });
  let count = 0;
  served.wss.on('connect', (ws: WebSocketConnection) => {
    const id = `#${++count}`;
    handler.onConnection(ws, id, served.wss);
  });
  served.wss.on('upgradeError', (err: Error) => note(`refused a handshake: ${err.message}`));
  handler.start?.(served.wss);
  await serveUntilSignal(served);
  handler.stop?.();
  return 0;
}

/**
 * Builds the WebSocketServer's options from the flags. Modes that read messages as
 * streams take them without a size limit: they never hold a whole message.
 */
function serverOptionsFor(values: OptionValues, handler: ListenMode): ServeOptions['server'] {
  const path = text(values, 'path');
  const origins = list(values, 'origin');
  const protocols = list(values, 'subprotocol');
  return {
    autoAcceptConnections: true,
    ...(path === undefined ? {} : { path }),
    ...(origins.length === 0 ? {} : { allowedOrigins: origins }),
    ...(protocols.length === 0 ? {} : { protocols }),
    perMessageDeflate: compressionOf(values),
    messageStreams: handler.messageStreams,
    maxReceivedMessageSize: handler.messageStreams ? Number.POSITIVE_INFINITY : undefined,
  };
}

/** What a listen mode does with each connection. */
export interface ListenMode {
  /** Whether connections hand out messages as streams (no size limit). */
  messageStreams: boolean;
  onConnection(ws: WebSocketConnection, id: string, wss: WebSocketServer): void;
  /** Starts reading the terminal or stdin, for modes that send what is typed. */
  start?(wss: WebSocketServer): void;
  stop?(): void;
}

function modeFor(values: OptionValues, framing: Framing, binary: boolean): ListenMode {
  const chosen = ['echo', 'broadcast', 'exec'].filter((name) => values[name] !== undefined);
  if (chosen.length > 1) throw new UsageError('choose one of --echo, --broadcast and --exec');
  if (flag(values, 'echo')) return echo();
  if (flag(values, 'broadcast')) return broadcastFrom();
  const command = text(values, 'exec');
  if (command !== undefined) return execFor(command, framing, binary);
  return new PrintMode(framing, binary);
}
