/**
 * The built entry point `websocket-duplex/redis`, as a user installs it: imported from ES
 * modules and CommonJS, sharing the core's classes (not copies), typed for a strict
 * TypeScript project; and the core package free of the Redis client.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let dir: string;
let dist: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-redis-pkg-'));
  // The package as installed: package.json and a dist/ of its own (built here, so that this
  // test never races another one that rebuilds the repository's dist/).
  const pkg = join(dir, 'node_modules', 'websocket-duplex');
  dist = join(pkg, 'dist');
  await mkdir(pkg, { recursive: true });
  await run('npx', ['tsup', '--silent', '--out-dir', dist], { cwd: root, timeout: 120_000 });
  await writeFile(join(pkg, 'package.json'), await readFile(join(root, 'package.json')));
  for (const dep of ['redis', '@redis', 'readable-stream', '@types', 'typescript']) {
    await symlink(join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
  }
  // readable-stream's own dependencies.
  for (const dep of [
    'abort-controller',
    'buffer',
    'events',
    'process',
    'string_decoder',
    'event-target-shim',
    'base64-js',
    'ieee754',
    'safe-buffer',
  ]) {
    await symlink(join(root, 'node_modules', dep), join(dir, 'node_modules', dep)).catch(() => {});
  }
  await writeFile(join(dir, 'package.json'), '{"name":"consumer","private":true}');
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const probe = (imports: string) => `${imports}
let refused;
try { createBackplane({ redis: 42 }); } catch (err) { refused = err; }
const error = new BackplaneError('unavailable', 'x');
console.log([
  typeof createBackplane,
  refused instanceof InvalidArgumentError,
  error instanceof WebSocketError,
  error.code,
  SlowReaderPolicy.Close,
].join(' '));`;

describe('the built websocket-duplex/redis', () => {
  it('imports from an ES module and shares the core classes', async () => {
    const file = join(dir, 'probe.mjs');
    await writeFile(
      file,
      probe(`import { createBackplane, BackplaneError, SlowReaderPolicy } from 'websocket-duplex/redis';
import { InvalidArgumentError, WebSocketError } from 'websocket-duplex';`),
    );
    const { stdout } = await run(process.execPath, [file], { cwd: dir });
    expect(stdout.trim()).toBe('function true true ERR_WS_BACKPLANE close');
  });

  it('requires from CommonJS and shares the core classes', async () => {
    const file = join(dir, 'probe.cjs');
    await writeFile(
      file,
      probe(`const { createBackplane, BackplaneError, SlowReaderPolicy } = require('websocket-duplex/redis');
const { InvalidArgumentError, WebSocketError } = require('websocket-duplex');`),
    );
    const { stdout } = await run(process.execPath, [file], { cwd: dir });
    expect(stdout.trim()).toBe('function true true ERR_WS_BACKPLANE close');
  });

  it('type-checks in a strict project: a node-redis client and a WebSocketServer fit', async () => {
    await writeFile(
      join(dir, 'consumer.ts'),
      `import { createClient, createCluster } from 'redis';
import { WebSocketServer, type WebSocketConnection } from 'websocket-duplex';
import { createBackplane, type BackplaneStats, type TopicReadStream } from 'websocket-duplex/redis';
const wss = new WebSocketServer({ noServer: true });
const backplane = createBackplane({ redis: createClient({ url: 'redis://127.0.0.1:6379', RESP: 2 }) });
createBackplane({ redis: createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:7000' }] }) });
createBackplane({ redis: { nodes: ['redis://127.0.0.1:7000'] }, prefix: 'app' });
backplane.attach(wss);
const room = backplane.topic('room', { onSlowReader: 'close', slowReaderCloseCode: 1013 });
wss.on('connect', (ws: WebSocketConnection) => room.add(ws));
const reader: TopicReadStream = room.createReadStream();
const stats: BackplaneStats = backplane.stats;
const size: Promise<number> = room.size();
// @ts-expect-error: a close code the policy does not take
backplane.topic('other', { slowReaderCloseCode: 1000 });
export { reader, size, stats };
`,
    );
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          types: ['node'],
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
      cwd: dir,
    }).catch((err: { stdout: string }) => err);
    expect(result.stdout).toBe('');
  }, 60_000);

  it('keeps the core free of the Redis client: only lib/redis/ imports it', async () => {
    for (const file of ['index.js', 'index.cjs', 'cli.js', 'cli.cjs']) {
      const code = await readFile(join(dist, file), 'utf8');
      expect(code, file).not.toMatch(/from ["']redis["']|require\(["']redis["']\)|@redis\//);
    }
    const offenders: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await readdir(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) {
          if (path !== join(root, 'lib', 'redis')) await walk(path);
        } else if (/\.ts$/.test(entry.name)) {
          if (/from ['"](redis|@redis\/[^'"]*|ioredis)['"]/.test(await readFile(path, 'utf8')))
            offenders.push(path);
        }
      }
    };
    await walk(join(root, 'lib'));
    expect(offenders).toEqual([]);
  });
});
