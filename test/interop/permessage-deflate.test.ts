import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { PerMessageDeflateOptions } from 'ws';
import type { PerMessageDeflateConfig } from '../../lib/extensions/permessage-deflate.js';
import { WebSocketServer } from '../../lib/server.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  agreementOf,
  canonicalExtensions,
  canonicalHeader,
  closeAllRaw,
  jsonText,
  type ProxiedConnection,
  RecordingProxy,
  randomBinary,
  randomText,
  senderRules,
  windowProbe,
  wireMessages,
  wireProblems,
} from '../helpers/deflate-wire.js';
import {
  Cleanups,
  connectOurClient,
  echoCommand,
  expectSame,
  launchChromium,
  openWsClient,
  PYTHON_SCRIPTS,
  startWsEchoServer,
} from '../helpers/interop.js';
import {
  describeMessage,
  killAllPeers,
  type Message,
  ourClose,
  type PeerEvent,
  PeerProcess,
  PYTHON3,
  requirePeersForEachTest,
  requirePythonModule,
  within,
} from '../helpers/peers.js';

/**
 * Interop with compression ON (RFC 7692): ws 8 both ways, python-websockets 10 both ways
 * (compression is on by default there), and headless Chromium against our server (it
 * offers permessage-deflate by default). Each with context takeover on and off, and with
 * smaller windows, where the peer lets us configure it. For every pairing the tests check
 * what both ends report as agreed, that every message comes back whole with its type, and,
 * through a recording proxy in between (test/helpers/deflate-wire.ts), the wire itself:
 * compressible messages over 1 KiB went with RSV1 both ways, and every compressed payload
 * inflates, with an inflater of the window and context mode its sender agreed to, to
 * exactly what was sent (a sender reaching further back than agreed fails that).
 *
 * A missing peer fails its tests loudly (requirePeersForEachTest), never skips them.
 */

const MiB = 1024 * 1024;
const cleanups = new Cleanups();
afterEach(async () => {
  await killAllPeers();
  await cleanups.run();
  await closeAllRaw();
});

type DeflateOption = boolean | PerMessageDeflateConfig;

/**
 * The messages of every pairing, in order: compressible text twice (the second shows the
 * context takeover), incompressible text and binary, compressible binary, empty ones, a
 * short one under the 1 KiB threshold, 1 MiB of compressible text, and a window probe.
 */
function interopMessages(): Message[] {
  const json = jsonText(20_000, 81);
  return [
    json,
    json,
    randomText(6_000, 82),
    Buffer.from(jsonText(64 * 1024, 83)),
    randomBinary(64 * 1024, 84),
    '',
    Buffer.alloc(0),
    'short',
    jsonText(MiB, 85),
    windowProbe(86),
  ];
}

/** Where a message must go compressed: compressible and over every peer's 1 KiB threshold. */
function mustCompress(messages: readonly Message[]): Array<boolean | undefined> {
  return messages.map((m, i) => {
    if (i === 2 || i === 4 || i === 9) return undefined; // incompressible: a sender may skip
    const size = typeof m === 'string' ? Buffer.byteLength(m) : m.length;
    return size >= 1024 ? true : undefined;
  });
}

/** Where our end must compress, by its threshold (1024 unless given). */
function ourCompression(messages: readonly Message[], threshold = 1024): boolean[] {
  return messages.map(
    (m) => (typeof m === 'string' ? Buffer.byteLength(m) : m.length) >= threshold,
  );
}

/** Checks both directions of a proxied connection; `toServer`/`toClient` are the plain messages. */
function expectWire(
  record: ProxiedConnection,
  answer: string,
  toServer: { plain: Message[]; compressed: Array<boolean | undefined> },
  toClient: { plain: Message[]; compressed: Array<boolean | undefined> },
): void {
  const rules = senderRules(agreementOf(answer));
  const problems = [
    ...wireProblems(
      'client to server',
      wireMessages(record.toServer),
      toServer.plain,
      toServer.compressed,
      rules?.client,
    ),
    ...wireProblems(
      'server to client',
      wireMessages(record.toClient),
      toClient.plain,
      toClient.compressed,
      rules?.server,
    ),
  ];
  expect(problems, problems.join('\n')).toEqual([]);
  // Context takeover, seen in the sizes of the message sent twice (20 KB, within 15 bits).
  for (const [label, frames, sender] of [
    ['client to server', record.toServer, rules?.client],
    ['server to client', record.toClient, rules?.server],
  ] as const) {
    if (sender === undefined) continue;
    const [first, second] = wireMessages(frames);
    if (first === undefined || second === undefined) continue;
    if (!sender.contextTakeover) {
      expect(second.payload.length, `${label}: no context takeover`).toBeGreaterThan(
        first.payload.length / 2,
      );
    } else if (sender.windowBits === 15) {
      expect(second.payload.length, `${label}: context takeover`).toBeLessThan(
        first.payload.length / 4,
      );
    }
  }
}

/** Our server on loopback, echoing with write() and keeping what it received. */
async function ourServer(perMessageDeflate: DeflateOption, page?: (wsPort: number) => string) {
  let wsPort = 0;
  const httpServer = http.createServer((req, res) => {
    if (page !== undefined && req.method === 'GET' && req.url === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      });
      res.end(page(wsPort));
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({
    httpServer,
    autoAcceptConnections: true,
    protocols: ['echo-protocol'],
    keepalive: false,
    perMessageDeflate,
  });
  const sides: Array<{ connection: WebSocketConnection; received: Message[] }> = [];
  wss.on('connect', (connection: WebSocketConnection) => {
    const side = { connection, received: [] as Message[] };
    connection.on('data', (m: Message) => {
      side.received.push(m);
      connection.write(m);
    });
    sides.push(side);
  });
  httpServer.listen({ port: 0, host: '127.0.0.1' });
  await within(once(httpServer, 'listening'), 5_000, 'our HTTP server listening');
  const port = (httpServer.address() as AddressInfo).port;
  const proxy = await RecordingProxy.start(port);
  wsPort = proxy.port;
  cleanups.push(async () => {
    for (const connection of wss.connections) connection.terminate();
    await within(wss.shutDown({ gracePeriod: 0 }), 5_000, 'our server shutting down');
    httpServer.closeAllConnections();
    await within(
      new Promise<void>((resolve) => httpServer.close(() => resolve())),
      5_000,
      'our HTTP server closing',
    );
  });
  return {
    port,
    proxy,
    async side(ms = 10_000) {
      const deadline = Date.now() + ms;
      while (sides.length === 0) {
        if (Date.now() > deadline) throw new Error(`Our server accepted nothing within ${ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return sides[0]!;
    },
  };
}

// ------------------------------------------------------------------ ws

describe('ws server (compression on) with our client', () => {
  it.each([
    {
      label: 'ws true, our default (context takeover both ways)',
      ws: true,
      ours: undefined,
      answer: 'permessage-deflate',
    },
    {
      label: 'ws no_context_takeover both ways, our default',
      ws: { serverNoContextTakeover: true, clientNoContextTakeover: true },
      ours: undefined,
      answer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
    },
    {
      label: 'ws windows 10 (server) and 11 (client), our default',
      ws: { serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
      ours: undefined,
      answer: 'permessage-deflate; client_max_window_bits=11; server_max_window_bits=10',
    },
    {
      label: 'ws true, ours asking no_context_takeover both ways and windows 11/12',
      ws: true,
      ours: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 12,
      },
      answer:
        'permessage-deflate; client_max_window_bits=12; client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover',
    },
  ] as Array<{
    label: string;
    ws: boolean | PerMessageDeflateOptions;
    ours: DeflateOption | undefined;
    answer: string;
  }>)('$label', async ({ ws: wsOption, ours, answer }) => {
    const { wss, port, accepted } = await startWsEchoServer(
      { perMessageDeflate: wsOption },
      cleanups,
    );
    let wsAnswer: string | undefined;
    wss.on('headers', (headers: string[]) => {
      const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
      wsAnswer = line?.slice(line.indexOf(':') + 1).trim();
    });
    const proxy = await RecordingProxy.start(port);
    const { client, messages: queue } = await connectOurClient(
      `ws://127.0.0.1:${proxy.port}/`,
      { handshakeTimeout: 5_000, ...(ours === undefined ? {} : { perMessageDeflate: ours }) },
      cleanups,
    );
    const { closed: peerClosed } = await within(accepted, 5_000, 'the ws server accepting');

    expect(canonicalHeader(wsAnswer)).toBe(answer);
    expect(canonicalExtensions(client.extensions)).toBe(answer);

    const messages = interopMessages();
    for (const message of messages) client.write(message);
    for (const [i, message] of messages.entries()) {
      expectSame(await queue.next(15_000), message, `echo #${i} (${describeMessage(message)})`);
    }
    // A message stream: compressed piece by piece, assembled by ws.
    const streamed = Buffer.from(jsonText(200_000, 87));
    const stream = client.createMessageStream({ binary: true });
    for (let at = 0; at < streamed.length; at += 30_000) {
      stream.write(streamed.subarray(at, at + 30_000));
    }
    stream.end();
    expectSame(await queue.next(15_000), streamed, 'the message stream');

    const closed = ourClose(client);
    client.close(1000);
    expect(await closed).toMatchObject({ code: 1000, wasClean: true });
    expect(await within(peerClosed, 5_000, "ws's close")).toMatchObject({
      code: 1000,
      wasClean: true,
    });

    const sent = [...messages, streamed];
    const ours1024 = ourCompression(messages);
    expectWire(
      proxy.last,
      answer,
      { plain: sent, compressed: [...ours1024, true] },
      { plain: sent, compressed: [...mustCompress(messages), true] },
    );
  });
});

describe('ws client (compression on) with our server', () => {
  it.each([
    {
      label: 'our server true, ws default offer (context takeover both ways)',
      ours: true,
      ws: true,
      answer: 'permessage-deflate',
    },
    {
      label: 'our server no_context_takeover both ways, ws default offer',
      ours: { serverNoContextTakeover: true, clientNoContextTakeover: true },
      ws: true,
      answer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
    },
    {
      label: 'our server windows 10 (server) and 11 (client), ws default offer',
      ours: { serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
      ws: true,
      answer: 'permessage-deflate; client_max_window_bits=11; server_max_window_bits=10',
    },
    {
      label: 'our server true, ws asking no_context_takeover both ways and windows 11/12',
      ours: true,
      ws: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 11,
        clientMaxWindowBits: 12,
        threshold: 0,
      },
      answer:
        'permessage-deflate; client_max_window_bits=12; client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover',
    },
  ] as Array<{
    label: string;
    ours: DeflateOption;
    ws: boolean | PerMessageDeflateOptions;
    answer: string;
  }>)('$label', async ({ ours, ws: wsOption, answer }) => {
    const server = await ourServer(ours);
    let wsSaw: string | undefined;
    const {
      ws,
      messages: messagesIn,
      closed: wsClose,
    } = await openWsClient(
      `ws://127.0.0.1:${server.proxy.port}/`,
      {
        perMessageDeflate: wsOption,
        messageMs: 15_000,
        beforeOpen: (socket) =>
          socket.once('upgrade', (response: IncomingMessage) => {
            wsSaw = response.headers['sec-websocket-extensions'];
          }),
      },
      cleanups,
    );
    const side = await server.side();
    expect(canonicalHeader(wsSaw)).toBe(answer);
    expect(canonicalExtensions(side.connection.extensions)).toBe(answer);

    const messages = interopMessages();
    for (const message of messages) ws.send(message);
    for (const [i, message] of messages.entries()) {
      expectSame(await messagesIn.next(), message, `echo #${i} (${describeMessage(message)})`);
    }
    expect(side.received).toHaveLength(messages.length);
    // Our message stream, compressed piece by piece, assembled by ws.
    const streamed = jsonText(150_000, 88);
    const stream = side.connection.createMessageStream({ binary: false });
    for (let at = 0; at < streamed.length; at += 40_000)
      stream.write(streamed.slice(at, at + 40_000));
    stream.end();
    expectSame(await messagesIn.next(), streamed, 'our message stream');

    ws.close(1000);
    expect(await within(wsClose, 5_000, "ws's close")).toMatchObject({
      code: 1000,
      wasClean: true,
    });

    const wsThreshold = typeof wsOption === 'object' ? (wsOption.threshold ?? 1024) : 1024;
    expectWire(
      server.proxy.last,
      answer,
      {
        plain: messages,
        compressed: wsThreshold === 0 ? messages.map(() => true) : mustCompress(messages),
      },
      { plain: [...messages, streamed], compressed: [...ourCompression(messages), true] },
    );
  });
});

// ------------------------------------------------------------------ python-websockets

/** What deflate_common.deflate_report prints for one extension. */
interface PythonExtension {
  name: string;
  remote_no_context_takeover: boolean;
  local_no_context_takeover: boolean;
  remote_max_window_bits: number;
  local_max_window_bits: number;
}

interface PythonDeflateReport {
  version: string;
  extensions: PythonExtension[];
  offered_extensions: string | null;
  accepted_extensions: string | null;
}

function pythonReport(event: PeerEvent): PythonDeflateReport {
  return event as unknown as PythonDeflateReport;
}

/** What python must report for `answer`, as seen from `side` ('local' is python itself). */
function pythonView(answer: string, pythonSide: 'server' | 'client'): PythonExtension[] {
  const agreement = agreementOf(answer);
  if (agreement === undefined) return [];
  const server = {
    noContextTakeover: agreement.serverNoContextTakeover,
    bits: agreement.serverMaxWindowBits,
  };
  const client = {
    noContextTakeover: agreement.clientNoContextTakeover,
    bits: agreement.clientMaxWindowBits,
  };
  const local = pythonSide === 'server' ? server : client;
  const remote = pythonSide === 'server' ? client : server;
  return [
    {
      name: 'permessage-deflate',
      remote_no_context_takeover: remote.noContextTakeover,
      local_no_context_takeover: local.noContextTakeover,
      remote_max_window_bits: remote.bits,
      local_max_window_bits: local.bits,
    },
  ];
}

/** A python-reported message (common.py, describe_message). */
interface PythonMessage {
  type: 'text' | 'binary';
  length: number;
  sha256: string;
}

describe('python-websockets with compression on', () => {
  let version = '';
  requirePeersForEachTest(() => {
    version = requirePythonModule('websockets', 'python3-websockets');
  });

  describe('python server with our client', () => {
    it.each([
      {
        label: 'python defaults (compression="deflate"), our default',
        args: ['--defaults'],
        ours: undefined,
        // python-websockets' server default asks 12-bit windows both ways.
        answer: 'permessage-deflate; client_max_window_bits=12; server_max_window_bits=12',
      },
      {
        label: 'python no_context_takeover both ways, our default',
        args: ['--server-no-context-takeover', '--client-no-context-takeover'],
        ours: undefined,
        answer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
      },
      {
        label: 'python windows 9 (server) and 10 (client), our default',
        args: ['--server-max-window-bits', '9', '--client-max-window-bits', '10'],
        ours: undefined,
        answer: 'permessage-deflate; client_max_window_bits=10; server_max_window_bits=9',
      },
      {
        label: 'python defaults, ours asking no_context_takeover both ways and window 11',
        args: ['--defaults'],
        ours: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 11,
          threshold: 0,
        },
        answer:
          'permessage-deflate; client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover',
      },
    ] as Array<{ label: string; args: string[]; ours: DeflateOption | undefined; answer: string }>)(
      '$label',
      async ({ args, ours, answer }) => {
        const peer = PeerProcess.spawn(
          PYTHON3,
          [`${PYTHON_SCRIPTS}deflate_echo_server.py`, ...args],
          {
            name: `python-websockets ${version} deflate server`,
            lifetimeMs: 60_000,
          },
        );
        const listening = await peer.next('listening');
        const proxy = await RecordingProxy.start(listening.port as number);
        const { client, messages: queue } = await connectOurClient(
          `ws://127.0.0.1:${proxy.port}/`,
          {
            protocols: ['echo-protocol'],
            handshakeTimeout: 5_000,
            ...(ours === undefined ? {} : { perMessageDeflate: ours }),
          },
          cleanups,
        );
        const report = pythonReport(await peer.next('deflate'));
        expect(canonicalHeader(report.accepted_extensions)).toBe(answer);
        expect(canonicalExtensions(client.extensions)).toBe(answer);
        expect(report.extensions).toEqual(pythonView(answer, 'server'));

        const messages = interopMessages();
        for (const message of messages) client.write(message);
        for (const [i, message] of messages.entries()) {
          expectSame(await queue.next(20_000), message, `echo #${i} (${describeMessage(message)})`);
        }
        const closed = ourClose(client);
        client.close(1000);
        expect(await closed).toMatchObject({ code: 1000, wasClean: true });
        const pyClosed = await peer.next('closed');
        expect(pyClosed).toMatchObject({ code: 1000, clean: true });

        const threshold = typeof ours === 'object' ? (ours.threshold ?? 1024) : 1024;
        expectWire(
          proxy.last,
          answer,
          { plain: messages, compressed: ourCompression(messages, threshold) },
          // python-websockets compresses every message (no threshold).
          { plain: messages, compressed: messages.map(() => true) },
        );
      },
    );
  });

  describe('python client with our server', () => {
    it.each([
      {
        label: 'our server true, python defaults (offers client_max_window_bits)',
        ours: true,
        args: ['--defaults'],
        answer: 'permessage-deflate',
      },
      {
        label: 'our server no_context_takeover both ways and windows 10/11, python defaults',
        ours: {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 11,
        },
        args: ['--defaults'],
        answer:
          'permessage-deflate; client_max_window_bits=11; client_no_context_takeover; server_max_window_bits=10; server_no_context_takeover',
      },
      {
        label: 'our server true, python asking no_context_takeover both ways and windows 11/12',
        ours: true,
        args: [
          '--server-no-context-takeover',
          '--client-no-context-takeover',
          '--server-max-window-bits',
          '11',
          '--client-max-window-bits',
          '12',
        ],
        answer:
          'permessage-deflate; client_max_window_bits=12; client_no_context_takeover; server_max_window_bits=11; server_no_context_takeover',
      },
      {
        label: 'our server asking a 9-bit client window, python offering client_max_window_bits',
        ours: { clientMaxWindowBits: 9 },
        args: ['--client-max-window-bits', 'true'],
        answer: 'permessage-deflate; client_max_window_bits=9',
      },
    ] as Array<{ label: string; ours: DeflateOption; args: string[]; answer: string }>)(
      '$label',
      async ({ ours, args, answer }) => {
        const server = await ourServer(ours);
        const peer = PeerProcess.spawn(
          PYTHON3,
          [
            `${PYTHON_SCRIPTS}deflate_echo_client.py`,
            `ws://127.0.0.1:${server.proxy.port}/`,
            ...args,
          ],
          { name: `python-websockets ${version} deflate client`, lifetimeMs: 60_000 },
        );
        const report = pythonReport(await peer.next('open'));
        const side = await server.side();
        expect(canonicalHeader(report.accepted_extensions)).toBe(answer);
        expect(canonicalExtensions(side.connection.extensions)).toBe(answer);
        expect(report.extensions).toEqual(pythonView(answer, 'client'));

        const messages = interopMessages();
        for (const [i, message] of messages.entries()) {
          peer.send(echoCommand(message));
          const got = (await peer.next('message', 20_000)) as unknown as PythonMessage;
          const bytes = typeof message === 'string' ? Buffer.from(message) : message;
          expect(
            { type: got.type, length: got.length },
            `echo #${i} (${describeMessage(message)})`,
          ).toEqual({
            type: typeof message === 'string' ? 'text' : 'binary',
            length: bytes.length,
          });
          expectSame(side.received[i]!, message, `received #${i}`);
        }
        const closed = ourClose(side.connection);
        peer.send({ cmd: 'close', code: 1000, reason: 'done' });
        expect(await peer.next('closed')).toMatchObject({ code: 1000, clean: true });
        expect(await closed).toMatchObject({ code: 1000, reason: 'done', wasClean: true });

        expectWire(
          server.proxy.last,
          answer,
          { plain: messages, compressed: messages.map(() => true) },
          { plain: messages, compressed: ourCompression(messages) },
        );
      },
    );
  });
});

// ------------------------------------------------------------------ Chromium

/** What the page reports (window.__report). */
interface PageReport {
  protocol: string;
  extensions: string;
  echoes: Array<{ sent: string; ok: boolean; got: string }>;
  errors: string[];
  close: { code: number; reason: string; wasClean: boolean } | null;
}

type PageGlobals = { __report?: PageReport; __echoed?: boolean; __startClose?: () => void };

/**
 * The test page: opens `new WebSocket(url, 'echo-protocol')` to the proxy in front of our
 * server, sends every message at once (their bytes are in the page), checks each echo in
 * order for type and content, and publishes window.__report; window.__startClose() closes
 * with 1000, whose CloseEvent completes the report.
 */
function pageHtml(wsPort: number, messages: readonly Message[]): string {
  const specs = messages.map((m) =>
    typeof m === 'string' ? { text: m } : { b64: m.toString('base64') },
  );
  const json = JSON.stringify(specs).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>permessage-deflate interop</title></head><body>
<script>
'use strict';
(async () => {
  const report = { protocol: '', extensions: '', echoes: [], errors: [], close: null };
  window.__report = report;
  const fromB64 = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const describe = (m) => typeof m === 'string'
    ? 'text(' + new TextEncoder().encode(m).length + ')'
    : m instanceof ArrayBuffer ? 'binary(' + m.byteLength + ')' : 'other(' + String(m) + ')';
  const same = (a, b) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
  try {
    const sent = ${json}.map((s) => s.text !== undefined ? s.text : fromB64(s.b64));
    const ws = new WebSocket('ws://127.0.0.1:${wsPort}/', 'echo-protocol');
    ws.binaryType = 'arraybuffer';
    const inbox = [];
    let wake = () => {};
    ws.onmessage = (event) => { inbox.push(event.data); wake(); };
    const closed = new Promise((resolve) => {
      ws.onclose = (event) => { wake(); resolve({ code: event.code, reason: event.reason, wasClean: event.wasClean }); };
    });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket error before open'));
    });
    ws.onerror = () => report.errors.push('WebSocket error event');
    window.__startClose = () => ws.close(1000, 'done');
    report.protocol = ws.protocol;
    report.extensions = ws.extensions;
    for (const message of sent) ws.send(message);
    for (const message of sent) {
      const deadline = Date.now() + 20000;
      while (inbox.length === 0) {
        if (ws.readyState === WebSocket.CLOSED) throw new Error('closed while waiting for an echo');
        if (Date.now() > deadline) throw new Error('no echo within 20 s');
        await new Promise((resolve) => { wake = resolve; setTimeout(resolve, 100); });
      }
      const got = inbox.shift();
      const ok = typeof message === 'string'
        ? typeof got === 'string' && got === message
        : got instanceof ArrayBuffer && same(new Uint8Array(got), message);
      report.echoes.push({
        sent: typeof message === 'string' ? describe(message) : 'binary(' + message.length + ')',
        ok,
        got: describe(got),
      });
    }
    window.__echoed = true;
    report.close = await closed;
  } catch (err) {
    report.errors.push(String(err && err.stack || err));
    window.__echoed = true;
  }
})();
</script></body></html>`;
}

describe('headless Chromium with our server, compression on', () => {
  let browser: Browser | undefined;
  let page: Page | undefined;
  requirePeersForEachTest(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await page?.close();
    page = undefined;
  });

  it.each([
    {
      label: 'perMessageDeflate: true (context takeover both ways)',
      ours: true,
      answer: 'permessage-deflate',
    },
    {
      label: 'no_context_takeover both ways',
      ours: { serverNoContextTakeover: true, clientNoContextTakeover: true },
      answer: 'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
    },
    {
      label: 'windows of 10 bits both ways',
      ours: { serverMaxWindowBits: 10, clientMaxWindowBits: 10 },
      answer: 'permessage-deflate; client_max_window_bits=10; server_max_window_bits=10',
    },
  ] as Array<{ label: string; ours: DeflateOption; answer: string }>)(
    'echoes compressible and incompressible text and binary: $label',
    async ({ ours, answer }) => {
      if (browser === undefined) throw new Error('Chromium was not launched (see beforeAll)');
      const messages = interopMessages();
      const server = await ourServer(ours, (wsPort) => pageHtml(wsPort, messages));
      page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 10_000 });
      await page.waitForFunction(() => (globalThis as PageGlobals).__echoed === true, undefined, {
        timeout: 30_000,
      });
      const echoed = (await page.evaluate(
        () => (globalThis as PageGlobals).__report,
      )) as PageReport;
      expect(echoed.errors).toEqual([]);
      expect(echoed.protocol).toBe('echo-protocol');
      // Chromium shows what our 101 agreed: permessage-deflate with its parameters.
      expect(echoed.extensions).toMatch(/^permessage-deflate/);
      expect(canonicalHeader(echoed.extensions)).toBe(answer);
      expect(echoed.echoes).toHaveLength(messages.length);
      for (const echo of echoed.echoes)
        expect(echo.ok, `echo of ${echo.sent} (got ${echo.got})`).toBe(true);

      const side = await server.side();
      const record = server.proxy.last;
      expect(canonicalHeader(record.request?.headers['sec-websocket-extensions'])).toBe(
        'permessage-deflate; client_max_window_bits',
      );
      expect(canonicalExtensions(side.connection.extensions)).toBe(answer);
      expect(side.received).toHaveLength(messages.length);
      for (const [i, message] of messages.entries()) {
        expectSame(side.received[i]!, message, `received #${i}`);
      }

      const closed = ourClose(side.connection);
      await page.evaluate(() => (globalThis as PageGlobals).__startClose?.());
      expect(await closed).toMatchObject({ code: 1000, reason: 'done', wasClean: true });
      await page.waitForFunction(
        () => (globalThis as PageGlobals).__report?.close != null,
        undefined,
        {
          timeout: 10_000,
        },
      );
      const final = (await page.evaluate(() => (globalThis as PageGlobals).__report)) as PageReport;
      expect(final.close).toEqual({ code: 1000, reason: '', wasClean: true });

      expectWire(
        record,
        answer,
        { plain: messages, compressed: mustCompress(messages) },
        { plain: messages, compressed: ourCompression(messages) },
      );
    },
  );
});
