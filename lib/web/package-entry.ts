/**
 * websocket-duplex/web: the web's APIs on Node, over this library's connections. The
 * WHATWG WebSocket (with CloseEvent, which Node 20 lacks), WebSocketStream as Chromium
 * ships it, and WebSocketError; `toWebSocket` and `WebSocketStream.from` hand a server's
 * connections to code written for them.
 *
 * They are taken from the package itself, so that 'websocket-duplex' and
 * 'websocket-duplex/web' share one copy of every class (a connection from the server is the
 * connection these APIs know, an error is `instanceof` the class a user imports).
 */
export {
  type AddEventListenerOptionsShape,
  type BinaryType,
  type BufferSourceLike,
  CloseEvent,
  type CloseEventInit,
  type CloseEventShape,
  type EventInitShape,
  type EventListenerOptionsShape,
  type EventListenerShape,
  type ToWebSocketOptions,
  toWebSocket,
  WebSocket,
  type WebSocketCloseInfo,
  type WebSocketEventMap,
  type WebSocketInit,
  type WebSocketOpenInfo,
  type WebSocketSendData,
  type WebSocketShape,
  WebSocketStream,
  type WebSocketStreamChunk,
  WebSocketStreamError as WebSocketError,
  type WebSocketStreamOptions,
  type WebSocketStreamWritableChunk,
} from 'websocket-duplex';
