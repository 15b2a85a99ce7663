/**
 * Groups 12 and 13 (permessage-deflate), after Autobahn's: compressed messages of many
 * sizes (12.1-12.2), every negotiation parameter (13.1-13.7 and ours from 13.8 on, where
 * each side is checked against the exact answer or offer it must make), and the rules of
 * compressed frames (12.9): RSV1 on the first frame only and never on control frames,
 * fragmented and octet-wise compressed messages, BFINAL blocks, empty messages, corrupt
 * data, invalid UTF-8 after inflation, and the size limit applied after inflation.
 *
 * Echoes of messages of 1024 bytes or more come back compressed, smaller ones not (the
 * default `threshold`); the peer compresses with context takeover unless it agreed not to.
 *
 * @see RFC 7692 §5 (negotiation), §6 (RSV1), §7.1 (parameters), §7.2 (compression)
 */
import {
  binary,
  close,
  cont,
  echoBinary,
  echoes,
  echoText,
  f,
  fails,
  pattern,
  ping,
  pongOf,
  prose,
  send,
  text,
} from './build.js';
import type { ConformanceCase, DeflateSpec, ExpectedEvent, Step } from './types.js';

const g = 'Compression';
const THRESHOLD = 1024;
const ON = { perMessageDeflate: true } as const;
const PMD = 'permessage-deflate';
const DEFAULT_OFFER = `${PMD}; client_max_window_bits`;

/** A compressed message step and the echo it gets. */
function roundTrip(
  kind: 'text' | 'binary',
  data: Buffer,
  extra: Partial<Extract<Step, { compressed: unknown }>> = {},
): [Step, ExpectedEvent] {
  const step: Step = { compressed: { kind, data }, ...extra };
  const compressed = data.length >= THRESHOLD;
  return [step, kind === 'text' ? echoText(data, compressed) : echoBinary(data, compressed)];
}

/** The standard exchange of a negotiation case: both types, takeover, plain, empty, fragments. */
function exchange(): { steps: Step[]; events: ExpectedEvent[] } {
  const m1 = Buffer.from(prose(2000, 1));
  const pairs: Array<[Step, ExpectedEvent]> = [
    roundTrip('text', m1),
    // The same text again: with context takeover it is a back-reference to the first.
    roundTrip('text', m1),
    [send(text('plain')), echoText('plain', false)],
    roundTrip('binary', pattern(5000)),
    roundTrip('text', Buffer.alloc(0)),
    roundTrip('binary', Buffer.from(prose(10000, 2)), { fragments: 3 }),
  ];
  return {
    steps: [...pairs.map(([s]) => s), { awaitEvents: pairs.length }, send(ping('p'))],
    events: [...pairs.map(([, e]) => e), pongOf('p')],
  };
}

/** Many messages of one size, compressed by the peer (12.x and 13.x). */
function series(
  kind: 'text' | 'binary',
  size: number,
  count: number,
): { steps: Step[]; events: ExpectedEvent[] } {
  const pairs = Array.from({ length: count }, (_, i) => {
    const data = kind === 'text' ? Buffer.from(prose(size, i)) : mixed(size, i);
    return roundTrip(kind, data);
  });
  return { steps: pairs.map(([s]) => s), events: pairs.map(([, e]) => e) };
}

/** Half compressible, half not: what binary payloads look like. */
function mixed(size: number, seed: number): Buffer {
  const out = pattern(size, seed);
  for (let i = 0; i < size / 2; i++) out[i] = (i * 2654435761 + seed) >>> 24;
  return out;
}

/** A case run against our server: the peer offers, the server must answer exactly. */
function serverCase(
  id: string,
  title: string,
  offer: string,
  answer: string | null,
  plan: { steps: Step[]; events: ExpectedEvent[] },
  serverConfig: ConformanceCase['serverOptions'] = ON,
): ConformanceCase {
  return {
    id,
    group: g,
    title,
    sides: ['server'],
    serverOptions: serverConfig,
    deflate: { offer, expectAnswer: answer },
    steps: plan.steps,
    expect: echoes(...plan.events),
    timeoutMs: 20_000,
  };
}

/** A case run against our client: the peer answers; the client's offer must be exact. */
function clientCase(
  id: string,
  title: string,
  deflate: DeflateSpec,
  plan: { steps: Step[]; events: ExpectedEvent[] },
): ConformanceCase {
  return {
    id,
    group: g,
    title,
    sides: ['client'],
    deflate: { expectOffer: DEFAULT_OFFER, ...deflate },
    steps: plan.steps,
    expect: echoes(...plan.events),
    timeoutMs: 20_000,
  };
}

function sizeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const sizes = [16, 64, 256, 1024, 4096, 16384, 65536, 131072];
  sizes.forEach((size, i) => {
    for (const [sub, kind] of [
      [1, 'text'],
      [2, 'binary'],
    ] as const) {
      const plan = series(kind, size, 10);
      const title = `10 compressed ${kind} messages of ${size} bytes`;
      cases.push(serverCase(`12.${sub}.${i + 1}`, title, PMD, PMD, plan));
      cases.push(clientCase(`12.${sub}.${i + 1}`, title, { answer: PMD }, plan));
    }
  });
  return cases;
}

/** Autobahn 13.x: parameter sets, each with a series of sizes. */
function parameterSetCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const sizes = [16, 1024, 16384, 65536];
  const plan = (): { steps: Step[]; events: ExpectedEvent[] } => {
    const parts = sizes.map((size) => series('text', size, 5));
    return { steps: parts.flatMap((p) => p.steps), events: parts.flatMap((p) => p.events) };
  };
  const serverSets: Array<[string, string]> = [
    [PMD, PMD],
    [`${PMD}; client_no_context_takeover`, `${PMD}; client_no_context_takeover`],
    [`${PMD}; client_max_window_bits=8`, `${PMD}; client_max_window_bits=8`],
    [`${PMD}; client_max_window_bits=15`, `${PMD}; client_max_window_bits=15`],
    [
      `${PMD}; client_no_context_takeover; client_max_window_bits=8`,
      `${PMD}; client_no_context_takeover; client_max_window_bits=8`,
    ],
    [
      `${PMD}; client_no_context_takeover; client_max_window_bits=15`,
      `${PMD}; client_no_context_takeover; client_max_window_bits=15`,
    ],
    [
      `${PMD}; client_no_context_takeover; client_max_window_bits=8, ${PMD}; client_no_context_takeover, ${PMD}`,
      `${PMD}; client_no_context_takeover; client_max_window_bits=8`,
    ],
  ];
  serverSets.forEach(([offer, answer], i) => {
    cases.push(
      serverCase(`13.${i + 1}`, `offer "${offer}", then 20 messages`, offer, answer, plan()),
    );
  });
  const clientAnswers = [
    PMD,
    `${PMD}; client_no_context_takeover`,
    `${PMD}; client_max_window_bits=8`,
    `${PMD}; client_max_window_bits=15`,
    `${PMD}; client_no_context_takeover; client_max_window_bits=8`,
    `${PMD}; client_no_context_takeover; client_max_window_bits=15`,
    `${PMD}; server_no_context_takeover; server_max_window_bits=9`,
  ];
  clientAnswers.forEach((answer, i) => {
    cases.push(
      clientCase(`13.${i + 1}`, `answer "${answer}", then 20 messages`, { answer }, plan()),
    );
  });
  return cases;
}

/** Ours: every parameter and value, and what each side must answer or accept. */
function negotiationCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  let n = 0;
  const s = (
    title: string,
    offer: string,
    answer: string | null,
    config: ConformanceCase['serverOptions'] = ON,
  ): void => {
    n++;
    const plan = answer === null ? declined() : exchange();
    cases.push(serverCase(`13.8.${n}`, title, offer, answer, plan, config));
  };
  s('offer without parameters', PMD, PMD);
  s(
    'client_no_context_takeover',
    `${PMD}; client_no_context_takeover`,
    `${PMD}; client_no_context_takeover`,
  );
  s(
    'server_no_context_takeover',
    `${PMD}; server_no_context_takeover`,
    `${PMD}; server_no_context_takeover`,
  );
  s(
    'both no_context_takeover',
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
    `${PMD}; server_no_context_takeover; client_no_context_takeover`,
  );
  s('client_max_window_bits without a value (no wish: not answered)', DEFAULT_OFFER, PMD);
  for (let bits = 8; bits <= 15; bits++) {
    s(
      `client_max_window_bits=${bits}`,
      `${PMD}; client_max_window_bits=${bits}`,
      `${PMD}; client_max_window_bits=${bits}`,
    );
  }
  s(
    'server_max_window_bits=8 (zlib cannot: offer declined)',
    `${PMD}; server_max_window_bits=8`,
    null,
  );
  for (let bits = 9; bits <= 15; bits++) {
    s(
      `server_max_window_bits=${bits}`,
      `${PMD}; server_max_window_bits=${bits}`,
      `${PMD}; server_max_window_bits=${bits}`,
    );
  }
  s(
    'all four parameters (answered in a fixed order)',
    `${PMD}; client_max_window_bits=12; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover`,
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12`,
  );
  s(
    'quoted value client_max_window_bits="10"',
    `${PMD}; client_max_window_bits="10"`,
    `${PMD}; client_max_window_bits=10`,
  );
  s('an unknown extension before it', `x-webkit-deflate-frame, ${PMD}`, PMD);
  s(
    'first offer unacceptable, second taken',
    `${PMD}; server_max_window_bits=8, ${PMD}; client_no_context_takeover`,
    `${PMD}; client_no_context_takeover`,
  );
  s('first offer with an unknown parameter, second taken', `${PMD}; foo, ${PMD}`, PMD);
  // Invalid offers are declined (RFC 7692 §7.1): the connection runs uncompressed.
  const invalid = [
    'foo',
    'foo=1',
    'server_no_context_takeover; server_no_context_takeover',
    'client_max_window_bits=9; client_max_window_bits=10',
    'server_max_window_bits=16',
    'server_max_window_bits=7',
    'server_max_window_bits=08',
    'server_max_window_bits=0',
    'server_max_window_bits',
    'client_max_window_bits=16',
    'client_max_window_bits=-1',
    'client_no_context_takeover=1',
    'server_no_context_takeover=true',
  ];
  for (const param of invalid) s(`invalid offer "${param}" declined`, `${PMD}; ${param}`, null);
  // The server's own settings.
  s('server limits its window to 10', PMD, `${PMD}; server_max_window_bits=10`, {
    perMessageDeflate: { serverMaxWindowBits: 10 },
  });
  s(
    'server limits its window to 10, client asks for 12',
    `${PMD}; server_max_window_bits=12`,
    `${PMD}; server_max_window_bits=10`,
    { perMessageDeflate: { serverMaxWindowBits: 10 } },
  );
  s(
    'server configured with 8 answers 9 (what zlib uses)',
    PMD,
    `${PMD}; server_max_window_bits=9`,
    {
      perMessageDeflate: { serverMaxWindowBits: 8 },
    },
  );
  s('server wishes a client window of 10', DEFAULT_OFFER, `${PMD}; client_max_window_bits=10`, {
    perMessageDeflate: { clientMaxWindowBits: 10 },
  });
  s(
    'server wishes 10, client allows at most 9',
    `${PMD}; client_max_window_bits=9`,
    `${PMD}; client_max_window_bits=9`,
    {
      perMessageDeflate: { clientMaxWindowBits: 10 },
    },
  );
  s('server wishes 10, client did not offer the parameter', PMD, PMD, {
    perMessageDeflate: { clientMaxWindowBits: 10 },
  });
  s('server never takes its context over', PMD, `${PMD}; server_no_context_takeover`, {
    perMessageDeflate: { serverNoContextTakeover: true },
  });
  s(
    'server requires the client not to take its context over',
    PMD,
    `${PMD}; client_no_context_takeover`,
    {
      perMessageDeflate: { clientNoContextTakeover: true },
    },
  );
  s('server without permessage-deflate ignores the offer', PMD, null, {});
  return cases;
}

/** After a declined offer: plain messages pass, an RSV1 frame fails the connection. */
function declined(): { steps: Step[]; events: ExpectedEvent[] } {
  return { steps: [send(text('plain'))], events: [echoText('plain', false)] };
}

function declinedRsv1Cases(): ConformanceCase[] {
  return [
    {
      id: '13.9.1',
      group: g,
      title: 'after a declined offer, a text frame with RSV1',
      sides: ['server'],
      serverOptions: ON,
      deflate: { offer: `${PMD}; server_max_window_bits=8`, expectAnswer: null },
      steps: [send(text('plain')), send(text('compressed?', true, 4))],
      expect: fails(1002, echoText('plain', false)),
    },
    {
      id: '13.9.1',
      group: g,
      title: 'after the server answered no extension, a text frame with RSV1',
      sides: ['client'],
      deflate: { expectOffer: DEFAULT_OFFER, answer: null },
      steps: [send(text('plain')), send(text('compressed?', true, 4))],
      expect: fails(1002, echoText('plain', false)),
    },
  ];
}

/** Ours: the client's checks of the server's answer, and its offers under each configuration. */
function clientNegotiationCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  let n = 0;
  const ok = (title: string, answer: string, more: Partial<DeflateSpec> = {}): void => {
    n++;
    cases.push(clientCase(`13.10.${n}`, title, { answer, ...more }, exchange()));
  };
  const bad = (title: string, answer: string, more: Partial<DeflateSpec> = {}): void => {
    n++;
    cases.push({
      ...clientCase(
        `13.10.${n}`,
        `${title}: the client fails the handshake`,
        { answer, handshakeFails: true, ...more },
        {
          steps: [],
          events: [],
        },
      ),
    });
  };
  ok('answer without parameters', PMD);
  ok('server_no_context_takeover', `${PMD}; server_no_context_takeover`);
  ok('client_no_context_takeover', `${PMD}; client_no_context_takeover`);
  for (let bits = 8; bits <= 15; bits++)
    ok(`server_max_window_bits=${bits}`, `${PMD}; server_max_window_bits=${bits}`);
  for (let bits = 8; bits <= 15; bits++)
    ok(`client_max_window_bits=${bits}`, `${PMD}; client_max_window_bits=${bits}`);
  ok(
    'all four parameters',
    `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12`,
  );
  bad('unknown parameter', `${PMD}; foo`);
  bad('client_max_window_bits without a value', `${PMD}; client_max_window_bits`);
  bad('server_max_window_bits without a value', `${PMD}; server_max_window_bits`);
  bad('server_max_window_bits=16', `${PMD}; server_max_window_bits=16`);
  bad('server_max_window_bits=7', `${PMD}; server_max_window_bits=7`);
  bad('client_max_window_bits=08', `${PMD}; client_max_window_bits=08`);
  bad('repeated parameter', `${PMD}; server_no_context_takeover; server_no_context_takeover`);
  bad('a value on server_no_context_takeover', `${PMD}; server_no_context_takeover=1`);
  bad('an extension that was not offered', 'x-unknown');
  bad('permessage-deflate twice', `${PMD}, ${PMD}`);
  // Offers under each configuration, and the answers each must refuse.
  const cfg = (config: DeflateSpec['clientConfig'], offer: string): Partial<DeflateSpec> => ({
    clientConfig: config,
    expectOffer: offer,
  });
  const sNoCtx = cfg({ serverNoContextTakeover: true }, `${PMD}; server_no_context_takeover`);
  ok('asked server_no_context_takeover, answered', `${PMD}; server_no_context_takeover`, sNoCtx);
  bad('asked server_no_context_takeover, not answered', PMD, sNoCtx);
  const sBits = cfg({ serverMaxWindowBits: 10 }, `${PMD}; server_max_window_bits=10`);
  ok('asked server_max_window_bits=10, answered 10', `${PMD}; server_max_window_bits=10`, sBits);
  ok('asked server_max_window_bits=10, answered 9', `${PMD}; server_max_window_bits=9`, sBits);
  bad('asked server_max_window_bits=10, answered 12', `${PMD}; server_max_window_bits=12`, sBits);
  bad('asked server_max_window_bits=10, not answered', PMD, sBits);
  const cBits = cfg({ clientMaxWindowBits: 10 }, `${PMD}; client_max_window_bits=10`);
  ok('offered client_max_window_bits=10, answered 9', `${PMD}; client_max_window_bits=9`, cBits);
  ok('offered client_max_window_bits=10, not answered', PMD, cBits);
  bad('offered client_max_window_bits=10, answered 12', `${PMD}; client_max_window_bits=12`, cBits);
  const cNoCtx = cfg({ clientNoContextTakeover: true }, `${PMD}; client_no_context_takeover`);
  ok('offered client_no_context_takeover, answered without it', PMD, cNoCtx);
  const noClientBits = cfg({}, PMD);
  bad(
    'offered no client_max_window_bits, answered one',
    `${PMD}; client_max_window_bits=10`,
    noClientBits,
  );
  n++;
  cases.push({
    id: `13.10.${n}`,
    group: g,
    title: 'perMessageDeflate: false offers nothing',
    sides: ['client'],
    deflate: { clientConfig: false, expectOffer: null, answer: null },
    steps: [send(text('plain'))],
    expect: echoes(echoText('plain', false)),
  });
  return cases;
}

/** Ours and Autobahn's 12.x frame rules, on both sides. */
function frameRuleCases(): ConformanceCase[] {
  const both = (
    id: string,
    title: string,
    steps: Step[],
    expect: ConformanceCase['expect'],
    extra: Partial<ConformanceCase> = {},
  ): ConformanceCase[] => [
    {
      id,
      group: g,
      title,
      sides: ['server'],
      serverOptions: ON,
      deflate: { offer: PMD, expectAnswer: PMD },
      steps,
      expect,
      timeoutMs: 10_000,
      ...extra,
    },
    {
      id,
      group: g,
      title,
      sides: ['client'],
      deflate: { expectOffer: DEFAULT_OFFER, answer: PMD },
      steps,
      expect,
      timeoutMs: 10_000,
      ...extra,
    },
  ];
  const hello = Buffer.from(prose(3000, 7));
  const [helloStep, helloEcho] = roundTrip('text', hello);
  return [
    ...both('12.9.1', 'ping with RSV1', [send(f(0x9, 'x', true, 4))], fails(1002)),
    ...both('12.9.2', 'Close with RSV1', [send({ ...close(1000), rsv1: true })], fails(1002)),
    ...both('12.9.3', 'pong with RSV1', [send(f(0xa, '', true, 4))], fails(1002)),
    ...both(
      '12.9.4',
      'compressed message with RSV1 on its continuation frames too',
      [{ compressed: { kind: 'text', data: hello }, fragments: 3, rsv1On: 'all' }],
      fails(1002),
    ),
    ...both(
      '12.9.5',
      'corrupt compressed data',
      [send(text(Buffer.from([0xff, 0xff, 0xff, 0xff]), true, 4))],
      fails(1002),
    ),
    ...both(
      '12.9.6',
      'compressed text that inflates to invalid UTF-8',
      [{ compressed: { kind: 'text', data: Buffer.from([0x61, 0xff, 0x62]) } }],
      fails(1007),
    ),
    ...both(
      '12.9.7',
      'compressed message ending with a BFINAL block',
      [roundTrip('text', hello, { final: true })[0]],
      echoes(helloEcho),
    ),
    ...both(
      '12.9.8',
      'a BFINAL message, then a context-taking one',
      [roundTrip('text', hello, { final: true })[0], helloStep],
      echoes(helloEcho, helloEcho),
    ),
    ...both(
      '12.9.9',
      'compressed message sent octet-wise',
      [roundTrip('text', hello, { chop: 1 })[0]],
      echoes(helloEcho),
    ),
    ...both(
      '12.9.10',
      'compressed message in 10 fragments',
      [roundTrip('text', hello, { fragments: 10 })[0]],
      echoes(helloEcho),
    ),
    ...both(
      '12.9.11',
      'compressed empty message (payload 0x00)',
      [send(text(Buffer.from([0x00]), true, 4))],
      echoes(echoText('', false)),
    ),
    ...both(
      '12.9.12',
      'compressed message whose first fragment (with RSV1) is empty',
      [roundTrip('text', hello, { emptyFirst: true })[0]],
      echoes(helloEcho),
    ),
    ...both(
      '12.9.13',
      'RSV2 with permessage-deflate agreed',
      [send(text('x', true, 2))],
      fails(1002),
    ),
    ...both(
      '12.9.14',
      'ping between the fragments of a compressed message',
      [{ compressed: { kind: 'text', data: hello }, fragments: 2, pingBetween: 'between' }],
      echoes(pongOf('between'), helloEcho),
    ),
    ...both(
      '12.9.15',
      'compressed message inflating past maxReceivedMessageSize (1 MiB)',
      [{ compressed: { kind: 'binary', data: Buffer.alloc(2 * 1024 * 1024) } }],
      fails(1009),
      {
        serverOptions: { perMessageDeflate: true, maxReceivedMessageSize: 1024 * 1024 },
        clientOptions: { maxReceivedMessageSize: 1024 * 1024 },
      },
    ),
    ...both(
      '12.9.16',
      'uncompressed messages with permessage-deflate agreed',
      [send(text('plain'), binary(pattern(2000)), text('x', false), cont('y'))],
      echoes(echoText('plain', false), echoBinary(pattern(2000), true), echoText('xy', false)),
    ),
    ...both(
      '12.9.17',
      'compressed fragments with chopped octets and a Close after',
      [roundTrip('text', hello, { fragments: 4, chop: 7 })[0], send(close(1000))],
      { events: [helloEcho], close: { by: 'peer-steps', reply: 1000 } },
    ),
    ...both(
      '12.9.18',
      'uncompressed 2000-byte text, a short text, then Close: the echoes go before the Close answer',
      [send(text(Buffer.alloc(2000, 0x61)), text('second'), close(1000))],
      {
        events: [echoText(Buffer.alloc(2000, 0x61), true), echoText('second', false)],
        close: { by: 'peer-steps', reply: 1000 },
      },
    ),
  ];
}

export const compressionGroup: ConformanceCase[] = [
  ...frameRuleCases(),
  ...negotiationCases(),
  ...declinedRsv1Cases(),
  ...clientNegotiationCases(),
  ...parameterSetCases(),
  ...sizeCases(),
];
