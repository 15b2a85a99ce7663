import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackgroundCli, collect, runCli, startCli, tempDir } from '../helpers/cli.js';

let files: { dir: string; cleanup: () => void };
let source: string;
let digest: string;

beforeAll(() => {
  files = tempDir();
  source = join(files.dir, 'payload.bin');
  const data = randomBytes(12 * 1024 * 1024 + 7);
  writeFileSync(source, data);
  digest = createHash('sha256').update(data).digest('hex');
});
afterAll(() => files.cleanup());

describe('send-file and receive-file', () => {
  it('moves a file as one binary message, both ends printing the same SHA-256', async () => {
    const inbox = join(files.dir, 'inbox');
    const receiver = await startCli(['receive-file', '0', inbox, '--once']);
    const sent = await runCli(['send-file', receiver.url, source], { timeout: 30_000 });
    const received = await collect(receiver.child, 10_000);
    expect(sent.code).toBe(0);
    expect(sent.stdout.toString()).toBe(`${digest}  ${source}\n`);
    expect(sent.stderr).toBe(''); // no progress bar, no chatter, in a pipe
    expect(received.code).toBe(0);
    expect(receiver.stdout()).toBe(`${digest}  ${join(inbox, 'payload.bin')}\n`);
    expect(
      createHash('sha256')
        .update(readFileSync(join(inbox, 'payload.bin')))
        .digest('hex'),
    ).toBe(digest);
  });

  it('never overwrites: a second file of the same name is saved as name-1 (and --compress works)', async () => {
    const inbox = join(files.dir, 'inbox2');
    const receiver = await startCli(['receive-file', '0', inbox, '--compress']);
    try {
      const small = join(files.dir, 'note.txt');
      writeFileSync(small, 'first');
      expect((await runCli(['send-file', '--compress', receiver.url, small])).code).toBe(0);
      writeFileSync(small, 'second');
      expect((await runCli(['send-file', receiver.url, small])).code).toBe(0);
      expect(readdirSync(inbox).sort()).toEqual(['note-1.txt', 'note.txt']);
      expect(readFileSync(join(inbox, 'note-1.txt'), 'utf8')).toBe('second');
    } finally {
      await receiver.stop();
    }
  });

  it('sends to a server that is not a receiver (an echo), says it got no SHA-256, and gives the rate of the transfer, not of the wait', async () => {
    const echo: BackgroundCli = await startCli(['listen', '0', '--echo']);
    try {
      const result = await runCli(['send-file', echo.url, source, '--wait', '3s'], {
        timeout: 30_000,
      });
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toBe(`${digest}  ${source}\n`);
      const line =
        /^wsdx: sent 12\.0 MiB at ([\d.]+) (B|KiB|MiB|GiB)\/s; the receiver did not answer with a SHA-256 within 3 s\n$/.exec(
          result.stderr,
        );
      expect(line, result.stderr).not.toBeNull();
      const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }[line![2] as 'B'];
      const rate = Number(line![1]) * unit;
      // Measured over the 3 s wait too, the rate could not be above 4 MiB/s: 12 MiB / 3 s.
      const seconds = (12 * 1024 ** 2) / rate;
      expect(seconds).toBeLessThan(3);
    } finally {
      await echo.stop();
    }
  });
});
