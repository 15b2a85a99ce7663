import { afterEach, describe, expect, it } from 'vitest';
import { startExample, startServerExample, stopAll } from '../helpers/child-process.js';

afterEach(stopAll);

/** Parses the client's log into messages: the sizes of each one's frames, and its total. */
function messages(
  lines: readonly string[],
): { opcodes: string[]; frames: number[]; total: number; fin: boolean[] }[] {
  const out: { opcodes: string[]; frames: number[]; total: number; fin: boolean[] }[] = [];
  let current = { opcodes: [] as string[], frames: [] as number[], total: 0, fin: [] as boolean[] };
  for (const line of lines) {
    const frame = /^Frame: 0x([0-9a-f]+); (\d+) bytes; Flags: (.*)$/.exec(line);
    if (frame !== null) {
      current.opcodes.push(frame[1]!);
      current.frames.push(Number(frame[2]));
      current.fin.push(frame[3]!.includes('[FIN]'));
      continue;
    }
    const total = /^Total message size: (\d+) bytes\.$/.exec(line);
    if (total !== null) {
      current.total = Number(total[1]);
      out.push(current);
      current = { opcodes: [], frames: [], total: 0, fin: [] };
    }
  }
  return out;
}

describe('examples/fragmentation-test-server.ts and fragmentation-test-client.ts', () => {
  for (const binary of [false, true]) {
    it(`fragments ${binary ? 'binary' : 'text'} messages at the threshold given, and the raw client sees each frame`, async () => {
      const { child: server, port } = await startServerExample('fragmentation-test-server.ts', [
        '--fragment=1000',
      ]);
      await server.waitFor(/Fragmenting messages at 1000 bytes/);
      const client = startExample('fragmentation-test-client.ts', [
        `--port=${port}`,
        '--length=5000',
        '--count=4',
        ...(binary ? ['--binary'] : []),
      ]);
      const { code } = await client.exited;
      expect(code, client.output).toBe(0);
      const got = messages(client.lines);
      expect(got).toHaveLength(4);
      expect(got[0]!.frames).toEqual([1000, 1000, 1000, 1000, 1000]); // exactly 5000: 5 frames
      for (const message of got) {
        const n = message.frames.length;
        expect(message.frames.reduce((a, b) => a + b, 0)).toBe(message.total);
        expect(n).toBe(Math.ceil(message.total / 1000));
        expect(message.frames.slice(0, -1).every((size) => size === 1000)).toBe(true);
        expect(message.opcodes).toEqual([binary ? '2' : '1', ...Array(n - 1).fill('0')]);
        expect(message.fin).toEqual([...Array(n - 1).fill(false), true]);
      }
      // Sizes grow by 1 to 1024 bytes from one request to the next.
      for (let i = 1; i < got.length; i++) {
        const growth = got[i]!.total - got[i - 1]!.total;
        expect(growth).toBeGreaterThanOrEqual(1);
        expect(growth).toBeLessThanOrEqual(1024);
      }
      expect(client.lines.at(-1)).toMatch(/^4 messages, \d+ bytes in [\d.]+ s: \d+ KBps$/);
      const sent = server.matching(
        new RegExp(`sent \\d+ byte ${binary ? 'binary' : 'utf-8'} message`),
      );
      expect(sent).toHaveLength(4);
    });
  }

  it('sends whole messages with --no-fragmentation', async () => {
    const { child: server, port } = await startServerExample('fragmentation-test-server.ts', [
      '--no-fragmentation',
    ]);
    await server.waitFor(/Fragmentation disabled\./);
    const client = startExample('fragmentation-test-client.ts', [
      `--port=${port}`,
      '--length=200000',
      '--count=2',
    ]);
    const { code } = await client.exited;
    expect(code, client.output).toBe(0);
    const got = messages(client.lines);
    expect(got.map((m) => m.frames.length)).toEqual([1, 1]);
    expect(got[0]!.total).toBe(200_000);
  });

  it('logs the throughput every second on a long run', async () => {
    const { port } = await startServerExample('fragmentation-test-server.ts', ['--fragment=16384']);
    const client = startExample('fragmentation-test-client.ts', [
      `--port=${port}`,
      '--binary',
      '--length=200000',
    ]);
    await client.waitFor(/^ +Throughput: \d+ KBps$/, 10_000);
    await client.stop('SIGINT');
  });
});
