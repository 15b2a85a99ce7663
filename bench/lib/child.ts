/**
 * Benchmark workers in child processes, driven over IPC: one request at a time, each with a
 * timeout, so that a client and the peer it talks to run on their own event loops (and
 * cores), and a library loaded with special settings (e.g. ws with WS_NO_BUFFER_UTIL=1)
 * does not share a process with the others.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A request to a worker; `cmd` names what to do. */
export interface WorkerRequest {
  cmd: string;
  [key: string]: unknown;
}

type Reply = { ok: true; value: unknown } | { ok: false; error: string };

/** The parent's handle on a worker started with {@link startWorker}. */
export class Worker {
  readonly name: string;
  /** What the worker announced when it was ready. */
  readonly info: Record<string, unknown>;
  readonly #child: ChildProcess;
  #busy = false;

  constructor(name: string, child: ChildProcess, info: Record<string, unknown>) {
    this.name = name;
    this.#child = child;
    this.info = info;
  }

  /** Sends a request and resolves with the worker's answer; rejects on its error or a timeout. */
  request<T>(message: WorkerRequest, timeoutMs: number): Promise<T> {
    if (this.#busy) return Promise.reject(new Error(`${this.name}: a request is already running`));
    this.#busy = true;
    const child = this.#child;
    return new Promise<T>((resolve, reject) => {
      const settle = (fn: () => void) => {
        this.#busy = false;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        fn();
      };
      const onMessage = (reply: Reply) =>
        settle(() =>
          reply.ok ? resolve(reply.value as T) : reject(new Error(`${this.name}: ${reply.error}`)),
        );
      const onExit = (code: number | null) =>
        settle(() => reject(new Error(`${this.name} exited (${code}) during ${message.cmd}`)));
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(new Error(`${this.name}: ${message.cmd} timed out after ${timeoutMs} ms`)),
          ),
        timeoutMs,
      );
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(message);
    });
  }

  /** Asks the worker to exit; kills it (this child only) if it has not after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.send({ cmd: 'exit' });
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** How a worker is launched, beyond its script and arguments. */
export interface LaunchOptions {
  /** How long it may take to announce itself (ms). Default 20,000. */
  startTimeoutMs?: number;
  /**
   * Open files it needs (a socket is one): when above this process's own limit, the worker
   * is started through `sh -c 'ulimit -n N'`, which raises its soft and hard limits. Only a
   * process with CAP_SYS_RESOURCE (root, unless a container drops it) may raise the hard
   * limit; where that fails the worker gets its hard limit, which it reports as `openFiles`
   * in its info for the caller to check.
   */
  openFiles?: number;
}

/** This process's soft limit on open files (from /proc; Infinity where there is none). */
export function ownOpenFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * The limit on open files that a worker started with `launch.openFiles = want` gets: `want`
 * where it can be raised that far (root outside a container), else the hard limit.
 */
export function reachableOpenFileLimit(want: number): number {
  if (want <= ownOpenFileLimit()) return want;
  try {
    const out = execFileSync('/bin/sh', [
      '-c',
      `ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ulimit -n`,
    ]);
    const limit = String(out).trim();
    return limit === 'unlimited' ? want : Math.min(want, Number(limit) || 0);
  } catch {
    return ownOpenFileLimit();
  }
}

/**
 * Starts `script` with `args` in a child process and waits for it to announce itself with
 * {@link serveRequests}. A TypeScript script runs through tsx; a JavaScript one (`.js`,
 * `.mjs`, `.cjs`: e.g. a worker bundled ahead of time, so that what is measured is plain
 * JavaScript, not tsx's transform) runs on plain node. `execArgv` adds Node flags (e.g.
 * `--cpu-prof`).
 */
export function startWorker(
  name: string,
  script: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  execArgv: string[] = [],
  launch: LaunchOptions = {},
): Promise<Worker> {
  const startTimeoutMs = launch.startTimeoutMs ?? 20_000;
  const loader = /\.[cm]?js$/.test(script) ? [] : ['--import', 'tsx'];
  const nodeArgv = ['--expose-gc', ...loader, ...execArgv];
  const openFiles = launch.openFiles ?? 0;
  // fork() runs `execPath ...execArgv script ...args`: through the shell, node is its $0.
  const raise = openFiles > ownOpenFileLimit();
  const child = fork(script, args, {
    ...(raise
      ? {
          execPath: '/bin/sh',
          execArgv: [
            '-c',
            `ulimit -n ${openFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
            process.execPath,
            ...nodeArgv,
          ],
        }
      : { execArgv: nodeArgv }),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<Worker>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    child.once('message', (info: Record<string, unknown>) => {
      clearTimeout(timer);
      resolve(new Worker(name, child, info));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before it was ready`));
    });
  });
}

/**
 * In a worker: announces `info` to the parent, then answers each request with `handler`
 * (one at a time). `{ cmd: 'exit' }` (or the parent going away) ends the process.
 */
export function serveRequests(
  info: Record<string, unknown>,
  handler: (request: WorkerRequest) => Promise<unknown>,
): void {
  const send = process.send?.bind(process);
  if (send === undefined)
    throw new Error('serveRequests: not started as a worker (no IPC channel)');
  process.on('disconnect', () => process.exit(0));
  process.on('message', (request: WorkerRequest) => {
    if (request.cmd === 'exit') {
      // exit() rather than kill, so that --cpu-prof writes its profile.
      process.exit(0);
    }
    handler(request).then(
      (value) => send({ ok: true, value }),
      (err: unknown) =>
        send({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
  send(info);
}
