import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackgroundCli, runCli, startCli } from '../helpers/cli.js';

describe('wsdx listen --exec', () => {
  let cat: BackgroundCli;
  let catBinary: BackgroundCli;

  beforeAll(async () => {
    [cat, catBinary] = await Promise.all([
      startCli(['listen', '0', '--exec', 'cat']),
      startCli(['listen', '0', '--exec', 'cat', '--binary']),
    ]);
  });
  afterAll(async () => {
    await Promise.all([cat.stop(), catBinary.stop()]);
  });

  it('round-trips lines through `cat`, one process per connection', async () => {
    const input = Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join(
      '\n',
    );
    const [first, second] = await Promise.all([
      runCli(['connect', cat.url, '--linger', '400ms'], { input: `${input}\n` }),
      runCli(['connect', cat.url, '--linger', '400ms'], { input: 'alone\n' }),
    ]);
    expect(first.code).toBe(0);
    expect(first.stdout.toString()).toBe(`${input}\n`);
    expect(second.code).toBe(0);
    expect(second.stdout.toString()).toBe('alone\n');
    expect(cat.stderr()).toMatch(/#1 connected/);
    expect(cat.stderr()).toMatch(/#2 connected/);
  });

  it('round-trips 8 MiB of binary through `cat` with --binary, with backpressure both ways', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const result = await runCli(['connect', catBinary.url, '--binary', '--linger', '500ms'], {
      input: data,
      timeout: 30_000,
    });
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(data.length);
    expect(result.stdout.equals(data)).toBe(true);
  });

  it('closes 1000 when the process exits 0, and 1011 with the status otherwise', async () => {
    const [ok, failing] = await Promise.all([
      startCli([
        'listen',
        '0',
        '--exec',
        'echo "hi from $WSDX_CLIENT_ID via $WSDX_SUBPROTOCOL"',
        '-s',
        'demo.v1',
      ]),
      startCli(['listen', '0', '--exec', 'echo partial; exit 3']),
    ]);
    try {
      const [good, bad] = await Promise.all([
        runCli(['connect', ok.url, '-s', 'demo.v1'], { input: '' }),
        runCli(['connect', failing.url]),
      ]);
      expect(good.code).toBe(0);
      expect(good.stdout.toString()).toBe('hi from #1 via demo.v1\n');
      expect(bad.code).toBe(1);
      expect(bad.stdout.toString()).toBe('partial\n');
      expect(bad.stderr).toBe(
        'wsdx: the peer closed the connection with 1011 internal error "exit status 3"\n',
      );
    } finally {
      await Promise.all([ok.stop(), failing.stop()]);
    }
  });
});
