import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex as NodeDuplex } from 'node:stream';
import { InvalidArgumentError } from '../protocol/errors.js';
import { guardSocket, rejectUpgrade } from './upgrade-response.js';

/** An HTTP/1.1 server that emits 'upgrade': node:http's or node:https's. */
export type HttpServerLike = HttpServer | HttpsServer;

/** One WebSocket server as the dispatcher sees it: a path it claims, and a handler. */
export interface UpgradeEndpoint {
  /** The path it serves (exact match of the request's path), or undefined for any path. */
  readonly path: string | undefined;
  handleUpgrade(request: IncomingMessage, socket: NodeDuplex, head: Buffer): void;
}

/**
 * The one 'upgrade' listener on an HTTP server, shared by every WebSocket server attached
 * to it: each upgrade goes to exactly one of them (by path), and an upgrade that none
 * claims is answered 404 once, rather than by each or by none.
 */
class UpgradeDispatcher {
  readonly endpoints: UpgradeEndpoint[] = [];
  readonly listener = (request: IncomingMessage, socket: NodeDuplex, head: Buffer): void => {
    this.#dispatch(request, socket, head);
  };

  #dispatch(request: IncomingMessage, socket: NodeDuplex, head: Buffer): void {
    guardSocket(socket);
    const path = requestPath(request.url);
    const endpoint =
      this.endpoints.find((candidate) => candidate.path === path) ??
      this.endpoints.find((candidate) => candidate.path === undefined);
    if (endpoint === undefined) {
      rejectUpgrade(socket, 404, 'No WebSocket endpoint at this path', undefined, request.url);
      return;
    }
    endpoint.handleUpgrade(request, socket, head);
  }
}

const dispatchers = new WeakMap<HttpServerLike, UpgradeDispatcher>();

/**
 * Attaches a WebSocket server to an HTTP server's upgrades. Throws InvalidArgumentError
 * when another one already claims the same path (or, without a path, every path), since
 * only one of them could ever get those upgrades.
 *
 * @example attachEndpoint(httpServer, wss); // done by new WebSocketServer({ httpServer })
 */
export function attachEndpoint(server: HttpServerLike, endpoint: UpgradeEndpoint): void {
  let dispatcher = dispatchers.get(server);
  if (dispatcher === undefined) {
    dispatcher = new UpgradeDispatcher();
    dispatchers.set(server, dispatcher);
    server.on('upgrade', dispatcher.listener);
  }
  if (dispatcher.endpoints.some((other) => other.path === endpoint.path)) {
    throw new InvalidArgumentError(
      endpoint.path === undefined
        ? 'Another WebSocketServer already handles every path of this HTTP server'
        : `Another WebSocketServer already handles path ${endpoint.path} on this HTTP server`,
    );
  }
  dispatcher.endpoints.push(endpoint);
}

/**
 * Detaches a WebSocket server; the last one out removes the 'upgrade' listener, so that
 * node:http treats later upgrades as plain requests again.
 *
 * @example detachEndpoint(httpServer, wss); // done by wss.shutDown()
 */
export function detachEndpoint(server: HttpServerLike, endpoint: UpgradeEndpoint): void {
  const dispatcher = dispatchers.get(server);
  if (dispatcher === undefined) return;
  const index = dispatcher.endpoints.indexOf(endpoint);
  if (index !== -1) dispatcher.endpoints.splice(index, 1);
  if (dispatcher.endpoints.length === 0) {
    server.removeListener('upgrade', dispatcher.listener);
    dispatchers.delete(server);
  }
}

/**
 * Gives the path of a request target: the part before '?' of an origin-form target, the
 * path of an absolute-form one, '' for anything else (which no endpoint path matches).
 *
 * @see RFC 9112 §3.2 (request target forms)
 * @example requestPath('/chat?room=1') // '/chat'
 */
export function requestPath(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  if (url.startsWith('/')) {
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return '';
  }
}
