import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import net from 'node:net';
import { createFrame } from '../../lib/protocol/frame.js';
import { encodeFrame } from '../../lib/protocol/frame-encoder.js';
import { generateKey } from '../../lib/protocol/handshake.js';
import { Opcode } from '../../lib/protocol/opcodes.js';
import type { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';

/** Listens on an ephemeral loopback port and returns it. */
export async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  server.listen({ port: 0, host, backlog: 2048 });
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A parsed HTTP response head, and what followed it. */
export interface RawResponse {
  status: number;
  statusLine: string;
  headers: Record<string, string>;
  /** Bytes after the head (the body, or WebSocket frames after a 101). */
  rest: Buffer;
}

/** Builds an upgrade request; `headers` override or (with undefined) drop the defaults. */
export function upgradeRequest(
  path = '/',
  headers: Record<string, string | undefined> = {},
  requestLine = `GET ${path} HTTP/1.1`,
): string {
  const all: Record<string, string | undefined> = {
    Host: '127.0.0.1',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Key': generateKey(),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let text = `${requestLine}\r\n`;
  for (const [name, value] of Object.entries(all))
    if (value !== undefined) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** Reads from a raw socket until the end of the response head (bounded in time). */
export function readHead(socket: net.Socket, timeoutMs = 5_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('No response head in time')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end !== -1) finish(undefined, end);
    };
    const onEnd = (): void => finish(new Error(`Socket ended before a response head: ${buffer}`));
    const finish = (err: Error | undefined, end = 0): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', finish);
      socket.pause();
      if (err !== undefined) {
        reject(err);
        return;
      }
      const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
      const statusLine = lines.shift() ?? '';
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim().toLowerCase();
        headers[name] =
          headers[name] === undefined
            ? line.slice(colon + 1).trim()
            : `${headers[name]}, ${line.slice(colon + 1).trim()}`;
      }
      resolve({
        status: Number(statusLine.split(' ')[1]),
        statusLine,
        headers,
        rest: buffer.subarray(end + 4),
      });
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', finish);
  });
}

/** Opens a raw TCP connection to the port. */
export async function rawConnect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const socket = net.connect(port, host);
  await once(socket, 'connect');
  return socket;
}

/**
 * Sends raw bytes, then reads the whole answer until the server closes (a rejected
 * handshake must be answered and closed): head, and the body after it.
 */
export async function rawExchange(
  port: number,
  request: string | Buffer,
  timeoutMs = 5_000,
): Promise<RawResponse & { closed: boolean }> {
  const socket = await rawConnect(port);
  socket.write(request);
  const head = await readHead(socket, timeoutMs);
  const chunks = [head.rest];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  const closed = await Promise.race([
    once(socket, 'end').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
  ]);
  socket.destroy();
  return { ...head, rest: Buffer.concat(chunks), closed };
}

/** Encodes one masked client frame, as a client sends it. @see RFC 6455 §5.3 */
export function clientFrame(
  message: string | Buffer,
  opcode: number = typeof message === 'string' ? Opcode.Text : Opcode.Binary,
): Buffer {
  const payload = typeof message === 'string' ? Buffer.from(message) : message;
  return Buffer.concat(encodeFrame(createFrame(opcode as Opcode, payload), randomBytes(4)));
}

/** Reads the next message from a connection, bounded in time. */
export function nextMessage(ws: WebSocketConnection, timeoutMs = 5_000): Promise<string | Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.removeListener('data', onData);
      reject(new Error('No message in time'));
    }, timeoutMs);
    const onData = (message: string | Buffer): void => {
      clearTimeout(timer);
      ws.pause();
      resolve(message);
    };
    ws.once('data', onData);
    ws.resume();
  });
}

/** Waits for an event, bounded in time. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a test opened, closed in afterEach so that no handle outlives it. */
export class Resources {
  readonly #httpServers: HttpServer[] = [];
  readonly #netServers: net.Server[] = [];
  readonly #wss: WebSocketServer[] = [];
  readonly #connections: WebSocketConnection[] = [];
  readonly #sockets: net.Socket[] = [];

  /** Tracks an HTTP(S) server and every socket it takes (upgraded ones included). */
  http<T extends HttpServer>(server: T): T {
    this.#httpServers.push(server);
    server.on('connection', (socket: net.Socket) => this.#sockets.push(socket));
    server.on('secureConnection', (socket: net.Socket) => this.#sockets.push(socket));
    return server;
  }

  /** Tracks a raw TCP server and every socket it takes. */
  net<T extends net.Server>(server: T): T {
    this.#netServers.push(server);
    server.on('connection', (socket: net.Socket) => this.#sockets.push(socket));
    return server;
  }

  wss(server: WebSocketServer): WebSocketServer {
    this.#wss.push(server);
    return server;
  }

  ws(connection: WebSocketConnection): WebSocketConnection {
    this.#connections.push(connection);
    return connection;
  }

  socket(socket: net.Socket): net.Socket {
    this.#sockets.push(socket);
    return socket;
  }

  async closeAll(): Promise<void> {
    for (const connection of this.#connections.splice(0)) connection.terminate();
    for (const socket of this.#sockets.splice(0)) socket.destroy();
    await Promise.all(this.#wss.splice(0).map((server) => server.shutDown({ gracePeriod: 0 })));
    await Promise.all(
      [...this.#httpServers.splice(0), ...this.#netServers.splice(0)].map((server) => {
        if ('closeAllConnections' in server) (server as HttpServer).closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }
}

/** Polls a condition every 5 ms until it holds, failing after `ms`. */
export async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
