import { readFileSync } from 'node:fs';
import { type CommandSpec, renderHelp } from './args.js';
import { commandLineOf } from './command-line.js';
import { findDemoScript } from './demo-script.js';
import { CliError, ExitCode, messageOf, UsageError } from './errors.js';
import { flush } from './output.js';

/** A loaded subcommand: its spec (for help) and what runs it. */
interface LoadedCommand {
  spec: CommandSpec;
  run: (argv: readonly string[]) => Promise<number>;
}

/**
 * The subcommands, loaded on use: `wsdx --help` and each command start without loading
 * the others (and the library parts they need).
 */
interface Command {
  name: string;
  /** One line for `wsdx --help`. */
  brief: string;
  load: () => Promise<LoadedCommand>;
  /** Whether this installation can run it (listed in --help only then). */
  available?: () => boolean;
}

const COMMANDS: readonly Command[] = [
  {
    name: 'connect',
    brief: 'a client: an interactive prompt on a terminal, stdin/stdout in a pipe',
    load: async () => {
      const m = await import('./connect.js');
      return { spec: m.CONNECT_SPEC, run: m.runConnect };
    },
  },
  {
    name: 'listen',
    brief: 'a server: prints and sends, or --echo, --broadcast, --exec CMD',
    load: async () => {
      const m = await import('./listen.js');
      return { spec: m.LISTEN_SPEC, run: m.runListen };
    },
  },
  {
    name: 'send-file',
    brief: 'send a file as one binary message, with progress and SHA-256',
    load: async () => {
      const m = await import('./send-file.js');
      return { spec: m.SEND_FILE_SPEC, run: m.runSendFile };
    },
  },
  {
    name: 'receive-file',
    brief: 'a server that saves each file it is sent, with progress and SHA-256',
    load: async () => {
      const m = await import('./receive-file.js');
      return { spec: m.RECEIVE_FILE_SPEC, run: m.runReceiveFile };
    },
  },
  {
    name: 'demo',
    brief: 'run the demo server of the repository (what npm start runs)',
    load: async () => {
      const m = await import('./demo.js');
      return { spec: m.DEMO_SPEC, run: m.runDemo };
    },
    // The demo is in the repository's examples/, which the published package does not ship.
    available: () => findDemoScript() !== undefined,
  },
];

/** Renders `wsdx --help`: the commands this installation can run, and where to read more. */
export function mainHelp(): string {
  const rows = COMMANDS.filter((c) => c.available?.() ?? true).map(
    ({ name, brief }) => `  ${name.padEnd(14)}${brief}`,
  );
  return [
    'wsdx: a WebSocket cat built on websocket-duplex, in which everything is a stream.',
    '',
    'Usage: wsdx COMMAND [options] [arguments]',
    '       wsdx [options] URL             (connect, as websocat; wscat: wsdx -c URL)',
    '       wsdx -l PORT, wsdx -s PORT     (listen: wscat, websocat)',
    '',
    'Commands:',
    ...rows,
    '  help COMMAND  show the help of a command (or: wsdx COMMAND --help)',
    '',
    'Options:',
    '  -h, --help    show this help',
    '  -V, --version print the version',
    '',
    'Examples:',
    '  wsdx listen 8080 --echo &',
    '  echo hello | wsdx ws://127.0.0.1:8080/',
    "  wsdx listen 8080 --exec 'sort'",
    '',
  ].join('\n');
}

/**
 * Runs the CLI with `argv` (without node and the script) and resolves with the exit
 * status. Never throws: every error becomes one line on stderr (a stack trace only with
 * WSDX_DEBUG=1), so that users see what went wrong rather than where.
 */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    return report(err);
  }
}

async function dispatch(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(mainHelp());
    return name === undefined ? ExitCode.Usage : ExitCode.Ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version()}\n`);
    return ExitCode.Ok;
  }
  if (name === 'help') return help(rest[0]);
  if (!COMMANDS.some((c) => c.name === name)) {
    const line = commandLineOf(argv);
    if (line !== undefined) return (await find(line.command)).run(line.argv);
  }
  const command = await find(name);
  return command.run(rest);
}

async function find(name: string): Promise<LoadedCommand> {
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const what = name.startsWith('-') ? 'option' : 'command';
    throw new UsageError(`unknown ${what} ${JSON.stringify(name)} (see: wsdx --help)`);
  }
  return command.load();
}

async function help(name: string | undefined): Promise<number> {
  if (name === undefined) {
    process.stdout.write(mainHelp());
    return ExitCode.Ok;
  }
  const command = await find(name);
  process.stdout.write(renderHelp(command.spec));
  return ExitCode.Ok;
}

function report(err: unknown): number {
  const exitCode = err instanceof CliError ? err.exitCode : ExitCode.Failure;
  const prefix = err instanceof CliError ? '' : 'internal error: ';
  // One line, whatever the message holds (OpenSSL's, a peer's text).
  const text = messageOf(err)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  process.stderr.write(`wsdx: ${prefix}${text}\n`);
  if (process.env.WSDX_DEBUG === '1' && err instanceof Error)
    process.stderr.write(`${err.stack}\n`);
  return exitCode;
}

/** Reads the package's version from package.json (one level above lib/ or dist/). */
export function version(): string {
  for (const path of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'websocket-duplex') return `wsdx ${pkg.version ?? '0.0.0'}`;
    } catch {
      // Not there: try the next place.
    }
  }
  return 'wsdx (unknown version)';
}

/**
 * Runs the CLI as a program: the exit status once stdout and stderr are flushed, so that
 * piped output is never cut short by process.exit().
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<never> {
  const crash = (err: unknown): void => {
    process.exitCode = report(err);
    process.exit();
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const code = await run(argv);
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(code);
}
