import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import type { ConnectSettings } from './connect.js';
import { dialLoop, type StreamedConnection } from './dial.js';
import { ExitCode } from './errors.js';
import { messagesOf, writeMessage } from './framing.js';
import { InputPump } from './input-pump.js';
import { note, quoted } from './output.js';
import {
  agreedTerms,
  ConnectionWatch,
  type ControlEvent,
  closeName,
  type Outcome,
} from './session.js';

/** When the last byte went out or came in: what --linger measures quiet from. */
interface Activity {
  last: number;
}

/**
 * Runs `wsdx connect` in a pipe: the input (stdin cut into lines or chunks or taken as one
 * message, or the -x texts) becomes messages, messages are written to stdout undecorated,
 * and the end of input closes the connection as the settings' `ending` says (quiet for
 * --linger, --wait, at once, after the first answer, or never: stay until the peer closes).
 * SIGINT or SIGTERM closes it at once (a second one exits at once).
 */
export async function runPipe(settings: ConnectSettings): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = (): void => {
    if (interrupt.signal.aborted) process.exit(ExitCode.Interrupted);
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', ignoreOutputError);
  const pump = pumpFor(settings);
  try {
    return await dialLoop({ ...settings, signal: interrupt.signal, report: note }, (ws) =>
      pipeSession(ws, settings, pump, interrupt.signal),
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** The input as messages, read once across reconnections; undefined for --message (streamed) and no input. */
function pumpFor(settings: ConnectSettings): InputPump | undefined {
  const limit = settings.oneMessage ? 1 : Number.POSITIVE_INFINITY;
  const input = settings.input;
  if (input.kind === 'messages') {
    const messages = input.messages.map((m) => (settings.binary ? Buffer.from(m) : m));
    return new InputPump(Readable.from(messages), limit);
  }
  if (input.kind === 'none' || settings.framing === 'message') return undefined;
  return new InputPump(messagesOf(process.stdin, settings.framing), limit);
}

function ignoreOutputError(): void {
  // A reader that went away (EPIPE) is handled where the write fails.
}

/** Runs one connection of a pipe session, and resolves with how it ended. */
async function pipeSession(
  ws: StreamedConnection,
  settings: ConnectSettings,
  pump: InputPump | undefined,
  signal: AbortSignal,
): Promise<Outcome> {
  const watch = new ConnectionWatch(ws, settings.heartbeat, (event) =>
    reportControl(event, settings.showControl),
  );
  if (settings.showControl) note(`connected to ${settings.url}${agreedTerms(ws)}`);
  const activity: Activity = { last: Date.now() };
  const closeLocally = (): void => {
    if (watch.local || !ws.isOpen) return;
    watch.markLocal();
    ws.close(settings.closeCode, settings.closeReason);
  };
  signal.addEventListener('abort', closeLocally, { once: true });
  void receive(ws, settings, activity, closeLocally);
  void send(ws, settings, pump, watch.closed, activity).then(
    async (ended) => {
      if (ended) await endOfInput(ws, settings, activity, watch.closed, closeLocally);
    },
    (err: unknown) => {
      // A send cut short by the connection's end is told by the outcome; only input errors are news.
      if (!ws.isOpen) return;
      note(`cannot read the input: ${(err as Error).message}`);
      closeLocally();
    },
  );
  const outcome = await watch.closed;
  signal.removeEventListener('abort', closeLocally);
  return outcome;
}

/** Closes, or not, once all the input is sent: the settings' `ending`. */
async function endOfInput(
  ws: StreamedConnection,
  settings: ConnectSettings,
  activity: Activity,
  closed: Promise<Outcome>,
  closeLocally: () => void,
): Promise<void> {
  const ending = settings.ending;
  switch (ending.kind) {
    case 'stay':
    case 'first-message':
      return;
    case 'wait':
      await Promise.race([sleep(ending.ms), closed]);
      closeLocally();
      return;
    case 'linger':
      await lingerUntilQuiet(ws, ending.ms, activity, closed);
      closeLocally();
      return;
  }
}

/**
 * Copies every received message to stdout. When stdout goes away (a `| head` that has
 * seen enough), the rest is skipped and the connection is closed normally; with -1, the
 * first message closes it.
 */
async function receive(
  ws: StreamedConnection,
  settings: ConnectSettings,
  activity: Activity,
  closeLocally: () => void,
): Promise<void> {
  let discard = false;
  const touch = (): void => {
    activity.last = Date.now();
  };
  try {
    for await (const message of ws) {
      touch();
      if (discard) {
        skip(message);
        continue;
      }
      try {
        await writeMessage(process.stdout, message, settings.framing, touch);
      } catch {
        discard = true;
        skip(message);
        closeLocally();
      }
      if (settings.ending.kind === 'first-message') {
        discard = true;
        closeLocally();
      }
    }
  } catch {
    // The connection failed; its outcome says how.
  }
}

function skip(message: IncomingMessageStream): void {
  message.destroy();
}

/**
 * Sends the input; resolves true when it has all been handed to the connection (or there
 * was none), false when the connection closed first.
 */
async function send(
  ws: StreamedConnection,
  settings: ConnectSettings,
  pump: InputPump | undefined,
  closed: Promise<Outcome>,
  activity: Activity,
): Promise<boolean> {
  const touch = (): void => {
    activity.last = Date.now();
  };
  if (pump !== undefined) return pump.feed(ws, closed, touch);
  if (settings.input.kind !== 'stdin') return true;
  await pipeline(process.stdin, ws.createMessageStream({ binary: settings.binary }));
  touch();
  return true;
}

/**
 * Waits until nothing has come in or gone out for `linger` ms (or the connection has
 * closed): WebSocket has no half-close, so the end of our input cannot tell the peer
 * "that was all" without also ending what it may still be sending back.
 */
async function lingerUntilQuiet(
  ws: StreamedConnection,
  linger: number,
  activity: Activity,
  closed: Promise<Outcome>,
): Promise<void> {
  let open = true;
  void closed.then(() => {
    open = false;
  });
  while (open && ws.isOpen) {
    if (ws.bufferedAmount > 0) activity.last = Date.now();
    const idle = Date.now() - activity.last;
    if (idle >= linger) return;
    await Promise.race([sleep(Math.min(linger - idle, 100)), closed]);
  }
}

/** Prints control frames on stderr with --show-control (stdout carries only data). */
function reportControl(event: ControlEvent, show: boolean): void {
  if (!show) return;
  if (event.kind === 'close') {
    const by = event.local ? 'we closed' : 'the peer closed';
    note(`closed: ${closeName(event.code)}${quoted(event.reason)} (${by})`);
    return;
  }
  const arrow = event.kind === 'ping-sent' ? '>' : '<';
  const kind = event.kind === 'ping-sent' ? 'ping' : event.kind;
  note(`${arrow} ${kind}${quoted(event.data)}`);
}
