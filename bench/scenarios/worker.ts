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
import { ownOpenFileLimit, serveRequests, type WorkerRequest } from '../lib/child.js';
import { EchoDriver, type EchoPayloads, PayloadPool, TextPayloadPool } from '../lib/echo.js';
import { OpenLoopDriver, quantile } from '../lib/open-loop.js';
import {
  broadcastPayload,
  FileLikeSource,
  jsonText,
  multiByteText,
  prng,
} from '../lib/payloads.js';
import { openRawWebSocket, type RawWebSocket } from '../lib/raw-websocket.js';
import { installTimerCensus } from '../lib/timer-census.js';
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

export interface OpenLoopRunRequest extends WorkerRequest {
  cmd: 'open-loop-run';
  periodMs: number;
  durationMs: number;
  drainTimeoutMs: number;
}

/** What the client measured over one open-loop phase. */
export interface OpenLoopMeasurement {
  messages: number;
  seconds: number;
  /** Round trips from the time each message was due, ms. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Round trips from the actual send, ms (the generator's lateness left out). */
  fromSendP50: number;
  fromSendP99: number;
  fromSendP999: number;
  /** How late the sends ran behind the schedule, ms. */
  sendLagP99: number;
  sendLagMax: number;
  /** CPU time of this client process over the phase, ms. */
  clientCpuMs: number;
}

export interface OpenManyRequest extends WorkerRequest {
  cmd: 'open-many';
  port: number;
  count: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Source addresses, used in turn (empty: the system's choice). */
  localAddresses: string[];
}

export interface RawExpectRequest extends WorkerRequest {
  cmd: 'raw-expect';
  /** Id of the first broadcast of the phase (see broadcastPayload). */
  firstId: number;
  count: number;
  size: number;
  binary: boolean;
}

/** What a receiver process saw of a phase of broadcasts. */
export interface RawDelivery {
  /** Messages received and checked (connections x broadcasts). */
  deliveries: number;
  /** process.hrtime.bigint() of the last delivery, as a decimal string. */
  lastNs: string;
  /** CPU of this process since raw-expect, ms. */
  cpuMs: number;
}

export interface BroadcastRequest extends WorkerRequest {
  cmd: 'broadcast';
  /** 'turns': one broadcast per turn of the event loop; 'burst': all in one loop. */
  pacing: 'turns' | 'burst';
  firstId: number;
  count: number;
  size: number;
  binary: boolean;
}

/** What the server reports of a phase of broadcasts. */
export interface BroadcastSent {
  /** process.hrtime.bigint() at the first broadcast, decimal string. */
  startNs: string;
  /** process.hrtime.bigint() once the last broadcast was queued, decimal string. */
  queuedNs: string;
  /** Connections each broadcast was sent to. */
  connections: number[];
}

/** What is left in a server: its connections, sockets and active resources by kind. */
export interface ServerResidue {
  connections: number;
  held: number;
  sockets: number;
  resources: Record<string, number>;
  /** Timers pending, unref'd ones included (null without settings.timerCensus). */
  timers: number | null;
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

/** Active resources of the process by kind (timers, sockets, servers...), counted. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
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

/**
 * Runs `task(i)` for i in 0..count-1, `concurrency` at a time (each lane starts the next as
 * soon as one is done, so that a slow one does not hold a whole batch); stops at the first
 * failure, after the tasks in flight settle, and throws it.
 */
async function inLanes(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (next < count && failure === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (failure !== undefined) throw failure;
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
  // Node's net.Socket#_destroy reads process.stderr, whose handle (a PipeWrap when stderr is
  // a pipe) is created on first access: created now, it is in every listing of the active
  // resources, before the first connection as after the last.
  void process.stderr;
  const timers = settings.timerCensus === true ? installTimerCensus() : undefined;
  const server = await startServer(lib, settings);
  serveRequests(
    {
      port: server.port,
      pid: process.pid,
      bufferutil: lib === 'ws' ? wsUsesBufferutil() : null,
      startRss: process.memoryUsage().rss,
      openFiles: ownOpenFileLimit(),
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
        case 'resources':
          return {
            connections: server.connections(),
            held: server.held(),
            sockets: await server.sockets(),
            resources: activeResources(),
            timers: timers?.() ?? null,
          } satisfies ServerResidue;
        case 'broadcast': {
          // 'turns': each broadcast in a turn of the event loop of its own, as when each
          // answers an event (neither library can write two broadcasts in one go); 'burst':
          // all of them in one loop, in one tick.
          const r = request as BroadcastRequest;
          const payloads = Array.from({ length: r.count }, (_, i) =>
            broadcastPayload(r.firstId + i, r.size, r.binary),
          );
          const connections: number[] = [];
          const startNs = process.hrtime.bigint();
          if (r.pacing === 'burst') {
            for (const payload of payloads) connections.push(server.broadcast(payload));
          } else {
            for (const payload of payloads) {
              connections.push(server.broadcast(payload));
              await new Promise<void>((resolve) => setImmediate(resolve));
            }
          }
          return {
            startNs: String(startNs),
            queuedNs: String(process.hrtime.bigint()),
            connections,
          } satisfies BroadcastSent;
        }
        default:
          throw new Error(`server: unknown request ${request.cmd}`);
      }
    },
  );
}

/** The receivers of the broadcast scenario, and what they expect in the current phase. */
class RawReceivers {
  readonly sockets: RawWebSocket[] = [];
  #expected: Array<{ opcode: number; bytes: Buffer }> = [];
  #counts = new Int32Array(0);
  #complete = 0;
  #deliveries = 0;
  #lastNs = 0n;
  #failure: Error | undefined;
  #cpu = process.cpuUsage();
  #onComplete: (() => void) | undefined;
  /** Connections the server closed (none may be, until close()). */
  #lost = 0;
  #closing = false;

  /** Opens `count` connections, `concurrency` handshakes at a time. */
  async open(port: number, count: number, concurrency: number): Promise<number> {
    await inLanes(count, concurrency, async () => {
      const socket = await openRawWebSocket({ host: '127.0.0.1', port, timeoutMs: 30_000 });
      const index = this.sockets.length;
      this.sockets.push(socket);
      socket.onMessage((opcode, payload) => this.#receive(index, opcode, payload));
      socket.socket.once('close', () => {
        if (this.#closing) return;
        this.#lost++;
        this.#fail(new Error(`connection ${index} closed by the server`));
      });
    });
    return this.sockets.length;
  }

  /** Starts a phase: every connection is to receive these broadcasts, in order. */
  expect(r: RawExpectRequest): void {
    if (this.#lost > 0) throw new Error(`${this.#lost} connections closed by the server`);
    this.#expected = Array.from({ length: r.count }, (_, i) => {
      const payload = broadcastPayload(r.firstId + i, r.size, r.binary);
      return {
        opcode: r.binary ? 2 : 1,
        bytes: typeof payload === 'string' ? Buffer.from(payload) : payload,
      };
    });
    this.#counts = new Int32Array(this.sockets.length);
    this.#complete = 0;
    this.#deliveries = 0;
    this.#lastNs = 0n;
    this.#failure = undefined;
    this.#cpu = process.cpuUsage();
  }

  /** Resolves when every connection has every message of the phase; rejects on a failure. */
  async wait(timeoutMs: number): Promise<RawDelivery> {
    if (this.#failure === undefined && this.#complete < this.sockets.length) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#onComplete = undefined;
          reject(
            new Error(
              `${this.#deliveries} of ${this.sockets.length * this.#expected.length} messages delivered (${this.#complete} of ${this.sockets.length} connections complete) in ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
        this.#onComplete = () => {
          clearTimeout(timer);
          this.#onComplete = undefined;
          resolve();
        };
      });
    }
    if (this.#failure !== undefined) throw this.#failure;
    const cpu = process.cpuUsage(this.#cpu);
    return {
      deliveries: this.#deliveries,
      lastNs: String(this.#lastNs),
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  }

  /** Closes every connection (Close 1000, the server's Close and TCP close awaited). */
  async close(concurrency: number): Promise<number> {
    const sockets = this.sockets.splice(0);
    this.#expected = [];
    this.#closing = true;
    try {
      await inLanes(sockets.length, concurrency, (i) => sockets[i]!.close(10_000));
    } finally {
      this.#closing = false;
    }
    return sockets.length;
  }

  #receive(index: number, opcode: number, payload: Buffer): void {
    const k = this.#counts[index]!;
    const expected = this.#expected[k];
    if (expected === undefined) {
      this.#fail(new Error(`connection ${index}: message ${k + 1} of ${this.#expected.length}`));
      return;
    }
    if (opcode !== expected.opcode || !payload.equals(expected.bytes)) {
      this.#fail(
        new Error(
          `connection ${index}: message ${k} differs (opcode ${opcode}, ${payload.length} bytes; expected opcode ${expected.opcode}, ${expected.bytes.length} bytes)`,
        ),
      );
      return;
    }
    this.#counts[index] = k + 1;
    this.#deliveries++;
    if (k + 1 === this.#expected.length) {
      this.#lastNs = process.hrtime.bigint();
      if (++this.#complete === this.sockets.length) this.#onComplete?.();
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#onComplete?.();
  }
}

function runClient(lib: LibKey): void {
  let held: PeerClient[] = [];
  let heldPayloads: EchoPayloads<Message, Message> | undefined;
  let openLoop: { clients: PeerClient[]; driver: OpenLoopDriver<Message, Message> } | undefined;
  const receivers = new RawReceivers();
  const startRss = process.memoryUsage().rss;
  serveRequests(
    {
      pid: process.pid,
      bufferutil: lib === 'ws' ? wsUsesBufferutil() : null,
      startRss,
      openFiles: ownOpenFileLimit(),
    },
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
        case 'open-many': {
          // Many idle connections, spread over source addresses; the ones opened so far are
          // kept (and closed by close-many) even when one fails.
          const r = request as OpenManyRequest;
          const spec: PayloadSpec = { kind: 'binary', size: 64, count: 16 };
          heldPayloads = makePayloads(spec);
          const base = clientSettings(spec, false, 64 * 1024 * 1024);
          const addresses = r.localAddresses;
          const start = performance.now();
          await inLanes(r.count, r.concurrency, async (i) => {
            const localAddress =
              addresses.length === 0 ? undefined : addresses[i % addresses.length];
            held.push(await openClient(lib, r.port, { ...base, localAddress }));
          });
          return { opened: held.length, seconds: (performance.now() - start) / 1000 };
        }
        case 'echo-sample': {
          // One echo (checked) on every `every`-th held connection.
          const every = request.every as number;
          if (heldPayloads === undefined) return 0;
          const sample = held.filter((_, i) => i % every === 0);
          await exchangeOnce(sample, heldPayloads, 100);
          return sample.length;
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
        case 'close-many': {
          // Every held connection closed, `concurrency` closing handshakes at a time.
          const clients = held;
          held = [];
          const start = performance.now();
          await inLanes(clients.length, request.concurrency as number, (i) => clients[i]!.close());
          return { closed: clients.length, seconds: (performance.now() - start) / 1000 };
        }
        case 'open-loop-open': {
          const spec: PayloadSpec = { kind: 'binary', size: request.size as number, count: 16 };
          const clients = await openMany(
            lib,
            request.port as number,
            request.connections as number,
            50,
            clientSettings(spec, false, 64 * 1024 * 1024),
          );
          openLoop = { clients, driver: new OpenLoopDriver(clients, makePayloads(spec), 256) };
          return clients.length;
        }
        case 'open-loop-run': {
          const r = request as OpenLoopRunRequest;
          if (openLoop === undefined) throw new Error('open-loop-run before open-loop-open');
          const cpu = process.cpuUsage();
          const m = await openLoop.driver.run({
            periodMs: r.periodMs,
            durationMs: r.durationMs,
            drainTimeoutMs: r.drainTimeoutMs,
            maxInFlight: 200,
          });
          const used = process.cpuUsage(cpu);
          return {
            messages: m.messages,
            seconds: m.seconds,
            p50: quantile(m.latencies, 0.5),
            p99: quantile(m.latencies, 0.99),
            p999: quantile(m.latencies, 0.999),
            max: quantile(m.latencies, 1),
            fromSendP50: quantile(m.fromSend, 0.5),
            fromSendP99: quantile(m.fromSend, 0.99),
            fromSendP999: quantile(m.fromSend, 0.999),
            sendLagP99: quantile(m.sendLags, 0.99),
            sendLagMax: quantile(m.sendLags, 1),
            clientCpuMs: (used.user + used.system) / 1000,
          } satisfies OpenLoopMeasurement;
        }
        case 'open-loop-close': {
          const clients = openLoop?.clients ?? [];
          openLoop = undefined;
          await closeMany(clients);
          return clients.length;
        }
        case 'raw-open':
          return receivers.open(
            request.port as number,
            request.count as number,
            request.concurrency as number,
          );
        case 'raw-expect':
          receivers.expect(request as RawExpectRequest);
          return null;
        case 'raw-wait':
          return receivers.wait(request.timeoutMs as number);
        case 'raw-close':
          return receivers.close(request.concurrency as number);
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
