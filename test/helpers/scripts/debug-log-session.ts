/**
 * One short session for the NODE_DEBUG=websocket-duplex test: a server that echoes, a
 * client that sends one message, reads it back and closes. Prints `url URL` on stdout;
 * the library's debug lines (when NODE_DEBUG asks for them) go to stderr.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from '../../../lib/client.js';
import { WebSocketServer } from '../../../lib/server.js';

const server = http.createServer();
const wss = new WebSocketServer({ httpServer: server, autoAcceptConnections: true });
wss.on('connect', (ws) => ws.pipe(ws));
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
process.stdout.write(`url ${url}\n`);
const ws = await connect(url, { perMessageDeflate: false });
ws.write('hello');
await once(ws, 'data');
ws.end();
await once(ws, 'close');
await wss.shutDown({ gracePeriod: 100 });
server.close();
