import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The published shape of `websocket-duplex/web`: built with the project's tsup config into
 * a package of its own (a temporary directory, so the shared dist/ is left alone), imported
 * from ESM and CommonJS through the exports map, and its declarations compiled by a strict
 * consumer without the DOM lib, and with it (no clash with the DOM's own declarations).
 */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let dir: string;
let consumer: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-web-pkg-'));
  const pkg = join(dir, 'websocket-duplex');
  await mkdir(pkg);
  await run('npx', ['tsup', '--silent', '--out-dir', join(pkg, 'dist')], { cwd: root });
  await cp(join(root, 'package.json'), join(pkg, 'package.json'));
  await symlink(join(root, 'node_modules'), join(pkg, 'node_modules'));
  consumer = join(dir, 'consumer');
  await mkdir(join(consumer, 'node_modules', '@types'), { recursive: true });
  await symlink(pkg, join(consumer, 'node_modules', 'websocket-duplex'));
  await symlink(join(root, 'node_modules/@types/node'), join(consumer, 'node_modules/@types/node'));
  await writeFile(
    join(consumer, 'package.json'),
    '{"name":"consumer","private":true,"type":"module"}',
  );
}, 120_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const probe = `[typeof m.WebSocket, typeof m.WebSocketStream, typeof m.WebSocketError, typeof m.CloseEvent, typeof m.toWebSocket, new m.CloseEvent('close', { code: 4000 }).code, new m.WebSocketError('x', { reason: 'r' }).closeCode, m.WebSocket.OPEN].join(' ')`;
const expected = 'function function function function function 4000 1000 1';

describe('websocket-duplex/web, built', () => {
  it('imports from an ES module through the exports map', async () => {
    const file = join(consumer, 'probe.mjs');
    await writeFile(file, `import * as m from 'websocket-duplex/web'; console.log(${probe});`);
    const { stdout } = await run(process.execPath, [file], { cwd: consumer });
    expect(stdout.trim()).toBe(expected);
  });

  it('requires from CommonJS through the exports map', async () => {
    const file = join(consumer, 'probe.cjs');
    await writeFile(file, `const m = require('websocket-duplex/web'); console.log(${probe});`);
    const { stdout } = await run(process.execPath, [file], { cwd: consumer });
    expect(stdout.trim()).toBe(expected);
  });

  it('is also in the main entry (but for WebSocketError, the library root error there)', async () => {
    const file = join(consumer, 'main.mjs');
    await writeFile(
      file,
      "import * as m from 'websocket-duplex'; console.log([typeof m.WebSocket, typeof m.WebSocketStream, typeof m.CloseEvent, typeof m.toWebSocket, new m.WebSocketError('ERR_WS_INTERNAL', 'x') instanceof Error].join(' '));",
    );
    const { stdout } = await run(process.execPath, [file], { cwd: consumer });
    expect(stdout.trim()).toBe('function function function function true');
  });

  it.each([
    ['without the DOM lib', ['ES2022']],
    ['with the DOM lib', ['ES2022', 'DOM', 'DOM.Iterable']],
  ])(
    'types a strict consumer %s',
    async (_name, lib) => {
      const source = `
import { CloseEvent, toWebSocket, WebSocket, WebSocketError, WebSocketStream, type WebSocketOpenInfo } from 'websocket-duplex/web';
import { connect } from 'websocket-duplex';

const ws = new WebSocket('wss://example.com/', { protocols: ['chat'], headers: { authorization: 'x' } });
ws.binaryType = 'arraybuffer';
ws.onopen = () => ws.send('hello');
ws.onmessage = (event) => {
  const data: unknown = event.data;
  void data;
};
ws.onclose = (event) => {
  const described: string = \`\${event.code} \${event.reason} \${event.wasClean}\`;
  void described;
};
ws.addEventListener('close', (event) => event.reason.toUpperCase());
ws.addEventListener('message', function (event) {
  this.send(String(event.data));
});
ws.send(new Uint8Array(1));
ws.send(new ArrayBuffer(1));
ws.send(new Blob(['x']));
// @ts-expect-error: send() takes text, bytes or a Blob
ws.send({});
// @ts-expect-error: binaryType is 'blob' or 'arraybuffer'
ws.binaryType = 'text';
const state: number = ws.readyState + WebSocket.OPEN + ws.CLOSED;
void state;
void new CloseEvent('close', { code: 1000, reason: 'x', wasClean: true });

async function streams(): Promise<void> {
  const wss = new WebSocketStream('wss://example.com/', { protocols: ['a'], signal: AbortSignal.timeout(1000) });
  const info: WebSocketOpenInfo = await wss.opened;
  const reader = info.readable.getReader();
  const { value } = await reader.read();
  if (typeof value === 'string') value.toUpperCase();
  else if (value !== undefined) void value.byteLength;
  const writer = info.writable.getWriter();
  await writer.write('text');
  await writer.write(new Uint8Array(2));
  wss.close({ closeCode: 4000, reason: 'bye' });
  const { closeCode, reason } = await wss.closed;
  void [closeCode, reason];
  await info.writable.abort(new WebSocketError('why', { closeCode: 4001 }));
  const connection = await connect('ws://127.0.0.1:1/');
  void toWebSocket(connection).url;
  void WebSocketStream.from(connection).opened;
}
void streams;
`;
      // With the DOM lib, our classes must also be what code typed against it expects.
      const domOnly = lib.includes('DOM')
        ? `
const standard: globalThis.WebSocket = new WebSocket('wss://example.com/');
function useStandard(socket: globalThis.WebSocket): void {
  socket.onclose = (event: globalThis.CloseEvent) => void event.code;
}
useStandard(ws);
const closeEvent: globalThis.CloseEvent = new CloseEvent('close');
void [standard, closeEvent];
`
        : '';
      const name = `consumer-${lib.length}.ts`;
      await writeFile(join(consumer, name), source + domOnly);
      await writeFile(
        join(consumer, `tsconfig-${lib.length}.json`),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib,
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            types: ['node'],
            strict: true,
            noEmit: true,
            skipLibCheck: false,
          },
          files: [name],
        }),
      );
      const tsc = join(root, 'node_modules/typescript/bin/tsc');
      const result = await run(process.execPath, [tsc, '-p', `tsconfig-${lib.length}.json`], {
        cwd: consumer,
      }).then(
        () => '',
        (err: { stdout?: string }) => err.stdout ?? String(err),
      );
      expect(result).toBe('');
    },
    60_000,
  );
});
