import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  Cleanups,
  connectOurClient,
  echoCommand,
  expectSame,
  mixedVectors,
  PYTHON_SCRIPTS,
  UNCOMPRESSED_ECHO_CLIENT,
} from '../helpers/interop.js';
import {
  binaryVectors,
  describeMessage,
  killAllPeers,
  type Message,
  type MessageQueue,
  nextControl,
  type OurEchoServer,
  ourClose,
  type PeerEvent,
  PeerProcess,
  PYTHON3,
  patternBuffer,
  requirePeersForEachTest,
  requirePythonModule,
  type ServerSide,
  sendFragmentedMessages,
  sha256,
  startOurEchoServer,
  textVectors,
  within,
} from '../helpers/peers.js';

/**
 * Interop with python-websockets (Debian's python3-websockets, run by /usr/bin/python3),
 * both ways: our server with its client, our client with its server. The python peers
 * (test/interop/python/) print JSON lines that the tests parse. Both offer
 * permessage-deflate by default; we implement no extension, so none may be agreed.
 */

const cleanups = new Cleanups();
afterEach(async () => {
  await killAllPeers();
  await cleanups.run();
});

let version = '';
// Fails every test of this file, loudly, when the peer is missing.
requirePeersForEachTest(() => {
  version = requirePythonModule('websockets', 'python3-websockets');
});

/** A python-reported message, as the scripts print it (common.py, describe_message). */
interface ReportedMessage {
  type: 'text' | 'binary';
  length: number;
  sha256: string;
  data?: string;
  b64?: string;
}

/** A python-reported end of connection (common.py, close_report). */
interface ReportedClose {
  code: number;
  reason: string;
  clean: boolean;
  received: { code: number; reason: string } | null;
  sent: { code: number; reason: string } | null;
}

/** A python-reported handshake (common.py, handshake_report). */
interface ReportedOpen {
  path: string | null;
  subprotocol: string | null;
  extensions: string[];
  offered_extensions: string | null;
  accepted_extensions: string | null;
  offered_protocols: string | null;
}

function field<T>(event: PeerEvent): T {
  return event as unknown as T;
}

/** Expects python to have received `sent`, with the same type. */
function expectReported(event: PeerEvent, sent: Message): void {
  const got = field<ReportedMessage>(event);
  const what = describeMessage(sent);
  const bytes = typeof sent === 'string' ? Buffer.from(sent, 'utf8') : sent;
  expect(got.type, `${what}: type`).toBe(typeof sent === 'string' ? 'text' : 'binary');
  expect(got.length, `${what}: length`).toBe(bytes.length);
  expect(got.sha256, `${what}: SHA-256`).toBe(sha256(bytes));
  // Small ones come back whole: checks python's decoding too, not only our bytes.
  if (typeof sent === 'string' && got.data !== undefined) expect(got.data === sent).toBe(true);
  if (typeof sent !== 'string' && got.b64 !== undefined) {
    expect(Buffer.from(got.b64, 'base64').equals(sent), `${what}: content`).toBe(true);
  }
}

// ------------------------------------------------------------ our server, python client

describe('our server with the python-websockets client', () => {
  async function open(): Promise<{
    server: OurEchoServer;
    python: PeerProcess;
    opened: ReportedOpen;
    serverSide: ServerSide;
  }> {
    const server = await startOurEchoServer();
    cleanups.push(() => server.close());
    const python = PeerProcess.spawn(
      PYTHON3,
      ['-B', `${PYTHON_SCRIPTS}echo_client.py`, server.url, '--protocol', 'echo-protocol'],
      { name: `python-websockets ${version} client` },
    );
    const opened = field<ReportedOpen>(await python.next('open'));
    const serverSide = await server.nextConnection();
    return { server, python, opened, serverSide };
  }

  /** Has python send each message and report the echo; checks them all. */
  async function echoAll(python: PeerProcess, messages: Message[]): Promise<void> {
    for (const message of messages) python.send(echoCommand(message));
    for (const message of messages) expectReported(await python.next('message', 20_000), message);
  }

  it('negotiates echo-protocol, and declines the permessage-deflate offer', async () => {
    const { server, opened, serverSide } = await open();
    expect(opened.subprotocol).toBe('echo-protocol');
    expect(serverSide.connection.protocol).toBe('echo-protocol');
    // python offers permessage-deflate by default; our 101 must not accept it.
    expect(opened.offered_extensions).toMatch(/^permessage-deflate/);
    expect(server.upgrades[0]?.['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    expect(opened.accepted_extensions).toBeNull();
    expect(opened.extensions).toEqual([]);
  });

  it('echoes text, multi-byte UTF-8 and empty included, as text', async () => {
    const { python } = await open();
    await echoAll(python, textVectors());
  });

  it('echoes binary at the 0/125/126/65535/65536 boundaries and 5 MiB, as binary', async () => {
    const { python } = await open();
    await echoAll(python, binaryVectors());
  });

  it('keeps each message its type, text and binary interleaved', async () => {
    const { python } = await open();
    await echoAll(python, mixedVectors('text'));
  });

  it('answers python pings, and python answers ours', async () => {
    const { python, serverSide } = await open();
    const seen = nextControl(serverSide.connection, 'ping');
    python.send({ cmd: 'ping', data: 'from-python' });
    expect((await python.next('pong')).data).toBe('from-python');
    expect((await seen).toString()).toBe('from-python');

    const pong = nextControl(serverSide.connection, 'pong');
    serverSide.connection.ping('from-us');
    expect((await pong).toString()).toBe('from-us');
  });

  it('closes cleanly when python closes with 4000 "bye"', async () => {
    const { python, serverSide } = await open();
    python.send({ cmd: 'close', code: 4000, reason: 'bye' });
    const closed = field<ReportedClose>(await python.next('closed', 15_000));
    const ours = await within(serverSide.closed, 10_000, "our server connection's close");
    expect(ours).toEqual({ code: 4000, reason: 'bye', wasClean: true });
    expect(closed.sent).toEqual({ code: 4000, reason: 'bye' });
    // Our server answers with the code it received and no reason (RFC 6455 §5.5.1).
    expect(closed.received).toEqual({ code: 4000, reason: '' });
    expect([closed.code, closed.reason, closed.clean]).toEqual([4000, '', true]);
    expect(serverSide.closeEvents).toBe(1);
  });

  it('closes cleanly when our server closes with 4001 "server bye"', async () => {
    const { python, serverSide } = await open();
    python.send({ cmd: 'wait_closed' });
    serverSide.connection.close(4001, 'server bye');
    const closed = field<ReportedClose>(await python.next('closed', 15_000));
    expect([closed.code, closed.reason, closed.clean]).toEqual([4001, 'server bye', true]);
    // python echoes the Close it received, code and reason.
    expect(closed.sent).toEqual({ code: 4001, reason: 'server bye' });
    const ours = await within(serverSide.closed, 10_000, "our server connection's close");
    expect(ours).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    expect(serverSide.closeEvents).toBe(1);
  });
});

// ------------------------------------------------------------ our client, python server

describe('our client with the python-websockets server', () => {
  async function startPython(): Promise<{ python: PeerProcess; port: number }> {
    const python = PeerProcess.spawn(PYTHON3, ['-B', `${PYTHON_SCRIPTS}echo_server.py`], {
      name: `python-websockets ${version} server`,
    });
    const listening = await python.next('listening');
    return { python, port: Number(listening.port) };
  }

  async function open(path = '/'): Promise<{
    python: PeerProcess;
    client: WebSocketConnection;
    messages: MessageQueue;
    opened: ReportedOpen;
  }> {
    const { python, port } = await startPython();
    const { client, messages } = await connectOurClient(
      `ws://127.0.0.1:${port}${path}`,
      UNCOMPRESSED_ECHO_CLIENT,
      cleanups,
    );
    const opened = field<ReportedOpen>(await python.next('open'));
    return { python, client, messages, opened };
  }

  it('negotiates echo-protocol and no extension', async () => {
    const { client, opened } = await open();
    expect(client.protocol).toBe('echo-protocol');
    expect(opened.subprotocol).toBe('echo-protocol');
    expect(opened.offered_protocols).toBe('echo-protocol');
    // We offer no extension, so python (compression on by default) must agree none.
    expect(opened.offered_extensions).toBeNull();
    expect(opened.accepted_extensions).toBeNull();
    expect(opened.extensions).toEqual([]);
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

  it('keeps each message its type, text and binary interleaved', async () => {
    const { client, messages } = await open();
    const vectors = mixedVectors('text');
    for (const message of vectors) client.write(message);
    for (const message of vectors) expectSame(await messages.next(), message);
  });

  it('sends message streams that python assembles into one message each (fragments)', async () => {
    const { client, messages } = await open();
    const [bytes, text] = sendFragmentedMessages(client);
    expectSame(await messages.next(), bytes);
    expectSame(await messages.next(), text);
  });

  it('pings the python server, and answers its pings', async () => {
    const { python, client, messages } = await open('/control');
    const pong = nextControl(client, 'pong');
    client.ping('from-us');
    expect((await pong).toString()).toBe('from-us');

    const ping = nextControl(client, 'ping');
    client.write(JSON.stringify({ cmd: 'ping', data: 'from-python' }));
    expect((await ping).toString()).toBe('from-python');
    // python got our pong (its ping's waiter resolved), and says so both ways.
    expect((await python.next('pong')).data).toBe('from-python');
    const answer = await messages.next();
    expect(typeof answer).toBe('string');
    expect(JSON.parse(answer as string)).toEqual({ event: 'pong', data: 'from-python' });
  });

  it('closes cleanly when our client closes with 4000 "bye"', async () => {
    const { python, client } = await open();
    const ours = ourClose(client);
    client.close(4000, 'bye');
    const closed = field<ReportedClose>(await python.next('closed', 15_000));
    expect([closed.code, closed.reason, closed.clean]).toEqual([4000, 'bye', true]);
    // python echoes the Close it received, code and reason.
    expect(closed.sent).toEqual({ code: 4000, reason: 'bye' });
    expect(await ours).toEqual({ code: 4000, reason: 'bye', wasClean: true });
  });

  it('closes cleanly when the python server closes with 4001 "server bye"', async () => {
    const { python, client } = await open('/control');
    const ours = ourClose(client);
    client.write(JSON.stringify({ cmd: 'close', code: 4001, reason: 'server bye' }));
    expect(await ours).toEqual({ code: 4001, reason: 'server bye', wasClean: true });
    const closed = field<ReportedClose>(await python.next('closed', 15_000));
    expect(closed.sent).toEqual({ code: 4001, reason: 'server bye' });
    // Our client answers with the code it received and no reason (RFC 6455 §5.5.1).
    expect(closed.received).toEqual({ code: 4001, reason: '' });
    expect([closed.code, closed.reason, closed.clean]).toEqual([4001, '', true]);
  });
});
