/**
 * What the interop tests (test/interop/) share, in one place: opening a ws client against
 * our server and a ws echo server for our client, connecting our client, the message
 * checks (same type, same content), the interleaved vectors, python's echo command, the
 * browser, and the list of things to undo after each test. The peers themselves (processes,
 * our echo server, message queues) are in peers.ts.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { expect } from 'vitest';
import WebSocket, { type PerMessageDeflateOptions, type ServerOptions, WebSocketServer } from 'ws';
import { connect } from '../../lib/client.js';
import type { ClientOptions } from '../../lib/handshake/client-handshake.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  binaryVectors,
  CHROMIUM,
  CHROMIUM_ARGS,
  describeMessage,
  type Message,
  MessageQueue,
  requirePeer,
  textVectors,
  within,
} from './peers.js';

/** The python peers' scripts (test/interop/python/), with a trailing slash. */
export const PYTHON_SCRIPTS = fileURLToPath(new URL('../interop/python/', import.meta.url));

/** What a test made and must undo: run in reverse order after each test. */
export class Cleanups {
  readonly #list: Array<() => Promise<void> | void> = [];

  push(cleanup: () => Promise<void> | void): void {
    this.#list.push(cleanup);
  }

  /** Undoes everything, the last made first. */
  async run(): Promise<void> {
    for (const cleanup of this.#list.splice(0).reverse()) await cleanup();
  }
}

/**
 * Expects `got` to be `sent`, with the same type (text stays text, binary stays binary):
 * compared whole, reported briefly (a 120 kB diff helps nobody).
 */
export function expectSame(got: Message, sent: Message, what = describeMessage(sent)): void {
  if (typeof sent === 'string') {
    expect(typeof got, `${what}: type (got ${describeMessage(got)})`).toBe('string');
    expect(got === sent, `${what}: content (got ${describeMessage(got)})`).toBe(true);
  } else {
    expect(Buffer.isBuffer(got), `${what}: type (got ${describeMessage(got)})`).toBe(true);
    expect((got as Buffer).length, `${what}: length`).toBe(sent.length);
    expect(sent.equals(got as Buffer), `${what}: content (got ${describeMessage(got)})`).toBe(true);
  }
}

/**
 * Text and binary vectors interleaved, `first` leading, so that a type mix-up or a merge
 * would show (the 5 MiB binary vector left out: it has its own tests).
 */
export function mixedVectors(first: 'text' | 'binary'): Message[] {
  const text = textVectors();
  const binary = binaryVectors().slice(0, -1);
  const [a, b] = first === 'text' ? [text, binary] : [binary, text];
  const out: Message[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}

/** The command that has a python peer send `message` and report its echo (common.py). */
export function echoCommand(message: Message): Record<string, unknown> {
  return typeof message === 'string'
    ? { cmd: 'echo', type: 'text', data: message }
    : { cmd: 'echo', type: 'binary', b64: message.toString('base64') };
}

/** What ws reports at its end: the WHATWG CloseEvent's code, reason and wasClean. */
export interface WsClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** ws's close as a CloseEvent (register it at once, so that it cannot be missed). */
export function wsClosed(ws: WebSocket): Promise<WsClose> {
  return new Promise((resolve) => {
    ws.addEventListener('close', (event) =>
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }),
    );
  });
}

/** The messages a ws socket receives, as our chunks (string for text, Buffer for binary). */
export class WsMessages {
  readonly #messages: Message[] = [];
  readonly #defaultMs: number;
  #wake: (() => void) | undefined;

  constructor(ws: WebSocket, defaultMs = 10_000) {
    this.#defaultMs = defaultMs;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#messages.push(isBinary ? data : data.toString('utf8'));
      this.#wake?.();
    });
  }

  /** Resolves with the next message; rejects after `ms`. */
  async next(ms = this.#defaultMs): Promise<Message> {
    const deadline = Date.now() + ms;
    for (;;) {
      const message = this.#messages.shift();
      if (message !== undefined) return message;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`ws received no message within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }
}

/** Options of {@link openWsClient}. */
export interface WsClientOptions {
  perMessageDeflate: boolean | PerMessageDeflateOptions;
  /** The default wait of `messages.next()`. Default 10 s. */
  messageMs?: number;
  /** Called with the socket before it opens (to listen for 'upgrade'). */
  beforeOpen?: (ws: WebSocket) => void;
}

/**
 * Opens a ws client on `url` with subprotocol echo-protocol (terminated at cleanup), and
 * resolves once it is open, with its messages and its close already being recorded.
 */
export async function openWsClient(
  url: string,
  options: WsClientOptions,
  cleanups: Cleanups,
): Promise<{ ws: WebSocket; messages: WsMessages; closed: Promise<WsClose> }> {
  const ws = new WebSocket(url, ['echo-protocol'], {
    perMessageDeflate: options.perMessageDeflate,
    handshakeTimeout: 5_000,
  });
  cleanups.push(() => ws.terminate());
  options.beforeOpen?.(ws);
  const messages = new WsMessages(ws, options.messageMs);
  const closed = wsClosed(ws);
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    5_000,
    'the ws client opening',
  );
  return { ws, messages, closed };
}

/** The ws server's side of the connection it accepted. */
export interface WsAccepted {
  socket: WebSocket;
  request: IncomingMessage;
  /** Its close, recorded from the moment it was accepted. */
  closed: Promise<WsClose>;
}

/**
 * Starts a ws server on loopback that echoes every message with its type (closed at
 * cleanup, its sockets terminated), and resolves once it listens.
 */
export async function startWsEchoServer(
  options: Omit<ServerOptions, 'host' | 'port'>,
  cleanups: Cleanups,
): Promise<{ wss: WebSocketServer; port: number; accepted: Promise<WsAccepted> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options });
  cleanups.push(async () => {
    for (const socket of wss.clients) socket.terminate();
    await within(
      new Promise<void>((resolve) => wss.close(() => resolve())),
      5_000,
      'the ws server closing',
    );
  });
  const accepted = new Promise<WsAccepted>((resolve) => {
    wss.once('connection', (socket, request) => {
      socket.on('message', (data: Buffer, isBinary: boolean) =>
        socket.send(data, { binary: isBinary }),
      );
      resolve({ socket, request, closed: wsClosed(socket) });
    });
  });
  await within(once(wss, 'listening'), 5_000, 'the ws server listening');
  return { wss, port: (wss.address() as AddressInfo).port, accepted };
}

/** Our client's options for the uncompressed echo cases (compression has its own tests). */
export const UNCOMPRESSED_ECHO_CLIENT: ClientOptions = {
  protocols: ['echo-protocol'],
  handshakeTimeout: 5_000,
  perMessageDeflate: false,
};

/** Connects our client (terminated at cleanup), its messages read into a queue. */
export async function connectOurClient(
  url: string,
  options: ClientOptions,
  cleanups: Cleanups,
): Promise<{ client: WebSocketConnection; messages: MessageQueue }> {
  const client = await connect(url, options);
  cleanups.push(() => client.terminate());
  return { client, messages: new MessageQueue(client) };
}

/** Launches Debian's headless Chromium; a missing browser fails loudly, naming the package. */
export function launchChromium(): Promise<Browser> {
  requirePeer(CHROMIUM);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20_000 });
}
