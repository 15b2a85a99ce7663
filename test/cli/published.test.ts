import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BackgroundCli,
  type CliResult,
  collect,
  isOneLineError,
  NO_PROXY_ENV,
  ROOT,
  startCli,
  tempDir,
} from '../helpers/cli.js';

/**
 * wsdx as the published package has it: bin/wsdx.js next to the bundle dist/cli.js (built
 * here by tsup into a directory of its own, with the package's files and nothing else: no
 * lib/, no examples/, no tsx). Its --help lists only what it can run.
 */

let pkg: { dir: string; cleanup: () => void };
let echo: BackgroundCli;

beforeAll(async () => {
  pkg = tempDir('wsdx-published-');
  const { build } = await import('tsup');
  await build({
    config: false,
    entry: { cli: join(ROOT, 'lib/cli/main.ts') },
    outDir: join(pkg.dir, 'dist'),
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    splitting: false,
    dts: false,
    silent: true,
    shims: true,
  });
  mkdirSync(join(pkg.dir, 'bin'));
  copyFileSync(join(ROOT, 'bin/wsdx.js'), join(pkg.dir, 'bin/wsdx.js'));
  copyFileSync(join(ROOT, 'package.json'), join(pkg.dir, 'package.json'));
  // The package's dependencies (readable-stream), as npm would install them.
  symlinkSync(join(ROOT, 'node_modules'), join(pkg.dir, 'node_modules'));
  echo = await startCli(['listen', '0', '--echo']);
}, 120_000);

afterAll(async () => {
  await echo?.stop();
  pkg?.cleanup();
});

function published(args: string[], input = ''): Promise<CliResult> {
  const child = spawn(process.execPath, [join(pkg.dir, 'bin/wsdx.js'), ...args], {
    cwd: pkg.dir,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...NO_PROXY_ENV, NO_COLOR: '1' },
  });
  child.stdin?.end(input);
  return collect(child, 20_000);
}

describe('the published wsdx (bin + dist/cli.js)', () => {
  it('lists only the commands it can run: no demo, whose server is not in the package', async () => {
    const [help, demo, version] = await Promise.all([
      published(['--help']),
      published(['demo']),
      published(['--version']),
    ]);
    expect(help.code).toBe(0);
    const text = help.stdout.toString();
    for (const command of ['connect', 'listen', 'send-file', 'receive-file']) {
      expect(text).toContain(`  ${command} `);
    }
    expect(text).not.toContain('demo');
    expect(demo.code).toBe(1);
    expect(isOneLineError(demo.stderr), demo.stderr).toBe(true);
    expect(demo.stderr).toBe(
      'wsdx: wsdx demo runs in a clone of the repository: its examples/ are not in the published package\n',
    );
    expect(version.stdout.toString()).toMatch(/^wsdx \d+\.\d+\.\d+\n$/);
  });

  it('runs from the bundle: a wscat spelling against an echo', async () => {
    const result = await published(['-c', echo.url, '--linger', '300ms'], 'bundled\n');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('bundled\n');
  });
});
