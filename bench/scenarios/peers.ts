/**
 * The peers of the benchmark suite: for each library, an echo (or sink) server and a client
 * behind one small interface, set up the way that library's users write them.
 *
 * - ours: `new WebSocketServer({ httpServer, autoAcceptConnections: true })` with
 *   `ws.pipe(ws)` on 'connect'; the client is `connect(url)`. The library is the BUILT one
 *   (dist/index.js, as tsup writes it), loaded from the URL in BENCH_OURS_URL. With
 *   BENCH_OURS_ECHO=streams (an experiment, `--ours-echo=streams`), the server reads each
 *   message as a stream (`messageStreams: true`) and pipes it into `createMessageStream()`.
 * - ws: `new WebSocketServer({ server })` answering each 'message' with
 *   `ws.send(data, { binary: isBinary })`; the client is `new WebSocket(url)`. Whether it
 *   masks with bufferutil is up to the process's WS_NO_BUFFER_UTIL.
 * - websocket (WebSocket-Node): its server with `request.accept()` on 'request', answering
 *   each message with sendUTF or sendBytes; its client is a `WebSocketClient` per connection.
 * - tcp: the ceiling, messages behind a 4-byte length prefix (see bench/lib/length-prefix.ts).
 *
 * Every server counts its open connections, and a sink hashes each message it receives.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EchoClient } from '../lib/echo.js';
import { lengthPrefix, MessageBoundarySplitter, MessageParser } from '../lib/length-prefix.js';

export type LibKey = 'ours' | 'ws' | 'websocket' | 'tcp';
type Ours = typeof import('../../lib/index.js');
export type Message = string | Buffer;
type IncomingMessage = Readable & { binary: boolean };

const require = createRequire(import.meta.url);
const HOST = '127.0.0.1';
const CLOSE_TIMEOUT_MS = 10_000;
const OPEN_TIMEOUT_MS = 20_000;

/** Handed to a handler in place of a message of the wrong type: it fails every check. */
const WRONG_TYPE = Buffer.alloc(0);

let oursModule: Ours | undefined;

/** Loads our built library from BENCH_OURS_URL (set by bench/run.ts). */
export async function loadOurs(): Promise<Ours> {
  if (oursModule === undefined) {
    const url = process.env.BENCH_OURS_URL;
    if (url === undefined) throw new Error('BENCH_OURS_URL is not set');
    oursModule = (await import(url)) as Ours;
  }
  return oursModule;
}

/**
 * Loads a library now rather than at its first connection, so that every worker's RSS at
 * start includes its library.
 */
export async function preload(lib: LibKey): Promise<void> {
  if (lib === 'ours') await loadOurs();
  else if (lib === 'ws') await import('ws');
  else if (lib === 'websocket') require('websocket');
}

/**
 * Extra connection options for our server and client from BENCH_OURS_OPTIONS (JSON; set by
 * `npm run bench -- --ours-options=...`), to measure a setting against the defaults. The
 * default is none: ours as a user gets it.
 */
export function oursOptions(): Record<string, unknown> {
  return JSON.parse(process.env.BENCH_OURS_OPTIONS ?? '{}') as Record<string, unknown>;
}

/** Whether ws, as loaded in this process, masks with the bufferutil add-on. */
export function wsUsesBufferutil(): boolean {
  const util = require(join(dirname(require.resolve('ws')), 'lib', 'buffer-util.js')) as {
    mask: () => void;
  };
  return util.mask.toString().includes('bufferUtil');
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------------------ servers

export interface ServerSettings {
  /** Negotiate permessage-deflate (library defaults). */
  deflate: boolean;
  /** Largest message accepted, in bytes (Infinity: no limit). */
  maxMessageSize: number;
  /** 'echo' sends every message back; 'sink' hashes every message and keeps the result. */
  mode: 'echo' | 'sink';
  /** Count every pending timer, unref'd ones too (bench/lib/timer-census.ts). */
  timerCensus?: boolean;
}

/** What a sink saw of one message. */
export interface SinkResult {
  bytes: number;
  /** SHA-256 of the payload, hex. */
  digest: string;
  /** From the connection's accept to the last byte hashed. */
  seconds: number;
}

export interface PeerServer {
  port: number;
  /** Open connections (accepted and not yet closed). */
  connections(): number;
  /**
   * The connections the library itself still holds (ours: `wss.connections`, ws:
   * `wss.clients`, WebSocket-Node: `wss.connections`): a leak shows here after every
   * connection has closed.
   */
  held(): number;
  /** Sockets the HTTP (or TCP) server still counts open (net.Server#getConnections). */
  sockets(): Promise<number>;
  /**
   * Sends one message to every open connection the way the library's users do: ours
   * `wss.broadcast(data)`, ws its documented loop over `wss.clients`. Returns the number of
   * connections it was sent to.
   */
  broadcast(data: Message): number;
  /** Resolves with the next message a sink has received and hashed whole. */
  nextSink(): Promise<SinkResult>;
}

/** Results of a sink, handed out in order. */
class SinkQueue {
  readonly #results: Array<SinkResult | Error> = [];
  readonly #waiters: Array<(r: SinkResult | Error) => void> = [];

  add(result: SinkResult | Error): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(result);
    else this.#results.push(result);
  }

  next(): Promise<SinkResult> {
    const ready = this.#results.shift();
    const result =
      ready !== undefined
        ? Promise.resolve(ready)
        : new Promise<SinkResult | Error>((resolve) => this.#waiters.push(resolve));
    return result.then((r) => (r instanceof Error ? Promise.reject(r) : r));
  }
}

function hashWhole(data: Buffer, since: number): SinkResult {
  return {
    bytes: data.length,
    digest: createHash('sha256').update(data).digest('hex'),
    seconds: (performance.now() - since) / 1000,
  };
}

function plainHttpServer(): http.Server {
  return http.createServer((_request, response) => response.writeHead(404).end());
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, HOST);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

export async function startServer(lib: LibKey, settings: ServerSettings): Promise<PeerServer> {
  const sinks = new SinkQueue();
  let open = 0;
  const base = { connections: () => open, nextSink: () => sinks.next() };
  const counted = (server: net.Server) => ({
    sockets: () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
      ),
  });
  const noBroadcast = (): number => {
    throw new Error(`${lib}: no broadcast in this benchmark`);
  };
  switch (lib) {
    case 'ours': {
      const { WebSocketServer } = await loadOurs();
      const httpServer = plainHttpServer();
      const streamedEcho = process.env.BENCH_OURS_ECHO === 'streams';
      const wss = new WebSocketServer({
        ...oursOptions(),
        httpServer,
        autoAcceptConnections: true,
        perMessageDeflate: settings.deflate,
        maxReceivedMessageSize: settings.maxMessageSize,
        messageStreams: settings.mode === 'sink' || streamedEcho,
      });
      wss.on('connect', (ws) => {
        open++;
        ws.once('close', () => open--);
        if (settings.mode === 'echo' && streamedEcho) {
          // Each message read as a stream and written back as one, never held whole.
          ws.on('data', (chunk) => {
            const message = chunk as unknown as IncomingMessage;
            pipeline(message, ws.createMessageStream({ binary: message.binary })).catch(
              (err: Error) => ws.destroy(err),
            );
          });
          return;
        }
        if (settings.mode === 'echo') {
          ws.pipe(ws);
          return;
        }
        const since = performance.now();
        ws.on('data', (chunk) => {
          const message = chunk as unknown as Readable;
          const hash = createHash('sha256');
          let bytes = 0;
          const sink = new Writable({
            write(chunk: Buffer, _encoding, callback) {
              hash.update(chunk);
              bytes += chunk.length;
              callback();
            },
          });
          pipeline(message, sink).then(
            () =>
              sinks.add({
                bytes,
                digest: hash.digest('hex'),
                seconds: (performance.now() - since) / 1000,
              }),
            (err: Error) => sinks.add(err),
          );
        });
      });
      return {
        ...base,
        ...counted(httpServer),
        held: () => wss.connections.length,
        broadcast: (data) => wss.broadcast(data),
        port: await listen(httpServer),
      };
    }
    case 'ws': {
      const { WebSocket, WebSocketServer } = await import('ws');
      const httpServer = plainHttpServer();
      const wss = new WebSocketServer({
        server: httpServer,
        perMessageDeflate: settings.deflate,
        maxPayload: Number.isFinite(settings.maxMessageSize) ? settings.maxMessageSize : 0,
      });
      wss.on('connection', (ws) => {
        open++;
        ws.once('close', () => open--);
        ws.on('error', () => {});
        if (settings.mode === 'echo') {
          ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
          return;
        }
        const since = performance.now();
        ws.on('message', (data) => sinks.add(hashWhole(data as Buffer, since)));
      });
      return {
        ...base,
        ...counted(httpServer),
        held: () => wss.clients.size,
        // ws's documented broadcast (its README, "Server broadcast"): send to each open client.
        broadcast: (data) => {
          let count = 0;
          for (const client of wss.clients) {
            if (client.readyState === WebSocket.OPEN) {
              client.send(data);
              count++;
            }
          }
          return count;
        },
        port: await listen(httpServer),
      };
    }
    case 'websocket': {
      const { server: WsNodeServer } = require('websocket') as WebSocketNode;
      const httpServer = plainHttpServer();
      const wss = new WsNodeServer({
        httpServer,
        autoAcceptConnections: false,
        maxReceivedMessageSize: settings.maxMessageSize,
      });
      wss.on('request', (request: WsNodeRequest) => {
        const connection = request.accept(null, request.origin);
        open++;
        connection.once('close', () => open--);
        connection.on('error', () => {});
        if (settings.mode === 'echo') {
          connection.on('message', (m: WsNodeMessage) => {
            if (m.type === 'utf8') connection.sendUTF(m.utf8Data!);
            else connection.sendBytes(m.binaryData!);
          });
          return;
        }
        const since = performance.now();
        connection.on('message', (m: WsNodeMessage) =>
          sinks.add(hashWhole(m.binaryData ?? Buffer.from(m.utf8Data ?? ''), since)),
        );
      });
      return {
        ...base,
        ...counted(httpServer),
        held: () => (wss as unknown as { connections: unknown[] }).connections.length,
        broadcast: noBroadcast,
        port: await listen(httpServer),
      };
    }
    case 'tcp': {
      const server = net.createServer((socket) => {
        open++;
        socket.once('close', () => open--);
        socket.setNoDelay(true);
        socket.on('error', () => {});
        if (settings.mode === 'sink') {
          // One message is the whole byte stream of a connection, up to its end.
          const since = performance.now();
          const hash = createHash('sha256');
          let bytes = 0;
          const sink = new Writable({
            write(chunk: Buffer, _encoding, callback) {
              hash.update(chunk);
              bytes += chunk.length;
              callback();
            },
          });
          pipeline(socket, sink).then(
            () => {
              sinks.add({
                bytes,
                digest: hash.digest('hex'),
                seconds: (performance.now() - since) / 1000,
              });
              socket.end();
            },
            (err: Error) => sinks.add(err),
          );
          return;
        }
        socket.on('end', () => socket.end());
        const splitter = new MessageBoundarySplitter();
        const corker = new TickCorker(socket);
        socket.on('data', (chunk: Buffer) => {
          const ready = splitter.push(chunk);
          if (ready.length === 0) return;
          corker.cork();
          for (const part of ready) socket.write(part);
        });
      });
      return {
        ...base,
        ...counted(server),
        held: () => open,
        broadcast: noBroadcast,
        port: await listen(server),
      };
    }
  }
}

/** Corks a socket until the next tick: the writes of one tick leave in one writev. */
class TickCorker {
  readonly #socket: net.Socket;
  #corked = false;

  constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.#socket.uncork();
    });
  }
}

// ------------------------------------------------------------------------------ clients

export interface ClientSettings {
  deflate: boolean;
  maxMessageSize: number;
  /** The type of the messages sent and expected back. */
  expect: 'binary' | 'text';
  /**
   * Source address of the connection (e.g. one of 127.0.0.2-127.0.0.9, so that 100,000
   * connections to one port do not run out of ephemeral ports). Ours takes it in
   * `requestOptions`, ws directly, as node:http's `localAddress`.
   */
  localAddress?: string | undefined;
}

/** A client connection under test. */
export interface PeerClient extends EchoClient<Message, Message> {
  close(): Promise<void>;
}

export async function openClient(
  lib: LibKey,
  port: number,
  settings: ClientSettings,
): Promise<PeerClient> {
  const url = `ws://${HOST}:${port}/`;
  const text = settings.expect === 'text';
  let handler: (data: Message) => void = () => {};
  let failure: Error | undefined;
  const setHandler = (h: (data: Message) => void) => {
    handler = h;
  };
  const settle = async (closed: Promise<unknown>, what: string) => {
    await withTimeout(closed, CLOSE_TIMEOUT_MS, what);
    if (failure !== undefined) throw failure;
  };
  switch (lib) {
    case 'ours': {
      const { connect } = await loadOurs();
      const ws = await connect(url, {
        ...oursOptions(),
        perMessageDeflate: settings.deflate,
        maxReceivedMessageSize: settings.maxMessageSize,
        ...(settings.localAddress === undefined
          ? {}
          : { requestOptions: { localAddress: settings.localAddress } }),
      });
      checkExtensions('ours', ws.extensions.length > 0, settings.deflate);
      ws.on('error', (err: Error) => {
        failure ??= err;
      });
      ws.on('data', (data: Message) =>
        handler((typeof data === 'string') === text ? data : WRONG_TYPE),
      );
      return {
        send: (payload) => {
          ws.write(payload);
        },
        setHandler,
        close: () => {
          const closed = once(ws, 'close');
          ws.end();
          return settle(closed, 'ours: close');
        },
      };
    }
    case 'ws': {
      const { WebSocket } = await import('ws');
      const ws = new WebSocket(url, {
        perMessageDeflate: settings.deflate,
        maxPayload: Number.isFinite(settings.maxMessageSize) ? settings.maxMessageSize : 0,
        ...(settings.localAddress === undefined ? {} : { localAddress: settings.localAddress }),
      });
      ws.on('error', (err) => {
        failure ??= err;
      });
      // A connection that fails (e.g. no port left) closes without opening: fail at once.
      const closedFirst = once(ws, 'close').then(() => {
        throw failure ?? new Error('ws: closed before open');
      });
      closedFirst.catch(() => {});
      await withTimeout(Promise.race([once(ws, 'open'), closedFirst]), OPEN_TIMEOUT_MS, 'ws: open');
      checkExtensions('ws', ws.extensions.includes('permessage-deflate'), settings.deflate);
      ws.on('message', (data, isBinary) =>
        handler(isBinary !== text ? (data as Buffer) : WRONG_TYPE),
      );
      return {
        send: (payload) => ws.send(payload),
        setHandler,
        close: () => {
          const closed = once(ws, 'close');
          ws.close();
          return settle(closed, 'ws: close');
        },
      };
    }
    case 'websocket': {
      if (settings.deflate) throw new Error('websocket: no permessage-deflate');
      const connection = await openWsNode(url, settings.maxMessageSize);
      connection.on('error', (err: Error) => {
        failure ??= err;
      });
      connection.on('message', (m: WsNodeMessage) => {
        if (m.type === 'utf8') handler(text ? m.utf8Data! : WRONG_TYPE);
        else handler(text ? WRONG_TYPE : m.binaryData!);
      });
      return {
        send: (payload) => {
          if (typeof payload === 'string') connection.sendUTF(payload);
          else connection.sendBytes(payload);
        },
        setHandler,
        close: () => {
          const closed = once(connection, 'close');
          connection.close();
          return settle(closed, 'websocket: close');
        },
      };
    }
    case 'tcp': {
      if (text || settings.deflate) throw new Error('tcp: binary messages only');
      const socket = net.connect(port, HOST);
      await withTimeout(once(socket, 'connect'), OPEN_TIMEOUT_MS, 'tcp: connect');
      socket.setNoDelay(true);
      socket.on('error', (err) => {
        failure ??= err;
      });
      const parser = new MessageParser((payload) => handler(payload));
      socket.on('data', (chunk: Buffer) => parser.push(chunk));
      const corker = new TickCorker(socket);
      return {
        send: (payload) => {
          const bytes = payload as Buffer;
          corker.cork();
          socket.write(lengthPrefix(bytes.length));
          socket.write(bytes);
        },
        setHandler,
        close: () => {
          const closed = once(socket, 'close');
          socket.end();
          return settle(closed, 'tcp: close');
        },
      };
    }
  }
}

function checkExtensions(lib: string, negotiated: boolean, wanted: boolean): void {
  if (negotiated !== wanted) {
    throw new Error(`${lib}: permessage-deflate ${negotiated ? 'negotiated' : 'not negotiated'}`);
  }
}

/** Sends one binary message held whole in memory (ws and WebSocket-Node have no other way). */
export async function sendWhole(
  lib: 'ws' | 'websocket',
  port: number,
  payload: Buffer,
): Promise<void> {
  const url = `ws://${HOST}:${port}/`;
  if (lib === 'ws') {
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let failure: Error | undefined;
    ws.on('error', (err) => {
      failure ??= err;
    });
    await withTimeout(once(ws, 'open'), OPEN_TIMEOUT_MS, 'ws: open');
    await new Promise<void>((resolve, reject) =>
      ws.send(payload, { binary: true }, (err) => (err ? reject(err) : resolve())),
    );
    const closed = once(ws, 'close');
    ws.close();
    await withTimeout(closed, CLOSE_TIMEOUT_MS, 'ws: close');
    if (failure !== undefined) throw failure;
    return;
  }
  const connection = await openWsNode(url, 1024 * 1024);
  await new Promise<void>((resolve, reject) =>
    connection.sendBytes(payload, (err?: Error) => (err ? reject(err) : resolve())),
  );
  const closed = once(connection, 'close');
  connection.close();
  await withTimeout(closed, CLOSE_TIMEOUT_MS, 'websocket: close');
}

// ------------------------------------------------------------------- WebSocket-Node's API

/** The parts of WebSocket-Node (no type definitions installed) used here. */
interface WsNodeMessage {
  type: 'utf8' | 'binary';
  utf8Data?: string;
  binaryData?: Buffer;
}
interface WsNodeConnection extends NodeJS.EventEmitter {
  sendUTF(data: string, cb?: (err?: Error) => void): void;
  sendBytes(data: Buffer, cb?: (err?: Error) => void): void;
  close(): void;
}
interface WsNodeRequest {
  origin: string | undefined;
  accept(protocol: string | null, origin: string | undefined): WsNodeConnection;
}
interface WebSocketNode {
  server: new (config: Record<string, unknown>) => NodeJS.EventEmitter;
  client: new (
    config: Record<string, unknown>,
  ) => NodeJS.EventEmitter & {
    connect(url: string): void;
  };
}

async function openWsNode(url: string, maxMessageSize: number): Promise<WsNodeConnection> {
  const { client: WsNodeClient } = require('websocket') as WebSocketNode;
  const client = new WsNodeClient({ maxReceivedMessageSize: maxMessageSize });
  const opened = new Promise<WsNodeConnection>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('connectFailed', reject);
  });
  client.connect(url);
  return withTimeout(opened, OPEN_TIMEOUT_MS, 'websocket: open');
}
