import {
  attachStreamEndpoint,
  detachStreamEndpoint,
  type Http2ServerLike,
  type StreamEndpoint,
} from './http2-server.js';
import {
  attachEndpoint,
  detachEndpoint,
  type HttpServerLike,
  type UpgradeEndpoint,
} from './upgrade-dispatcher.js';

/**
 * Attaches a WebSocket server to every HTTP server it was given: their upgrades (HTTP/1.1)
 * and their extended CONNECT streams (HTTP/2). An HTTP/2 server also gets the upgrade
 * listener: with `allowHTTP1: true`, its HTTP/1.1 clients upgrade as on any HTTP server.
 * All or nothing: when one attachment throws (two WebSocket servers on one path), those
 * already made are undone before the error goes on.
 *
 * @see RFC 6455 §4.2, RFC 8441 §4
 */
export function attachServers(
  endpoint: UpgradeEndpoint & StreamEndpoint,
  httpServers: readonly HttpServerLike[],
  http2Servers: readonly Http2ServerLike[],
): void {
  const attached: HttpServerLike[] = [];
  const attached2: Http2ServerLike[] = [];
  try {
    for (const server of httpServers) {
      attachEndpoint(server, endpoint);
      attached.push(server);
    }
    for (const server of http2Servers) {
      attachStreamEndpoint(server, endpoint);
      attached2.push(server);
      const asHttp = server as unknown as HttpServerLike;
      if (!httpServers.includes(asHttp)) {
        attachEndpoint(asHttp, endpoint);
        attached.push(asHttp);
      }
    }
  } catch (err) {
    for (const server of attached) detachEndpoint(server, endpoint);
    for (const server of attached2) detachStreamEndpoint(server, endpoint);
    throw err;
  }
}

/** Undoes {@link attachServers}: the HTTP servers go on, without this WebSocket server. */
export function detachServers(
  endpoint: UpgradeEndpoint & StreamEndpoint,
  httpServers: readonly HttpServerLike[],
  http2Servers: readonly Http2ServerLike[],
): void {
  for (const server of httpServers) detachEndpoint(server, endpoint);
  for (const server of http2Servers) {
    detachStreamEndpoint(server, endpoint);
    detachEndpoint(server as unknown as HttpServerLike, endpoint);
  }
}
