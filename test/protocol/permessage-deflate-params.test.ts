import { describe, expect, it } from 'vitest';
import { ErrorCode, HandshakeError, InvalidArgumentError } from '../../lib/protocol/errors.js';
import { formatExtensionHeader, parseExtensionHeader } from '../../lib/protocol/header-parser.js';
import {
  acceptDeflateOffer,
  acceptDeflateResponse,
  buildDeflateOffer,
  type DeflateAgreement,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
} from '../../lib/protocol/permessage-deflate-params.js';

const PMD = PERMESSAGE_DEFLATE;

/** An agreement with the defaults of RFC 7692 §7.1 and the given changes. */
function agreement(changes: Partial<DeflateAgreement> = {}): DeflateAgreement {
  return {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
    ...changes,
  };
}

/** Runs the server side on a header value; gives the response header and agreement. */
function serverAnswer(
  header: string,
  opts: PerMessageDeflateOptions,
): { response: string; agreement: DeflateAgreement } | null {
  const result = acceptDeflateOffer(parseExtensionHeader(header), opts);
  if (result === null) return null;
  return { response: formatExtensionHeader([result.response]), agreement: result.agreement };
}

function clientAnswer(header: string, offered: PerMessageDeflateOptions): DeflateAgreement {
  const [response] = parseExtensionHeader(header);
  if (response === undefined) throw new Error('no response in the header');
  return acceptDeflateResponse(response, offered);
}

describe('buildDeflateOffer', () => {
  it.each<[PerMessageDeflateOptions, string]>([
    [{}, PMD],
    [{ serverNoContextTakeover: false, clientNoContextTakeover: false }, PMD],
    [{ serverNoContextTakeover: true }, `${PMD}; server_no_context_takeover`],
    [{ clientNoContextTakeover: true }, `${PMD}; client_no_context_takeover`],
    [{ serverMaxWindowBits: 10 }, `${PMD}; server_max_window_bits=10`],
    [{ clientMaxWindowBits: true }, `${PMD}; client_max_window_bits`],
    [{ clientMaxWindowBits: 8 }, `${PMD}; client_max_window_bits=8`],
    [
      {
        clientMaxWindowBits: 12,
        serverMaxWindowBits: 9,
        clientNoContextTakeover: true,
        serverNoContextTakeover: true,
      },
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12`,
    ],
  ])('%j -> %s', (opts, header) => {
    expect(formatExtensionHeader([buildDeflateOffer(opts)])).toBe(header);
  });

  it.each<[string, PerMessageDeflateOptions]>([
    ['serverMaxWindowBits 7', { serverMaxWindowBits: 7 }],
    ['serverMaxWindowBits 16', { serverMaxWindowBits: 16 }],
    ['serverMaxWindowBits 9.5', { serverMaxWindowBits: 9.5 }],
    ['serverMaxWindowBits NaN', { serverMaxWindowBits: Number.NaN }],
    ['clientMaxWindowBits 7', { clientMaxWindowBits: 7 }],
    ['clientMaxWindowBits 16', { clientMaxWindowBits: 16 }],
    ['clientMaxWindowBits false', { clientMaxWindowBits: false as unknown as true }],
    ['clientMaxWindowBits "10"', { clientMaxWindowBits: '10' as unknown as number }],
  ])('refuses %s', (_, opts) => {
    expect(() => buildDeflateOffer(opts)).toThrow(InvalidArgumentError);
    expect(() => acceptDeflateOffer([], opts)).toThrow(InvalidArgumentError);
    expect(() => acceptDeflateResponse({ name: PMD, params: [] }, opts)).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('acceptDeflateOffer', () => {
  // [what, client's header, server options, server's response header or null, agreement]
  it.each<[string, string, PerMessageDeflateOptions, string | null, Partial<DeflateAgreement>]>([
    ['a bare offer, no options', PMD, {}, PMD, {}],
    [
      'a bare offer, all options',
      PMD,
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 10,
      },
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10`,
      { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
    ],
    // server_no_context_takeover (§7.1.1.1): always honoured, and echoed.
    [
      'server_no_context_takeover requested',
      `${PMD}; server_no_context_takeover`,
      {},
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
    ],
    [
      'server_no_context_takeover imposed',
      PMD,
      { serverNoContextTakeover: true },
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
    ],
    [
      'server_no_context_takeover both',
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
    ],
    [
      'server_no_context_takeover requested, option false',
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: false },
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
    ],
    // client_no_context_takeover (§7.1.1.2): echoed when offered, imposed by option.
    [
      'client_no_context_takeover announced',
      `${PMD}; client_no_context_takeover`,
      {},
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
    ],
    [
      'client_no_context_takeover imposed',
      PMD,
      { clientNoContextTakeover: true },
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
    ],
    [
      'client_no_context_takeover both',
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
    ],
    // server_max_window_bits (§7.1.2.1): the smaller of both, never below 9.
    [
      'server window requested',
      `${PMD}; server_max_window_bits=10`,
      {},
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 10 },
    ],
    [
      'server window requested, quoted',
      `${PMD}; server_max_window_bits="10"`,
      {},
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 10 },
    ],
    [
      'server window requested 15',
      `${PMD}; server_max_window_bits=15`,
      {},
      `${PMD}; server_max_window_bits=15`,
      {},
    ],
    [
      'server window requested 9',
      `${PMD}; server_max_window_bits=9`,
      {},
      `${PMD}; server_max_window_bits=9`,
      { serverMaxWindowBits: 9 },
    ],
    [
      'server window requested, smaller option',
      `${PMD}; server_max_window_bits=12`,
      { serverMaxWindowBits: 10 },
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 10 },
    ],
    [
      'server window requested, larger option',
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 12 },
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 10 },
    ],
    [
      'server window option only',
      PMD,
      { serverMaxWindowBits: 11 },
      `${PMD}; server_max_window_bits=11`,
      { serverMaxWindowBits: 11 },
    ],
    [
      'server window option 8 is raised to 9',
      PMD,
      { serverMaxWindowBits: 8 },
      `${PMD}; server_max_window_bits=9`,
      { serverMaxWindowBits: 9 },
    ],
    [
      'server window option 8, request 12',
      `${PMD}; server_max_window_bits=12`,
      { serverMaxWindowBits: 8 },
      `${PMD}; server_max_window_bits=9`,
      { serverMaxWindowBits: 9 },
    ],
    ['server window 8 demanded: declined', `${PMD}; server_max_window_bits=8`, {}, null, {}],
    [
      'server window 8 demanded, option 8: declined',
      `${PMD}; server_max_window_bits=8`,
      { serverMaxWindowBits: 8 },
      null,
      {},
    ],
    // client_max_window_bits (§7.1.2.2): answered only if offered, never above the offer.
    ['client window offered bare, no option', `${PMD}; client_max_window_bits`, {}, PMD, {}],
    [
      'client window offered bare, option',
      `${PMD}; client_max_window_bits`,
      { clientMaxWindowBits: 10 },
      `${PMD}; client_max_window_bits=10`,
      { clientMaxWindowBits: 10 },
    ],
    [
      'client window offered bare, option 8',
      `${PMD}; client_max_window_bits`,
      { clientMaxWindowBits: 8 },
      `${PMD}; client_max_window_bits=8`,
      { clientMaxWindowBits: 8 },
    ],
    [
      'client window offered bare, option true',
      `${PMD}; client_max_window_bits`,
      { clientMaxWindowBits: true },
      PMD,
      {},
    ],
    [
      'client window offered 12, no option',
      `${PMD}; client_max_window_bits=12`,
      {},
      `${PMD}; client_max_window_bits=12`,
      { clientMaxWindowBits: 12 },
    ],
    [
      'client window offered 12, option 10',
      `${PMD}; client_max_window_bits=12`,
      { clientMaxWindowBits: 10 },
      `${PMD}; client_max_window_bits=10`,
      { clientMaxWindowBits: 10 },
    ],
    [
      'client window offered 10, option 12',
      `${PMD}; client_max_window_bits=10`,
      { clientMaxWindowBits: 12 },
      `${PMD}; client_max_window_bits=10`,
      { clientMaxWindowBits: 10 },
    ],
    [
      'client window offered 8',
      `${PMD}; client_max_window_bits=8`,
      {},
      `${PMD}; client_max_window_bits=8`,
      { clientMaxWindowBits: 8 },
    ],
    ['client window not offered, option: not answered', PMD, { clientMaxWindowBits: 10 }, PMD, {}],
    // Everything at once.
    [
      'everything',
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=11`,
      { serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9`,
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      },
    ],
    // Invalid offers are declined (§7.1), never an error.
    ['server window 7', `${PMD}; server_max_window_bits=7`, {}, null, {}],
    ['server window 16', `${PMD}; server_max_window_bits=16`, {}, null, {}],
    ['server window 08', `${PMD}; server_max_window_bits=08`, {}, null, {}],
    ['server window "08"', `${PMD}; server_max_window_bits="08"`, {}, null, {}],
    ['server window abc', `${PMD}; server_max_window_bits=abc`, {}, null, {}],
    ['server window +9', `${PMD}; server_max_window_bits=+9`, {}, null, {}],
    ['server window 9.0', `${PMD}; server_max_window_bits=9.0`, {}, null, {}],
    ['server window without value', `${PMD}; server_max_window_bits`, {}, null, {}],
    ['client window 7', `${PMD}; client_max_window_bits=7`, {}, null, {}],
    ['client window 16', `${PMD}; client_max_window_bits=16`, {}, null, {}],
    ['client window 08', `${PMD}; client_max_window_bits=08`, {}, null, {}],
    ['client window abc', `${PMD}; client_max_window_bits=abc`, {}, null, {}],
    ['a value on server_no_context_takeover', `${PMD}; server_no_context_takeover=1`, {}, null, {}],
    [
      'a value on client_no_context_takeover',
      `${PMD}; client_no_context_takeover=true`,
      {},
      null,
      {},
    ],
    [
      'repeated server_no_context_takeover',
      `${PMD}; server_no_context_takeover; server_no_context_takeover`,
      {},
      null,
      {},
    ],
    [
      'repeated client_no_context_takeover',
      `${PMD}; client_no_context_takeover; client_no_context_takeover`,
      {},
      null,
      {},
    ],
    [
      'repeated server window',
      `${PMD}; server_max_window_bits=10; server_max_window_bits=10`,
      {},
      null,
      {},
    ],
    [
      'repeated client window',
      `${PMD}; client_max_window_bits; client_max_window_bits=10`,
      {},
      null,
      {},
    ],
    ['an unknown parameter', `${PMD}; mux`, {}, null, {}],
    ['a parameter in upper case', `${PMD}; Server_No_Context_Takeover`, {}, null, {}],
    // Several offers, in the client's order of preference.
    [
      'the first acceptable offer',
      `${PMD}; server_max_window_bits=10, ${PMD}`,
      {},
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 10 },
    ],
    [
      'an invalid first offer skipped',
      `${PMD}; server_max_window_bits=7, ${PMD}; client_max_window_bits`,
      { clientMaxWindowBits: 11 },
      `${PMD}; client_max_window_bits=11`,
      { clientMaxWindowBits: 11 },
    ],
    [
      'an 8-bit demand skipped',
      `${PMD}; server_max_window_bits=8, ${PMD}; server_max_window_bits=9`,
      {},
      `${PMD}; server_max_window_bits=9`,
      { serverMaxWindowBits: 9 },
    ],
    [
      'other extensions skipped',
      `x-webkit-deflate-frame, ${PMD}; client_no_context_takeover`,
      {},
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
    ],
    ['another name case skipped', 'Permessage-Deflate', {}, null, {}],
    ['nothing acceptable', `${PMD}; x, ${PMD}; server_max_window_bits=8, foo`, {}, null, {}],
    ['no offers', '', {}, null, {}],
  ])('%s', (_, header, opts, response, expected) => {
    const answer = header === '' ? acceptDeflateOffer([], opts) : serverAnswer(header, opts);
    if (response === null) {
      expect(answer).toBeNull();
      return;
    }
    expect(answer).toEqual({ response, agreement: agreement(expected) });
  });
});

describe('acceptDeflateResponse', () => {
  // [what, client's options, server's response header, agreement]
  it.each<[string, PerMessageDeflateOptions, string, Partial<DeflateAgreement>]>([
    ['a bare answer', {}, PMD, {}],
    [
      'server_no_context_takeover requested and echoed',
      { serverNoContextTakeover: true },
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
    ],
    [
      'server_no_context_takeover added by the server',
      {},
      `${PMD}; server_no_context_takeover`,
      { serverNoContextTakeover: true },
    ],
    [
      'client_no_context_takeover announced, not echoed',
      { clientNoContextTakeover: true },
      PMD,
      { clientNoContextTakeover: true },
    ],
    [
      'client_no_context_takeover announced and echoed',
      { clientNoContextTakeover: true },
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
    ],
    [
      'client_no_context_takeover imposed by the server',
      {},
      `${PMD}; client_no_context_takeover`,
      { clientNoContextTakeover: true },
    ],
    [
      'server window added by the server',
      {},
      `${PMD}; server_max_window_bits=11`,
      { serverMaxWindowBits: 11 },
    ],
    [
      'server window 8 added by the server',
      {},
      `${PMD}; server_max_window_bits=8`,
      { serverMaxWindowBits: 8 },
    ],
    [
      'server window as requested',
      { serverMaxWindowBits: 10 },
      `${PMD}; server_max_window_bits=10`,
      { serverMaxWindowBits: 10 },
    ],
    [
      'server window below the request',
      { serverMaxWindowBits: 10 },
      `${PMD}; server_max_window_bits=9`,
      { serverMaxWindowBits: 9 },
    ],
    ['client window offered bare, not answered', { clientMaxWindowBits: true }, PMD, {}],
    [
      'client window offered bare, answered',
      { clientMaxWindowBits: true },
      `${PMD}; client_max_window_bits=10`,
      { clientMaxWindowBits: 10 },
    ],
    [
      'client window offered bare, answered 8',
      { clientMaxWindowBits: true },
      `${PMD}; client_max_window_bits=8`,
      { clientMaxWindowBits: 8 },
    ],
    [
      'client window offered 12, not answered',
      { clientMaxWindowBits: 12 },
      PMD,
      { clientMaxWindowBits: 12 },
    ],
    [
      'client window offered 12, answered 12',
      { clientMaxWindowBits: 12 },
      `${PMD}; client_max_window_bits=12`,
      { clientMaxWindowBits: 12 },
    ],
    [
      'client window offered 12, answered 9',
      { clientMaxWindowBits: 12 },
      `${PMD}; client_max_window_bits=9`,
      { clientMaxWindowBits: 9 },
    ],
    [
      'a quoted value',
      { serverMaxWindowBits: 12 },
      `${PMD}; server_max_window_bits="12"`,
      { serverMaxWindowBits: 12 },
    ],
    [
      'everything',
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: true,
      },
      `${PMD}; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9`,
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      },
    ],
  ])('accepts %s', (_, offered, header, expected) => {
    expect(clientAnswer(header, offered)).toEqual(agreement(expected));
  });

  it.each<[string, PerMessageDeflateOptions, string, string]>([
    ['another extension', {}, 'x-webkit-deflate-frame', 'is not permessage-deflate'],
    ['an unknown parameter', {}, `${PMD}; mux`, 'unknown parameter "mux"'],
    ['an upper-case parameter', {}, `${PMD}; Server_No_Context_Takeover`, 'unknown parameter'],
    [
      'a repeated parameter',
      {},
      `${PMD}; server_no_context_takeover; server_no_context_takeover`,
      'repeated parameter',
    ],
    [
      'a repeated window',
      {},
      `${PMD}; server_max_window_bits=9; server_max_window_bits=9`,
      'repeated parameter',
    ],
    [
      'a value on server_no_context_takeover',
      {},
      `${PMD}; server_no_context_takeover=1`,
      'must have no value',
    ],
    [
      'a value on client_no_context_takeover',
      {},
      `${PMD}; client_no_context_takeover=1`,
      'must have no value',
    ],
    [
      'server window 7',
      {},
      `${PMD}; server_max_window_bits=7`,
      'invalid server_max_window_bits value: "7"',
    ],
    ['server window 16', {}, `${PMD}; server_max_window_bits=16`, 'invalid server_max_window_bits'],
    ['server window 08', {}, `${PMD}; server_max_window_bits=08`, 'invalid server_max_window_bits'],
    [
      'server window abc',
      {},
      `${PMD}; server_max_window_bits=abc`,
      'invalid server_max_window_bits',
    ],
    [
      'server window without value',
      {},
      `${PMD}; server_max_window_bits`,
      'invalid server_max_window_bits value: null',
    ],
    [
      'client window without value',
      { clientMaxWindowBits: true },
      `${PMD}; client_max_window_bits`,
      'invalid client_max_window_bits value: null',
    ],
    [
      'client window 7',
      { clientMaxWindowBits: true },
      `${PMD}; client_max_window_bits=7`,
      'invalid client_max_window_bits',
    ],
    [
      'client window 16',
      { clientMaxWindowBits: true },
      `${PMD}; client_max_window_bits=16`,
      'invalid client_max_window_bits',
    ],
    [
      'server_no_context_takeover not echoed',
      { serverNoContextTakeover: true },
      PMD,
      'server_no_context_takeover was requested',
    ],
    [
      'server window requested, not answered',
      { serverMaxWindowBits: 10 },
      PMD,
      'server_max_window_bits was requested',
    ],
    [
      'server window above the request',
      { serverMaxWindowBits: 10 },
      `${PMD}; server_max_window_bits=11`,
      'exceeds the 10 requested',
    ],
    [
      'client window not offered',
      {},
      `${PMD}; client_max_window_bits=10`,
      'client_max_window_bits was not offered',
    ],
    [
      'client window above the offer',
      { clientMaxWindowBits: 10 },
      `${PMD}; client_max_window_bits=11`,
      'exceeds the 10 offered',
    ],
  ])('fails on %s', (_, offered, header, message) => {
    let caught: unknown;
    try {
      clientAnswer(header, offered);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HandshakeError);
    expect(caught).toMatchObject({ status: 101, code: ErrorCode.Handshake });
    expect((caught as HandshakeError).message).toContain(message);
  });
});

/** Every value each option takes in the cross product below. */
const clientSpace = {
  serverNoContextTakeover: [undefined, false, true],
  clientNoContextTakeover: [undefined, true],
  serverMaxWindowBits: [undefined, 8, 9, 12, 15],
  clientMaxWindowBits: [undefined, true, 8, 10, 15],
} as const;

const serverSpace = {
  serverNoContextTakeover: [undefined, true],
  clientNoContextTakeover: [undefined, true],
  serverMaxWindowBits: [undefined, 8, 9, 12, 15],
  clientMaxWindowBits: [undefined, true, 8, 10, 15],
} as const;

function combinations(
  space: {
    readonly [K in keyof PerMessageDeflateOptions]-?: readonly PerMessageDeflateOptions[K][];
  },
): PerMessageDeflateOptions[] {
  const out: PerMessageDeflateOptions[] = [];
  for (const snct of space.serverNoContextTakeover)
    for (const cnct of space.clientNoContextTakeover)
      for (const smwb of space.serverMaxWindowBits)
        for (const cmwb of space.clientMaxWindowBits)
          out.push({
            serverNoContextTakeover: snct,
            clientNoContextTakeover: cnct,
            serverMaxWindowBits: smwb,
            clientMaxWindowBits: cmwb,
          });
  return out;
}

/** A number for a window option, `true` and absent read as no limit. */
const limit = (bits: number | true | undefined): number => (typeof bits === 'number' ? bits : 15);

describe('negotiation, every client offer against every server option', () => {
  const servers = combinations(serverSpace);

  it.each(combinations(clientSpace).map((c) => [JSON.stringify(c), c] as const))(
    'client %s',
    (_, client) => {
      // The offer goes over the wire and back, as in a real handshake.
      const offers = parseExtensionHeader(formatExtensionHeader([buildDeflateOffer(client)]));
      for (const server of servers) {
        const answer = acceptDeflateOffer(offers, server);
        if (client.serverMaxWindowBits === 8) {
          expect(answer, JSON.stringify(server)).toBeNull();
          continue;
        }
        expect(answer, JSON.stringify(server)).not.toBeNull();
        if (answer === null) continue;
        const a = answer.agreement;
        const [response] = parseExtensionHeader(formatExtensionHeader([answer.response]));
        // Both ends must reach the same agreement.
        expect(acceptDeflateResponse(response!, client), JSON.stringify(server)).toEqual(a);
        // Each side's wishes hold.
        expect(a.serverNoContextTakeover).toBe(
          client.serverNoContextTakeover === true || server.serverNoContextTakeover === true,
        );
        expect(a.clientNoContextTakeover).toBe(
          client.clientNoContextTakeover === true || server.clientNoContextTakeover === true,
        );
        expect(a.serverMaxWindowBits).toBe(
          Math.min(
            limit(client.serverMaxWindowBits),
            Math.max(limit(server.serverMaxWindowBits), 9),
          ),
        );
        expect(a.serverMaxWindowBits).toBeGreaterThanOrEqual(9);
        const serverWish =
          client.clientMaxWindowBits === undefined ? 15 : limit(server.clientMaxWindowBits);
        expect(a.clientMaxWindowBits).toBe(Math.min(limit(client.clientMaxWindowBits), serverWish));
      }
    },
  );
});
