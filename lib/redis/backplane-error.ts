import { ErrorCode, WebSocketError } from './core.js';

/** Why a backplane reports an error: what went wrong, in a stable word. */
export const BackplaneErrorReason = {
  /** Redis cannot be reached (or a node of the cluster); cross-process delivery is paused. */
  Unavailable: 'unavailable',
  /** More publishes waiting for Redis than `maxPendingPublishes` / `maxPendingBytes`. */
  Backlog: 'backlog',
  /** Redis answered a command with an error, or did not answer within `commandTimeout`. */
  CommandFailed: 'command-failed',
  /** A message on a backplane channel that this backplane cannot read. */
  MalformedMessage: 'malformed-message',
} as const;

export type BackplaneErrorReason = (typeof BackplaneErrorReason)[keyof typeof BackplaneErrorReason];

/**
 * Reports a failure of the backplane (never of a connection: no connection is closed because
 * Redis failed). `reason` says which; `cause` holds the Redis client's own error. The `code`
 * is ERR_WS_BACKPLANE; `reason` says which failure it is. It never closes a connection.
 */
export class BackplaneError extends WebSocketError {
  readonly reason: BackplaneErrorReason;

  constructor(reason: BackplaneErrorReason, message: string, options?: ErrorOptions) {
    super(ErrorCode.Backplane, message, options);
    this.name = 'BackplaneError';
    this.reason = reason;
  }
}
