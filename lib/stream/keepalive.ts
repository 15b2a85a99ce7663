/** Options of {@link Keepalive}. */
export interface KeepaliveOptions {
  /** Silence, in ms, after which `onIdle` is called (a ping is sent). */
  interval: number;
  /** Time, in ms, the peer then has before `onTimeout`. */
  gracePeriod: number;
  /** Whether `onTimeout` is called at all (WebSocket-Node's dropConnectionOnKeepaliveTimeout). */
  drop: boolean;
  onIdle: () => void;
  onTimeout: () => void;
}

/**
 * WebSocket-Node's keepalive: any incoming byte counts as life; after `interval` of
 * silence a ping goes out, and a peer still silent `gracePeriod` later is dropped. Timers
 * are refreshed, not re-created, on each sign of life (cheap on a busy connection), and
 * unref'd so that they never hold a process open by themselves.
 */
export class Keepalive {
  readonly #options: KeepaliveOptions;
  #idleTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
  }

  /** Starts watching for silence. */
  start(): void {
    if (this.#idleTimer !== undefined) return;
    this.#idleTimer = setTimeout(() => this.#onIdle(), this.#options.interval);
    this.#idleTimer.unref?.();
  }

  /** Records a sign of life from the peer. */
  alive(): void {
    if (this.#graceTimer !== undefined) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
    }
    this.#idleTimer?.refresh();
  }

  /** Stops both timers for good. */
  stop(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#graceTimer);
    this.#idleTimer = undefined;
    this.#graceTimer = undefined;
  }

  #onIdle(): void {
    this.#options.onIdle();
    if (this.#options.drop && this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => {
        this.stop();
        this.#options.onTimeout();
      }, this.#options.gracePeriod);
      this.#graceTimer.unref?.();
    }
    this.#idleTimer?.refresh();
  }
}
