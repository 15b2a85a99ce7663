import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { ConnectSettings } from './connect.js';
import { dialLoop, type StreamedConnection } from './dial.js';
import { ExitCode, messageOf } from './errors.js';
import { summarize } from './framing.js';
import { formatBytes, quoted } from './output.js';
import { formatMessage, PREVIEW_BYTES, Prompt } from './prompt.js';
import {
  agreedTerms,
  ConnectionWatch,
  type ControlEvent,
  closeName,
  type Outcome,
  parseCloseCode,
} from './session.js';

const HELP_LINES = [
  'type a line to send it as a text message; //text sends /text',
  '/ping [TEXT]              send a ping (the pong is shown)',
  '/close [CODE [REASON]]    close the connection (default 1000)',
  '/binary FILE              send a file as one binary message',
  '/help                     show this list;  Ctrl-D closes, Ctrl-C too',
];

/** The connection the prompt currently talks to, across reconnections. */
interface Current {
  ws: StreamedConnection | undefined;
  watch: ConnectionWatch | undefined;
  /** Payloads of the pings sent with /ping, whose pongs are shown even without --show-control. */
  asked: Set<string>;
}

/**
 * Runs `wsdx connect` on a terminal: a prompt whose lines are sent as text messages,
 * received messages printed above it with direction and type, slash commands for pings,
 * closing and files. Ctrl-D or Ctrl-C closes with --close-code; the exit status then
 * says how the connection ended.
 */
export async function runInteractive(settings: ConnectSettings): Promise<number> {
  const prompt = new Prompt('> ');
  const current: Current = { ws: undefined, watch: undefined, asked: new Set() };
  const stop = new AbortController();
  const closeNow = (code: number, reason: string): void => {
    if (current.ws === undefined || current.watch === undefined) {
      stop.abort();
      return;
    }
    if (!current.ws.isOpen) return;
    current.watch.markLocal();
    current.ws.close(code, reason);
  };
  prompt.on('line', (line: string) => onLine(line, prompt, current, closeNow));
  prompt.on('eof', () => closeNow(settings.closeCode, settings.closeReason));
  prompt.on('interrupt', () => closeNow(settings.closeCode, settings.closeReason));
  prompt.print(`* connecting to ${settings.url}`, 'gray');
  try {
    const status = await dialLoop(
      { ...settings, signal: stop.signal, report: (line) => prompt.print(`* ${line}`, 'yellow') },
      (ws) => session(ws, settings, prompt, current),
    );
    return status === ExitCode.Interrupted ? ExitCode.Ok : status;
  } finally {
    prompt.close();
  }
}

/** Runs one connection under the prompt and resolves with how it ended. */
async function session(
  ws: StreamedConnection,
  settings: ConnectSettings,
  prompt: Prompt,
  current: Current,
): Promise<Outcome> {
  const watch = new ConnectionWatch(ws, settings.heartbeat, (event) =>
    showControl(event, prompt, settings.showControl, current.asked),
  );
  current.ws = ws;
  current.watch = watch;
  prompt.print(`* connected to ${settings.url}${agreedTerms(ws)}; /help for commands`, 'gray');
  void showIncoming(ws, prompt);
  const outcome = await watch.closed;
  current.ws = undefined;
  current.watch = undefined;
  return outcome;
}

async function showIncoming(ws: StreamedConnection, prompt: Prompt): Promise<void> {
  try {
    for await (const message of ws) {
      prompt.print(formatMessage('<', await summarize(message, PREVIEW_BYTES)), 'green');
    }
  } catch {
    // The connection failed; its outcome is printed when it closes.
  }
}

function onLine(
  line: string,
  prompt: Prompt,
  current: Current,
  closeNow: (code: number, reason: string) => void,
): void {
  try {
    runLine(line, prompt, current, closeNow);
  } catch (err) {
    prompt.print(`* ${messageOf(err)}`, 'red');
  }
}

function runLine(
  line: string,
  prompt: Prompt,
  current: Current,
  closeNow: (code: number, reason: string) => void,
): void {
  if (line.startsWith('/') && !line.startsWith('//')) {
    runCommand(line, prompt, current, closeNow);
    return;
  }
  const ws = current.ws;
  if (ws === undefined || !ws.isOpen) {
    prompt.print('* not connected: the line was not sent', 'red');
    return;
  }
  ws.write(line.startsWith('//') ? line.slice(1) : line);
}

function runCommand(
  line: string,
  prompt: Prompt,
  current: Current,
  closeNow: (code: number, reason: string) => void,
): void {
  const [command = '', ...rest] = line.slice(1).split(' ');
  const argument = rest.join(' ');
  switch (command) {
    case 'help':
      for (const help of HELP_LINES) prompt.print(`  ${help}`, 'gray');
      return;
    case 'ping':
      ping(argument, current);
      return;
    case 'close':
    case 'quit':
    case 'exit':
      closeWith(argument, closeNow);
      return;
    case 'binary':
      void sendFile(argument.trim(), prompt, current.ws);
      return;
    default:
      prompt.print(`* unknown command /${command}; /help lists them`, 'red');
  }
}

function ping(argument: string, current: Current): void {
  const watch = current.watch;
  if (watch === undefined || !watch.ws.isOpen) throw new Error('not connected');
  const payload = argument === '' ? `wsdx ${Date.now()}` : argument;
  current.asked.add(payload);
  watch.ping(payload);
}

function closeWith(argument: string, closeNow: (code: number, reason: string) => void): void {
  const [codeText, ...reasonWords] = argument
    .trim()
    .split(' ')
    .filter((w) => w !== '');
  const code = codeText === undefined ? 1000 : parseCloseCode(codeText, '/close');
  const reason = reasonWords.join(' ');
  if (Buffer.byteLength(reason) > 123) throw new Error('a close reason is at most 123 bytes');
  closeNow(code, reason);
}

/** Sends a file as one binary message, streamed (any size, with backpressure). */
async function sendFile(
  file: string,
  prompt: Prompt,
  ws: StreamedConnection | undefined,
): Promise<void> {
  try {
    if (file === '') throw new Error('/binary needs a FILE');
    if (ws === undefined || !ws.isOpen) throw new Error('not connected');
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} is not a file`);
    await pipeline(createReadStream(file), ws.createMessageStream({ binary: true }));
    prompt.print(`> [binary ${formatBytes(info.size)}] sent ${file}`, 'blue');
  } catch (err) {
    prompt.print(`* cannot send ${file}: ${messageOf(err)}`, 'red');
  }
}

function showControl(event: ControlEvent, prompt: Prompt, show: boolean, asked: Set<string>): void {
  if (event.kind === 'close') {
    const by = event.local ? 'we closed' : 'the peer closed';
    prompt.print(`* closed: ${closeName(event.code)}${quoted(event.reason)} (${by})`, 'gray');
    return;
  }
  const data = event.data.toString('utf8');
  const wasAsked = event.kind === 'pong' && asked.delete(data);
  if (!show && !wasAsked && event.kind !== 'ping-sent') return;
  if (!show && event.kind === 'ping-sent' && !asked.has(data)) return;
  const arrow = event.kind === 'ping-sent' ? '>' : '<';
  const kind = event.kind === 'ping-sent' ? 'ping' : event.kind;
  prompt.print(`${arrow} [${kind}]${quoted(event.data)}`, 'cyan');
}
