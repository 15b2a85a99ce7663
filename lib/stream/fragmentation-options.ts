/** Outgoing fragmentation, under WebSocket-Node's option names. */
export interface FragmentationOptions {
  /** Whether messages longer than the threshold are sent as several frames. Default: true. */
  fragmentOutgoingMessages?: boolean;
  /** Largest frame payload sent when fragmenting, in bytes. Default: 16 KiB. */
  fragmentationThreshold?: number;
}

export { resolveFragmentationThreshold } from './connection-options.js';
