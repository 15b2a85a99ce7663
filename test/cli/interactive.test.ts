import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lib/client.js';
import { type BackgroundCli, ROOT, startCli, tempDir, WSDX, waitFor } from '../helpers/cli.js';

const SOCKET = `wsdx-test-${process.pid}`;

function tmux(...args: string[]): string {
  try {
    return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', timeout: 5_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'tmux was not found on PATH: the interactive tests drive wsdx in tmux (apt-get install tmux)',
      );
    }
    throw err;
  }
}

/** Starts a shell command in a detached tmux session on a real terminal (120x40). */
function startSession(name: string, command: string): void {
  tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', '-c', ROOT, command);
}

function screen(name: string): string {
  return tmux('capture-pane', '-p', '-J', '-t', name);
}

async function waitForScreen(name: string, pattern: RegExp, timeout = 10_000): Promise<void> {
  await waitFor(
    () => pattern.test(screen(name)),
    timeout,
    `${pattern} on the screen:\n${screen(name)}`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- screen ---\n${screen(name)}`);
  });
}

function type(name: string, line: string): void {
  tmux('send-keys', '-t', name, '-l', line);
  tmux('send-keys', '-t', name, 'Enter');
}

let echo: BackgroundCli;
let files: { dir: string; cleanup: () => void };

beforeAll(async () => {
  files = tempDir();
  echo = await startCli(['listen', '0', '--echo']);
});
afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // No session left.
  }
  await echo.stop();
  files.cleanup();
});

describe('interactive sessions on a terminal (tmux)', () => {
  it('connect: sends typed lines, shows messages with markers, runs /ping, /binary and /close', async () => {
    const file = join(files.dir, 'five.bin');
    writeFileSync(file, 'hello');
    startSession(
      'client',
      `node ${WSDX} connect ${echo.url} --show-control; echo "EXIT=$?"; sleep 30`,
    );
    await waitForScreen('client', /\* connected to ws:\/\/127\.0\.0\.1:\d+\/; \/help for commands/);
    type('client', 'hello there');
    await waitForScreen('client', /^< \[text\] hello there$/m);
    type('client', '/ping are you there');
    await waitForScreen('client', /^< \[pong\] "are you there"$/m);
    expect(screen('client')).toMatch(/^> \[ping\] "are you there"$/m);
    type('client', `/binary ${file}`);
    await waitForScreen('client', /^< \[binary 5 B\] 68 65 6c 6c 6f \|hello\|$/m);
    expect(screen('client')).toMatch(/^> \[binary 5 B\] sent /m);
    type('client', '//slash');
    await waitForScreen('client', /^< \[text\] \/slash$/m);
    type('client', '/close 4000 see you');
    await waitForScreen('client', /^\* closed: 4000 private use \(we closed\)$/m);
    await waitForScreen('client', /^EXIT=0$/m);
  });

  it('connect: Ctrl-D closes with 1000 and exits 0', async () => {
    startSession('eof', `node ${WSDX} connect ${echo.url}; echo "EXIT=$?"; sleep 30`);
    await waitForScreen('eof', /\* connected to/);
    tmux('send-keys', '-t', 'eof', 'C-d');
    await waitForScreen('eof', /^\* closed: 1000 normal \(we closed\)$/m);
    await waitForScreen('eof', /^EXIT=0$/m);
  });

  it('listen: prints what clients send with their number, and sends what is typed to all', async () => {
    startSession('server', `node ${WSDX} listen 0; echo "EXIT=$?"; sleep 30`);
    await waitForScreen('server', /listening on ws:\/\/127\.0\.0\.1:\d+\//);
    const url = /listening on (\S+)/.exec(screen('server'))![1]!;
    const client = await connect(url);
    try {
      await waitForScreen('server', /\* #1 connected from 127\.0\.0\.1/);
      client.write('from the client');
      await waitForScreen('server', /^< #1 \[text\] from the client$/m);
      const reply = new Promise<unknown>((resolve) => client.once('data', resolve));
      type('server', 'from the terminal');
      expect(await reply).toBe('from the terminal');
    } finally {
      client.end();
    }
    await waitForScreen('server', /\* #1 closed: 1000 normal/);
    tmux('send-keys', '-t', 'server', 'C-c');
    await waitForScreen('server', /^EXIT=0$/m);
  });
});
