import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's tinyproxy: a real HTTP proxy that tunnels with CONNECT (RFC 9110 §9.3.6). */
export const TINYPROXY = '/usr/bin/tinyproxy';

/** A tinyproxy started for a test, in the foreground, logging to us. */
export interface Tinyproxy {
  /** `http://127.0.0.1:PORT` (without credentials). */
  url: string;
  port: number;
  /** The CONNECT targets it was asked for so far, in order (`127.0.0.1:8080`). */
  connects(): string[];
  /** Everything it logged. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Fails loudly (never skips) when tinyproxy is missing: the proxy tests need the real one.
 */
export function requireTinyproxy(): void {
  try {
    accessSync(TINYPROXY, constants.X_OK);
  } catch {
    throw new Error(
      `PEER MISSING: ${TINYPROXY} is not installed. The proxy tests run a real tinyproxy and ` +
        'fail rather than skip: install it with `apt-get install tinyproxy` (.ci/run does this in CI).',
    );
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts tinyproxy on a free loopback port, with Basic credentials when `auth` is given
 * (`BasicAuth user password`: then a CONNECT without them is answered 407), and resolves
 * once it accepts connections (within 10 s, three ports tried).
 */
export async function startTinyproxy(auth?: {
  user: string;
  password: string;
}): Promise<Tinyproxy> {
  requireTinyproxy();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(await freePort(), auth);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(
  port: number,
  auth: { user: string; password: string } | undefined,
): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'wsdx-tinyproxy-'));
  const config = join(dir, 'tinyproxy.conf');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 30',
      'MaxClients 64',
      'LogLevel Connect',
      ...(auth === undefined ? [] : [`BasicAuth ${auth.user} ${auth.password}`]),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(TINYPROXY, ['-d', '-c', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const collect = (chunk: Buffer): void => {
    log += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`tinyproxy exited (${child.exitCode}) before listening:\n${log}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`tinyproxy did not listen on ${port} within 10 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connects: () =>
      [...log.matchAll(/Request \(file descriptor \d+\): CONNECT (\S+)/g)].map((m) => m[1]!),
    log: () => log,
    stop,
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
