/**
 * The core library as the backplane sees it. Everything in lib/redis/ takes the core from
 * here, and this takes it from the package itself (`websocket-duplex`, external to the
 * build), so that the backplane shares the core's classes (`instanceof` of an error, a
 * server, a connection) instead of bundling copies of them.
 */
export {
  type BroadcastOptions,
  type BroadcastRelay,
  broadcast,
  CloseCode,
  ErrorCode,
  InvalidArgumentError,
  WebSocketConnection,
  WebSocketError,
  type WebSocketServer,
} from 'websocket-duplex';
