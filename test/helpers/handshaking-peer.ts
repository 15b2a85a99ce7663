/**
 * Raw WebSocket peers for the conformance suite and the attack tests: a client that does the
 * opening handshake by hand over a TCP socket, a server that answers one by hand, and the
 * session that follows, which sends crafted bytes and judges every frame our implementation
 * sends (with the independent WireReader), keeping an ordered list of what it saw and of
 * who closed TCP first. Nothing here uses lib/ except where a test asks for it explicitly.
 *
 * @see RFC 6455 §4 (opening handshake), §5 (framing), §7 (closing)
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import zlib from 'node:zlib';
import { encodeReference, type FrameSpec } from './frames.js';
import { isValidUtf8Oracle } from './utf8-oracle.js';
import { type WireFrame, WireReader } from './wire-reader.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 64 * 1024;

/** Computes Sec-WebSocket-Accept for a key, as RFC 6455 §4.2.2 defines it. */
export function expectedAccept(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** An HTTP head read off a raw socket. */
export interface HttpHead {
  /** The first line: request line or status line. */
  startLine: string;
  /** Lower-case names; repeated fields joined with ', '. */
  headers: Record<string, string>;
  /** Bytes that followed the head on the socket. */
  rest: Buffer;
}

/** Reads one HTTP head (up to the empty line) from a socket; rejects after `ms` or on close. */
export function readHttpHead(socket: net.Socket, ms = 5_000): Promise<HttpHead> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no HTTP head within ${ms} ms`)), ms);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > MAX_HEAD) finish(new Error('HTTP head too large'));
        return;
      }
      finish(undefined, parseHead(buffered.subarray(0, end), buffered.subarray(end + 4)));
    };
    const onClose = (): void =>
      finish(
        new Error(
          `socket closed before an HTTP head (got ${JSON.stringify(buffered.toString('latin1'))})`,
        ),
      );
    const finish = (err: Error | undefined, head?: HttpHead): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.pause();
      if (err !== undefined) reject(err);
      else resolve(head!);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

function parseHead(head: Buffer, rest: Buffer): HttpHead {
  const lines = head.toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { startLine: lines[0] ?? '', headers, rest: Buffer.from(rest) };
}

/** What the raw client asks for in its handshake. */
export interface ClientHandshakeSpec {
  path?: string;
  /** Sec-WebSocket-Extensions to offer, verbatim. */
  extensions?: string;
  /** Sec-WebSocket-Protocol to offer, verbatim. */
  protocols?: string;
}

/** The raw client's view of the server's 101. */
export interface ClientHandshakeResult {
  socket: net.Socket;
  head: HttpHead;
  status: number;
  /** Problems with the 101 by RFC 6455 §4.1's client checks (empty when it is valid). */
  problems: string[];
}

/** Connects to 127.0.0.1:port and performs a client handshake by hand. */
export async function rawClientHandshake(
  port: number,
  spec: ClientHandshakeSpec = {},
  ms = 5_000,
): Promise<ClientHandshakeResult> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  let request =
    `GET ${spec.path ?? '/'} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
    `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (spec.extensions !== undefined) request += `Sec-WebSocket-Extensions: ${spec.extensions}\r\n`;
  if (spec.protocols !== undefined) request += `Sec-WebSocket-Protocol: ${spec.protocols}\r\n`;
  socket.write(`${request}\r\n`);
  const head = await readHttpHead(socket, ms);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.startLine)?.[1] ?? 0);
  const problems: string[] = [];
  if (status !== 101) problems.push(`status line ${JSON.stringify(head.startLine)}`);
  if (head.headers.upgrade?.toLowerCase() !== 'websocket')
    problems.push('Upgrade is not websocket');
  if (!/(^|,)\s*upgrade\s*(,|$)/i.test(head.headers.connection ?? '')) {
    problems.push('Connection lacks upgrade');
  }
  if (head.headers['sec-websocket-accept'] !== expectedAccept(key)) {
    problems.push('wrong Sec-WebSocket-Accept');
  }
  return { socket, head, status, problems };
}

/**
 * A raw server for the client-side tests: accepts TCP connections on loopback, reads each
 * request head, and hands it to whoever waits for that path; answering is the caller's.
 */
export class RawServer {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #waiting = new Map<string, (arrival: RawArrival) => void>();
  readonly #early = new Map<string, RawArrival>();
  port = 0;

  constructor() {
    this.#server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      readHttpHead(socket).then(
        (head) => {
          const path = head.startLine.split(' ')[1] ?? '';
          const arrival = { socket, head };
          const waiter = this.#waiting.get(path);
          if (waiter === undefined) this.#early.set(path, arrival);
          else {
            this.#waiting.delete(path);
            waiter(arrival);
          }
        },
        () => socket.destroy(),
      );
    });
  }

  async listen(): Promise<number> {
    this.#server.listen({ port: 0, host: '127.0.0.1' });
    await once(this.#server, 'listening');
    this.port = (this.#server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Resolves with the next request for `path`; rejects after `ms`. */
  arrival(path: string, ms = 5_000): Promise<RawArrival> {
    const early = this.#early.get(path);
    if (early !== undefined) {
      this.#early.delete(path);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(path);
        reject(new Error(`no request for ${path} within ${ms} ms`));
      }, ms);
      this.#waiting.set(path, (arrival) => {
        clearTimeout(timer);
        resolve(arrival);
      });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A request that reached the RawServer. */
export interface RawArrival {
  socket: net.Socket;
  head: HttpHead;
}

/** Answers a request with a 101, with extra header lines verbatim (e.g. the extensions). */
export function answer101(arrival: RawArrival, extraHeaders: Record<string, string> = {}): void {
  const key = arrival.head.headers['sec-websocket-key'] ?? '';
  let response =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${expectedAccept(key)}\r\n`;
  for (const [name, value] of Object.entries(extraHeaders)) response += `${name}: ${value}\r\n`;
  arrival.socket.write(`${response}\r\n`);
}

/** The permessage-deflate parameters the peer uses once they are agreed. */
export interface PeerDeflateParams {
  /** The peer resets its compressor after each message. */
  peerNoContextTakeover: boolean;
  /** The implementation resets its compressor after each message (the peer may then too). */
  implementationNoContextTakeover: boolean;
  /** The window the peer compresses with (8..15; zlib uses 9 for 8). */
  peerWindowBits: number;
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * The peer's side of permessage-deflate, built straight on zlib (not on lib/extensions):
 * compresses with a persistent raw deflater flushed per message (the trailer removed), and
 * decompresses the implementation's messages by inflating its whole compressed history at
 * once, which holds whether or not the implementation takes its context over.
 *
 * @see RFC 7692 §7.2.1 (compression), §7.2.2 (decompression)
 */
export class PeerDeflate {
  readonly params: PeerDeflateParams;
  #deflater: zlib.DeflateRaw | undefined;
  #history: Buffer[] = [];
  #historyOut = 0;

  constructor(params: PeerDeflateParams) {
    this.params = params;
  }

  /** Compresses one message as the peer sends it (ends on a flush, trailer removed). */
  async compress(data: Buffer, options: { final?: boolean } = {}): Promise<Buffer> {
    if (options.final === true) {
      // A message ending in a DEFLATE block with BFINAL set (RFC 7692 §7.2.3.4).
      return zlib.deflateRawSync(data, { windowBits: Math.max(9, this.params.peerWindowBits) });
    }
    if (this.#deflater === undefined || this.params.peerNoContextTakeover) {
      this.#deflater?.close();
      this.#deflater = zlib.createDeflateRaw({
        windowBits: Math.max(9, this.params.peerWindowBits),
      });
    }
    const deflater = this.#deflater;
    const out: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      out.push(chunk);
    };
    deflater.on('data', onData);
    deflater.write(data);
    await new Promise<void>((resolve) => deflater.flush(zlib.constants.Z_SYNC_FLUSH, resolve));
    // The flush callback may run before the last 'data': let the stream hand it out.
    await new Promise((resolve) => setImmediate(resolve));
    deflater.removeListener('data', onData);
    const all = Buffer.concat(out);
    if (!all.subarray(all.length - 4).equals(TRAILER))
      throw new Error('zlib flush without trailer');
    return all.subarray(0, all.length - 4);
  }

  /** Decompresses one message of the implementation's (payload of all its frames). */
  decompress(payload: Buffer): Buffer {
    if (this.params.implementationNoContextTakeover) {
      return zlib.inflateRawSync(Buffer.concat([payload, TRAILER]), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
    }
    this.#history.push(payload, TRAILER);
    const all = zlib.inflateRawSync(Buffer.concat(this.#history), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    const out = all.subarray(this.#historyOut);
    this.#historyOut = all.length;
    return Buffer.from(out);
  }

  dispose(): void {
    this.#deflater?.close();
    this.#deflater = undefined;
  }
}

/** What the peer saw our implementation send, in order. */
export interface PeerEvent {
  kind: 'text' | 'binary' | 'ping' | 'pong' | 'close';
  /** Message payload (decompressed), or control frame payload. */
  payload: Buffer;
  /** The message came compressed (RSV1 on its first frame). */
  compressed: boolean;
  /** Frames the message came in (1 for control frames). */
  frames: number;
}

/** Options of a {@link PeerSession}. */
export interface PeerSessionOptions {
  /** The role of the raw peer itself: a 'client' peer masks, a 'server' peer does not. */
  peerRole: 'client' | 'server';
  /** Agreed permessage-deflate, when the case negotiated it. */
  deflate?: PeerDeflate | undefined;
  /** Bytes that came after the handshake head. */
  head?: Buffer;
  /** A seed for the peer's masking keys (reproducible runs). */
  maskSeed?: number;
}

/**
 * The raw peer after the handshake: sends crafted bytes, reads and judges every frame of
 * the implementation, and records the closing order.
 */
export class PeerSession {
  readonly socket: net.Socket;
  readonly events: PeerEvent[] = [];
  /** Everything our implementation did that RFC 6455 forbids, as seen on the wire. */
  readonly violations: string[] = [];
  readonly closed: Promise<void>;
  readonly peerRole: 'client' | 'server';
  readonly deflate: PeerDeflate | undefined;
  /** When the implementation's FIN arrived (ms since the session began), or undefined. */
  implementationFinAt: number | undefined;
  /** When the peer sent its FIN, or undefined. */
  peerFinAt: number | undefined;
  /** When the socket closed, or undefined. */
  closedAt: number | undefined;
  /** Bytes received after the handshake. */
  bytesReceived = 0;
  readonly #start = Date.now();
  readonly #reader = new WireReader();
  #message: {
    kind: 'text' | 'binary';
    parts: Buffer[];
    compressed: boolean;
    frames: number;
  } | null = null;
  #closeSeen = false;
  #waiters: Array<() => void> = [];
  #maskState: number;

  constructor(socket: net.Socket, options: PeerSessionOptions) {
    this.socket = socket;
    this.peerRole = options.peerRole;
    this.deflate = options.deflate;
    this.#maskState = (options.maskSeed ?? 0x1234_5678) >>> 0 || 1;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => {
      this.implementationFinAt ??= Date.now() - this.#start;
      this.#notify();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      if (socket.destroyed) {
        this.closedAt = Date.now() - this.#start;
        resolve();
        return;
      }
      socket.once('close', () => {
        this.closedAt = Date.now() - this.#start;
        this.#notify();
        resolve();
      });
    });
    if (options.head !== undefined && options.head.length > 0) this.#onData(options.head);
    socket.resume();
  }

  /** Milliseconds since the session began. */
  now(): number {
    return Date.now() - this.#start;
  }

  /** Encodes a frame as this peer sends it: masked (fresh key) by a client peer. */
  encode(spec: FrameSpec, wrongMask = false): Buffer {
    const masked = (this.peerRole === 'client') !== wrongMask;
    return encodeReference({ ...spec, maskKey: masked ? this.#nextKey() : undefined });
  }

  /**
   * Writes bytes, `chop` bytes per write with a turn of the event loop in between (so that
   * the implementation sees them in separate reads when it can), or after every
   * `yieldEvery` bytes. Resolves once written, or when the socket is gone; never waits more
   * than `ms` for room.
   */
  async write(bytes: Buffer, chop = 0, yieldEvery = 0, ms = 10_000): Promise<void> {
    const step = chop > 0 ? chop : bytes.length;
    let sinceYield = 0;
    for (let at = 0; at < bytes.length; at += step) {
      if (this.socket.destroyed || this.socket.writableEnded) return;
      const ok = this.socket.write(bytes.subarray(at, at + step));
      if (!ok) await this.#drain(ms);
      sinceYield += step;
      if (chop > 0 && sinceYield >= yieldEvery) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Sends our FIN (half-close). */
  end(): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.peerFinAt = this.now();
    this.socket.end();
  }

  /** Waits until `check` holds, the socket closes, or `ms` pass; resolves with `check()`. */
  async waitFor(check: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (this.closedAt !== undefined || Date.now() >= deadline) return check();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(50, Math.max(1, deadline - Date.now())));
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
    return true;
  }

  /** True once a Close frame came from the implementation. */
  get closeReceived(): boolean {
    return this.#closeSeen;
  }

  /** Destroys the socket. */
  destroy(): void {
    this.socket.destroy();
    this.deflate?.dispose();
  }

  async #drain(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const socket = this.socket;
      function done(): void {
        clearTimeout(timer);
        socket.removeListener('drain', done);
        socket.removeListener('close', done);
        resolve();
      }
      socket.once('drain', done);
      socket.once('close', done);
    });
  }

  #nextKey(): Buffer {
    // xorshift32: reproducible, and different for every frame.
    let x = this.#maskState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#maskState = x >>> 0;
    const key = Buffer.alloc(4);
    key.writeUInt32BE(this.#maskState);
    return key;
  }

  #onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    for (const frame of this.#reader.push(chunk)) this.#onFrame(frame);
    if (this.#reader.oversized) this.violations.push('frame longer than the peer accepts');
    this.#notify();
  }

  #onFrame(frame: WireFrame): void {
    const v = this.violations;
    const implementationIsClient = this.peerRole === 'server';
    if (this.#closeSeen) v.push(`frame (opcode ${frame.opcode}) after the Close`);
    if (frame.masked !== implementationIsClient) {
      v.push(
        implementationIsClient ? 'unmasked frame from the client' : 'masked frame from the server',
      );
    }
    if (frame.rsv2 || frame.rsv3) v.push('RSV2/RSV3 set');
    const { opcode } = frame;
    if (opcode >= 0x8) {
      if (opcode > 0xa) v.push(`reserved opcode ${opcode}`);
      if (!frame.fin) v.push('fragmented control frame');
      if (frame.length7 > 125) v.push('control frame with an extended length');
      if (frame.rsv1) v.push('RSV1 on a control frame');
      this.#onControl(frame);
      return;
    }
    if (opcode > 0x2) {
      v.push(`reserved opcode ${opcode}`);
      return;
    }
    if (opcode === 0x0) {
      if (this.#message === null) {
        v.push('continuation without a message');
        return;
      }
      if (frame.rsv1) v.push('RSV1 on a continuation frame');
    } else {
      if (this.#message !== null) v.push('new message inside a fragmented one');
      if (frame.rsv1 && this.deflate === undefined) v.push('RSV1 without permessage-deflate');
      this.#message = {
        kind: opcode === 0x1 ? 'text' : 'binary',
        parts: [],
        compressed: frame.rsv1,
        frames: 0,
      };
    }
    const message = this.#message!;
    message.parts.push(frame.payload);
    message.frames++;
    if (!frame.fin) return;
    this.#message = null;
    let payload: Buffer = Buffer.concat(message.parts);
    if (message.compressed && this.deflate !== undefined) {
      try {
        payload = this.deflate.decompress(payload);
      } catch (err) {
        v.push(`undecodable compressed message: ${(err as Error).message}`);
      }
    }
    if (message.kind === 'text' && !isValidUtf8Oracle(payload))
      v.push('invalid UTF-8 in a text message');
    this.events.push({
      kind: message.kind,
      payload,
      compressed: message.compressed,
      frames: message.frames,
    });
  }

  #onControl(frame: WireFrame): void {
    const kind = frame.opcode === 0x8 ? 'close' : frame.opcode === 0x9 ? 'ping' : 'pong';
    if (kind === 'close') {
      this.#closeSeen = true;
      const p = frame.payload;
      if (p.length === 1) this.violations.push('Close with a 1-byte payload');
      if (p.length >= 2) {
        const code = p.readUInt16BE(0);
        const valid =
          (code >= 1000 && code <= 1003) ||
          (code >= 1007 && code <= 1014) ||
          (code >= 3000 && code <= 4999);
        if (!valid) this.violations.push(`Close with invalid code ${code}`);
        if (!isValidUtf8Oracle(p.subarray(2))) this.violations.push('Close reason not UTF-8');
      }
    }
    this.events.push({ kind, payload: frame.payload, compressed: false, frames: 1 });
  }

  #notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** The code of a Close event: its first two bytes, null for an empty Close. */
export function closeCodeOf(event: PeerEvent): number | null {
  return event.payload.length >= 2 ? event.payload.readUInt16BE(0) : null;
}
