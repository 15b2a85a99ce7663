import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import type { ConnectSettings } from './connect.js';
import { dialLoop } from './dial.js';
import { ExitCode } from './errors.js';
import { messagesOf, type ReceivedMessage, writeMessage } from './framing.js';
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
 * Runs `wsdx connect` in a pipe: stdin becomes messages (lines, chunks, or one message),
 * messages are written to stdout undecorated, and the end of stdin closes the connection
 * once it has been quiet for --linger, so that the answers to the last messages are not
 * cut off. SIGINT or SIGTERM closes it at once (a second one exits at once).
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
  const pump =
    settings.framing === 'message'
      ? undefined
      : new InputPump(messagesOf(process.stdin, settings.framing));
  try {
    return await dialLoop({ ...settings, signal: interrupt.signal, report: note }, (ws) =>
      pipeSession(ws, settings, pump, interrupt.signal),
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function ignoreOutputError(): void {
  // A reader that went away (EPIPE) is handled where the write fails.
}

/** Runs one connection of a pipe session, and resolves with how it ended. */
async function pipeSession(
  ws: WebSocketConnection,
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
      if (!ended) return;
      await lingerUntilQuiet(ws, settings.linger, activity, watch.closed);
      closeLocally();
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

/**
 * Copies every received message to stdout. When stdout goes away (a `| head` that has
 * seen enough), the rest is skipped and the connection is closed normally.
 */
async function receive(
  ws: WebSocketConnection,
  settings: ConnectSettings,
  activity: Activity,
  closeLocally: () => void,
): Promise<void> {
  let discard = false;
  const touch = (): void => {
    activity.last = Date.now();
  };
  try {
    for await (const message of ws as AsyncIterable<ReceivedMessage>) {
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
    }
  } catch {
    // The connection failed; its outcome says how.
  }
}

function skip(message: ReceivedMessage): void {
  if (message instanceof IncomingMessageStream) message.destroy();
}

/**
 * Sends the input; resolves true when it has all been handed to the connection, false
 * when the connection closed first.
 */
async function send(
  ws: WebSocketConnection,
  settings: ConnectSettings,
  pump: InputPump | undefined,
  closed: Promise<Outcome>,
  activity: Activity,
): Promise<boolean> {
  const touch = (): void => {
    activity.last = Date.now();
  };
  if (pump !== undefined) return pump.feed(ws, closed, touch);
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
  ws: WebSocketConnection,
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
