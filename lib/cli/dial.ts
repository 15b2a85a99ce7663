import { setTimeout as sleep } from 'node:timers/promises';
import { type ClientOptions, connect } from '../client.js';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../protocol/errors.js';
import type { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import { CliError, describeConnectError, ExitCode } from './errors.js';
import { formatMs } from './output.js';
import { exitFor, type Outcome } from './session.js';

/** Reconnection attempts in a row before giving up. */
export const MAX_RECONNECTS = 10;
/** A connection that lasted this long resets the count of attempts. */
const STABLE_MS = 5_000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 8_000;

/** A connection as the CLI reads it: every message as a stream, any size in constant memory. */
export type StreamedConnection = WebSocketConnection<IncomingMessageStream>;

/** What the dial loop needs to know. */
export interface DialSettings {
  url: string;
  client: ClientOptions;
  /** The --ca file, for the advice in TLS errors. */
  caFile?: string | undefined;
  reconnect: boolean;
  /** Aborted on SIGINT/SIGTERM: stops connecting and waiting. */
  signal: AbortSignal;
  /** Prints a status line (reconnecting...). */
  report: (line: string) => void;
}

/**
 * Connects, runs a session on the connection, and (with --reconnect) connects again
 * after a connection that we did not close ourselves, with a backoff from 0.5 s doubling
 * to 8 s, at most MAX_RECONNECTS times in a row. Resolves with the exit status (0, or
 * 130 when interrupted while connecting); rejects with a CliError that says how it ended.
 * Every received message is read as a stream (`messageStreams`, which no size limit
 * caps by default), so that the CLI passes messages of any size in constant memory.
 */
export async function dialLoop(
  settings: DialSettings,
  session: (ws: StreamedConnection) => Promise<Outcome>,
): Promise<number> {
  let failures = 0;
  for (;;) {
    let ws: StreamedConnection;
    try {
      ws = await connect(settings.url, {
        ...settings.client,
        messageStreams: true,
        signal: settings.signal,
      });
    } catch (err) {
      if (settings.signal.aborted) return ExitCode.Interrupted;
      const failure = describeConnectError(err, settings.url, settings);
      if (!settings.reconnect || !isRetryable(err) || ++failures > MAX_RECONNECTS) throw failure;
      await pause(settings, failure.message, failures);
      continue;
    }
    const started = Date.now();
    const outcome = await session(ws);
    const failure = exitFor(outcome);
    if (!settings.reconnect || outcome.local || settings.signal.aborted) {
      if (failure !== undefined) throw failure;
      return settings.signal.aborted ? ExitCode.Interrupted : ExitCode.Ok;
    }
    if (Date.now() - started >= STABLE_MS) failures = 0;
    if (++failures > MAX_RECONNECTS) {
      throw failure ?? new CliError(`gave up after ${MAX_RECONNECTS} reconnections`);
    }
    await pause(settings, failure?.message ?? 'the connection closed', failures);
  }
}

/** Tells whether trying again can help: not after a 4xx answer (a proxy's too) or a bad argument. */
function isRetryable(err: unknown): boolean {
  if (err instanceof InvalidArgumentError) return false;
  if (err instanceof HandshakeError && err.code === ErrorCode.ProxyRefused)
    return err.status >= 500;
  if (err instanceof HandshakeError) return err.status === 0 || err.status >= 500;
  return !(err instanceof CliError);
}

async function pause(settings: DialSettings, why: string, attempt: number): Promise<void> {
  const delay = Math.min(FIRST_DELAY_MS * 2 ** (attempt - 1), MAX_DELAY_MS);
  settings.report(`${why}; reconnecting in ${formatMs(delay)} (${attempt}/${MAX_RECONNECTS})`);
  try {
    await sleep(delay, undefined, { signal: settings.signal });
  } catch {
    // Interrupted: the loop sees the aborted signal and stops.
  }
}
