import diagnosticsChannel from 'node:diagnostics_channel';
import type { Duplex as NodeDuplex } from 'node:stream';
import { debuglog } from 'node:util';
import { HandshakeError } from './protocol/errors.js';

/**
 * The names of the `node:diagnostics_channel` channels this library publishes on, so that
 * an APM agent, a metrics exporter or a test can watch handshakes and connections without a
 * listener on each object, as undici's and node:http's channels allow. Subscribe by name
 * (`diagnostics_channel.subscribe(name, fn)`); nothing is measured or allocated for a
 * connection while nobody subscribes.
 *
 * @see RFC 6455 §4 (the opening handshake), §5.5 (control frames), §7 (closing)
 * @example
 * diagnosticsChannel.subscribe(DiagnosticsChannel.Close, (message) => {
 *   const { code, received, sent } = message as CloseMessage;
 *   metrics.record(code, received.messages, sent.messages);
 * });
 */
export const DiagnosticsChannel = {
  /** A client starts its opening handshake: {@link HandshakeStartMessage}. */
  HandshakeStart: 'websocket-duplex:handshake:start',
  /** An opening handshake ended, with a 101 or not, either side: {@link HandshakeEndMessage}. */
  HandshakeEnd: 'websocket-duplex:handshake:end',
  /** A connection opened (after its 101): {@link OpenMessage}. */
  Open: 'websocket-duplex:open',
  /** A connection's transport is gone, with its traffic counts: {@link CloseMessage}. */
  Close: 'websocket-duplex:close',
  /** A connection failed (a protocol error, a limit, an abnormal closure): {@link ErrorMessage}. */
  Error: 'websocket-duplex:error',
} as const;

/** Which end of a connection: the one that sent the upgrade request, or the one that answered it. */
export type DiagnosticsRole = 'client' | 'server';

/** Published when a client starts its opening handshake. */
export interface HandshakeStartMessage {
  role: 'client';
  /** The URL connected to, as given. */
  url: string;
  /** The HTTP proxy tunnelled through (its URL without credentials), undefined without one. */
  proxy: string | undefined;
}

/**
 * Published when an opening handshake ends: `status` 101 and no `error` when it succeeded;
 * otherwise the HTTP status answered (0 when no answer came: network, TLS, proxy, timeout)
 * and, on a client, the error its connect() rejects with.
 */
export interface HandshakeEndMessage {
  role: DiagnosticsRole;
  /** The client's URL (after redirects), or the resource a server was asked for (when known). */
  url: string | undefined;
  status: number;
  /** The agreed subprotocol ('' when none); undefined when the handshake failed. */
  protocol: string | undefined;
  /** The agreed extensions' names, in the order they apply. */
  extensions: string[];
  error: Error | undefined;
  /** The peer's address (a server's view), undefined on a client. */
  remoteAddress: string | undefined;
  /** Time since the handshake started, in ms (a client's; undefined on a server). */
  durationMs: number | undefined;
}

/** Published when a connection opens. */
export interface OpenMessage {
  /** The WebSocketConnection. */
  connection: NodeDuplex;
  role: DiagnosticsRole;
  /** A client connection's URL; undefined on a server. */
  url: string | undefined;
  protocol: string;
  extensions: string[];
  remoteAddress: string | undefined;
}

/**
 * What went one way over a connection: data messages (Frames in raw-fragment mode; a
 * message stream counts once), control frames (ping, pong, close), and bytes on the
 * transport (undefined where the transport does not count them, as an Http2Stream).
 */
export interface TrafficCounts {
  messages: number;
  controlFrames: number;
  bytes: number | undefined;
}

/** Published when a connection's transport is gone, whichever way it ended. */
export interface CloseMessage {
  connection: NodeDuplex;
  role: DiagnosticsRole;
  url: string | undefined;
  /** The close code (the peer's; 1005 when its Close had none; 1006 without a handshake). */
  code: number;
  reason: string;
  /** Both Close frames were exchanged. */
  wasClean: boolean;
  /** The error that ended the connection, if one did. */
  error: Error | undefined;
  received: TrafficCounts;
  sent: TrafficCounts;
  /** Time the connection was open, in ms. */
  durationMs: number;
}

/** Published when a connection fails, before its close. */
export interface ErrorMessage {
  connection: NodeDuplex;
  role: DiagnosticsRole;
  url: string | undefined;
  error: Error;
}

/** The channels, made once per process. */
export const channels = {
  handshakeStart: diagnosticsChannel.channel(DiagnosticsChannel.HandshakeStart),
  handshakeEnd: diagnosticsChannel.channel(DiagnosticsChannel.HandshakeEnd),
  open: diagnosticsChannel.channel(DiagnosticsChannel.Open),
  close: diagnosticsChannel.channel(DiagnosticsChannel.Close),
  error: diagnosticsChannel.channel(DiagnosticsChannel.Error),
} as const;

/**
 * Tells whether connections opened now are to be observed: checked once as a connection
 * starts, so that one nobody watches costs a bit in a field it already has, and no
 * counter, object or closure.
 */
export function observingConnections(): boolean {
  return (
    channels.open.hasSubscribers || channels.close.hasSubscribers || channels.error.hasSubscribers
  );
}

/** What a connection needs to report itself; the counters live here, not on the connection. */
export interface ObservedConnection {
  readonly connection: NodeDuplex;
  readonly role: DiagnosticsRole;
  readonly url: string | undefined;
  readonly opened: number;
  readonly received: { messages: number; controlFrames: number };
  readonly sent: { messages: number; controlFrames: number };
}

/**
 * Publishes how a client's opening handshake ended (over HTTP/1.1 or HTTP/2): the status
 * (101, 200 over HTTP/2, a refusal's, 0 when no answer came), what was agreed, and the time
 * since `startedAt`. Call it only when `channels.handshakeEnd.hasSubscribers`.
 */
export function publishClientHandshakeEnd(
  url: string,
  startedAt: number,
  status: number,
  error: Error | undefined,
  protocol: string | undefined,
  extensions: string[],
): void {
  channels.handshakeEnd.publish({
    role: 'client',
    url,
    status,
    protocol,
    extensions,
    error,
    remoteAddress: undefined,
    durationMs: Date.now() - startedAt,
  } satisfies HandshakeEndMessage);
}

/**
 * Publishes a client's failed opening handshake: the refusal's status when the server
 * answered (a HandshakeError's), else 0. Call it only when `channels.handshakeEnd.hasSubscribers`.
 */
export function publishClientHandshakeFailure(url: string, startedAt: number, err: unknown): void {
  const status = err instanceof HandshakeError ? err.status : 0;
  const error = err instanceof Error ? err : new Error(String(err));
  publishClientHandshakeEnd(url, startedAt, status, error, undefined, []);
}

const observed = new WeakMap<object, ObservedConnection>();

/**
 * Starts observing a connection (its `owner`, the object its counters are kept for) and
 * publishes its opening.
 */
export function observeOpen(
  owner: object,
  connection: NodeDuplex,
  init: Omit<OpenMessage, 'connection'>,
): void {
  observed.set(owner, {
    connection,
    role: init.role,
    url: init.url,
    opened: Date.now(),
    received: { messages: 0, controlFrames: 0 },
    sent: { messages: 0, controlFrames: 0 },
  });
  if (channels.open.hasSubscribers)
    channels.open.publish({ connection, ...init } satisfies OpenMessage);
}

/** Counts what an observed connection received or sent (`control`: a control frame). */
export function countTraffic(
  owner: object,
  direction: 'received' | 'sent',
  control: boolean,
): void {
  const entry = observed.get(owner);
  if (entry === undefined) return;
  if (control) entry[direction].controlFrames++;
  else entry[direction].messages++;
}

/** Publishes an observed connection's failure. */
export function observeError(owner: object, error: Error): void {
  const entry = observed.get(owner);
  if (entry === undefined || !channels.error.hasSubscribers) return;
  channels.error.publish({
    connection: entry.connection,
    role: entry.role,
    url: entry.url,
    error,
  } satisfies ErrorMessage);
}

/** Publishes an observed connection's close, with its counts, and stops observing it. */
export function observeClose(
  owner: object,
  transport: object,
  outcome: { code: number; reason: string; wasClean: boolean; error: Error | undefined },
): void {
  const entry = observed.get(owner);
  if (entry === undefined) return;
  observed.delete(owner);
  if (!channels.close.hasSubscribers) return;
  const counted = transport as { bytesRead?: unknown; bytesWritten?: unknown };
  channels.close.publish({
    connection: entry.connection,
    role: entry.role,
    url: entry.url,
    ...outcome,
    received: { ...entry.received, bytes: numberOrUndefined(counted.bytesRead) },
    sent: { ...entry.sent, bytes: numberOrUndefined(counted.bytesWritten) },
    durationMs: Date.now() - entry.opened,
  } satisfies CloseMessage);
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

// ---------------------------------------------------------------- NODE_DEBUG

const debug = debuglog('websocket-duplex');

/**
 * Logs every channel's messages on stderr when NODE_DEBUG names websocket-duplex, as undici
 * does for NODE_DEBUG=undici: one line per event, through util.debuglog (which prefixes
 * `WEBSOCKET-DUPLEX <pid>:`), by subscribing to the library's own channels.
 */
function logToDebug(): void {
  diagnosticsChannel.subscribe(DiagnosticsChannel.HandshakeStart, (message) => {
    const m = message as HandshakeStartMessage;
    debug(
      'handshake start: client to %s%s',
      m.url,
      m.proxy === undefined ? '' : ` through ${m.proxy}`,
    );
  });
  diagnosticsChannel.subscribe(DiagnosticsChannel.HandshakeEnd, (message) => {
    const m = message as HandshakeEndMessage;
    const who =
      m.role === 'client' ? `client to ${m.url}` : `server for ${m.url ?? m.remoteAddress ?? '?'}`;
    const took = m.durationMs === undefined ? '' : ` in ${m.durationMs} ms`;
    if (m.error === undefined && m.status === 101) {
      debug('handshake end: %s: 101%s%s', who, terms(m.protocol ?? '', m.extensions), took);
    } else {
      debug(
        'handshake end: %s: %s%s%s',
        who,
        m.status,
        m.error === undefined ? '' : ` (${oneLine(m.error)})`,
        took,
      );
    }
  });
  diagnosticsChannel.subscribe(DiagnosticsChannel.Open, (message) => {
    const m = message as OpenMessage;
    debug('open: %s%s', describe(m), terms(m.protocol, m.extensions));
  });
  diagnosticsChannel.subscribe(DiagnosticsChannel.Error, (message) => {
    const m = message as ErrorMessage;
    debug('error: %s: %s', describe(m), oneLine(m.error));
  });
  diagnosticsChannel.subscribe(DiagnosticsChannel.Close, (message) => {
    const m = message as CloseMessage;
    debug(
      'close: %s: %d%s, %s; received %d messages, %d control frames%s; sent %d messages, %d control frames%s; open %d ms',
      describe(m),
      m.code,
      m.reason === '' ? '' : ` ${JSON.stringify(m.reason)}`,
      m.wasClean ? 'clean' : 'not clean',
      m.received.messages,
      m.received.controlFrames,
      m.received.bytes === undefined ? '' : `, ${m.received.bytes} bytes`,
      m.sent.messages,
      m.sent.controlFrames,
      m.sent.bytes === undefined ? '' : `, ${m.sent.bytes} bytes`,
      m.durationMs,
    );
  });
}

function describe(m: {
  role: DiagnosticsRole;
  url: string | undefined;
  connection: NodeDuplex;
}): string {
  if (m.role === 'client') return `client ${m.url ?? ''}`.trimEnd();
  const address = (m.connection as { remoteAddress?: string }).remoteAddress;
  return `server connection from ${address ?? 'unknown'}`;
}

function terms(protocol: string, extensions: readonly string[]): string {
  const all = [...(protocol === '' ? [] : [`subprotocol ${protocol}`]), ...extensions];
  return all.length === 0 ? '' : ` (${all.join(', ')})`;
}

function oneLine(error: Error): string {
  const code = (error as { code?: unknown }).code;
  const text = error.message.split('\n')[0] ?? '';
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

if (debug.enabled) logToDebug();
