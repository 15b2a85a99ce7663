import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { WebSocketServer, WebSocketServerOptions } from '../server.js';
import { CliError, ExitCode } from './errors.js';
import { type ListenAddress, urlOf } from './options.js';
import { note } from './output.js';

/** How a CLI server listens. */
export interface ServeOptions {
  address: ListenAddress;
  tls: { cert: Buffer; key: Buffer } | undefined;
  /** The path it serves, for the URL it prints ('/' by default). */
  path?: string | undefined;
}

/** A listening CLI server; `O` are its WebSocketServer's options, which type its connections. */
export interface Served<O extends WebSocketServerOptions = WebSocketServerOptions> {
  http: Server;
  wss: WebSocketServer<O>;
  /** The URL clients connect to, with the port actually bound. */
  url: string;
}

const NOT_WEBSOCKET = 'This is a WebSocket endpoint (wsdx): connect with a WebSocket client.\n';

/**
 * Starts an HTTP or HTTPS server with the WebSocketServer that `attach` makes on it (the
 * caller writes its options, so that their literal type gives the connections' type), and
 * prints where it listens on stderr (`wsdx: listening on ws://...`): port 0 picks a free
 * port, and the line tells scripts which one. Plain HTTP requests get 426 Upgrade Required.
 */
export async function serve<O extends WebSocketServerOptions>(
  options: ServeOptions,
  attach: (httpServer: Server) => WebSocketServer<O>,
): Promise<Served<O>> {
  const onRequest = (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(NOT_WEBSOCKET);
  };
  const httpServer =
    options.tls === undefined
      ? http.createServer(onRequest)
      : https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest);
  const wss = attach(httpServer);
  wss.on('error', (err: Error) => note(`error: ${err.message}`));
  await listen(httpServer, options.address);
  const bound = httpServer.address() as AddressInfo;
  const url = urlOf(
    options.tls !== undefined,
    { host: options.address.host, port: bound.port },
    options.path ?? '/',
  );
  note(`listening on ${url}`);
  return { http: httpServer, wss, url };
}

function listen(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.message;
      reject(
        new CliError(`cannot listen on ${address.host}:${address.port}: ${why}`, ExitCode.Failure),
      );
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}

/**
 * Resolves on the first SIGINT or SIGTERM, after shutting the server down gracefully:
 * every connection gets a Close 1001, and those still open after `grace` ms are dropped.
 * A second signal exits at once.
 */
export async function serveUntilSignal<O extends WebSocketServerOptions>(
  served: Served<O>,
  grace = 2_000,
  done?: Promise<unknown>,
): Promise<void> {
  const signalled = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.once('SIGINT', () => process.exit(ExitCode.Interrupted));
      process.once('SIGTERM', () => process.exit(ExitCode.Interrupted));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await Promise.race([signalled, ...(done === undefined ? [] : [done])]);
  await stopServing(served, grace);
}

/** Shuts the WebSocket server down, then the HTTP server. */
export async function stopServing<O extends WebSocketServerOptions>(
  served: Served<O>,
  grace = 2_000,
): Promise<void> {
  await served.wss.shutDown({ gracePeriod: grace });
  await new Promise<void>((resolve) => {
    served.http.close(() => resolve());
    served.http.closeAllConnections();
  });
}
