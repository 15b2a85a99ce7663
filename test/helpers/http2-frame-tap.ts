import { once } from 'node:events';
import net from 'node:net';

/**
 * A TCP relay on loopback that reads the HTTP/2 frames going through it (cleartext h2c),
 * both ways, so that a test can see what went on the wire: END_STREAM on DATA, RST_STREAM
 * and its error code, GOAWAY. Every byte is forwarded unchanged.
 *
 * @see RFC 9113 §4.1 (frame layout), §3.4 (the client preface)
 */

/** HTTP/2 frame types the tests look at. @see RFC 9113 §6 */
export const FrameType = {
  Data: 0x0,
  Headers: 0x1,
  RstStream: 0x3,
  Settings: 0x4,
  Ping: 0x6,
  GoAway: 0x7,
  WindowUpdate: 0x8,
} as const;

/** END_STREAM, on DATA and HEADERS. */
export const END_STREAM = 0x1;

/** HTTP/2 error codes. @see RFC 9113 §7 */
export const H2Error = { NoError: 0, ProtocolError: 1, Cancel: 8 } as const;

/** One frame seen on the wire. */
export interface TappedFrame {
  /** 'c2s': client to server; 's2c': server to client. */
  direction: 'c2s' | 's2c';
  type: number;
  flags: number;
  streamId: number;
  length: number;
  /** RST_STREAM's and GOAWAY's error code. */
  errorCode?: number;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** Reads frames out of one direction's bytes, whatever the chunking. */
class FrameReader {
  #buffer = Buffer.alloc(0);
  #skip: number;

  constructor(
    readonly direction: 'c2s' | 's2c',
    readonly out: TappedFrame[],
  ) {
    this.#skip = direction === 'c2s' ? PREFACE.length : 0;
  }

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (this.#skip > 0) {
      const n = Math.min(this.#skip, this.#buffer.length);
      this.#buffer = this.#buffer.subarray(n);
      this.#skip -= n;
    }
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) return;
      const type = this.#buffer[3]!;
      const flags = this.#buffer[4]!;
      const streamId = this.#buffer.readUInt32BE(5) & 0x7fffffff;
      const payload = this.#buffer.subarray(9, 9 + length);
      const frame: TappedFrame = { direction: this.direction, type, flags, streamId, length };
      if (type === FrameType.RstStream && length >= 4) frame.errorCode = payload.readUInt32BE(0);
      if (type === FrameType.GoAway && length >= 8) frame.errorCode = payload.readUInt32BE(4);
      this.out.push(frame);
      this.#buffer = this.#buffer.subarray(9 + length);
    }
  }
}

/** A running tap: connect HTTP/2 clients to `port`; their frames land in `frames`. */
export interface FrameTap {
  port: number;
  frames: TappedFrame[];
  /** The frames of one stream, in the order they were seen (per direction). */
  ofStream(streamId: number): TappedFrame[];
  /** Ends every relayed connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Starts a tap in front of `targetPort` on 127.0.0.1.
 *
 * @example const tap = await startFrameTap(h2cPort); http2.connect(`http://127.0.0.1:${tap.port}`);
 */
export async function startFrameTap(targetPort: number): Promise<FrameTap> {
  const frames: TappedFrame[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => sockets.delete(socket));
    }
    const c2s = new FrameReader('c2s', frames);
    const s2c = new FrameReader('s2c', frames);
    client.on('data', (chunk: Buffer) => {
      c2s.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      s2c.push(chunk);
      client.write(chunk);
    });
    client.once('end', () => upstream.end());
    upstream.once('end', () => client.end());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    frames,
    ofStream: (streamId) => frames.filter((f) => f.streamId === streamId),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
