import zlib from 'node:zlib';
import {
  ConnectionClosedError,
  ErrorCode,
  ProtocolError,
  WebSocketError,
} from '../protocol/errors.js';
import type { Role } from '../protocol/frame.js';
import type { ExtensionOffer } from '../protocol/header-parser.js';
import { Rsv } from '../protocol/opcodes.js';
import {
  type DeflateAgreement,
  PERMESSAGE_DEFLATE,
} from '../protocol/permessage-deflate-params.js';
import type { Extension, IncomingLimits, MessageCodec, OutgoingMessageInfo } from './extension.js';
import type { ZlibLimiter } from './zlib-limiter.js';

/**
 * The runtime of permessage-deflate on one connection: a raw deflater for what we send, a
 * raw inflater for what we receive, each a zlib stream kept across messages (context
 * takeover, RFC 7692 §7.1.1) and driven one piece at a time.
 *
 * Every piece is written with Z_SYNC_FLUSH as the stream's default flush, so a piece costs
 * one trip to the thread pool rather than a write and a flush (ws makes two), and its
 * output ends on a byte boundary with an empty stored block, 00 00 ff ff (RFC 7692 §7.2.1).
 */

/** The tail of a sync flush, removed by the sender and restored by the receiver. @see RFC 7692 §7.2.1, §7.2.2 */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** A whole compressed payload of an empty message: one empty stored block's header. @see RFC 7692 §7.2.3.6 */
const EMPTY_BLOCK = Buffer.from([0x00]);

/** The smallest window Node's raw deflate really uses (see permessage-deflate-params). */
const MIN_DEFLATE_WINDOW_BITS = 9;

/** We inflate with the largest window, whatever was agreed: always safe, one size. */
const INFLATE_WINDOW_BITS = 15;

/** How the negotiated extension compresses, fixed by the factory's configuration. */
export interface DeflateSettings {
  /** Messages of a known length below this go out uncompressed. */
  threshold: number;
  /** zlib compression level, -1 (zlib's default, 6) to 9. */
  level: number;
  /** zlib memLevel, 1..9: memory of the deflater's hash tables. */
  memLevel: number;
  /** Bounds the zlib jobs running at once across the process. */
  limiter: ZlibLimiter;
}

type ZlibStream = zlib.DeflateRaw | zlib.InflateRaw;

/** What one pass of one piece through a zlib stream reports to its codec. */
interface Pass {
  /** The buffers to write, in order; all are processed before the pass ends. */
  readonly chunks: readonly Buffer[];
  /** Takes one output chunk as zlib produces it; returns an error to stop zlib at once. */
  data(chunk: Buffer): Error | undefined;
  /** Ends the pass, exactly once: null when zlib processed everything written. */
  end(err: Error | null): void;
}

/** Makes the error an in-flight or later pass ends with once the extension is disposed. */
function disposedError(): ConnectionClosedError {
  return new ConnectionClosedError('permessage-deflate was disposed while a message was in flight');
}

/**
 * Drives one zlib stream of one connection, opened lazily on the first pass (an idle connection
 * holds no zlib memory) and fed one pass at a time in call order: a context's history is
 * its sequence of messages, so passes must never overlap. Each pass takes a slot of the
 * process-wide limiter while it runs. After a failure or `dispose()` every later pass ends
 * with that error: a context that lost its history cannot decode the next message.
 */
class ZlibContext {
  readonly #open: () => ZlibStream;
  readonly #mapError: (err: Error) => Error;
  readonly #limiter: ZlibLimiter;
  #stream: ZlibStream | null = null;
  /** Bytes written to `#stream`, to tell whether zlib consumed all of them. */
  #written = 0;
  /** The pass taken from the queue (waiting for its limiter slot, or running). */
  #current: Pass | null = null;
  #release: (() => void) | null = null;
  #queue: Pass[] = [];
  #failure: Error | null = null;
  /** Set by dispose; its error is made only for a pass that needs one (a stack costs ~1 KiB). */
  #disposed = false;

  constructor(open: () => ZlibStream, mapError: (err: Error) => Error, limiter: ZlibLimiter) {
    this.#open = open;
    this.#mapError = mapError;
    this.#limiter = limiter;
  }

  /** Queues a pass; it runs once the passes before it ended and a limiter slot is free. */
  run(pass: Pass): void {
    this.#queue.push(pass);
    if (this.#current === null) this.#next();
  }

  /** Tells whether zlib consumed every byte written: false once a final block ended the stream. */
  consumedAll(): boolean {
    return this.#stream !== null && this.#stream.bytesWritten === this.#written;
  }

  /** Forgets the history, keeping the memory: for no context takeover. @see RFC 7692 §7.1.1 */
  reset(): void {
    this.#stream?.reset();
  }

  /** Closes the stream, so the next pass opens a fresh one; not a failure. */
  restart(): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    this.#written = 0;
    stream.close();
  }

  /** Frees zlib memory now; ends the pass in flight and all queued ones. Idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.restart();
    const queued = this.#queue.splice(0);
    if (this.#current === null && queued.length === 0) return;
    const err = this.#error()!;
    this.#finish(err);
    for (const pass of queued) pass.end(err);
  }

  /** Gives the error every pass now ends with, or null while the context is usable. */
  #error(): Error | null {
    if (this.#failure === null && this.#disposed) this.#failure = disposedError();
    return this.#failure;
  }

  /** Takes the next pass from the queue and asks the limiter for its slot. */
  #next(): void {
    const pass = this.#queue.shift();
    if (pass === undefined) return;
    this.#current = pass;
    this.#limiter.run((release) => {
      // Ended (disposed) while it waited for the slot: give the slot straight back.
      if (this.#current !== pass) {
        release();
        return;
      }
      this.#release = release;
      this.#start(pass);
    });
  }

  /** Writes the pass's chunks, opening the stream if needed; the last write's callback ends it. */
  #start(pass: Pass): void {
    const failure = this.#error();
    if (failure !== null) {
      this.#finish(failure);
      return;
    }
    const stream = this.#stream ?? this.#create();
    const last = pass.chunks.length - 1;
    pass.chunks.forEach((chunk, i) => {
      // zlib drops an empty write right after a flush as a repeated flush (deflate.c,
      // Z_BUF_ERROR); a Z_NO_FLUSH first makes the sync flush emit its empty block.
      if (chunk.length === 0) stream.flush(zlib.constants.Z_NO_FLUSH);
      this.#written += chunk.length;
      if (i < last) stream.write(chunk);
      else stream.write(chunk, (err) => this.#afterWrite(stream, pass, err));
    });
  }

  /** Ends the pass once zlib processed its last write, unless something ended it first. */
  #afterWrite(stream: ZlibStream, pass: Pass, err: Error | null | undefined): void {
    if (this.#current !== pass) return;
    if (err == null && !stream.destroyed) this.#finish(null);
    else this.#finish(this.#mapError(err ?? new Error('zlib stream closed')));
  }

  /** Opens the zlib stream and routes its output and errors to whatever pass is current. */
  #create(): ZlibStream {
    const stream = this.#open();
    stream.on('data', (chunk: Buffer) => this.#onData(stream, chunk));
    // Never removed: a late error from a stream we closed must not go unhandled.
    stream.on('error', (err: Error) => this.#onError(stream, err));
    this.#stream = stream;
    this.#written = 0;
    return stream;
  }

  /** Hands a chunk to the current pass; stops zlib at once if the pass refuses it. */
  #onData(stream: ZlibStream, chunk: Buffer): void {
    const pass = this.#current;
    if (stream !== this.#stream || pass === null) return;
    const err = pass.data(chunk);
    if (err !== undefined) this.#finish(err);
  }

  /** Fails the current pass (or the context, between passes) with zlib's error, mapped. */
  #onError(stream: ZlibStream, err: Error): void {
    if (stream !== this.#stream) return;
    // zlib has destroyed the stream itself, and the write in flight never calls back.
    this.#stream = null;
    const mapped = this.#mapError(err);
    if (this.#current !== null) this.#finish(mapped);
    else this.#failure ??= mapped;
  }

  /**
   * Ends the current pass: on error the stream is closed at once (zlib stops at the next
   * chunk boundary, which is what bounds an inflation bomb) and the context is failed.
   * The slot goes back before the codec hears, so that queued work elsewhere moves on.
   */
  #finish(err: Error | null): void {
    const pass = this.#current;
    if (pass === null) return;
    this.#current = null;
    if (err !== null) {
      this.#failure ??= err;
      this.restart();
    }
    const release = this.#release;
    this.#release = null;
    release?.();
    pass.end(err);
    if (this.#current === null) this.#next();
  }
}

/**
 * Compresses one outgoing message, piece by piece, through the connection's deflater.
 * Output flows as zlib makes it, except that the last piece's output is held back one
 * chunk so the trailing 00 00 ff ff can be removed (RFC 7692 §7.2.1).
 */
class DeflateCodec implements MessageCodec {
  readonly #context: ZlibContext;
  readonly #noContextTakeover: boolean;
  /** Output of the last piece not yet handed out; always holds the last 4 bytes seen. */
  #held: Buffer | null = null;
  /** Bytes handed out for this message. */
  #sent = 0;

  constructor(context: ZlibContext, noContextTakeover: boolean) {
    this.#context = context;
    this.#noContextTakeover = noContextTakeover;
  }

  transform(
    piece: Buffer,
    last: boolean,
    output: (chunk: Buffer) => void,
    done: (err?: Error | null) => void,
  ): void {
    if (piece.length === 0 && !last) {
      done();
      return;
    }
    const send = (chunk: Buffer): void => {
      this.#sent += chunk.length;
      output(chunk);
    };
    this.#context.run({
      chunks: [piece],
      data: (chunk) => {
        if (last) this.#hold(chunk, send);
        else send(chunk);
        return undefined;
      },
      end: (err) => done(err ?? (last ? this.#finishMessage(send) : null)),
    });
  }

  /** Hands out the previous chunk once the held bytes are enough to contain the trailer. */
  #hold(chunk: Buffer, send: (chunk: Buffer) => void): void {
    const held = this.#held;
    if (held === null) this.#held = chunk;
    else if (chunk.length >= TRAILER.length) {
      send(held);
      this.#held = chunk;
    } else this.#held = Buffer.concat([held, chunk]);
  }

  /** Removes the trailer and hands out the rest; resets the deflater if so agreed. */
  #finishMessage(send: (chunk: Buffer) => void): Error | null {
    const held = this.#held ?? Buffer.alloc(0);
    this.#held = null;
    const cut = held.length - TRAILER.length;
    if (cut < 0 || !held.subarray(cut).equals(TRAILER)) {
      return new WebSocketError(
        ErrorCode.Internal,
        'zlib did not end the message with an empty stored block',
      );
    }
    if (cut > 0) send(held.subarray(0, cut));
    // Never an empty payload: the peer would read the trailer it appends as a block header.
    else if (this.#sent === 0) send(EMPTY_BLOCK);
    if (this.#noContextTakeover) this.#context.reset();
    return null;
  }
}

/**
 * Decompresses one incoming message, piece by piece, through the connection's inflater,
 * counting what it produces so that it stops the moment `maxMessageSize` is crossed.
 */
class InflateCodec implements MessageCodec {
  readonly #context: ZlibContext;
  readonly #maxMessageSize: number;
  readonly #maxMessageSizeOption: string;
  #total = 0;
  /** Compressed bytes of this message received so far. */
  #received = 0;
  /** The sender ended its DEFLATE stream (BFINAL) within this message. */
  #ended = false;

  constructor(context: ZlibContext, limits: IncomingLimits) {
    this.#context = context;
    this.#maxMessageSize = limits.maxMessageSize;
    this.#maxMessageSizeOption = limits.maxMessageSizeOption ?? 'maxMessageSize';
  }

  transform(
    piece: Buffer,
    last: boolean,
    output: (chunk: Buffer) => void,
    done: (err?: Error | null) => void,
  ): void {
    this.#received += piece.length;
    if (this.#ended || (piece.length === 0 && !last)) {
      this.#skip(last, done);
      return;
    }
    if (last && this.#received === 0) {
      // An empty compressed message: the sender's compressor wrote nothing (zlib skips a
      // repeated sync flush), so neither may ours read anything. The trailer alone is not
      // an empty block: zlib would take it for the start of a 65,280-byte stored block
      // and swallow the next messages.
      done();
      return;
    }
    this.#context.run({
      chunks: [piece],
      data: (chunk) => this.#count(chunk, output),
      end: (err) => {
        if (err === null) this.#checkEnded(last);
        if (err !== null || !last || this.#ended) done(err);
        else this.#endMessage(done);
      },
    });
  }

  /**
   * Feeds the trailer the sender removed (RFC 7692 §7.2.2) on its own: after a complete
   * message it is the LEN/NLEN of an empty stored block and yields nothing. Anything it
   * yields means the message stopped inside a block, and zlib would take the next
   * message's bytes as the rest of it: the data is corrupt (1002).
   */
  #endMessage(done: (err?: Error | null) => void): void {
    this.#context.run({
      chunks: [TRAILER],
      data: () =>
        new ProtocolError(
          ErrorCode.ExtensionFailed,
          'Invalid compressed data: the message ends inside a DEFLATE block',
        ),
      end: (err) => {
        // A message that ended with a final block leaves the trailer unread: restart.
        if (err === null) this.#checkEnded(true);
        done(err);
      },
    });
  }

  /**
   * Ignores a piece zlib has nothing to do with: an empty one, or bytes after the final
   * block, which a DEFLATE decoder never reads (RFC 1951 §3.2.3). @see RFC 7692 §7.2.3.4
   */
  #skip(last: boolean, done: (err?: Error | null) => void): void {
    if (last && this.#ended) this.#context.restart();
    done();
  }

  /** Passes a chunk on, or refuses it when it takes the message past the limit. */
  #count(chunk: Buffer, output: (chunk: Buffer) => void): Error | undefined {
    this.#total += chunk.length;
    if (this.#total > this.#maxMessageSize) {
      return new ProtocolError(
        ErrorCode.MessageTooLarge,
        `Decompressed message exceeds ${this.#maxMessageSizeOption} (${this.#maxMessageSize} bytes)`,
      );
    }
    output(chunk);
    return undefined;
  }

  /**
   * Notices a final block (BFINAL, RFC 7692 §7.2.3.4): zlib then leaves input unread and
   * would silently swallow every later message, so the message's remaining pieces are
   * skipped and the next message gets a fresh inflater, there being no history to take over.
   */
  #checkEnded(last: boolean): void {
    if (this.#context.consumedAll()) return;
    this.#ended = true;
    if (last) this.#context.restart();
  }
}

/** Maps a zlib failure on incoming data: the peer sent what is not DEFLATE. */
function inflateError(err: Error): Error {
  if (err instanceof WebSocketError) return err;
  return new ProtocolError(ErrorCode.ExtensionFailed, `Invalid compressed data: ${err.message}`, {
    cause: err,
  });
}

/** Maps a zlib failure while compressing: ours, never the peer's, so an internal error. */
function deflateError(err: Error): Error {
  if (err instanceof WebSocketError) return err;
  return new WebSocketError(ErrorCode.Internal, 'Compression failed', { cause: err });
}

/**
 * Makes the context we compress with: our side's agreed window, raised to the 9 bits zlib
 * really uses (an agreed 8 stays safe, see permessage-deflate-params). @see RFC 7692 §7.1.2
 */
function deflateContext(windowBits: number, settings: DeflateSettings): ZlibContext {
  const options: zlib.ZlibOptions = {
    windowBits: Math.max(MIN_DEFLATE_WINDOW_BITS, windowBits),
    memLevel: settings.memLevel,
    level: settings.level,
    flush: zlib.constants.Z_SYNC_FLUSH,
  };
  return new ZlibContext(() => zlib.createDeflateRaw(options), deflateError, settings.limiter);
}

/** Makes the context we decompress with: always a 15-bit window, whatever was agreed. */
function inflateContext(limiter: ZlibLimiter): ZlibContext {
  const options: zlib.ZlibOptions = {
    windowBits: INFLATE_WINDOW_BITS,
    flush: zlib.constants.Z_SYNC_FLUSH,
  };
  return new ZlibContext(() => zlib.createInflateRaw(options), inflateError, limiter);
}

/**
 * Runs permessage-deflate as negotiated on one connection (RFC 7692 §7): compresses
 * outgoing messages with our side's agreed window and context mode, decompresses incoming
 * ones.
 * zlib contexts are created on first use and freed by `dispose()`.
 *
 * Corrupt compressed data fails the connection with 1002 (ERR_WS_EXTENSION_FAILED): RFC
 * 7692 names no code, and the peer broke the extension's framing rather than sent data
 * inconsistent with the message type (1007, which ws uses). python-websockets also sends
 * 1002. A decompressed message past `maxMessageSize` fails with 1009 the moment it is
 * crossed, having handed out at most `maxMessageSize` bytes.
 */
export class DeflateExtension implements Extension {
  readonly name: string = PERMESSAGE_DEFLATE;
  readonly rsv: number = Rsv.Rsv1;
  readonly agreed: ExtensionOffer;
  readonly #threshold: number;
  readonly #noContextTakeover: boolean;
  readonly #deflate: ZlibContext;
  readonly #inflate: ZlibContext;

  constructor(
    agreement: DeflateAgreement,
    agreed: ExtensionOffer,
    role: Role,
    settings: DeflateSettings,
  ) {
    this.agreed = agreed;
    this.#threshold = settings.threshold;
    const server = role === 'server';
    this.#noContextTakeover = server
      ? agreement.serverNoContextTakeover
      : agreement.clientNoContextTakeover;
    const windowBits = server ? agreement.serverMaxWindowBits : agreement.clientMaxWindowBits;
    this.#deflate = deflateContext(windowBits, settings);
    this.#inflate = inflateContext(settings.limiter);
  }

  /**
   * Returns a compressing codec, or undefined for a message the application marked not
   * to compress or one too short to gain (below the threshold). Small messages cost more
   * CPU than they save bytes; a message stream, of unknown length, is always compressed.
   */
  outgoing(message: OutgoingMessageInfo): MessageCodec | undefined {
    if (!message.compress) return undefined;
    if (message.length !== undefined && message.length < this.#threshold) return undefined;
    return new DeflateCodec(this.#deflate, this.#noContextTakeover);
  }

  /**
   * Returns a decompressing codec when the first frame has RSV1 set: that bit, and only on
   * a message's first frame, marks it compressed. @see RFC 7692 §6, §6.1
   */
  incoming(rsv: number, limits: IncomingLimits): MessageCodec | undefined {
    if ((rsv & Rsv.Rsv1) === 0) return undefined;
    return new InflateCodec(this.#inflate, limits);
  }

  /** Frees the deflater now (the connection sends no more); the inflater stays usable. */
  disposeOutgoing(): void {
    this.#deflate.dispose();
  }

  /** Frees both zlib contexts now; a pass in flight ends with ConnectionClosedError. */
  dispose(): void {
    this.#deflate.dispose();
    this.#inflate.dispose();
  }
}
