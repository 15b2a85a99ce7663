/**
 * Scenario 14 of `npm run bench`: how fast the command line starts. `wsdx --help` as the
 * published package runs it (bin/wsdx.js loading the bundle dist/cli.js, which the runner
 * has just built; WSDX_DIST=1 makes a clone do what the package does), against the floor,
 * Node starting with nothing to do (`node -e 0`), and, for the record, a clone's wsdx, which
 * compiles lib/cli/ through tsx. Each figure of a run is the median of 7 starts, wall time
 * from spawn to exit. Target: the published CLI under 0.2 s (issue 19).
 *
 * ws has no command line (wscat is another package, not installed here): ours only.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from '../lib/stats.js';
import type { Figure } from '../lib/suite-results.js';
import type { Scenario, SuiteContext } from './suite.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WSDX = join(root, 'bin', 'wsdx.js');
const STARTS_PER_RUN = 7;

/** The commands measured, by figure. */
const COMMANDS = [
  {
    id: '14-help',
    label: 'wsdx --help, published (bin + dist/cli.js)',
    args: [WSDX, '--help'],
    env: { WSDX_DIST: '1' },
    target: true,
  },
  { id: '14-node', label: 'node -e 0 (the floor)', args: ['-e', '0'], env: {}, target: false },
  {
    id: '14-clone',
    label: 'wsdx --help in a clone (through tsx)',
    args: [WSDX, '--help'],
    env: { WSDX_DIST: '' },
    target: false,
  },
] as const;

/** Spawns node with `args` and resolves with the wall time to its exit, in ms. */
function timeStart(args: readonly string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolveTime, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolveTime(performance.now() - started);
    });
  });
}

export const CLI_STARTUP_SCENARIO: Scenario = {
  n: 14,
  title: 'command-line start: wsdx --help, published bundle vs node -e 0',
  run: async (ctx: SuiteContext): Promise<Figure[]> => {
    if (!existsSync(join(root, 'dist', 'cli.js'))) {
      throw new Error('dist/cli.js is missing: run the bench without --no-build, or npm run build');
    }
    const figures: Figure[] = COMMANDS.map((c) => ({
      id: c.id,
      scenario: 14,
      label: c.label,
      unit: 'ms',
      better: 'lower',
      values: {},
      missing: { ws: 'not possible: ws has no command line (wscat is a separate package)' },
      targets: c.target ? [{ text: '< 200 ms', absMax: 200 }] : [],
      extra: {},
    }));
    // One warm-up start each (the file cache, tsx's compile cache), not counted.
    for (const command of COMMANDS) await timeStart(command.args, command.env);
    for (let run = 0; run < ctx.config.runs; run++) {
      for (const [i, command] of COMMANDS.entries()) {
        const times: number[] = [];
        for (let k = 0; k < STARTS_PER_RUN; k++)
          times.push(await timeStart(command.args, command.env));
        const figure = figures[i]!;
        figure.values.ours = [...(figure.values.ours ?? []), Number(median(times).toFixed(1))];
      }
      ctx.log(
        `  run ${run + 1}: ${figures.map((f) => `${f.id} ${f.values.ours!.at(-1)} ms`).join(', ')}`,
      );
    }
    return figures;
  },
};
