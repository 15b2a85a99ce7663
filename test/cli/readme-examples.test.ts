import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { type WebSocketRequest, WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { makeTestCerts } from '../helpers/certs.js';
import { NO_PROXY_ENV, ROOT, stopProcess, tempDir, WSDX } from '../helpers/cli.js';
import { startTinyproxy, type Tinyproxy } from '../helpers/tinyproxy.js';

/**
 * Every command of the README's command-line section, run as written: the shell blocks,
 * every spelling of the wscat/websocat table (`wscat` and `websocat` are shims that run
 * wsdx, so that their command lines run as people type them), and the error transcript.
 * What is replaced: the ports (8080, 8443, 9000, 3128, 9), by those of the servers the test
 * starts, so that nothing depends on a port being free. A command of the section with no
 * check here fails the test, and so does a check whose command left the README.
 */

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SECTION = README.slice(
  README.indexOf('## The command line: `wsdx`'),
  README.indexOf('## Error codes'),
);

/** The commands of the section's shell blocks, continuation lines joined, comments cut. */
function shellCommands(section: string): string[] {
  const commands: string[] = [];
  for (const block of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = block[1]!.split('\n');
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!;
      while (line.trimEnd().endsWith('\\') && i + 1 < lines.length) {
        line = `${line.trimEnd().slice(0, -1)}${lines[++i]!.trim()}`;
      }
      const command = line.split(/\s{2,}#/)[0]!.trim();
      if (command === '' || command.startsWith('#') || command === 'npm ci') continue;
      commands.push(command);
    }
  }
  return commands;
}

/** The commands of the wscat/websocat table. */
function tableCommands(section: string): string[] {
  const table = section.slice(
    section.indexOf('| wscat'),
    section.indexOf('\n\n', section.indexOf('| wscat')),
  );
  return [...table.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** The transcript of failures: `$ command` and the line it prints. */
function transcript(section: string): Array<{ command: string; line: string; code: number }> {
  const block = /```text\n(\$ wsdx[\s\S]*?)```/.exec(section)![1]!;
  const lines = block.trimEnd().split('\n');
  const out: Array<{ command: string; line: string; code: number }> = [];
  for (let i = 0; i < lines.length; i += 2) {
    const [text, code] = lines[i + 1]!.split(/\s+# exit /);
    out.push({ command: lines[i]!.slice(2), line: text!, code: Number(code) });
  }
  return out;
}

// ---------------------------------------------------------------- the world the commands run in

interface Ports {
  ws: number;
  wss: number;
  files: number;
  proxy: number;
  refused: number;
}

let work: { dir: string; cleanup: () => void };
let ports: Ports;
let echoServer: ChildProcess;
let tlsEcho: ChildProcess;
let guardedEcho: ChildProcess;
let proxy: Tinyproxy;
let guardedProxy: Tinyproxy;
let feed: {
  port: number;
  requests: Array<{ headers: IncomingHttpHeaders; protocol: string }>;
  close: () => Promise<void>;
};
let ca: Buffer;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Puts the test's ports where the README has its own. */
function localize(command: string, at: Partial<Ports> = {}): string {
  const p = { ...ports, ...at };
  return command
    .replace(/\b8080\b/g, String(p.ws))
    .replace(/\b8443\b/g, String(p.wss))
    .replace(/\b9000\b/g, String(p.files))
    .replace(/\b3128\b/g, String(p.proxy))
    .replace(/127\.0\.0\.1:9\//g, `127.0.0.1:${p.refused}/`);
}

/** Runs a command line in a shell, in the work directory, with wsdx (and its shims) on PATH. */
function shell(command: string, stdin: string | Buffer | 'null' = ''): ChildProcess {
  const child = spawn('sh', ['-c', command], {
    cwd: work.dir,
    stdio: [stdin === 'null' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...NO_PROXY_ENV,
      PATH: `${join(work.dir, 'bin')}:${process.env.PATH}`,
      NO_COLOR: '1',
      WSDX_DEBUG: '',
    },
  });
  if (stdin !== 'null') {
    child.stdin?.on('error', () => {});
    child.stdin?.end(stdin);
  }
  return child;
}

interface Ran {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

async function run(
  command: string,
  stdin: string | Buffer | 'null' = '',
  at: Partial<Ports> = {},
): Promise<Ran> {
  const started = Date.now();
  const child = shell(localize(command, at), stdin);
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(out), stderr, ms: Date.now() - started };
}

/** Starts a server command (`exec`ed, so that SIGTERM reaches wsdx) and waits for its URL. */
async function serve(
  command: string,
): Promise<{ child: ChildProcess; url: string; stdout: () => string; stderr: () => string }> {
  const child = shell(`exec ${command.replace(/\s*&$/, '')}`, 'null');
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command}: no URL within 15 s:\n${stderr}`)),
      15_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (\S+)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('close', () => reject(new Error(`${command}: exited before listening:\n${stderr}`)));
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr };
}

/** Runs a server example: starts it, probes it, stops it (SIGTERM: exit 0). */
async function serverExample(
  command: string,
  probe: (url: string, server: { stdout: () => string }) => Promise<void>,
): Promise<void> {
  const port = await freePort();
  const server = await serve(localize(command, { ws: port, wss: port, files: port }));
  try {
    await probe(server.url.replace('0.0.0.0', '127.0.0.1'), server);
  } finally {
    expect(await stopProcess(server.child)).toBe(0);
  }
}

function nextMessage(ws: WebSocketConnection): Promise<unknown> {
  return once(ws, 'data').then(([message]) => message);
}

/** Sends lines and closes, then collects what comes back until the close (a filter's answer). */
async function throughFilter(
  url: string,
  lines: string[],
  protocols?: string[],
): Promise<unknown[]> {
  const ws = await connect(url, protocols === undefined ? {} : { protocols });
  const got: unknown[] = [];
  ws.on('data', (m: unknown) => got.push(m));
  for (const line of lines) ws.write(line);
  ws.end();
  await once(ws, 'close');
  return got;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// ---------------------------------------------------------------- what each command must do

/** A connect example fed `hello\n`, which the echo (through whatever it names) sends back. */
const echoes = (): Check => async (command) => {
  const result = await run(command, 'hello\n');
  expect(result.stderr.replace(/^wsdx: (connected to|closed:) .*\n/gm, ''), command).toBe('');
  expect(result.code, command).toBe(0);
  expect(result.stdout.toString(), command).toBe('hello\n');
};

/** A verbose connect example: the echo, and the connection told on stderr. */
const echoesVerbosely = (): Check => async (command) => {
  const result = await run(command, 'hello\n');
  expect(result.code, command).toBe(0);
  expect(result.stdout.toString()).toBe('hello\n');
  expect(result.stderr).toMatch(/^wsdx: connected to wss?:\/\/\S+$/m);
  expect(result.stderr).toMatch(/^wsdx: closed: 1000 normal \(we closed\)$/m);
};

/** A print-mode server: prints what a client sends. */
const printsWhatArrives = (): Check => (command) =>
  serverExample(command, async (url, server) => {
    const ws = await connect(url);
    ws.write('to the server');
    await until(() => server.stdout() === 'to the server\n', 'the printed message');
    ws.end();
  });

const echoServerExample = (): Check => (command) =>
  serverExample(command, async (url) => {
    const ws = await connect(url);
    ws.write('echo me');
    expect(await nextMessage(ws)).toBe('echo me');
    ws.end();
  });

const upperCases = (): Check => (command) =>
  serverExample(command, async (url) => {
    expect(await throughFilter(url, ['shout', 'this'])).toEqual(['SHOUT', 'THIS']);
  });

type Check = (command: string) => Promise<void>;

const CHECKS: Record<string, Check> = {
  // Setting up and help.
  'npx wsdx --help': async (command) => {
    const result = await run(command.replace(/^npx /, ''));
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(/^wsdx: a WebSocket cat/);
  },
  // wsdx connect
  'wsdx listen 8080 --echo &': echoServerExample(),
  'wsdx connect ws://127.0.0.1:8080/': echoes(),
  "printf 'hello\\nworld\\n' | wsdx ws://127.0.0.1:8080/": async (command) => {
    const result = await run(command);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('hello\nworld\n');
  },
  'wsdx --binary ws://127.0.0.1:8080/ < photo.png > copy.png': async (command) => {
    const result = await run(command);
    expect(result.code).toBe(0);
    expect(
      readFileSync(join(work.dir, 'copy.png')).equals(readFileSync(join(work.dir, 'photo.png'))),
    ).toBe(true);
  },
  'wsdx --message ws://127.0.0.1:8080/ < request.json': async (command) => {
    const result = await run(command);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(readFileSync(join(work.dir, 'request.json'), 'utf8'));
  },
  'wsdx --message --binary ws://127.0.0.1:8080/ < blob.bin': async (command) => {
    const result = await run(command);
    expect(result.code).toBe(0);
    expect(result.stdout.equals(readFileSync(join(work.dir, 'blob.bin')))).toBe(true);
  },
  'wsdx -x \'{"op":"subscribe"}\' -w 2 ws://127.0.0.1:8080/': async (command) => {
    const result = await run(command);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('{"op":"subscribe"}\n');
    expect(result.ms).toBeGreaterThanOrEqual(2_000);
  },
  'wsdx ws://127.0.0.1:8080/feed < /dev/null > feed.jsonl': async (command) => {
    const result = await run(command, 'null', { ws: feed.port });
    expect(result.code).toBe(0);
    expect(readFileSync(join(work.dir, 'feed.jsonl'), 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  },
  "wsdx ws://127.0.0.1:8080/feed -s feed.v2 -s feed.v1 -H 'Authorization: Bearer TOKEN' --origin https://app.example.com --ping-interval 10 --ping-timeout 5 < /dev/null > v2.jsonl":
    async (command) => {
      const before = feed.requests.length;
      const result = await run(command, 'null', { ws: feed.port });
      expect(result.code).toBe(0);
      expect(readFileSync(join(work.dir, 'v2.jsonl'), 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
      const request = feed.requests
        .slice(before)
        .find((r) => r.headers.authorization === 'Bearer TOKEN');
      expect(request?.protocol).toBe('feed.v2');
      expect(request?.headers.origin).toBe('https://app.example.com');
    },
  // wsdx listen
  'wsdx listen 8080 --echo': echoServerExample(),
  'wsdx listen 8080 --broadcast --path /chat': (command) =>
    serverExample(command, async (url) => {
      expect(url).toMatch(/\/chat$/);
      const [a, b] = await Promise.all([connect(url), connect(url)]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const heard = nextMessage(b);
      a.write('to the others');
      expect(await heard).toBe('to the others');
      a.end();
      b.end();
    }),
  "wsdx listen 8080 --exec 'sort'": (command) =>
    serverExample(command, async (url) => {
      expect(await throughFilter(url, ['pear', 'apple', 'fig'])).toEqual(['apple', 'fig', 'pear']);
    }),
  "wsdx listen 8080 --exec 'jq -c .' --subprotocol json.v1": (command) =>
    serverExample(command, async (url) => {
      expect(await throughFilter(url, ['{ "a" : [1,', '2] }'], ['json.v1'])).toEqual([
        '{"a":[1,2]}',
      ]);
    }),
  'wsdx listen 8080 > received.log': (command) =>
    serverExample(command, async (url) => {
      const ws = await connect(url);
      ws.write('logged');
      await until(() => {
        try {
          return readFileSync(join(work.dir, 'received.log'), 'utf8') === 'logged\n';
        } catch {
          return false;
        }
      }, 'the log');
      ws.end();
    }),
  'wsdx listen 0.0.0.0:8443 --cert server.pem --key server.key -o https://app.example.com': (
    command,
  ) =>
    serverExample(command, async (url) => {
      expect(url).toMatch(/^wss:/);
      const ws = await connect(url, { ca, origin: 'https://app.example.com' });
      ws.end();
      await expect(connect(url, { ca, origin: 'https://evil.example' })).rejects.toMatchObject({
        status: 403,
      });
    }),
  // send-file and receive-file: the receiver runs, the sender's example sends to it.
  'wsdx receive-file 9000 ./inbox --once': async (command) => {
    const port = await freePort();
    const receiver = await serve(localize(command, { files: port }));
    const sent = await run('wsdx send-file ws://127.0.0.1:9000/ backup.tar', '', { files: port });
    const [code] = (await once(receiver.child, 'close')) as [number];
    expect(code).toBe(0);
    expect(sent.code).toBe(0);
    const digest = sent.stdout.toString().split(' ')[0]!;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(receiver.stdout()).toBe(`${digest}  inbox/backup.tar\n`);
    expect(
      readFileSync(join(work.dir, 'inbox', 'backup.tar')).equals(
        readFileSync(join(work.dir, 'backup.tar')),
      ),
    ).toBe(true);
  },
  'wsdx send-file ws://127.0.0.1:9000/ backup.tar': async () => {
    // Run with its receiver, in the check above.
  },
  // The table: wscat, websocat and wsdx spellings.
  'wscat -c ws://127.0.0.1:8080': echoes(),
  'websocat ws://127.0.0.1:8080': echoes(),
  'wsdx connect ws://127.0.0.1:8080': echoes(),
  'wscat -c 127.0.0.1:8080': echoes(),
  'websocat -t ws://127.0.0.1:8080': echoes(),
  'wsdx 127.0.0.1:8080': echoes(),
  'wscat -l 8080': printsWhatArrives(),
  'websocat -s 8080': printsWhatArrives(),
  'wsdx listen 8080': printsWhatArrives(),
  'wscat -c ws://127.0.0.1:8080 -x hello -w 1': echoes(),
  'websocat -1 ws://127.0.0.1:8080': echoes(),
  'wsdx ws://127.0.0.1:8080 -x hello': echoes(),
  'wscat -c ws://127.0.0.1:8080 -P': echoesVerbosely(),
  'websocat -v ws://127.0.0.1:8080': echoesVerbosely(),
  'wsdx ws://127.0.0.1:8080 --show-control': echoesVerbosely(),
  'wscat -c wss://127.0.0.1:8443 -n': echoes(),
  'websocat -k wss://127.0.0.1:8443': echoes(),
  'wsdx wss://127.0.0.1:8443 --insecure': echoes(),
  "wscat -c ws://127.0.0.1:8080 -s chat -H 'X-Trace: 1'": echoes(),
  "websocat --protocol chat -H 'X-Trace: 1' ws://127.0.0.1:8080": echoes(),
  "wsdx ws://127.0.0.1:8080 -s chat -H 'X-Trace: 1'": echoes(),
  'wscat -c ws://127.0.0.1:8080 --auth alice:s3cret': echoes(),
  'websocat --basic-auth alice:s3cret ws://127.0.0.1:8080': echoes(),
  'wsdx ws://127.0.0.1:8080 --auth alice:s3cret': echoes(),
  'wscat -c ws://127.0.0.1:8080 --proxy http://127.0.0.1:3128': throughTheProxy(),
  'wsdx ws://127.0.0.1:8080 --proxy http://127.0.0.1:3128': throughTheProxy(),
  'HTTP_PROXY=http://127.0.0.1:3128 wsdx ws://127.0.0.1:8080': throughTheProxy(),
  'websocat -b ws://127.0.0.1:8080': echoes(),
  'wsdx ws://127.0.0.1:8080 --binary': echoes(),
  'websocat ws-l:127.0.0.1:8080 mirror:': echoServerExample(),
  "websocat -t ws-l:127.0.0.1:8080 sh-c:'tr a-z A-Z'": upperCases(),
  "wsdx listen 8080 --exec 'tr a-z A-Z'": upperCases(),
};

/** A connect example through the proxy at 3128: it echoes, and the proxy made the tunnel. */
function throughTheProxy(): Check {
  return async (command) => {
    const before = proxy.connects().length;
    await echoes()(command);
    expect(proxy.connects().slice(before)).toContain(`127.0.0.1:${ports.ws}`);
  };
}

// ---------------------------------------------------------------- set-up

async function libraryFeed(): Promise<typeof feed> {
  const server = http.createServer();
  const wss = new WebSocketServer({ httpServer: server });
  const requests: Array<{ headers: IncomingHttpHeaders; protocol: string }> = [];
  wss.on('request', (request: WebSocketRequest) => {
    const protocol = request.requestedProtocols[0] ?? '';
    requests.push({ headers: request.httpRequest.headers, protocol });
    const ws = request.accept(protocol === '' ? undefined : protocol);
    ws.resume();
    for (const n of [1, 2, 3]) ws.write(JSON.stringify({ n }));
    ws.close(1000);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: async () => {
      await wss.shutDown({ gracePeriod: 100 });
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

beforeAll(async () => {
  work = tempDir('wsdx-readme-');
  const bin = join(work.dir, 'bin');
  mkdirSync(bin);
  mkdirSync(join(work.dir, 'inbox'));
  // wsdx, and wsdx under the names of the tools whose spellings it takes.
  for (const name of ['wsdx', 'wscat', 'websocat']) {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec '${process.execPath}' '${WSDX}' "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const certs = makeTestCerts();
  ca = certs.ca;
  writeFileSync(join(work.dir, 'server.pem'), certs.serverCert);
  writeFileSync(join(work.dir, 'server.key'), certs.serverKey);
  certs.cleanup();
  writeFileSync(join(work.dir, 'photo.png'), randomBytes(48 * 1024));
  writeFileSync(join(work.dir, 'request.json'), '{\n  "op": "query",\n  "id": 7\n}\n');
  writeFileSync(join(work.dir, 'blob.bin'), randomBytes(100_000));
  writeFileSync(join(work.dir, 'backup.tar'), randomBytes(300_000));
  ports = { ws: 0, wss: 0, files: 0, proxy: 0, refused: await freePort() };
  [proxy, guardedProxy, feed] = await Promise.all([
    startTinyproxy(),
    startTinyproxy({ user: 'alice', password: 's3cret' }),
    libraryFeed(),
  ]);
  // The servers the client examples talk to: the README's own `wsdx listen 8080 --echo`, a
  // TLS one for 8443, and one serving only / (for the 404 of the transcript).
  const echo = await serve(localize('wsdx listen 0 --echo'));
  const tls = await serve('wsdx listen 0 --echo --cert server.pem --key server.key');
  const guarded = await serve('wsdx listen 0 --echo --path /');
  [echoServer, tlsEcho, guardedEcho] = [echo.child, tls.child, guarded.child];
  ports = {
    ...ports,
    ws: Number(new URL(echo.url).port),
    wss: Number(new URL(tls.url).port),
    proxy: proxy.port,
  };
  (globalThis as { guardedPort?: number }).guardedPort = Number(new URL(guarded.url).port);
}, 60_000);

afterAll(async () => {
  await Promise.all([
    echoServer && stopProcess(echoServer),
    tlsEcho && stopProcess(tlsEcho),
    guardedEcho && stopProcess(guardedEcho),
    proxy?.stop(),
    guardedProxy?.stop(),
    feed?.close(),
  ]);
  work?.cleanup();
});

// ---------------------------------------------------------------- the tests

/** Runs checks a few at a time: enough to overlap their waits, not so many as to crowd the CPU. */
async function inBatches(commands: string[], size = 6): Promise<void> {
  for (let i = 0; i < commands.length; i += size) {
    await Promise.all(commands.slice(i, i + size).map((command) => CHECKS[command]!(command)));
  }
}

describe("the README's command-line section, run as written", () => {
  const shellExamples = shellCommands(SECTION);
  const tableExamples = tableCommands(SECTION);

  it('has a check for every command, and no check for a command it lost', () => {
    const all = [...shellExamples, ...tableExamples];
    expect(all.length).toBeGreaterThanOrEqual(40);
    expect(all.filter((command) => CHECKS[command] === undefined)).toEqual([]);
    expect(Object.keys(CHECKS).filter((command) => !all.includes(command))).toEqual([]);
    expect(tableExamples.filter((c) => c.startsWith('wscat')).length).toBeGreaterThanOrEqual(8);
    expect(tableExamples.filter((c) => c.startsWith('websocat')).length).toBeGreaterThanOrEqual(10);
  });

  it('runs every example of the shell blocks', async () => {
    await inBatches(shellExamples);
  }, 90_000);

  it('runs every spelling of the wscat/websocat table under wsdx', async () => {
    await inBatches(tableExamples);
  }, 90_000);

  it('prints each failure of the transcript as shown, with its exit status', async () => {
    const entries = transcript(SECTION);
    expect(entries.map((e) => e.command.split(' ')[1])).toEqual([
      'ws://127.0.0.1:9/',
      'ws://127.0.0.1:8080/nope',
      'wss://127.0.0.1:8443/',
      'wss://127.0.0.1:8080/',
      'ws://127.0.0.1:8080/',
      '--ping-intervl',
    ]);
    const guardedPort = (globalThis as { guardedPort?: number }).guardedPort!;
    await Promise.all(
      entries.map(async ({ command, line, code }) => {
        // The 404 needs a server serving only /; the 407 a proxy that wants credentials.
        const at: Partial<Ports> = command.includes('/nope')
          ? { ws: guardedPort }
          : command.includes('--proxy')
            ? { proxy: guardedProxy.port }
            : {};
        const result = await run(command, '', at);
        expect(result.stderr, command).toBe(`${localize(line, at)}\n`);
        expect(result.code, command).toBe(code);
      }),
    );
  });
});
