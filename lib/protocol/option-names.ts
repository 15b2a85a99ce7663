import { InvalidArgumentError } from './errors.js';

/**
 * Options that ws (and other WebSocket libraries) have and this library spells otherwise,
 * or does not need: given one of them, the error says what to use instead, so that a ws
 * habit fails loudly on the first run rather than being ignored (an authentication check
 * silently skipped, a limit silently not applied).
 */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  maxPayload:
    'maxReceivedMessageSize (bytes of a message held whole) or maxReceivedFrameSize (one frame)',
  verifyClient:
    "the 'request' event (accept or reject each handshake, asynchronously if need be) or allowedOrigins",
  handleProtocols: 'protocols (a list, or a function choosing among the requested ones)',
  server: 'httpServer',
  clientTracking: 'nothing: a server always tracks its connections (wss.clients)',
  skipUTF8Validation: 'nothing: text is always validated (RFC 6455 §8.1)',
  autoPong: 'nothing: pings are always answered (RFC 6455 §5.5.2)',
  protocolVersion: 'nothing: 13 is the only version (RFC 6455)',
  allowSynchronousEvents: 'nothing: messages are read as a stream',
  binaryType: 'nothing: binary messages are Buffers (the WHATWG WebSocket has binaryType)',
  fragmentThreshold: 'fragmentationThreshold',
  maxFrameSize: 'maxReceivedFrameSize',
  maxMessageSize: 'maxReceivedMessageSize',
  protocol: 'protocols',
  subprotocols: 'protocols',
  compression: 'perMessageDeflate',
};

/**
 * Refuses option names that `where` does not take, naming the equivalent for a known
 * habit. Undefined values are refused too: a misspelt name is a mistake whatever its value.
 *
 * @throws InvalidArgumentError
 * @example checkOptionNames({ maxPayload: 1 }, ['maxReceivedMessageSize'], 'WebSocketServer')
 * // throws: WebSocketServer has no option maxPayload: use maxReceivedMessageSize (...)
 */
export function checkOptionNames(options: object, known: readonly string[], where: string): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue;
    const other = OTHER_NAMES[name];
    throw new InvalidArgumentError(
      other === undefined
        ? `${where} has no option ${JSON.stringify(name)}`
        : `${where} has no option ${name}: use ${other}`,
    );
  }
}
