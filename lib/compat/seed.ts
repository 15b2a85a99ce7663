/**
 * WebSocket-Node's module shape: `require('websocket').server` and its siblings. These are
 * the library's own classes under the seed's lower-case names, not a second stack, so
 * that `server === WebSocketServer` and a connection made either way is the same object.
 *
 * @example
 * ```js
 * const WebSocketServer = require('websocket-duplex').server;
 * const WebSocketClient = require('websocket-duplex').client;
 * ```
 */

import { installConnectionApi } from './connection-api.js';

// The seed's face of the connection (sendUTF, 'message' events...), on its prototype.
installConnectionApi();

export { WebSocketClient as client } from '../client.js';
export { WebSocketRequest as request } from '../handshake/server-handshake.js';
export { WebSocketRouter as router } from '../router.js';
export { WebSocketServer as server } from '../server.js';
export { WebSocketConnection as connection } from '../stream/websocket-connection.js';
export { WebSocketFrame as frame } from './websocket-frame.js';
