/**
 * The seed README's two programs, copied into examples/ with only the require line
 * changed, run against each other on the built package, as a user of WebSocket-Node
 * would run them after switching packages.
 *
 * The package is built into a temporary node_modules (not dist/, which the package test
 * rebuilds concurrently), and the programs are run from there. The seed's server
 * hard-codes port 8080 and its client connects to ws://localhost:8080/, and they are run
 * as written: when 8080 is busy (`npm start` is running, say), the test waits for it a
 * few seconds and then fails saying so.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startProgram, stopAll } from '../helpers/child-process.js';

const run = promisify(execFile);
const SEED_NAMES = ['server', 'client', 'router', 'frame', 'request', 'connection'];
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-seed-'));
  const pkg = join(dir, 'node_modules', 'websocket-duplex');
  await mkdir(join(pkg, 'dist'), { recursive: true });
  await run(
    'npx',
    [
      'tsup',
      '--no-config',
      '--entry.index',
      'lib/index.ts',
      '--format',
      'cjs',
      '--platform',
      'node',
      '--target',
      'node20',
      '--out-dir',
      join(pkg, 'dist'),
      '--silent',
    ],
    { cwd: ROOT },
  );
  await copyFile(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  await writeFile(join(dir, 'package.json'), '{"name":"seed-user","private":true}');
  for (const name of ['seed-echo-server.cjs', 'seed-echo-client.cjs']) {
    await copyFile(join(ROOT, 'examples', name), join(dir, name));
  }
}, 120_000);

afterEach(stopAll);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once nothing listens on the port, waiting up to `ms` for it to free up. */
async function waitForFreePort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, () => probe.close(() => resolve(true)));
    });
    if (free) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Port ${port} is in use: the seed's echo server hard-codes it. Stop what listens ` +
          `there (npm start? another run of this test?) and run the test again.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe("the seed README's programs (examples/seed-echo-*.cjs) on the built package", () => {
  it('differ from the seed only in the require line', async () => {
    for (const [name, seedName] of [
      ['seed-echo-server.cjs', 'server'],
      ['seed-echo-client.cjs', 'client'],
    ] as const) {
      const lines = (await readFile(join(ROOT, 'examples', name), 'utf8')).split('\n');
      expect(lines[0]).toBe('#!/usr/bin/env node');
      const requires = lines.filter((line) => line.includes("require('websocket"));
      expect(requires).toContain(
        `var WebSocket${seedName === 'server' ? 'Server' : 'Client'} = require('websocket-duplex').${seedName};`,
      );
    }
  });

  it("exports the seed's names from the package", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        `const m = require('websocket-duplex'); console.log(JSON.stringify(${JSON.stringify(SEED_NAMES)}.filter((n) => typeof m[n] !== 'function')))`,
      ],
      { cwd: dir },
    );
    const missing = JSON.parse(stdout) as string[];
    expect(
      missing,
      `lib/index.ts must export ${missing.join(', ')} (export * from './compat/seed.js')`,
    ).toEqual([]);
  });

  it('the client and the server talk on port 8080: numbers go out and come back', async () => {
    await waitForFreePort(8080, 10_000);
    const server = startProgram(
      'seed-echo-server.cjs',
      process.execPath,
      ['seed-echo-server.cjs'],
      {
        cwd: dir,
      },
    );
    await server.waitFor(/ Server is listening on port 8080$/);
    const client = startProgram(
      'seed-echo-client.cjs',
      process.execPath,
      ['seed-echo-client.cjs'],
      {
        cwd: dir,
      },
    );
    await client.waitFor(/^WebSocket client connected$/);
    // The client sends a number at once and another a second later; both come back.
    const echoes = await client.waitForCount(/^Received: '(\d+)'$/, 2, 5_000);
    await server.waitFor(/ Connection accepted\.$/);
    for (const [, number] of echoes) {
      await server.waitFor(new RegExp(`^Received Message: ${number}$`));
    }
    expect(client.matching(/Error/)).toEqual([]);
    // The seed's client has no way to stop but being killed; the server sees it go.
    await client.stop('SIGTERM');
    await server.waitFor(/ Peer .* disconnected\.$/);
    expect(server.matching(/Error|\[stderr\]/)).toEqual([]);
  });
});
