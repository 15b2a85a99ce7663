/**
 * The plain TCP ceiling of the benchmark suite: messages framed by a 4-byte big-endian
 * length prefix, with none of WebSocket's work (no masking, no UTF-8, no handshake). The
 * echo server finds message boundaries and sends back each complete message as it came,
 * store and forward like a WebSocket echo, without copying; the client gets whole messages.
 */

/** Bytes of the length prefix. */
export const PREFIX_BYTES = 4;

/**
 * Splits a byte stream at message boundaries: `push()` returns the bytes of the messages
 * completed by a chunk (prefixes included, as slices of the chunks, in order), and keeps
 * the bytes of an incomplete message until it completes.
 */
export class MessageBoundarySplitter {
  #pending: Buffer[] = [];
  readonly #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixHave = 0;
  /** Payload bytes still to come of the current message; -1 while reading a prefix. */
  #remaining = -1;

  push(chunk: Buffer): Buffer[] {
    let pos = 0;
    let readyEnd = 0;
    while (pos < chunk.length) {
      if (this.#remaining < 0) {
        const take = Math.min(PREFIX_BYTES - this.#prefixHave, chunk.length - pos);
        chunk.copy(this.#prefix, this.#prefixHave, pos, pos + take);
        this.#prefixHave += take;
        pos += take;
        if (this.#prefixHave < PREFIX_BYTES) break;
        this.#prefixHave = 0;
        this.#remaining = this.#prefix.readUInt32BE(0);
      }
      const take = Math.min(this.#remaining, chunk.length - pos);
      pos += take;
      this.#remaining -= take;
      if (this.#remaining === 0) {
        this.#remaining = -1;
        readyEnd = pos;
      }
    }
    if (readyEnd === 0) {
      this.#pending.push(chunk);
      return [];
    }
    const ready = this.#pending;
    ready.push(readyEnd === chunk.length ? chunk : chunk.subarray(0, readyEnd));
    this.#pending = readyEnd === chunk.length ? [] : [chunk.subarray(readyEnd)];
    return ready;
  }
}

/**
 * Parses a byte stream into whole messages (payloads without their prefix): a payload
 * within one chunk is a view of it, one spread over chunks is gathered into one buffer.
 */
export class MessageParser {
  readonly #onMessage: (payload: Buffer) => void;
  readonly #prefix = Buffer.alloc(PREFIX_BYTES);
  #prefixHave = 0;
  #parts: Buffer[] = [];
  #have = 0;
  /** Payload length of the current message; -1 while reading a prefix. */
  #length = -1;

  constructor(onMessage: (payload: Buffer) => void) {
    this.#onMessage = onMessage;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#length < 0) {
        const take = Math.min(PREFIX_BYTES - this.#prefixHave, chunk.length - pos);
        chunk.copy(this.#prefix, this.#prefixHave, pos, pos + take);
        this.#prefixHave += take;
        pos += take;
        if (this.#prefixHave < PREFIX_BYTES) return;
        this.#prefixHave = 0;
        this.#length = this.#prefix.readUInt32BE(0);
        this.#have = 0;
      }
      const take = Math.min(this.#length - this.#have, chunk.length - pos);
      if (take > 0) this.#parts.push(chunk.subarray(pos, pos + take));
      pos += take;
      this.#have += take;
      if (this.#have === this.#length) {
        const parts = this.#parts;
        this.#parts = [];
        this.#length = -1;
        const payload = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#have);
        this.#onMessage(payload);
      }
    }
  }
}

/** Returns the 4-byte prefix of a payload of `length` bytes. */
export function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.allocUnsafe(PREFIX_BYTES);
  prefix.writeUInt32BE(length, 0);
  return prefix;
}
