/**
 * The connection's options model: every tunable resolved and checked once (per server for
 * all its connections, per client connection), the receive mode and its limits derived
 * from the options, unknown names refused (ws's habits with a hint), and a connection given
 * options already resolved taking them as they are.
 */
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { CloseCode } from '../../lib/protocol/close-codes.js';
import { InvalidArgumentError } from '../../lib/protocol/errors.js';
import { DEFAULTS } from '../../lib/protocol/limits.js';
import { WebSocketServer } from '../../lib/server.js';
import type { Incoming } from '../../lib/stream/connection-events.js';
import {
  CONNECTION_DEFAULTS,
  CONNECTION_OPTION_NAMES,
  type ConnectionInit,
  type ConnectionOptions,
  resolveConnectionInit,
  resolveConnectionOptions,
  resolveFragmentationThreshold,
} from '../../lib/stream/connection-options.js';
import { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import { closeOf, readChunks } from '../helpers/connections.js';
import { duplexPair } from '../helpers/duplex-pair.js';

const MiB = 1024 * 1024;
const allowance = (size: number) => size + Math.ceil(size / 1024) + 64;

/** Calls `fn`, which must throw an InvalidArgumentError; returns its message. */
function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidArgumentError, nothing was thrown');
}

describe('resolveConnectionOptions: the receive mode and what follows from it', () => {
  it('by default: whole messages, the held-message limit, 64 KiB writable, no keepalive', () => {
    const resolved = resolveConnectionOptions({}, 'server');
    expect(resolved.role).toBe('server');
    expect(resolved.mode).toBe('messages');
    expect(resolved.limits).toEqual({
      message: { size: 64 * MiB, option: 'maxReceivedMessageSize' },
      frame: { size: allowance(64 * MiB), option: 'maxReceivedMessageSize' },
    });
    expect(resolved.fragmentationThreshold).toBe(16 * 1024);
    expect(resolved.keepalive).toBe(false);
    expect(resolved.sweep).toBeUndefined();
    expect(resolved.closeTimeout).toBe(5_000);
    expect(resolved.deferCloseReply).toBe(false);
    expect(resolved.readableHighWaterMark).toBe(16);
    expect(resolved.writableHighWaterMark).toBe(64 * 1024);
    expect(resolved.keepaliveInterval).toBe(20_000);
    expect(resolved.keepaliveGracePeriod).toBe(10_000);
    expect(resolved.dropConnectionOnKeepaliveTimeout).toBe(true);
  });

  it('the documented connection defaults are the ones in protocol/limits', () => {
    for (const [name, value] of Object.entries(CONNECTION_DEFAULTS)) {
      expect(value, name).toBe(DEFAULTS[name as keyof typeof DEFAULTS]);
    }
  });

  it("messageStreams: 'streams', not cut by maxReceivedMessageSize", () => {
    const resolved = resolveConnectionOptions(
      { messageStreams: true, maxReceivedMessageSize: 10 },
      'client',
    );
    expect(resolved.mode).toBe('streams');
    expect(resolved.limits.message).toEqual({
      size: Number.POSITIVE_INFINITY,
      option: 'maxStreamedMessageSize',
    });
    expect(resolved.limits.frame.size).toBe(Number.POSITIVE_INFINITY);
  });

  it("assembleFragments: false: 'frames', 16 frames writable, frames bounded by the held limit", () => {
    const resolved = resolveConnectionOptions(
      { assembleFragments: false, maxReceivedMessageSize: 1000, maxStreamedMessageSize: 5000 },
      'server',
    );
    expect(resolved.mode).toBe('frames');
    expect(resolved.writableHighWaterMark).toBe(16);
    expect(resolved.limits).toEqual({
      message: { size: 5000, option: 'maxStreamedMessageSize' },
      frame: { size: allowance(1000), option: 'maxReceivedMessageSize' },
    });
  });

  it('refuses messageStreams with assembleFragments: false', () => {
    expect(
      refused(() =>
        resolveConnectionOptions({ messageStreams: true, assembleFragments: false }, 'server'),
      ),
    ).toContain('messageStreams');
  });

  it('keepalive by default where the caller says so (a server), with a shared sweep', () => {
    const a = resolveConnectionOptions({}, 'server', true);
    const b = resolveConnectionOptions({ closeTimeout: 1 }, 'server', true);
    expect(a.keepalive).toBe(true);
    expect(a.sweep).toBeDefined();
    // The same keepalive settings share one sweep (one timer), other settings another.
    expect(b.sweep).toBe(a.sweep);
    const other = resolveConnectionOptions({ keepaliveInterval: 1234 }, 'server', true);
    expect(other.sweep).toBeDefined();
    expect(other.sweep).not.toBe(a.sweep);
    expect(resolveConnectionOptions({ keepalive: false }, 'server', true).sweep).toBeUndefined();
  });

  it('is frozen: a resolved value cannot be changed under the connections that share it', () => {
    const resolved = resolveConnectionOptions({}, 'server');
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('takes every value it was given', () => {
    const resolved = resolveConnectionOptions(
      {
        maxReceivedFrameSize: 7,
        maxReceivedMessageSize: 8,
        fragmentationThreshold: 9,
        keepalive: true,
        keepaliveInterval: 100,
        keepaliveGracePeriod: 50,
        dropConnectionOnKeepaliveTimeout: false,
        closeTimeout: 250,
        deferCloseReply: true,
        readableHighWaterMark: 0,
        writableHighWaterMark: 1,
      },
      'client',
    );
    expect(resolved).toMatchObject({
      role: 'client',
      mode: 'messages',
      limits: {
        frame: { size: 7, option: 'maxReceivedFrameSize' },
        message: { size: 8, option: 'maxReceivedMessageSize' },
      },
      fragmentationThreshold: 9,
      keepalive: true,
      keepaliveInterval: 100,
      keepaliveGracePeriod: 50,
      dropConnectionOnKeepaliveTimeout: false,
      closeTimeout: 250,
      deferCloseReply: true,
      readableHighWaterMark: 0,
      writableHighWaterMark: 1,
    });
  });
});

describe('resolveConnectionOptions: a bad value is refused, naming the option', () => {
  const cases: Array<[keyof ConnectionOptions, unknown, string]> = [
    ['maxReceivedFrameSize', -1, 'maxReceivedFrameSize must be a non-negative integer'],
    ['maxReceivedMessageSize', null, 'maxReceivedMessageSize must be a non-negative integer'],
    ['maxStreamedMessageSize', 1.5, 'maxStreamedMessageSize must be a non-negative integer'],
    ['fragmentOutgoingMessages', 'yes', 'fragmentOutgoingMessages must be true or false'],
    ['fragmentationThreshold', 0, 'fragmentationThreshold must be a positive integer'],
    ['assembleFragments', 0, 'assembleFragments must be true or false'],
    ['messageStreams', 'true', 'messageStreams must be true or false'],
    ['keepalive', 1, 'keepalive must be true or false'],
    ['keepaliveInterval', 0, 'keepaliveInterval must be a positive number'],
    ['keepaliveGracePeriod', Number.NaN, 'keepaliveGracePeriod must be a positive number'],
    [
      'dropConnectionOnKeepaliveTimeout',
      null,
      'dropConnectionOnKeepaliveTimeout must be true or false',
    ],
    ['closeTimeout', -5, 'closeTimeout must be a positive number'],
    ['deferCloseReply', 'false', 'deferCloseReply must be true or false'],
    ['readableHighWaterMark', 2.5, 'readableHighWaterMark must be a non-negative integer'],
    ['writableHighWaterMark', '64', 'writableHighWaterMark must be a non-negative integer'],
  ];
  it('covers every connection option', () => {
    expect(new Set(cases.map(([name]) => name))).toEqual(new Set(CONNECTION_OPTION_NAMES));
  });
  for (const [name, value, message] of cases) {
    it(`${name}: ${String(value)}`, () => {
      expect(
        refused(() =>
          resolveConnectionOptions({ [name]: value } as unknown as ConnectionOptions, 'server'),
        ),
      ).toContain(message);
    });
  }
});

describe('resolveFragmentationThreshold', () => {
  it('gives the threshold, 16 KiB by default, Infinity when fragmentation is off', () => {
    expect(resolveFragmentationThreshold({})).toBe(16 * 1024);
    expect(resolveFragmentationThreshold({ fragmentationThreshold: 1 })).toBe(1);
    expect(
      resolveFragmentationThreshold({ fragmentOutgoingMessages: false, fragmentationThreshold: 5 }),
    ).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses a threshold that is not a positive integer', () => {
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '16']) {
      expect(
        refused(() =>
          resolveFragmentationThreshold({ fragmentationThreshold: value as unknown as number }),
        ),
      ).toBe(`fragmentationThreshold must be a positive integer, got ${String(value)}`);
    }
  });
});

describe('resolveConnectionInit (a bare connection)', () => {
  it('refuses a missing init and a bad role', () => {
    expect(refused(() => resolveConnectionInit(null as unknown as ConnectionInit))).toContain(
      'role',
    );
    expect(
      refused(() => resolveConnectionInit({ role: 'peer' } as unknown as ConnectionInit)),
    ).toBe("role must be 'server' or 'client', got peer");
  });

  it('refuses unknown names, with the hint for a ws habit', () => {
    expect(
      refused(() =>
        resolveConnectionInit({ role: 'client', maxPayload: 1 } as unknown as ConnectionInit),
      ),
    ).toContain('WebSocketConnection has no option maxPayload: use maxReceivedMessageSize');
    expect(
      refused(() =>
        resolveConnectionInit({ role: 'client', colour: 'red' } as unknown as ConnectionInit),
      ),
    ).toBe('WebSocketConnection has no option "colour"');
  });

  it('takes its own fields beside the tunables', () => {
    const resolved = resolveConnectionInit({
      role: 'client',
      protocol: 'chat',
      url: 'ws://x/',
      head: Buffer.alloc(0),
      extensions: [],
      closeTimeout: 42,
    });
    expect(resolved.closeTimeout).toBe(42);
  });

  it('returns options already resolved as they are, without looking at the tunables again', () => {
    const resolved = resolveConnectionOptions({ closeTimeout: 77 }, 'server');
    const init = {
      role: 'server',
      resolved,
      closeTimeout: -1, // would be refused if it were read
      maxPayload: 1, // would be refused if the names were checked
    } as unknown as ConnectionInit;
    expect(resolveConnectionInit(init)).toBe(resolved);
  });

  it('refuses options resolved for the other role', () => {
    const resolved = resolveConnectionOptions({}, 'client');
    expect(refused(() => resolveConnectionInit({ role: 'server', resolved }))).toBe(
      'Options resolved for a client, not a server',
    );
  });
});

describe('a connection given resolved options uses them, not its own fields', () => {
  const open: WebSocketConnection<Incoming>[] = [];
  afterEach(() => {
    for (const ws of open.splice(0)) ws.destroy();
  });

  it("the resolved limit applies (1009), the field beside it doesn't", async () => {
    const [a, b] = duplexPair();
    const server = new WebSocketConnection<Incoming>(a, {
      role: 'server',
      resolved: resolveConnectionOptions({ maxReceivedMessageSize: 10 }, 'server'),
      maxReceivedMessageSize: 1000,
    });
    const client = new WebSocketConnection<Incoming>(b, { role: 'client' });
    open.push(server, client);
    const errors: Error[] = [];
    server.on('error', (err) => errors.push(err));
    const closed = closeOf(client);
    const fits = readChunks(server, 1);
    client.write('0123456789');
    expect(await fits).toEqual(['0123456789']);
    client.write('0123456789A');
    server.resume();
    expect(await closed).toEqual([
      CloseCode.MessageTooBig,
      'Message exceeds maxReceivedMessageSize (10 bytes)',
    ]);
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['ERR_WS_MESSAGE_TOO_LARGE']);
  });
});

describe('a server resolves its options once, for all its connections', () => {
  let httpServer: http.Server | undefined;
  const sockets = new Set<net.Socket>();
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (httpServer !== undefined) {
      await new Promise<void>((resolve) => httpServer!.close(() => resolve()));
      httpServer = undefined;
    }
  });

  it('a bad value fails the constructor, not the first connection', () => {
    const server = http.createServer();
    expect(
      refused(() => new WebSocketServer({ httpServer: server, closeTimeout: 0 } as never)),
    ).toContain('closeTimeout');
    expect(
      refused(() => new WebSocketServer({ httpServer: server, maxPayload: 10 } as never)),
    ).toContain('WebSocketServer has no option maxPayload: use maxReceivedMessageSize');
    expect(
      refused(
        () =>
          new WebSocketServer({
            httpServer: server,
            messageStreams: true,
            assembleFragments: false,
          } as never),
      ),
    ).toContain('messageStreams');
    expect(server.listenerCount('upgrade')).toBe(0);
  });

  it('reads none of its options again when connections come, and every one gets them', async () => {
    httpServer = http.createServer();
    httpServer.on('connection', (socket: net.Socket) => sockets.add(socket));
    const reads = new Map<string, number>();
    const target = {
      httpServer,
      autoAcceptConnections: true,
      maxReceivedMessageSize: 5,
      closeTimeout: 2_000,
      keepalive: false,
    };
    const options = new Proxy(target, {
      get(t, name, receiver) {
        if (typeof name === 'string') reads.set(name, (reads.get(name) ?? 0) + 1);
        return Reflect.get(t, name, receiver);
      },
    });
    const wss = new WebSocketServer(options);
    // What the constructor read, it read once (validated once, not once per use).
    const atConstruction = new Map(reads);
    expect(atConstruction.get('maxReceivedMessageSize')).toBeGreaterThanOrEqual(1);
    reads.clear();
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    const { port } = httpServer.address() as net.AddressInfo;
    const accepted: WebSocketConnection[] = [];
    const received: unknown[] = [];
    wss.on('connect', (ws) => {
      accepted.push(ws as WebSocketConnection);
      ws.on('data', (message) => received.push(message));
    });
    const clients: WebSocketConnection[] = [];
    for (let i = 0; i < 3; i++) clients.push(await connect(`ws://127.0.0.1:${port}/`));
    // Each connection has the server's limit: 5 bytes pass, 6 fail with 1009.
    for (const client of clients) {
      const closed = closeOf(client);
      client.write('12345');
      client.write('123456');
      client.resume();
      expect(await closed).toEqual([
        CloseCode.MessageTooBig,
        'Message exceeds maxReceivedMessageSize (5 bytes)',
      ]);
    }
    expect(accepted).toHaveLength(3);
    expect(received).toEqual(['12345', '12345', '12345']);
    expect(Object.fromEntries(reads)).toEqual({});
    await wss.shutDown({ gracePeriod: 0 });
  });
});

describe('connect() checks its options before any I/O', () => {
  it('rejects unknown names and bad values without dialing', async () => {
    // Port 9 (discard) on a closed loopback: no dial happens, so no connection error either.
    await expect(connect('ws://127.0.0.1:9/', { maxPayload: 1 } as never)).rejects.toThrow(
      'connect() has no option maxPayload: use maxReceivedMessageSize',
    );
    await expect(connect('ws://127.0.0.1:9/', { closeTimeout: -1 } as never)).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});
