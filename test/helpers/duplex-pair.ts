import type { Duplex as NodeDuplex } from 'node:stream';
import { Duplex } from 'readable-stream';

type Callback = (error?: Error | null) => void;

/**
 * One end of an in-memory byte pipe that behaves like a TCP socket for our purposes:
 * backpressure (a write calls back only once the peer has room), FIN on end(), and a
 * destroy that the peer sees as an end of input. `allowHalfOpen: false`, as net.Socket.
 */
class Endpoint extends Duplex {
  peer!: Endpoint;
  #pending: Callback | undefined;
  bytesWritten = 0;

  constructor(highWaterMark: number) {
    super({
      allowHalfOpen: false,
      readableHighWaterMark: highWaterMark,
      writableHighWaterMark: highWaterMark,
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.bytesWritten += chunk.length;
    if (this.peer.destroyed || this.peer.readableEnded) {
      callback();
      return;
    }
    if (this.peer.push(chunk)) callback();
    else this.#pending = callback;
  }

  override _read(): void {
    const pending = this.peer.#pending;
    this.peer.#pending = undefined;
    pending?.();
  }

  override _final(callback: Callback): void {
    if (!this.peer.destroyed) this.peer.push(null);
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    const peer = this.peer;
    process.nextTick(() => {
      if (!peer.destroyed && !peer.readableEnded) peer.push(null);
    });
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.();
    callback(err);
  }
}

/** Two connected in-memory transports: what one writes, the other reads. */
export function duplexPair(highWaterMark = 16 * 1024): [NodeDuplex, NodeDuplex] {
  const a = new Endpoint(highWaterMark);
  const b = new Endpoint(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a as unknown as NodeDuplex, b as unknown as NodeDuplex];
}
