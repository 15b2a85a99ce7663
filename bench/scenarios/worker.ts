/**
 * A benchmark worker: one library's server, or one library's client, in a process of its
 * own, driven by bench/run.ts over IPC (bench/lib/child.ts).
 *
 * This file is NOT run through tsx: bench/run.ts bundles it (with bench/lib/ and the peers,
 * packages left external) into plain JavaScript first, so that the code measured is what
 * node runs for users, and our library is the built dist/index.js (BENCH_OURS_URL).
 *
 * Arguments: --role=server|client --lib=ours|ws|websocket|tcp [--settings=JSON]
 */
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { serveRequests, type WorkerRequest } from '../lib/child.js';
import { EchoDriver, type EchoPayloads, PayloadPool, TextPayloadPool } from '../lib/echo.js';
import { FileLikeSource, jsonText, multiByteText, prng } from '../lib/payloads.js';
import {
  type ClientSettings,
  type LibKey,
  loadOurs,
  type Message,
  openClient,
  oursOptions,
  type PeerClient,
  preload,
  type ServerSettings,
  sendWhole,
  startServer,
  withTimeout,
  wsUsesBufferutil,
} from './peers.js';

/** What the messages of a load are. */
export interface PayloadSpec {
  kind: 'binary' | 'multibyte' | 'json';
  /** Bytes per message. */
  size: number;
  /** Distinct messages, sent in turn (more than the window: a reordered echo is caught). */
  count: number;
}

export interface EchoRequest extends WorkerRequest {
  cmd: 'echo';
  port: number;
  payload: PayloadSpec;
  /** Messages in flight per connection. */
  window: number;
  /** Connections, each with its own window. */
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Bound on the messages of the measured phase, over all connections. */
  maxMessages: number;
  deflate: boolean;
  maxMessageSize: number;
}

export interface EchoMeasurement {
  messages: number;
  bytes: number;
  seconds: number;
  rate: number;
  warmupMessages: number;
  /** CPU time of this client process over the measured phase, ms. */
  clientCpuMs: number;
}

export interface OpenRequest extends WorkerRequest {
  cmd: 'open';
  port: number;
  count: number;
  /** Handshakes at once. */
  concurrency: number;
  deflate: boolean;
  /** When given, each connection echoes one such message once open (and checks it). */
  exchange: PayloadSpec | null;
}

export interface StreamSendRequest extends WorkerRequest {
  cmd: 'stream-send';
  port: number;
  bytes: number;
}

export interface StreamSendResult {
  bytes: number;
  digest: string;
  seconds: number;
}

/** Memory of a process, in bytes. */
export interface MemoryFigures {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Peak RSS of the process so far (process.resourceUsage().maxRSS). */
  maxRss: number;
  connections: number;
}

const DRAIN_TIMEOUT_MS = 20_000;
const EXCHANGE_TIMEOUT_MS = 20_000;

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Collects garbage until RSS settles a little (a few full GCs with turns in between). */
async function collect(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(50);
  }
}

function memory(connections: number): MemoryFigures {
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    maxRss: process.resourceUsage().maxRSS * 1024,
    connections,
  };
}

function makePayloads(spec: PayloadSpec): EchoPayloads<Message, Message> {
  if (spec.kind === 'binary') {
    return new PayloadPool(spec.size, spec.count) as EchoPayloads<Message, Message>;
  }
  const random = prng(spec.size * 7919 + spec.count);
  const make = spec.kind === 'json' ? jsonText : multiByteText;
  const texts = Array.from({ length: spec.count }, () => make(spec.size, random));
  return new TextPayloadPool(texts) as EchoPayloads<Message, Message>;
}

function clientSettings(
  spec: PayloadSpec,
  deflate: boolean,
  maxMessageSize: number,
): ClientSettings {
  return { deflate, maxMessageSize, expect: spec.kind === 'binary' ? 'binary' : 'text' };
}

/** Opens `count` clients, `concurrency` handshakes at a time. */
async function openMany(
  lib: LibKey,
  port: number,
  count: number,
  concurrency: number,
  settings: ClientSettings,
): Promise<PeerClient[]> {
  const clients: PeerClient[] = [];
  try {
    while (clients.length < count) {
      const batch = Math.min(concurrency, count - clients.length);
      const opened = await Promise.allSettled(
        Array.from({ length: batch }, () => openClient(lib, port, settings)),
      );
      for (const o of opened) if (o.status === 'fulfilled') clients.push(o.value);
      const failed = opened.find((o) => o.status === 'rejected');
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    }
  } catch (err) {
    await closeMany(clients);
    throw err;
  }
  return clients;
}

async function closeMany(clients: PeerClient[]): Promise<void> {
  for (let i = 0; i < clients.length; i += 200) {
    await Promise.all(clients.slice(i, i + 200).map((c) => c.close()));
  }
}

/** Echoes one message (checked) on every client, `concurrency` at a time. */
async function exchangeOnce(
  clients: PeerClient[],
  payloads: EchoPayloads<Message, Message>,
  concurrency: number,
): Promise<void> {
  const load = { window: 1, maxMessages: 1, durationMs: 0, drainTimeoutMs: EXCHANGE_TIMEOUT_MS };
  for (let i = 0; i < clients.length; i += concurrency) {
    await Promise.all(
      clients.slice(i, i + concurrency).map((c) => new EchoDriver(c, payloads).run(load)),
    );
  }
}

async function echo(lib: LibKey, request: EchoRequest): Promise<EchoMeasurement> {
  const payloads = makePayloads(request.payload);
  const settings = clientSettings(request.payload, request.deflate, request.maxMessageSize);
  gc();
  const clients = await openMany(lib, request.port, request.connections, 50, settings);
  try {
    const drivers = clients.map((c) => new EchoDriver(c, payloads));
    const perConnection = Math.max(1, Math.floor(request.maxMessages / request.connections));
    const phase = async (durationMs: number) => {
      const load = {
        window: request.window,
        durationMs,
        maxMessages: perConnection,
        drainTimeoutMs: DRAIN_TIMEOUT_MS,
      };
      const start = performance.now();
      const results = await Promise.all(drivers.map((d) => d.run(load)));
      const seconds = (performance.now() - start) / 1000;
      const messages = results.reduce((sum, r) => sum + r.messages, 0);
      return { messages, bytes: messages * payloads.size, seconds, rate: messages / seconds };
    };
    const warmup = await phase(request.warmupMs);
    const cpu = process.cpuUsage();
    const result = await phase(request.durationMs);
    const used = process.cpuUsage(cpu);
    return {
      ...result,
      warmupMessages: warmup.messages,
      clientCpuMs: (used.user + used.system) / 1000,
    };
  } finally {
    await closeMany(clients);
  }
}

async function streamSend(lib: LibKey, request: StreamSendRequest): Promise<StreamSendResult> {
  const source = new FileLikeSource(request.bytes);
  const start = performance.now();
  if (lib === 'ours') {
    const { connect } = await loadOurs();
    const ws = await connect(`ws://127.0.0.1:${request.port}/`, {
      ...oursOptions(),
      perMessageDeflate: false,
    });
    await pipeline(source, ws.createMessageStream({ binary: true }));
    const closed = new Promise((resolve) => ws.once('close', resolve));
    ws.end();
    await withTimeout(closed, 10_000, 'ours: close');
  } else if (lib === 'ws' || lib === 'websocket') {
    // No streaming API: the message is read whole into memory and sent as one Buffer.
    const chunks: Buffer[] = [];
    for await (const chunk of source) chunks.push(chunk as Buffer);
    const whole = Buffer.concat(chunks, request.bytes);
    chunks.length = 0;
    await sendWhole(lib, request.port, whole);
  } else {
    // The plain TCP baseline: the bytes of the connection are the message.
    const socket = net.connect(request.port, '127.0.0.1');
    await withTimeout(once(socket, 'connect'), 10_000, 'tcp: connect');
    const closed = once(socket, 'close');
    await pipeline(source, socket);
    await withTimeout(closed, 10_000, 'tcp: close');
  }
  return {
    bytes: request.bytes,
    digest: source.digest(),
    seconds: (performance.now() - start) / 1000,
  };
}

// ------------------------------------------------------------------------------ roles

async function runServer(lib: LibKey, settings: ServerSettings): Promise<void> {
  await preload(lib);
  const server = await startServer(lib, settings);
  serveRequests(
    {
      port: server.port,
      pid: process.pid,
      bufferutil: lib === 'ws' ? wsUsesBufferutil() : null,
      startRss: process.memoryUsage().rss,
    },
    async (request) => {
      switch (request.cmd) {
        case 'memory':
          await collect();
          return memory(server.connections());
        case 'usage':
          return memory(server.connections());
        case 'cpu': {
          const used = process.cpuUsage();
          return (used.user + used.system) / 1000;
        }
        case 'wait-connections': {
          const { count, timeoutMs } = request as unknown as { count: number; timeoutMs: number };
          const deadline = performance.now() + timeoutMs;
          while (server.connections() !== count) {
            if (performance.now() > deadline) {
              throw new Error(`${server.connections()} connections, expected ${count}`);
            }
            await sleep(20);
          }
          return server.connections();
        }
        case 'sink-next':
          return { ...(await server.nextSink()), memory: memory(server.connections()) };
        default:
          throw new Error(`server: unknown request ${request.cmd}`);
      }
    },
  );
}

function runClient(lib: LibKey): void {
  let held: PeerClient[] = [];
  let heldPayloads: EchoPayloads<Message, Message> | undefined;
  const startRss = process.memoryUsage().rss;
  serveRequests(
    { pid: process.pid, bufferutil: lib === 'ws' ? wsUsesBufferutil() : null, startRss },
    async (request) => {
      switch (request.cmd) {
        case 'echo':
          return echo(lib, request as EchoRequest);
        case 'open': {
          const r = request as OpenRequest;
          const spec = r.exchange ?? { kind: 'binary', size: 64, count: 16 };
          const settings = clientSettings(spec, r.deflate, 64 * 1024 * 1024);
          const start = performance.now();
          const clients = await openMany(lib, r.port, r.count, r.concurrency, settings);
          held.push(...clients);
          heldPayloads = makePayloads(spec);
          if (r.exchange !== null) await exchangeOnce(clients, heldPayloads, r.concurrency);
          return { opened: clients.length, seconds: (performance.now() - start) / 1000 };
        }
        case 'check-held': {
          // One echo per held connection, checked: every one of them is alive and working.
          if (heldPayloads === undefined) return 0;
          await exchangeOnce(held, heldPayloads, 100);
          return held.length;
        }
        case 'close-held': {
          const clients = held;
          held = [];
          await closeMany(clients);
          return clients.length;
        }
        case 'stream-send':
          return {
            ...(await streamSend(lib, request as StreamSendRequest)),
            memory: memory(0),
          };
        default:
          throw new Error(`client: unknown request ${request.cmd}`);
      }
    },
  );
}

const role = option('role', '');
const lib = option('lib', '') as LibKey;
if (role === 'server') {
  const settings = JSON.parse(option('settings', '{}')) as ServerSettings;
  // JSON has no Infinity: null stands for it.
  settings.maxMessageSize ??= Number.POSITIVE_INFINITY;
  await runServer(lib, settings);
} else if (role === 'client') {
  await preload(lib);
  runClient(lib);
} else {
  throw new Error('worker: --role=server|client');
}
