import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(async () => {
  await run('npx', ['tsup', '--silent'], { cwd: root });
  dir = await mkdtemp(join(tmpdir(), 'wsdx-pkg-'));
  await mkdir(join(dir, 'node_modules'));
  await symlink(root, join(dir, 'node_modules', 'websocket-duplex'));
  await writeFile(join(dir, 'package.json'), '{"name":"consumer","private":true}');
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const probe = `typeof m.WebSocketConnection + ' ' + typeof m.FrameParser + ' ' + m.Opcode.Text + ' ' + new m.ProtocolError('ERR_WS_INVALID_OPCODE', 'x').closeCode`;

describe('the built package', () => {
  it('imports cleanly from an ES module', async () => {
    const file = join(dir, 'probe.mjs');
    await writeFile(file, `import * as m from 'websocket-duplex'; console.log(${probe});`);
    const { stdout } = await run(process.execPath, [file], { cwd: dir });
    expect(stdout.trim()).toBe('function function 1 1002');
  });

  it('requires cleanly from a CommonJS script', async () => {
    const file = join(dir, 'probe.cjs');
    await writeFile(file, `const m = require('websocket-duplex'); console.log(${probe});`);
    const { stdout } = await run(process.execPath, [file], { cwd: dir });
    expect(stdout.trim()).toBe('function function 1 1002');
  });

  it('ships type declarations for both', async () => {
    const { stdout } = await run('ls', [join(root, 'dist')]);
    expect(stdout.split('\n')).toEqual(
      expect.arrayContaining(['index.d.ts', 'index.d.cts', 'index.js', 'index.cjs']),
    );
  });
});
