import { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';

/**
 * An extended CONNECT seen as the `http.IncomingMessage` that a WebSocket request carries
 * over HTTP/1.1, so that code written for one runs on the other unchanged: 'request'
 * listeners, router handlers, origin functions and ws-style callbacks read `headers`,
 * `url`, `method` and `socket.remoteAddress` as usual. Here `httpVersion` is '2.0',
 * `method` is 'CONNECT', `url` the `:path`, `headers` the HTTP/2 header block (pseudo-
 * headers included), `socket` the session's socket (node's HTTP/2 proxy of it), and
 * `stream` the Http2Stream. It has no body: the stream's bytes are the WebSocket's.
 *
 * @see RFC 8441 §4 (the extended CONNECT), §5
 * @example
 * wss.on('request', (request) => {
 *   const { httpRequest } = request;
 *   if (httpRequest instanceof Http2ConnectRequest) console.log('over HTTP/2', httpRequest.authority);
 * });
 */
export class Http2ConnectRequest extends IncomingMessage {
  /** The stream the WebSocket runs over once accepted. */
  readonly stream: ServerHttp2Stream;
  /** The `:authority` (HTTP/2's Host). */
  readonly authority: string;
  /** The `:scheme`: 'https' or 'http'. */
  readonly scheme: string;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    super(stream.session?.socket as Socket);
    this.stream = stream;
    this.authority = String(headers[':authority'] ?? '');
    this.scheme = String(headers[':scheme'] ?? '');
    this.httpVersionMajor = 2;
    this.httpVersionMinor = 0;
    this.httpVersion = '2.0';
    this.method = String(headers[':method'] ?? '');
    this.url = String(headers[':path'] ?? '');
    this.headers = headers;
    const raw: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      for (const line of Array.isArray(value) ? value : [value]) raw.push(name, String(line));
    }
    this.rawHeaders = raw;
    this.complete = true;
    this.push(null);
  }

  /**
   * Ends this object only: IncomingMessage's own _destroy would destroy the socket, which
   * here is the whole session's (node's proxy refuses it anyway).
   */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    callback(err);
  }
}
