/**
 * In-process peers for the backplane tests: a LoopbackServer with its own backplane, as one
 * process of an application would have (several of them in one test stand for several
 * processes: each backplane has its own Redis connections and origin id), and clients that
 * record every message they read.
 */
import { randomBytes } from 'node:crypto';
import {
  type Backplane,
  type BackplaneOptions,
  createBackplane,
} from '../../../lib/redis/index.js';
import type { WebSocketConnection } from '../../../lib/stream/websocket-connection.js';
import { LoopbackServer } from '../../helpers/loopback-server.js';

/** A server with a backplane attached. */
export interface Peer {
  server: LoopbackServer;
  backplane: Backplane;
}

const peers = new Set<Peer>();

/** A prefix of its own for each test, so that tests never see each other's messages. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString('hex')}`;
}

/** Starts a server and a backplane (attached), and waits until Redis is connected. */
export async function startPeer(options: BackplaneOptions, attach = true): Promise<Peer> {
  const server = new LoopbackServer({ autoAcceptConnections: true, keepalive: false });
  await server.listen();
  const backplane = createBackplane(options);
  const peer = { server, backplane };
  peers.add(peer);
  if (attach) backplane.attach(server.wss);
  await backplane.ready();
  await backplane.whenSubscribed();
  return peer;
}

/** Closes every peer started by startPeer (for afterEach). */
export async function closePeers(): Promise<void> {
  const all = [...peers];
  peers.clear();
  await Promise.all(
    all.map(async (p) => {
      await p.backplane.close();
      await p.server.close();
    }),
  );
}

/** A client that records what it reads. */
export interface Recorder {
  ws: WebSocketConnection;
  messages: Array<string | Buffer>;
}

/** Connects a client and records every message it reads. */
export async function recorder(peer: Peer, path = '/'): Promise<Recorder> {
  const ws = await peer.server.connect(path);
  const messages: Array<string | Buffer> = [];
  ws.on('data', (m: string | Buffer) => messages.push(m));
  return { ws, messages };
}

/** Resolves when `check` holds, polling every 10 ms; rejects with `what` after `ms`. */
export async function waitUntil(
  check: () => boolean,
  ms: number,
  what: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits a little so that a message that should NOT come would have come. */
export function quietPeriod(ms = 150): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The server-side connection of a server (when it has exactly one). */
export function onlyConnection(peer: Peer): WebSocketConnection {
  const [connection, ...rest] = peer.server.wss.connections;
  if (connection === undefined || rest.length > 0) {
    throw new Error(`expected one connection, found ${peer.server.wss.connections.length}`);
  }
  return connection;
}
