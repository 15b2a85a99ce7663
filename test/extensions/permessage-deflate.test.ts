import { createHook } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Extension, MessageCodec } from '../../lib/extensions/extension.js';
import {
  PerMessageDeflate,
  type PerMessageDeflateConfig,
  resolvePerMessageDeflate,
} from '../../lib/extensions/permessage-deflate.js';
import { sharedZlibLimiter } from '../../lib/extensions/zlib-limiter.js';
import {
  ConnectionClosedError,
  ErrorCode,
  HandshakeError,
  InvalidArgumentError,
  ProtocolError,
} from '../../lib/protocol/errors.js';
import type { ExtensionOffer } from '../../lib/protocol/header-parser.js';
import { Rsv } from '../../lib/protocol/opcodes.js';
import { baseSeed, mulberry32 } from '../helpers/chunking.js';

// ---------------------------------------------------------------------------------------
// Helpers

const MiB = 1024 * 1024;
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const NO_LIMIT = { maxMessageSize: Number.POSITIVE_INFINITY };

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Collects garbage a few times, letting weak callbacks (zlib handles' destroy hooks) run. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Negotiates both ends with our own factories, as a handshake would. */
function pair(
  serverConfig: PerMessageDeflateConfig,
  clientConfig: PerMessageDeflateConfig = { clientMaxWindowBits: true },
): { server: Extension; client: Extension; answer: ExtensionOffer } {
  const clientSide = new PerMessageDeflate(clientConfig, 'client');
  const chosen = new PerMessageDeflate(serverConfig, 'server').negotiate(clientSide.offer());
  if (chosen === null) throw new Error('the server declined');
  return {
    server: chosen.extension,
    client: clientSide.accept(chosen.answer),
    answer: chosen.answer,
  };
}

/** Runs a codec over pieces as the connection would; gives each piece's output, joined. */
function runCodec(
  codec: MessageCodec,
  pieces: readonly Buffer[],
  onChunk?: (chunk: Buffer) => void,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let i = 0;
    const step = (): void => {
      if (i === pieces.length) {
        resolve(out);
        return;
      }
      const piece = pieces[i]!;
      const last = ++i === pieces.length;
      const parts: Buffer[] = [];
      let calls = 0;
      codec.transform(
        piece,
        last,
        (chunk) => {
          onChunk?.(chunk);
          parts.push(chunk);
        },
        (err) => {
          if (++calls > 1) return reject(new Error('done called twice'));
          if (err) return reject(err);
          out.push(Buffer.concat(parts));
          step();
        },
      );
    };
    step();
  });
}

/** Compresses one message given as pieces; gives one compressed payload per piece (frame). */
function compress(ext: Extension, pieces: readonly Buffer[]): Promise<Buffer[]> {
  const codec = ext.outgoing({ binary: true, length: undefined, compress: true });
  if (codec === undefined) throw new Error('no codec');
  return runCodec(codec, pieces);
}

/** Decompresses one message given as its frames' payloads. */
async function decompress(
  ext: Extension,
  frames: readonly Buffer[],
  maxMessageSize = Number.POSITIVE_INFINITY,
): Promise<Buffer> {
  const codec = ext.incoming(Rsv.Rsv1, { maxMessageSize });
  if (codec === undefined) throw new Error('no codec');
  return Buffer.concat(await runCodec(codec, frames));
}

/** Cuts a buffer into 1..maxPieces pieces at random points (empty pieces included). */
function split(data: Buffer, random: () => number, maxPieces = 8): Buffer[] {
  const count = 1 + Math.floor(random() * maxPieces);
  const cuts = Array.from({ length: count - 1 }, () => Math.floor(random() * (data.length + 1)));
  cuts.sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    pieces.push(data.subarray(from, cut));
    from = cut;
  }
  pieces.push(data.subarray(from));
  return pieces;
}

/** Makes JSON-like text of about `size` bytes, repetitive as real messages are. */
function jsonText(size: number, random: () => number): Buffer {
  const rows: string[] = [];
  let length = 0;
  for (let id = 0; length < size; id++) {
    const row = JSON.stringify({
      id,
      user: `user${Math.floor(random() * 1000)}`,
      active: random() > 0.5,
      score: Math.round(random() * 1e6) / 100,
      tags: ['alpha', 'beta', 'gamma'].filter(() => random() > 0.4),
    });
    rows.push(row);
    length += row.length + 1;
  }
  return Buffer.from(`[${rows.join(',')}]`).subarray(0, size);
}

/**
 * Counts live zlib handles (async resources of type ZLIB, created and not yet destroyed)
 * and their callbacks: zlib calls back once per chunk of output it made on the thread pool.
 */
class ZlibHandleCounter {
  readonly #live = new Set<number>();
  readonly #hook = createHook({
    init: (id, type) => {
      if (type === 'ZLIB') this.#live.add(id);
    },
    before: (id) => {
      if (this.#live.has(id)) this.callbacks++;
    },
    destroy: (id) => {
      this.#live.delete(id);
    },
  });
  callbacks = 0;

  enable(): this {
    this.#hook.enable();
    return this;
  }

  disable(): void {
    this.#hook.disable();
  }

  get live(): number {
    return this.#live.size;
  }
}

// ws's permessage-deflate, reached through the package directory (its exports hide lib/).
interface WsPerMessageDeflate {
  offer(): Record<string, number | true>;
  accept(configurations: Record<string, (string | true)[]>[]): Record<string, number | true>;
  compress(data: Buffer, fin: boolean, cb: (err: Error | null, result?: Buffer) => void): void;
  decompress(data: Buffer, fin: boolean, cb: (err: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}
type WsPerMessageDeflateConstructor = new (options: {
  isServer: boolean;
  maxPayload?: number;
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number | true;
}) => WsPerMessageDeflate;

const require = createRequire(import.meta.url);
const WsPerMessageDeflate = require(
  join(dirname(require.resolve('ws')), 'lib', 'permessage-deflate.js'),
) as WsPerMessageDeflateConstructor;

function toWs(offer: ExtensionOffer): Record<string, (string | true)[]> {
  return Object.fromEntries(offer.params.map((p) => [p.name, [p.value ?? true]]));
}

function fromWs(params: Record<string, number | true>): ExtensionOffer {
  return {
    name: 'permessage-deflate',
    params: Object.entries(params).map(([name, value]) => ({
      name,
      value: value === true ? null : String(value),
    })),
  };
}

/** Runs ws's compress or decompress over pieces; gives one output per piece. */
async function wsRun(
  fn: (data: Buffer, fin: boolean, cb: (err: Error | null, result?: Buffer) => void) => void,
  pieces: readonly Buffer[],
): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < pieces.length; i++) {
    out.push(
      await new Promise<Buffer>((resolve, reject) =>
        fn(pieces[i]!, i === pieces.length - 1, (err, result) =>
          err ? reject(err) : resolve(result ?? Buffer.alloc(0)),
        ),
      ),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------

describe('PerMessageDeflate (the factory)', () => {
  it('offers, as a client, exactly what buildDeflateOffer gives', () => {
    const factory = new PerMessageDeflate(
      { serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: true },
      'client',
    );
    expect(factory.name).toBe('permessage-deflate');
    expect(factory.offer()).toEqual([
      {
        name: 'permessage-deflate',
        params: [
          { name: 'server_no_context_takeover', value: null },
          { name: 'server_max_window_bits', value: '10' },
          { name: 'client_max_window_bits', value: null },
        ],
      },
    ]);
    // A fresh copy each time: a caller that edits it changes nothing for the next handshake.
    factory.offer()[0]!.params.length = 0;
    expect(factory.offer()[0]!.params).toHaveLength(3);
  });

  it('negotiates on the server and builds an extension that carries the answer', () => {
    const server = new PerMessageDeflate({ serverMaxWindowBits: 11 }, 'server');
    const chosen = server.negotiate([
      { name: 'x-other', params: [] },
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] },
    ]);
    expect(chosen).not.toBeNull();
    expect(chosen!.answer).toEqual({
      name: 'permessage-deflate',
      params: [{ name: 'server_max_window_bits', value: '11' }],
    });
    expect(chosen!.extension.name).toBe('permessage-deflate');
    expect(chosen!.extension.rsv).toBe(Rsv.Rsv1);
    expect(chosen!.extension.agreed).toEqual(chosen!.answer);
    chosen!.extension.dispose();
  });

  it('declines on the server when no offer is acceptable', () => {
    const server = new PerMessageDeflate({}, 'server');
    expect(server.negotiate([])).toBeNull();
    expect(
      server.negotiate([{ name: 'permessage-deflate', params: [{ name: 'x', value: null }] }]),
    ).toBeNull();
  });

  it('accepts a good answer on the client and throws HandshakeError on a bad one', () => {
    const client = new PerMessageDeflate({ clientMaxWindowBits: true }, 'client');
    const answer = {
      name: 'permessage-deflate',
      params: [{ name: 'client_max_window_bits', value: '12' }],
    };
    const ext = client.accept(answer);
    expect(ext.agreed).toEqual(answer);
    ext.dispose();
    expect(() =>
      client.accept({ name: 'permessage-deflate', params: [{ name: 'bogus', value: null }] }),
    ).toThrow(HandshakeError);
  });

  it("refuses the other side's methods", () => {
    const server = new PerMessageDeflate({}, 'server');
    const client = new PerMessageDeflate({}, 'client');
    expect(() => server.offer()).toThrow(InvalidArgumentError);
    expect(() => server.accept({ name: 'permessage-deflate', params: [] })).toThrow(
      InvalidArgumentError,
    );
    expect(() => client.negotiate([])).toThrow(InvalidArgumentError);
  });

  it('refuses bad configuration when constructed', () => {
    const bad: PerMessageDeflateConfig[] = [
      { threshold: -1 },
      { threshold: Number.NaN },
      { level: 10 },
      { level: 1.5 },
      { memLevel: 0 },
      { memLevel: 10 },
      { concurrencyLimit: 0 },
      { serverMaxWindowBits: 16 },
      { clientMaxWindowBits: 7 },
    ];
    for (const config of bad) {
      expect(() => new PerMessageDeflate(config, 'server'), JSON.stringify(config)).toThrow(
        InvalidArgumentError,
      );
    }
    expect(() => new PerMessageDeflate({}, 'peer' as 'server')).toThrow(InvalidArgumentError);
  });

  it('resolves the perMessageDeflate option of a server or client', () => {
    expect(resolvePerMessageDeflate(false, 'client', true)).toBeUndefined();
    expect(resolvePerMessageDeflate(undefined, 'server', false)).toBeUndefined();
    const server = resolvePerMessageDeflate(true, 'server', false);
    expect(server).toBeInstanceOf(PerMessageDeflate);
    expect(server!.role).toBe('server');
    const client = resolvePerMessageDeflate(undefined, 'client', true);
    expect(client!.role).toBe('client');
    // The client's default offers client_max_window_bits, as browsers do.
    expect(client!.offer()).toEqual([
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] },
    ]);
    const configured = resolvePerMessageDeflate({ serverNoContextTakeover: true }, 'client', true);
    expect(configured!.offer()[0]!.params).toEqual([
      { name: 'server_no_context_takeover', value: null },
    ]);
  });
});

describe('DeflateExtension: which messages get a codec', () => {
  const { server, client } = pair({ threshold: 100 });
  afterAll(() => {
    server.dispose();
    client.dispose();
  });

  it('compresses messages of a known length from the threshold on, and every stream', () => {
    const info = { binary: false, compress: true };
    expect(server.outgoing({ ...info, length: 99 })).toBeUndefined();
    expect(server.outgoing({ ...info, length: 100 })).toBeDefined();
    expect(server.outgoing({ ...info, length: undefined })).toBeDefined();
    expect(server.outgoing({ ...info, length: 10_000, compress: false })).toBeUndefined();
    expect(server.outgoing({ ...info, length: undefined, compress: false })).toBeUndefined();
  });

  it('defaults the threshold to 1024 and compresses everything at threshold 0', () => {
    const defaults = pair({});
    const info = { binary: true, compress: true };
    expect(defaults.server.outgoing({ ...info, length: 1023 })).toBeUndefined();
    expect(defaults.server.outgoing({ ...info, length: 1024 })).toBeDefined();
    const zero = pair({ threshold: 0 });
    expect(zero.server.outgoing({ ...info, length: 0 })).toBeDefined();
    for (const ext of [defaults.server, defaults.client, zero.server, zero.client]) ext.dispose();
  });

  it('decompresses only messages whose first frame has RSV1', () => {
    expect(client.incoming(0, NO_LIMIT)).toBeUndefined();
    expect(client.incoming(Rsv.Rsv2 | Rsv.Rsv3, NO_LIMIT)).toBeUndefined();
    expect(client.incoming(Rsv.Rsv1, NO_LIMIT)).toBeDefined();
    expect(client.incoming(Rsv.Rsv1 | Rsv.Rsv2, NO_LIMIT)).toBeDefined();
  });
});

describe('DeflateExtension: RFC 7692 §7.2.3 examples', () => {
  const hex = (s: string): Buffer => Buffer.from(s.replaceAll(' ', ''), 'hex');

  it('compresses "Hello" as §7.2.3.1 and again, sharing the window, as §7.2.3.2', async () => {
    const { server, client } = pair({ threshold: 0 });
    const hello = Buffer.from('Hello');
    expect(await compress(server, [hello])).toEqual([hex('f2 48 cd c9 c9 07 00')]);
    expect(await compress(server, [hello])).toEqual([hex('f2 00 11 00 00')]);
    server.dispose();
    client.dispose();
  });

  it('decodes every example of §7.2.3, fragmented or not', async () => {
    const { client, server } = pair({});
    const cases: [string, Buffer[]][] = [
      ['7.2.3.1', [hex('f2 48 cd c9 c9 07 00')]],
      ['7.2.3.1 fragmented', [hex('f2 48 cd'), hex('c9 c9 07 00')]],
      ['7.2.3.2 (window shared with the previous)', [hex('f2 00 11 00 00')]],
      ['7.2.3.3 stored block', [hex('00 05 00 fa ff 48 65 6c 6c 6f 00')]],
      ['7.2.3.4 BFINAL', [hex('f3 48 cd c9 c9 07 00 00')]],
      ['7.2.3.5 two blocks', [hex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00')]],
      ['7.2.3.6 empty last fragment', [hex('f2 48 cd c9 c9 07 00 00 00 ff ff'), hex('00')]],
      ['after BFINAL: a fresh inflater', [hex('f2 48 cd c9 c9 07 00')]],
    ];
    for (const [label, frames] of cases) {
      expect((await decompress(client, frames)).toString(), label).toBe('Hello');
    }
    server.dispose();
    client.dispose();
  });

  it('ignores fragments after a final block, and starts the next message afresh', async () => {
    const { client, server } = pair({});
    const frames = [hex('f3 48 cd c9 c9 07 00'), hex('00'), Buffer.alloc(0), hex('1234')];
    expect((await decompress(client, frames)).toString()).toBe('Hello');
    expect((await decompress(client, [hex('f2 48 cd c9 c9 07 00')])).toString()).toBe('Hello');
    server.dispose();
    client.dispose();
  });
});

describe('DeflateExtension: round trips', () => {
  const windows = [8, 9, 10, 11, 12, 13, 14, 15];

  for (const bits of windows) {
    for (const takeover of [true, false]) {
      it(`window ${bits}, ${takeover ? 'context takeover' : 'no context takeover'}, both ways`, async () => {
        const seed = baseSeed();
        const random = mulberry32(seed);
        const { server, client, answer } = pair(
          {
            threshold: 0,
            serverMaxWindowBits: bits,
            clientMaxWindowBits: bits,
            serverNoContextTakeover: !takeover,
            clientNoContextTakeover: !takeover,
          },
          { clientMaxWindowBits: true },
        );
        // The server never compresses with 8 (zlib cannot); the client accepts 8 as agreed.
        const param = (name: string): string | null | undefined =>
          answer.params.find((p) => p.name === name)?.value;
        expect(param('server_max_window_bits')).toBe(String(Math.max(9, bits)));
        expect(param('client_max_window_bits')).toBe(String(bits));
        const small = jsonText(200, random);
        const messages = [
          jsonText(20_000, random),
          randomBytes(3000),
          Buffer.alloc(0),
          small,
          small,
        ];
        for (const [from, to] of [
          [server, client],
          [client, server],
        ] as const) {
          const sizes: number[] = [];
          for (const [i, message] of messages.entries()) {
            // The repeated message goes whole both times, to compare its two outputs.
            const pieces = i >= 3 ? [message] : split(message, mulberry32(seed + i));
            const frames = await compress(from, pieces);
            const label = `seed ${seed}, message ${i}`;
            expect(frames.at(-1)!.subarray(-4).equals(TRAILER), label).toBe(false);
            expect((await decompress(to, frames)).equals(message), label).toBe(true);
            sizes.push(Buffer.concat(frames).length);
          }
          // Without takeover the repeat costs as much as the first time (the deflater was
          // reset); with it, the repeat is a few back references into the window. Not
          // "equal": when zlib fills its output buffer exactly at a flush, it adds one more
          // empty stored block (5 bytes) on the next call; harmless, and ws does the same.
          if (takeover) expect(sizes[4]!).toBeLessThan(sizes[3]! / 4);
          else expect(Math.abs(sizes[4]! - sizes[3]!)).toBeLessThanOrEqual(5);
        }
        server.dispose();
        client.dispose();
      });
    }
  }

  it('compresses with the agreed window: a small one cannot reach a repeat far back', async () => {
    const unit = randomBytes(2000);
    const data = Buffer.concat(Array.from({ length: 20 }, () => unit));
    const sizes: Record<number, number> = {};
    for (const bits of [9, 15]) {
      const { server, client } = pair({ threshold: 0, serverMaxWindowBits: bits });
      const frames = await compress(server, [data]);
      expect((await decompress(client, frames)).equals(data)).toBe(true);
      sizes[bits] = Buffer.concat(frames).length;
      server.dispose();
      client.dispose();
    }
    expect(sizes[15]!).toBeLessThan(3000);
    expect(sizes[9]!).toBeGreaterThan(35_000);
  });

  it('sends an empty message as the single byte 00, first or later (§7.2.3.6)', async () => {
    const { server, client } = pair({ threshold: 0 });
    for (const message of ['', 'Hello', '', '']) {
      const frames = await compress(server, [Buffer.from(message)]);
      if (message === '') expect(frames).toEqual([Buffer.from([0x00])]);
      expect((await decompress(client, frames)).toString()).toBe(message);
    }
    // An empty last piece after data still ends the message properly.
    const frames = await compress(server, [Buffer.from('ab'), Buffer.alloc(0), Buffer.alloc(0)]);
    expect((await decompress(client, frames)).toString()).toBe('ab');
    server.dispose();
    client.dispose();
  });

  it('passes incompressible random data, with little overhead', async () => {
    const seed = baseSeed();
    const { server, client } = pair({ threshold: 0 });
    const data = randomBytes(256 * 1024);
    const frames = await compress(server, split(data, mulberry32(seed), 16));
    expect((await decompress(client, frames)).equals(data), `seed ${seed}`).toBe(true);
    expect(Buffer.concat(frames).length).toBeLessThan(data.length * 1.01);
    server.dispose();
    client.dispose();
  });

  it('passes 1 MiB of text whole and in 100 random pieces', async () => {
    const seed = baseSeed();
    const random = mulberry32(seed);
    const { server, client } = pair({});
    const text = jsonText(MiB, random);
    for (const pieces of [[text], split(text, random, 100)]) {
      const frames = await compress(client, pieces);
      expect(frames).toHaveLength(pieces.length);
      expect((await decompress(server, frames)).equals(text), `seed ${seed}`).toBe(true);
      expect(Buffer.concat(frames).length).toBeLessThan(text.length / 3);
    }
    server.dispose();
    client.dispose();
  });

  it('keeps messages in call order when a second starts before the first has ended', async () => {
    const { server, client } = pair({ threshold: 0 });
    const a = jsonText(50_000, mulberry32(1));
    const b = jsonText(50_000, mulberry32(2));
    const [framesA, framesB] = await Promise.all([compress(server, [a]), compress(server, [b])]);
    expect((await decompress(client, framesA!)).equals(a)).toBe(true);
    expect((await decompress(client, framesB!)).equals(b)).toBe(true);
    server.dispose();
    client.dispose();
  });
});

describe('DeflateExtension: interop with ws PerMessageDeflate', () => {
  const cases = [8, 9, 12, 15].flatMap((bits) => [
    { bits, noTakeover: false },
    { bits, noTakeover: true },
  ]);

  /** Sends messages both ways between one of ours and one of ws's, in random fragments. */
  async function exchange(
    ours: Extension,
    theirs: WsPerMessageDeflate,
    seed: number,
  ): Promise<void> {
    const random = mulberry32(seed);
    const messages = [
      jsonText(30_000, random),
      randomBytes(5000),
      Buffer.alloc(0),
      jsonText(500, random),
    ];
    for (const [i, message] of [...messages, ...messages].entries()) {
      const label = `seed ${seed}, message ${i}`;
      const pieces = split(message, random);
      const wsFrames = await wsRun(theirs.compress.bind(theirs), pieces);
      expect((await decompress(ours, wsFrames)).equals(message), `ws -> ours, ${label}`).toBe(true);
      const ourFrames = await compress(ours, pieces);
      const back = Buffer.concat(await wsRun(theirs.decompress.bind(theirs), ourFrames));
      expect(back.equals(message), `ours -> ws, ${label}`).toBe(true);
    }
  }

  for (const { bits, noTakeover } of cases) {
    const mode = noTakeover ? 'no context takeover' : 'context takeover';

    it(`our client with a ws server, window ${bits}, ${mode}`, async () => {
      const ourSide = new PerMessageDeflate({ clientMaxWindowBits: true }, 'client');
      const wsServer = new WsPerMessageDeflate({
        isServer: true,
        serverMaxWindowBits: bits,
        clientMaxWindowBits: bits,
        serverNoContextTakeover: noTakeover,
        clientNoContextTakeover: noTakeover,
      });
      const answer = fromWs(wsServer.accept(ourSide.offer().map(toWs)));
      const ours = ourSide.accept(answer);
      await exchange(ours, wsServer, baseSeed());
      ours.dispose();
      wsServer.cleanup();
    });

    it(`our server with a ws client, window ${bits}, ${mode}`, async () => {
      const wsClient = new WsPerMessageDeflate({
        isServer: false,
        serverNoContextTakeover: noTakeover,
        clientNoContextTakeover: noTakeover,
      });
      const ourSide = new PerMessageDeflate(
        {
          serverMaxWindowBits: bits,
          clientMaxWindowBits: bits,
          serverNoContextTakeover: noTakeover,
          clientNoContextTakeover: noTakeover,
          threshold: 0,
        },
        'server',
      );
      const chosen = ourSide.negotiate([fromWs(wsClient.offer())]);
      expect(chosen).not.toBeNull();
      wsClient.accept([toWs(chosen!.answer)]);
      await exchange(chosen!.extension, wsClient, baseSeed());
      chosen!.extension.dispose();
      wsClient.cleanup();
    });
  }
});

describe('DeflateExtension: failures', () => {
  it('fails corrupt data with 1002 ERR_WS_EXTENSION_FAILED, and every later message', async () => {
    const { server, client } = pair({});
    const err = await decompress(client, [Buffer.from([0xff, 0xff, 0xff, 0xff])]).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: ErrorCode.ExtensionFailed, closeCode: 1002 });
    expect((err as Error).message).toMatch(/^Invalid compressed data: /);
    // The history is lost: a later message cannot be decoded and is not tried.
    const later = await decompress(client, [Buffer.from('f248cdc9c90700', 'hex')]).catch(
      (e: unknown) => e,
    );
    expect(later).toBe(err);
    server.dispose();
    client.dispose();
  });

  it('fails a corrupt later fragment after good output was handed out', async () => {
    const { server, client } = pair({ threshold: 0 });
    const frames = await compress(server, [jsonText(100_000, mulberry32(5))]);
    const codec = client.incoming(Rsv.Rsv1, NO_LIMIT)!;
    const good = frames[0]!.subarray(0, 1000);
    const bad = Buffer.alloc(1000, 0xff);
    const err = await runCodec(codec, [good, bad]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.ExtensionFailed, closeCode: 1002 });
    server.dispose();
    client.dispose();
  });
});

describe('DeflateExtension: inflation bomb', () => {
  // 1 MiB of zeros deflates to about 1 KiB, ending with a sync flush and referring to
  // nothing before it: so 1024 copies in a row are a valid stream that inflates to 1 GiB.
  const unit = zlib.deflateRawSync(Buffer.alloc(MiB), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const bomb = Buffer.concat(Array.from({ length: 1024 }, () => unit)).subarray(0, -4);

  it('uses a bomb of ~1 MiB that inflates to 1 GiB', () => {
    expect(unit.length).toBeLessThan(1100);
    expect(unit.subarray(-4).equals(TRAILER)).toBe(true);
    expect(bomb.length).toBeLessThan(1.1 * MiB);
  });

  it('refuses a 1 GiB single-frame bomb at 1 MiB, in little time and memory', async () => {
    const { server, client } = pair({});
    const zlibCalls = new ZlibHandleCounter().enable();
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakArrayBuffers = before.arrayBuffers;
    let handedOut = 0;
    const started = performance.now();
    const err = await runCodec(
      client.incoming(Rsv.Rsv1, { maxMessageSize: MiB })!,
      [bomb],
      (chunk) => {
        handedOut += chunk.length;
        const now = process.memoryUsage();
        peakRss = Math.max(peakRss, now.rss);
        peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers);
      },
    ).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    const callbacksAtRefusal = zlibCalls.callbacks;
    // zlib must have stopped, not inflate the rest of the gigabyte unseen in the background.
    await new Promise((resolve) => setTimeout(resolve, 200));
    zlibCalls.disable();
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: ErrorCode.MessageTooLarge, closeCode: 1009 });
    expect(handedOut).toBeLessThanOrEqual(MiB);
    // 1 MiB is 64 chunks of 16 KiB; the whole bomb would be 65,536.
    expect(callbacksAtRefusal).toBeLessThan(100);
    expect(zlibCalls.callbacks - callbacksAtRefusal).toBeLessThanOrEqual(1);
    const extraRss = (Math.max(peakRss, process.memoryUsage().rss) - before.rss) / MiB;
    const extraBuffers = (peakArrayBuffers - before.arrayBuffers) / MiB;
    console.log(
      `bomb, 1 frame: refused after ${elapsed.toFixed(1)} ms and ${callbacksAtRefusal} zlib` +
        ` chunks (${zlibCalls.callbacks} after 200 ms), ${handedOut} bytes handed out,` +
        ` peak extra RSS ${extraRss.toFixed(1)} MiB, array buffers ${extraBuffers.toFixed(1)} MiB`,
    );
    expect(elapsed).toBeLessThan(1000);
    expect(extraRss).toBeLessThan(64);
    expect(extraBuffers).toBeLessThan(8);
    server.dispose();
    client.dispose();
  });

  it('refuses a bomb sent as 1024 fragments of ~1 KiB at the second fragment', async () => {
    const { server, client } = pair({});
    const frames = Array.from({ length: 1024 }, (_, i) =>
      i === 1023 ? unit.subarray(0, -4) : unit,
    );
    let pieces = 0;
    const codec = client.incoming(Rsv.Rsv1, { maxMessageSize: MiB })!;
    const counting: MessageCodec = {
      transform(piece, last, output, done) {
        pieces++;
        codec.transform(piece, last, output, done);
      },
    };
    const started = performance.now();
    const err = await runCodec(counting, frames).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    console.log(
      `bomb, 1024 fragments: refused at fragment ${pieces} after ${elapsed.toFixed(1)} ms`,
    );
    expect(err).toMatchObject({ code: ErrorCode.MessageTooLarge, closeCode: 1009 });
    // The first fragment inflates to exactly 1 MiB, allowed; the second crosses the limit.
    expect(pieces).toBe(2);
    server.dispose();
    client.dispose();
  });

  it('passes a message of exactly maxMessageSize', async () => {
    const { server, client } = pair({});
    const out = await decompress(client, [unit.subarray(0, -4)], MiB);
    expect(out.length).toBe(MiB);
    server.dispose();
    client.dispose();
  });
});

describe('DeflateExtension: zlib contexts and dispose', () => {
  const handles = new ZlibHandleCounter();
  beforeAll(() => {
    handles.enable();
  });
  afterAll(() => handles.disable());

  it('creates zlib contexts lazily, one per direction used, and frees them on dispose', async () => {
    await collect();
    const base = handles.live;
    const { server, client } = pair({ threshold: 0 });
    expect(handles.live).toBe(base);
    const frames = await compress(server, [Buffer.from('Hello')]);
    expect(handles.live).toBe(base + 1);
    await decompress(client, frames);
    expect(handles.live).toBe(base + 2);
    server.dispose();
    client.dispose();
    server.dispose();
    client.dispose();
    await collect();
    expect(handles.live).toBe(base);
  });

  it('ends a compression in flight with ConnectionClosedError, once, and ignores zlib after', async () => {
    const { server, client } = pair({ threshold: 0 });
    const codec = server.outgoing({ binary: true, length: undefined, compress: true })!;
    const results: (Error | null | undefined)[] = [];
    let outputAfterDispose = 0;
    let disposed = false;
    codec.transform(
      randomBytes(8 * MiB),
      true,
      () => {
        if (disposed) outputAfterDispose++;
      },
      (err) => results.push(err),
    );
    server.dispose();
    disposed = true;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(results).toHaveLength(1);
    expect(results[0]).toBeInstanceOf(ConnectionClosedError);
    expect(outputAfterDispose).toBe(0);
    // Later use fails the same way, at once, and dispose stays safe.
    const later = await compress(server, [Buffer.from('x')]).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(ConnectionClosedError);
    server.dispose();
    client.dispose();
  });

  it('ends a decompression in flight on dispose, and a queued piece too', async () => {
    const { server, client } = pair({ threshold: 0 });
    const frames = await compress(server, [jsonText(4 * MiB, mulberry32(9))]);
    const codec = client.incoming(Rsv.Rsv1, NO_LIMIT)!;
    const results: (Error | null | undefined)[] = [];
    codec.transform(
      frames[0]!,
      true,
      () => {},
      (err) => results.push(err),
    );
    // A second message queued behind the first on the same inflater.
    const second = client.incoming(Rsv.Rsv1, NO_LIMIT)!;
    second.transform(
      Buffer.from('f248cdc9c90700', 'hex'),
      true,
      () => {},
      (err) => results.push(err),
    );
    client.dispose();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(results).toHaveLength(2);
    expect(results.every((e) => e instanceof ConnectionClosedError)).toBe(true);
    server.dispose();
  });

  it('survives dispose from inside an output callback, mid-message', async () => {
    const { server, client } = pair({ threshold: 0 });
    const frames = await compress(server, [jsonText(2 * MiB, mulberry32(11))]);
    const codec = client.incoming(Rsv.Rsv1, NO_LIMIT)!;
    const results: (Error | null | undefined)[] = [];
    let chunks = 0;
    let afterDispose = 0;
    codec.transform(
      frames[0]!,
      true,
      () => {
        if (++chunks === 3) client.dispose();
        else if (chunks > 3) afterDispose++;
      },
      (err) => results.push(err),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(results).toHaveLength(1);
    expect(results[0]).toBeInstanceOf(ConnectionClosedError);
    expect(afterDispose).toBe(0);
    server.dispose();
  });

  it('frees every zlib handle of 10,000 extensions that each processed one message', async () => {
    const factory = new PerMessageDeflate({ threshold: 0 }, 'server');
    const offer = [{ name: 'permessage-deflate', params: [] }];
    const message = jsonText(2048, mulberry32(3));
    /** Runs one extension through one message each way; gives it back, disposed. */
    const one = async (): Promise<Extension> => {
      const ext = factory.negotiate(offer)!.extension;
      const frames = await compress(ext, [message]);
      expect((await decompress(ext, frames)).equals(message)).toBe(true);
      ext.dispose();
      return ext;
    };
    await collect();
    const base = handles.live;
    const resourcesBefore = process.getActiveResourcesInfo().length;
    const before = process.memoryUsage();
    // Kept reachable on purpose: dispose must free zlib memory without the GC's help.
    const kept: Extension[] = [];
    let peakRss = before.rss;
    /** RSS growth (MiB) after each 1,000 extensions: a plateau is the allocator's, a slope a leak. */
    const series: number[] = [];
    const started = performance.now();
    for (let batch = 1; batch <= 100; batch++) {
      kept.push(...(await Promise.all(Array.from({ length: 100 }, one))));
      const rss = process.memoryUsage().rss;
      peakRss = Math.max(peakRss, rss);
      if (batch % 10 === 0) series.push(Math.round((rss - before.rss) / MiB));
    }
    const elapsed = performance.now() - started;
    const liveBeforeGc = handles.live;
    await collect();
    const after = process.memoryUsage();
    const resourcesAfter = process.getActiveResourcesInfo();
    console.log(
      `10,000 extensions in ${(elapsed / 1000).toFixed(2)} s: ZLIB handles ${base} -> ${liveBeforeGc}` +
        ` (before GC) -> ${handles.live}; active resources ${resourcesBefore} -> ${resourcesAfter.length}` +
        ` ${JSON.stringify(resourcesAfter)}; RSS +${((after.rss - before.rss) / MiB).toFixed(1)} MiB` +
        ` (peak +${((peakRss - before.rss) / MiB).toFixed(1)}), heap +${((after.heapUsed - before.heapUsed) / MiB).toFixed(1)} MiB;` +
        ` RSS growth per 1,000 (MiB): ${series.join(' ')}`,
    );
    expect(kept).toHaveLength(10_000);
    expect(handles.live).toBe(base);
    expect(resourcesAfter.filter((r) => /zlib/i.test(r))).toEqual([]);
    expect(resourcesAfter.length).toBeLessThanOrEqual(resourcesBefore + 2);
    // Undisposed and kept, one extension holds ~240 KiB of RSS (measured: +237 MiB for
    // 1,000), so 10,000 would hold ~2.3 GiB. Disposed, what stays is the kept objects
    // (~0.7 KiB of heap each) and what the allocator keeps for reuse (measured: +46 to
    // +96 MiB in all, flattening out: +4 to +25 MiB over the second 5,000).
    expect((after.rss - before.rss) / MiB).toBeLessThan(192);
    expect(series[9]! - series[4]!).toBeLessThan(64);
    expect((after.heapUsed - before.heapUsed) / MiB).toBeLessThan(16);
  });

  it('would show a leak: undisposed extensions kept reachable keep their handles', async () => {
    await collect();
    const base = handles.live;
    const factory = new PerMessageDeflate({ threshold: 0 }, 'server');
    const kept: Extension[] = [];
    for (let i = 0; i < 50; i++) {
      const ext = factory.negotiate([{ name: 'permessage-deflate', params: [] }])!.extension;
      await decompress(ext, await compress(ext, [Buffer.from('Hello')]));
      kept.push(ext);
    }
    await collect();
    expect(handles.live).toBe(base + 100);
    for (const ext of kept) ext.dispose();
    await collect();
    expect(handles.live).toBe(base);
  });
});

describe('DeflateExtension: the process-wide zlib limit', () => {
  it('never runs more zlib jobs at once than concurrencyLimit, across connections', async () => {
    const limiter = sharedZlibLimiter();
    const previous = limiter.limit;
    const factory = new PerMessageDeflate({ threshold: 0, concurrencyLimit: 3 }, 'server');
    expect(limiter.limit).toBe(3);
    limiter.resetPeak();
    // Sample the number running at every output chunk, on top of the limiter's own peak.
    let sampledPeak = 0;
    const data = jsonText(256 * 1024, mulberry32(4));
    const exts = Array.from(
      { length: 40 },
      () => factory.negotiate([{ name: 'permessage-deflate', params: [] }])!.extension,
    );
    await Promise.all(
      exts.map(async (ext) => {
        const codec = ext.outgoing({ binary: true, length: undefined, compress: true })!;
        const frames = await runCodec(codec, split(data, mulberry32(7), 4), () => {
          sampledPeak = Math.max(sampledPeak, limiter.active);
        });
        expect((await decompress(ext, frames)).equals(data)).toBe(true);
      }),
    );
    console.log(`limiter: peak ${limiter.peakActive} of 3 (sampled ${sampledPeak})`);
    expect(limiter.peakActive).toBe(3);
    expect(sampledPeak).toBeLessThanOrEqual(3);
    expect(limiter.active).toBe(0);
    expect(limiter.pending).toBe(0);
    for (const ext of exts) ext.dispose();
    limiter.limit = previous;
  });
});
