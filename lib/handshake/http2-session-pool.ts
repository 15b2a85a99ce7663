import http2, { type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { widenConnectionWindow } from './http2-transport.js';

/** Whether a session may carry WebSockets, and why not when it may not. */
export type Http2Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string; readonly cause?: unknown };

/** A use of a pooled session by one WebSocket (or one attempt); release() it once, when done. */
export interface SessionLease {
  readonly session: ClientHttp2Session;
  release(): void;
}

/** Where and how to open a session: what http2.connect() takes. */
export interface SessionTarget {
  /** The pool's key: the origin and every option that changes the connection. */
  key: string;
  /** The authority URL given to http2.connect() (https://host:port or http://host:port). */
  authority: string;
  options: SecureClientSessionOptions;
}

interface Entry {
  readonly session: ClientHttp2Session;
  users: number;
}

const REFUSED =
  'the server does not allow extended CONNECT (no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3)';

/**
 * The HTTP/2 sessions that `connect(url, { http2: true })` opens, one per origin and set
 * of connection options, shared by every WebSocket to that origin: that is the point of
 * HTTP/2 WebSockets (RFC 8441 §1), many connections multiplexed on one TCP (and TLS)
 * connection. A session lives while a WebSocket (or a handshake) uses it, and is closed
 * (GOAWAY, then the socket) when the last one leaves; a session that fails, closes or gets
 * a GOAWAY leaves the pool at once, so that the next connect opens a fresh one.
 *
 * @see RFC 8441 §1, RFC 9113 §9.1 (connection management)
 */
export class Http2SessionPool {
  readonly #entries = new Map<string, Entry>();

  /** The number of sessions in the pool (for tests and diagnostics). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Lends the pool's session for `target`, opening it when there is none (or the one there
   * is can take no more streams).
   *
   * @example const lease = pool.acquire(target); ...; lease.release();
   */
  acquire(target: SessionTarget): SessionLease {
    let entry = this.#entries.get(target.key);
    if (entry !== undefined && !usable(entry.session)) {
      this.#entries.delete(target.key);
      entry = undefined;
    }
    if (entry === undefined) entry = this.#open(target);
    const owned = entry;
    owned.users++;
    let released = false;
    return {
      session: owned.session,
      release: () => {
        if (released) return;
        released = true;
        owned.users--;
        if (owned.users > 0) return;
        if (this.#entries.get(target.key) === owned) this.#entries.delete(target.key);
        if (!owned.session.closed && !owned.session.destroyed) owned.session.close();
      },
    };
  }

  #open(target: SessionTarget): Entry {
    const session = http2.connect(target.authority, target.options);
    session.once('connect', () => widenConnectionWindow(session));
    const entry: Entry = { session, users: 0 };
    const leave = (): void => {
      if (this.#entries.get(target.key) === entry) this.#entries.delete(target.key);
    };
    // The session's own failures reach each WebSocket on it through its stream; here they
    // only take the session out of the pool (and must not crash the process).
    session.on('error', leave);
    session.on('goaway', leave);
    session.once('close', leave);
    this.#entries.set(target.key, entry);
    return entry;
  }
}

function usable(session: ClientHttp2Session): boolean {
  return !session.closed && !session.destroyed;
}

const verdicts = new WeakMap<ClientHttp2Session, Promise<Http2Verdict>>();

/**
 * Finds out whether a session's peer allows extended CONNECT. Node does not wait for it
 * (Node 20 sends `:protocol` regardless, and the peer resets the stream), and before the
 * peer's SETTINGS arrive `remoteSettings` shows defaults (false). So: true as soon as the
 * setting is seen; else wait for the peer's SETTINGS ('remoteSettings'), or for the answer
 * to a PING, which can only come after them, since SETTINGS is the first frame a server
 * sends (RFC 9113 §3.4). A session that fails or closes first is not allowed. The answer is
 * shared by every WebSocket waiting on the same session; a refusal is not kept, so a later
 * call asks again (a peer may enable the setting later, never disable it: RFC 8441 §3).
 *
 * @see RFC 8441 §3, RFC 9113 §3.4, §6.7
 * @example if ((await extendedConnectVerdict(session)).allowed) session.request(headers);
 */
export function extendedConnectVerdict(session: ClientHttp2Session): Promise<Http2Verdict> {
  if (session.remoteSettings?.enableConnectProtocol === true) return Promise.resolve(ALLOWED);
  let verdict = verdicts.get(session);
  if (verdict === undefined) {
    verdict = askSession(session);
    verdicts.set(session, verdict);
    verdict.then((result) => {
      if (!result.allowed) verdicts.delete(session);
    });
  }
  return verdict;
}

const ALLOWED: Http2Verdict = Object.freeze({ allowed: true });

function askSession(session: ClientHttp2Session): Promise<Http2Verdict> {
  if (!usable(session)) {
    return Promise.resolve({ allowed: false, reason: 'the HTTP/2 session is closed' });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (verdict: Http2Verdict): void => {
      if (settled) return;
      settled = true;
      session.removeListener('remoteSettings', onSettings);
      session.removeListener('error', onError);
      session.removeListener('close', onClose);
      session.removeListener('connect', onConnect);
      resolve(verdict);
    };
    const decide = (): void =>
      done(
        session.remoteSettings.enableConnectProtocol === true
          ? ALLOWED
          : { allowed: false, reason: REFUSED },
      );
    const onSettings = (): void => decide();
    const onError = (err: Error): void =>
      done({ allowed: false, reason: `the HTTP/2 session failed: ${err.message}`, cause: err });
    const onClose = (): void => done({ allowed: false, reason: 'the HTTP/2 session closed' });
    const onConnect = (): void => {
      if (session.remoteSettings.enableConnectProtocol === true) {
        done(ALLOWED);
        return;
      }
      try {
        session.ping((err) => (err === null ? decide() : onError(err)));
      } catch (err) {
        onError(err as Error);
      }
    };
    session.on('remoteSettings', onSettings);
    session.on('error', onError);
    session.once('close', onClose);
    if (session.connecting) session.once('connect', onConnect);
    else onConnect();
  });
}

/**
 * Makes a socket for a session over a Unix domain socket (ws+unix: and wss+unix: URLs):
 * node:http2 connects by host and port only.
 *
 * @example sessionOptions.createConnection = unixConnector('/run/app.sock', false, {});
 */
export function unixConnector(
  socketPath: string,
  secure: boolean,
  tlsOptions: tls.ConnectionOptions,
): () => net.Socket {
  return () =>
    secure
      ? tls.connect({ ...tlsOptions, path: socketPath, ALPNProtocols: ['h2'] })
      : net.connect(socketPath);
}

/** The process's pool: connect() calls with `http2: true` share it. */
export const sessionPool = new Http2SessionPool();
