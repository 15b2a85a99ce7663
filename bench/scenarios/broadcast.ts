/**
 * Scenario 11 of `npm run bench`: broadcast fan-out in one server process. The server holds
 * 10,000 connections (2,000 with --quick) from receivers in two other processes and sends
 * 100 broadcasts (20 with --quick) of a 64 B text message, then of a 16 KiB binary one, in
 * two pacings: each broadcast in a turn of the event loop of its own (as when each answers
 * an event: no library can write two broadcasts to a socket in one go), and all of them in
 * one loop (a burst, as `for (const m of messages) wss.broadcast(m)`). The figure is the
 * time from the first broadcast until every connection has every message, each message
 * checked byte for byte and in order at the receiver, with the server's CPU per delivery.
 *
 * Ours is `wss.broadcast(data)` (framed once, the same bytes written to every connection);
 * ws is its documented loop, `for (const client of wss.clients) if (client.readyState ===
 * WebSocket.OPEN) client.send(data)`. Both are sent what users send: text as a string,
 * binary as a Buffer.
 *
 * The receivers are the same minimal RFC 6455 client for both servers
 * (bench/lib/raw-websocket.ts): the figure is the server's fan-out, not a client library's
 * receive path, which on a 2-core machine would otherwise share a core with the server and
 * dominate. Each variant's server and receivers stay up for all the rounds (the idle one
 * costs nothing while the other is measured); the rounds alternate the order.
 */
import { performance } from 'node:perf_hooks';
import type { Worker } from '../lib/child.js';
import { formatNumber } from '../lib/stats.js';
import type { Figure, VariantKey } from '../lib/suite-results.js';
import { figure, MiB, push, pushExtra, rounds, type Scenario, type SuiteContext } from './suite.js';
import type { BroadcastSent, RawDelivery } from './worker.js';

/** Receiver processes; the connections are split between them. */
const RECEIVERS = 2;
const SIZES = [
  { name: '64', label: '64 B text', size: 64, binary: false },
  { name: '16k', label: '16 KiB binary', size: 16 * 1024, binary: true },
] as const;
const PACINGS = [
  { name: 'turns', label: 'one per turn' },
  { name: 'burst', label: 'in one burst' },
] as const;
const VARIANTS: readonly VariantKey[] = ['ours', 'ws'];

interface Setup {
  server: Worker;
  receivers: Worker[];
}

export const BROADCAST_SCENARIO: Scenario = {
  n: 11,
  title: 'broadcast: one server, 10,000 connections, 100 broadcasts of 64 B and of 16 KiB',
  run: async (ctx: SuiteContext): Promise<Figure[]> => {
    const { broadcastConnections: connections, broadcastCount: count } = ctx.config;
    const runs = ctx.config.heavyRuns;
    const conns = connections.toLocaleString('en-US');
    const time = new Map<string, Figure>();
    const cpu = new Map<string, Figure>();
    const phases = PACINGS.flatMap((p) => SIZES.map((s) => ({ ...s, pacing: p })));
    for (const { name, label, pacing } of phases) {
      const key = `${name}-${pacing.name}`;
      const what = `broadcast ${count} x ${label} ${pacing.label} to ${conns} conns`;
      time.set(
        key,
        figure(`11-${key}-time`, 11, `${what}: all delivered`, 'ms', 'lower', [
          { text: '<= 0.5x ws (2x faster)', against: 'ws', max: 0.5 },
        ]),
      );
      cpu.set(key, figure(`11-${key}-cpu`, 11, `${what}: server CPU per delivery`, 'µs', 'lower'));
    }
    const figures = phases.flatMap((p) => [
      time.get(`${p.name}-${p.pacing.name}`)!,
      cpu.get(`${p.name}-${p.pacing.name}`)!,
    ]);
    const setups = new Map<VariantKey, Promise<Setup>>();
    const teardown = async (v: VariantKey) => {
      const setup = await setups.get(v)?.catch(() => undefined);
      setups.delete(v);
      if (setup === undefined) return;
      try {
        // Every connection closed by its Close handshake, and the server left with none.
        await Promise.all(
          setup.receivers.map((r) => r.request({ cmd: 'raw-close', concurrency: 200 }, 120_000)),
        );
        await setup.server.request(
          { cmd: 'wait-connections', count: 0, timeoutMs: 30_000 },
          40_000,
        );
      } finally {
        for (const r of setup.receivers) await r.stop();
        await setup.server.stop();
      }
    };
    const setUp = async (v: VariantKey): Promise<Setup> => {
      const server = await ctx.start(
        v,
        'server',
        { deflate: false, maxMessageSize: 64 * MiB, mode: 'echo' },
        { openFiles: connections + 1000 },
      );
      const receivers: Worker[] = [];
      try {
        const share = Math.ceil(connections / RECEIVERS);
        for (let i = 0; i < RECEIVERS; i++) {
          receivers.push(await ctx.start(v, 'client', undefined, { openFiles: share + 1000 }));
        }
        const started = performance.now();
        await Promise.all(
          receivers.map((r, i) =>
            r.request(
              {
                cmd: 'raw-open',
                port: server.info.port,
                count: Math.min(share, connections - i * share),
                concurrency: 100,
              },
              60_000 + share * 10,
            ),
          ),
        );
        await server.request(
          { cmd: 'wait-connections', count: connections, timeoutMs: 30_000 },
          40_000,
        );
        ctx.log(
          `  ${v}: ${conns} connections open in ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        return { server, receivers };
      } catch (err) {
        for (const r of receivers) await r.stop();
        await server.stop();
        throw err;
      }
    };
    let nextId = 0;
    try {
      await rounds(
        ctx,
        runs,
        figures,
        VARIANTS,
        async (v, run) => {
          let setup = setups.get(v);
          if (setup === undefined) {
            setup = setUp(v);
            setups.set(v, setup);
          }
          const { server, receivers } = await setup;
          for (const s of phases) {
            const key = `${s.name}-${s.pacing.name}`;
            const firstId = nextId;
            nextId += count;
            const phase = { firstId, count, size: s.size, binary: s.binary };
            // At least 50 MB/s of deliveries, and 30 s of slack.
            const budgetMs = 30_000 + (connections * count * s.size) / 50e3;
            await Promise.all(
              receivers.map((r) => r.request({ cmd: 'raw-expect', ...phase }, 30_000)),
            );
            const cpuBefore = await server.request<number>({ cmd: 'cpu' }, 10_000);
            const sent = await server.request<BroadcastSent>(
              { cmd: 'broadcast', pacing: s.pacing.name, ...phase },
              budgetMs,
            );
            const got = await Promise.all(
              receivers.map((r) =>
                r.request<RawDelivery>({ cmd: 'raw-wait', timeoutMs: budgetMs }, budgetMs + 10_000),
              ),
            );
            const serverMs = (await server.request<number>({ cmd: 'cpu' }, 10_000)) - cpuBefore;
            const short = sent.connections.find((c) => c !== connections);
            if (short !== undefined) {
              throw new Error(`a broadcast went to ${short} of ${connections} connections`);
            }
            const deliveries = got.reduce((sum, g) => sum + g.deliveries, 0);
            if (deliveries !== connections * count) {
              throw new Error(`${deliveries} of ${connections * count} messages delivered`);
            }
            const last = got.reduce((m, g) => (BigInt(g.lastNs) > m ? BigInt(g.lastNs) : m), 0n);
            const ms = Number(last - BigInt(sent.startNs)) / 1e6;
            const queuedMs = Number(BigInt(sent.queuedNs) - BigInt(sent.startNs)) / 1e6;
            const serverUs = (serverMs * 1000) / deliveries;
            const receiverUs = (got.reduce((sum, g) => sum + g.cpuMs, 0) * 1000) / deliveries;
            const t = time.get(key)!;
            push(t, v, ms);
            push(cpu.get(key)!, v, serverUs);
            pushExtra(t, 'broadcast calls returned after (ms)', v, queuedMs);
            pushExtra(t, 'receivers CPU per delivery (µs)', v, receiverUs);
            pushExtra(t, 'deliveries per second', v, deliveries / (ms / 1000));
            ctx.log(
              `  run ${run + 1}/${runs} ${v.padEnd(5)} ${s.label.padEnd(13)} ${s.pacing.label.padEnd(12)} all ${deliveries.toLocaleString('en-US')} delivered and checked in ${formatNumber(ms)} ms (broadcast calls done after ${formatNumber(queuedMs)} ms; ${formatNumber(deliveries / (ms / 1000))} deliveries/s; server CPU ${serverUs.toFixed(2)} µs/delivery, receivers ${receiverUs.toFixed(2)})`,
            );
          }
        },
        (v) => teardown(v).catch(() => {}),
      );
    } finally {
      for (const v of [...setups.keys()]) await teardown(v);
    }
    return figures;
  },
};
