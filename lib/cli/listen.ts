import type { Server } from 'node:http';
import { WebSocketServer, type WebSocketServerOptions } from '../server.js';
import type { IncomingOf, Message } from '../stream/connection-events.js';
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
import type { StreamedConnection } from './dial.js';
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
import { type Served, serve, serveUntilSignal } from './serve.js';

/** `wsdx listen`'s arguments. */
export const LISTEN_SPEC: CommandSpec = {
  name: 'listen',
  summary:
    'Runs a WebSocket server. By default it prints what arrives and sends what is typed\n' +
    '(to every client); --echo, --broadcast and --exec choose another behaviour.\n' +
    '`wsdx -l PORT` (wscat) and `wsdx -s PORT` (websocat) are the same.',
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
    "--exec: when the client closes, the process's stdin ends and what it still writes is sent\n" +
      'before the answer to the Close (at most 5 s later), so that filters that answer at the\n' +
      "end of their input (tr, sort, wc -l, jq) work; the process's exit closes the connection\n" +
      '(1000 for status 0, 1011 otherwise).',
    'Changed: -b is --binary (as in connect and websocat); broadcast is --broadcast. -s NAME\n' +
      'still means --subprotocol NAME in this release, with a note (websocat: wsdx -s PORT).',
    'SIGINT or SIGTERM closes every connection with 1001 and exits 0.',
  ],
  examples: [
    'wsdx listen 8080 --echo',
    'wsdx listen 8080 --broadcast --path /chat',
    "wsdx listen 8080 --exec 'sort'",
    'wsdx listen 0.0.0.0:8443 --cert server.crt --key server.key --subprotocol chat.v1 -o https://app.example.com',
  ],
  foreignOptions: {
    '-B': 'broadcast is --broadcast',
  },
};

/**
 * Reads the spellings of the previous release, for one release, with a note: `-s NAME`
 * (now --subprotocol; in websocat -s starts a server), and `-b`, which was --broadcast and
 * is --binary now, as in connect and websocat.
 */
function previousSpellings(argv: readonly string[]): string[] {
  const out = [...argv];
  for (let i = 0; i < out.length; i++) {
    if (out[i] === '--') break;
    if (out[i] === '-s') {
      out[i] = '--subprotocol';
      note(
        "in listen, -s NAME is --subprotocol NAME (-s goes in the next release; websocat's -s PORT is wsdx -s PORT)",
      );
    } else if (out[i] === '-b') {
      note('-b is --binary now (as in connect and websocat); broadcast is --broadcast');
    }
  }
  return out;
}

/** Runs `wsdx listen` until SIGINT or SIGTERM. */
export async function runListen(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(LISTEN_SPEC, previousSpellings(argv));
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(LISTEN_SPEC));
    return 0;
  }
  const [port] = expectPositionals(LISTEN_SPEC, positionals);
  const { framing, binary } = framingOf(values);
  const mode = modeFor(values, framing, binary);
  const serving = {
    address: parseListenAddress(port!, text(values, 'host')),
    tls: serverTlsFrom(values),
    path: text(values, 'path'),
  };
  const common = commonServerOptions(values);
  if (mode.messageStreams) {
    const served = await serve(
      serving,
      (httpServer: Server) =>
        new WebSocketServer({
          httpServer,
          ...common,
          messageStreams: true,
          deferCloseReply: mode.deferCloseReply,
        }),
    );
    return runMode(served, mode);
  }
  const served = await serve(
    serving,
    (httpServer: Server) => new WebSocketServer({ httpServer, ...common, messageStreams: false }),
  );
  return runMode(served, mode);
}

/** Hands each connection to the mode, reports refused handshakes, and serves until a signal. */
async function runMode<O extends WebSocketServerOptions>(
  served: Served<O>,
  mode: {
    onConnection(ws: WebSocketConnection<IncomingOf<O>>, id: string): void;
    start?(): void;
    stop?(): void;
  },
): Promise<number> {
  let count = 0;
  served.wss.on('connect', (ws) => mode.onConnection(ws, `#${++count}`));
  served.wss.on('upgradeError', (err: Error) => note(`refused a handshake: ${err.message}`));
  mode.start?.();
  await serveUntilSignal(served);
  mode.stop?.();
  return 0;
}

/** The WebSocketServer options every mode shares, from the flags. */
function commonServerOptions(values: OptionValues) {
  const path = text(values, 'path');
  const origins = list(values, 'origin');
  const protocols = list(values, 'subprotocol');
  return {
    autoAcceptConnections: true,
    ...(path === undefined ? {} : { path }),
    ...(origins.length === 0 ? {} : { allowedOrigins: origins }),
    ...(protocols.length === 0 ? {} : { protocols }),
    perMessageDeflate: compressionOf(values),
  };
}

/** A mode that reads each message as a stream (any size, constant memory). */
export interface StreamingMode {
  readonly messageStreams: true;
  /** Answer a client's Close only after our end() (--exec: the process's last output). */
  readonly deferCloseReply: boolean;
  onConnection(ws: StreamedConnection, id: string): void;
  /** Starts reading the terminal or stdin, for modes that send what is typed. */
  start?(): void;
  stop?(): void;
}

/** A mode that takes each message whole (--broadcast writes it to every client). */
export interface WholeMessageMode {
  readonly messageStreams: false;
  onConnection(ws: WebSocketConnection<Message>, id: string): void;
  start?(): void;
  stop?(): void;
}

/** What a listen mode does with each connection. */
export type ListenMode = StreamingMode | WholeMessageMode;

function modeFor(values: OptionValues, framing: Framing, binary: boolean): ListenMode {
  const chosen = ['echo', 'broadcast', 'exec'].filter((name) => values[name] !== undefined);
  if (chosen.length > 1) throw new UsageError('choose one of --echo, --broadcast and --exec');
  if (flag(values, 'echo')) return echo();
  if (flag(values, 'broadcast')) return broadcastFrom();
  const command = text(values, 'exec');
  if (command !== undefined) return execFor(command, framing, binary);
  return new PrintMode(framing, binary);
}
