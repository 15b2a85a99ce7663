import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import zlib from 'node:zlib';

/**
 * Wire-level tools for the permessage-deflate tests (test/integration/permessage-deflate,
 * test/interop/permessage-deflate): a frame reader and writer that share no code with lib/
 * (they are the oracle lib/ is checked against), raw peers that speak the opening handshake
 * by hand and then send crafted frames, and a recording proxy that sits between two real
 * peers and keeps every frame each way, so that a test can see RSV1, fragments and the
 * compressed bytes themselves. Every wait is bounded; every socket is tracked for cleanup.
 *
 * @see RFC 6455 §4 (handshake), §5.2 (framing); RFC 7692 §6 (RSV1), §7.2 (compression)
 */

/** The GUID of RFC 6455 §1.3, to compute Sec-WebSocket-Accept. */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The tail of a sync flush that permessage-deflate removes. @see RFC 7692 §7.2.1 */
export const DEFLATE_TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export const Op = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Computes Sec-WebSocket-Accept for a key. @see RFC 6455 §4.2.2 */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** One frame as it went over the wire, payload unmasked. */
export interface WireFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * Reads frames from bytes, naively and independently of lib/protocol: header, 7/16/64-bit
 * length, optional mask. It refuses nothing (a test asserts on what it sees), and keeps the
 * chunks of a frame in a list so that a large frame is joined once.
 */
export class WireFrameReader {
  #chunks: Buffer[] = [];
  #length = 0;

  /** Takes bytes; returns the frames they completed. */
  push(chunk: Buffer): WireFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    const frames: WireFrame[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      const frame = this.#next();
      if (frame === undefined) break;
      frames.push(frame);
    }
    return frames;
  }

  #next(): WireFrame | undefined {
    if (this.#length < 2) return undefined;
    const head = this.#peek(Math.min(this.#length, 14));
    const b0 = head[0]!;
    const b1 = head[1]!;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let at = 2;
    if (length === 126) {
      if (head.length < 4) return undefined;
      length = head.readUInt16BE(2);
      at = 4;
    } else if (length === 127) {
      if (head.length < 10) return undefined;
      length = Number(head.readBigUInt64BE(2));
      at = 10;
    }
    const keyAt = at;
    if (masked) at += 4;
    if (this.#length < at + length) return undefined;
    const all = this.#take(at + length);
    const payload = Buffer.from(all.subarray(at));
    if (masked) {
      const key = all.subarray(keyAt, keyAt + 4);
      for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i & 3]!;
    }
    return {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      payload,
    };
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = all.length > n ? [all.subarray(n)] : [];
    this.#length -= n;
    return all.subarray(0, n);
  }
}

/** What a crafted frame is made of; anything left out is a plain final frame. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
}

/** Encodes a frame, masked with a random key when `mask` (as a client must). @see RFC 6455 §5.2 */
export function encodeWireFrame(spec: FrameSpec, mask: boolean): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload, 'utf8')
      : (spec.payload ?? Buffer.alloc(0));
  const length = payload.length;
  const extra = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const head = Buffer.alloc(2 + extra + (mask ? 4 : 0));
  head[0] =
    (spec.fin === false ? 0 : 0x80) |
    (spec.rsv1 === true ? 0x40 : 0) |
    (spec.rsv2 === true ? 0x20 : 0) |
    (spec.rsv3 === true ? 0x10 : 0) |
    (spec.opcode & 0x0f);
  head[1] = (mask ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) head.writeUInt16BE(length, 2);
  if (extra === 8) head.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  key.copy(head, 2 + extra);
  const body = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) body[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([head, body]);
}

/** One data message as it went over the wire: its frames, and whether RSV1 marked it. */
export interface WireMessage {
  opcode: number;
  /** RSV1 on the first frame: the message is compressed. @see RFC 7692 §6 */
  compressed: boolean;
  frames: WireFrame[];
  /** The frames' payloads joined: the compressed bytes when `compressed`. */
  payload: Buffer;
}

/** Groups the data frames of one direction into messages (control frames are left out). */
export function wireMessages(frames: readonly WireFrame[]): WireMessage[] {
  const messages: WireMessage[] = [];
  let current: WireFrame[] | undefined;
  for (const frame of frames) {
    if ((frame.opcode & 0x8) !== 0) continue;
    if (frame.opcode !== Op.Continuation) current = [];
    if (current === undefined) throw new Error('A continuation frame without a message');
    current.push(frame);
    if (frame.fin) {
      const first = current[0]!;
      messages.push({
        opcode: first.opcode,
        compressed: first.rsv1,
        frames: current,
        payload: Buffer.concat(current.map((f) => f.payload)),
      });
      current = undefined;
    }
  }
  return messages;
}

/**
 * The inflater's output chunk for the checks below: zlib refuses a distance only when it
 * reaches past both its window and the output of the current call, so a small output
 * buffer (Node's smallest) makes an inflater of N bits refuse anything past 2^N + 64.
 */
const STRICT_CHUNK = 64;

/**
 * Inflates compressed message payloads as RFC 7692 §7.2.2 says (trailer appended), with an
 * inflater of `windowBits`: a sender that reached further back than it agreed makes zlib
 * fail ("invalid distance too far back"; see STRICT_CHUNK). With `contextTakeover` the
 * messages are one DEFLATE stream, inflated in one pass and cut at `sizes` (the plain
 * lengths, which must add up); without, each is inflated alone, which fails when the
 * sender referred to an earlier message. Returns each message's plain bytes.
 */
export function inflateWire(
  payloads: readonly Buffer[],
  windowBits: number,
  contextTakeover: boolean,
  sizes?: readonly number[],
): Buffer[] {
  const options = {
    windowBits,
    chunkSize: STRICT_CHUNK,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  };
  if (!contextTakeover) {
    return payloads.map((p) => zlib.inflateRawSync(Buffer.concat([p, DEFLATE_TRAILER]), options));
  }
  const all = zlib.inflateRawSync(
    Buffer.concat(payloads.flatMap((p) => [p, DEFLATE_TRAILER])),
    options,
  );
  const cuts = sizes ?? [all.length];
  if (cuts.reduce((a, b) => a + b, 0) !== all.length) {
    throw new Error(`Inflated ${all.length} bytes, expected ${cuts.join(' + ')}`);
  }
  const out: Buffer[] = [];
  let at = 0;
  for (const size of cuts) {
    out.push(all.subarray(at, at + size));
    at += size;
  }
  return out;
}

/**
 * Compresses one message as a permessage-deflate sender would, for crafted frames: raw
 * DEFLATE ended by a sync flush, whose 00 00 ff ff is removed. @see RFC 7692 §7.2.1
 */
export function deflateMessage(message: Buffer | string, windowBits = 15): Buffer {
  const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const out = zlib.deflateRawSync(data, {
    windowBits: Math.max(9, windowBits),
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return out.subarray(0, out.length - 4);
}

/**
 * Compresses messages with one deflater kept across them (context takeover, RFC 7692
 * §7.1.1), each ended by a sync flush whose 00 00 ff ff is removed: what a sender that
 * takes over its context puts on the wire. Independent of lib/ (zlib's stream, flushed).
 */
export async function deflateWithContext(
  messages: ReadonlyArray<Buffer | string>,
  windowBits = 15,
): Promise<Buffer[]> {
  const deflater = zlib.createDeflateRaw({ windowBits: Math.max(9, windowBits) });
  const chunks: Buffer[] = [];
  deflater.on('data', (chunk: Buffer) => chunks.push(chunk));
  const out: Buffer[] = [];
  try {
    for (const message of messages) {
      deflater.write(typeof message === 'string' ? Buffer.from(message, 'utf8') : message);
      await new Promise<void>((resolve) => deflater.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
      const all = Buffer.concat(chunks.splice(0));
      if (!all.subarray(-4).equals(DEFLATE_TRAILER)) throw new Error('no sync flush trailer');
      out.push(all.subarray(0, -4));
    }
  } finally {
    deflater.close();
  }
  return out;
}

// ------------------------------------------------------------------ raw peers

/** An HTTP head read off a raw socket. */
export interface HttpHead {
  /** The request or status line. */
  line: string;
  /** Header names in lower case; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Every header line as sent, in order. */
  raw: string;
}

function parseHead(text: string): HttpHead {
  const lines = text.split('\r\n');
  const line = lines.shift() ?? '';
  const headers: Record<string, string> = {};
  for (const header of lines) {
    const colon = header.indexOf(':');
    if (colon === -1) continue;
    const name = header.slice(0, colon).trim().toLowerCase();
    const value = header.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { line, headers, raw: text };
}

/** Reads an HTTP head; resolves with it and the bytes after it (bounded in time). */
function readHttpHead(socket: net.Socket, ms: number): Promise<{ head: HttpHead; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`No HTTP head within ${ms} ms`)), ms);
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      finish(undefined, end);
    };
    const onClose = (): void =>
      finish(new Error(`The socket closed before an HTTP head: ${JSON.stringify(String(buffer))}`));
    const finish = (err: Error | undefined, end = 0): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      if (err !== undefined) {
        reject(err);
        return;
      }
      const head = parseHead(buffer.subarray(0, end).toString('latin1'));
      resolve({ head, rest: buffer.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** A Close frame received: its code (1005 without one) and reason. */
export interface WireClose {
  code: number;
  reason: string;
}

const liveSockets = new Set<net.Socket>();
const liveServers = new Set<net.Server>();

/** Destroys every raw socket and closes every raw server and proxy (for afterEach). */
export async function closeAllRaw(): Promise<void> {
  for (const socket of liveSockets) socket.destroy();
  liveSockets.clear();
  const servers = [...liveServers];
  liveServers.clear();
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
}

function track(socket: net.Socket): net.Socket {
  liveSockets.add(socket);
  socket.once('close', () => liveSockets.delete(socket));
  socket.on('error', () => {});
  return socket;
}

/**
 * One end of a WebSocket connection driven by hand after the handshake: it records every
 * frame it receives (with the reader above, so crafted or faulty frames are seen as they
 * are), sends crafted frames (masked when it plays the client), and tells when TCP closed.
 */
export class RawWebSocket {
  readonly socket: net.Socket;
  readonly role: 'client' | 'server';
  readonly frames: WireFrame[] = [];
  /** Resolves when the TCP connection is closed (either side). */
  readonly closed: Promise<void>;
  /** True once the other side ended its half of TCP. */
  ended = false;
  /** Bytes received after the handshake. */
  bytesReceived = 0;
  readonly #reader = new WireFrameReader();
  #waiters: Array<() => void> = [];

  constructor(socket: net.Socket, role: 'client' | 'server', rest: Buffer) {
    this.socket = socket;
    this.role = role;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.#notify();
    });
    this.closed = socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined);
    void this.closed.then(() => this.#notify());
    if (rest.length > 0) this.#onData(rest);
  }

  /** Sends raw bytes. */
  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Sends one crafted frame, masked if this end is the client. */
  sendFrame(spec: FrameSpec): void {
    this.send(encodeWireFrame(spec, this.role === 'client'));
  }

  /** Resolves with the first received frame that passes `where`; rejects after `ms`. */
  async waitFor(
    where: (frame: WireFrame) => boolean,
    ms = 5_000,
    what = 'a frame',
  ): Promise<WireFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(where);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.frames.map((f) => `${f.opcode}/${f.payload.length}`).join(' ');
        throw new Error(`No ${what} within ${ms} ms (frames seen: ${seen || 'none'})`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves with the first Close frame received. */
  async closeFrame(ms = 5_000): Promise<WireClose> {
    const frame = await this.waitFor((f) => f.opcode === Op.Close, ms, 'Close frame');
    return frame.payload.length >= 2
      ? { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() }
      : { code: 1005, reason: '' };
  }

  /** Resolves with the `n`th data message received (0-based), waiting at most `ms`. */
  async message(n: number, ms = 5_000): Promise<WireMessage> {
    await this.waitFor(() => wireMessages(this.frames).length > n, ms, `data message #${n}`);
    return wireMessages(this.frames)[n]!;
  }

  /** Resolves once TCP is closed; rejects after `ms`. */
  async waitClosed(ms = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`TCP not closed within ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    this.frames.push(...this.#reader.push(chunk));
    this.#notify();
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Options of {@link rawClient}. */
export interface RawClientOptions {
  path?: string;
  /** Sec-WebSocket-Extensions lines to send (each its own header line); none when absent. */
  extensions?: string | readonly string[];
  /** More header lines, as written. */
  headers?: Record<string, string>;
}

/**
 * Sends an upgrade request to a server on loopback as a hand-driven client (with the
 * extension offers given) and reads the answer. Resolves with the answer and, when it is
 * a 101 with the right Sec-WebSocket-Accept, the connection (undefined otherwise).
 */
export async function rawUpgrade(
  port: number,
  options: RawClientOptions = {},
): Promise<{ response: HttpHead; ws: RawWebSocket | undefined }> {
  const socket = track(net.connect({ port, host: '127.0.0.1' }));
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  let request =
    `GET ${options.path ?? '/'} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
    `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
    `Sec-WebSocket-Key: ${key}\r\n`;
  const extensions =
    options.extensions === undefined
      ? []
      : typeof options.extensions === 'string'
        ? [options.extensions]
        : options.extensions;
  for (const line of extensions) request += `Sec-WebSocket-Extensions: ${line}\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    request += `${name}: ${value}\r\n`;
  }
  socket.write(`${request}\r\n`);
  const { head, rest } = await readHttpHead(socket, 5_000);
  const ok =
    head.line.startsWith('HTTP/1.1 101 ') &&
    head.headers['sec-websocket-accept'] === acceptFor(key);
  if (!ok) {
    socket.destroy();
    return { response: head, ws: undefined };
  }
  return { response: head, ws: new RawWebSocket(socket, 'client', rest) };
}

/** Like rawUpgrade, but fails unless the server answered a valid 101. */
export async function rawClient(
  port: number,
  options: RawClientOptions = {},
): Promise<{ response: HttpHead; ws: RawWebSocket }> {
  const { response, ws } = await rawUpgrade(port, options);
  if (ws === undefined)
    throw new Error(`Expected a valid 101, got ${JSON.stringify(response.raw)}`);
  return { response, ws };
}

/** An upgrade request a raw server received, and the means to answer it. */
export interface RawUpgrade {
  request: HttpHead;
  /** The accept value for the request's key. */
  accept: string;
  socket: net.Socket;
}

/** A hand-driven server: each upgrade is answered by `answer`, then driven by the test. */
export interface RawServer {
  port: number;
  /** Resolves with the next connection (after its answer was written). */
  next(ms?: number): Promise<{ request: HttpHead; ws: RawWebSocket }>;
  close(): Promise<void>;
}

/**
 * Listens on loopback as a server that answers each upgrade with what `answer` returns:
 * the whole response head, so that a test can craft any 101 (see accept101). The socket
 * then becomes a RawWebSocket playing the server.
 */
export async function rawServer(answer: (upgrade: RawUpgrade) => string): Promise<RawServer> {
  const ready: Array<{ request: HttpHead; ws: RawWebSocket }> = [];
  let wake: (() => void) | undefined;
  const server = net.createServer((raw) => {
    const socket = track(raw);
    readHttpHead(socket, 5_000).then(
      ({ head, rest }) => {
        const key = head.headers['sec-websocket-key'] ?? '';
        socket.write(answer({ request: head, accept: acceptFor(key), socket }));
        ready.push({ request: head, ws: new RawWebSocket(socket, 'server', rest) });
        wake?.();
      },
      () => socket.destroy(),
    );
  });
  liveServers.add(server);
  server.listen({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    async next(ms = 5_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const got = ready.shift();
        if (got !== undefined) return got;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`The raw server got no upgrade within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        liveServers.delete(server);
        server.close(() => resolve());
      }),
  };
}

/** A valid 101 for the upgrade, with the given Sec-WebSocket-Extensions lines (none if empty). */
export function accept101(upgrade: RawUpgrade, extensions: readonly string[] = []): string {
  let head =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${upgrade.accept}\r\n`;
  for (const line of extensions) head += `Sec-WebSocket-Extensions: ${line}\r\n`;
  return `${head}\r\n`;
}

// ------------------------------------------------------------------ recording proxy

/** One connection through the proxy: both heads, and the frames each way. */
export interface ProxiedConnection {
  request: HttpHead | undefined;
  response: HttpHead | undefined;
  /** Frames the client sent (masked on the wire, unmasked here). */
  toServer: WireFrame[];
  /** Frames the server sent. */
  toClient: WireFrame[];
}

/** Feeds one direction's bytes: the HTTP head first, then frames. */
function tap(onHead: (head: HttpHead) => void, frames: WireFrame[]): (chunk: Buffer) => void {
  let head: Buffer | undefined = Buffer.alloc(0);
  const reader = new WireFrameReader();
  return (chunk) => {
    if (head !== undefined) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      onHead(parseHead(head.subarray(0, end).toString('latin1')));
      chunk = head.subarray(end + 4);
      head = undefined;
    }
    frames.push(...reader.push(chunk));
  };
}

/**
 * A TCP proxy on loopback in front of `targetPort` that passes bytes through untouched
 * (backpressure included) and records, per connection, both HTTP heads and every frame in
 * each direction: what the tests read RSV1, fragmentation and compressed bytes from.
 */
export class RecordingProxy {
  readonly connections: ProxiedConnection[] = [];
  readonly #server: net.Server;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = net.createServer((rawClient) => {
      const client = track(rawClient);
      const upstream = track(net.connect({ port: targetPort, host: '127.0.0.1' }));
      const record: ProxiedConnection = {
        request: undefined,
        response: undefined,
        toServer: [],
        toClient: [],
      };
      this.connections.push(record);
      client.on(
        'data',
        tap((head) => {
          record.request = head;
        }, record.toServer),
      );
      upstream.on(
        'data',
        tap((head) => {
          record.response = head;
        }, record.toClient),
      );
      client.pipe(upstream);
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    liveServers.add(this.#server);
  }

  /** Starts a proxy in front of the port. */
  static async start(targetPort: number): Promise<RecordingProxy> {
    const proxy = new RecordingProxy(targetPort);
    proxy.#server.listen({ port: 0, host: '127.0.0.1' });
    await once(proxy.#server, 'listening');
    proxy.port = (proxy.#server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** The last connection made through the proxy. */
  get last(): ProxiedConnection {
    const last = this.connections.at(-1);
    if (last === undefined) throw new Error('No connection went through the proxy');
    return last;
  }
}

// ------------------------------------------------------------------ messages

/** A small xorshift generator, seeded: test data that is the same on every run. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4_294_967_296;
  };
}

/** JSON-like text of exactly `size` bytes (ASCII), repetitive as real messages are. */
export function jsonText(size: number, seed = 1): string {
  const random = seeded(seed);
  const rows: string[] = [];
  let length = 2;
  for (let id = 0; length < size; id++) {
    const row = JSON.stringify({
      id,
      user: `user${Math.floor(random() * 1000)}`,
      active: random() > 0.5,
      score: Math.round(random() * 1e6) / 100,
      tags: ['alpha', 'beta', 'gamma'].filter(() => random() > 0.4),
    });
    rows.push(row);
    length += row.length + 1;
  }
  return `[${rows.join(',')}]`.slice(0, size);
}

/** Bytes that deflate cannot shrink (a seeded xorshift stream). */
export function randomBinary(size: number, seed = 7): Buffer {
  const random = seeded(seed);
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Text that deflate can hardly shrink: random printable characters, some multi-byte. */
export function randomText(chars: number, seed = 11): string {
  const random = seeded(seed);
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789é€🌍ß';
  const symbols = [...alphabet];
  let out = '';
  for (let i = 0; i < chars; i++) out += symbols[Math.floor(random() * symbols.length)]!;
  return out;
}

/**
 * A probe of the sender's window: for each k in 8..14, a random block of 1.25 * 2^k + 100
 * bytes written twice in a row, so its only match lies exactly that far back: past what an
 * inflater of k bits accepts (see inflateWire), within what a sender of k + 1 bits reaches
 * (2^(k+1) - 262, deflate.c's MAX_DIST). A sender whose window is larger than agreed uses
 * the match at the agreed size's distance, which the inflater of the agreed window refuses. (A 9-bit deflater, which Node uses for 8, never
 * reaches past 250 bytes: see lib/protocol/permessage-deflate-params.ts.)
 */
export function windowProbe(seed = 5): Buffer {
  const parts: Buffer[] = [];
  for (let k = 8; k <= 14; k++) {
    const block = randomBinary(Math.round(1.25 * 2 ** k) + 100, seed + k);
    parts.push(block, block);
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------ agreements and checks

/**
 * A Sec-WebSocket-Extensions value in a canonical form: offers in order, each offer's
 * parameters sorted and `=` unspaced, so that two spellings of one agreement compare
 * equal ('' for none). Parsed by hand: the tests never send quoted strings.
 */
export function canonicalHeader(value: string | null | undefined): string {
  if (value === undefined || value === null || value.trim() === '') return '';
  return value
    .split(',')
    .map((offer) => {
      const [name = '', ...params] = offer.split(';').map((part) => part.trim());
      return [name, ...params.map((p) => p.replace(/\s*=\s*/, '=')).sort()].join('; ');
    })
    .join(', ');
}

/** What a connection's `extensions` shows, in the same canonical form. */
export function canonicalExtensions(
  extensions: ReadonlyArray<{
    name: string;
    params: ReadonlyArray<{ name: string; value: string | null }>;
  }>,
): string {
  return canonicalHeader(
    extensions
      .map((e) =>
        [e.name, ...e.params.map((p) => (p.value === null ? p.name : `${p.name}=${p.value}`))].join(
          '; ',
        ),
      )
      .join(', '),
  );
}

/** What both ends do once a permessage-deflate answer was agreed. @see RFC 7692 §7.1 */
export interface Agreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** The window the server compresses within (15 when not limited). */
  serverMaxWindowBits: number;
  /** The window the client compresses within (15 when not limited). */
  clientMaxWindowBits: number;
}

/** Reads an agreement from a canonical answer; undefined for '' (nothing agreed). */
export function agreementOf(answer: string): Agreement | undefined {
  if (answer === '') return undefined;
  const params = answer.split('; ').slice(1);
  const bits = (name: string): number => {
    const param = params.find((p) => p.startsWith(`${name}=`));
    return param === undefined ? 15 : Number(param.slice(name.length + 1));
  };
  return {
    serverNoContextTakeover: params.includes('server_no_context_takeover'),
    clientNoContextTakeover: params.includes('client_no_context_takeover'),
    serverMaxWindowBits: bits('server_max_window_bits'),
    clientMaxWindowBits: bits('client_max_window_bits'),
  };
}

/** How one sender must compress, by the agreement. */
export interface SenderRules {
  windowBits: number;
  contextTakeover: boolean;
}

/** The sender rules of each direction, or undefined for both when nothing was agreed. */
export function senderRules(
  agreement: Agreement | undefined,
): { client: SenderRules; server: SenderRules } | undefined {
  if (agreement === undefined) return undefined;
  return {
    client: {
      windowBits: agreement.clientMaxWindowBits,
      contextTakeover: !agreement.clientNoContextTakeover,
    },
    server: {
      windowBits: agreement.serverMaxWindowBits,
      contextTakeover: !agreement.serverNoContextTakeover,
    },
  };
}

/**
 * Checks one direction of a connection's wire against the plain messages sent that way,
 * and returns what is wrong (empty when all is well): the count and types of messages;
 * RSV1 only on first frames, never RSV2/RSV3; `compressed[i]` true where the message must
 * be compressed, false where it must not, undefined where the sender may choose; plain
 * payloads equal to what was sent; compressed ones inflating, with an inflater of the
 * agreed window and context mode, to exactly what was sent; nothing compressed without an
 * agreement.
 */
export function wireProblems(
  label: string,
  messages: readonly WireMessage[],
  plain: ReadonlyArray<string | Buffer>,
  compressed: ReadonlyArray<boolean | undefined>,
  rules: SenderRules | undefined,
): string[] {
  const problems: string[] = [];
  const bytes = plain.map((m) => (typeof m === 'string' ? Buffer.from(m, 'utf8') : m));
  if (messages.length !== plain.length) {
    return [`${label}: ${messages.length} messages on the wire, ${plain.length} sent`];
  }
  messages.forEach((m, i) => {
    const what = `${label} #${i} (${typeof plain[i] === 'string' ? 'text' : 'binary'} of ${bytes[i]!.length} bytes)`;
    const opcode = typeof plain[i] === 'string' ? Op.Text : Op.Binary;
    if (m.opcode !== opcode) problems.push(`${what}: opcode ${m.opcode}`);
    if (compressed[i] !== undefined && m.compressed !== compressed[i]) {
      problems.push(`${what}: RSV1 ${m.compressed}, expected ${compressed[i]}`);
    }
    if (rules === undefined && m.compressed) problems.push(`${what}: RSV1 without an agreement`);
    m.frames.forEach((f, j) => {
      if (f.rsv2 || f.rsv3) problems.push(`${what}: RSV2/RSV3 on frame ${j}`);
      if (j > 0 && f.rsv1) problems.push(`${what}: RSV1 on continuation frame ${j}`);
    });
    if (!m.compressed && !m.payload.equals(bytes[i]!)) problems.push(`${what}: payload differs`);
  });
  if (rules === undefined) return problems;
  const zipped = messages.flatMap((m, i) => (m.compressed ? [{ m, i }] : []));
  try {
    const out = inflateWire(
      zipped.map((z) => z.m.payload),
      rules.windowBits,
      rules.contextTakeover,
      zipped.map((z) => bytes[z.i]!.length),
    );
    zipped.forEach((z, k) => {
      if (!out[k]!.equals(bytes[z.i]!)) {
        problems.push(`${label} #${z.i}: inflates to other bytes than were sent`);
      }
    });
  } catch (err) {
    problems.push(
      `${label}: the compressed messages do not inflate with ${rules.windowBits} bits, ` +
        `${rules.contextTakeover ? 'one stream' : 'each alone'}: ${(err as Error).message}`,
    );
  }
  return problems;
}
