import { InvalidArgumentError } from './protocol/errors.js';
import { createFrame, type Frame } from './protocol/frame.js';
import { Opcode } from './protocol/opcodes.js';
import { toBuffer } from './stream/message-fragmenter.js';
import type { WebSocketConnection } from './stream/websocket-connection.js';

/** Options of {@link broadcast} (and of WebSocketServer.broadcast). */
export interface BroadcastOptions {
  /**
   * Skip connections that already hold more than this many bytes not yet sent (their
   * bufferedAmount): a slow reader misses the message rather than growing its queue.
   * Default: Infinity (every open connection gets every message).
   */
  maxBufferedAmount?: number;
}

/**
 * Sends one message to each open connection of a set: each connection's own queue and
 * backpressure apply, so a slow reader only grows its own queue (bounded by
 * `maxBufferedAmount` when given) while the others go on. Returns the number of connections
 * the message was queued for.
 *
 * @example broadcast(room.members, JSON.stringify({ type: 'tick', at: Date.now() }));
 */
export function broadcast(
  connections: Iterable<WebSocketConnection>,
  data: string | Uint8Array,
  options: BroadcastOptions = {},
): number {
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new InvalidArgumentError('broadcast takes a string (text) or bytes (binary)');
  }
  const limit = options.maxBufferedAmount ?? Number.POSITIVE_INFINITY;
  let frame: Frame | undefined;
  let count = 0;
  for (const connection of connections) {
    if (!connection.isOpen || connection.writableEnded) continue;
    if (connection.bufferedAmount > limit) continue;
    if (connection.writableObjectMode) {
      // Raw-fragment mode writes Frames: one frame, built once, for all such connections.
      frame ??=
        typeof data === 'string'
          ? createFrame(Opcode.Text, Buffer.from(data, 'utf8'))
          : createFrame(Opcode.Binary, toBuffer(data));
      connection.write(frame);
    } else {
      connection.write(data);
    }
    count++;
  }
  return count;
}
