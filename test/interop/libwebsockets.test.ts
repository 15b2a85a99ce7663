/**
 * Interop with libwebsockets, the real thing, as Debian ships it (libwebsockets-test-server,
 * 4.1): its test client against our demo server, and our client against its test server.
 * The peers must be installed (.ci/run does it); a missing one fails the test, loudly.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import type { WebSocketConnection } from '../../lib/stream/websocket-connection.js';
import {
  requireProgram,
  startExample,
  startProgram,
  startServerExample,
  stopAll,
} from '../helpers/child-process.js';
import { until } from '../helpers/loopback-server.js';

const PACKAGE = 'libwebsockets-test-server';
const connections: WebSocketConnection[] = [];
afterEach(async () => {
  for (const ws of connections.splice(0)) ws.terminate();
  await stopAll();
});

/** A port nothing listens on right now (the peer takes a port number, not 0). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Connects once the server accepts connections (it prints nothing we can wait on). */
async function connectWhenUp(
  url: string,
  protocol: string,
  ms = 10_000,
): Promise<WebSocketConnection> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const ws = await connect(url, { protocols: [protocol] });
      connections.push(ws);
      return ws;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('libwebsockets-test-client against our demo server', () => {
  it('holds a dumb-increment and an lws-mirror connection, messages flowing both ways', async () => {
    const lwsClient = requireProgram('/usr/bin/libwebsockets-test-client', PACKAGE);
    const { child: server, port } = await startServerExample('libwebsockets-test-server.ts');

    // Our own watcher on the mirror: it sees what libwebsockets draws.
    const watcher = await connect(`ws://127.0.0.1:${port}/`, {
      protocols: ['lws-mirror-protocol'],
    });
    connections.push(watcher);
    const circles: string[] = [];
    watcher.on('data', (message: string) => {
      for (const command of message.split(';')) if (command !== '') circles.push(`${command};`);
    });

    // -d 31: errors, warnings, notices, info (each number received) and debug (each frame).
    const lws = startProgram('libwebsockets-test-client', lwsClient, [
      '127.0.0.1',
      `--port=${port}`,
      '-d',
      '31',
    ]);
    const numbers = /\bI: rx \d+ '(\d+)'$/;
    const mirrored = /D: lws_ws_client_rx_sm: starting disbursal of (\d+) deframed rx$/;
    await lws.waitForCount(numbers, 20, 15_000);
    await until(() => circles.length >= 200, 10_000, 'circles from libwebsockets on the mirror');
    await until(
      () => lws.matching(mirrored).filter((l) => Number(mirrored.exec(l)![1]) >= 8).length >= 200,
      10_000,
      'libwebsockets to receive its circles back',
    );
    // Both connections were held all along: nothing disconnected before we stop the client.
    expect(server.matching(/disconnected/)).toEqual([]);
    await lws.stop('SIGINT');

    // It connected both protocols, and nothing went wrong on its side.
    // (Only the first protocol's callback logs the HTTP status: the dumb connection's.)
    expect(lws.matching(/N: lws_http_client_http_response 101$/)).toHaveLength(1);
    expect(lws.matching(/dumb: LWS_CALLBACK_CLIENT_ESTABLISHED$/)).toHaveLength(1);
    expect(lws.matching(/N: mirror: LWS_CALLBACK_CLIENT_ESTABLISHED$/)).toHaveLength(1);
    expect(lws.matching(/CLIENT_CONNECTION_ERROR|\bE: (?!Exiting)/)).toEqual([]);

    // Server to client: the counter, from 0, one by one.
    const received = lws.matching(numbers).map((line) => Number(numbers.exec(line)![1]));
    expect(received.slice(0, 20)).toEqual([...Array(20).keys()]);

    // Client to server: its random circles, well formed, mirrored to us...
    for (const circle of circles.slice(0, 200)) {
      expect(circle).toMatch(/^c #[0-9A-F]{6} \d{1,3} \d{1,3} \d{1,2};$/);
    }
    // ...and back to it (frames of 8 bytes or more are circles: the counter's are 1 to 3).
    const back = lws.matching(mirrored).filter((l) => Number(mirrored.exec(l)![1]) >= 8).length;

    // The server's own account, once the client has gone.
    const mirrorLog = await server.waitFor(
      /lws-mirror-protocol peer \S+ disconnected, code: \d+, (\d+) messages received/,
    );
    const dumbLog = await server.waitFor(
      /dumb-increment-protocol peer \S+ disconnected, code: \d+, (\d+) numbers sent/,
    );
    const fromLws = Number(mirrorLog[1]);
    expect(fromLws).toBeGreaterThanOrEqual(200);
    expect(Number(dumbLog[1])).toBeGreaterThanOrEqual(received.length);
    console.log(
      `libwebsockets-test-client: ${received.length} increments received, ${fromLws} circles sent to us, ${back} mirrored back to it; our watcher saw ${circles.length}`,
    );
  });
});

describe('our client against libwebsockets-test-server', () => {
  it('receives the increments and resets them; the mirror echoes our circles', async () => {
    const lwsServer = requireProgram('/usr/bin/libwebsockets-test-server', PACKAGE);
    const port = await freePort();
    startProgram('libwebsockets-test-server', lwsServer, [`--port=${port}`, '--interface=lo']);

    // The library directly: a second of increments.
    const ws = await connectWhenUp(`ws://127.0.0.1:${port}/`, 'dumb-increment-protocol');
    expect(ws.protocol).toBe('dumb-increment-protocol');
    const values: number[] = [];
    ws.on('data', (message: string) => values.push(Number(message)));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(values.length).toBeGreaterThanOrEqual(10); // 50 ms apart: about 20
    expect(values).toEqual([...Array(values.length).keys()]);
    ws.write('reset\n');
    const before = values.length;
    await until(() => values.slice(before).includes(0), 2_000, 'the reset to take effect');
    ws.end();
    console.log(`libwebsockets-test-server: ${before} increments in 1 s before the reset`);

    // The example client: counter, reset and mirror together.
    const client = startExample('libwebsockets-test-client.ts', [
      `ws://127.0.0.1:${port}/`,
      '--count=40',
      '--reset-at=20',
      '--circles=20',
    ]);
    const { code } = await client.exited;
    expect(code, client.output).toBe(0);
    expect(client.lines.at(-1)).toMatch(
      /^received 40 increments \(first 0, last \d+\), 1 reset\(s\) seen; mirror: 20 of 20 circles came back/,
    );
  });
});
