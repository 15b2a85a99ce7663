import type { ExtensionOffer } from '../protocol/header-parser.js';
import type { IncomingLimits, MessageCodec } from '../protocol/message-codec.js';

export type { IncomingLimits, MessageCodec } from '../protocol/message-codec.js';

/** What the connection tells an extension about an outgoing message. */
export interface OutgoingMessageInfo {
  binary: boolean;
  /** Payload length when the whole message is known; undefined for a message stream. */
  length: number | undefined;
  /** False when the application asked for this message to go out untransformed. */
  compress: boolean;
}

/**
 * An extension negotiated on one connection: it claims RSV bits and transforms message
 * payloads. `dispose()` is called exactly once: when the connection ends, by any path, or,
 * when a MessageAssembler still decodes the connection's raw frames with it, when that
 * assembler ends (see extension-holds.ts).
 *
 * @see RFC 6455 §9 (extensions), RFC 7692 (permessage-deflate, built on this interface)
 */
export interface Extension {
  /** The extension's registered name, as in Sec-WebSocket-Extensions. */
  readonly name: string;
  /** The RSV bits it uses, as a mask of `Rsv` values (RFC 7692 uses RSV1). */
  readonly rsv: number;
  /** The parameters agreed in the handshake (what the 101 carried). */
  readonly agreed: ExtensionOffer;
  /**
   * Returns a codec for an outgoing message, or undefined to send it as it is. When a codec
   * is returned, the message's first frame carries `rsv`.
   */
  outgoing(message: OutgoingMessageInfo): MessageCodec | undefined;
  /**
   * Returns a codec for an incoming message whose first frame had these RSV bits, or
   * undefined when none of them is this extension's. `maxMessageSize` bounds the
   * transformed size: the codec fails with 1009 as soon as it is crossed.
   */
  incoming(rsv: number, limits: IncomingLimits): MessageCodec | undefined;
  /** Frees what the extension holds (zlib contexts). */
  dispose(): void;
  /**
   * Optional: frees what the outgoing side holds, ahead of `dispose()`. Called when the
   * connection ends while a MessageAssembler still decodes its raw frames with this
   * extension; `dispose()` follows once the assembler is done with it.
   */
  disposeOutgoing?(): void;
}

/**
 * Takes part in the opening handshake for one extension: the client offers and checks the
 * answer, the server picks among the offers. Configured once, used for every handshake.
 *
 * @see RFC 6455 §9.1
 */
export interface ExtensionFactory {
  /** The extension's registered name. */
  readonly name: string;
  /** Client: the offers to send, in order of preference. */
  offer(): ExtensionOffer[];
  /** Client: builds the extension from the server's answer; throws HandshakeError when it is bad. */
  accept(answer: ExtensionOffer): Extension;
  /**
   * Server: picks among the client's offers of this extension (in the client's order of
   * preference); returns the answer for the 101 and the extension, or null to decline.
   */
  negotiate(
    offers: readonly ExtensionOffer[],
  ): { answer: ExtensionOffer; extension: Extension } | null;
}
