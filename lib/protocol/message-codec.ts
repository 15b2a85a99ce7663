/**
 * Transforms the payload of ONE message, piece by piece, so that a message is never held
 * whole by an extension: compression on the way out, decompression on the way in. The
 * protocol core hands payloads to a codec without knowing what it does (an extension
 * supplies it, RFC 6455 §9), which is why the interface lives here, below the extensions.
 *
 * @see RFC 6455 §9 (extensions), RFC 7692 §6 (permessage-deflate, the codec we ship)
 */
export interface MessageCodec {
  /**
   * Transforms the next piece of the message. Output goes to `output` as it is produced
   * (in any number of pieces, possibly none); `done` is called once the piece is fully
   * processed, and only then is the next piece given. `last` marks the message's final
   * piece (it may be empty). An error passed to `done` fails the connection with the
   * error's close code (see closeCodeFor).
   */
  transform(
    piece: Buffer,
    last: boolean,
    output: (chunk: Buffer) => void,
    done: (err?: Error | null) => void,
  ): void;
}

/** The limit an incoming codec enforces on what it produces (the decoded message). */
export interface IncomingLimits {
  /** Largest decoded message, in bytes: the codec fails with 1009 as soon as it is crossed. */
  maxMessageSize: number;
  /** The option that set it, named in the error. */
  maxMessageSizeOption?: string;
}
