/**
 * Soak: 10,000 WebSocket connections to one server process (many-connections-server.ts, our
 * echo server with its defaults), opened from this process, an echo checked on every 50th,
 * all closed by their Close handshake; then nothing may be left in the server: no
 * connection (counted, or held by the server), no socket on its HTTP server, the same active
 * handles as before (process.getActiveResourcesInfo()), no timer (unref'd ones counted too:
 * the keepalive sweep must stop with the last connection), and its JS heap back near where
 * it started. The 100,000-connection version is scenario 12 of `npm run bench`.
 *
 * Bounded: each phase has a deadline (opening 30 s, closing 20 s, settling 10 s), the whole
 * test 60 s; on the 2-core development machine it takes about 5 s, in the full suite too.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';

const COUNT = 10_000;
const SAMPLE_EVERY = 50;
const WARMUP = 100;
const OPEN_CONCURRENCY = 100;
const CLOSE_CONCURRENCY = 500;
const OPEN_BOUND_MS = 30_000;
const CLOSE_BOUND_MS = 20_000;
const SETTLE_BOUND_MS = 10_000;
/** Heap the server may keep after the last connection closed (grown tables, code). */
const HEAP_RESIDUE = 8 * 1024 * 1024;
const SCRIPT = resolve(import.meta.dirname, 'many-connections-server.ts');

interface Stats {
  connections: number;
  held: number;
  sockets: number;
  resources: Record<string, number>;
  timers: number;
  memory: { rss: number; heap: number };
  errors: Record<string, number>;
}

let child: ChildProcess;
let port: number;

function request<T>(cmd: string, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`server process did not answer ${cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { reply?: T }) => {
      if (!('reply' in message)) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolvePromise(message.reply as T);
    };
    child.on('message', onMessage);
    child.send({ cmd });
  });
}

/** Runs `task(i)` for i < count, `concurrency` at a time; fails if not all done in `boundMs`. */
async function inLanes(
  what: string,
  count: number,
  concurrency: number,
  boundMs: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let done = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: ${done} of ${count} done within ${boundMs} ms`)),
      boundMs,
    );
  });
  const lane = async () => {
    while (next < count) {
      await task(next++);
      done++;
    }
  };
  try {
    await Promise.race([Promise.all(Array.from({ length: concurrency }, lane)), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until the server has no connection and no socket, at most SETTLE_BOUND_MS. */
async function settled(): Promise<Stats> {
  const deadline = Date.now() + SETTLE_BOUND_MS;
  for (;;) {
    const stats = await request<Stats>('stats');
    if (stats.connections === 0 && stats.held === 0 && stats.sockets === 0) return stats;
    if (Date.now() > deadline) {
      throw new Error(
        `server not idle ${SETTLE_BOUND_MS} ms after the last close: ${JSON.stringify(stats)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Opens `count` connections; each one's close is awaited by close(). */
async function openMany(count: number, boundMs: number) {
  const clients: WebSocketConnection[] = [];
  const closed: Array<Promise<void>> = [];
  const failures: Error[] = [];
  await inLanes('open', count, OPEN_CONCURRENCY, boundMs, async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 10_000 });
    ws.on('error', (err: Error) => failures.push(err));
    closed.push(new Promise((r) => ws.once('close', () => r())));
    clients.push(ws);
  });
  return { clients, closed, failures };
}

/** Echoes one message on every `every`-th client (text and binary in turn), each checked. */
async function echoSample(clients: WebSocketConnection[], every: number): Promise<number> {
  let checked = 0;
  const sample = clients.filter((_, i) => i % every === 0);
  await inLanes('echo', sample.length, OPEN_CONCURRENCY, OPEN_BOUND_MS, async (i) => {
    const ws = sample[i]!;
    const sent: string | Buffer = i % 2 === 0 ? `echo ${i} ✓` : Buffer.from(`binary ${i}`);
    const back = new Promise<unknown>((r) => ws.once('data', r));
    ws.write(sent);
    const got = await back;
    expect(got).toEqual(sent);
    checked++;
  });
  return checked;
}

async function closeAll(opened: Awaited<ReturnType<typeof openMany>>, boundMs: number) {
  const { clients, closed } = opened;
  await inLanes('close', clients.length, CLOSE_CONCURRENCY, boundMs, async (i) => {
    clients[i]!.end();
    await closed[i];
  });
}

/** This process's soft limit on open files (Linux; Infinity where /proc does not say). */
function openFileLimit(): number {
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

beforeAll(async () => {
  // This process holds the clients' sockets, the server (which inherits the limit) its own.
  const limit = openFileLimit();
  if (limit < COUNT + 1_000) {
    throw new Error(
      `the soak needs ${COUNT + 1_000} open files per process, the limit is ${limit} (ulimit -n)`,
    );
  }
  child = fork(SCRIPT, [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  port = await new Promise<number>((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error('server process did not start in 20 s')),
      20_000,
    );
    child.once('message', (m: { port: number }) => {
      clearTimeout(timer);
      resolvePromise(m.port);
    });
    child.once('exit', (code) => reject(new Error(`server process exited (${code})`)));
  });
}, 30_000);

afterAll(async () => {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.send({ cmd: 'exit' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
});

it(`holds ${COUNT.toLocaleString('en-US')} connections in one server process, echoes, closes them all and leaves nothing`, async () => {
  const started = Date.now();
  // Warm-up (code compiled, pools made), then what the server holds with no connection.
  const warm = await openMany(WARMUP, OPEN_BOUND_MS);
  await echoSample(warm.clients, 1);
  await closeAll(warm, CLOSE_BOUND_MS);
  await settled();
  const before = await request<{ heap: number; rss: number }>('gc');
  const baseline = await request<Stats>('stats');

  const t0 = Date.now();
  const opened = await openMany(COUNT, OPEN_BOUND_MS);
  const openMs = Date.now() - t0;
  const full = await request<Stats>('stats');
  expect(opened.clients.length).toBe(COUNT);
  expect(full.connections).toBe(COUNT);
  expect(full.held).toBe(COUNT);
  expect(full.sockets).toBe(COUNT);
  expect(full.timers).toBeGreaterThan(baseline.timers); // the keepalive sweep runs
  const at = await request<{ heap: number; rss: number }>('gc');

  const echoed = await echoSample(opened.clients, SAMPLE_EVERY);
  expect(echoed).toBe(COUNT / SAMPLE_EVERY);

  const t1 = Date.now();
  await closeAll(opened, CLOSE_BOUND_MS);
  const closeMs = Date.now() - t1;
  const idle = await settled();
  const after = await request<{ heap: number; rss: number }>('gc');
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `soak: ${COUNT} connections opened in ${openMs} ms, ${echoed} echoes checked, all closed in ${closeMs} ms; ` +
      `server heap ${mib(before.heap)} -> ${mib(at.heap)} -> ${mib(after.heap)}, rss ${mib(before.rss)} -> ${mib(at.rss)} -> ${mib(after.rss)}; ` +
      `timers ${baseline.timers} -> ${full.timers} -> ${idle.timers}; ${Date.now() - started} ms in all`,
  );
  expect(opened.failures).toEqual([]);
  expect(idle.errors).toEqual({});
  expect(idle.resources).toEqual(baseline.resources);
  expect(idle.timers).toBe(baseline.timers);
  expect(after.heap - before.heap).toBeLessThan(HEAP_RESIDUE);
}, 60_000);
