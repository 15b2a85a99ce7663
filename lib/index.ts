/**
 * websocket-duplex: an RFC 6455 WebSocket client and server for Node.js in which
 * everything is a stream. Public exports only.
 */

export { type BroadcastOptions, broadcast } from './broadcast.js';
export { type ClientOptions, connect, MAX_BODY_EXCERPT, WebSocketClient } from './client.js';
export { client, connection, frame, request, router, server } from './compat/seed.js';
export {
  WebSocketFrame,
  type WebSocketFrameConfig,
  type WebSocketFrameFromOptions,
} from './compat/websocket-frame.js';
export {
  type CloseMessage,
  DiagnosticsChannel,
  type DiagnosticsRole,
  type ErrorMessage,
  type HandshakeEndMessage,
  type HandshakeStartMessage,
  type OpenMessage,
  type TrafficCounts,
} from './diagnostics.js';
export type {
  Extension,
  ExtensionFactory,
  MessageCodec,
  OutgoingMessageInfo,
} from './extensions/extension.js';
export type { ExtensionOptions } from './extensions/negotiation.js';
export {
  PerMessageDeflate,
  type PerMessageDeflateConfig,
} from './extensions/permessage-deflate.js';
export type { ProxyOption } from './handshake/proxy.js';
export { CloseCode, isSendableCloseCode, isValidWireCloseCode } from './protocol/close-codes.js';
export { encodeClosePayload, parseClosePayload } from './protocol/close-payload.js';
export {
  ConnectionClosedError,
  closeCodeFor,
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
  ProtocolError,
  WebSocketError,
} from './protocol/errors.js';
export { createFrame, type Frame, type FrameHeader, type Role } from './protocol/frame.js';
export {
  type DecoderEvent,
  FrameDecoder,
  type FrameDecoderOptions,
} from './protocol/frame-decoder.js';
export { encodeFrame, encodeFrameHeader } from './protocol/frame-encoder.js';
export type { ExtensionOffer, ExtensionParam } from './protocol/header-parser.js';
export { generateMaskKey, mask, unmask } from './protocol/mask.js';
export { isControlOpcode, Opcode, Rsv } from './protocol/opcodes.js';
export { Utf8Validator } from './protocol/utf8-validator.js';
export {
  type RouteHandler,
  type RoutePath,
  type RouteProtocol,
  type RouterCookie,
  WebSocketRouter,
  type WebSocketRouterOptions,
  WebSocketRouterRequest,
} from './router.js';
export {
  type AllowedOrigins,
  type BroadcastRelay,
  Http2ConnectRequest,
  type Http2ServerLike,
  type HttpServerLike,
  type ShutDownOptions,
  type UpgradeCallback,
  WebSocketRequest,
  type WebSocketRequestState,
  WebSocketServer,
  type WebSocketServerEvents,
  type WebSocketServerOptions,
} from './server.js';
export type { ConnectionInit, ConnectionOptions } from './stream/connection-options.js';
export { CONNECTION_DEFAULTS } from './stream/connection-options.js';
export type { FragmentationOptions } from './stream/fragmentation-options.js';
export { FrameParser, type FrameParserOptions } from './stream/frame-parser.js';
export { FrameSerializer, type FrameSerializerOptions } from './stream/frame-serializer.js';
export { IncomingMessageStream } from './stream/incoming-message-stream.js';
export {
  type Message,
  MessageAssembler,
  type MessageAssemblerOptions,
} from './stream/message-assembler.js';
export { MessageFragmenter, type MessageFragmenterOptions } from './stream/message-fragmenter.js';
export { MessageStreamer, type MessageStreamerOptions } from './stream/message-streamer.js';
export {
  OutgoingMessageStream,
  type OutgoingMessageStreamOptions,
} from './stream/outgoing-message-stream.js';
export {
  type IncomingChunk,
  type MessageStreamOptions,
  type SendOptions,
  type Transport,
  WebSocketConnection,
} from './stream/websocket-connection.js';
// The web's APIs, also from 'websocket-duplex/web' (where WebSocketStreamError has its
// standard name, WebSocketError, which here is the root error class of this library).
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
  WebSocketError as WebSocketStreamError,
  type WebSocketEventMap,
  type WebSocketInit,
  type WebSocketOpenInfo,
  type WebSocketSendData,
  type WebSocketShape,
  WebSocketStream,
  type WebSocketStreamChunk,
  type WebSocketStreamOptions,
  type WebSocketStreamWritableChunk,
} from './web/index.js';
