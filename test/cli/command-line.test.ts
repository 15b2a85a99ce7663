import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../lib/cli/args.js';
import { commandLineOf, withScheme } from '../../lib/cli/command-line.js';
import { CONNECT_SPEC, connectSettings } from '../../lib/cli/connect.js';
import { UsageError } from '../../lib/cli/errors.js';
import { LISTEN_SPEC } from '../../lib/cli/listen.js';

/** Parses a connect command line as runConnect does, and resolves its settings. */
function settingsOf(argv: string[], stdinIsNull = false) {
  const { values, positionals } = parseCommandArgs(CONNECT_SPEC, argv);
  return connectSettings(positionals[0]!, values, stdinIsNull);
}

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('the spellings of wscat and websocat, read as wsdx commands (in process)', () => {
  it.each([
    // wscat
    [['-c', 'ws://h:1/'], 'connect', ['ws://h:1/']],
    [['-c', 'h:1', '-s', 'chat', '-H', 'X: 1'], 'connect', ['h:1', '-s', 'chat', '-H', 'X: 1']],
    [['-H', 'X: 1', '--connect', 'ws://h/'], 'connect', ['ws://h/', '-H', 'X: 1']],
    [['--connect=ws://h/', '-n'], 'connect', ['ws://h/', '-n']],
    [['-l', '8080'], 'listen', ['8080']],
    [['--listen', '8080', '-p', '/chat'], 'listen', ['8080', '-p', '/chat']],
    // websocat
    [['ws://h:1/'], 'connect', ['ws://h:1/']],
    [['-b', 'wss://h/'], 'connect', ['-b', 'wss://h/']],
    [['-t', '-1', 'ws://h/'], 'connect', ['-t', '-1', 'ws://h/']],
    [['-E', '--protocol', 'chat', 'ws://h/'], 'connect', ['-E', '--protocol', 'chat', 'ws://h/']],
    [['-s', '8080'], 'listen', ['8080']],
    [['-s', '127.0.0.1:8080'], 'listen', ['127.0.0.1:8080']],
    [['ws-l:127.0.0.1:8080', 'mirror:'], 'listen', ['127.0.0.1:8080', '--echo']],
    [
      ['-t', 'ws-l:127.0.0.1:8080', 'sh-c:tr a-z A-Z'],
      'listen',
      ['127.0.0.1:8080', '--exec', 'tr a-z A-Z', '-t'],
    ],
    [['ws-l:0.0.0.0:80', 'cmd:./bot'], 'listen', ['0.0.0.0:80', '--exec', './bot']],
    [['ws-l:127.0.0.1:8080', '-'], 'listen', ['127.0.0.1:8080']],
    // URLs without a scheme, first
    [['127.0.0.1:8080'], 'connect', ['127.0.0.1:8080']],
    [['localhost:8080/chat?x=1'], 'connect', ['localhost:8080/chat?x=1']],
    [['[::1]:8080', '-b'], 'connect', ['[::1]:8080', '-b']],
    [['ws+unix:/run/app.sock:/x'], 'connect', ['ws+unix:/run/app.sock:/x']],
  ])('%j runs wsdx %s %j', (argv, command, rest) => {
    expect(commandLineOf(argv)).toEqual({ command, argv: rest });
  });

  it.each([[['frobnicate']], [['--frobnicate']], [['-s', 'chat']], [['-c']], [[]]])(
    '%j is none of them',
    (argv) => {
      expect(commandLineOf(argv)).toBeUndefined();
    },
  );

  it('adds ws:// to a URL without a scheme, as wscat does, and leaves the others alone', () => {
    expect(withScheme('127.0.0.1:8080')).toBe('ws://127.0.0.1:8080');
    expect(withScheme('localhost:8080/chat')).toBe('ws://localhost:8080/chat');
    expect(withScheme('example.com')).toBe('ws://example.com');
    for (const url of ['ws://h/', 'wss://h/', 'http://h/', 'ftp://h/', 'ws+unix:/s.sock:/x']) {
      expect(withScheme(url)).toBe(url);
    }
  });
});

describe('how connect ends after its input (in process)', () => {
  it('lingers 1 s by default, exactly --wait with -w, at once with -E', () => {
    expect(settingsOf(['ws://h/']).ending).toEqual({ kind: 'linger', ms: 1000 });
    expect(settingsOf(['ws://h/', '--linger', '250ms']).ending).toEqual({
      kind: 'linger',
      ms: 250,
    });
    expect(settingsOf(['ws://h/', '-w', '2']).ending).toEqual({ kind: 'wait', ms: 2000 });
    expect(settingsOf(['ws://h/', '-E']).ending).toEqual({ kind: 'linger', ms: 0 });
    expect(settingsOf(['ws://h/', '-1']).ending).toEqual({ kind: 'first-message' });
    expect(settingsOf(['ws://h/', '-1']).oneMessage).toBe(true);
  });

  it('stays until the peer closes with --linger inf/never, -w inf, --no-close, or stdin at /dev/null', () => {
    for (const argv of [
      ['--linger', 'inf'],
      ['--linger', 'never'],
      ['-w', 'inf'],
      ['--no-close'],
    ]) {
      expect(settingsOf(['ws://h/', ...argv]).ending, argv.join(' ')).toEqual({ kind: 'stay' });
    }
    const fromNull = settingsOf(['ws://h/'], true);
    expect(fromNull.ending).toEqual({ kind: 'stay' });
    expect(fromNull.input).toEqual({ kind: 'none' });
    // -x sends its messages whatever stdin is, and ends as usual.
    const executed = settingsOf(['ws://h/', '-x', 'a', '-x', 'b'], true);
    expect(executed.input).toEqual({ kind: 'messages', messages: ['a', 'b'] });
    expect(executed.ending).toEqual({ kind: 'linger', ms: 1000 });
  });

  it('takes the wscat and websocat flags for what they mean', () => {
    const wscat = settingsOf([
      'h:1',
      '-n',
      '-P',
      '-L',
      '--auth',
      'u:p',
      '-s',
      'a',
      '--protocol',
      'b',
    ]);
    expect(wscat.url).toBe('ws://h:1');
    expect(wscat.client.rejectUnauthorized).toBe(false);
    expect(wscat.showControl).toBe(true);
    expect(wscat.client.followRedirects).toBe(true);
    expect(wscat.client.headers).toEqual({
      Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`,
    });
    expect(wscat.client.protocols).toEqual(['a', 'b']);
    const websocat = settingsOf(['ws://h/', '-b', '-vv']);
    expect(websocat.framing).toBe('binary');
    expect(websocat.showControl).toBe(true);
    expect(settingsOf(['ws://h/', '-t']).framing).toBe('lines');
    expect(settingsOf(['ws://h/']).client.proxy).toBe('env');
    expect(settingsOf(['ws://h/', '--proxy', 'none']).client.proxy).toBe(false);
    expect(settingsOf(['ws://h/', '--proxy', 'http://p:3128']).client.proxy).toBe('http://p:3128');
  });

  it('refuses what cannot go together, in one line', () => {
    expect(usageError(() => settingsOf(['ws://h/', '-E', '--linger', '2']))).toBe(
      'choose one of --linger, -E',
    );
    expect(usageError(() => settingsOf(['ws://h/', '-1', '--no-close']))).toBe(
      'choose one of --no-close, -1',
    );
    expect(usageError(() => settingsOf(['ws://h/', '-x', 'a', '--message']))).toMatch(/-x/);
    expect(usageError(() => settingsOf(['ws://h/', '--auth', 'nopassword']))).toMatch(/USER:PASS/);
    expect(usageError(() => settingsOf(['ws://h/', '--proxy', 'socks5://p:1080']))).toBe(
      '--proxy: only http:// proxies are supported (HTTP CONNECT), got socks5://p:1080',
    );
    expect(usageError(() => settingsOf(['ws://h/', '--linger', 'forever']))).toMatch(/or inf/);
  });
});

describe('option errors in our own words (in process)', () => {
  it('names an unknown option, suggests the nearest, and speaks of other tools', () => {
    expect(
      usageError(() => parseCommandArgs(CONNECT_SPEC, ['--ping-intervl', '5', 'ws://h/'])),
    ).toBe(
      'unknown option --ping-intervl for wsdx connect; did you mean --ping-interval? (see: wsdx connect --help)',
    );
    expect(usageError(() => parseCommandArgs(CONNECT_SPEC, ['--frobnicate', 'ws://h/']))).toBe(
      'unknown option --frobnicate for wsdx connect (see: wsdx connect --help)',
    );
    expect(usageError(() => parseCommandArgs(CONNECT_SPEC, ['-p', '13', 'ws://h/']))).toBe(
      "wsdx connect has no -p: wscat's protocol version: 13 is the only one, nothing to choose (see: wsdx connect --help)",
    );
    expect(usageError(() => parseCommandArgs(LISTEN_SPEC, ['-B', '8080']))).toBe(
      'wsdx listen has no -B: broadcast is --broadcast (see: wsdx listen --help)',
    );
    expect(usageError(() => parseCommandArgs(CONNECT_SPEC, ['ws://h/', '--header']))).toBe(
      "--header needs a value ('NAME: VALUE') (see: wsdx connect --help)",
    );
    expect(usageError(() => parseCommandArgs(CONNECT_SPEC, ['--binary=yes', 'ws://h/']))).toBe(
      '--binary takes no value (see: wsdx connect --help)',
    );
  });
});
