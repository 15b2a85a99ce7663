import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';
import type { WebSocketConnection } from '../stream/websocket-connection.js';

/**
 * Sends a Blob as ONE binary message, read as a stream: the connection's message stream
 * takes its place in the outgoing order at once (later sends wait behind it, so order is
 * kept although the Blob is read asynchronously), and its bytes follow with backpressure,
 * so a Blob larger than memory (`fs.openAsBlob`) passes in constant memory. `onSent` gets
 * the bytes of each piece once handed to the transport; a Blob that cannot be read fails
 * the connection (`onFailure`), since the peer may already have part of the message.
 *
 * @see https://websockets.spec.whatwg.org/#dom-websocket-send (If data is a Blob object)
 */
export function sendBlob(
  connection: WebSocketConnection,
  blob: Blob,
  onSent: (bytes: number) => void,
  onFailure: () => void,
): void {
  const message = connection.createMessageStream({ binary: true });
  // A write refused because the connection closed errors the stream; the connection
  // reports the close itself.
  message.on('error', () => {});
  pump(blob, message, onSent).catch(() => {
    onFailure();
    message.destroy();
  });
}

async function pump(blob: Blob, message: Writable, onSent: (bytes: number) => void): Promise<void> {
  const reader = blob.stream().getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (message.destroyed) {
      await reader.cancel();
      return;
    }
    const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const length = chunk.length;
    const room = message.write(chunk, (err?: Error | null) => {
      if (!err) onSent(length);
    });
    if (!room) await drained(message);
  }
  message.end();
}

/** Resolves on 'drain', or when the stream closes (it will take no more). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
