import type {
  Http2SecureServer,
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  IncomingHttpHeaders,
  ServerHttp2Stream,
} from 'node:http2';
import { channels } from '../diagnostics.js';
import type { HeaderMap } from '../protocol/errors.js';
import { InvalidArgumentError } from '../protocol/errors.js';
import {
  buildExtendedConnectAccept,
  buildExtendedConnectRejection,
  type ExtendedConnectRejection,
  isExtendedConnect,
} from '../protocol/extended-connect.js';
import { cancelStream, prepareHttp2Transport } from './http2-transport.js';
import type { AcceptAnswer, HandshakeChannel } from './server-handshake.js';
import { requestPath } from './upgrade-dispatcher.js';
import { guardSocket, publishServerHandshake, REJECT_LINGER_MS } from './upgrade-response.js';

/** An HTTP/2 server whose streams a WebSocketServer takes: node:http2's, secure or not. */
export type Http2ServerLike = Http2Server | Http2SecureServer;

/** One WebSocket server as the HTTP/2 dispatcher sees it: a path it claims, and a handler. */
export interface StreamEndpoint {
  /** The path it serves (exact match of the `:path` before '?'), or undefined for any path. */
  readonly path: string | undefined;
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
}

/**
 * Answers an extended CONNECT with an error status and a short text body, then lets the
 * stream go: the client's side is not read, so node:http2 resets the stream with NO_ERROR
 * once the answer is out (RFC 9113 §8.1 allows it: the request needs no more), and a stream
 * still open after {@link REJECT_LINGER_MS} is cancelled. Never throws; the session is
 * never touched. `url` (the requested `:path`) is for diagnostics_channel subscribers.
 *
 * @see RFC 8441 §5, RFC 9113 §8.1
 * @example refuseStream(stream, 404, 'No WebSocket endpoint at this path');
 */
export function refuseStream(
  stream: ServerHttp2Stream,
  status: number,
  reason?: string,
  headers?: HeaderMap,
  url?: string,
): void {
  let answer: ExtendedConnectRejection;
  try {
    answer = buildExtendedConnectRejection(status, reason, headers);
  } catch {
    answer = buildExtendedConnectRejection(500);
  }
  sendRefusal(stream, answer, url);
}

function sendRefusal(
  stream: ServerHttp2Stream,
  answer: ExtendedConnectRejection,
  url: string | undefined,
): void {
  if (channels.handshakeEnd.hasSubscribers) {
    const socket = stream.session?.socket as { remoteAddress?: string } | undefined;
    publishServerHandshake(socket ?? {}, Number(answer.headers[':status']), url, undefined, []);
  }
  guardSocket(stream);
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    cancelStream(stream);
    return;
  }
  try {
    stream.respond(answer.headers);
    stream.end(answer.body);
  } catch {
    cancelStream(stream);
    return;
  }
  const timer = setTimeout(cancelStream, REJECT_LINGER_MS, stream);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

/**
 * Answers a WebSocket request over an HTTP/2 stream: a 200 that accepts (the stream is
 * then the connection's transport), an error status that refuses, a CANCEL when the
 * client went away. No `head`: bytes the client sent early wait in the stream, held back by
 * its flow-control window, until the connection reads them.
 *
 * @see RFC 8441 §5
 */
export class Http2StreamChannel implements HandshakeChannel {
  readonly transport: ServerHttp2Stream;
  readonly remoteAddress: string | undefined;
  readonly secure: boolean;
  readonly acceptStatus = 200;
  /** The requested resource (`:path`), for diagnostics_channel subscribers. */
  readonly #url: string | undefined;

  constructor(stream: ServerHttp2Stream, url?: string) {
    this.transport = stream;
    this.#url = url;
    const socket = stream.session?.socket as { remoteAddress?: string; encrypted?: boolean };
    this.remoteAddress = socket?.remoteAddress;
    this.secure = socket?.encrypted === true;
  }

  takeHead(): undefined {
    return undefined;
  }

  prepareAccept(answer: AcceptAnswer): () => void {
    const headers = buildExtendedConnectAccept(answer);
    return () => {
      try {
        this.transport.respond(headers);
      } catch {
        // Closed meanwhile: the connection made over it reports 1006 at once.
        cancelStream(this.transport);
      }
    };
  }

  prepareReject(status: number, reason?: string, headers?: HeaderMap): () => void {
    const answer = buildExtendedConnectRejection(status, reason, headers);
    return () => sendRefusal(this.transport, answer, this.#url);
  }

  refuse(status: number, reason?: string, headers?: HeaderMap): void {
    refuseStream(this.transport, status, reason, headers, this.#url);
  }

  drop(): void {
    cancelStream(this.transport);
  }

  prepareTransport(closeTimeout: number): void {
    prepareHttp2Transport(this.transport, closeTimeout);
  }
}

/**
 * The listeners on one HTTP/2 server, shared by every WebSocket server attached to it:
 * each extended CONNECT goes to exactly one of them (by path), and one that none claims is
 * answered 404 once.
 *
 * It also works around node:http2's compatibility layer (Node 20): once the server has a
 * 'request' listener, node answers every CONNECT with 405 unless a 'connect' listener
 * exists. The dispatcher's own 'connect' listener keeps extended CONNECTs for the 'stream'
 * listener, and answers a plain CONNECT 405 itself when nobody else listens for it, as
 * node would have.
 */
class StreamDispatcher {
  readonly endpoints: StreamEndpoint[] = [];
  readonly #server: Http2ServerLike;
  readonly onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    if (!isExtendedConnect(headers)) return;
    this.#dispatch(stream, headers);
  };
  readonly onConnect = (request: Http2ServerRequest, response: Http2ServerResponse): void => {
    if (isExtendedConnect(request.headers)) return;
    if (this.#server.listenerCount('connect') > 1) return;
    response.statusCode = 405;
    response.end();
  };

  constructor(server: Http2ServerLike) {
    this.#server = server;
  }

  #dispatch(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    guardSocket(stream);
    const url = typeof headers[':path'] === 'string' ? headers[':path'] : undefined;
    const path = requestPath(url);
    const endpoint =
      this.endpoints.find((candidate) => candidate.path === path) ??
      this.endpoints.find((candidate) => candidate.path === undefined);
    if (endpoint === undefined) {
      refuseStream(stream, 404, 'No WebSocket endpoint at this path', undefined, url);
      return;
    }
    endpoint.handleStream(stream, headers);
  }
}

const dispatchers = new WeakMap<Http2ServerLike, StreamDispatcher>();

/**
 * Attaches a WebSocket server to an HTTP/2 server's extended CONNECTs, and makes the
 * server announce SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 to the sessions it opens from now
 * on (a session opened before keeps the settings it got). Throws InvalidArgumentError when
 * another WebSocket server already claims the same path.
 *
 * @see RFC 8441 §3 (the setting), §4
 * @example attachStreamEndpoint(http2Server, wss); // done by new WebSocketServer({ http2Server })
 */
export function attachStreamEndpoint(server: Http2ServerLike, endpoint: StreamEndpoint): void {
  if (
    server === null ||
    typeof server !== 'object' ||
    typeof server.updateSettings !== 'function'
  ) {
    throw new InvalidArgumentError(
      'http2Server takes servers made by http2.createServer() or http2.createSecureServer()',
    );
  }
  let dispatcher = dispatchers.get(server);
  if (dispatcher === undefined) {
    dispatcher = new StreamDispatcher(server);
    server.updateSettings({ enableConnectProtocol: true });
    dispatchers.set(server, dispatcher);
    server.on('stream', dispatcher.onStream);
    server.on('connect', dispatcher.onConnect);
  }
  if (dispatcher.endpoints.some((other) => other.path === endpoint.path)) {
    throw new InvalidArgumentError(
      endpoint.path === undefined
        ? 'Another WebSocketServer already handles every path of this HTTP/2 server'
        : `Another WebSocketServer already handles path ${endpoint.path} on this HTTP/2 server`,
    );
  }
  dispatcher.endpoints.push(endpoint);
}

/**
 * Detaches a WebSocket server; the last one out removes the listeners and stops announcing
 * extended CONNECT to new sessions, so that browsers open their WebSockets over HTTP/1.1
 * again rather than into a server that no longer takes them.
 *
 * @see RFC 8441 §3
 * @example detachStreamEndpoint(http2Server, wss); // done by wss.close()
 */
export function detachStreamEndpoint(server: Http2ServerLike, endpoint: StreamEndpoint): void {
  const dispatcher = dispatchers.get(server);
  if (dispatcher === undefined) return;
  const index = dispatcher.endpoints.indexOf(endpoint);
  if (index !== -1) dispatcher.endpoints.splice(index, 1);
  if (dispatcher.endpoints.length === 0) {
    server.removeListener('stream', dispatcher.onStream);
    server.removeListener('connect', dispatcher.onConnect);
    server.updateSettings({ enableConnectProtocol: false });
    dispatchers.delete(server);
  }
}
