import { CloseCode } from '../protocol/close-codes.js';
import { validateCloseArguments } from '../protocol/close-payload.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frame.js';
import { Readable } from '../stream/bases.js';
import { dropNow } from '../stream/connection-hooks.js';
import { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import { WebSocketConnection } from '../stream/websocket-connection.js';
import { WebSocketFrame } from './websocket-frame.js';

/**
 * WebSocket-Node's face of the connection, installed on WebSocketConnection's prototype by
 * importing the package (its declarations are in websocket-connection.ts, so that there is
 * one class with both faces). It sits on top of the streams: nothing below imports it.
 *
 * - `sendUTF(data)`, `sendBytes(buffer)`: `write()` of a string, of bytes.
 * - `connected`, `webSocketVersion` (13).
 * - `drop(reasonCode, description, skipCloseFrame)`: close at once, without waiting.
 * - 'message' events ({ type: 'utf8', utf8Data } or { type: 'binary', binaryData }) and,
 *   in raw mode, 'frame' events (WebSocketFrame), once somebody listens for them.
 *   Listening puts the stream in flowing mode, so a connection used only through events
 *   never stalls; one that is also piped keeps the pipe's backpressure.
 *
 * @see https://github.com/theturtle32/WebSocket-Node/blob/master/docs/WebSocketConnection.md
 */
type Proto = WebSocketConnection & Record<PropertyKey, unknown>;

const bridged = new WeakSet<WebSocketConnection>();
const readableDrop = (Readable.prototype as unknown as { drop?: (...args: unknown[]) => unknown })
  .drop;

/** Installs the seed's face; idempotent (the ESM and CJS builds may both load). */
export function installConnectionApi(): void {
  const proto = WebSocketConnection.prototype as Proto;
  if (Object.hasOwn(proto, 'sendUTF')) return;
  Object.defineProperties(proto, {
    connected: {
      get(this: WebSocketConnection) {
        return this.isOpen;
      },
      configurable: true,
    },
    webSocketVersion: { value: 13, configurable: true },
    sendUTF: { value: sendUTF, writable: true, configurable: true },
    sendBytes: { value: sendBytes, writable: true, configurable: true },
    drop: { value: drop, writable: true, configurable: true },
  });
  for (const name of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']) {
    const original = proto[name] as (event: string | symbol, listener: unknown) => unknown;
    Object.defineProperty(proto, name, {
      value: function (this: WebSocketConnection, event: string | symbol, listener: unknown) {
        if (event === 'message' || event === 'frame') bridge(this);
        return original.call(this, event, listener);
      },
      writable: true,
      configurable: true,
    });
  }
}

/** Sends a text message (WebSocket-Node's API; the same as `write(string)`). */
function sendUTF(
  this: WebSocketConnection,
  data: unknown,
  callback?: (err?: Error | null) => void,
): boolean {
  return this.write(String(data), callback);
}

/** Sends a binary message (WebSocket-Node's API; the same as `write(Buffer)`). */
function sendBytes(
  this: WebSocketConnection,
  data: Uint8Array,
  callback?: (err?: Error | null) => void,
): boolean {
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('sendBytes takes a Buffer');
  return this.write(data, callback);
}

/**
 * Closes at once (WebSocket-Node's API): sends a Close with the code unless told not to,
 * then drops the transport without waiting for the peer's answer. Given an options object
 * as second argument, it is Readable's `drop(limit, options)` iterator helper instead.
 */
function drop(
  this: WebSocketConnection,
  reasonCode: number = CloseCode.ProtocolError,
  description: string | { signal?: AbortSignal } = '',
  skipCloseFrame = false,
): unknown {
  if (typeof description === 'object' && readableDrop !== undefined) {
    return readableDrop.call(this, reasonCode, description);
  }
  const reason = typeof description === 'string' ? description : '';
  validateCloseArguments(reasonCode, reason);
  this[dropNow](skipCloseFrame ? undefined : reasonCode, reason);
  return this;
}

function bridge(connection: WebSocketConnection): void {
  if (bridged.has(connection)) return;
  bridged.add(connection);
  connection.on('data', (chunk: string | Buffer | Frame | IncomingMessageStream) => {
    if (typeof chunk === 'string') connection.emit('message', { type: 'utf8', utf8Data: chunk });
    else if (Buffer.isBuffer(chunk))
      connection.emit('message', { type: 'binary', binaryData: chunk });
    else if (chunk instanceof IncomingMessageStream) {
      (connection as unknown as WebSocketConnection<IncomingMessageStream>).emit('message', chunk);
    } else connection.emit('frame', WebSocketFrame.from(chunk));
  });
}
