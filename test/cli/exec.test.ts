import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackgroundCli, runCli, startCli, waitFor } from '../helpers/cli.js';

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

/** Fails loudly when a filter the tests run is missing (jq comes from Debian: .ci/run installs it). */
function requireCommand(name: string, install: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(
      `COMMAND MISSING: ${name} is not on PATH. The --exec tests run it and fail rather than skip: ${install} (.ci/run does this in CI).`,
    );
  }
}

describe('wsdx listen --exec with ordinary filters (output that comes after the input ends)', () => {
  it('answers through tr, sort, wc -l and jq -c, whose output waits for the end of their input', async () => {
    requireCommand('jq', 'apt-get install jq');
    const filters = ['tr a-z A-Z', 'sort', 'wc -l', 'jq -c .'];
    const servers = await Promise.all(
      filters.map((filter) => startCli(['listen', '0', '--exec', filter])),
    );
    try {
      const inputs = [
        'hello\nworld\n',
        'pear\napple\nfig\n',
        'one\ntwo\nthree\n',
        '{ "a": 1,\n"b": [1, 2] }\n[ 3 ]\n',
      ];
      const results = await Promise.all(
        servers.map((server, i) =>
          runCli(['connect', server.url, '--linger', '300ms'], { input: inputs[i] }),
        ),
      );
      expect(results.map((r) => r.stdout.toString())).toEqual([
        'HELLO\nWORLD\n',
        'apple\nfig\npear\n',
        '3\n',
        '{"a":1,"b":[1,2]}\n[3]\n',
      ]);
      for (const result of results) {
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
      }
      for (const server of servers) {
        await waitFor(
          () => /#1 closed: 1000 normal/.test(server.stderr()),
          5_000,
          'the close notice',
        );
      }
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });
});
