import { once } from 'node:events';
import http2, {
  type ClientHttp2Session,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ClientOptions } from '../../lib/handshake/client-options.js';
import { WebSocketServer, type WebSocketServerOptions } from '../../lib/server.js';
import type { TestCerts } from './certs.js';

/**
 * HTTP/2 servers with a WebSocketServer on them, and raw HTTP/2 requests, for the tests of
 * WebSockets over HTTP/2 (RFC 8441). Everything listens on 127.0.0.1 and every wait is
 * bounded; close() ends every session, so nothing outlives a test.
 */

/** Options of {@link startHttp2Server}. */
export interface Http2ServerFixtureOptions {
  /** TLS with these certificates (h2 over TLS); cleartext h2c without. */
  certs?: TestCerts;
  /** Take HTTP/1.1 on the same port too (secure servers only). */
  allowHTTP1?: boolean;
  /** The WebSocketServer's options; no WebSocketServer when null. */
  wss?: Omit<WebSocketServerOptions, 'httpServer' | 'http2Server' | 'port' | 'noServer'> | null;
  /** A 'request' listener (which turns node's compatibility layer on). */
  onRequest?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
  /** node:http2 server settings. */
  settings?: http2.Settings;
}

/** A running HTTP/2 server. */
export interface Http2ServerFixture {
  server: Http2Server | Http2SecureServer;
  wss: WebSocketServer | undefined;
  port: number;
  secure: boolean;
  /** The server's sessions, as they came. */
  sessions: ServerHttp2Session[];
  /** How many 'upgrade' events the server emitted (HTTP/1.1 upgrades). */
  upgrades: number;
  /** A WebSocket URL of a path on this server (wss://localhost or ws://127.0.0.1). */
  url(path?: string): string;
  /** The HTTP URL for http2.connect(). */
  origin: string;
  /** Client options that trust the test CA. */
  clientOptions: ClientOptions;
  close(): Promise<void>;
}

/**
 * Starts an HTTP/2 server (secure with `certs`, cleartext otherwise) with a WebSocketServer
 * given `http2Server`.
 */
export async function startHttp2Server(
  options: Http2ServerFixtureOptions = {},
): Promise<Http2ServerFixture> {
  const secure = options.certs !== undefined;
  const server: Http2Server | Http2SecureServer = secure
    ? http2.createSecureServer({
        key: options.certs!.serverKey,
        cert: options.certs!.serverCert,
        allowHTTP1: options.allowHTTP1 ?? false,
        settings: options.settings ?? {},
      })
    : http2.createServer({ settings: options.settings ?? {} });
  if (options.onRequest !== undefined) server.on('request', options.onRequest);
  const sessions: ServerHttp2Session[] = [];
  server.on('session', (session: ServerHttp2Session) => {
    sessions.push(session);
    session.on('error', () => {});
  });
  const fixture: Http2ServerFixture = {
    server,
    wss: undefined,
    port: 0,
    secure,
    sessions,
    upgrades: 0,
    url: (path = '/') =>
      secure ? `wss://localhost:${fixture.port}${path}` : `ws://127.0.0.1:${fixture.port}${path}`,
    origin: '',
    clientOptions: secure ? { ca: options.certs!.ca } : {},
    close: async () => {
      for (const connection of fixture.wss?.connections ?? []) connection.terminate();
      await fixture.wss?.shutDown({ gracePeriod: 0 });
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('upgrade', () => {
    fixture.upgrades++;
  });
  if (options.wss !== null) {
    fixture.wss = new WebSocketServer({ ...(options.wss ?? {}), http2Server: server });
  }
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), 5_000, 'the HTTP/2 server listening');
  fixture.port = (server.address() as AddressInfo).port;
  fixture.origin = secure
    ? `https://localhost:${fixture.port}`
    : `http://127.0.0.1:${fixture.port}`;
  return fixture;
}

/** Opens a client session to a fixture and waits for the server's SETTINGS. */
export async function openSession(
  fixture: Pick<Http2ServerFixture, 'origin' | 'secure'>,
  certs?: TestCerts,
  origin = fixture.origin,
): Promise<ClientHttp2Session> {
  const session = http2.connect(origin, fixture.secure ? { ca: certs?.ca } : {});
  session.on('error', () => {});
  await within(once(session, 'remoteSettings'), 5_000, "the server's SETTINGS");
  return session;
}

/** What a raw request got. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The stream's RST_STREAM code at its close (0: closed without error). */
  rstCode: number | undefined;
}

/** The headers of a valid extended CONNECT to `path` on a fixture. */
export function connectHeaders(
  fixture: Pick<Http2ServerFixture, 'port' | 'secure'>,
  path = '/',
  extra: OutgoingHttpHeaders = {},
): OutgoingHttpHeaders {
  return {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': fixture.secure ? 'https' : 'http',
    ':path': path,
    ':authority': `localhost:${fixture.port}`,
    'sec-websocket-version': '13',
    ...extra,
  };
}

/**
 * Sends `headers` on a new stream of `session` and reads the answer: status, headers and
 * body (up to its end, or the stream's close), bounded in time.
 */
export async function rawRequest(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  ms = 5_000,
): Promise<RawAnswer> {
  const stream = session.request(headers, { endStream: false });
  stream.on('error', () => {});
  return within(
    new Promise<RawAnswer>((resolve) => {
      let answer: IncomingHttpHeaders = {};
      let body = '';
      stream.on('response', (h) => {
        answer = h;
        if (Number(h[':status']) === 200) stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        body += chunk;
      });
      // A refusal ends the server's side; ours is then let go (the server may wait for it).
      stream.once('end', () => {
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.once('close', () =>
        resolve({
          status: Number(answer[':status'] ?? 0),
          headers: answer,
          body,
          rstCode: stream.rstCode,
        }),
      );
    }),
    ms,
    `an answer to ${JSON.stringify(headers[':path'])}`,
  );
}

/** Rejects with `what` when `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
