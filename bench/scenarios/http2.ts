/**
 * Scenario 13 of `npm run bench`: 1,000 WebSockets on one HTTP/2 session (RFC 8441)
 * against 1,000 WebSockets each on its own TCP+TLS connection (HTTP/1.1 Upgrade), between
 * our client and our server, in two processes on loopback, over TLS both ways (browsers
 * speak HTTP/2 over TLS only). The server is one and the same (a secure HTTP/2 server with
 * allowHTTP1), so what differs is the transport alone.
 *
 * Figures per transport: the time to open all of them (concurrently), the memory per
 * WebSocket on each side (heap after GC, and RSS, whose growth holds the TLS and nghttp2
 * state), and the echo rate of 64 B text and 16 KiB binary messages with one message in
 * flight per WebSocket. Then the ratios, paired per run: what HTTP/2 gains or costs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type Worker } from '../lib/child.js';
import { formatNumber } from '../lib/stats.js';
import type { Figure } from '../lib/suite-results.js';
import type { Http2EchoResult, Http2Memory } from './http2-worker.js';
import type { Scenario, SuiteContext } from './suite.js';

const COUNT = 1_000;
const KiB = 1024;

type Mode = 'h2' | 'h1';
const MODES: Record<Mode, string> = {
  h2: 'one HTTP/2 session',
  h1: 'a TLS connection each (HTTP/1.1)',
};

const SIZES = [
  { name: '64', label: '64 B text', size: 64 },
  { name: '16k', label: '16 KiB binary', size: 16 * KiB },
] as const;

function figure(id: string, label: string, unit: string, better: 'higher' | 'lower'): Figure {
  return { id, scenario: 13, label, unit, better, values: {}, missing: {}, targets: [], extra: {} };
}

/** A self-signed certificate for localhost, made by openssl for the run. */
function makeCertificate(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-http2-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { cwd: dir, stdio: 'ignore', timeout: 20_000 },
    );
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const HTTP2_SCENARIO: Scenario = {
  n: 13,
  title: `${COUNT.toLocaleString('en-US')} WebSockets on one HTTP/2 session vs each on its own TLS connection`,
  run: async (ctx: SuiteContext): Promise<Figure[]> => {
    const runs = ctx.config.heavyRuns;
    const script = ctx.config.workerScript.replace(/worker\.mjs$/, 'http2-worker.mjs');
    const { cert, key } = makeCertificate();
    const figures = new Map<string, Figure>();
    const push = (
      id: string,
      label: string,
      unit: string,
      better: 'higher' | 'lower',
      value: number,
    ) => {
      let f = figures.get(id);
      if (f === undefined) {
        f = figure(id, label, unit, better);
        figures.set(id, f);
      }
      f.values.ours = [...(f.values.ours ?? []), Number(value.toPrecision(6))];
      f.missing.ws =
        'not possible: ws has no HTTP/2 (the comparison is ours over HTTP/2 against ours over HTTP/1.1)';
    };
    const measured: Record<Mode, Record<string, number>>[] = [];
    for (let run = 0; run < runs; run++) {
      const order: Mode[] = run % 2 === 0 ? ['h2', 'h1'] : ['h1', 'h2'];
      const byMode = {} as Record<Mode, Record<string, number>>;
      for (const mode of order) {
        let server: Worker | undefined;
        let client: Worker | undefined;
        try {
          server = await startWorker(`http2 server ${mode}`, script, ['--role=server']);
          client = await startWorker(`http2 client ${mode}`, script, ['--role=client']);
          const port = await server.request<number>({ cmd: 'start', cert, key }, 30_000);
          const serverBefore = await server.request<Http2Memory>({ cmd: 'memory' }, 30_000);
          const clientBefore = await client.request<Http2Memory>({ cmd: 'memory' }, 30_000);
          const openMs = await client.request<number>(
            { cmd: 'open', port, count: COUNT, mode, ca: cert },
            180_000,
          );
          const serverAfter = await server.request<Http2Memory>({ cmd: 'memory' }, 30_000);
          const clientAfter = await client.request<Http2Memory>({ cmd: 'memory' }, 30_000);
          if (serverAfter.connections !== COUNT || clientAfter.connections !== COUNT) {
            throw new Error(`${mode}: ${serverAfter.connections} of ${COUNT} connections open`);
          }
          const perConnection = (
            after: Http2Memory,
            before: Http2Memory,
            field: 'heapUsed' | 'rss',
          ) => (after[field] - before[field]) / KiB / COUNT;
          const m: Record<string, number> = {
            open: openMs,
            serverHeap: perConnection(serverAfter, serverBefore, 'heapUsed'),
            clientHeap: perConnection(clientAfter, clientBefore, 'heapUsed'),
            serverRss: perConnection(serverAfter, serverBefore, 'rss'),
            clientRss: perConnection(clientAfter, clientBefore, 'rss'),
          };
          for (const size of SIZES) {
            const echo = await client.request<Http2EchoResult>(
              {
                cmd: 'echo',
                size: size.size,
                warmupMs: ctx.config.warmupMs,
                durationMs: ctx.config.durationMs,
              },
              60_000,
            );
            m[`rate-${size.name}`] = echo.messages / echo.seconds;
            m[`cpu-${size.name}`] = (echo.clientCpuMs * 1000) / Math.max(1, echo.messages);
          }
          await client.request({ cmd: 'close' }, 60_000);
          await server.request({ cmd: 'stop' }, 30_000);
          byMode[mode] = m;
          ctx.log(
            `  run ${run + 1}/${runs} ${mode}: opened ${COUNT} in ${m.open!.toFixed(0)} ms; KiB/WebSocket heap server ${m.serverHeap!.toFixed(2)} client ${m.clientHeap!.toFixed(2)}, RSS server ${m.serverRss!.toFixed(1)} client ${m.clientRss!.toFixed(1)}; echo 64 B ${formatNumber(m['rate-64']!)} msg/s, 16 KiB ${formatNumber(m['rate-16k']!)} msg/s`,
          );
        } finally {
          await client?.stop();
          await server?.stop();
        }
      }
      measured.push(byMode);
    }
    for (const byMode of measured) {
      for (const mode of ['h2', 'h1'] as const) {
        const m = byMode[mode];
        const on = MODES[mode];
        push(
          `13-open-${mode}`,
          `${COUNT.toLocaleString('en-US')} WebSockets over TLS, ${on}: time to open them all`,
          'ms',
          'lower',
          m.open!,
        );
        push(
          `13-heap-server-${mode}`,
          `... ${on}: server heap per WebSocket`,
          'KiB',
          'lower',
          m.serverHeap!,
        );
        push(
          `13-heap-client-${mode}`,
          `... ${on}: client heap per WebSocket`,
          'KiB',
          'lower',
          m.clientHeap!,
        );
        push(
          `13-rss-server-${mode}`,
          `... ${on}: server RSS per WebSocket`,
          'KiB',
          'lower',
          m.serverRss!,
        );
        push(
          `13-rss-client-${mode}`,
          `... ${on}: client RSS per WebSocket`,
          'KiB',
          'lower',
          m.clientRss!,
        );
        for (const size of SIZES) {
          push(
            `13-rate-${size.name}-${mode}`,
            `... ${on}: echo of ${size.label}, 1 in flight per WebSocket`,
            'msg/s',
            'higher',
            m[`rate-${size.name}`]!,
          );
          push(
            `13-cpu-${size.name}-${mode}`,
            `... ${on}: client CPU per echoed ${size.label}`,
            'µs',
            'lower',
            m[`cpu-${size.name}`]!,
          );
        }
      }
      // The ratios: > 1 means HTTP/2 is better (faster to open, smaller, more messages).
      const h2 = byMode.h2;
      const h1 = byMode.h1;
      push(
        '13-open-x',
        'time to open 1,000: HTTP/1.1 / HTTP/2 (x faster over HTTP/2)',
        'x',
        'higher',
        h1.open! / h2.open!,
      );
      push(
        '13-rss-server-x',
        'server RSS per WebSocket: HTTP/1.1 / HTTP/2 (x smaller over HTTP/2)',
        'x',
        'higher',
        h1.serverRss! / Math.max(h2.serverRss!, 0.01),
      );
      push(
        '13-rss-client-x',
        'client RSS per WebSocket: HTTP/1.1 / HTTP/2 (x smaller over HTTP/2)',
        'x',
        'higher',
        h1.clientRss! / Math.max(h2.clientRss!, 0.01),
      );
      for (const size of SIZES) {
        push(
          `13-cpu-${size.name}-x`,
          `client CPU per echoed ${size.label}: HTTP/1.1 / HTTP/2 (x less over HTTP/2)`,
          'x',
          'higher',
          h1[`cpu-${size.name}`]! / h2[`cpu-${size.name}`]!,
        );
        push(
          `13-rate-${size.name}-x`,
          `echo of ${size.label}: HTTP/2 / HTTP/1.1 (x the rate over HTTP/2)`,
          'x',
          'higher',
          h2[`rate-${size.name}`]! / h1[`rate-${size.name}`]!,
        );
      }
    }
    return [...figures.values()];
  },
};
