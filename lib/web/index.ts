/**
 * websocket-duplex/web: the web's APIs on Node, over this library's connections. The
 * WHATWG WebSocket (with CloseEvent, which Node 20 lacks), WebSocketStream as Chromium
 * ships it, and WebSocketError; `toWebSocket` and `WebSocketStream.from` hand a server's
 * connections to code written for them. Public exports only.
 */

export { CloseEvent, type CloseEventInit, type CloseEventShape } from './close-event.js';
export type {
  AddEventListenerOptionsShape,
  EventInitShape,
  EventListenerOptionsShape,
  EventListenerShape,
} from './event-types.js';
export type { BufferSourceLike } from './web-idl.js';
export {
  type BinaryType,
  type ToWebSocketOptions,
  toWebSocket,
  WebSocket,
  type WebSocketEventMap,
  type WebSocketInit,
  type WebSocketSendData,
  type WebSocketShape,
} from './web-socket.js';
export { type WebSocketCloseInfo, WebSocketError } from './web-socket-error.js';
export {
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamChunk,
  type WebSocketStreamOptions,
  type WebSocketStreamWritableChunk,
} from './web-socket-stream.js';
