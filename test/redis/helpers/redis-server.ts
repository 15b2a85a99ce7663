/**
 * Real Redis servers for the backplane tests: Debian's redis-server, started on free
 * loopback ports chosen at run time, in a temporary directory, without persistence, and
 * stopped by the tests (stopAllRedis in afterAll, and a synchronous kill when the test
 * process exits, so that a failed or interrupted run leaves none behind).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireProgram } from '../../helpers/child-process.js';

const run = promisify(execFile);
const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const HOST = '127.0.0.1';

const running = new Set<ChildProcess>();
const directories = new Set<string>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

/** Resolves when a TCP port on loopback can be bound (nobody listens on it). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/**
 * Picks a free port; with `clusterBus`, one whose cluster bus port (port + 10000) is free
 * too. Random in 20000-50000 rather than the kernel's choice, so that +10000 stays valid.
 */
export async function freePort(clusterBus = false): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await portIsFree(port)) && (!clusterBus || (await portIsFree(port + 10_000)))) {
      return port;
    }
  }
  throw new Error('no free port found in 200 attempts');
}

/** Runs redis-cli against a port and returns its output (trimmed). */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  requireProgram(REDIS_CLI, 'redis-tools');
  const { stdout } = await run(REDIS_CLI, ['-h', HOST, '-p', String(port), ...args], {
    timeout: 10_000,
  });
  return stdout.trim();
}

/** One redis-server process. */
export class RedisServer {
  readonly port: number;
  readonly #args: readonly string[];
  readonly #dir: string;
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(port: number, dir: string, args: readonly string[]) {
    this.port = port;
    this.#dir = dir;
    this.#args = args;
  }

  /** Starts a server on a free port and resolves once it answers PING. */
  static async start(options: { args?: string[]; clusterBus?: boolean; dir?: string } = {}) {
    requireProgram(REDIS_SERVER, 'redis-server');
    const port = await freePort(options.clusterBus ?? false);
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'wsdx-redis-'));
    directories.add(dir);
    const server = new RedisServer(port, dir, options.args ?? []);
    await server.restart();
    return server;
  }

  /** The server's process id (for SIGSTOP / SIGCONT). */
  get pid(): number {
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error(`redis-server on ${this.port} is not running`);
    return pid;
  }

  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  get isRunning(): boolean {
    return (
      this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
    );
  }

  /** Starts the server again on its port (after kill()) and waits until it answers. */
  async restart(timeoutMs = 10_000): Promise<void> {
    if (this.isRunning) throw new Error(`redis-server on ${this.port} is already running`);
    const child = spawn(
      REDIS_SERVER,
      [
        '--port',
        String(this.port),
        '--bind',
        HOST,
        '--dir',
        this.#dir,
        '--save',
        '',
        '--appendonly',
        'no',
        ...this.#args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    child.stdout?.on('data', (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.isRunning) break;
      const pong = await redisCli(this.port, 'PING').catch(() => '');
      if (pong === 'PONG') return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.kill();
    throw new Error(
      `redis-server on ${this.port} did not answer within ${timeoutMs} ms:\n${this.#output}`,
    );
  }

  /** Kills the server at once (SIGKILL by default) and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  cli(...args: string[]): Promise<string> {
    return redisCli(this.port, ...args);
  }
}

/** A Redis Cluster of `masters` masters without replicas, made with redis-cli --cluster create. */
export class RedisClusterProcesses {
  readonly servers: RedisServer[];

  private constructor(servers: RedisServer[]) {
    this.servers = servers;
  }

  static async start(masters = 3): Promise<RedisClusterProcesses> {
    const dir = mkdtempSync(join(tmpdir(), 'wsdx-redis-cluster-'));
    directories.add(dir);
    const servers: RedisServer[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        servers.push(
          await RedisServer.start({
            clusterBus: true,
            dir,
            args: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              `nodes-${i}-${process.pid}.conf`,
              '--cluster-node-timeout',
              '3000',
            ],
          }),
        );
      }
      await run(
        REDIS_CLI,
        [
          '--cluster',
          'create',
          ...servers.map((s) => `${HOST}:${s.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
      const deadline = Date.now() + 20_000;
      for (const server of servers) {
        while (!(await server.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error(`cluster node ${server.port} never became ok`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      return new RedisClusterProcesses(servers);
    } catch (err) {
      await Promise.all(servers.map((s) => s.kill()));
      throw err;
    }
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill('SIGTERM')));
  }
}

/** Stops every server still running (for afterAll). */
export async function stopAllRedis(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  directories.clear();
}
