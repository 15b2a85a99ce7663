/**
 * Scenario 10 of `npm run bench`: latency under an open loop. 1,000 connections each send a
 * 64 B binary message every 50 ms (20,000 msg/s offered), paced by timers on a schedule
 * fixed in advance rather than by the replies (bench/lib/open-loop.ts), to an echo server in
 * another process; each round trip is measured from the time its message was due. This is
 * a server's everyday shape (many connections, each with a small message now and then),
 * where batching cannot help and what counts is how long one message waits, and how much
 * CPU it costs, at a load both libraries can carry.
 *
 * Figures: round-trip p50, p99 and p99.9 (ms), and the CPU per message of the client and the
 * server process over the measured phase (the CPU table). Ours, ws (with bufferutil) and
 * plain TCP (the floor), in fresh processes each round, paired per round.
 */
import { formatNumber } from '../lib/stats.js';
import type { Figure, VariantKey } from '../lib/suite-results.js';
import {
  AT_MOST_WS,
  figure,
  MiB,
  push,
  pushExtra,
  rounds,
  type Scenario,
  type SuiteContext,
  stopPair,
} from './suite.js';
import type { OpenLoopMeasurement } from './worker.js';

/** Each connection sends one message per period. */
const PERIOD_MS = 50;
const SIZE = 64;
/** Echoes not back this long after the last message was due fail the run. */
const DRAIN_TIMEOUT_MS = 20_000;
const VARIANTS: readonly VariantKey[] = ['ours', 'ws', 'tcp'];

export const OPEN_LOOP_SCENARIO: Scenario = {
  n: 10,
  title: 'open loop: 1,000 connections, 64 B every 50 ms each (20,000 msg/s offered)',
  run: async (ctx: SuiteContext): Promise<Figure[]> => {
    const { openLoopConnections: connections, openLoopWarmupMs, openLoopMs, runs } = ctx.config;
    const offered = (connections * 1000) / PERIOD_MS;
    const label = `open loop, ${connections.toLocaleString('en-US')} conns x 64 B every ${PERIOD_MS} ms (${offered.toLocaleString('en-US')} msg/s)`;
    const p50 = figure('10-p50', 10, `${label}: round trip p50`, 'ms', 'lower');
    const p99 = figure('10-p99', 10, `${label}: round trip p99`, 'ms', 'lower', [AT_MOST_WS]);
    const p999 = figure('10-p999', 10, `${label}: round trip p99.9`, 'ms', 'lower', [AT_MOST_WS]);
    const figures = [p50, p99, p999];
    const requestMs = (phaseMs: number) => phaseMs + DRAIN_TIMEOUT_MS + 30_000;
    await rounds(ctx, runs, figures, VARIANTS, async (v, run) => {
      const pair = await ctx.startPair(v, {
        deflate: false,
        maxMessageSize: 64 * MiB,
        mode: 'echo',
      });
      try {
        const { client, server, port } = pair;
        const opened = await client.request<number>(
          { cmd: 'open-loop-open', port, connections, size: SIZE },
          60_000 + connections * 20,
        );
        if (opened !== connections) throw new Error(`${opened} of ${connections} connections`);
        const phase = (durationMs: number) =>
          client.request<OpenLoopMeasurement>(
            {
              cmd: 'open-loop-run',
              periodMs: PERIOD_MS,
              durationMs,
              drainTimeoutMs: DRAIN_TIMEOUT_MS,
            },
            requestMs(durationMs),
          );
        await phase(openLoopWarmupMs);
        const serverCpu = () => server.request<number>({ cmd: 'cpu' }, 10_000);
        const cpuBefore = await serverCpu();
        const m = await phase(openLoopMs);
        const serverMs = (await serverCpu()) - cpuBefore;
        await client.request({ cmd: 'open-loop-close' }, 60_000 + connections * 20);
        push(p50, v, m.p50);
        push(p99, v, m.p99);
        push(p999, v, m.p999);
        // The CPU table reads these: client and server over the measured phase alone.
        const clientUs = (m.clientCpuMs * 1000) / m.messages;
        const serverUs = (serverMs * 1000) / m.messages;
        pushExtra(p50, 'client CPU per message (µs)', v, clientUs);
        pushExtra(p50, 'server CPU per message (µs)', v, serverUs);
        pushExtra(p50, 'messages echoed and checked', v, m.messages);
        pushExtra(p50, 'achieved msg/s', v, m.messages / m.seconds);
        pushExtra(p50, 'round trip max (ms)', v, m.max);
        pushExtra(p50, 'round trip from the actual send p50 (ms)', v, m.fromSendP50);
        pushExtra(p99, 'round trip from the actual send p99 (ms)', v, m.fromSendP99);
        pushExtra(p999, 'round trip from the actual send p99.9 (ms)', v, m.fromSendP999);
        pushExtra(p50, 'send lag behind schedule p99 (ms)', v, m.sendLagP99);
        pushExtra(p50, 'send lag behind schedule max (ms)', v, m.sendLagMax);
        ctx.log(
          `  run ${run + 1}/${runs} ${v.padEnd(9)} p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, p99.9 ${m.p999.toFixed(2)} ms, max ${m.max.toFixed(1)} ms; from the actual send p50 ${m.fromSendP50.toFixed(2)}, p99 ${m.fromSendP99.toFixed(2)}, p99.9 ${m.fromSendP999.toFixed(2)} ms (${m.messages.toLocaleString('en-US')} echoes checked, ${formatNumber(m.messages / m.seconds)} msg/s; sends behind schedule p99 ${m.sendLagP99.toFixed(2)} ms; CPU per message: client ${formatNumber(clientUs)} µs, server ${formatNumber(serverUs)} µs)`,
        );
      } finally {
        await stopPair(pair);
      }
    });
    return figures;
  },
};
