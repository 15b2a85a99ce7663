import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, beforeEach } from 'vitest';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';

/**
 * Real peers for the interop tests (test/interop/), and the plumbing to drive them: a
 * missing peer fails the test loudly (never a silent skip), every spawned process is killed
 * after each test, and every wait is bounded.
 */

/** Debian's python3 (not a pyenv one on PATH), which has python3-websockets. */
export const PYTHON3 = '/usr/bin/python3';
/** Debian's chromium, driven by playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';
/** The flags chromium needs in a container (no sandbox, no GPU, no phoning home). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** How to get each peer, for the error message of a missing one. */
const INSTALL_HINTS: Record<string, string> = {
  [PYTHON3]: 'apt-get install python3 python3-websockets',
  [CHROMIUM]: 'apt-get install chromium',
};

/** Thrown when an interop peer is not installed: the message says what and how. */
export class MissingPeerError extends Error {
  override readonly name = 'MissingPeerError';
}

/**
 * Throws MissingPeerError unless `path` is an executable file. Call it in beforeAll: the
 * error fails every test of the file with the message, instead of skipping them.
 */
export function requirePeer(path: string, install = INSTALL_HINTS[path]): void {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new MissingPeerError(
      `INTEROP PEER MISSING: ${path} is not installed or not executable. ` +
        `These interop tests need it and fail rather than skip. ` +
        `Install it with \`${install ?? `(a package providing ${path})`}\` (.ci/run does this in CI).`,
    );
  }
}

/**
 * Throws MissingPeerError unless `python -c "import <module>"` works; returns the
 * module's `__version__`.
 */
export function requirePythonModule(
  module: string,
  debianPackage: string,
  python = PYTHON3,
): string {
  requirePeer(python);
  const result = spawnSync(
    python,
    ['-c', `import ${module}, sys; sys.stdout.write(getattr(${module}, '__version__', '?'))`],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (result.status !== 0) {
    throw new MissingPeerError(
      `INTEROP PEER MISSING: ${python} cannot import ${module} ` +
        `(${result.error?.message ?? result.stderr.trim()}). Install it with ` +
        `\`apt-get install ${debianPackage}\` (.ci/run does this in CI).`,
    );
  }
  return result.stdout.trim();
}

/**
 * Runs `check` once before the file's tests (a requirePeer, a browser launch) and, when it
 * throws, fails EVERY test with its error: a throwing beforeAll alone would leave the tests
 * counted as skipped, which the summary line would pass over.
 */
export function requirePeersForEachTest(
  check: () => void | Promise<void>,
  timeoutMs = 30_000,
): void {
  let failure: unknown;
  beforeAll(async () => {
    try {
      await check();
    } catch (err) {
      failure = err;
    }
  }, timeoutMs);
  beforeEach(() => {
    if (failure !== undefined) throw failure;
  });
}

/** A line a peer printed: a JSON object with an `event` name. */
export interface PeerEvent {
  event: string;
  [field: string]: unknown;
}

/** Options of {@link PeerProcess.spawn}. */
export interface PeerSpawnOptions {
  /** A name for messages. Default: the command. */
  name?: string;
  /** The process is killed after this many ms, whatever happens. Default: 30 000. */
  lifetimeMs?: number;
}

const livePeers = new Set<PeerProcess>();

/**
 * A child process that speaks JSON lines: each stdout line is an event (`{"event": ...}`),
 * and send() writes one JSON line to its stdin. Waits are bounded, and their timeouts
 * carry the peer's stderr and recent events, so a failure says what the peer saw.
 */
export class PeerProcess {
  readonly name: string;
  readonly events: PeerEvent[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lifetime: NodeJS.Timeout;
  #stdout = '';
  #stderr = '';
  #exitCode: number | null | undefined;
  #waiters = new Set<() => void>();

  private constructor(command: string, args: readonly string[], options: PeerSpawnOptions) {
    this.name = options.name ?? command;
    this.#child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout.setEncoding('utf8');
    this.#child.stderr.setEncoding('utf8');
    this.#child.stdout.on('data', (text: string) => this.#onStdout(text));
    this.#child.stderr.on('data', (text: string) => {
      this.#stderr = (this.#stderr + text).slice(-8_000);
    });
    this.#child.stdin.on('error', () => {}); // EPIPE once the peer has exited
    this.#child.on('error', (err) => {
      this.#stderr += `\n[spawn error] ${err.message}`;
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#exitCode = code ?? (signal === null ? null : -1);
        clearTimeout(this.#lifetime);
        livePeers.delete(this);
        this.#notify();
        resolve(code);
      });
    });
    this.#lifetime = setTimeout(() => this.#child.kill('SIGKILL'), options.lifetimeMs ?? 30_000);
    this.#lifetime.unref();
    livePeers.add(this);
  }

  /** Spawns a peer; kill it with kill() or killAllPeers() (in afterEach). */
  static spawn(
    command: string,
    args: readonly string[],
    options: PeerSpawnOptions = {},
  ): PeerProcess {
    return new PeerProcess(command, args, options);
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** What the peer wrote on stderr (the last 8 000 characters). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Writes one JSON line to the peer's stdin. */
  send(command: Record<string, unknown>): void {
    this.#child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  /**
   * Resolves with the first event, from the start, that is named `event` and passes
   * `where`, and removes it from the list (so the next call finds the next one). Rejects
   * after `ms`, when the peer reports an 'error' event, or when it exits first, with the
   * peer's stderr and events.
   */
  async next(event: string, ms = 10_000, where: (e: PeerEvent) => boolean = () => true) {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.events.findIndex((e) => e.event === event && where(e));
      if (index !== -1) return this.events.splice(index, 1)[0]!;
      const failure = this.events.find((e) => e.event === 'error' && event !== 'error');
      if (failure !== undefined) {
        throw this.#error(`reported an error while a '${event}' event was awaited`);
      }
      if (this.#exitCode !== undefined) {
        throw this.#error(`exited (${this.#exitCode}) before printing a '${event}' event`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.#error(`printed no '${event}' event within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  /** Kills the peer (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.#exitCode !== undefined) return;
    this.#child.kill('SIGTERM');
    const hard = setTimeout(() => this.#child.kill('SIGKILL'), 2_000);
    await this.exited;
    clearTimeout(hard);
  }

  #onStdout(text: string): void {
    this.#stdout += text;
    let newline = this.#stdout.indexOf('\n');
    while (newline !== -1) {
      const line = this.#stdout.slice(0, newline).trim();
      this.#stdout = this.#stdout.slice(newline + 1);
      if (line !== '') this.events.push(parseEvent(line));
      newline = this.#stdout.indexOf('\n');
    }
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #error(what: string): Error {
    const recent = this.events.slice(-10).map((e) => JSON.stringify(e).slice(0, 300));
    return new Error(
      `Peer ${this.name} (pid ${this.pid}) ${what}.\n` +
        `Unconsumed events: ${recent.length === 0 ? '(none)' : `\n  ${recent.join('\n  ')}`}\n` +
        `stderr:\n${this.#stderr.trim() || '(empty)'}`,
    );
  }
}

function parseEvent(line: string): PeerEvent {
  try {
    const value: unknown = JSON.parse(line);
    if (value !== null && typeof value === 'object' && 'event' in value) {
      return value as PeerEvent;
    }
  } catch {
    // not JSON: kept as a raw line below
  }
  return { event: 'raw', line };
}

/** Kills every peer still running (for afterEach). */
export async function killAllPeers(): Promise<void> {
  await Promise.all([...livePeers].map((peer) => peer.kill()));
}

/** Rejects with `what` when `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The hex SHA-256 of some bytes or UTF-8 text (how peers report large messages). */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A message read from one of our connections. */
export type Message = string | Buffer;

/**
 * Reads the messages of one of our connections into a queue (flowing mode), so that a
 * test can take them one at a time with a bounded wait.
 */
export class MessageQueue {
  readonly #messages: Message[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;

  constructor(ws: WebSocketConnection) {
    ws.on('data', (chunk: Message) => {
      this.#messages.push(chunk);
      this.#waiter?.();
    });
    ws.on('end', () => {
      this.#ended = true;
      this.#waiter?.();
    });
    ws.on('error', (err: Error) => {
      this.#error = err;
      this.#waiter?.();
    });
  }

  /** Resolves with the next message; rejects after `ms`, at the end, or on an error. */
  async next(ms = 10_000): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const message = this.#messages.shift();
      if (message !== undefined) return message;
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) throw new Error('The connection ended before the next message');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No message within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiter = done;
      });
      this.#waiter = undefined;
    }
  }
}

/** What one of our connections reports at its end. */
export interface OurClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** Resolves with the connection's 'close' (code, reason, wasClean), bounded in time. */
export function ourClose(ws: WebSocketConnection, ms = 10_000): Promise<OurClose> {
  if (ws.closed) {
    return Promise.resolve({ code: ws.closeCode, reason: ws.closeReason, wasClean: ws.wasClean });
  }
  return within(
    new Promise<OurClose>((resolve) => {
      ws.once('close', (code: number, reason: string) =>
        resolve({ code, reason, wasClean: ws.wasClean }),
      );
    }),
    ms,
    "our connection's 'close' event",
  );
}

/** Resolves with the payload of the next event `name` ('ping' or 'pong') of a connection. */
export function nextControl(
  ws: WebSocketConnection,
  name: 'ping' | 'pong',
  ms = 5_000,
): Promise<Buffer> {
  return within(
    new Promise<Buffer>((resolve) => ws.once(name, (payload: Buffer) => resolve(payload))),
    ms,
    `a '${name}' on our connection`,
  );
}

/**
 * The messages every pairing echoes: text (empty, ASCII, multi-byte UTF-8 of 2, 3 and 4
 * bytes, and text whose UTF-8 length sits on the 125/126 and 65535/65536 length-encoding
 * boundaries) and binary (0 bytes, the same boundaries, and a 5 MiB message).
 */
export function textVectors(): string[] {
  return [
    '',
    'hello',
    'héllo wörld — Ελληνικά, 日本語, 🎉🚀 (4-byte)',
    `${'é'.repeat(62)}a`, // 125 bytes: the largest 7-bit length
    'é'.repeat(63), // 126 bytes: the first 16-bit length
    '€'.repeat(21_845), // 65 535 bytes: the largest 16-bit length
    `${'€'.repeat(21_845)}a`, // 65 536 bytes: the first 64-bit length
    '🌍'.repeat(30_000), // 120 000 bytes of 4-byte characters (fragmented by some peers)
  ];
}

/** Binary messages, deterministic, each a different pattern (see textVectors). */
export function binaryVectors(): Buffer[] {
  return [0, 1, 125, 126, 127, 65_535, 65_536, 65_537, 5 * 1024 * 1024].map(patternBuffer);
}

/** A buffer of `size` bytes whose content depends on the size (so echoes cannot mix up). */
export function patternBuffer(size: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (size * 2_654_435_761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Sends, through createMessageStream, a 300 000-byte binary message in 70 000-byte pieces
 * and a text message whose 4 999-byte pieces split multi-byte characters: each piece is a
 * fragment on the wire, which the peer must assemble (and validate as UTF-8 as a whole).
 * Returns the two messages as sent.
 */
export function sendFragmentedMessages(ws: WebSocketConnection): [Buffer, string] {
  const bytes = patternBuffer(300_000);
  const binary = ws.createMessageStream({ binary: true });
  for (let at = 0; at < bytes.length; at += 70_000) binary.write(bytes.subarray(at, at + 70_000));
  binary.end();
  const text = 'aé€🌍'.repeat(10_000);
  const encoded = Buffer.from(text, 'utf8');
  const textStream = ws.createMessageStream({ binary: false });
  for (let at = 0; at < encoded.length; at += 4_999) {
    textStream.write(encoded.subarray(at, at + 4_999));
  }
  textStream.end();
  return [bytes, text];
}

/** A short description of a message for assertion messages. */
export function describeMessage(message: Message): string {
  return typeof message === 'string'
    ? `text of ${Buffer.byteLength(message)} bytes`
    : `binary of ${message.length} bytes`;
}

/** One connection our echo server accepted, and how it ended. */
export interface ServerSide {
  connection: WebSocketConnection;
  /** Settles with the connection's first 'close' (unbounded: await it through within()). */
  closed: Promise<OurClose>;
  /** How many times 'close' was emitted (must be 1 in the end). */
  closeEvents: number;
}

/** Our echo server on loopback, as the interop peers see it. */
export interface OurEchoServer {
  port: number;
  url: string;
  wss: WebSocketServer;
  /** The headers of every upgrade request, in order (what the peer offered). */
  upgrades: http.IncomingHttpHeaders[];
  /** Resolves with the next connection accepted (bounded). */
  nextConnection(ms?: number): Promise<ServerSide>;
  /** Shuts everything down (bounded). */
  close(): Promise<void>;
}

/**
 * Starts our WebSocketServer on 127.0.0.1, auto-accepting with the subprotocol
 * 'echo-protocol' and echoing with `ws.pipe(ws)`. `page`, when given, is served as HTML
 * to plain GET requests (the browser test's page); other requests get 404.
 */
export async function startOurEchoServer(page?: (port: number) => string): Promise<OurEchoServer> {
  let port = 0;
  const httpServer = http.createServer((req, res) => {
    if (page !== undefined && req.method === 'GET' && req.url === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(page(port));
      return;
    }
    res.writeHead(404).end();
  });
  const upgrades: http.IncomingHttpHeaders[] = [];
  httpServer.prependListener('upgrade', (req: http.IncomingMessage) => upgrades.push(req.headers));
  const wss = new WebSocketServer({
    httpServer,
    autoAcceptConnections: true,
    protocols: ['echo-protocol'],
  });
  const accepted: ServerSide[] = [];
  let wake: (() => void) | undefined;
  wss.on('connect', (connection: WebSocketConnection) => {
    const side: ServerSide = {
      connection,
      closeEvents: 0,
      closed: new Promise<OurClose>((resolve) => {
        connection.on('close', (code: number, reason: string) => {
          side.closeEvents++;
          resolve({ code, reason, wasClean: connection.wasClean });
        });
      }),
    };
    connection.pipe(connection);
    accepted.push(side);
    wake?.();
  });
  httpServer.listen(0, '127.0.0.1');
  await within(once(httpServer, 'listening'), 5_000, 'our HTTP server listening');
  port = (httpServer.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    wss,
    upgrades,
    async nextConnection(ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const side = accepted.shift();
        if (side !== undefined) return side;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Our server accepted no connection within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, left);
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          wake = done;
        });
        wake = undefined;
      }
    },
    async close() {
      for (const connection of wss.connections) connection.terminate();
      await within(wss.shutDown({ gracePeriod: 500 }), 5_000, 'our server shutting down');
      httpServer.closeAllConnections();
      await within(
        new Promise<void>((resolve) => httpServer.close(() => resolve())),
        5_000,
        'our HTTP server closing',
      );
    },
  };
}
