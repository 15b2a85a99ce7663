import type { Duplex } from 'node:stream';
import type { Incoming } from '../../lib/stream/connection-events.js';
import type { ConnectionOptions } from '../../lib/stream/connection-options.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { duplexPair } from './duplex-pair.js';
import { tcpPair } from './tcp-pair.js';

export type PairKind = 'memory' | 'tcp';

/** A server connection and a client connection over an in-memory pair or loopback TCP. */
export async function connectionPair(
  kind: PairKind,
  serverOptions: ConnectionOptions = {},
  clientOptions: ConnectionOptions = {},
): Promise<{
  // Any receive mode: the options decide, so the tests say what they read.
  server: WebSocketConnection<Incoming>;
  client: WebSocketConnection<Incoming>;
  transports: [Duplex, Duplex];
}> {
  const [a, b] = kind === 'memory' ? duplexPair() : await tcpPair();
  const server = new WebSocketConnection<Incoming>(a, { role: 'server', ...serverOptions });
  const client = new WebSocketConnection<Incoming>(b, { role: 'client', ...clientOptions });
  return { server, client, transports: [a, b] };
}

/** Resolves once the emitter has emitted 'close', with its arguments. */
export function closeOf(ws: WebSocketConnection<Incoming>): Promise<[number, string]> {
  return new Promise((resolve) =>
    ws.once('close', (code: number, reason: string) => resolve([code, reason])),
  );
}

/** Collects `count` chunks read from the connection. */
export function readChunks(ws: WebSocketConnection<Incoming>, count: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const out: unknown[] = [];
    const onData = (chunk: unknown) => {
      out.push(chunk);
      if (out.length < count) return;
      ws.off('data', onData);
      ws.off('error', reject);
      ws.pause();
      resolve(out);
    };
    ws.on('data', onData);
    ws.once('error', reject);
  });
}

/** Timer handles currently alive in this process (for leak checks). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
