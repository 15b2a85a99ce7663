import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { connect } from '../../lib/client.js';
import type { ClientOptions } from '../../lib/handshake/client-handshake.js';
import { WebSocketServer, type WebSocketServerOptions } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';

/**
 * An HTTP server on an ephemeral loopback port with a WebSocketServer on it, plus the
 * bookkeeping to tear everything down after a test, so that no socket or timer outlives
 * the test that made it.
 */
export class LoopbackServer {
  readonly http: http.Server;
  readonly wss: WebSocketServer;
  port = 0;
  readonly #sockets = new Set<net.Socket>();
  readonly #clients = new Set<WebSocketConnection>();

  constructor(options: Omit<WebSocketServerOptions, 'httpServer'> = {}) {
    this.http = http.createServer((_req, res) => res.writeHead(404).end());
    this.http.on('connection', (socket: net.Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.wss = new WebSocketServer({ ...options, httpServer: this.http });
  }

  /** Starts listening on 127.0.0.1 and resolves with the port. */
  async listen(): Promise<number> {
    this.http.listen({ port: 0, host: '127.0.0.1' });
    await once(this.http, 'listening');
    this.port = (this.http.address() as net.AddressInfo).port;
    return this.port;
  }

  /** The ws: URL of a path on this server. */
  url(path = '/'): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  /** Connects a client (tracked, so that close() ends it). */
  async connect(path = '/', options: ClientOptions = {}): Promise<WebSocketConnection> {
    const ws = await connect(this.url(path), options);
    this.#clients.add(ws);
    return ws;
  }

  /** Ends every client, connection and socket, and closes the HTTP server. */
  async close(): Promise<void> {
    for (const ws of this.#clients) ws.terminate();
    for (const ws of this.wss.connections) ws.terminate();
    for (const socket of this.#sockets) socket.destroy();
    await this.wss.shutDown({ gracePeriod: 0 });
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/** Resolves with the next message read from a connection, or rejects after `ms`. */
export function nextMessage(ws: WebSocketConnection, ms = 5_000): Promise<string | Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.removeListener('data', onData);
      reject(new Error(`No message within ${ms} ms`));
    }, ms);
    const onData = (chunk: string | Buffer): void => {
      clearTimeout(timer);
      ws.pause();
      resolve(chunk);
    };
    ws.once('data', onData);
    ws.resume();
  });
}

/** Polls `check` every 20 ms until it returns true; rejects with `what` after `ms`. */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
