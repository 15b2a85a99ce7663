/**
 * The core library as the backplane sees it. Everything in lib/redis/ takes the core from
 * here, so that the build can point this one import at the published package
 * (`websocket-duplex`) and the backplane shares the core's classes (`instanceof` of an
 * error, a server, a connection) instead of bundling copies of them.
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
} from '../index.js';
