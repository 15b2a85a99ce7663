/**
 * A minimal RFC 6455 client over a plain socket, the same for every server measured: the
 * broadcast scenario's receivers. What it measures is the server's fan-out, so the receiving
 * end must cost little and cost every server alike; a library's own client would make the
 * figure about that client's receive path (10,000 of them share one core with the server on
 * a 2-core machine).
 *
 * It does what a conforming client must and no more: the opening handshake (the key, and
 * the accept checked), unmasked server frames parsed (a masked one is an error), fragments
 * assembled, pings answered with masked pongs (the server's keepalive), and a masked Close
 * sent and the server's awaited at the end. Every message is handed over whole, with its
 * opcode, for the caller to check.
 *
 * @see RFC 6455 §4.1 (handshake), §5.2 (framing), §5.3 (client masking), §5.5 (control frames)
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

/** A message received: its opcode (1 text, 2 binary) and its payload, whole. */
export type RawMessageHandler = (opcode: number, payload: Buffer) => void;

/** Options of {@link openRawWebSocket}. */
export interface RawOpenOptions {
  host: string;
  port: number;
  /** Source address of the connection (e.g. one of 127.0.0.2-127.0.0.9). */
  localAddress?: string | undefined;
  timeoutMs: number;
}

/** Builds one client frame, masked with a fresh key (RFC 6455 §5.3). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('raw client: control and test frames only');
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  const key = randomBytes(4);
  key.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ key[i & 3]!;
  return frame;
}

/** One client connection, open once {@link openRawWebSocket} resolves. */
export class RawWebSocket {
  readonly socket: net.Socket;
  /** The first protocol error seen (a masked frame, a bad length, an unexpected opcode). */
  failure: Error | undefined;
  #onMessage: RawMessageHandler = () => {};
  /** Bytes received and not yet parsed, as they came. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  #fragments: Buffer[] = [];
  #fragmentOpcode = 0;
  #closeReceived = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** Sets the handler of every data message (replaces the previous one). */
  onMessage(handler: RawMessageHandler): void {
    this.#onMessage = handler;
  }

  /**
   * Parses the bytes that follow the handshake, frame by frame. A frame that lies in one
   * chunk is handed over as a slice of it; only a frame split across chunks is copied, and
   * only its own bytes (16 KiB frames straddle most 64 KiB reads).
   */
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.failure === undefined && this.#buffered >= 2) {
      const head = this.#peek(Math.min(this.#buffered, 10));
      const b0 = head[0]!;
      const b1 = head[1]!;
      if ((b1 & 0x80) !== 0) {
        this.#fail(new Error('raw client: a masked frame from the server'));
        return;
      }
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (head.length < 4) return;
        length = head.readUInt16BE(2);
        header = 4;
      } else if (length === 127) {
        if (head.length < 10) return;
        const big = head.readBigUInt64BE(2);
        if (big > 2n ** 31n) {
          this.#fail(new Error(`raw client: a frame of ${big} bytes`));
          return;
        }
        length = Number(big);
        header = 10;
      }
      if (this.#buffered < header + length) return;
      const frame = this.#take(header + length);
      this.#frame((b0 & 0x80) !== 0, b0 & 0x0f, frame.subarray(header));
    }
  }

  /** The first `n` bytes buffered (a slice when the first chunk holds them). */
  #peek(n: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.#chunks, n);
  }

  /** Removes and returns the first `n` bytes buffered (copied only if they span chunks). */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - at);
      chunk.copy(out, at, 0, part);
      at += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
  }

  #frame(fin: boolean, opcode: number, payload: Buffer): void {
    if (opcode === PING) {
      if (!this.socket.destroyed) this.socket.write(maskedFrame(PONG, payload));
      return;
    }
    if (opcode === PONG) return;
    if (opcode === CLOSE) {
      this.#closeReceived = true;
      return;
    }
    if (opcode === TEXT || opcode === BINARY) {
      if (this.#fragments.length > 0) {
        this.#fail(new Error('raw client: a new message inside a fragmented one'));
        return;
      }
      if (fin) {
        this.#onMessage(opcode, payload);
        return;
      }
      this.#fragmentOpcode = opcode;
      this.#fragments.push(Buffer.from(payload));
      return;
    }
    if (opcode === 0 && this.#fragments.length > 0) {
      this.#fragments.push(Buffer.from(payload));
      if (!fin) return;
      const whole = Buffer.concat(this.#fragments);
      this.#fragments = [];
      this.#onMessage(this.#fragmentOpcode, whole);
      return;
    }
    this.#fail(new Error(`raw client: unexpected opcode ${opcode}`));
  }

  #fail(err: Error): void {
    this.failure ??= err;
    this.socket.destroy();
  }

  /**
   * Sends a Close (1000) and resolves when the server has answered and closed the TCP
   * connection (a server closes first, RFC 6455 §7.1.1); destroys the socket and rejects
   * after `timeoutMs`.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.socket.destroyed) {
      if (this.failure !== undefined) throw this.failure;
      throw new Error('raw client: the connection was closed by the server');
    }
    const closed = once(this.socket, 'close');
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    this.socket.write(maskedFrame(CLOSE, code));
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await closed;
    clearTimeout(timer);
    if (this.failure !== undefined) throw this.failure;
    if (!this.#closeReceived) {
      throw new Error(`raw client: no Close from the server within ${timeoutMs} ms`);
    }
  }
}

/**
 * Opens a connection: the HTTP/1.1 upgrade with a random key, the 101 and its
 * Sec-WebSocket-Accept checked (RFC 6455 §4.1), and any frame bytes that came with the
 * response handed to the parser.
 */
export async function openRawWebSocket(options: RawOpenOptions): Promise<RawWebSocket> {
  const socket = net.connect({
    host: options.host,
    port: options.port,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  socket.setNoDelay(true);
  const key = randomBytes(16).toString('base64');
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  const client = new RawWebSocket(socket);
  return new Promise<RawWebSocket>((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(new Error('raw client: handshake timed out')),
      options.timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.off('data', onHead);
      socket.destroy();
      reject(err);
    };
    const onHead = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 8192) fail(new Error('raw client: response head too long'));
        return;
      }
      const lines = head.subarray(0, end).toString('latin1').split('\r\n');
      if (!/^HTTP\/1\.1 101 /.test(lines[0] ?? '')) {
        fail(new Error(`raw client: ${lines[0]}`));
        return;
      }
      const acceptLine = lines.find((l) => /^sec-websocket-accept:/i.test(l));
      if (acceptLine?.slice(acceptLine.indexOf(':') + 1).trim() !== accept) {
        fail(new Error('raw client: wrong Sec-WebSocket-Accept'));
        return;
      }
      clearTimeout(timer);
      socket.off('data', onHead);
      socket.off('error', fail);
      socket.on('error', (err) => {
        client.failure ??= err;
      });
      socket.on('data', (data: Buffer) => client.push(data));
      if (head.length > end + 4) client.push(head.subarray(end + 4));
      resolve(client);
    };
    socket.on('data', onHead);
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(
        `GET / HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}
