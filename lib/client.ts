import { EventEmitter } from 'node:events';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import { type ClientOptions, clientHandshake } from './handshake/client-handshake.js';
import { HandshakeError } from './protocol/errors.js';
import type { IncomingOf } from './stream/connection-events.js';
import type { KnownOptions } from './stream/typed-events.js';
import type { WebSocketConnection } from './stream/websocket-connection.js';

export { type ClientOptions, MAX_BODY_EXCERPT } from './handshake/client-handshake.js';

/**
 * Opens a WebSocket connection: ws:, wss: or ws+unix:/path/to.sock:/resource. Resolves
 * with the connection (a Duplex: a string written is a text message, a Buffer a binary
 * one) once the server's 101 has been validated, and rejects with InvalidArgumentError for
 * bad arguments, HandshakeError when the handshake fails (status 0 for network and TLS
 * errors, with the cause; the HTTP status, headers and up to 1 KiB of body for a refusal),
 * or the reason of `options.signal` when it aborts. The signal only covers the handshake.
 *
 * The connection comes with an 'error' listener that does nothing, so that `ws.pipe(x)`
 * (whose own listener rethrows when alone) cannot crash the process when the server drops
 * TCP; add listeners of your own to see errors, or read `closeError`.
 *
 * @see RFC 6455 §4.1
 * @example
 * ```ts
 * const ws = await connect('wss://example.com/chat', { protocols: ['chat.v1'], ca });
 * ws.write('hello');
 * for await (const message of ws) console.log(message);
 * ```
 */
export async function connect<const O extends ClientOptions = ClientOptions>(
  url: string | URL,
  options?: KnownOptions<O, ClientOptions>,
): Promise<WebSocketConnection<IncomingOf<O>>> {
  return (await clientHandshake(url, options ?? {})) as WebSocketConnection<IncomingOf<O>>;
}

/** A WebSocketClient's events; `O` are its options, which decide what its connections read. */
export interface WebSocketClientEvents<O extends ClientOptions = ClientOptions> {
  /** The handshake succeeded. */
  connect(connection: WebSocketConnection<IncomingOf<O>>): void;
  /** The handshake failed (HandshakeError, or InvalidArgumentError for bad arguments). */
  connectFailed(err: Error): void;
  /** An answer that is not a 101, handed over to a listener that reads it itself. */
  httpResponse(response: IncomingMessage, client: WebSocketClient<O>): void;
}

// The typed EventEmitter methods of the class below (see TypedEmitter in stream/typed-events).
export interface WebSocketClient<O extends ClientOptions = ClientOptions> {
  on<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  once<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  addListener<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  prependListener<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  prependOnceListener<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  off<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  removeListener<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    listener: WebSocketClientEvents<O>[E],
  ): this;
  emit<E extends keyof WebSocketClientEvents<O>>(
    event: E,
    ...args: Parameters<WebSocketClientEvents<O>[E]>
  ): boolean;
}

/**
 * WebSocket-Node's client: an EventEmitter whose connect() reports through events. Each
 * connect() ends in exactly one of 'connect' (connection), 'connectFailed' (error), or,
 * when something listens for it, 'httpResponse' (response, client) for an answer that is
 * not a 101 (the listener then owns the response and reads its body); a redirect that is
 * followed is not an answer.
 *
 * @example
 * ```ts
 * const client = new WebSocketClient({ handshakeTimeout: 5_000 });
 * client.on('connectFailed', (err) => console.error(err.message));
 * client.on('connect', (connection) => connection.write('hello'));
 * client.connect('ws://localhost:8080/', 'echo-protocol');
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above.
export class WebSocketClient<const O extends ClientOptions = ClientOptions> extends EventEmitter {
  readonly #defaults: ClientOptions;
  readonly #attempts = new Set<AbortController>();

  /** Takes the defaults of every connect(): any ClientOptions. */
  constructor(options?: KnownOptions<O, ClientOptions>) {
    super();
    this.#defaults = options ?? {};
  }

  /**
   * Starts a connection. The arguments are WebSocket-Node's: `protocols` offered (one or
   * several), `origin` sent as Origin, extra `headers`, and `requestOptions` passed to
   * node:http's request(); each falls back to the constructor's options.
   *
   * @see RFC 6455 §4.1
   * @example client.connect('wss://example.com/', ['chat.v2', 'chat.v1'], 'https://example.com');
   */
  connect(
    url: string | URL,
    protocols?: string | readonly string[] | null,
    origin?: string | null,
    headers?: OutgoingHttpHeaders | null,
    requestOptions?: RequestOptions | null,
  ): void {
    const defaults = this.#defaults;
    const controller = new AbortController();
    const signal =
      defaults.signal === undefined
        ? controller.signal
        : AbortSignal.any([controller.signal, defaults.signal]);
    this.#attempts.add(controller);
    let handedOver = false;
    const options: ClientOptions = {
      ...defaults,
      protocols: protocols ?? defaults.protocols,
      origin: origin ?? defaults.origin,
      headers: { ...defaults.headers, ...headers },
      requestOptions: { ...defaults.requestOptions, ...requestOptions },
      signal,
    };
    clientHandshake(url, options, {
      onHttpResponse: (response) => {
        if (this.listenerCount('httpResponse') === 0) return false;
        handedOver = true;
        this.#attempts.delete(controller);
        this.emit('httpResponse', response, this);
        return true;
      },
    }).then(
      (connection) => {
        this.#attempts.delete(controller);
        process.nextTick(() =>
          this.emit('connect', connection as WebSocketConnection<IncomingOf<O>>),
        );
      },
      (err: unknown) => {
        this.#attempts.delete(controller);
        if (!handedOver) process.nextTick(() => this.emit('connectFailed', err as Error));
      },
    );
  }

  /**
   * Aborts every connection attempt in progress; each ends in 'connectFailed' with a
   * HandshakeError (status 0). Connections already made are not touched.
   *
   * @example setTimeout(() => client.abort(), 1_000);
   */
  abort(): void {
    for (const controller of this.#attempts) {
      controller.abort(new HandshakeError('The connection attempt was aborted', 0));
    }
    this.#attempts.clear();
  }
}
