import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  Cleanups,
  connectOurClient,
  expectSame,
  mixedVectors,
  openWsClient,
  startWsEchoServer,
  UNCOMPRESSED_ECHO_CLIENT,
  type WsClose,
  type WsMessages,
} from '../helpers/interop.js';
import {
  binaryVectors,
  type MessageQueue,
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

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

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
    const {
      ws,
      messages,
      closed: wsClose,
    } = await openWsClient(server.url, { perMessageDeflate }, cleanups);
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
    const vectors = mixedVectors('binary');
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
    const { port, accepted } = await startWsEchoServer(
      {
        perMessageDeflate,
        handleProtocols: (protocols) => (protocols.has('echo-protocol') ? 'echo-protocol' : false),
      },
      cleanups,
    );
    const { client, messages } = await connectOurClient(
      `ws://127.0.0.1:${port}/`,
      UNCOMPRESSED_ECHO_CLIENT,
      cleanups,
    );
    const {
      socket: peer,
      request,
      closed: peerClose,
    } = await within(accepted, 5_000, 'the ws server accepting');
    const headers = request.headers;
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
    const vectors = mixedVectors('binary');
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
