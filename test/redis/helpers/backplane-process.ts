/**
 * Starts backplane-worker.ts in child processes and drives them over IPC, and opens many
 * client connections to them that record what they read: what the multi-process and chaos
 * tests are made of.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { resolve } from 'node:path';
import { connect } from '../../../lib/client.js';
import type { WebSocketConnection } from '../../../lib/stream/websocket-connection.js';
import type { WorkerConfig, WorkerRequest } from './backplane-worker.js';

const SCRIPT = resolve(import.meta.dirname, 'backplane-worker.ts');
const processes = new Set<BackplaneProcess>();

/** An event a worker reported ('degraded', 'restored', 'error'), with when it came. */
export interface WorkerEvent {
  event: string;
  at: number;
  [key: string]: unknown;
}

/** A worker process: a server with a backplane. */
export class BackplaneProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly id: string;
  readonly events: WorkerEvent[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #next = 0;
  #stderr = '';

  private constructor(child: ChildProcess, port: number, id: string) {
    this.child = child;
    this.port = port;
    this.id = id;
    child.on(
      'message',
      (message: { id?: number; ok?: boolean; value?: unknown; error?: string; event?: string }) => {
        if (message.id !== undefined) {
          const waiter = this.#pending.get(message.id);
          this.#pending.delete(message.id);
          if (message.ok) waiter?.resolve(message.value);
          else waiter?.reject(new Error(message.error));
        } else if (message.event !== undefined) {
          this.events.push({ at: Date.now(), ...message } as WorkerEvent);
        }
      },
    );
    child.once('exit', (code, signal) => {
      for (const waiter of this.#pending.values()) {
        waiter.reject(new Error(`worker exited (${code ?? signal}): ${this.#stderr.slice(-2000)}`));
      }
      this.#pending.clear();
    });
  }

  /** Starts a worker and resolves once its backplane is connected and subscribed. */
  static start(config: WorkerConfig, timeoutMs = 20_000): Promise<BackplaneProcess> {
    const child = fork(SCRIPT, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8000);
    });
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`worker did not start within ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      const onMessage = (message: { event?: string; port?: number; id?: string }) => {
        if (message.event !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        const worker = new BackplaneProcess(child, message.port!, message.id!);
        child.stderr?.on('data', (chunk: Buffer) => {
          worker.#stderr = (worker.#stderr + chunk.toString()).slice(-8000);
        });
        processes.add(worker);
        resolvePromise(worker);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited (${code}) before it was ready: ${stderr}`));
      });
    });
  }

  /** Sends a request and resolves with the answer (rejects after `timeoutMs`). */
  request<T>(request: WorkerRequest, timeoutMs = 20_000): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${request.cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolvePromise(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, request });
    });
  }

  /** The events of one kind so far. */
  eventsOf(name: string): WorkerEvent[] {
    return this.events.filter((e) => e.event === name);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Kills the process with a signal and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill(signal);
    await exited;
  }

  /** Asks the worker to close its backplane and exit; kills it after `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ id: 0, request: { cmd: 'exit' } });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    processes.delete(this);
  }
}

/** Stops every worker still running (for afterEach / afterAll). */
export async function stopWorkers(): Promise<void> {
  const all = [...processes];
  processes.clear();
  await Promise.all(all.map((p) => p.stop()));
}

process.once('exit', () => {
  for (const p of processes) p.child.kill('SIGKILL');
});

/** A client that records every message it reads (as text). */
export interface Client {
  ws: WebSocketConnection;
  messages: string[];
  closes: number;
}

const clients = new Set<Client>();

/** Opens `count` clients to a port, `concurrency` handshakes at a time. */
export async function openClients(
  port: number,
  count: number,
  concurrency = 50,
): Promise<Client[]> {
  const opened: Client[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      const ws = await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 10_000 });
      const client: Client = { ws, messages: [], closes: 0 };
      ws.on('data', (m: string | Buffer) => client.messages.push(String(m)));
      ws.on('close', () => client.closes++);
      ws.on('error', () => {});
      clients.add(client);
      opened.push(client);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return opened;
}

/** Drops every client opened by openClients. */
export function closeClients(): void {
  for (const client of clients) client.ws.terminate();
  clients.clear();
}

/** Resolves when `check` holds, polling every 20 ms; rejects with `what` after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: () => string,
): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

/** Parses the `tag:n` messages of one tag, in the order read. */
export function sequence(messages: readonly string[], tag: string): number[] {
  const prefix = `${tag}:`;
  return messages
    .filter((m) => m.startsWith(prefix))
    .map((m) => Number.parseInt(m.slice(prefix.length), 10));
}
