import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  type CommandSpec,
  expectPositionals,
  flag,
  parseCommandArgs,
  parseInteger,
  renderHelp,
  text,
} from './args.js';
import { findDemoScript } from './demo-script.js';
import { CliError, ExitCode } from './errors.js';

/** `wsdx demo`'s arguments. */
export const DEMO_SPEC: CommandSpec = {
  name: 'demo',
  summary: 'Runs the demo server (the one `npm start` runs) from examples/.',
  positionals: [{ name: 'PORT', help: 'the port (default 8080)', optional: true }],
  options: [
    {
      name: 'host',
      type: 'string',
      value: 'HOST',
      help: 'the address to listen on (default 127.0.0.1)',
    },
  ],
  notes: ['The demo lives in the repository (examples/), not in the published package.'],
  examples: ['wsdx demo', 'wsdx demo 3000'],
};

/**
 * Runs `wsdx demo`: the demo server of examples/ (what `npm start` runs), in a child
 * process through tsx, until SIGINT or SIGTERM, which it passes on. The demo ships with the
 * repository, not with the published package.
 */
export async function runDemo(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(DEMO_SPEC, argv);
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(DEMO_SPEC));
    return 0;
  }
  const [portText] = expectPositionals(DEMO_SPEC, positionals);
  const port = portText === undefined ? 8080 : parseInteger(portText, 'PORT', 0, 65535);
  const host = text(values, 'host') ?? '127.0.0.1';
  const demo = findDemoScript();
  if (demo === undefined) {
    throw new CliError(
      'wsdx demo runs in a clone of the repository: its examples/ are not in the published package',
      ExitCode.Failure,
    );
  }
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(demo), `--port=${port}`, `--host=${host}`],
    { stdio: 'inherit' },
  );
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  if (signal === 'SIGINT' || signal === 'SIGTERM') return ExitCode.Ok;
  return code ?? ExitCode.Failure;
}
