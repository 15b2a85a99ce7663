import { describe, expect, it } from 'vitest';
import { isOneLineError, runCli } from '../helpers/cli.js';

const COMMANDS = ['connect', 'listen', 'send-file', 'receive-file', 'demo'];

describe('wsdx --help', () => {
  it('lists every command and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    const text = result.stdout.toString();
    for (const command of COMMANDS) expect(text).toContain(`  ${command} `);
  });

  it('gives each command its own --help, the same as `wsdx help COMMAND`', async () => {
    const results = await Promise.all(COMMANDS.map((command) => runCli([command, '--help'])));
    COMMANDS.forEach((command, i) => {
      const own = results[i]!;
      expect(own.code).toBe(0);
      expect(own.stdout.toString()).toMatch(new RegExp(`^Usage: wsdx ${command} \\[options\\]`));
      expect(own.stdout.toString()).toContain('-h, --help');
    });
    const viaHelp = await runCli(['help', 'listen']);
    expect(viaHelp.stdout.toString()).toBe(results[1]!.stdout.toString());
  });

  it('documents every option of connect that the issue asks for', async () => {
    const { stdout } = await runCli(['connect', '--help']);
    for (const option of [
      '-s, --subprotocol',
      '-H, --header',
      '--origin',
      '--ca',
      '--cert',
      '--key',
      '--insecure',
      '--ping-interval',
      '--ping-timeout',
      '--show-control',
      '--close-code',
      '--compress',
      '--timeout',
      '--reconnect',
      '--lines',
      '-b, --binary',
      '--message',
      '-t, --text',
      '-x, --execute',
      '-w, --wait',
      '-1, --one-message',
      '-E, --exit-on-eof',
      '--no-close',
      '-n, --no-check',
      '-P, --show-ping-pong',
      '-v, --verbose',
      '--auth',
      '-L, --location',
      '--proxy',
      '--linger DURATION',
    ]) {
      expect(stdout.toString()).toContain(option);
    }
  });

  it('prints the version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(/^wsdx \d+\.\d+\.\d+/);
  });
});

describe('usage errors', () => {
  it('exits 2 with the help when no command is given', async () => {
    const result = await runCli([]);
    expect(result.code).toBe(2);
    expect(result.stdout.toString()).toContain('Usage: wsdx COMMAND');
  });

  it('exits 2 with one line for an unknown command, option or missing argument', async () => {
    const results = await Promise.all([
      runCli(['frobnicate']),
      runCli(['connect', '--frobnicate', 'ws://127.0.0.1:1/']),
      runCli(['connect']),
      runCli(['listen', 'not-a-port']),
      runCli(['connect', '--ping-interval', 'soon', 'ws://127.0.0.1:1/']),
      runCli(['connect', '--close-code', '1005', 'ws://127.0.0.1:1/']),
    ]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(isOneLineError(result.stderr), result.stderr).toBe(true);
    }
    expect(results[0]!.stderr).toContain('unknown command "frobnicate"');
    expect(results[2]!.stderr).toContain('usage: wsdx connect [options] URL');
    expect(results[5]!.stderr).toContain('may not be sent');
  });
});
