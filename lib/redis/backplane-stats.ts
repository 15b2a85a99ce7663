/** Counters of a backplane since it was created (a snapshot: see `backplane.stats`). */
export interface BackplaneStats {
  /** Messages Redis acknowledged (carried to the other processes). */
  published: number;
  /**
   * Messages that never reached Redis, so that the other processes missed them: published
   * while Redis was away, beyond the pending limits, or refused or unanswered by Redis.
   * (Local delivery happened in every case.)
   */
  dropped: number;
  /** Messages received from the other processes. */
  received: number;
  /** Messages on the backplane's channels that it could not read (and refused). */
  malformed: number;
  /** Publishes sent to Redis and not yet acknowledged, and their bytes. */
  pendingPublishes: number;
  pendingBytes: number;
  /** Times the backplane became degraded. */
  outages: number;
  /** Topic deliveries skipped, and members closed, by the slow-reader policy. */
  slowSkipped: number;
  slowClosed: number;
}

/** What 'restored' reports about the outage that ended. */
export interface OutageReport {
  /** How long the backplane was degraded, in ms. */
  durationMs: number;
  /** Messages that did not reach the other processes meanwhile. */
  dropped: number;
}
