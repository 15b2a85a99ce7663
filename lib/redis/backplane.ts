import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BackplaneError, BackplaneErrorReason } from './backplane-error.js';
import {
  type AttachOptions,
  type BackplaneOptions,
  checkName,
  describe,
  type ResolvedBackplaneOptions,
  resolveBackplaneOptions,
  resolveTopicOptions,
  SlowReaderPolicy,
  type TopicOptions,
} from './backplane-options.js';
import type { BackplaneStats, OutageReport } from './backplane-stats.js';
import {
  type BroadcastOptions,
  broadcast,
  InvalidArgumentError,
  type WebSocketServer,
} from './core.js';
import { decodeEnvelope, encodeEnvelope, ORIGIN_SIZE } from './envelope.js';
import { Presence } from './presence.js';
import { RedisLink } from './redis-link.js';
import { deliver, shutDown, Topic, type TopicHost } from './topic.js';

export type { BackplaneStats, OutageReport } from './backplane-stats.js';

/**
 * Creates a backplane over Redis, which carries broadcasts and topic messages between the
 * processes of an application (node:cluster workers, several machines), and keeps presence
 * counts. It connects in the background: local delivery never waits for it, and
 * `await backplane.ready()` tells when cross-process delivery has started.
 *
 * @example
 * ```ts
 * import { createBackplane } from 'websocket-duplex/redis';
 * const backplane = createBackplane({ redis: 'redis://127.0.0.1:6379', prefix: 'chat' });
 * backplane.attach(wss); // wss.broadcast() now reaches every process
 * backplane.on('degraded', (err) => log.warn(err.message));
 * ```
 */
export function createBackplane(options: BackplaneOptions): Backplane {
  return new Backplane(options);
}

type Waiter = () => void;

/**
 * Carries messages between processes over Redis pub/sub (or a Redis Cluster's sharded
 * pub/sub). Delivery across processes is at most once: a message published while Redis is
 * away, or while a subscriber is reconnecting, is lost for the other processes (and counted
 * here); the publishing process always delivers to its own connections first, without
 * Redis. No connection is ever closed because Redis failed.
 *
 * Events:
 * - 'ready' (): cross-process delivery started (once).
 * - 'degraded' (error: BackplaneError): Redis became unusable (or too slow: a full backlog);
 *   publishes are now counted in `stats.dropped` until 'restored'.
 * - 'restored' (report: OutageReport): Redis is back (the clients reconnected by themselves,
 *   with backoff) and cross-process delivery resumed.
 * - 'close' (): close() finished.
 * - 'error' (error: BackplaneError): a message this backplane could not read. Emitted only
 *   when something listens for 'error' (it is counted in `stats.malformed` either way), so
 *   that garbage on a channel can never crash the process.
 */
export class Backplane extends EventEmitter {
  /** This backplane's id in Redis (its messages' origin, its presence entries' key). */
  readonly id: string;
  readonly #origin: Buffer;
  readonly #options: ResolvedBackplaneOptions;
  readonly #link: RedisLink;
  readonly #topics = new Map<string, Topic>();
  /** Active topics (with local members or readers) by channel: several for one name at most briefly. */
  readonly #channels = new Map<string, Set<Topic>>();
  readonly #servers = new Map<WebSocketServer, string>();
  readonly #groups = new Map<string, Set<WebSocketServer>>();
  readonly #presence: Presence<Topic>;
  readonly #host: TopicHost;
  readonly #stats: Omit<BackplaneStats, 'pendingPublishes' | 'pendingBytes'> = {
    published: 0,
    dropped: 0,
    received: 0,
    malformed: 0,
    outages: 0,
    slowSkipped: 0,
    slowClosed: 0,
  };
  #pending = 0;
  #pendingBytes = 0;
  #waiters: Waiter[] = [];
  #degraded: { since: number; droppedBefore: number } | undefined;
  #backlogFull = false;
  #ready = false;
  #readyPromise: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout;
  #closed: Promise<void> | undefined;

  constructor(options: BackplaneOptions) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError(
        `createBackplane takes an options object, got ${describe(options)}`,
      );
    }
    this.#options = resolveBackplaneOptions(options);
    this.#origin = randomBytes(ORIGIN_SIZE);
    this.id = this.#origin.toString('hex');
    this.#host = this.#makeHost();
    this.#link = new RedisLink(options.redis, {
      minDelay: this.#options.minDelay,
      maxDelay: this.#options.maxDelay,
    });
    this.#presence = new Presence(this.#link, this.id, this.#options, {
      localCount: (topic) => this.#localCount(topic),
      activeTopics: () => this.#activeTopics(),
    });
    this.#link.on('up', () => this.#onUp());
    this.#link.on('down', (err: unknown) => this.#onDown(err));
    this.#heartbeat = setInterval(
      () => this.#presence.refresh(),
      Math.max(10, Math.floor(this.#options.presenceTtl / 3)),
    );
    this.#heartbeat.unref();
  }

  /** Reads the options in force (defaults filled in). */
  get options(): Readonly<ResolvedBackplaneOptions> {
    return this.#options;
  }

  /** Tells whether this runs on a Redis Cluster with sharded pub/sub (SSUBSCRIBE/SPUBLISH). */
  get sharded(): boolean {
    return this.#link.sharded;
  }

  /**
   * Tells whether cross-process delivery is paused (Redis away, or a full backlog).
   *
   * @example if (backplane.isDegraded) res.setHeader('x-degraded', '1');
   */
  get isDegraded(): boolean {
    return this.#degraded !== undefined;
  }

  /**
   * Reads the counters (a snapshot).
   *
   * @example metrics.gauge('ws.backplane.dropped', backplane.stats.dropped);
   */
  get stats(): BackplaneStats {
    return { ...this.#stats, pendingPublishes: this.#pending, pendingBytes: this.#pendingBytes };
  }

  /**
   * Resolves once Redis is connected the first time (at once if it already is), so that
   * what is published next reaches the other processes; rejects if the backplane is closed
   * first. Local delivery never waits for it.
   *
   * @example await backplane.ready();
   */
  ready(): Promise<void> {
    if (this.#ready) return Promise.resolve();
    this.#readyPromise ??= new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        this.off('close', onClosed);
        resolve();
      };
      const onClosed = (): void => {
        this.off('ready', onReady);
        reject(
          new BackplaneError(
            BackplaneErrorReason.Unavailable,
            'backplane closed before Redis was ready',
          ),
        );
      };
      this.once('ready', onReady);
      this.once('close', onClosed);
    });
    return this.#readyPromise;
  }

  /**
   * Resolves once Redis has confirmed every subscription this process wants now (the
   * channels of attached servers and of topics with members or readers): from then on,
   * what another process publishes reaches them. Rejects if the backplane is closed first.
   *
   * @example room.add(ws); await backplane.whenSubscribed(); ws.write('joined');
   */
  async whenSubscribed(): Promise<void> {
    try {
      await this.#link.whenSubscribed();
    } catch (err) {
      throw new BackplaneError(
        BackplaneErrorReason.Unavailable,
        'backplane closed before its subscriptions were confirmed',
        { cause: err },
      );
    }
  }

  /**
   * Joins a server to the backplane: `wss.broadcast(data, options)` then reaches every
   * connection of the servers attached under the same name in every process. Each process
   * frames the message once for its own connections; the sender's process delivers without
   * a round trip through Redis, and never twice. Uses the server's broadcast relay hook
   * (one per server).
   *
   * @example backplane.attach(wss); wss.broadcast('deploy in 5 minutes');
   */
  attach(server: WebSocketServer, options: AttachOptions = {}): this {
    this.#checkOpen();
    if (
      typeof server !== 'object' ||
      server === null ||
      typeof (server as Partial<WebSocketServer>).setBroadcastRelay !== 'function'
    ) {
      throw new InvalidArgumentError('backplane.attach takes a WebSocketServer');
    }
    if (this.#servers.has(server)) {
      throw new InvalidArgumentError('This server is already attached to the backplane');
    }
    const name = checkName(options.name ?? server.path ?? '*', 'attach name');
    const channel = `${this.#options.prefix}:broadcast:${name}`;
    server.setBroadcastRelay((data, broadcastOptions) =>
      this.#relayBroadcast(server, channel, data, broadcastOptions),
    );
    this.#servers.set(server, channel);
    let group = this.#groups.get(channel);
    if (group === undefined) {
      group = new Set();
      this.#groups.set(channel, group);
      this.#link.subscribe(channel, (message) => this.#onMessage(channel, message, undefined));
    }
    group.add(server);
    return this;
  }

  /**
   * Takes a server off the backplane: its broadcasts stay in this process again.
   *
   * @example backplane.detach(wss);
   */
  detach(server: WebSocketServer): this {
    const channel = this.#servers.get(server);
    if (channel === undefined) return this;
    this.#servers.delete(server);
    server.setBroadcastRelay(undefined);
    const group = this.#groups.get(channel)!;
    group.delete(server);
    if (group.size === 0) {
      this.#groups.delete(channel);
      this.#link.unsubscribe(channel);
    }
    return this;
  }

  /**
   * Returns the topic (room) of a name: the same object for the same name while it has
   * members or readers. Options apply when the topic is made; asking again with different
   * options throws.
   *
   * @example const room = backplane.topic('room:42', { onSlowReader: 'close' });
   */
  topic(name: string, options?: TopicOptions): Topic {
    this.#checkOpen();
    checkName(name, 'topic name');
    const resolved = resolveTopicOptions(options ?? {});
    const existing = this.#topics.get(name);
    if (existing !== undefined) {
      const had = existing.options;
      if (
        options !== undefined &&
        (had.maxBufferedAmount !== resolved.maxBufferedAmount ||
          had.onSlowReader !== resolved.onSlowReader ||
          had.slowReaderCloseCode !== resolved.slowReaderCloseCode)
      ) {
        throw new InvalidArgumentError(`topic ${name} already exists with other options`);
      }
      return existing;
    }
    const topic = new Topic(name, `${this.#options.prefix}:topic:${name}`, resolved, this.#host);
    this.#topics.set(name, topic);
    return topic;
  }

  /**
   * Leaves Redis: removes this process's presence counts, detaches every server, ends every
   * topic reader, lets go of every member (without closing any connection) and closes the
   * Redis clients it created (a client given to it stays open). Resolves within about
   * `commandTimeout`, whatever Redis does.
   *
   * @example process.once('SIGTERM', () => backplane.close());
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const server of [...this.#servers.keys()]) this.detach(server);
    const active = [...this.#channels.values()].flatMap((set) => [...set]);
    for (const topic of new Set([...this.#topics.values(), ...active])) topic[shutDown]();
    // Tell the others at once rather than leaving them to the TTL.
    await Promise.race([
      this.#presence.writeAllNow(),
      new Promise((resolve) => setTimeout(resolve, this.#options.commandTimeout).unref()),
    ]);
    await this.#link.close(this.#options.commandTimeout);
    this.#wake();
    this.emit('close');
  }

  #checkOpen(): void {
    if (this.#closed !== undefined) throw new InvalidArgumentError('The backplane is closed');
  }

  #makeHost(): TopicHost {
    return {
      checkMessage: (data) => this.#checkMessage(data),
      publish: (topic, data) => {
        let count = 0;
        for (const local of this.#channels.get(topic.channel) ?? [topic])
          count += local[deliver](data);
        this.#publish(topic.channel, data, undefined);
        return count;
      },
      activity: (topic, active) => this.#topicActivity(topic, active),
      presenceChanged: (topic) => this.#presence.changed(topic),
      size: (topic) => this.#presence.size(topic),
      waitForCapacity: (size) => this.#waitForCapacity(size),
      slowReader: (policy) => {
        if (policy === SlowReaderPolicy.Close) this.#stats.slowClosed++;
        else this.#stats.slowSkipped++;
      },
    };
  }

  #checkMessage(data: unknown): asserts data is string | Uint8Array {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new InvalidArgumentError(
        `a message is a string (text) or bytes (binary), got ${describe(data)}`,
      );
    }
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > this.#options.maxMessageSize) {
      throw new InvalidArgumentError(
        `a message of ${size} bytes is larger than the backplane's maxMessageSize (${this.#options.maxMessageSize})`,
      );
    }
  }

  /** Carries on what wss.broadcast() delivered locally: the group's other local servers, then Redis. */
  #relayBroadcast(
    server: WebSocketServer,
    channel: string,
    data: string | Uint8Array,
    options: BroadcastOptions,
  ): void {
    if (this.#closed !== undefined) return;
    this.#checkMessage(data);
    for (const other of this.#groups.get(channel) ?? []) {
      if (other !== server) broadcast(other.connections, data, options);
    }
    this.#publish(channel, data, options.maxBufferedAmount);
  }

  /** Hands a message to Redis, or counts it as dropped: nothing is ever queued while Redis is away. */
  #publish(
    channel: string,
    data: string | Uint8Array,
    maxBufferedAmount: number | undefined,
  ): void {
    if (this.#closed !== undefined) return;
    if (!this.#link.isUp) {
      this.#drop();
      return;
    }
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (
      this.#pending >= this.#options.maxPendingPublishes ||
      this.#pendingBytes + size > this.#options.maxPendingBytes
    ) {
      if (!this.#backlogFull) {
        this.#backlogFull = true;
        this.#enterDegraded(
          new BackplaneError(
            BackplaneErrorReason.Backlog,
            `Redis is not keeping up: ${this.#pending} publishes (${this.#pendingBytes} bytes) await its answer`,
          ),
        );
      }
      this.#drop(); // after entering the outage, so that its report counts this one too
      return;
    }
    const envelope = encodeEnvelope(this.#origin, data, maxBufferedAmount);
    this.#pending++;
    this.#pendingBytes += size;
    this.#link.publish(channel, envelope).then(
      () => {
        this.#stats.published++;
        this.#settled(size);
      },
      () => {
        // The link reports the failure ('down'); here it only counts.
        this.#drop();
        this.#settled(size);
      },
    );
  }

  #drop(): void {
    this.#stats.dropped++;
  }

  #settled(size: number): void {
    this.#pending--;
    this.#pendingBytes -= size;
    if (
      this.#backlogFull &&
      this.#pending <= this.#options.maxPendingPublishes / 2 &&
      this.#pendingBytes <= this.#options.maxPendingBytes / 2
    ) {
      this.#backlogFull = false;
      this.#maybeRestored();
    }
    this.#wake();
  }

  /**
   * Resolves when one more publish of `size` bytes fits in the pending limits, when Redis is
   * away (it will be dropped at once: waiting would not help), or after `commandTimeout`
   * (then it is dropped as over the limits): a writer is paced by Redis, never hung by it.
   */
  #waitForCapacity(size: number): Promise<void> {
    const fits = (): boolean =>
      this.#closed !== undefined ||
      !this.#link.isUp ||
      (this.#pending < this.#options.maxPendingPublishes &&
        this.#pendingBytes + size <= this.#options.maxPendingBytes);
    if (fits()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#options.commandTimeout);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      const waiter = (): void => {
        if (!fits()) {
          this.#waiters.push(waiter);
          return;
        }
        done();
      };
      this.#waiters.push(waiter);
    });
  }

  /** Lets waiting writers check again (each waits on if it still does not fit). */
  #wake(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  #onMessage(channel: string, raw: Buffer, topics: Set<Topic> | undefined): void {
    const envelope = decodeEnvelope(raw);
    if (typeof envelope === 'string') {
      this.#stats.malformed++;
      if (this.listenerCount('error') > 0) {
        this.emit(
          'error',
          new BackplaneError(
            BackplaneErrorReason.MalformedMessage,
            `Refused a message on ${channel}: ${envelope}`,
          ),
        );
      }
      return;
    }
    // Our own message, back from Redis: it was delivered here when it was published.
    if (envelope.origin.equals(this.#origin)) return;
    this.#stats.received++;
    if (topics !== undefined) {
      for (const topic of topics) topic[deliver](envelope.data, envelope.maxBufferedAmount);
      return;
    }
    const options =
      envelope.maxBufferedAmount === Number.POSITIVE_INFINITY
        ? {}
        : { maxBufferedAmount: envelope.maxBufferedAmount };
    for (const server of this.#groups.get(channel) ?? []) {
      broadcast(server.connections, envelope.data, options);
    }
  }

  #topicActivity(topic: Topic, active: boolean): void {
    let set = this.#channels.get(topic.channel);
    if (active) {
      if (set === undefined) {
        const topics = new Set<Topic>();
        set = topics;
        this.#channels.set(topic.channel, topics);
        this.#link.subscribe(topic.channel, (message) =>
          this.#onMessage(topic.channel, message, topics),
        );
      }
      set.add(topic);
      if (this.#topics.get(topic.name) === undefined) this.#topics.set(topic.name, topic);
      return;
    }
    if (set === undefined) return;
    set.delete(topic);
    // An idle topic is forgotten, so that many short-lived rooms do not accumulate.
    if (this.#topics.get(topic.name) === topic) this.#topics.delete(topic.name);
    if (set.size === 0) {
      this.#channels.delete(topic.channel);
      this.#link.unsubscribe(topic.channel);
    }
  }

  /**
   * Counts this process's members of a topic: every active topic object of its name
   * (normally one; briefly two when an idle one, forgotten, is used again while a new one
   * exists).
   */
  #localCount(topic: Topic): number {
    let count = 0;
    for (const local of this.#channels.get(topic.channel) ?? []) count += local.localSize;
    return count;
  }

  /** Lists the topics with members or readers in this process. */
  #activeTopics(): Iterable<Topic> {
    return [...this.#channels.values()].flatMap((set) => [...set]);
  }

  #onUp(): void {
    if (this.#closed !== undefined) return;
    if (!this.#ready) {
      this.#ready = true;
      this.emit('ready');
    }
    // Counts written while Redis was away, or lost with a restarted Redis, are written now.
    this.#presence.refresh();
    this.#maybeRestored();
    this.#wake();
  }

  #onDown(err: unknown): void {
    if (this.#closed !== undefined) return;
    const message = err instanceof Error ? err.message : String(err);
    this.#enterDegraded(
      new BackplaneError(BackplaneErrorReason.Unavailable, `Redis is unavailable: ${message}`, {
        cause: err,
      }),
    );
    this.#wake();
  }

  #enterDegraded(error: BackplaneError): void {
    if (this.#degraded !== undefined) return;
    this.#degraded = { since: Date.now(), droppedBefore: this.#stats.dropped };
    this.#stats.outages++;
    this.emit('degraded', error);
  }

  #maybeRestored(): void {
    const degraded = this.#degraded;
    if (degraded === undefined || !this.#link.isUp || this.#backlogFull) return;
    this.#degraded = undefined;
    const report: OutageReport = {
      durationMs: Date.now() - degraded.since,
      dropped: this.#stats.dropped - degraded.droppedBefore,
    };
    this.emit('restored', report);
  }
}
