/**
 * Runs a conformance case against our server (a raw client peer drives an echo server) or
 * against our client (a raw server peer drives a client that echoes), and judges the result
 * strictly: the exact events, the exact close code, no protocol violation on the wire, and
 * TCP closed by the server (a server closes right after the closing handshake; a client
 * waits for the server).
 *
 * @see RFC 6455 §7.1.1 (the server closes TCP first), §7.1.7 (failing the connection)
 */
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { connect } from '../../../lib/client.js';
import type { WebSocketConnection } from '../../../lib/stream/websocket-connection.js';
import type { FrameSpec } from '../../helpers/frames.js';
import {
  answer101,
  closeCodeOf,
  PeerDeflate,
  type PeerDeflateParams,
  type PeerEvent,
  PeerSession,
  RawServer,
  rawClientHandshake,
} from '../../helpers/handshaking-peer.js';
import { LoopbackServer } from '../../helpers/loopback-server.js';
import type { CloseExpectation, ConformanceCase, ExpectedEvent, Side, Step } from './types.js';

/** The result of one case on one side. */
export interface CaseResult {
  passed: boolean;
  /** What went wrong, one line each (empty when passed). */
  problems: string[];
  /** What the peer saw, as compared. */
  seen: string[];
  expected: string[];
  ms: number;
}

/** TCP must be closed within this long after the closing handshake. */
const TCP_CLOSE_MS = 2_000;
/** How long the peer watches for a client's premature FIN before sending its own. */
const CLIENT_FIN_WATCH_MS = 10;

/** The servers and raw listeners a run needs, made once and shared by the cases. */
export class ConformanceEnv {
  readonly #servers = new Map<string, Promise<LoopbackServer>>();
  #rawServer: Promise<RawServer> | undefined;
  readonly #clients = new Set<WebSocketConnection>();
  /** Server-side sockets of our servers, by the peer's port. */
  readonly #serverSockets = new Map<number, net.Socket>();

  /** Our echo server for these options (one per distinct set). */
  server(options: ConformanceCase['serverOptions'] = {}): Promise<LoopbackServer> {
    const key = JSON.stringify(options);
    let server = this.#servers.get(key);
    if (server === undefined) {
      server = (async () => {
        const s = new LoopbackServer({ autoAcceptConnections: true, ...options });
        s.wss.on('connect', (ws: WebSocketConnection) => ws.pipe(ws));
        s.http.on('connection', (socket: net.Socket) => {
          const port = socket.remotePort;
          if (port === undefined) return;
          this.#serverSockets.set(port, socket);
          socket.once('close', () => this.#serverSockets.delete(port));
        });
        await s.listen();
        return s;
      })();
      this.#servers.set(key, server);
    }
    return server;
  }

  /** The raw server that our client connects to. */
  rawServer(): Promise<RawServer> {
    this.#rawServer ??= (async () => {
      const s = new RawServer();
      await s.listen();
      return s;
    })();
    return this.#rawServer;
  }

  /** Resolves true once our server has closed the socket of the peer at `peerPort`. */
  serverSocketClosed(peerPort: number | undefined, ms: number): Promise<boolean> {
    const socket = peerPort === undefined ? undefined : this.#serverSockets.get(peerPort);
    if (socket === undefined || socket.destroyed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  trackClient(ws: WebSocketConnection): void {
    this.#clients.add(ws);
    ws.once('close', () => this.#clients.delete(ws));
  }

  /** Connections of our client still open (none should be, between cases). */
  get openClients(): number {
    return this.#clients.size;
  }

  async close(): Promise<void> {
    for (const ws of this.#clients) ws.terminate();
    for (const server of this.#servers.values()) await (await server).close();
    if (this.#rawServer !== undefined) await (await this.#rawServer).close();
  }
}

/** Runs one case against one side. */
export async function runCase(
  c: ConformanceCase,
  side: Side,
  env: ConformanceEnv,
): Promise<CaseResult> {
  const started = Date.now();
  const problems: string[] = [];
  const expected = expectedLines(c.expect.events, c.expect.close);
  let session: PeerSession | undefined;
  let client: WebSocketConnection | undefined;
  try {
    const opened =
      side === 'server'
        ? await openAgainstServer(c, env, problems)
        : await openAgainstClient(c, env, problems);
    if (opened === undefined) {
      return finish(problems, [], expected, started);
    }
    session = opened.session;
    client = opened.client;
    const timeout = c.timeoutMs ?? 5_000;
    const deadline = Date.now() + timeout;
    await runSteps(session, c.steps, problems, deadline);
    const peerPort = session.socket.localPort;
    await closePhase(session, c.expect, side, problems, deadline);
    if (side === 'server' && !(await env.serverSocketClosed(peerPort, TCP_CLOSE_MS))) {
      problems.push(`the server still held the socket ${TCP_CLOSE_MS} ms after TCP closed`);
    }
    const seen = session.events.map(describeEvent);
    if (!sameLines(seen, expected)) problems.push('events differ from the expected ones');
    for (const violation of session.violations) problems.push(`wire: ${violation}`);
    if (client !== undefined) await clientSettles(client, problems);
    return finish(problems, seen, expected, started);
  } catch (err) {
    problems.push(`harness: ${(err as Error).stack ?? String(err)}`);
    return finish(problems, session?.events.map(describeEvent) ?? [], expected, started);
  } finally {
    session?.destroy();
    client?.destroy();
  }
}

function finish(
  problems: string[],
  seen: string[],
  expected: string[],
  started: number,
): CaseResult {
  return { passed: problems.length === 0, problems, seen, expected, ms: Date.now() - started };
}

async function openAgainstServer(
  c: ConformanceCase,
  env: ConformanceEnv,
  problems: string[],
): Promise<{ session: PeerSession; client: undefined } | undefined> {
  const server = await env.server(c.serverOptions);
  const offer = c.deflate?.offer;
  const hs = await rawClientHandshake(server.port, { path: `/s/${c.id}`, extensions: offer });
  problems.push(...hs.problems.map((p) => `handshake: ${p}`));
  const answered = hs.head.headers['sec-websocket-extensions'];
  if (c.deflate !== undefined && c.deflate.expectAnswer !== undefined) {
    const want = c.deflate.expectAnswer;
    if ((answered ?? null) !== want) {
      problems.push(
        `handshake: Sec-WebSocket-Extensions ${JSON.stringify(answered ?? null)}, expected ${JSON.stringify(want)}`,
      );
    }
  } else if (answered !== undefined) {
    problems.push(`handshake: unexpected Sec-WebSocket-Extensions ${answered}`);
  }
  if (hs.status !== 101) {
    hs.socket.destroy();
    return undefined;
  }
  const deflate =
    answered === undefined ? undefined : new PeerDeflate(deflateParams(answered, 'server'));
  const session = new PeerSession(hs.socket, {
    peerRole: 'client',
    deflate,
    head: hs.head.rest,
    maskSeed: seedOf(c.id),
  });
  return { session, client: undefined };
}

async function openAgainstClient(
  c: ConformanceCase,
  env: ConformanceEnv,
  problems: string[],
): Promise<{ session: PeerSession; client: WebSocketConnection } | undefined> {
  const raw = await env.rawServer();
  const path = `/c/${c.id}`;
  const arrivalPromise = raw.arrival(path);
  const options = { ...c.clientOptions };
  if (c.deflate?.clientConfig !== undefined) options.perMessageDeflate = c.deflate.clientConfig;
  const connecting = connect(`ws://127.0.0.1:${raw.port}${path}`, options);
  connecting.catch(() => {});
  const arrival = await arrivalPromise;
  const h = arrival.head.headers;
  if (!/^GET \S+ HTTP\/1\.1$/.test(arrival.head.startLine))
    problems.push(`request line ${arrival.head.startLine}`);
  if (h['sec-websocket-version'] !== '13')
    problems.push('request without Sec-WebSocket-Version: 13');
  if (!/^[A-Za-z0-9+/]{22}==$/.test(h['sec-websocket-key'] ?? ''))
    problems.push('bad Sec-WebSocket-Key');
  const offered = h['sec-websocket-extensions'];
  if (c.deflate?.expectOffer !== undefined && (offered ?? null) !== c.deflate.expectOffer) {
    problems.push(
      `offer ${JSON.stringify(offered)}, expected ${JSON.stringify(c.deflate.expectOffer)}`,
    );
  }
  const answer = c.deflate?.answer ?? null;
  answer101(arrival, answer === null ? {} : { 'Sec-WebSocket-Extensions': answer });
  if (c.deflate?.handshakeFails === true) {
    // The client must fail the connection: connect() rejects and the client drops TCP.
    const outcome = await connecting.then(
      (ws) => {
        ws.destroy();
        return 'connected';
      },
      (err: unknown) => (err as { code?: string }).code ?? 'rejected',
    );
    if (outcome !== 'ERR_WS_HANDSHAKE')
      problems.push(`connect() gave ${outcome}, expected ERR_WS_HANDSHAKE`);
    const session = new PeerSession(arrival.socket, {
      peerRole: 'server',
      head: arrival.head.rest,
    });
    await session.waitFor(
      () => session.closedAt !== undefined || session.implementationFinAt !== undefined,
      TCP_CLOSE_MS,
    );
    if (session.closedAt === undefined && session.implementationFinAt === undefined) {
      problems.push('client kept TCP open after a failed handshake');
    }
    if (session.bytesReceived > 0) problems.push('client sent frames after a failed handshake');
    session.destroy();
    return undefined;
  }
  let ws: WebSocketConnection;
  try {
    ws = await connecting;
  } catch (err) {
    problems.push(`connect() failed: ${(err as Error).message}`);
    arrival.socket.destroy();
    return undefined;
  }
  env.trackClient(ws);
  ws.pipe(ws);
  const deflate = answer === null ? undefined : new PeerDeflate(deflateParams(answer, 'client'));
  const session = new PeerSession(arrival.socket, {
    peerRole: 'server',
    deflate,
    head: arrival.head.rest,
  });
  return { session, client: ws };
}

/** Reads the agreed parameters from the answer, for the peer (the other side of `implementation`). */
export function deflateParams(answer: string, implementation: Side): PeerDeflateParams {
  const params = new Map<string, string | null>();
  for (const part of answer.split(';').slice(1)) {
    const [name, value] = part.split('=').map((s) => s.trim());
    params.set(name!, value ?? null);
  }
  const serverNoTakeover = params.has('server_no_context_takeover');
  const clientNoTakeover = params.has('client_no_context_takeover');
  const bits = (name: string): number => Number(params.get(name) ?? 15);
  return implementation === 'server'
    ? {
        implementationNoContextTakeover: serverNoTakeover,
        peerNoContextTakeover: clientNoTakeover,
        peerWindowBits: bits('client_max_window_bits'),
      }
    : {
        implementationNoContextTakeover: clientNoTakeover,
        peerNoContextTakeover: serverNoTakeover,
        peerWindowBits: bits('server_max_window_bits'),
      };
}

async function runSteps(
  session: PeerSession,
  steps: Step[],
  problems: string[],
  deadline: number,
): Promise<void> {
  let probes = 0;
  for (const step of steps) {
    // Once the implementation has closed, nothing the peer sends can count any more.
    if (session.closeReceived || session.closedAt !== undefined) return;
    if (Date.now() > deadline) {
      problems.push('steps ran out of time');
      return;
    }
    if ('send' in step) {
      const bytes = Buffer.concat(step.send.map((f) => session.encode(f, step.wrongMask === true)));
      await session.write(bytes, step.chop ?? 0, step.batch === true ? 64 * 1024 : 0);
    } else if ('raw' in step) {
      await session.write(step.raw, step.chop ?? 0);
    } else if ('delay' in step) {
      await new Promise((resolve) => setTimeout(resolve, step.delay));
    } else if ('probe' in step) {
      probes++;
      const payload = Buffer.from(`probe ${probes}`);
      await session.write(session.encode({ opcode: 0x9, payload }));
      const answered = await session.waitFor(
        () =>
          session.closeReceived ||
          session.events.some((e) => e.kind === 'pong' && e.payload.equals(payload)),
        Math.max(0, deadline - Date.now()),
      );
      if (!answered) problems.push(`probe ${probes}: neither a pong nor a Close`);
    } else if ('frameChops' in step) {
      await sendFrameChops(session, step.frameChops, problems);
    } else if ('awaitEvents' in step) {
      const n = step.awaitEvents;
      const ok = await session.waitFor(
        () => session.events.length >= n,
        Math.max(0, deadline - Date.now()),
      );
      if (!ok) problems.push(`waited for ${n} events, got ${session.events.length}`);
    } else {
      await sendCompressed(session, step);
    }
  }
}

async function sendFrameChops(
  session: PeerSession,
  spec: Extract<Step, { frameChops: unknown }>['frameChops'],
  problems: string[],
): Promise<void> {
  const bytes = session.encode(spec.frame);
  const payloadLength = spec.frame.payload?.length ?? 0;
  const header = bytes.length - payloadLength;
  const cuts = [0, ...spec.cuts.map((c) => header + c), bytes.length];
  for (let i = 0; i + 1 < cuts.length; i++) {
    if (i > 0 && spec.pauseMs > 0)
      await new Promise((resolve) => setTimeout(resolve, spec.pauseMs));
    const last = i + 2 === cuts.length;
    if (last && spec.closeBeforeLast === true) {
      const closed = await session.waitFor(() => session.closeReceived, 2_000);
      if (!closed) problems.push('no Close before the last piece of the frame was sent');
    }
    if (session.closeReceived) return;
    await session.write(bytes.subarray(cuts[i], cuts[i + 1]));
  }
}

async function sendCompressed(
  session: PeerSession,
  step: Extract<Step, { compressed: unknown }>,
): Promise<void> {
  const deflate = session.deflate;
  if (deflate === undefined)
    throw new Error('compressed step without an agreed permessage-deflate');
  const body = await deflate.compress(step.compressed.data, { final: step.final === true });
  const count = Math.max(1, step.fragments ?? 1);
  const size = Math.ceil(body.length / count);
  const pieces: Buffer[] = [];
  if (step.emptyFirst === true) pieces.push(Buffer.alloc(0));
  for (let i = 0; i < count; i++)
    pieces.push(body.subarray(i * size, Math.min(body.length, (i + 1) * size)));
  const frames: FrameSpec[] = [];
  pieces.forEach((piece, i) => {
    frames.push({
      opcode: i === 0 ? (step.compressed.kind === 'text' ? 0x1 : 0x2) : 0x0,
      fin: i === pieces.length - 1,
      rsv1: i === 0 || step.rsv1On === 'all',
      payload: piece,
    });
    if (i === 0 && step.pingBetween !== undefined) {
      frames.push({ opcode: 0x9, payload: Buffer.from(step.pingBetween) });
    }
  });
  await session.write(Buffer.concat(frames.map((f) => session.encode(f))), step.chop ?? 0);
}

/** Count of events the implementation sends before its Close. */
function eventsBeforeClose(expect: ConformanceCase['expect']): number {
  return expect.events.length;
}

async function closePhase(
  session: PeerSession,
  expect: ConformanceCase['expect'],
  side: Side,
  problems: string[],
  deadline: number,
): Promise<void> {
  const remaining = (): number => Math.max(0, deadline - Date.now());
  const close = expect.close;
  if (close.by === 'peer') {
    // Wait for everything expected, then close as a well-behaved peer.
    const n = eventsBeforeClose(expect);
    await session.waitFor(() => session.events.length >= n || session.closeReceived, remaining());
    if (!session.closeReceived) {
      await session.write(session.encode({ opcode: 0x8, payload: closeBody(1000) }));
    }
  }
  const gotClose = await session.waitFor(() => session.closeReceived, remaining());
  if (!gotClose) {
    problems.push('no Close from the implementation');
    return;
  }
  if (close.by === 'implementation') {
    // Answer the implementation's Close with its own code, as RFC 6455 §5.5.1 asks.
    const closeEvent = session.events.find((e) => e.kind === 'close')!;
    const code = closeCodeOf(closeEvent);
    await session.write(
      session.encode({ opcode: 0x8, payload: code === null ? Buffer.alloc(0) : closeBody(code) }),
    );
  }
  if (side === 'server') {
    // The server closes TCP first, right after the closing handshake.
    const fin = await session.waitFor(
      () => session.implementationFinAt !== undefined,
      TCP_CLOSE_MS,
    );
    if (!fin) problems.push(`the server did not close TCP within ${TCP_CLOSE_MS} ms`);
    session.end();
  } else {
    // The client waits for the server: it must not send its FIN first.
    await new Promise((resolve) => setTimeout(resolve, CLIENT_FIN_WATCH_MS));
    if (session.implementationFinAt !== undefined)
      problems.push('the client closed TCP before the server');
    session.end();
    const fin = await session.waitFor(
      () => session.implementationFinAt !== undefined,
      TCP_CLOSE_MS,
    );
    if (!fin) problems.push(`the client did not close TCP within ${TCP_CLOSE_MS} ms of the server`);
  }
  const closed = await session.waitFor(() => session.closedAt !== undefined, TCP_CLOSE_MS);
  if (!closed) problems.push('TCP did not close');
}

/** Checks that our client's connection ended (its 'close' was emitted). */
async function clientSettles(ws: WebSocketConnection, problems: string[]): Promise<void> {
  if (ws.destroyed) return;
  const settled = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), TCP_CLOSE_MS);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!settled) problems.push('the client connection did not emit close');
}

function closeBody(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

function seedOf(id: string): number {
  return createHash('sha1').update(id).digest().readUInt32BE(0);
}

// ------------------------------------------------------------------ comparing

function show(data: Buffer, text: boolean): string {
  if (data.length <= 48) {
    if (!text) return data.toString('hex');
    const decoded = data.toString('utf8');
    return Buffer.from(decoded).equals(data)
      ? JSON.stringify(decoded)
      : `0x${data.toString('hex')}`;
  }
  const hash = createHash('sha1').update(data).digest('hex').slice(0, 12);
  return `${data.length} B sha1 ${hash}`;
}

function describeEvent(event: PeerEvent): string {
  if (event.kind === 'close') {
    const code = closeCodeOf(event);
    return code === null ? 'close(empty)' : `close(${code})`;
  }
  const probe = /^probe (\d+)$/.exec(event.payload.toString('latin1'));
  if (event.kind === 'pong' && probe !== null) return `probe(${probe[1]})`;
  const z = event.compressed ? ' z' : '';
  return `${event.kind}(${show(event.payload, event.kind === 'text')})${z}`;
}

/** The lines the peer must see, in order; compression is only compared where a case states it. */
function expectedLines(events: ExpectedEvent[], close: CloseExpectation): string[] {
  const lines = events.map((e) => {
    switch (e.kind) {
      case 'probe':
        return `probe(${e.n})`;
      case 'pong':
        return `pong(${show(Buffer.from(e.data), false)})`;
      case 'text':
        return `text(${show(Buffer.from(e.data), true)})${e.compressed === true ? ' z' : e.compressed === false ? '' : ' ?'}`;
      default:
        return `binary(${show(e.data, false)})${e.compressed === true ? ' z' : e.compressed === false ? '' : ' ?'}`;
    }
  });
  if (close.by === 'peer') lines.push('close(1000)');
  else if (close.by === 'implementation') lines.push(`close(${close.code})`);
  else lines.push(close.reply === null ? 'close(empty)' : `close(${close.reply})`);
  return lines;
}

function sameLines(seen: string[], expected: string[]): boolean {
  if (seen.length !== expected.length) return false;
  return seen.every((line, i) => {
    const want = expected[i]!;
    if (want.endsWith(' ?')) return line.replace(/ z$/, '') === want.slice(0, -2);
    return line === want;
  });
}

/** States a case's expected behaviour in one line, for the summary and failure messages. */
export function describeExpectation(c: ConformanceCase): string {
  const lines = expectedLines(c.expect.events, c.expect.close);
  const close = c.expect.close;
  const ending =
    close.by === 'peer'
      ? 'peer closes 1000, answered 1000'
      : close.by === 'implementation'
        ? `implementation fails with ${close.code}`
        : `peer's Close answered with ${close.reply ?? 'an empty Close'}`;
  const body = lines.slice(0, -1);
  const shown = body.length > 6 ? [...body.slice(0, 5), `... ${body.length - 5} more`] : body;
  return `${shown.length > 0 ? `${shown.join(', ')}; ` : ''}${ending}; server closes TCP`;
}
