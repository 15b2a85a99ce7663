import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as a user gets it: built, packed with `npm pack`, installed from the tarball
 * into a fresh project (its one dependency, readable-stream, from npm's cache), and a
 * type test compiled by that project's strict TypeScript (`nodenext`, `skipLibCheck:
 * false`) as an ES module and as CommonJS. The type test holds what must compile and,
 * under @ts-expect-error, what must not: a misspelt event, a plain object written as a
 * message, ws's option names. An expected error that stops happening fails too
 * ("Unused '@ts-expect-error' directive").
 */

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let dir: string;
let consumer: string;

const TYPE_TEST = `
import http from 'node:http';
import stream from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  connect,
  type Frame,
  IncomingMessageStream,
  MessageAssembler,
  WebSocketClient,
  WebSocketConnection,
  WebSocketServer,
} from 'websocket-duplex';

export async function typeTest(): Promise<void> {
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ httpServer, autoAcceptConnections: true });
  wss.on('connect', (ws) => {
    const asDuplex: stream.Duplex = ws; // a connection is a Duplex where Node expects one
    asDuplex.pipe(ws);
    ws.on('close', (code, reason) => {
      const c: number = code;
      const r: string = reason;
      void [c, r];
    });
    ws.on('data', (message) => {
      const m: string | Buffer = message;
      void m;
    });
  });
  wss.on('connection', (ws, request) => {
    const url: string | undefined = request.url;
    ws.send(url ?? '');
  });
  wss.on('request', async (request) => {
    const ws = request.accept(request.requestedProtocols[0]);
    ws.write('hello');
  });
  // @ts-expect-error: not an event of the server
  wss.on('nonsense', () => {});
  for (const ws of wss.clients) ws.ping();

  const streamed = new WebSocketServer({ noServer: true, messageStreams: true });
  streamed.on('connect', async (ws) => {
    for await (const message of ws) {
      const m: IncomingMessageStream = message;
      await pipeline(m, new stream.PassThrough());
    }
  });

  const ws = await connect('ws://127.0.0.1:1/', { protocols: ['chat'] });
  for await (const message of ws) {
    const m: string | Buffer = message;
    void m;
    break;
  }
  const read = ws.read();
  if (read !== null) {
    const m: string | Buffer = read;
    void m;
  }
  ws.write('text');
  ws.write(Buffer.from([1]));
  ws.send(new Uint8Array(2), { compress: false });
  ws.send(new ArrayBuffer(3));
  // @ts-expect-error: a plain object is not a message
  ws.write({ hello: 1 });
  // @ts-expect-error: a plain object is not a message
  ws.send({ hello: 1 });
  // @ts-expect-error: 'mesage' is misspelt
  ws.on('mesage', () => {});
  const readyState: 0 | 1 | 2 | 3 = ws.readyState;
  void readyState;
  ws.close(1000, 'bye');

  const raw = await connect('ws://127.0.0.1:1/', { assembleFragments: false });
  const frame = raw.read();
  if (frame !== null) {
    const f: Frame = frame;
    void f;
  }
  raw.write({ fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1, payload: Buffer.from('x') });
  raw.pipe(new MessageAssembler({ extensions: raw.extensionObjects }));

  const streams = await connect('ws://127.0.0.1:1/', { messageStreams: true });
  streams.on('data', (message) => {
    const m: IncomingMessageStream = message;
    m.resume();
  });

  // @ts-expect-error: ws's maxPayload is maxReceivedMessageSize here
  await connect('ws://127.0.0.1:1/', { maxPayload: 1024 });
  // @ts-expect-error: ws's verifyClient is the 'request' event here
  new WebSocketServer({ noServer: true, verifyClient: () => true });

  const client = new WebSocketClient();
  client.on('connect', (connection) => connection.sendUTF('hi'));
  client.on('connectFailed', (err) => console.error(err.message));
  // @ts-expect-error: not an event of the client
  client.on('open', () => {});
  client.connect('ws://127.0.0.1:1/', 'chat');

  const own = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => console.log('listening'));
  own.on('listening', () => own.close());
  const bare: WebSocketConnection = ws;
  void bare;
}
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-consumer-'));
  const pkg = join(dir, 'package');
  await mkdir(pkg);
  await run('npx', ['tsup', '--silent', '--out-dir', join(pkg, 'dist')], { cwd: root });
  for (const name of ['package.json', 'README.md', 'LICENSE', 'bin']) {
    await cp(join(root, name), join(pkg, name), { recursive: true });
  }
  await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: pkg });
  const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack made no tarball');
  consumer = join(dir, 'consumer');
  await mkdir(consumer);
  await writeFile(join(consumer, 'package.json'), '{"name":"consumer","private":true}');
  const typesNode = JSON.parse(
    await readFile(join(root, 'node_modules/@types/node/package.json'), 'utf8'),
  ) as { version: string };
  await run(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      join(dir, tarball),
      `@types/node@${typesNode.version}`,
    ],
    { cwd: consumer },
  );
  await writeFile(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2022'],
        types: ['node'],
        skipLibCheck: false,
        noEmit: true,
      },
    }),
  );
}, 240_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Compiles one file of the consumer with its own tsconfig; returns tsc's output. */
async function compile(file: string): Promise<string> {
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  try {
    const { stdout } = await run(process.execPath, [tsc, '-p', consumer, '--listFilesOnly'], {
      cwd: consumer,
    });
    expect(stdout).toContain(file);
    await run(process.execPath, [tsc, '-p', consumer], { cwd: consumer });
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}

describe('the packed package in a strict TypeScript project (skipLibCheck: false)', () => {
  it('needs no type package beside @types/node: the declarations import node: modules only', async () => {
    const declarations = await readFile(
      join(consumer, 'node_modules/websocket-duplex/dist/index.d.ts'),
      'utf8',
    );
    const imported = [...declarations.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imported.filter((name) => !name!.startsWith('node:'))).toEqual([]);
    expect(await readdir(join(consumer, 'node_modules/@types'))).toEqual(['node']);
  });

  it.each([
    ['an ES module', 'type-test.mts'],
    ['CommonJS', 'type-test.cts'],
  ])('type-checks as %s: what must compile does, what must not does not', async (_kind, name) => {
    await rm(join(consumer, 'type-test.mts'), { force: true });
    await rm(join(consumer, 'type-test.cts'), { force: true });
    await writeFile(join(consumer, name), TYPE_TEST);
    expect(await compile(name)).toBe('');
  });

  it('fails to compile a type error, so that the check above can fail', async () => {
    await rm(join(consumer, 'type-test.mts'), { force: true });
    await rm(join(consumer, 'type-test.cts'), { force: true });
    await writeFile(
      join(consumer, 'type-test.mts'),
      "import { connect } from 'websocket-duplex';\nconst ws = await connect('ws://x');\nws.write({ not: 'a message' });\n",
    );
    expect(await compile('type-test.mts')).toContain('error TS');
  });
});
