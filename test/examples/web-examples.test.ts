import { afterEach, describe, expect, it } from 'vitest';
import { startExample, startServerExample, stopAll } from '../helpers/child-process.js';

afterEach(stopAll);

/** Runs the client example and resolves with its exit code and output lines. */
async function client(args: string[]): Promise<{ code: number | null; lines: string[] }> {
  const child = startExample('web-client.ts', args);
  const { code } = await child.exited;
  return { code, lines: child.lines.filter((line) => !line.startsWith('[stderr]')) };
}

describe('examples/web-stream-server.ts and examples/web-client.ts', () => {
  it.each([
    ['the standard WebSocket', []],
    ['WebSocketStream', ['--stream']],
  ])(
    '%s client: text comes back upper-cased, binary unchanged, then a clean close',
    async (_name, flags) => {
      const { child: server, port } = await startServerExample('web-stream-server.ts');
      const { code, lines } = await client([...flags, `ws://127.0.0.1:${port}/`, 'hello', 'wörld']);
      expect(code, lines.join('\n')).toBe(0);
      expect(lines).toEqual([
        flags.length === 0 ? 'open (WebSocket)' : 'open (WebSocketStream)',
        'text: HELLO',
        'text: WÖRLD',
        'binary: 1 2 3',
        'closed 1000',
      ]);
      await server.waitFor(/127\.0\.0\.1 \/: open \(WebSocketStream\)/);
      await server.waitFor(/127\.0\.0\.1 \/: closed 1000/);
    },
  );

  it('serves the standard API at /standard: an onmessage echo, unchanged', async () => {
    const { child: server, port } = await startServerExample('web-stream-server.ts');
    const { code, lines } = await client([`ws://127.0.0.1:${port}/standard`, 'as', 'is']);
    expect(code, lines.join('\n')).toBe(0);
    expect(lines).toEqual([
      'open (WebSocket)',
      'text: as',
      'text: is',
      'binary: 1 2 3',
      'closed 1000',
    ]);
    await server.waitFor(/\/standard: open \(standard API\)/);
    await server.waitFor(/\/standard: closed 1000 \(clean: true\)/);
  });

  it.each([
    ['the standard WebSocket', [], 'failed: error event'],
    ['WebSocketStream', ['--stream'], 'failed: WebSocketError'],
  ])(
    '%s client reports a connection that cannot be made and exits 1',
    async (_name, flags, failure) => {
      const { code, lines } = await client([...flags, 'ws://127.0.0.1:1/']);
      expect(code).toBe(1);
      expect(lines).toContain(failure);
    },
  );
});
