import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import { CliError } from './errors.js';
import { type Sink, writeAll } from './output.js';

/**
 * How bytes become messages and messages become bytes, in a pipe:
 * - 'lines': one text message per line in; a text message out is followed by a newline.
 * - 'binary': each chunk read is a binary message; messages out are written raw.
 * - 'message': all the input is one message; messages out are written raw.
 */
export type Framing = 'lines' | 'binary' | 'message';

/** The longest line kept in memory before the input is refused (use --message instead). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Splits bytes into lines, one string per line without its '\n'. UTF-8 sequences cut
 * across chunks are kept whole, and an unterminated last line is a message too.
 */
export class LineSplitter extends Transform {
  readonly #decoder = new StringDecoder('utf8');
  #partial = '';

  constructor() {
    super({ readableObjectMode: true, readableHighWaterMark: 256 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const lines = (this.#partial + this.#decoder.write(chunk)).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.push(line);
    if (this.#partial.length > MAX_LINE_BYTES) {
      callback(new CliError('a line is longer than 64 MiB: send it with --message or --binary'));
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.#partial + this.#decoder.end();
    this.#partial = '';
    if (rest !== '') this.push(rest);
    callback();
  }
}

/**
 * Turns an input stream into the messages it carries under a framing ('message' is sent
 * as one stream, and is not handled here): lines become strings, raw chunks Buffers.
 */
export function messagesOf(input: Readable, framing: 'lines' | 'binary'): Readable {
  if (framing === 'binary') return input;
  const splitter = new LineSplitter();
  input.on('error', (err) => splitter.destroy(err));
  return input.pipe(splitter);
}

/** A message as a connection reads it: whole (string or Buffer) or as a stream. */
export type ReceivedMessage = string | Buffer | IncomingMessageStream;

/** Tells whether a received message is binary. */
export function isBinary(message: ReceivedMessage): boolean {
  if (message instanceof IncomingMessageStream) return message.binary;
  return typeof message !== 'string';
}

/** Messages up to this size are taken whole from their stream, and handled in one write. */
export const SMALL_MESSAGE_BYTES = 64 * 1024;

const NEWLINE = Buffer.from('\n');

/**
 * Writes a received message to a sink with backpressure, undecorated: its bytes, then a
 * newline after a text message when the framing is 'lines'. A small message goes in one
 * write; a large one is copied chunk by chunk, so that a message larger than memory
 * passes through.
 */
export async function writeMessage(
  sink: Sink,
  message: ReceivedMessage,
  framing: Framing,
  onChunk: () => void = () => {},
): Promise<void> {
  const newline = framing === 'lines' && !isBinary(message);
  if (!(message instanceof IncomingMessageStream)) {
    const bytes = typeof message === 'string' ? Buffer.from(message) : message;
    await writeAll(sink, newline ? Buffer.concat([bytes, NEWLINE]) : bytes);
    return;
  }
  const head = await readHead(message, SMALL_MESSAGE_BYTES);
  if (head.ended) {
    await writeAll(sink, Buffer.concat(newline ? [...head.chunks, NEWLINE] : head.chunks));
    onChunk();
    return;
  }
  for (const chunk of head.chunks) await writeAll(sink, chunk);
  for await (const chunk of message) {
    await writeAll(sink, chunk as Buffer);
    onChunk();
  }
  if (newline) await writeAll(sink, NEWLINE);
}

/** The start of a message stream: all of it when `ended`. */
export interface MessageHead {
  chunks: Buffer[];
  size: number;
  ended: boolean;
}

/**
 * Reads a message stream until its end or until more than `limit` bytes have come, then
 * leaves it paused for whoever reads the rest. Most messages are small: this lets them
 * be handled whole (one write, no stream plumbing per message), and only large ones as
 * streams. Rejects when the message is cut short.
 */
export function readHead(message: IncomingMessageStream, limit: number): Promise<MessageHead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | undefined, ended: boolean): void => {
      if (!ended) message.pause();
      message.removeListener('data', onData);
      message.removeListener('end', onEnd);
      message.removeListener('error', onError);
      message.removeListener('close', onClose);
      if (error === undefined) resolve({ chunks, size, ended });
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) finish(undefined, false);
    };
    const onEnd = (): void => finish(undefined, true);
    const onError = (err: Error): void => finish(err, true);
    const onClose = (): void => finish(new Error('The message was cut short'), true);
    message.on('data', onData);
    message.once('end', onEnd);
    message.once('error', onError);
    message.once('close', onClose);
  });
}

/** What the interactive views show of a message: its type, size and first bytes. */
export interface MessageSummary {
  binary: boolean;
  size: number;
  /** The first bytes (at most the cap asked for). */
  head: Buffer;
}

/**
 * Reads a message to its end, keeping only its first `cap` bytes, so that a terminal
 * can show a message of any size without holding it.
 */
export async function summarize(message: ReceivedMessage, cap: number): Promise<MessageSummary> {
  if (!(message instanceof IncomingMessageStream)) {
    const bytes = typeof message === 'string' ? Buffer.from(message) : message;
    return { binary: isBinary(message), size: bytes.length, head: bytes.subarray(0, cap) };
  }
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    const bytes = chunk as Buffer;
    if (size < cap) kept.push(bytes.subarray(0, cap - size));
    size += bytes.length;
  }
  return { binary: message.binary, size, head: Buffer.concat(kept) };
}
