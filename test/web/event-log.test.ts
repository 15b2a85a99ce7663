import { type Browser, chromium } from 'playwright-core';
import {
  WebSocket as UndiciWebSocket,
  WebSocketError as UndiciWebSocketError,
  WebSocketStream as UndiciWebSocketStream,
} from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../../lib/web/web-socket.js';
import { WebSocketError } from '../../lib/web/web-socket-error.js';
import { WebSocketStream } from '../../lib/web/web-socket-stream.js';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  requirePeer,
  requirePeersForEachTest,
  within,
} from '../helpers/peers.js';
import {
  EVENT_LOG_SCRIPT,
  WEB_SOCKET_SECTIONS,
  WEB_SOCKET_STREAM_SECTIONS,
} from './event-log-script.js';
import { type ScenarioServer, startScenarioServer } from './scenario-server.js';

/**
 * The three-way event log: one script (event-log-script.ts) run in headless Chromium with
 * the browser's own WebSocket and WebSocketStream, in Node with ours, and in Node with
 * undici's WebSocket, against the same scenario server. Each log must equal the browser's
 * line for line, once the documented differences below are applied to the browser's log.
 * A documented difference that no longer occurs fails the test too (its hunk is not found
 * in the browser's log, or the implementation's log then differs), so the list stays true.
 */

/** A documented difference: these consecutive lines of the browser's log read otherwise. */
interface Difference {
  why: string;
  chromium: string[];
  instead: string[];
}

/** Where our WebSocket and WebSocketStream differ from Chromium 156, and why. */
const OUR_DIFFERENCES: Difference[] = [
  {
    why: 'Node has no API base URL: a relative URL cannot be resolved (the standard parses with the document base URL)',
    chromium: ['constructor url "not a url": ok ws://127.0.0.1:PORT/not%20a%20url'],
    instead: ['constructor url "not a url": throws DOMException(SyntaxError)'],
  },
  {
    why: 'the same, for WebSocketStream',
    chromium: ['wss constructor url "not a url": ok ws://127.0.0.1:PORT/not%20a%20url'],
    instead: ['wss constructor url "not a url": throws DOMException(SyntaxError)'],
  },
];

/** Where undici 7's WebSocket differs from Chromium 156 (for the README's comparison). */
const UNDICI_DIFFERENCES: Difference[] = [
  {
    why: 'undici sets binaryType to "blob" on an invalid value; Web IDL ignores it',
    chromium: ['attributes: binaryType after arraybuffer then nonsense: arraybuffer'],
    instead: ['attributes: binaryType after arraybuffer then nonsense: blob'],
  },
  {
    why: 'undici fires error and close inside close() during CONNECTING (the standard queues tasks) and uses ErrorEvent',
    chromium: [
      'attributes: readyState after close() while CONNECTING 2',
      'attributes: error [Event] readyState=3',
      'attributes: close [CloseEvent] readyState=3 code=1006 reason="" wasClean=false',
    ],
    instead: [
      'attributes: error [ErrorEvent] readyState=3',
      'attributes: close [CloseEvent] readyState=3 code=1006 reason="" wasClean=false',
      'attributes: readyState after close() while CONNECTING 2',
    ],
  },
  {
    why: 'no API base URL in Node',
    chromium: ['constructor url "not a url": ok ws://127.0.0.1:PORT/not%20a%20url'],
    instead: ['constructor url "not a url": throws DOMException(SyntaxError)'],
  },
  {
    why: 'undici compares subprotocols case-insensitively',
    chromium: ['constructor protocols ["chat","CHAT"]: ok'],
    instead: ['constructor protocols ["chat","CHAT"]: throws DOMException(SyntaxError)'],
  },
  {
    why: 'undici does not count what is sent after the close in bufferedAmount',
    chromium: ['echo: bufferedAmount after a send while CLOSING 11'],
    instead: ['echo: bufferedAmount after a send while CLOSING 0'],
  },
  {
    why: 'the same while CLOSED',
    chromium: ['echo: bufferedAmount after a send while CLOSED 16 readyState=3'],
    instead: ['echo: bufferedAmount after a send while CLOSED 0 readyState=3'],
  },
  ...['refused', 'no-protocol', 'invalid-utf8'].map((tag) => ({
    why: 'undici fires an ErrorEvent where the standard fires a plain Event',
    chromium: [`${tag}: error [Event] readyState=3`],
    instead: [`${tag}: error [ErrorEvent] readyState=3`],
  })),
  {
    why: 'undici fires error when TCP drops after the handshake; Chromium (the connection was not failed) does not',
    chromium: ['dropped: close [CloseEvent] readyState=3 code=1006 reason="" wasClean=false'],
    instead: [
      'dropped: error [ErrorEvent] readyState=3',
      'dropped: close [CloseEvent] readyState=3 code=1006 reason="" wasClean=false',
    ],
  },
  {
    why: 'undici fires error and close inside close() during CONNECTING',
    chromium: [
      'close-while-connecting: readyState 2',
      'close-while-connecting: error [Event] readyState=3',
      'close-while-connecting: close [CloseEvent] readyState=3 code=1006 reason="" wasClean=false',
    ],
    instead: [
      'close-while-connecting: error [ErrorEvent] readyState=3',
      'close-while-connecting: close [CloseEvent] readyState=3 code=1006 reason="" wasClean=false',
      'close-while-connecting: readyState 2',
    ],
  },
];

/** Applies the documented differences to the browser's log; each hunk must occur exactly once. */
function expectedLog(chromiumLog: readonly string[], differences: readonly Difference[]): string[] {
  let out = [...chromiumLog];
  for (const difference of differences) {
    const at = findHunk(out, difference.chromium);
    expect(at, `documented difference not in the browser's log (${difference.why})`).toHaveLength(
      1,
    );
    const index = at[0]!;
    out = [
      ...out.slice(0, index),
      ...difference.instead,
      ...out.slice(index + difference.chromium.length),
    ];
  }
  return out;
}

function findHunk(lines: readonly string[], hunk: readonly string[]): number[] {
  const found: number[] = [];
  for (let i = 0; i + hunk.length <= lines.length; i++) {
    if (hunk.every((line, j) => lines[i + j] === line)) found.push(i);
  }
  return found;
}

type LogScript = (env: {
  WebSocket: unknown;
  WebSocketStream: unknown;
  WebSocketError: unknown;
  base: string;
  sections: readonly string[];
}) => Promise<string[]>;

const runInNode = new Function(`return (${EVENT_LOG_SCRIPT})`)() as LogScript;
const ALL_SECTIONS = [...WEB_SOCKET_SECTIONS, ...WEB_SOCKET_STREAM_SECTIONS];

let browser: Browser | undefined;
let server: ScenarioServer;
let chromiumLog: string[] = [];

requirePeersForEachTest(async () => {
  requirePeer(CHROMIUM);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, '--headless'],
    timeout: 20_000,
  });
});

beforeAll(async () => {
  server = await startScenarioServer();
  if (browser === undefined) return; // requirePeersForEachTest fails every test
  const page = await browser.newPage();
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`, { timeout: 10_000 });
    const env = JSON.stringify({ base: server.base, sections: ALL_SECTIONS });
    chromiumLog = (await within(
      page.evaluate(
        `(${EVENT_LOG_SCRIPT})({ ...${env}, WebSocket, WebSocketStream, WebSocketError })`,
      ),
      60_000,
      "the browser's event log",
    )) as string[];
  } finally {
    await page.close();
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the event log, three ways', () => {
  it("Chromium's own log is complete (every section ran, nothing timed out)", () => {
    expect(chromiumLog.filter((line) => line.startsWith('TIMEOUT'))).toEqual([]);
    const prefixes = [
      'attributes:',
      'close(',
      'echo:',
      'server-close:',
      'after-close:',
      'dropped:',
      'close-without-code:',
      'wss-echo:',
      'wss-server-close:',
      'wss-aborted:',
      'wss close(',
      'new WebSocketError',
      'wss-writer-close:',
    ];
    for (const prefix of prefixes) {
      expect(
        chromiumLog.some((line) => line.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
    expect(chromiumLog.length).toBeGreaterThan(150);
  });

  it('our WebSocket and WebSocketStream log what Chromium logs, but for the documented differences', async () => {
    const ours = await within(
      runInNode({
        WebSocket,
        WebSocketStream,
        WebSocketError,
        base: server.base,
        sections: ALL_SECTIONS,
      }),
      60_000,
      'our event log',
    );
    expect(ours).toEqual(expectedLog(chromiumLog, OUR_DIFFERENCES));
  }, 90_000);

  it("undici's WebSocket logs what Chromium logs, but for its documented differences", async () => {
    const webSocketLines = chromiumLog.filter(
      (line) => !line.startsWith('wss') && !line.startsWith('new WebSocketError'),
    );
    const undici = await within(
      runInNode({
        WebSocket: UndiciWebSocket,
        WebSocketStream: UndiciWebSocketStream,
        WebSocketError: UndiciWebSocketError,
        base: server.base,
        sections: WEB_SOCKET_SECTIONS,
      }),
      60_000,
      "undici's event log",
    );
    expect(undici).toEqual(expectedLog(webSocketLines, UNDICI_DIFFERENCES));
  }, 90_000);
});
