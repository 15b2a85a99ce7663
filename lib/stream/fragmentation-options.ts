import { InvalidArgumentError } from '../protocol/errors.js';
import { isValidThreshold } from '../protocol/fragmentation.js';

/** Outgoing fragmentation, under WebSocket-Node's option names. */
export interface FragmentationOptions {
  /** Whether messages longer than the threshold are sent as several frames. Default: true. */
  fragmentOutgoingMessages?: boolean;
  /** Largest frame payload sent when fragmenting, in bytes. Default: 16 KiB. */
  fragmentationThreshold?: number;
}

/** Default of `fragmentationThreshold`, as in WebSocket-Node. */
export const DEFAULT_FRAGMENTATION_THRESHOLD = 16 * 1024;

/**
 * Resolves the options into the frame size limit to apply (Infinity: never fragment).
 * Throws InvalidArgumentError for a threshold that is not a positive integer.
 */
export function resolveFragmentThreshold(options: FragmentationOptions): number {
  if (options.fragmentOutgoingMessages === false) return Number.POSITIVE_INFINITY;
  const threshold = options.fragmentationThreshold ?? DEFAULT_FRAGMENTATION_THRESHOLD;
  if (!isValidThreshold(threshold)) {
    throw new InvalidArgumentError(
      `fragmentationThreshold must be a positive integer, got ${String(threshold)}`,
    );
  }
  return threshold;
}
