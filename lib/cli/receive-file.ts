import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { basename, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { WebSocketServer } from '../server.js';
import type { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import {
  type CommandSpec,
  expectPositionals,
  flag,
  list,
  parseCommandArgs,
  renderHelp,
  text,
} from './args.js';
import type { StreamedConnection } from './dial.js';
import { CliError, ExitCode, messageOf } from './errors.js';
import { COMPRESS_OPTION, compressionOf, parseListenAddress, serverTlsFrom } from './options.js';
import { formatBytes, note } from './output.js';
import { meter, Progress } from './progress.js';
import { FILENAME_HEADER, SIZE_HEADER } from './send-file.js';
import { serve, serveUntilSignal } from './serve.js';

/** `wsdx receive-file`'s arguments. */
export const RECEIVE_FILE_SPEC: CommandSpec = {
  name: 'receive-file',
  summary:
    'Runs a server that saves the first binary message of each connection as a file in DIR,\n' +
    'streamed (any size, constant memory), with a progress bar on a terminal. Prints each\n' +
    "file's SHA-256 (as sha256sum does) on stdout and answers the sender with it.",
  positionals: [
    {
      name: 'PORT',
      help: 'the port (0: any free one), or HOST:PORT; the host defaults to 127.0.0.1',
    },
    { name: 'DIR', help: 'where files are saved (created if missing)' },
  ],
  options: [
    {
      name: 'host',
      type: 'string',
      value: 'HOST',
      help: 'the address to listen on (default 127.0.0.1)',
    },
    { name: 'path', short: 'p', type: 'string', value: 'PATH', help: 'accept only this path' },
    {
      name: 'origin',
      short: 'o',
      type: 'string',
      multiple: true,
      value: 'ORIGIN',
      help: 'allow this Origin (repeatable); others are refused with 403',
    },
    { name: 'cert', type: 'string', value: 'FILE', help: 'certificate chain (PEM): serve wss://' },
    { name: 'key', type: 'string', value: 'FILE', help: 'private key of --cert (PEM)' },
    {
      name: 'once',
      short: '1',
      type: 'boolean',
      help: 'exit after the first file (status 0 if it arrived whole)',
    },
    COMPRESS_OPTION,
  ],
  notes: [
    'Files keep the name the sender gives (wsdx send-file sends it in an X-Wsdx-Filename header;\n' +
      "others get 'upload.bin'), without directories; an existing file is never overwritten\n" +
      '(name-1.ext, name-2.ext...). A transfer cut short leaves no file behind.',
  ],
  examples: [
    'wsdx receive-file 9000 ./incoming',
    'wsdx receive-file 0.0.0.0:9443 /srv/drop --cert cert.pem --key key.pem',
  ],
};

/** Runs `wsdx receive-file` until SIGINT (or, with --once, the first file). */
export async function runReceiveFile(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(RECEIVE_FILE_SPEC, argv);
  if (flag(values, 'help')) {
    process.stdout.write(renderHelp(RECEIVE_FILE_SPEC));
    return 0;
  }
  const [port, dir] = expectPositionals(RECEIVE_FILE_SPEC, positionals) as [string, string];
  await makeDir(dir);
  const path = text(values, 'path');
  const origins = list(values, 'origin');
  const served = await serve(
    { address: parseListenAddress(port, text(values, 'host')), tls: serverTlsFrom(values), path },
    (httpServer) =>
      new WebSocketServer({
        httpServer,
        ...(path === undefined ? {} : { path }),
        ...(origins.length === 0 ? {} : { allowedOrigins: origins }),
        perMessageDeflate: compressionOf(values),
        messageStreams: true,
      }),
  );
  let settle: (ok: boolean) => void = () => {};
  const first = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  served.wss.on('request', (request) => {
    const ws = request.accept();
    void receiveInto(ws, dir, request.httpRequest.headers).then((ok) => {
      if (ok !== undefined) settle(ok);
    });
  });
  const once = flag(values, 'once');
  await serveUntilSignal(served, 2_000, once ? first : undefined);
  if (!once) return ExitCode.Ok;
  return (await Promise.race([first, Promise.resolve(false)])) ? ExitCode.Ok : ExitCode.Failure;
}

async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new CliError(`cannot use ${dir}: ${messageOf(err)}`, ExitCode.Usage);
  }
}

/**
 * Saves the connection's first binary message; resolves true when it arrived whole,
 * false when it was cut short, undefined when no file came at all.
 */
async function receiveInto(
  ws: StreamedConnection,
  dir: string,
  headers: IncomingHttpHeaders,
): Promise<boolean | undefined> {
  let result: boolean | undefined;
  try {
    // Read to the end (the sender's Close): leaving the loop early would destroy the
    // connection before our answer is out.
    for await (const message of ws) {
      if (!message.binary || result !== undefined) {
        message.resume();
        continue;
      }
      result = await saveFile(ws, message, dir, headers);
    }
  } catch {
    // The connection failed; a file in progress reports it.
  }
  return result;
}

async function saveFile(
  ws: StreamedConnection,
  message: IncomingMessageStream,
  dir: string,
  headers: IncomingHttpHeaders,
): Promise<boolean> {
  const name = fileNameFrom(headers[FILENAME_HEADER]);
  const size = Number(headers[SIZE_HEADER]);
  let target: string;
  try {
    target = await reserve(dir, name);
  } catch (err) {
    message.destroy();
    note(messageOf(err));
    if (ws.isOpen) ws.close(1011, 'the file was not saved');
    return false;
  }
  const part = join(dir, `.${basename(target)}.part`);
  const hash = createHash('sha256');
  const progress = new Progress(
    `< ${basename(target)}`,
    Number.isSafeInteger(size) ? size : undefined,
  );
  try {
    await pipeline(message, meter(hash, progress), createWriteStream(part, { flags: 'wx' }));
    await rename(part, target);
  } catch (err) {
    progress.finish();
    await Promise.all([rm(part, { force: true }), rm(target, { force: true })]);
    note(
      `${basename(target)}: transfer cut short after ${formatBytes(progress.bytes)}: ${messageOf(err)}`,
    );
    if (ws.isOpen) ws.close(1011, 'the file was not saved');
    return false;
  }
  progress.finish();
  const digest = hash.digest('hex');
  process.stdout.write(`${digest}  ${target}\n`);
  if (ws.isOpen) {
    ws.write(`sha256 ${digest} ${progress.bytes}`);
    ws.end();
  }
  return true;
}

/**
 * Makes a safe file name from the sender's header: the last path component only, no
 * control characters, no leading dots, so that a sender cannot write outside DIR.
 */
export function fileNameFrom(header: string | string[] | undefined): string {
  const raw = Array.isArray(header) ? header[0] : header;
  let decoded = '';
  try {
    decoded = decodeURIComponent(raw ?? '');
  } catch {
    decoded = raw ?? '';
  }
  const last = decoded.split(/[/\\]/).pop() ?? '';
  const printable = [...last].filter((ch) => ch >= ' ' && ch !== '\u007f').join('');
  const clean = printable.replace(/^\.+/, '').trim();
  return clean === '' ? 'upload.bin' : clean.slice(0, 200);
}

/** Creates an empty file under a name not yet taken (name, name-1, name-2...) and returns its path. */
async function reserve(dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 0; n < 1000; n++) {
    const candidate = join(dir, n === 0 ? name : `${stem}-${n}${ext}`);
    try {
      await writeFile(candidate, '', { flag: 'wx' });
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CliError(`cannot write in ${dir}: ${messageOf(err)}`, ExitCode.Failure);
      }
    }
  }
  throw new CliError(`too many files named ${name} in ${dir}`, ExitCode.Failure);
}
