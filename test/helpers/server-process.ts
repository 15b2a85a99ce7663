/**
 * Starts test/helpers/echo-server-child.ts in a child process and talks to it over IPC, so
 * that a test can attack a server and measure it (memory, handles, survival) from outside.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';
import type { EchoServerConfig } from './echo-server-child.js';

const SCRIPT = resolve(import.meta.dirname, 'echo-server-child.ts');

/** Memory figures of the child, in bytes. */
export interface ChildMemory {
  rss: number;
  heap: number;
  /** Buffers and other memory outside the JavaScript heap. */
  external: number;
}

/** What the child reports. */
export interface ChildStats {
  memory: ChildMemory;
  peak: ChildMemory;
  connections: number;
  sockets: number;
  socketsEver: number;
  accepted: number;
  closeCodes: Record<string, number>;
  errors: Record<string, number>;
  upgradeErrors: Record<string, number>;
  resources: Record<string, number>;
}

/** A running echo server process. */
export class ServerProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly #stderr: string[];

  private constructor(child: ChildProcess, port: number, stderr: string[]) {
    this.#child = child;
    this.port = port;
    this.#stderr = stderr;
    child.once('exit', (code, signal) => {
      this.#exit = { code, signal };
    });
  }

  /** Starts the child and resolves once it listens on loopback. */
  static start(config: EchoServerConfig = {}, timeoutMs = 20_000): Promise<ServerProcess> {
    const child = fork(SCRIPT, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const stderr: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`server process did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('message', (message: { port: number }) => {
        clearTimeout(timer);
        resolvePromise(new ServerProcess(child, message.port, stderr));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(`server process exited (${code}) before it was ready: ${stderr.join('')}`),
        );
      });
    });
  }

  /** Whether the process is still running (it must survive every attack). */
  get alive(): boolean {
    return this.#exit === undefined && this.#child.exitCode === null;
  }

  /** How it exited, with its stderr, for failure messages. */
  get exitReport(): string {
    return `${JSON.stringify(this.#exit)} ${this.#stderr.join('').slice(-2000)}`;
  }

  stats(): Promise<ChildStats> {
    return this.#request('stats') as Promise<ChildStats>;
  }

  resetPeak(): Promise<ChildMemory> {
    return this.#request('resetPeak') as Promise<ChildMemory>;
  }

  /** Runs a full garbage collection in the child and resets the peak. */
  gc(): Promise<ChildMemory> {
    return this.#request('gc') as Promise<ChildMemory>;
  }

  /** Asks the child to exit; kills it (this child only) if it does not within 3 s. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.#child.once('exit', () => r()));
    this.#child.send({ cmd: 'exit' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }

  #request(cmd: string, timeoutMs = 10_000): Promise<unknown> {
    if (!this.alive) return Promise.reject(new Error(`server process is gone: ${this.exitReport}`));
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.#child.off('message', onMessage);
        reject(new Error(`server process did not answer ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (message: { reply?: unknown }): void => {
        if (!('reply' in message)) return;
        clearTimeout(timer);
        this.#child.off('message', onMessage);
        resolvePromise(message.reply);
      };
      this.#child.on('message', onMessage);
      this.#child.send({ cmd });
    });
  }
}

/** Bytes as MiB with one decimal, for reports. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
