import { once } from 'node:events';
import net from 'node:net';
import { acceptValue, generateKey } from '../../lib/protocol/handshake.js';

/**
 * A peer that completes the opening handshake and then says nothing at all: no pong, no
 * Close. It is what keepalive and closeTimeout exist for, and no real library behaves
 * like it on purpose, so the tests make one by hand.
 */
export interface SilentPeer {
  socket: net.Socket;
  /** Every byte received after the handshake. */
  received: Buffer[];
  /** Resolves when the other side closes the TCP connection. */
  closed: Promise<void>;
}

/** Connects to a WebSocket server as a client that never answers after the 101. */
export async function silentClient(port: number, path = '/'): Promise<SilentPeer> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\n` +
      `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${generateKey()}\r\n\r\n`,
  );
  return track(socket, true);
}

/**
 * Listens on loopback as a server that answers every upgrade with a valid 101 and then
 * never sends or answers anything. Resolves with its port and the peers it accepted.
 */
export async function silentServer(): Promise<{
  port: number;
  peers: Promise<SilentPeer>[];
  close(): Promise<void>;
}> {
  const peers: Promise<SilentPeer>[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    peers.push(
      new Promise((resolve) => {
        let head = '';
        const onData = (chunk: Buffer): void => {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          socket.removeListener('data', onData);
          const key = /^sec-websocket-key:\s*(\S+)/im.exec(head.slice(0, end))?.[1] ?? '';
          socket.write(
            'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
              `Sec-WebSocket-Accept: ${acceptValue(key)}\r\n\r\n`,
          );
          resolve(track(socket, false));
        };
        socket.on('data', onData);
      }),
    );
  });
  server.listen({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    peers,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function track(socket: net.Socket, skipHead: boolean): SilentPeer {
  const received: Buffer[] = [];
  let headDone = !skipHead;
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    if (headDone) {
      received.push(chunk);
      return;
    }
    pending = Buffer.concat([pending, chunk]);
    const end = pending.indexOf('\r\n\r\n');
    if (end === -1) return;
    headDone = true;
    if (pending.length > end + 4) received.push(pending.subarray(end + 4));
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received, closed };
}
