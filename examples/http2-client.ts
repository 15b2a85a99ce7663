/**
 * Many WebSockets on one HTTP/2 connection (RFC 8441): `connect(url, { http2: true })`
 * opens an HTTP/2 session to the origin once and runs each WebSocket on a stream of it; the
 * session closes with its last WebSocket. Against a server that does not allow WebSockets
 * over HTTP/2, `true` falls back to HTTP/1.1 ('require' fails instead).
 *
 * Run: node --import tsx examples/http2-client.ts [wss://localhost:8443/echo] [--count=10]
 *        [--ca=ca.pem | --insecure] [--require]
 * (--insecure accepts any certificate: for the example server's throwaway one only.)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect } from '../lib/client.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: 'string' },
    ca: { type: 'string' },
    insecure: { type: 'boolean' },
    require: { type: 'boolean' },
  },
});
const url = positionals[0] ?? 'wss://localhost:8443/echo';
const count = Number(values.count ?? 10);

try {
  const options = {
    http2: values.require === true ? ('require' as const) : true,
    ...(values.ca === undefined ? {} : { ca: readFileSync(values.ca) }),
    ...(values.insecure === true ? { rejectUnauthorized: false } : {}),
  };
  // Opened together: they share one session (one TCP and TLS connection).
  const sockets = await Promise.all(Array.from({ length: count }, () => connect(url, options)));
  const streams = sockets.map((ws) => (ws.transport as { id?: number }).id);
  const overHttp2 = streams.every((id) => typeof id === 'number');
  console.log(
    `${count} WebSockets open, ${overHttp2 ? 'over one HTTP/2 session' : 'over HTTP/1.1'}`,
  );
  const echoes = await Promise.all(
    sockets.map(async (ws, i) => {
      ws.write(`message ${i}`);
      for await (const message of ws) return message;
      return undefined;
    }),
  );
  const good = echoes.filter((echo, i) => echo === `message ${i}`).length;
  console.log(`${good} of ${count} echoes came back`);
  process.exitCode = good === count ? 0 : 1;
} catch (err) {
  console.error(`Connect Error: ${(err as Error).message}`);
  process.exitCode = 1;
}
