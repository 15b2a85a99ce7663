import http2, { type Http2Session, type Http2Stream } from 'node:http2';
import { abortTransport } from '../stream/connection-hooks.js';

const { NGHTTP2_CANCEL } = http2.constants;

/** How long an END_STREAM sent in answer to the peer's is given to close the stream. */
const graceOf: unique symbol = Symbol('orderlyEndGrace');
/** The timer of an orderly end in progress. */
const orderlyEnd: unique symbol = Symbol('orderlyEnd');

/** An HTTP/2 stream made ready to carry a WebSocket. */
type PreparedStream = Http2Stream & {
  [abortTransport]: (this: PreparedStream) => void;
  [graceOf]: number;
  [orderlyEnd]?: NodeJS.Timeout;
  remoteAddress?: string | undefined;
};

/**
 * Makes an HTTP/2 stream ready to be a WebSocket's transport. Node's Http2Stream is a
 * Duplex, so the connection runs over it as over a socket: `end()` sends END_STREAM, the
 * orderly close (RFC 8441 §5). What differs is dropping it: `destroy()` sends
 * RST_STREAM(NO_ERROR), which tells the peer nothing went wrong, where RFC 8441 §5 wants
 * an abnormal end to be RST_STREAM(CANCEL). So the stream gets the connection's optional
 * abort method (see `abortTransport`), and the peer's address, which a stream lacks, for
 * the connection's `remoteAddress`. A stream is never the session: nothing here touches
 * the other WebSockets on it.
 *
 * @param closeTimeout how long, in ms, an END_STREAM sent in answer to the peer's may take
 *   to close the stream before it is cancelled.
 * @see RFC 8441 §5 (END_STREAM and RST_STREAM CANCEL), RFC 9113 §5.1, §8.1
 * @example prepareHttp2Transport(stream, 5_000); new WebSocketConnection(stream, init);
 */
export function prepareHttp2Transport(stream: Http2Stream, closeTimeout: number): void {
  const prepared = stream as PreparedStream;
  prepared[abortTransport] = abortHttp2Stream;
  prepared[graceOf] = closeTimeout;
  prepared.remoteAddress = stream.session?.socket?.remoteAddress;
  widenConnectionWindow(stream.session);
}

/**
 * Drops the stream for the connection. When the peer has ended its side (END_STREAM), the
 * answer is our END_STREAM, after what we already wrote, as a FIN answers a FIN: the peer
 * is done and nothing went wrong. A client reaches this after every clean close (the
 * server ends first), and so does a server whose peer ends with its Close frame, as
 * Chromium does (its Close frame carries END_STREAM): a CANCEL there would reach Chromium
 * before our Close and turn its clean close into 1006. Otherwise, or when our END_STREAM
 * has not closed the stream within the grace (our data held back by flow control), the
 * stream is reset with CANCEL.
 *
 * @see RFC 8441 §5, RFC 9113 §5.1 (half-closed), §8.1
 */
function abortHttp2Stream(this: PreparedStream): void {
  if (this.destroyed) return;
  if (!this.closed && this.readableEnded && this[orderlyEnd] === undefined) {
    if (!this.writableEnded) this.end();
    const timer = setTimeout(cancelStream, this[graceOf], this);
    timer.unref();
    this[orderlyEnd] = timer;
    this.once('close', clearOrderlyEnd);
    return;
  }
  cancelStream(this);
}

function clearOrderlyEnd(this: PreparedStream): void {
  clearTimeout(this[orderlyEnd]);
}

/**
 * Resets a stream with CANCEL and destroys it (destroy() after close() sends nothing more:
 * the stream is closed with that code).
 *
 * @see RFC 8441 §5 ("RST exceptions represented with RST_STREAM frames with the CANCEL error code")
 */
export function cancelStream(stream: Http2Stream): void {
  if (stream.destroyed) return;
  if (!stream.closed) stream.close(NGHTTP2_CANCEL);
  stream.destroy();
}

/**
 * The connection-level receive window of a session that carries WebSockets: 1 MiB instead
 * of HTTP/2's initial 64 KiB. Not more: what a peer may send at once must stay well under
 * node's `maxSessionMemory` (10 MB by default), past which node resets streams with
 * ENHANCE_YOUR_CALM (measured with 16 MiB: 1,000 WebSockets echoing 16 KiB collapsed).
 */
export const CONNECTION_WINDOW = 1024 * 1024;

const widened = new WeakSet<Http2Session>();

/**
 * Widens a session's connection-level receive window (a WINDOW_UPDATE on stream 0) to
 * {@link CONNECTION_WINDOW}, once per session. With the initial 64 KiB shared by every
 * stream, many WebSockets in flight wait a round trip for each WINDOW_UPDATE: measured on
 * loopback, 1,000 WebSockets on one session echoed 64 B messages 3x faster and 16 KiB
 * ones 10x faster once widened. Node consumes the connection window as data arrives; what a
 * WebSocket may hold unread stays bounded by its stream's own window, left as it is (so a
 * reader that stops still stops its writer, RFC 9113 §5.2).
 *
 * @see RFC 9113 §5.2 (flow control), §6.9 (WINDOW_UPDATE)
 * @example widenConnectionWindow(stream.session);
 */
export function widenConnectionWindow(session: Http2Session | undefined): void {
  if (session === undefined || session.destroyed || widened.has(session)) return;
  widened.add(session);
  try {
    if ((session.state.localWindowSize ?? 0) < CONNECTION_WINDOW) {
      session.setLocalWindowSize(CONNECTION_WINDOW);
    }
  } catch {
    // A session closing meanwhile: nothing to widen.
  }
}
