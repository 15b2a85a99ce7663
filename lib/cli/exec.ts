import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import { type Framing, messagesOf, type ReceivedMessage, writeMessage } from './framing.js';
import { sendMessage } from './input-pump.js';
import type { ListenMode } from './listen.js';
import { announce } from './listen-modes.js';
import { note } from './output.js';

type Child = ChildProcessByStdio<Writable, Readable, null>;

/** Time a process has, after its connection closed and its stdin ended, before SIGTERM. */
const REAP_GRACE_MS = 2_000;

/**
 * --exec CMD: each connection gets its own process (run with `sh -c`), messages written
 * to its stdin and its stdout cut into messages, both ways with backpressure: a process
 * that does not read stops the connection's reading, and a client that does not read
 * stops the process's output. The process's exit closes the connection: 1000 for status
 * 0, 1011 with the status otherwise. A closed connection ends the process's stdin, and a
 * process still running 2 s later gets SIGTERM.
 */
export function execFor(command: string, framing: Framing, binary: boolean): ListenMode {
  const children = new Set<Child>();
  return {
    messageStreams: true,
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

function startChild(command: string, ws: WebSocketConnection, id: string): Child {
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

function connect(
  child: Child,
  ws: WebSocketConnection,
  id: string,
  framing: Framing,
  binary: boolean,
): void {
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  child.stdin.on('error', () => {}); // EPIPE: the process exited without reading everything.
  child.on('error', (err) => {
    note(`${id}: cannot run the command: ${err.message}`);
    if (ws.isOpen) ws.close(1011, 'cannot run the command');
  });
  void toChild(ws, child.stdin, framing);
  void toConnection(child.stdout, ws, framing, binary)
    .then(() => exited)
    .then(
      ([code, signal]) => closeAfterExit(ws, code, signal),
      () => {},
    );
  ws.once('close', () => {
    child.stdin.end();
    reap(child);
  });
}

/** Writes each message to the process's stdin; ends it when the connection's messages end. */
async function toChild(ws: WebSocketConnection, stdin: Writable, framing: Framing): Promise<void> {
  try {
    for await (const message of ws as AsyncIterable<ReceivedMessage>) {
      try {
        if (stdin.destroyed || stdin.writableEnded) throw new Error('stdin closed');
        await writeMessage(stdin, message, framing);
      } catch {
        if (message instanceof IncomingMessageStream) message.destroy();
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
  ws: WebSocketConnection,
  framing: Framing,
  binary: boolean,
): Promise<void> {
  if (framing === 'message') {
    await pipeline(stdout, ws.createMessageStream({ binary }));
    return;
  }
  for await (const message of messagesOf(stdout, framing) as AsyncIterable<string | Buffer>) {
    if (ws.isOpen) await sendMessage(ws, message);
  }
}

function closeAfterExit(
  ws: WebSocketConnection,
  code: number | null,
  signal: NodeJS.Signals | null,
): void {
  if (!ws.isOpen) return;
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
