import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import type { CloseEvent } from '../../lib/web/close-event.js';
import { WebSocket } from '../../lib/web/web-socket.js';
import { WebSocketStream } from '../../lib/web/web-socket-stream.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { type Http2ServerFixture, startHttp2Server, within } from '../helpers/http2-servers.js';

/**
 * The web APIs over HTTP/2 (RFC 8441): the Node-only `http2` option in the second argument,
 * as every other client option; the server sees an HTTP/2 stream, not an upgraded socket.
 */

let certs: TestCerts;
let fixture: Http2ServerFixture;
const accepted: WebSocketConnection[] = [];

beforeAll(async () => {
  certs = makeTestCerts();
  fixture = await startHttp2Server({ certs, wss: { autoAcceptConnections: true } });
  fixture.wss!.on('connect', (ws) => {
    accepted.push(ws);
    ws.pipe(ws);
  });
});
afterAll(async () => {
  await fixture?.close();
  certs?.cleanup();
});

/** Whether the server's side of the last connection runs on an HTTP/2 stream. */
const lastOverHttp2 = () => typeof (accepted.at(-1)!.transport as { id?: unknown }).id === 'number';

describe('the web APIs over HTTP/2', () => {
  it("WebSocket with http2: 'require' opens, echoes and closes cleanly", async () => {
    const ws = new WebSocket(fixture.url('/'), { ca: certs.ca, http2: 'require' });
    await within(new Promise((resolve) => ws.addEventListener('open', resolve)), 5_000, 'open');
    expect(lastOverHttp2()).toBe(true);
    const echoed = new Promise<unknown>((resolve) =>
      ws.addEventListener('message', (event) => resolve(event.data)),
    );
    ws.send('over a stream');
    expect(await within(echoed, 5_000, 'the echo')).toBe('over a stream');
    const closed = new Promise<CloseEvent>((resolve) =>
      ws.addEventListener('close', (event) => resolve(event as CloseEvent)),
    );
    ws.close(4000, 'done');
    const event = await within(closed, 5_000, 'close');
    // The server's Close answers with the code it received (RFC 6455 §5.5.1), no reason.
    expect([event.code, event.reason, event.wasClean]).toEqual([4000, '', true]);
  });

  it('WebSocketStream with http2: true opens on the session, echoes and closes cleanly', async () => {
    const wss = new WebSocketStream(fixture.url('/'), { ca: certs.ca, http2: true });
    const { readable, writable } = await within(wss.opened, 5_000, 'opened');
    expect(lastOverHttp2()).toBe(true);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(new Uint8Array([1, 2, 3]));
    const { value } = await within(reader.read(), 5_000, 'the echo');
    expect(new Uint8Array(value as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    wss.close({ closeCode: 4001, reason: 'bye' });
    expect(await within(wss.closed, 5_000, 'closed')).toEqual({ closeCode: 4001, reason: '' });
  });
});
