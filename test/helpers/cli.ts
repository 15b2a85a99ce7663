import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';

/** The repository's root and the CLI launcher, as a user runs it. */
export const ROOT = resolve(import.meta.dirname, '../..');
export const WSDX = join(ROOT, 'bin', 'wsdx.js');

/** How a CLI process ended, and what it printed. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** SHA-256 and length of stdout, counted as it streamed (also when stdout was not kept). */
  stdoutSha256: string;
  stdoutBytes: number;
}

/** Options of {@link runCli}. */
export interface RunOptions {
  /** What to feed stdin: bytes, a file descriptor (a file as stdin), or nothing ('ignore' ends it at once). */
  input?: string | Buffer | number;
  /** Kill the process (SIGKILL) and fail after this many ms. Default: 20 000. */
  timeout?: number;
  /** Keep stdout in memory (default true); turn off for large outputs and use stdoutSha256. */
  keepStdout?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * The proxy variables, unset: wsdx reads them by default (as curl does), and a proxy set in
 * the machine's environment must not come between the tests and their loopback servers.
 * Tests of the proxy set them explicitly.
 */
export const NO_PROXY_ENV: NodeJS.ProcessEnv = {
  http_proxy: undefined,
  HTTP_PROXY: undefined,
  https_proxy: undefined,
  HTTPS_PROXY: undefined,
  no_proxy: undefined,
  NO_PROXY: undefined,
};

/** Starts the CLI as a real process (`node bin/wsdx.js ARGS`), its stdio piped. */
export function spawnCli(
  args: readonly string[],
  stdin: 'pipe' | 'ignore' | number = 'pipe',
  env?: NodeJS.ProcessEnv,
): ChildProcess {
  return spawn(process.execPath, [WSDX, ...args], {
    cwd: ROOT,
    stdio: [stdin, 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', WSDX_DEBUG: '', ...NO_PROXY_ENV, ...env },
  });
}

/**
 * Runs the CLI to its end and collects its exit status and output, killing it after
 * `timeout` ms so that a hung process fails the test instead of hanging the suite.
 */
export async function runCli(
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliResult> {
  const input = options.input;
  const child = spawnCli(args, typeof input === 'number' ? input : 'pipe', options.env);
  if (typeof input !== 'number') {
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  }
  return collect(child, options.timeout ?? 20_000, options.keepStdout ?? true);
}

/** Waits for a started process to end, collecting its output, within `timeout` ms. */
export async function collect(
  child: ChildProcess,
  timeout = 20_000,
  keepStdout = true,
): Promise<CliResult> {
  const hash = createHash('sha256');
  const out: Buffer[] = [];
  let bytes = 0;
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    if (keepStdout) out.push(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  try {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    if (signal === 'SIGKILL')
      throw new Error(`wsdx timed out after ${timeout} ms; stderr:\n${stderr}`);
    return {
      code,
      signal,
      stdout: Buffer.concat(out),
      stderr,
      stdoutSha256: hash.digest('hex'),
      stdoutBytes: bytes,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A CLI server running in the background. */
export interface BackgroundCli {
  child: ChildProcess;
  /** The URL it printed (`wsdx: listening on URL`). */
  url: string;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Sends SIGTERM and waits for the process to end (SIGKILL after 5 s). */
  stop(): Promise<number | null>;
}

/**
 * Starts a CLI server (`wsdx listen 0 ...`, `wsdx receive-file 0 ...`) and resolves once
 * it has printed the URL it listens on, within `timeout` ms.
 */
export async function startCli(
  args: readonly string[],
  timeout = 15_000,
  env?: NodeJS.ProcessEnv,
): Promise<BackgroundCli> {
  const child = spawnCli(args, 'ignore', env);
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wsdx ${args.join(' ')} did not start in ${timeout} ms:\n${stderr}`));
    }, timeout);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (\S+)/.exec(stderr);
      if (match !== null) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    child.once('close', () => {
      clearTimeout(timer);
      reject(new Error(`wsdx ${args.join(' ')} exited before listening:\n${stderr}`));
    });
  });
  return {
    child,
    url,
    stderr: () => stderr,
    stdout: () => stdout,
    stop: () => stopProcess(child),
  };
}

/** Ends a process with SIGTERM (SIGKILL after 5 s) and resolves with its exit status. */
export async function stopProcess(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const closed = once(child, 'close');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  const [code] = (await closed) as [number | null];
  clearTimeout(timer);
  return code;
}

/** Waits until `predicate` holds, polling every 25 ms, for at most `timeout` ms. */
export async function waitFor(
  predicate: () => boolean,
  timeout = 10_000,
  what = 'a condition',
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix = 'wsdx-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Hashes a stream's bytes. */
export async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Asserts the shape every CLI error must have: one line on stderr, no stack trace. */
export function isOneLineError(stderr: string): boolean {
  const lines = stderr.trimEnd().split('\n');
  return lines.length === 1 && lines[0]!.startsWith('wsdx: ') && !/\n\s+at /.test(stderr);
}
