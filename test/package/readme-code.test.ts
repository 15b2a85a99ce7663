import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The README's code, as a reader copies it: every ```ts block is a module of its own,
 * type-checked strictly against the package (its imports must be there: a block that uses
 * `fs` without importing it fails), and the blocks marked `<!-- doc-test: run -->` are run
 * and must exit 0 by themselves within the time limit.
 */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const RUN_MARKER = '<!-- doc-test: run -->';

interface Block {
  /** 1-based line of the README where the code starts. */
  line: number;
  code: string;
  runnable: boolean;
}

/** Finds the ```ts blocks of a markdown text, and which are marked to be run. */
function tsBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    blocks.push({
      line: start + 1,
      code: lines.slice(start, end).join('\n'),
      runnable: lines[i - 1]?.trim() === RUN_MARKER,
    });
    i = end;
  }
  return blocks;
}

let dir: string;
let blocks: Block[];

beforeAll(async () => {
  blocks = tsBlocks(await readFile(join(root, 'README.md'), 'utf8'));
  dir = await mkdtemp(join(tmpdir(), 'wsdx-readme-'));
  for (const [index, block] of blocks.entries()) {
    await writeFile(join(dir, `block-${index}.mts`), `${block.code}\nexport {};\n`);
  }
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022'],
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
        skipLibCheck: true,
        noEmit: true,
        paths: {
          'websocket-duplex': [join(root, 'lib/index.ts')],
          'websocket-duplex/web': [join(root, 'lib/web/index.ts')],
          'websocket-duplex/redis': [join(root, 'lib/redis/index.ts')],
        },
      },
      include: ['*.mts'],
    }),
  );
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the README', () => {
  it('has TypeScript examples, some of them marked to run', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    expect(blocks.some((block) => block.runnable)).toBe(true);
  });

  it('type-checks every TypeScript block as a module of its own', async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const output = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
      () => '',
      (err: { stdout?: string }) => err.stdout ?? String(err),
    );
    // Point each error at the README line it comes from.
    const located = output.replace(/block-(\d+)\.mts\((\d+),(\d+)\)/g, (_m, index, line, col) => {
      const block = blocks[Number(index)]!;
      return `README.md:${block.line + Number(line) - 1}:${col}`;
    });
    expect(located).toBe('');
  }, 120_000);

  it('runs every block marked to run, which exits 0 by itself', async () => {
    for (const [index, block] of blocks.entries()) {
      if (!block.runnable) continue;
      const file = join(dir, `block-${index}.mts`);
      const result = await run(process.execPath, ['--import', 'tsx', file], {
        cwd: root,
        timeout: 30_000,
      }).then(
        () => 'exit 0',
        (err: { code?: number; stderr?: string }) =>
          `README.md:${block.line}: exit ${err.code}\n${err.stderr}`,
      );
      expect(result).toBe('exit 0');
    }
  }, 120_000);
});
