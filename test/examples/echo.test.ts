import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { startExample, startServerExample, stopAll } from '../helpers/child-process.js';
import { nextMessage } from '../helpers/loopback-server.js';

afterEach(stopAll);

describe('examples/echo-server.ts and examples/echo-client.ts', () => {
  it('the client sends random numbers every second and prints the echoes', async () => {
    const { child: server, port } = await startServerExample('echo-server.ts');
    const client = startExample('echo-client.ts', [`ws://127.0.0.1:${port}/`, '--count=2']);
    const { code } = await client.exited;
    expect(code, client.output).toBe(0);
    const echoes = client.matching(/^Received: '\d+'$/);
    expect(echoes).toHaveLength(2);
    expect(client.lines[0]).toBe('WebSocket client connected');
    expect(client.lines.at(-1)).toBe('echo-protocol Connection Closed');
    // The server logged what it echoed, and saw the client leave with a clean close.
    for (const echo of echoes) {
      const number = /'(\d+)'/.exec(echo)![1];
      expect(server.matching(new RegExp(`^Received Message: ${number}$`))).toHaveLength(1);
    }
    await server.waitFor(/Peer 127\.0\.0\.1 disconnected \(1000\)/);
  });

  it('the server echoes text as text and binary as binary', async () => {
    const { port } = await startServerExample('echo-server.ts');
    const ws = await connect(`ws://127.0.0.1:${port}/`);
    ws.write('text stays text');
    expect(await nextMessage(ws)).toBe('text stays text');
    const bytes = Buffer.from([0, 1, 2, 255]);
    ws.write(bytes);
    expect(await nextMessage(ws)).toEqual(bytes);
    ws.end();
  });

  it('the client reports a failed connection and exits 1', async () => {
    const client = startExample('echo-client.ts', ['ws://127.0.0.1:1/']);
    const { code } = await client.exited;
    expect(code).toBe(1);
    expect(client.matching(/^Connect Error: /)).toHaveLength(1);
  });
});
