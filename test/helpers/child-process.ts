import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** The repository root. */
export const ROOT = resolve(import.meta.dirname, '../..');

/** A program started by a test: its output, line by line, and the means to wait on it. */
export class Child {
  readonly process: ChildProcess;
  /** Every line of stdout and stderr so far, in arrival order (stderr lines marked). */
  readonly lines: string[] = [];
  readonly name: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: Array<() => void> = [];
  readonly #group: boolean;

  constructor(name: string, command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.name = name;
    this.#group = options.group ?? false;
    this.process = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: this.#group,
    });
    this.#collect(this.process.stdout!, '');
    this.#collect(this.process.stderr!, '[stderr] ');
    this.exited = new Promise((resolveExit) => {
      this.process.once('exit', (code, signal) => {
        // Let the last lines arrive before anyone looks at them.
        setImmediate(() => resolveExit({ code, signal }));
        this.#wake();
      });
    });
  }

  /** The output so far, as one string, for failure messages. */
  get output(): string {
    return this.lines.join('\n');
  }

  /** Lines matching a pattern. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((line) => pattern.test(line));
  }

  /**
   * Resolves with the first line matching `pattern` (looking at past lines too); rejects
   * after `ms` or when the program exits first, with its output in the message.
   */
  waitFor(pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    return this.waitForCount(pattern, 1, ms).then((matches) => matches[0]!);
  }

  /** Resolves once `count` lines match `pattern`, with their matches. */
  waitForCount(pattern: RegExp, count: number, ms = 10_000): Promise<RegExpExecArray[]> {
    return new Promise((resolveWait, reject) => {
      const check = (): boolean => {
        const found: RegExpExecArray[] = [];
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match !== null) found.push(match);
        }
        if (found.length >= count) {
          done();
          resolveWait(found.slice(0, count));
          return true;
        }
        if (this.process.exitCode !== null || this.process.signalCode !== null) {
          done();
          reject(
            new Error(
              `${this.name} exited (${this.process.exitCode ?? this.process.signalCode}) before ${count} line(s) matched ${pattern}; output:\n${this.output}`,
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `${this.name}: ${count} line(s) matching ${pattern} not seen within ${ms} ms; output:\n${this.output.slice(-4000)}`,
          ),
        );
      }, ms);
      const waiter = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.#waiters.push(waiter);
    });
  }

  /**
   * Stops the program with `signal` and waits for it to exit; after `ms` it is killed
   * (SIGKILL), so that a test never leaves a process behind.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', ms = 5_000): Promise<{ code: number | null }> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.#kill(signal);
      const timer = setTimeout(() => this.#kill('SIGKILL'), ms);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.#group) this.#kill('SIGKILL'); // whatever of the group outlived its leader
    return this.exited;
  }

  /** Signals the program, or its whole process group (the group's id is the program's pid). */
  #kill(signal: NodeJS.Signals): void {
    if (!this.#group || this.process.pid === undefined) {
      this.process.kill(signal);
      return;
    }
    try {
      process.kill(-this.process.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  #collect(stream: NodeJS.ReadableStream, prefix: string): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) this.lines.push(prefix + part.replace(/\r$/, ''));
      this.#wake();
    });
    stream.on('end', () => {
      if (partial !== '') this.lines.push(prefix + partial);
      partial = '';
      this.#wake();
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  /**
   * Run it in a process group of its own and signal the whole group: for launchers such as
   * npm, which do not pass SIGTERM on to the program they start.
   */
  group?: boolean;
}

/** Programs started through {@link startExample} and {@link startProgram}, stopped by {@link stopAll}. */
const running = new Set<Child>();

/** Starts an example as its README line says: `node --import tsx examples/NAME.ts ARGS`. */
export function startExample(
  name: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
) {
  const file = resolve(ROOT, 'examples', name);
  return startProgram(name, process.execPath, ['--import', 'tsx', file, ...args], options);
}

/** Starts any program (tracked, so that stopAll() ends it). */
export function startProgram(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Child {
  const child = new Child(name, command, args, options);
  running.add(child);
  child.exited.then(() => running.delete(child));
  return child;
}

/** Stops every program still running (for afterEach/afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop('SIGTERM', 3_000)));
}

/**
 * Fails loudly when a system program a test needs is missing, naming the Debian package
 * that provides it, rather than letting the test skip or fail obscurely.
 */
export function requireProgram(path: string, debianPackage: string): string {
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: this test needs the Debian package ${debianPackage} ` +
        `(apt-get install ${debianPackage}; .ci/run installs it).`,
    );
  }
  return path;
}

/** Starts a server example on port 0 and resolves with it and the port it printed. */
export async function startServerExample(
  name: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): Promise<{ child: Child; port: number }> {
  const child = startExample(name, args, { ...options, env: { PORT: '0', ...options.env } });
  const match = await child.waitFor(/listening on (?:port |http:\/\/[^\s]*?:)(\d+)/, 20_000);
  return { child, port: Number(match[1]) };
}
