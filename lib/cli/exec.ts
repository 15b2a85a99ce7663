import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import type { StreamedConnection } from './dial.js';
import { type Framing, messagesOf, writeMessage } from './framing.js';
import { sendMessage } from './input-pump.js';
import type { StreamingMode } from './listen.js';
import { announce } from './listen-modes.js';
import { note } from './output.js';

type Child = ChildProcessByStdio<Writable, Readable, null>;

/** Time a process has, after its connection closed and its stdin ended, before SIGTERM. */
const REAP_GRACE_MS = 2_000;

/**
 * --exec CMD: each connection gets its own process (run with `sh -c`), messages written
 * to its stdin and its stdout cut into messages, both ways with backpressure: a process
 * that does not read stops the connection's reading, and a client that does not read
 * stops the process's output.
 *
 * The client's Close ends the process's stdin, and the answer to that Close waits (the
 * library's deferCloseReply, at most closeTimeout) until the process's stdout has ended:
 * what a filter writes at the end of its input (`sort`, `wc -l`, `tr` and `jq` whose output
 * is buffered in a pipe) still reaches the client, which may go on reading after its Close
 * (RFC 6455 §5.5.1: data may arrive until the peer's Close). The process's exit closes the
 * connection: 1000 for status 0, 1011 with the status otherwise. A process still running
 * 2 s after its connection closed gets SIGTERM.
 */
export function execFor(command: string, framing: Framing, binary: boolean): StreamingMode {
  const children = new Set<Child>();
  return {
    messageStreams: true,
    deferCloseReply: true,
    onConnection(ws, id) {
      announce(ws, id);
      const child = startChild(command, ws, id);
      children.add(child);
      child.once('close', () => children.delete(child));
      connect(child, ws, id, framing, binary);
    },
    stop() {
      for (const child of children) child.kill('SIGTERM');
    },
  };
}

function startChild(command: string, ws: StreamedConnection, id: string): Child {
  return spawn(command, {
    shell: true,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      WSDX_CLIENT_ID: id,
      WSDX_REMOTE_ADDRESS: ws.remoteAddress ?? '',
      WSDX_SUBPROTOCOL: ws.protocol,
    },
  });
}

/** Whether the connection still takes our messages: not ended by us, not gone (a Close answered later is fine). */
function canSend(ws: StreamedConnection): boolean {
  return ws.writable && !ws.destroyed;
}

function connect(
  child: Child,
  ws: StreamedConnection,
  id: string,
  framing: Framing,
  binary: boolean,
): void {
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  child.stdin.on('error', () => {}); // EPIPE: the process exited without reading everything.
  child.on('error', (err) => {
    note(`${id}: cannot run the command: ${err.message}`);
    if (canSend(ws)) ws.close(1011, 'cannot run the command');
  });
  void toChild(ws, child.stdin, framing);
  void toConnection(child.stdout, ws, framing, binary)
    .then(() => exited)
    .then(
      ([code, signal]) => closeAfterExit(ws, code, signal),
      () => {
        if (canSend(ws)) ws.close(1011, 'the command failed');
      },
    );
  ws.once('close', () => {
    child.stdin.end();
    reap(child);
  });
}

/**
 * Reads a connection's messages, leaving its writable side alone when they end: a `for
 * await` over the connection itself destroys it at the end of the loop, which would answer
 * the client's Close at once, before the process's last output.
 */
function messagesUntilClose(ws: StreamedConnection): AsyncIterable<IncomingMessageStream> {
  return { [Symbol.asyncIterator]: () => ws.iterator({ destroyOnReturn: false }) };
}

/** Writes each message to the process's stdin; ends it when the connection's messages end. */
async function toChild(ws: StreamedConnection, stdin: Writable, framing: Framing): Promise<void> {
  try {
    for await (const message of messagesUntilClose(ws)) {
      try {
        if (stdin.destroyed || stdin.writableEnded) throw new Error('stdin closed');
        await writeMessage(stdin, message, framing);
      } catch {
        message.destroy();
      }
    }
  } catch {
    // The connection failed; its close ends the process's stdin.
  }
  stdin.end();
}

/** Sends the process's output as messages; keeps reading it (and drops it) once the connection is gone. */
async function toConnection(
  stdout: Readable,
  ws: StreamedConnection,
  framing: Framing,
  binary: boolean,
): Promise<void> {
  if (framing === 'message') {
    await pipeline(stdout, ws.createMessageStream({ binary }));
    return;
  }
  for await (const message of messagesOf(stdout, framing) as AsyncIterable<string | Buffer>) {
    if (canSend(ws)) await sendMessage(ws, message);
  }
}

/** Closes after the process's exit (answering the client's Close, if it came first). */
function closeAfterExit(
  ws: StreamedConnection,
  code: number | null,
  signal: NodeJS.Signals | null,
): void {
  if (!canSend(ws)) return;
  if (code === 0) ws.close(1000);
  else ws.close(1011, signal === null ? `exit status ${code}` : `killed by ${signal}`);
}

function reap(child: Child): void {
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }, REAP_GRACE_MS);
  timer.unref();
  child.once('close', () => clearTimeout(timer));
}
