import { EventEmitter } from 'node:events';
import { createClient, createCluster } from 'redis';
import { describe } from './backplane-options.js';
import { InvalidArgumentError } from './core.js';

/** A pub/sub listener in node-redis's buffer mode. */
export type BufferListener = (message: Buffer, channel: Buffer) => unknown;

/**
 * What the backplane uses of a node-redis client or cluster. Structural, so that a client of
 * any of node-redis's generic shapes (RESP 2 or 3, with modules or scripts) fits.
 */
export interface RedisCommon {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** A node-redis client (`createClient()`): plain pub/sub, PUBLISH and SUBSCRIBE. */
export interface RedisClientLike extends RedisCommon {
  duplicate(): RedisClientLike;
  publish(channel: string, message: Buffer): Promise<number>;
  subscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<void>;
  unsubscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<void>;
}

/** A node-redis cluster (`createCluster()`): sharded pub/sub, SPUBLISH and SSUBSCRIBE. */
export interface RedisClusterLike extends RedisCommon {
  getMasters(): unknown[];
  sPublish(channel: string, message: Buffer): Promise<number>;
  sSubscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<void>;
  sUnsubscribe(channel: string, listener: BufferListener, bufferMode: true): Promise<void>;
}

/** The nodes of a Redis Cluster, as URLs (`redis://127.0.0.1:7000`); a few are enough. */
export interface RedisClusterNodes {
  nodes: readonly string[];
}

/** Where the backplane finds Redis: a URL, cluster nodes, or a node-redis client or cluster. */
export type RedisSource = string | RedisClusterNodes | RedisClientLike | RedisClusterLike;

/** Settings of a link, from the backplane's options. */
export interface RedisLinkOptions {
  minDelay: number;
  maxDelay: number;
}

interface ChannelState {
  wanted: boolean;
  subscribed: boolean;
  busy: boolean;
  listener: BufferListener;
}

/**
 * The backplane's connection to Redis, over a client (plain pub/sub) or a cluster (sharded
 * pub/sub), whichever it was given. It owns the desired set of subscriptions and brings
 * Redis back to it after every reconnection or failed command, and it tells the backplane
 * whether Redis is usable: 'down' (error) when a part of it fails, 'up' when every part is
 * ready again. It never queues a publish: while Redis is away a publish rejects at once.
 *
 * Events: 'up' (), 'down' (error: unknown).
 */
export class RedisLink extends EventEmitter {
  /** Whether this is a cluster with sharded pub/sub. */
  readonly sharded: boolean;
  readonly #options: RedisLinkOptions;
  readonly #client: RedisClientLike | undefined;
  readonly #cluster: RedisClusterLike | undefined;
  readonly #subscriber: RedisClientLike | undefined;
  readonly #owned: RedisCommon[] = [];
  readonly #listeners: Array<[RedisCommon, string, (...args: unknown[]) => void]> = [];
  readonly #channels = new Map<string, ChannelState>();
  /** Parts that are not ready, with the error that took each down. */
  readonly #down = new Map<string, unknown>();
  #state: 'connecting' | 'up' | 'down' = 'connecting';
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retries = 0;
  #clusterTimer: NodeJS.Timeout | undefined;
  #clusterAttempts = 0;
  #settledWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(source: RedisSource, options: RedisLinkOptions) {
    super();
    this.#options = options;
    const reconnectStrategy = (retries: number): number => this.#backoff(retries);
    if (typeof source === 'string') {
      this.sharded = false;
      this.#client = createClient({
        url: checkUrl(source, 'redis'),
        disableOfflineQueue: true,
        socket: { reconnectStrategy },
      }) as unknown as RedisClientLike;
      this.#owned.push(this.#client);
    } else if (typeof source !== 'object' || source === null) {
      throw new InvalidArgumentError(
        `redis must be a redis:// URL, { nodes: [URL, ...] } or a node-redis client or cluster, got ${describe(source)}`,
      );
    } else if (isClusterNodes(source)) {
      this.sharded = true;
      if (!Array.isArray(source.nodes) || source.nodes.length === 0) {
        throw new InvalidArgumentError('redis.nodes must be a non-empty array of redis:// URLs');
      }
      this.#cluster = createCluster({
        rootNodes: source.nodes.map((url, i) => ({ url: checkUrl(url, `redis.nodes[${i}]`) })),
        defaults: { disableOfflineQueue: true, socket: { reconnectStrategy } },
      }) as unknown as RedisClusterLike;
      this.#owned.push(this.#cluster);
    } else if (isCluster(source)) {
      this.sharded = true;
      this.#cluster = source;
    } else if (isClient(source)) {
      this.sharded = false;
      this.#client = source;
    } else {
      throw new InvalidArgumentError(
        `redis must be a redis:// URL, { nodes: [URL, ...] } or a node-redis client or cluster, got ${describe(source)}`,
      );
    }
    if (this.#client !== undefined) {
      // Subscribing takes a connection of its own: a subscribed RESP2 connection runs no
      // other command, and a slow command would hold up the messages.
      this.#subscriber = this.#client.duplicate();
      this.#owned.push(this.#subscriber);
      this.#watchClient(this.#client, 'publisher');
      this.#watchClient(this.#subscriber, 'subscriber');
    } else {
      this.#watchCluster(this.#cluster!);
    }
    // Started on the next tick, so that a client that is ready already reports 'up' to
    // listeners added after the constructor.
    process.nextTick(() => {
      if (this.#closed) return;
      if (this.#client !== undefined) {
        this.#startClient(this.#client, 'publisher');
        this.#startClient(this.#subscriber!, 'subscriber');
      } else {
        this.#startCluster();
      }
    });
  }

  /** Tells whether every part of the link is ready (publishes are then sent). */
  get isUp(): boolean {
    return this.#state === 'up';
  }

  /** Reads the error of a part that is down (undefined when all are up). */
  get lastError(): unknown {
    return [...this.#down.values()].at(-1);
  }

  /** Publishes a message; rejects at once when the link is not up (nothing is queued). */
  publish(channel: string, message: Buffer): Promise<number> {
    const sent = this.sharded
      ? this.#cluster!.sPublish(channel, message)
      : this.#client!.publish(channel, message);
    return sent.then(
      (receivers) => {
        this.#markUp('commands');
        return receivers;
      },
      (err: unknown) => {
        this.#markDown('commands', err);
        throw err;
      },
    );
  }

  /** Runs a Lua script whose keys all hash to one slot (so it runs on a cluster too). */
  eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    const target: RedisCommon = this.sharded ? this.#cluster! : this.#client!;
    return target.eval(script, { keys, arguments: args });
  }

  /** Wants messages of a channel, now and after every reconnection. */
  subscribe(channel: string, onMessage: (message: Buffer) => void): void {
    const state = this.#channels.get(channel);
    if (state !== undefined) {
      state.wanted = true;
      state.listener = (message) => onMessage(message);
    } else {
      this.#channels.set(channel, {
        wanted: true,
        subscribed: false,
        busy: false,
        listener: (message) => onMessage(message),
      });
    }
    this.#reconcile(channel);
  }

  /** No longer wants messages of a channel. */
  unsubscribe(channel: string): void {
    const state = this.#channels.get(channel);
    if (state === undefined) return;
    state.wanted = false;
    this.#reconcile(channel);
  }

  /** Tells whether Redis confirmed the subscription to a channel. */
  isSubscribed(channel: string): boolean {
    return this.#channels.get(channel)?.subscribed === true;
  }

  /** Resolves once every subscription wanted is confirmed by Redis; rejects on close(). */
  whenSubscribed(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the Redis link is closed'));
    if (this.#settled()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#settledWaiters.push({ resolve, reject }));
  }

  #settled(): boolean {
    for (const state of this.#channels.values())
      if (state.wanted !== state.subscribed) return false;
    return true;
  }

  #checkSettled(): void {
    if (this.#settledWaiters.length === 0 || !this.#settled()) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /**
   * Closes the clients the link created, and leaves those it was given as they were (its
   * listeners and subscriptions removed). Never waits more than `timeoutMs` for Redis.
   */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#clusterTimer);
    const work: Array<Promise<unknown>> = [];
    if (this.#cluster !== undefined && !this.#owned.includes(this.#cluster)) {
      for (const [channel, state] of this.#channels) {
        if (state.subscribed) {
          work.push(this.#cluster.sUnsubscribe(channel, state.listener, true).catch(() => {}));
        }
      }
    }
    for (const client of this.#owned) {
      // close() waits for pending replies; a client that is not ready has none worth waiting for.
      if (client.isReady) work.push(client.close().catch(() => client.destroy()));
      else if (client.isOpen) client.destroy();
    }
    const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.all(work), timer]);
    for (const client of this.#owned) if (client.isOpen) client.destroy();
    for (const [emitter, event, listener] of this.#listeners) emitter.off(event, listener);
    this.#listeners.length = 0;
    this.#channels.clear();
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const waiter of waiters) waiter.reject(new Error('the Redis link is closed'));
  }

  #listen(emitter: RedisCommon, event: string, listener: (...args: unknown[]) => void): void {
    emitter.on(event, listener);
    this.#listeners.push([emitter, event, listener]);
  }

  #watchClient(client: RedisClientLike, part: string): void {
    // An 'error' listener is always there, so that a Redis failure never crashes the process.
    this.#listen(client, 'error', (err) => {
      if (!client.isReady) this.#markDown(part, err);
    });
    this.#listen(client, 'end', () => this.#markDown(part, new Error(`${part} connection ended`)));
    this.#listen(client, 'ready', () => this.#markUp(part));
  }

  #startClient(client: RedisClientLike, part: string): void {
    this.#down.set(part, undefined);
    if (client.isReady) {
      this.#markUp(part);
      return;
    }
    if (client.isOpen) return; // connecting: 'ready' will come
    client.connect().catch((err: unknown) => {
      // Only when the client's own strategy gave up: a backplane's client never does.
      if (!this.#closed) this.#markDown(part, err);
    });
  }

  #watchCluster(cluster: RedisClusterLike): void {
    this.#listen(cluster, 'error', (err) => {
      if (!cluster.isReady) this.#markDown('cluster', err);
    });
    const nodeName = (info: unknown): string => {
      const { host, port } = (info ?? {}) as { host?: unknown; port?: unknown };
      return `node ${String(host)}:${String(port)}`;
    };
    this.#listen(cluster, 'node-error', (err, info) => this.#markDown(nodeName(info), err));
    this.#listen(cluster, 'node-reconnecting', (info) =>
      this.#markDown(nodeName(info), new Error(`${nodeName(info)} reconnecting`)),
    );
    this.#listen(cluster, 'node-ready', (info) => this.#markUp(nodeName(info)));
    // A node the cluster let go of (its slots moved) is no longer a part that can be down.
    this.#listen(cluster, 'node-disconnect', (info) => this.#markUp(nodeName(info)));
    this.#listen(cluster, 'connect', () => this.#markUp('cluster'));
  }

  /** Connects a cluster, retrying with backoff: node-redis gives up on a failed discovery. */
  #startCluster(): void {
    const cluster = this.#cluster!;
    this.#down.set('cluster', undefined);
    if (cluster.isReady) {
      this.#markUp('cluster');
      return;
    }
    if (cluster.isOpen) return;
    cluster.connect().then(
      () => this.#markUp('cluster'),
      (err: unknown) => {
        if (this.#closed) return;
        this.#markDown('cluster', err);
        this.#clusterTimer = setTimeout(
          () => this.#startCluster(),
          this.#backoff(this.#clusterAttempts++),
        );
      },
    );
  }

  #markDown(part: string, err: unknown): void {
    if (this.#closed) return;
    this.#down.set(part, err ?? new Error(`${part} is down`));
    if (this.#state !== 'down') {
      this.#state = 'down';
      this.emit('down', this.#down.get(part));
    }
  }

  #markUp(part: string): void {
    if (this.#closed) return;
    this.#down.delete(part);
    // A part that came back may have failed commands before: they are history now.
    if (part !== 'commands') this.#down.delete('commands');
    if (this.#down.size > 0 || this.#state === 'up') return;
    if (this.sharded ? !this.#cluster!.isReady : !this.#client!.isReady) return;
    this.#state = 'up';
    this.#retries = 0;
    this.#clusterAttempts = 0;
    this.emit('up');
    for (const channel of this.#channels.keys()) this.#reconcile(channel);
  }

  /** Brings one channel's subscription to what is wanted, one command at a time. */
  #reconcile(channel: string): void {
    const state = this.#channels.get(channel);
    if (state === undefined || state.busy || this.#closed) return;
    if (state.wanted === state.subscribed) {
      if (!state.wanted) this.#channels.delete(channel);
      this.#checkSettled();
      return;
    }
    state.busy = true;
    const subscribe = state.wanted;
    const listener = state.listener;
    let command: Promise<void>;
    try {
      command = this.#pubSub(subscribe, channel, listener);
    } catch (err) {
      command = Promise.reject(err);
    }
    command.then(
      () => {
        state.busy = false;
        state.subscribed = subscribe;
        this.#reconcile(channel);
      },
      () => {
        state.busy = false;
        // Retried when Redis is back ('up'), or after a backoff if it never went down.
        this.#scheduleRetry();
      },
    );
  }

  #pubSub(subscribe: boolean, channel: string, listener: BufferListener): Promise<void> {
    if (this.sharded) {
      const cluster = this.#cluster!;
      return subscribe
        ? cluster.sSubscribe(channel, listener, true)
        : cluster.sUnsubscribe(channel, listener, true);
    }
    const subscriber = this.#subscriber!;
    return subscribe
      ? subscriber.subscribe(channel, listener, true)
      : subscriber.unsubscribe(channel, listener, true);
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined;
        for (const channel of this.#channels.keys()) this.#reconcile(channel);
      },
      this.#backoff(this.#retries++),
    );
    this.#retryTimer.unref();
  }

  /** Exponential backoff with ±20% jitter, so that processes do not reconnect in step. */
  #backoff(retries: number): number {
    const { minDelay, maxDelay } = this.#options;
    const delay = Math.min(maxDelay, minDelay * 2 ** Math.min(retries, 30));
    return Math.max(1, Math.round(delay * (0.8 + 0.4 * Math.random())));
  }
}

function checkUrl(url: unknown, what: string): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
    throw new InvalidArgumentError(
      `${what} must be a redis:// or rediss:// URL, got ${describe(url)}`,
    );
  }
  return url as string;
}

function isClusterNodes(source: object): source is RedisClusterNodes {
  return 'nodes' in source;
}

function isCluster(source: object): source is RedisClusterLike {
  return (
    typeof (source as Partial<RedisClusterLike>).sSubscribe === 'function' &&
    typeof (source as Partial<RedisClusterLike>).getMasters === 'function'
  );
}

function isClient(source: object): source is RedisClientLike {
  return (
    typeof (source as Partial<RedisClientLike>).duplicate === 'function' &&
    typeof (source as Partial<RedisClientLike>).publish === 'function' &&
    typeof (source as Partial<RedisClientLike>).subscribe === 'function'
  );
}
