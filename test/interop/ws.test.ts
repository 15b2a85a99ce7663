import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer as WsServer } from 'ws';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  binaryVectors,
  describeMessage,
  type Message,
  MessageQueue,
  nextControl,
  type OurEchoServer,
  ourClose,
  patternBuffer,
  sendFragmentedMessages,
  startOurEchoServer,
  textVectors,
  within,
} from '../helpers/peers.js';

/**
 * Interop with ws 8 (the npm package), both ways: our server with the ws client (with its
 * default permessage-deflate offer, which our server must decline, and with
 * perMessageDeflate: false), and our client with the ws server.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What ws reports at its end: the WHATWG CloseEvent's code, reason and wasClean. */
interface WsClose {
  code: number;
  reason: string;
  wasClean: boolean;
}

/** ws's close as a CloseEvent (registered at once, so that it cannot be missed). */
function wsClosed(ws: WebSocket): Promise<WsClose> {
  return new Promise((resolve) => {
    ws.addEventListener('close', (event) =>
      resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }),
    );
  });
}

/** The messages a ws socket receives, as our chunks (string for text, Buffer for binary). */
class WsMessages {
  readonly #messages: Message[] = [];
  #wake: (() => void) | undefined;

  constructor(ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#messages.push(isBinary ? data : data.toString('utf8'));
      this.#wake?.();
    });
  }

  async next(ms = 10_000): Promise<Message> {
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

/** Expects `got` to be `sent`, with the same type (text stays text, binary stays binary). */
function expectSame(got: Message, sent: Message): void {
  const what = describeMessage(sent);
  if (typeof sent === 'string') {
    expect(typeof got, `${what}: type`).toBe('string');
    // Compared as a whole but reported briefly: a 120 kB diff helps nobody.
    expect(got === sent, `${what}: content (got ${describeMessage(got)})`).toBe(true);
  } else {
    expect(Buffer.isBuffer(got), `${what}: type (got ${describeMessage(got)})`).toBe(true);
    expect((got as Buffer).length, `${what}: length`).toBe(sent.length);
    expect(sent.equals(got as Buffer), `${what}: content`).toBe(true);
  }
}

/** Text and binary vectors interleaved, so that a type mix-up or a merge would show. */
function mixedVectors(): Message[] {
  const text = textVectors();
  const binary = binaryVectors().slice(0, -1); // the 5 MiB one has its own test
  const out: Message[] = [];
  for (let i = 0; i < Math.max(text.length, binary.length); i++) {
    if (i < binary.length) out.push(binary[i]!);
    if (i < text.length) out.push(text[i]!);
  }
  return out;
}

// ------------------------------------------------------------------ our server, ws client

describe.each([
  { label: 'ws offering permessage-deflate (its default)', perMessageDeflate: true },
  { label: 'ws with perMessageDeflate: false', perMessageDeflate: false },
])('our server with the $label', ({ perMessageDeflate }) => {
  async function open(): Promise<{
    server: OurEchoServer;
    ws: WebSocket;
    messages: WsMessages;
    wsClose: Promise<WsClose>;
    serverSide: Awaited<ReturnType<OurEchoServer['nextConnection']>>;
  }> {
    const server = await startOurEchoServer();
    cleanups.push(() => server.close());
    const ws = new WebSocket(server.url, ['echo-protocol'], {
      perMessageDeflate,
      handshakeTimeout: 5_000,
    });
    cleanups.push(() => ws.terminate());
    const messages = new WsMessages(ws);
    const wsClose = wsClosed(ws);
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      5_000,
      'the ws client opening',
    );
    const serverSide = await server.nextConnection();
    return { server, ws, messages, wsClose, serverSide };
  }

  it('negotiates echo-protocol, and no extension whatever ws offers', async () => {
    const { server, ws, serverSide } = await open();
    expect(ws.protocol).toBe('echo-protocol');
    expect(serverSide.connection.protocol).toBe('echo-protocol');
    expect(ws.extensions).toBe('');
    const offer = server.upgrades[0]?.['sec-websocket-extensions'];
    if (perMessageDeflate) expect(offer).toMatch(/^permessage-deflate/);
    else expect(offer).toBeUndefined();
  });

  it('echoes text, multi-byte UTF-8 and empty included, as text', async () => {
    const { ws, messages } = await open();
    const vectors = textVectors();
    for (const text of vectors) ws.send(text);
    for (const text of vectors) expectSame(await messages.next(), text);
  });

  it('echoes binary at the 0/125/126/65535/65536 boundaries, as binary', async () => {
    const { ws, messages } = await open();
    const vectors = binaryVectors().slice(0, -1);
    for (const bytes of vectors) ws.send(bytes);
    for (const bytes of vectors) expectSame(await messages.next(), bytes);
  });

  it('echoes a 5 MiB binary message', async () => {
    const { ws, messages } = await open();
    const big = patternBuffer(5 * 1024 * 1024);
    ws.send(big);
    expectSame(await messages.next(20_000), big);
  });

  it('keeps each message its type and its boundaries, text and binary interleaved', async () => {
    const { ws, messages } = await open();
    const vectors = mixedVectors();
    for (const message of vectors) ws.send(message);
    for (const message of vectors) expectSame(await messages.next(), message);
  });

  it('delivers our message streams to ws as one message each (fragments)', async () => {
    const { messages, serverSide } = await open();
    const [bytes, text] = sendFragmentedMessages(serverSide.connection);
    expectSame(await messages.next(), bytes);
    expectSame(await messages.next(), text);
  });

  it('answers ws pings, and ws answers ours', async () => {
    const { ws, serverSide } = await open();
    const wsPong = within(
      once(ws, 'pong') as Promise<[Buffer]>,
      5_000,
      'the pong answering ws ping',
    );
    const serverPing = nextControl(serverSide.connection, 'ping');
    ws.ping('from-ws');
    expect((await wsPong)[0].toString()).toBe('from-ws');
    expect((await serverPing).toString()).toBe('from-ws');

    const wsPinged = within(once(ws, 'ping') as Promise<[Buffer]>, 5_000, 'ws seeing our ping');
    const ourPong = nextControl(serverSide.connection, 'pong');
    serverSide.connection.ping('from-us');
    expect((await wsPinged)[0].toString()).toBe('from-us');
    expect((await ourPong).toString()).toBe('from-us');
  });

  it('closes cleanly when ws closes with 4000 "bye"', async () => {
    const { ws, wsClose, serverSide } = await open();
    ws.close(4000, 'bye');
    const ours = await within(serverSide.closed, 10_000, "our server connection's close");
    expect(ours).toEqual({ code: 4000, reason: 'bye', wasClean: true });
    // Our server answers with the code it received and no reason (RFC 6455 §5.5.1).
    expect(await within(wsClose, 10_000, "ws's close")).toEqual({
      code: 4000,
      reason: '',
      wasClean: true,
    });
    expect(serverSide.closeEvents).toBe(1);
  });

  it('closes cleanly when our server closes with 4001 "server bye"', async () => {
    const { wsClose, serverSide } = await open();
    serverSide.connection.close(4001, 'server bye');
    expect(await within(wsClose, 10_000, "ws's close")).toEqual({
      code: 4001,
      reason: 'server bye',
      wasClean: true,
    });
    // ws echoes the code and the reason of the Close it received.
    const ours = await within(serverSide.closed, 10_000, "our server connection's close");
    expect(ours).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    expect(serverSide.closeEvents).toBe(1);
  });
});

// ------------------------------------------------------------------ our client, ws server

describe.each([
  { label: 'ws server (perMessageDeflate: false, its default)', perMessageDeflate: false },
  { label: 'ws server with perMessageDeflate: true', perMessageDeflate: true },
])('our client with the $label', ({ perMessageDeflate }) => {
  async function open(): Promise<{
    client: WebSocketConnection;
    messages: MessageQueue;
    peer: WebSocket;
    peerClose: Promise<WsClose>;
    headers: IncomingHttpHeaders;
  }> {
    const wss = new WsServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate,
      handleProtocols: (protocols) => (protocols.has('echo-protocol') ? 'echo-protocol' : false),
    });
    cleanups.push(async () => {
      for (const socket of wss.clients) socket.terminate();
      await within(
        new Promise<void>((resolve) => wss.close(() => resolve())),
        5_000,
        'the ws server closing',
      );
    });
    const accepted = new Promise<[WebSocket, IncomingHttpHeaders, Promise<WsClose>]>((resolve) => {
      wss.once('connection', (socket, request) => {
        socket.on('message', (data: Buffer, isBinary: boolean) =>
          socket.send(data, { binary: isBinary }),
        );
        resolve([socket, request.headers, wsClosed(socket)]);
      });
    });
    await within(once(wss, 'listening'), 5_000, 'the ws server listening');
    const { port } = wss.address() as AddressInfo;
    const client = await connect(`ws://127.0.0.1:${port}/`, {
      protocols: ['echo-protocol'],
      handshakeTimeout: 5_000,
      // These cases test the uncompressed paths; compression has its own interop tests.
      perMessageDeflate: false,
    });
    cleanups.push(() => client.terminate());
    const messages = new MessageQueue(client);
    const [peer, headers, peerClose] = await within(accepted, 5_000, 'the ws server accepting');
    return { client, messages, peer, peerClose, headers };
  }

  it('negotiates echo-protocol and no extension', async () => {
    const { client, peer, headers } = await open();
    expect(client.protocol).toBe('echo-protocol');
    expect(peer.protocol).toBe('echo-protocol');
    expect(headers['sec-websocket-protocol']).toBe('echo-protocol');
    expect(headers['sec-websocket-extensions']).toBeUndefined();
    expect(peer.extensions).toBe('');
  });

  it('gets text back as text, multi-byte UTF-8 and empty included', async () => {
    const { client, messages } = await open();
    const vectors = textVectors();
    for (const text of vectors) client.write(text);
    for (const text of vectors) expectSame(await messages.next(), text);
  });

  it('gets binary back as binary at the 0/125/126/65535/65536 boundaries', async () => {
    const { client, messages } = await open();
    const vectors = binaryVectors().slice(0, -1);
    for (const bytes of vectors) client.write(bytes);
    for (const bytes of vectors) expectSame(await messages.next(), bytes);
  });

  it('gets a 5 MiB binary message back', async () => {
    const { client, messages } = await open();
    const big = patternBuffer(5 * 1024 * 1024);
    client.write(big);
    expectSame(await messages.next(20_000), big);
  });

  it('keeps each message its type and its boundaries, text and binary interleaved', async () => {
    const { client, messages } = await open();
    const vectors = mixedVectors();
    for (const message of vectors) client.write(message);
    for (const message of vectors) expectSame(await messages.next(), message);
  });

  it('sends message streams that ws assembles into one message each (fragments)', async () => {
    const { client, messages } = await open();
    const [bytes, text] = sendFragmentedMessages(client);
    expectSame(await messages.next(), bytes);
    expectSame(await messages.next(), text);
  });

  it('pings the ws server, and answers its pings', async () => {
    const { client, peer } = await open();
    const ourPong = nextControl(client, 'pong');
    const peerPinged = within(once(peer, 'ping') as Promise<[Buffer]>, 5_000, 'ws seeing our ping');
    client.ping('from-us');
    expect((await peerPinged)[0].toString()).toBe('from-us');
    expect((await ourPong).toString()).toBe('from-us');

    const peerPong = within(once(peer, 'pong') as Promise<[Buffer]>, 5_000, 'our pong to ws');
    const ourPing = nextControl(client, 'ping');
    peer.ping('from-ws');
    expect((await ourPing).toString()).toBe('from-ws');
    expect((await peerPong)[0].toString()).toBe('from-ws');
  });

  it('closes cleanly when our client closes with 4000 "bye"', async () => {
    const { client, peerClose } = await open();
    const ours = ourClose(client);
    client.close(4000, 'bye');
    expect(await within(peerClose, 10_000, "the ws server's close")).toEqual({
      code: 4000,
      reason: 'bye',
      wasClean: true,
    });
    // ws echoes the code and the reason of the Close it received.
    expect(await ours).toEqual({ code: 4000, reason: 'bye', wasClean: true });
  });

  it('closes cleanly when the ws server closes with 4001 "server bye"', async () => {
    const { client, peer, peerClose } = await open();
    const ours = ourClose(client);
    peer.close(4001, 'server bye');
    expect(await ours).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    // Our client answers with the code it received and no reason (RFC 6455 §5.5.1).
    expect(await within(peerClose, 10_000, "the ws server's close")).toEqual({
      code: 4001,
      reason: '',
      wasClean: true,
    });
  });
});
