import { ConnectionClosedError, ErrorCode, WebSocketError } from '../protocol/errors.js';
import { Writable } from './bases.js';
import type { StreamCallback } from './callbacks.js';
import type { StreamTurn } from './outbound-entry.js';
import type { OutboundMessage } from './outbound-message.js';

/** What a message stream needs from its connection. */
export interface MessageWritablePort {
  /** The stream's place in the connection's queue: its writes wait for `turn.ready`. */
  turn: StreamTurn;
  /** Frames the message (through the extensions) and writes it. */
  message: OutboundMessage;
  /** Whether the connection is closing: no more data frames may go. */
  closing(): boolean;
  /** Hands the turn back: the message is complete, or was abandoned before it began. */
  release(): void;
  /** Reports a message cut short after it began. */
  abort(err: Error): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Builds the Writable behind `createMessageStream()`: every chunk written becomes the next
 * fragments of ONE message, `end()` sends the final fragment. Chunks wait for the message's
 * turn, and each write calls back only once its frames are written to the transport, so
 * backpressure reaches the writer whatever the message's length.
 */
export function createMessageWritable(port: MessageWritablePort, highWaterMark: number): Writable {
  let begun = false;
  const closed = (): ConnectionClosedError =>
    new ConnectionClosedError('The connection closed before the message stream ended');
  const stream = new Writable({
    highWaterMark,
    decodeStrings: true,
    write(chunk: Buffer, _encoding, callback: StreamCallback) {
      if (port.closing()) {
        callback(closed());
        return;
      }
      port.turn.ready.then(() => {
        if (port.closing()) {
          callback(closed());
          return;
        }
        begun = true;
        port.message.write(chunk, false, callback);
      });
    },
    final(callback: StreamCallback) {
      port.turn.ready.then(() => {
        if (port.closing()) {
          port.release();
          callback(closed());
          return;
        }
        begun = true;
        port.message.write(EMPTY, true, (err) => {
          port.release();
          callback(err);
        });
      });
    },
    destroy(err, callback) {
      if (!stream.writableFinished) {
        port.release();
        // A message cut short cannot be completed honestly: the peer is mid-message and
        // only a new connection can carry the next one. @see RFC 6455 §5.4
        if (begun) {
          port.abort(
            err ??
              new WebSocketError(ErrorCode.Internal, 'A message stream was destroyed mid-message'),
          );
        }
      }
      callback(err);
    },
  });
  return stream;
}
