import { CloseCode, isSendableCloseCode } from '../protocol/close-codes.js';
import type { Incoming } from '../stream/connection-events.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import { parseInteger } from './args.js';
import { CliError, ExitCode, UsageError } from './errors.js';
import { formatMs, quoted } from './output.js';

const CLOSE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(CloseCode).map(([name, code]) => [
    code,
    name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase(),
  ]),
);

/** Names a close code for people: 1000 normal, 1008 policy violation, 4000 private use. */
export function closeName(code: number): string {
  if (CLOSE_NAMES[code] !== undefined) return `${code} ${CLOSE_NAMES[code]}`;
  if (code >= 4000 && code <= 4999) return `${code} private use`;
  if (code >= 3000 && code <= 3999) return `${code} registered`;
  return String(code);
}

/**
 * Describes what the handshake agreed beyond the connection itself, for the connection
 * notices: ' (HTTP/2, subprotocol chat.v1, permessage-deflate)', or '' when nothing was.
 */
export function agreedTerms(ws: WebSocketConnection<Incoming>): string {
  const terms = [
    ...(overHttp2(ws) ? ['HTTP/2'] : []),
    ...(ws.protocol === '' ? [] : [`subprotocol ${ws.protocol}`]),
    ...ws.extensions.map((extension) => extension.name),
  ];
  return terms.length === 0 ? '' : ` (${terms.join(', ')})`;
}

/** Tells whether a connection runs on an HTTP/2 stream (RFC 8441): streams have a numeric id. */
function overHttp2(ws: WebSocketConnection<Incoming>): boolean {
  return typeof (ws.transport as { id?: unknown }).id === 'number';
}

/** Parses a close code given on the command line or with /close, refusing unsendable ones. */
export function parseCloseCode(raw: string, what: string): number {
  const code = parseInteger(raw, what, 1000, 4999);
  if (!isSendableCloseCode(code)) {
    throw new UsageError(`${what} ${code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)`);
  }
  return code;
}

/** How a connection ended, as seen by the command that ran it. */
export interface Outcome {
  /** We started the closing handshake (end of input, /close, a signal). */
  local: boolean;
  /** Both Close frames were exchanged. */
  clean: boolean;
  code: number;
  reason: string;
  /** Why we gave up on the connection ourselves (no pong), when we did. */
  lostReason: string | undefined;
  error: Error | undefined;
}

/** Close codes from a peer that end a command successfully. */
const BENIGN_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.Normal,
  CloseCode.GoingAway,
  CloseCode.NoStatusReceived,
]);

/**
 * Maps an outcome to the exit status and the one line that explains it: 0 for a clean
 * close that we started or that the peer started with 1000, 1001 or no code; 1 for a
 * peer's close with another code; 5 for a connection that ended without a handshake.
 */
export function exitFor(outcome: Outcome): CliError | undefined {
  if (outcome.lostReason !== undefined) {
    return new CliError(`connection lost: ${outcome.lostReason}`, ExitCode.ConnectionLost);
  }
  if (!outcome.clean) {
    const why = outcome.error?.message ?? 'closed without a closing handshake (1006)';
    return new CliError(`connection lost: ${why}`, ExitCode.ConnectionLost);
  }
  if (outcome.local || BENIGN_CLOSE_CODES.has(outcome.code)) return undefined;
  return new CliError(
    `the peer closed the connection with ${closeName(outcome.code)}${quoted(outcome.reason)}`,
    ExitCode.Failure,
  );
}

/** Pinging: how often, and how long a pong may take. */
export interface HeartbeatOptions {
  interval: number | undefined;
  timeout: number | undefined;
}

/** Control-frame traffic, reported for --show-control and the interactive view. */
export type ControlEvent =
  | { kind: 'ping-sent' | 'ping' | 'pong'; data: Buffer }
  | { kind: 'close'; code: number; reason: string; local: boolean };

/**
 * Watches one connection: sends the heartbeat pings, gives up on the peer when a pong is
 * late, reports control frames, and resolves with the outcome once the connection has
 * closed. `markLocal()` records that we started the close.
 */
export class ConnectionWatch {
  readonly closed: Promise<Outcome>;
  #local = false;
  #lostReason: string | undefined;
  #interval: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #sequence = 0;

  constructor(
    readonly ws: WebSocketConnection<Incoming>,
    heartbeat: HeartbeatOptions,
    readonly onControl: (event: ControlEvent) => void,
  ) {
    ws.on('ping', (data: Buffer) => onControl({ kind: 'ping', data }));
    ws.on('pong', (data: Buffer) => {
      clearTimeout(this.#deadline);
      this.#deadline = undefined;
      onControl({ kind: 'pong', data });
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve(this.#finish())));
    if (heartbeat.interval !== undefined) this.#startPinging(heartbeat.interval, heartbeat.timeout);
  }

  /** Records that the close is ours, so that the exit status says the work was done. */
  markLocal(): void {
    this.#local = true;
  }

  /** Whether we started the close. */
  get local(): boolean {
    return this.#local;
  }

  /** Sends a ping now (the /ping command, or the heartbeat). */
  ping(data?: string): void {
    const payload = Buffer.from(data ?? `wsdx ${++this.#sequence}`);
    this.ws.ping(payload);
    this.onControl({ kind: 'ping-sent', data: payload });
  }

  #startPinging(interval: number, timeout: number | undefined): void {
    this.#interval = setInterval(() => {
      if (!this.ws.isOpen) return;
      this.ping();
      if (timeout !== undefined && this.#deadline === undefined) {
        this.#deadline = setTimeout(() => this.#giveUp(timeout), timeout);
      }
    }, interval);
  }

  #giveUp(timeout: number): void {
    this.#lostReason = `no pong within ${formatMs(timeout)}`;
    this.ws.terminate();
  }

  #finish(): Outcome {
    clearInterval(this.#interval);
    clearTimeout(this.#deadline);
    const ws = this.ws;
    const outcome: Outcome = {
      local: this.#local,
      clean: ws.wasClean,
      code: ws.closeCode,
      reason: ws.closeReason,
      lostReason: this.#lostReason,
      error: ws.closeError,
    };
    this.onControl({
      kind: 'close',
      code: ws.closeCode,
      reason: ws.closeReason,
      local: this.#local,
    });
    return outcome;
  }
}
