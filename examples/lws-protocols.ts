/**
 * The two protocols of libwebsockets' test server, as WebSocket-Node's
 * libwebsockets-test-server.js serves them, on this library's streams. Used by
 * examples/libwebsockets-test-server.ts (the demo behind `npm start`).
 *
 * - dumb-increment-protocol: each connection has a counter from 0; every 50 ms the server
 *   sends it as a text message and increments it; the text message "reset\n" sets it back
 *   to 0.
 * - lws-mirror-protocol: every text message is sent to every mirror connection, the
 *   sender included; a bounded history of them is sent first to a new connection (as one
 *   text message), and "clear;" empties it. The page draws `c #rrggbb x y r;` (circles)
 *   and `d #rrggbb x1 y1 x2 y2;` (lines).
 */
import type { WebSocketRouter, WebSocketRouterRequest } from '../lib/router.js';
import type { WebSocketConnection } from '../lib/stream/websocket-connection.js';

/** Where the protocols write what they do (console.log in the programs, a spy in tests). */
export type Log = (line: string) => void;

/** Options of {@link mountLwsProtocols}. */
export interface LwsProtocolsOptions {
  /** Time between two increments, in ms. Default: 50 (libwebsockets' own). */
  incrementInterval?: number;
  /** Bytes of mirror history kept for newcomers; older commands are dropped. Default: 64 KiB. */
  maxHistoryBytes?: number;
  /**
   * Bytes a connection may hold unsent before it misses messages (a tick of the counter,
   * a mirrored command): a slow reader loses drawing commands instead of growing the
   * server's memory without bound. Default: 1 MiB.
   */
  maxBufferedAmount?: number;
  log?: Log;
}

const DEFAULT_MAX_BUFFERED = 1024 * 1024;

/**
 * Mounts dumb-increment-protocol and lws-mirror-protocol on every path of a router, and
 * returns the mirror room (for its statistics).
 *
 * @example
 * const router = new WebSocketRouter({ server: wss });
 * mountLwsProtocols(router, { log: console.log });
 */
export function mountLwsProtocols(
  router: WebSocketRouter,
  options: LwsProtocolsOptions = {},
): MirrorRoom {
  const log = options.log ?? (() => {});
  const mirror = new MirrorRoom(options);
  router.mount('*', 'lws-mirror-protocol', (request) => {
    const connection = request.accept(request.origin);
    log(`lws-mirror-protocol connection accepted from ${connection.remoteAddress}`);
    mirror.join(connection);
  });
  router.mount('*', 'dumb-increment-protocol', (request) => {
    dumbIncrement(request, options);
  });
  return mirror;
}

/**
 * Serves one dumb-increment-protocol connection: sends the counter at once, then every
 * `incrementInterval` ms, and resets it on "reset\n". Reading is the connection's
 * readable side; the ticks are writes, skipped while the reader is slow.
 */
export function dumbIncrement(
  request: WebSocketRouterRequest,
  options: LwsProtocolsOptions = {},
): WebSocketConnection {
  const log = options.log ?? (() => {});
  const limit = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED;
  const connection = request.accept(request.origin);
  log(`dumb-increment-protocol connection accepted from ${connection.remoteAddress}`);
  let number = 0;
  let sent = 0;
  const tick = (): void => {
    if (!connection.isOpen || connection.bufferedAmount > limit) return;
    connection.write(String(number++));
    sent++;
  };
  tick();
  const timer = setInterval(tick, options.incrementInterval ?? 50);
  connection.on('data', (message: string | Buffer) => {
    if (message === 'reset\n') {
      log('increment reset received');
      number = 0;
    }
  });
  connection.once('close', (code: number) => {
    clearInterval(timer);
    log(
      `dumb-increment-protocol peer ${connection.remoteAddress} disconnected, code: ${code}, ${sent} numbers sent`,
    );
  });
  return connection;
}

/**
 * The lws-mirror-protocol room: every text message goes to every member, the sender
 * included, and into a history bounded in bytes that a newcomer gets first.
 */
export class MirrorRoom {
  readonly #members = new Set<WebSocketConnection>();
  readonly #maxHistoryBytes: number;
  readonly #maxBuffered: number;
  readonly #log: Log;
  #history: string[] = [];
  #historyBytes = 0;
  /** Text messages received from all members since the room opened. */
  received = 0;

  constructor(options: LwsProtocolsOptions = {}) {
    this.#maxHistoryBytes = options.maxHistoryBytes ?? 64 * 1024;
    this.#maxBuffered = options.maxBufferedAmount ?? DEFAULT_MAX_BUFFERED;
    this.#log = options.log ?? (() => {});
  }

  /** The connections in the room. */
  get size(): number {
    return this.#members.size;
  }

  /** The commands a newcomer would get, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Adds a connection: sends it the history, then mirrors what it and the others send. */
  join(connection: WebSocketConnection): void {
    if (this.#history.length > 0) connection.write(this.#history.join(''));
    this.#members.add(connection);
    let count = 0;
    connection.on('data', (message: string | Buffer) => {
      if (typeof message !== 'string') return; // only text is mirrored, as in libwebsockets
      count++;
      this.#onMessage(message);
    });
    connection.once('close', (code: number) => {
      this.#members.delete(connection);
      this.#log(
        `lws-mirror-protocol peer ${connection.remoteAddress} disconnected, code: ${code}, ${count} messages received`,
      );
    });
  }

  #onMessage(message: string): void {
    this.received++;
    if (message === 'clear;') {
      this.#history = [];
      this.#historyBytes = 0;
    } else {
      this.#remember(message);
    }
    for (const member of this.#members) {
      if (member.isOpen && member.bufferedAmount <= this.#maxBuffered) member.write(message);
    }
  }

  #remember(message: string): void {
    const bytes = Buffer.byteLength(message);
    if (bytes > this.#maxHistoryBytes) return;
    this.#history.push(message);
    this.#historyBytes += bytes;
    let drop = 0;
    while (this.#historyBytes > this.#maxHistoryBytes) {
      this.#historyBytes -= Buffer.byteLength(this.#history[drop]!);
      drop++;
    }
    if (drop > 0) this.#history.splice(0, drop);
  }
}
