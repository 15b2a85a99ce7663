import type { Readable } from 'node:stream';
import type { Frame } from '../protocol/frame.js';
import type { BinaryData, SeedMessage } from '../protocol/message-payload.js';
import type { IncomingMessageStream } from './incoming-message-stream.js';

/** A whole message as a connection reads it: a string for text, a Buffer for binary. */
export type Message = string | Buffer;

/** What a connection reads, in each receive mode: messages, message streams, or raw Frames. */
export type Incoming = Message | IncomingMessageStream | Frame;

/**
 * What a connection made with these options reads: a Frame with `assembleFragments:
 * false`, an IncomingMessageStream with `messageStreams: true`, else a string (text) or a
 * Buffer (binary). Servers, clients and connect() infer it from their options' literal type.
 *
 * @example type T = IncomingOf<{ messageStreams: true }>; // IncomingMessageStream
 */
export type IncomingOf<O> = O extends { assembleFragments: false }
  ? Frame
  : O extends { messageStreams: true }
    ? IncomingMessageStream
    : Message;

/** What write() takes: a message (a string is text, bytes are binary); Frames too in raw mode. */
export type Outgoing<In> = In extends Frame ? Frame | string | BinaryData : string | BinaryData;

/** WebSocket-Node's frame, as 'frame' events hand it out in raw mode (compat's WebSocketFrame). */
export interface SeedFrame extends Frame {
  /** The payload; for a Close frame, the reason bytes only (the code is in closeStatus). */
  binaryPayload: Buffer | undefined;
  /** The payload's length. */
  readonly length: number;
  /** Whether toBuffer() masks it. */
  mask: boolean;
  /** A Close frame's status code; -1 for none. */
  closeStatus: number;
  /** The frame's bytes on the wire. */
  toBuffer(nullMask?: boolean): Buffer;
}

/**
 * A connection's events and their listeners. (Written as methods, so that a listener may
 * take a narrower argument than the event gives, `(text: string) => ...` on a text-only
 * protocol, as TypeScript allows for methods.)
 */
export interface ConnectionEvents<In = Message> {
  /** A message (or a message stream, or a Frame in raw mode), in flowing mode. */
  data(chunk: In): void;
  /** WebSocket-Node's message event: `{ type: 'utf8', utf8Data }` or `{ type: 'binary', binaryData }`. */
  message(message: In extends IncomingMessageStream ? IncomingMessageStream : SeedMessage): void;
  /** WebSocket-Node's frame event, in raw mode. */
  frame(frame: SeedFrame): void;
  /** A ping from the peer (answered already). */
  ping(payload: Buffer): void;
  /** A pong from the peer. */
  pong(payload: Buffer): void;
  /** The connection is gone: the peer's close code (1005 without one, 1006 without a handshake) and reason. */
  close(code: number, reason: string): void;
  /** The connection failed (a protocol error, a limit, an abnormal closure...). */
  error(err: Error): void;
  /** The peer's Close arrived and every message before it was read. */
  end(...args: unknown[]): void;
  /** Our Close went out after everything written. */
  finish(...args: unknown[]): void;
  drain(...args: unknown[]): void;
  readable(...args: unknown[]): void;
  pause(...args: unknown[]): void;
  resume(...args: unknown[]): void;
  pipe(source: Readable): void;
  unpipe(source: Readable): void;
}
