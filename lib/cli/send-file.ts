import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../client.js';
import type { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import {
  type CommandSpec,
  duration,
  expectPositionals,
  flag,
  parseCommandArgs,
  renderHelp,
  text,
} from './args.js';
import { withScheme } from './command-line.js';
import type { StreamedConnection } from './dial.js';
import { CliError, describeConnectError, ExitCode, messageOf } from './errors.js';
import { CLIENT_HANDSHAKE_OPTIONS, COMPRESS_OPTION, clientOptionsFrom } from './options.js';
import { formatBytes, formatMs, note } from './output.js';
import { meter, Progress } from './progress.js';
import { ConnectionWatch, exitFor } from './session.js';

/** Request headers that tell a `wsdx receive-file` the file's name and size. */
export const FILENAME_HEADER = 'x-wsdx-filename';
export const SIZE_HEADER = 'x-wsdx-size';

/** The receiver's answer: `sha256 HEX BYTES`. */
const VERDICT = /^sha256 ([0-9a-f]{64}) (\d+)$/;

/** `wsdx send-file`'s arguments. */
export const SEND_FILE_SPEC: CommandSpec = {
  name: 'send-file',
  summary:
    'Sends a file as one binary message, streamed (any size, constant memory), with a\n' +
    'progress bar on a terminal. Prints the SHA-256 (as sha256sum does) on stdout, and\n' +
    'checks it against the one a `wsdx receive-file` answers with.',
  positionals: [
    { name: 'URL', help: 'ws:// or wss:// URL of the receiver (ws:// is added to HOST:PORT)' },
    { name: 'FILE', help: 'the file to send' },
  ],
  options: [
    ...CLIENT_HANDSHAKE_OPTIONS,
    {
      name: 'timeout',
      type: 'string',
      value: 'DURATION',
      help: 'time allowed to connect (default 10s)',
    },
    {
      name: 'wait',
      type: 'string',
      value: 'DURATION',
      help: "how long to wait for the receiver's SHA-256 after sending (default 10s)",
    },
    COMPRESS_OPTION,
  ],
  notes: [
    'Exit status: 0 sent (and confirmed, when the receiver answers); 1 the receiver got other\n' +
      'bytes, or closed with an error; 2 bad arguments or no such file; 3 could not connect;\n' +
      '4 handshake refused; 5 connection lost.',
  ],
  examples: [
    'wsdx send-file ws://127.0.0.1:9000/ backup.tar',
    'wsdx send-file wss://files.example.com/ --ca ca.pem big.iso',
  ],
};

/** Runs `wsdx send-file`. */
export async function runSendFile(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(SEND_FILE_SPEC, argv);
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(SEND_FILE_SPEC));
    return 0;
  }
  const [given, file] = expectPositionals(SEND_FILE_SPEC, positionals) as [string, string];
  const url = withScheme(given);
  const client = clientOptionsFrom(values, duration(values, 'timeout'));
  const wait = duration(values, 'wait', { zero: true }) ?? 10_000;
  const size = await fileSize(file);
  client.headers = {
    ...client.headers,
    [FILENAME_HEADER]: encodeURIComponent(basename(file)),
    [SIZE_HEADER]: String(size),
  };
  let ws: StreamedConnection;
  try {
    ws = await connect(url, { ...client, messageStreams: true });
  } catch (err) {
    throw describeConnectError(err, url, { caFile: text(values, 'ca') });
  }
  return sendOver(ws, file, size, wait);
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new Error('not a regular file');
    return info.size;
  } catch (err) {
    throw new CliError(`cannot send ${file}: ${messageOf(err)}`, ExitCode.Usage);
  }
}

/** Sends the file, prints its hash, and compares it with the receiver's. */
async function sendOver(
  ws: StreamedConnection,
  file: string,
  size: number,
  wait: number,
): Promise<number> {
  const watch = new ConnectionWatch(ws, { interval: undefined, timeout: undefined }, () => {});
  const verdict = new Promise<string>((resolve) => void readVerdicts(ws, resolve));
  const hash = createHash('sha256');
  const progress = new Progress(`> ${basename(file)}`, size);
  try {
    await pipeline(
      createReadStream(file),
      meter(hash, progress),
      ws.createMessageStream({ binary: true }),
    );
  } catch (err) {
    progress.finish();
    const failure = exitFor(await watch.closed);
    throw (
      failure ?? new CliError(`the file was not sent: ${messageOf(err)}`, ExitCode.ConnectionLost)
    );
  }
  // The transfer ends when the last byte has left for the network, not when the receiver's
  // answer comes (or the wait for it ends): that is what the rate is measured over.
  await handedToNetwork(ws, watch.closed);
  progress.finish();
  const digest = hash.digest('hex');
  process.stdout.write(`${digest}  ${file}\n`);
  const theirs = await Promise.race([
    verdict,
    watch.closed.then(() => undefined),
    sleep(wait, undefined),
  ]);
  if (ws.isOpen) {
    watch.markLocal();
    ws.close(1000);
  }
  const failure = exitFor(await watch.closed);
  return judge(digest, progress, wait, theirs, failure);
}

function judge(
  digest: string,
  progress: Progress,
  wait: number,
  theirs: string | undefined,
  failure: CliError | undefined,
): number {
  if (theirs !== undefined && theirs !== digest) {
    throw new CliError(`SHA-256 mismatch: the receiver got ${theirs}`, ExitCode.Failure);
  }
  if (failure !== undefined && theirs === undefined) throw failure;
  const summary = `sent ${formatBytes(progress.bytes)} at ${formatBytes(progress.rate())}/s`;
  if (theirs === undefined) {
    note(`${summary}; the receiver did not answer with a SHA-256 within ${formatMs(wait)}`);
  } else if (process.stderr.isTTY === true) note(`${summary}; the receiver's SHA-256 matches`);
  return ExitCode.Ok;
}

/** Resolves once the connection holds no byte of ours that the kernel has not taken, or has closed. */
async function handedToNetwork(ws: StreamedConnection, closed: Promise<unknown>): Promise<void> {
  let open = true;
  void closed.then(() => {
    open = false;
  });
  while (open && ws.bufferedAmount > 0) {
    await Promise.race([sleep(5), closed]);
  }
}

/**
 * Reads everything the peer sends while the file goes out (an echo server would
 * otherwise fill up and stall both sides), to the end of the connection, and reports
 * the SHA-256 that the receiver answers with.
 */
async function readVerdicts(
  ws: StreamedConnection,
  onVerdict: (hex: string) => void,
): Promise<void> {
  try {
    for await (const message of ws) {
      if (message.binary) {
        message.resume();
        continue;
      }
      const match = VERDICT.exec(await readText(message));
      if (match !== null) onVerdict(match[1]!);
    }
  } catch {
    // The connection failed; the outcome says how.
  }
}

async function readText(message: IncomingMessageStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of message) {
    if (size < 1024) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, 1024);
}
