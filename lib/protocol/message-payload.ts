/**
 * What an application may send as a message, and how each kind goes on the wire: a string
 * as a text message (UTF-8), bytes (a Buffer, any typed array or DataView, an ArrayBuffer)
 * as a binary one, viewed and never copied. WebSocket-Node's received message objects
 * (`{ type: 'utf8', utf8Data }`, `{ type: 'binary', binaryData }`) are taken too, as
 * their data and type, so that `ws.on('message', (m) => ws.send(m))` echoes what came.
 *
 * @see RFC 6455 §5.6 (data frames: text is UTF-8, binary is the application's)
 */

/** What an application may send as a message: a string (text) or bytes (binary). */
export type OutgoingMessage = string | BinaryData;

/** Bytes an application may send as a binary message. */
export type BinaryData = Uint8Array | ArrayBuffer | ArrayBufferView;

/** WebSocket-Node's message objects, as 'message' events hand them out. */
export type SeedMessage =
  | { type: 'utf8'; utf8Data: string }
  | { type: 'binary'; binaryData: Buffer };

/** A message payload and its type. */
export interface MessagePayload {
  payload: Buffer;
  binary: boolean;
}

/** Views bytes as a Buffer without copying. */
export function toBuffer(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes instanceof ArrayBuffer) return Buffer.from(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Gives a message's payload and type.
 *
 * @throws TypeError (code ERR_INVALID_ARG_TYPE) for anything that is not a message: a plain
 *   object is refused rather than sent as "[object Object]".
 * @example messagePayload('hi'); // { payload: <Buffer 68 69>, binary: false }
 */
export function messagePayload(message: unknown): MessagePayload {
  if (typeof message === 'string') return { payload: Buffer.from(message, 'utf8'), binary: false };
  const bytes = asBytes(message);
  if (bytes !== undefined) return { payload: bytes, binary: true };
  if (isSeedMessage(message)) {
    return message.type === 'utf8'
      ? { payload: Buffer.from(message.utf8Data, 'utf8'), binary: false }
      : { payload: message.binaryData, binary: true };
  }
  throw invalidMessage(message);
}

/** Views any kind of bytes as a Buffer; undefined for what is not bytes. */
export function asBytes(value: unknown): Buffer | undefined {
  if (value instanceof Uint8Array) return toBuffer(value);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return toBuffer(value);
  return undefined;
}

/** Tells whether a value is one of WebSocket-Node's message objects. */
export function isSeedMessage(value: unknown): value is SeedMessage {
  if (value === null || typeof value !== 'object') return false;
  const message = value as { type?: unknown; utf8Data?: unknown; binaryData?: unknown };
  return (
    (message.type === 'utf8' && typeof message.utf8Data === 'string') ||
    (message.type === 'binary' && Buffer.isBuffer(message.binaryData))
  );
}

/** The error for a value that is not a message, naming what is accepted. */
export function invalidMessage(value: unknown): TypeError {
  const err = new TypeError(
    `A message is a string (text) or bytes: a Buffer, typed array, DataView or ArrayBuffer (binary); got ${describe(value)}`,
  );
  (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return typeof value;
}
