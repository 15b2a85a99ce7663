import { InvalidArgumentError } from './protocol/errors.js';
import { createFrame, type Frame } from './protocol/frame.js';
import { asBytes } from './protocol/message-payload.js';
import { Opcode } from './protocol/opcodes.js';
import type { Incoming } from './stream/connection-events.js';
import { type PreparedEntry, tagged } from './stream/outbound-entry.js';
import { PreparedMessage } from './stream/prepared-message.js';
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
 * Sends one message to each open connection of a set. The message is framed once: every
 * server-side connection that sends it uncompressed writes the same frame bytes, shared by
 * reference (a client masks each frame with its own key, and a compressed connection's
 * frames depend on its compression context: those frame it themselves). Each connection's
 * own queue and backpressure apply, so a slow reader only grows its own queue (bounded by
 * `maxBufferedAmount` when given) while the others go on. Returns the number of
 * connections the message was queued for.
 *
 * @see RFC 6455 §5.2 (a server's frames are not masked, so their bytes can be shared)
 * @example broadcast(room.members, JSON.stringify({ type: 'tick', at: Date.now() }));
 */
export function broadcast(
  connections: Iterable<WebSocketConnection<Incoming>>,
  data: string | Uint8Array,
  options: BroadcastOptions = {},
): number {
  const binary = typeof data !== 'string';
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : asBytes(data);
  if (payload === undefined) {
    throw new InvalidArgumentError('broadcast takes a string (text) or bytes (binary)');
  }
  const limit = options.maxBufferedAmount ?? Number.POSITIVE_INFINITY;
  const entry: PreparedEntry = { kind: 'prepared', message: new PreparedMessage(payload, binary) };
  let frame: Frame | undefined;
  let count = 0;
  for (const connection of connections) {
    if (!connection.isOpen || connection.writableEnded) continue;
    if (connection.bufferedAmount > limit) continue;
    if (connection.writableObjectMode) {
      // Raw-fragment mode writes Frames: one frame, built once, for all such connections.
      frame ??= createFrame(binary ? Opcode.Binary : Opcode.Text, payload);
      (connection as unknown as WebSocketConnection<Frame>).write(frame);
    } else {
      connection.write(tagged(payload, entry));
    }
    count++;
  }
  return count;
}
