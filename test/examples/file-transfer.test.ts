import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransferMeter } from '../../examples/transfer-meter.js';
import {
  ROOT,
  requireProgram,
  startExample,
  startProgram,
  startServerExample,
  stopAll,
} from '../helpers/child-process.js';

let dir: string;
let file: string;
let content: Buffer;
let sha: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wsdx-files-'));
  content = randomBytes(3 * 1024 * 1024 + 123); // many fragments, not a round number
  sha = createHash('sha256').update(content).digest('hex');
  file = join(dir, 'data.bin');
  await writeFile(file, content);
});
afterEach(stopAll);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('examples/file-sender.ts and examples/file-receiver.ts', () => {
  it('send a file larger than the 64 MiB message limit with the defaults (streamed, never held)', async () => {
    const big = join(dir, 'big.bin');
    const chunk = randomBytes(1024 * 1024);
    const hash = createHash('sha256');
    const size = 80 * 1024 * 1024;
    const parts: Buffer[] = [];
    for (let i = 0; i < size / chunk.length; i++) {
      chunk[0] = i; // every MiB different
      hash.update(chunk);
      parts.push(Buffer.from(chunk));
    }
    await writeFile(big, Buffer.concat(parts));
    const bigSha = hash.digest('hex');
    const out = join(dir, 'out-big');
    const { child: receiver, port } = await startServerExample('file-receiver.ts', [
      `--out=${out}`,
    ]);
    const sender = startExample('file-sender.ts', [big, `ws://127.0.0.1:${port}/`]);
    const { code } = await sender.exited;
    expect(code, sender.output).toBe(0);
    expect(sender.lines).toContain(`receiver sha256 ${bigSha}: match`);
    await receiver.waitFor(new RegExp(`^sha256 ${bigSha}$`));
    await rm(big);
  }, 120_000);

  it('send a file as one binary message; both ends print the same SHA-256', async () => {
    const out = join(dir, 'out1');
    const { child: receiver, port } = await startServerExample('file-receiver.ts', [
      `--out=${out}`,
    ]);
    const sender = startExample('file-sender.ts', [file, `ws://127.0.0.1:${port}/`]);
    const { code } = await sender.exited;
    expect(code, sender.output).toBe(0);
    expect(sender.lines).toEqual([
      `sent data.bin: ${content.length} bytes (3.0 MiB)`,
      `sha256 ${sha}`,
      `receiver sha256 ${sha}: match`,
    ]);
    await receiver.waitFor(new RegExp(`^sha256 ${sha}$`));
    expect(receiver.matching(/^received data\.bin: /)).toEqual([
      `received data.bin: ${content.length} bytes (3.0 MiB) to ${join(out, 'data.bin')}`,
    ]);
    expect((await readFile(join(out, 'data.bin'))).equals(content)).toBe(true);

    // The same name again is kept apart, never overwritten.
    const again = startExample('file-sender.ts', [file, `ws://127.0.0.1:${port}/`]);
    expect((await again.exited).code, again.output).toBe(0);
    await receiver.waitFor(/to .*1-data\.bin$/);
    expect((await readFile(join(out, '1-data.bin'))).equals(content)).toBe(true);
  });

  it('shows a progress bar on a terminal', async () => {
    const script = requireProgram('/usr/bin/script', 'bsdutils');
    const out = join(dir, 'out2');
    const { port } = await startServerExample('file-receiver.ts', [`--out=${out}`]);
    const command = `${process.execPath} --import tsx examples/file-sender.ts ${file} ws://127.0.0.1:${port}/`;
    // script(1) runs the sender on a pseudo-terminal, where the bar is drawn.
    const sender = startProgram('file-sender (tty)', script, ['-qec', command, '/dev/null'], {
      cwd: ROOT,
    });
    expect((await sender.exited).code, sender.output).toBe(0);
    const text = sender.output;
    expect(text).toContain('\u001b[2K'); // the line is redrawn in place
    expect(text).toMatch(
      /sending data\.bin \[#{30}\] 100% 3\.0 MiB of 3\.0 MiB [\d.]+ [KMG]?i?B\/s/,
    );
    expect(text).toContain(`receiver sha256 ${sha}: match`);
  });

  it('TransferMeter hashes and counts what passes, and draws only on a terminal', async () => {
    let drawn = '';
    const terminal = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          drawn += chunk.toString();
          callback();
        },
      }),
      { isTTY: true },
    ) as unknown as NodeJS.WriteStream;
    const meter = new TransferMeter({ label: 'moving', total: content.length, output: terminal });
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await pipeline(
      (async function* () {
        for (let at = 0; at < content.length; at += 65536) yield content.subarray(at, at + 65536);
      })(),
      meter,
      sink,
    );
    expect(meter.sha256).toBe(sha);
    expect(meter.bytes).toBe(content.length);
    expect(drawn).toMatch(/moving \[#+\] 100% 3\.0 MiB of 3\.0 MiB .*\n$/);

    const quiet = new TransferMeter({
      label: 'x',
      output: Object.assign(terminal, { isTTY: false }),
    });
    drawn = '';
    await pipeline(
      [Buffer.from('abc')],
      quiet,
      new Writable({ write: (_c, _e, callback) => callback() }),
    );
    expect(drawn).toBe('');
  });
});
