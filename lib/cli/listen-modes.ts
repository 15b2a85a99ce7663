import { EventEmitter, once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { Incoming, Message } from '../stream/connection-events.js';
import type { IncomingMessageStream } from '../stream/incoming-message-stream.js';
import type { WebSocketConnection } from '../stream/websocket-connection.js';
import type { StreamedConnection } from './dial.js';
import {
  type Framing,
  messagesOf,
  readHead,
  SMALL_MESSAGE_BYTES,
  summarize,
  writeMessage,
} from './framing.js';
import { sendMessage } from './input-pump.js';
import type { StreamingMode, WholeMessageMode } from './listen.js';
import { formatBytes, note, quoted } from './output.js';
import { formatMessage, PREVIEW_BYTES, Prompt } from './prompt.js';
import { agreedTerms, closeName } from './session.js';

/** A broadcast skips a client that holds more than this many bytes not yet sent. */
export const BROADCAST_BUFFER_LIMIT = 8 * 1024 * 1024;

/** Reports connections and closes on stderr (or above the prompt). */
export function announce(
  ws: WebSocketConnection<Incoming>,
  id: string,
  print: (line: string) => void = note,
): void {
  print(`${id} connected from ${ws.remoteAddress ?? 'unknown'}${agreedTerms(ws)}`);
  ws.once('close', (code: number, reason: string) =>
    print(`${id} closed: ${closeName(code)}${quoted(reason)}`),
  );
}

/**
 * --echo: every message goes back to its sender with its type, streamed (a message of
 * any size passes in constant memory, and a slow reader slows its own sender down).
 */
export function echo(): StreamingMode {
  return {
    messageStreams: true,
    deferCloseReply: false,
    onConnection(ws, id) {
      announce(ws, id);
      void echoAll(ws);
    },
  };
}

async function echoAll(ws: StreamedConnection): Promise<void> {
  try {
    for await (const message of ws) {
      if (!ws.isOpen) {
        message.destroy();
        continue;
      }
      await echoOne(ws, message);
    }
  } catch {
    // The connection closed or failed; the server reports it.
  }
}

/** Echoes one message: a small one in one write, a large one streamed as it arrives. */
async function echoOne(ws: StreamedConnection, message: IncomingMessageStream): Promise<void> {
  const head = await readHead(message, SMALL_MESSAGE_BYTES);
  const bytes = Buffer.concat(head.chunks);
  if (head.ended) {
    await sendMessage(ws, message.binary ? bytes : bytes.toString('utf8'));
    return;
  }
  const out = ws.createMessageStream({ binary: message.binary });
  out.write(bytes);
  await pipeline(message, out);
}

/**
 * --broadcast: every message to every other open client. A client that does not keep up
 * (more than 8 MiB waiting) misses messages rather than growing the server's memory.
 */
export function broadcastFrom(): WholeMessageMode {
  const clients = new Clients<WebSocketConnection<Message>>();
  return {
    messageStreams: false,
    onConnection(ws, id) {
      clients.add(ws);
      announce(ws, id);
      void relay(ws, id, clients);
    },
  };
}

async function relay(
  ws: WebSocketConnection<Message>,
  id: string,
  clients: Clients<WebSocketConnection<Message>>,
): Promise<void> {
  try {
    for await (const message of ws) {
      for (const other of clients.open) {
        if (other === ws || !other.isOpen) continue;
        if (other.bufferedAmount > BROADCAST_BUFFER_LIMIT) {
          note(
            `a client is ${formatBytes(other.bufferedAmount)} behind: skipped a message from ${id}`,
          );
          continue;
        }
        other.write(message);
      }
    }
  } catch {
    // The connection closed or failed; the server reports it.
  }
}

/**
 * The default mode: prints what arrives (undecorated in a pipe, with direction, client
 * and type on a terminal) and sends what is typed, or read from stdin, to every client.
 * Messages from several clients are printed one whole message at a time.
 */
export class PrintMode implements StreamingMode {
  readonly messageStreams = true;
  readonly deferCloseReply = false;
  readonly #clients = new Clients<StreamedConnection>();
  readonly #framing: Framing;
  readonly #binaryInput: boolean;
  #prompt: Prompt | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(framing: Framing, binary: boolean) {
    this.#framing = framing;
    this.#binaryInput = binary;
  }

  onConnection(ws: StreamedConnection, id: string): void {
    this.#clients.add(ws);
    const prompt = this.#prompt;
    announce(ws, id, prompt === undefined ? note : (line) => prompt.print(`* ${line}`, 'gray'));
    void this.#read(ws, id);
  }

  start(): void {
    if (process.stdin.isTTY === true && process.stdout.isTTY === true) {
      const prompt = new Prompt('> ');
      this.#prompt = prompt;
      prompt.on('line', (line: string) => sendToAll(this.#clients, line));
      const quit = (): void => {
        process.kill(process.pid, 'SIGINT');
      };
      prompt.on('eof', quit);
      prompt.on('interrupt', quit);
      return;
    }
    void this.#pumpStdin();
  }

  stop(): void {
    this.#prompt?.close();
  }

  async #read(ws: StreamedConnection, id: string): Promise<void> {
    try {
      for await (const message of ws) {
        const prompt = this.#prompt;
        if (prompt === undefined)
          await this.#serially(() => writeMessage(process.stdout, message, this.#framing));
        else prompt.print(formatMessage('<', await summarize(message, PREVIEW_BYTES), id), 'green');
      }
    } catch {
      // The connection closed or failed; announce() reports it.
    }
  }

  /** Runs writes one after the other, so that two clients' messages never interleave. */
  #serially(write: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(write);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Sends stdin's lines (or chunks, with --binary) to every client, waiting for the first one. */
  async #pumpStdin(): Promise<void> {
    try {
      const input = messagesOf(process.stdin, this.#binaryInput ? 'binary' : 'lines');
      for await (const message of input as AsyncIterable<string | Buffer>) {
        if (this.#clients.open.length === 0) await once(this.#clients, 'added');
        await sendToAllWithBackpressure(this.#clients, message);
      }
    } catch (err) {
      note(`cannot read stdin: ${(err as Error).message}`);
    }
  }
}

function sendToAll(clients: Clients<StreamedConnection>, message: string | Buffer): void {
  for (const ws of clients.open) ws.write(message);
}

async function sendToAllWithBackpressure(
  clients: Clients<StreamedConnection>,
  message: string | Buffer,
): Promise<void> {
  await Promise.all(clients.open.map((ws) => sendMessage(ws, message)));
}

/**
 * The connections of a mode, each until its close; emits 'added' for a new one (stdin
 * waits for the first client).
 */
class Clients<C extends WebSocketConnection<Incoming>> extends EventEmitter {
  readonly #all = new Set<C>();

  add(ws: C): void {
    this.#all.add(ws);
    ws.once('close', () => this.#all.delete(ws));
    this.emit('added', ws);
  }

  /** The connections open for messages. */
  get open(): C[] {
    return [...this.#all].filter((ws) => ws.isOpen);
  }
}
