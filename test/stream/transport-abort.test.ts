import type { Duplex as NodeDuplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { installConnectionApi } from '../../lib/compat/connection-api.js';
import { abortTransport } from '../../lib/stream/connection-hooks.js';
import { dropTransport } from '../../lib/stream/transport-events.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';

/**
 * The optional abort method a transport may carry (connection-hooks.ts, abortTransport):
 * every way a connection drops its transport goes through dropTransport, which calls it
 * instead of destroy() when present (an HTTP/2 stream resets with CANCEL that way), and
 * destroy() otherwise. And nothing is written on a transport whose sending side is ended.
 */

installConnectionApi();

const open: WebSocketConnection[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) ws.terminate();
});

/** A transport of a pair that records its abort calls, and destroys itself in them. */
function abortable(): { transport: NodeDuplex; peer: NodeDuplex; aborts: string[] } {
  const [transport, peer] = duplexPair();
  const aborts: string[] = [];
  (transport as NodeDuplex & { [abortTransport]: () => void })[abortTransport] = function (
    this: NodeDuplex,
  ) {
    aborts.push(this === transport ? 'called on the transport' : 'called on something else');
    this.destroy();
  };
  return { transport, peer, aborts };
}

describe('dropTransport', () => {
  it('calls the transport’s abort method, with the transport as this, instead of destroy()', () => {
    const { transport, aborts } = abortable();
    const destroy = transport.destroy.bind(transport);
    let destroys = 0;
    transport.destroy = (err?: Error) => {
      destroys++;
      return destroy(err);
    };
    dropTransport(transport);
    expect(aborts).toEqual(['called on the transport']);
    expect(destroys).toBe(1); // the abort method's own
  });

  it('destroys a transport without one', () => {
    const [transport] = duplexPair();
    dropTransport(transport);
    expect(transport.destroyed).toBe(true);
  });
});

describe('every way a connection drops its transport goes through it', () => {
  it('terminate()', async () => {
    const { transport, aborts } = abortable();
    const ws = new WebSocketConnection(transport, { role: 'server' });
    const closed = closeOf(ws);
    ws.terminate();
    expect((await closed)[0]).toBe(1006);
    expect(aborts).toEqual(['called on the transport']);
  });

  it('the close timeout, when the peer never answers our Close', async () => {
    const { transport, peer, aborts } = abortable();
    peer.resume();
    const ws = new WebSocketConnection(transport, { role: 'client', closeTimeout: 50 });
    open.push(ws);
    const closed = closeOf(ws);
    ws.close(1000);
    expect((await closed)[0]).toBe(1006);
    expect(aborts).toEqual(['called on the transport']);
  });

  it('the keepalive timeout, when the peer never answers the ping', async () => {
    const { transport, peer, aborts } = abortable();
    peer.resume();
    const ws = new WebSocketConnection(transport, {
      role: 'server',
      keepalive: true,
      keepaliveInterval: 30,
      keepaliveGracePeriod: 30,
    });
    open.push(ws);
    const closed = closeOf(ws);
    expect((await closed)[0]).toBe(1006);
    expect(aborts).toEqual(['called on the transport']);
    expect(ws.closeError?.message).toMatch(/keepalive/);
  });

  it("WebSocket-Node's drop()", async () => {
    const { transport, peer, aborts } = abortable();
    peer.resume();
    const ws = new WebSocketConnection(transport, { role: 'server' });
    const closed = closeOf(ws);
    ws.drop(1002, 'bye');
    await closed;
    expect(aborts).toEqual(['called on the transport']);
  });

  it('the end of the peer’s side, on a client (it drops its own after the server’s FIN)', async () => {
    const { transport, peer, aborts } = abortable();
    const ws = new WebSocketConnection(transport, { role: 'client' });
    ws.resume();
    const closed = closeOf(ws);
    peer.end();
    expect((await closed)[0]).toBe(1006);
    expect(aborts).toEqual(['called on the transport']);
  });
});

describe('a transport whose sending side is ended', () => {
  it('gets nothing more written, and no write-after-end error reaches the connection', async () => {
    const [transport, peer] = duplexPair();
    peer.resume();
    // An abort that ends the sending side only, as an HTTP/2 stream answers END_STREAM.
    (transport as NodeDuplex & { [abortTransport]: () => void })[abortTransport] = function (
      this: NodeDuplex,
    ) {
      this.end();
    };
    const ws = new WebSocketConnection(transport, { role: 'server' });
    const errors: Error[] = [];
    transport.on('error', (err) => errors.push(err));
    const closed = closeOf(ws);
    ws.terminate(); // the abort ends the transport, then the connection is destroyed
    ws.write('too late', () => {});
    await closed;
    expect(errors).toEqual([]);
    expect(ws.closeError).toBeUndefined();
  });
});
