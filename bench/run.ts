/**
 * The benchmark suite: every scenario for this library, ws 8 (with bufferutil, and without
 * its add-ons) and websocket (WebSocket-Node), server and client in separate processes on
 * loopback, each measurement repeated in rotating rounds and reported as the median with its
 * spread; then a markdown table of the absolute figures, one of the ratios against ws
 * (paired per round) with the targets, the raw results as JSON, and an SVG chart.
 *
 * Run: npm run bench [-- --quick] [-- --only=1,4,7] [-- --runs=N] [-- --time-ms=MS]
 *        [-- --variants=ours,ws] [-- --ours-options=JSON] [-- --ours-echo=streams]
 *        [-- --cpu-prof-dir=DIR] [-- --no-build] [-- --many-connections=N]
 *      npm run bench -- --render=bench/results/latest.json
 *
 * Each echo figure is measured in 5 rounds of 1.5 s (after 0.3 s of warm-up), the memory and
 * streaming figures in 3 (they are long, and steady from run to run), the open loop (10) in
 * 5 rounds of 4 s (after 1 s), the broadcasts (11) in 3, the 100,000 connections (12) once.
 *
 * --quick: one run each, short phases, small sizes for 6-12 (a smoke run).
 * --runs=N: N rounds for every figure; --time-ms=MS: measured phase of an echo run (and of
 *   the open loop).
 * --only=N,M: only those scenarios (1 to 14; 9, fan-out across processes through Redis,
 *   needs redis-server; 12 raises its processes' limit on open files, beyond the hard
 *   limit only as root; 13, WebSockets over HTTP/2 against HTTP/1.1, needs
 *   openssl; 14, the command line's start, wsdx --help from dist/cli.js).
 * --many-connections=N: scenario 12 with N connections instead of 100,000 (5,000 quick).
 * --ours-options=JSON: connection options for our server and client (e.g.
 *   '{"fragmentOutgoingMessages":false}'), to measure a setting against the defaults.
 * --ours-echo=streams: our echo server reads each message as a stream and pipes it into
 *   createMessageStream() instead of `ws.pipe(ws)` (an experiment: no message is held whole).
 * --variants=ours,ws: only those variants (of ours, ws, ws-js, websocket, tcp), e.g. to profile.
 * --cpu-prof-dir=DIR: every worker writes a V8 CPU profile under DIR/<n>-<variant>-<role>/.
 * --no-build: use dist/ as it is instead of running tsup first.
 * --render=FILE: measure nothing; redraw the tables and the chart from a results file
 *   (bench/results/latest.json redraws bench/results/latest.md and bench/chart.svg).
 *
 * A full run writes bench/results/latest.json, bench/results/latest.md and bench/chart.svg;
 * a quick or partial one writes bench/results/partial.json.tmp, partial.md.tmp and
 * chart.svg.tmp instead (git-ignored), so that the checked-in results are a full run's.
 *
 * The runner may run through tsx; the workers may not (tsx's transform distorts hot paths):
 * tsup builds the library (dist/index.js), which is copied to bench/results/build.tmp/ so
 * that a concurrent rebuild of dist/ cannot change it under a run, and the worker
 * (bench/scenarios/worker.ts with bench/lib/) is bundled next to it as plain JavaScript.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  absoluteTable,
  cpuTable,
  type Figure,
  judge,
  ratioTable,
  VARIANT_KEYS,
  VARIANT_TITLES,
  type VariantKey,
} from './lib/suite-results.js';
import { footnoteFor, ratioChart } from './lib/svg-chart.js';
import { BROADCAST_SCENARIO } from './scenarios/broadcast.js';
import { CLI_STARTUP_SCENARIO } from './scenarios/cli-startup.js';
import { FANOUT_SCENARIO } from './scenarios/fanout.js';
import { HTTP2_SCENARIO } from './scenarios/http2.js';
import { MANY_CONNECTIONS_SCENARIO } from './scenarios/many-connections.js';
import { OPEN_LOOP_SCENARIO } from './scenarios/open-loop.js';
import { SCENARIOS as ECHO_SCENARIOS, type SuiteConfig, SuiteContext } from './scenarios/suite.js';

/**
 * Every scenario, in order: the library against ws (1-8), across processes (9), then many
 * connections against ws (10-12), ours over HTTP/2 against ours over HTTP/1.1 (13), the
 * command line's start (14).
 */
const SCENARIOS = [
  ...ECHO_SCENARIOS,
  FANOUT_SCENARIO,
  OPEN_LOOP_SCENARIO,
  BROADCAST_SCENARIO,
  MANY_CONNECTIONS_SCENARIO,
  HTTP2_SCENARIO,
  CLI_STARTUP_SCENARIO,
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(root, 'bench', 'results');
const buildDir = join(resultsDir, 'build.tmp');

function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}
const flag = (name: string) => process.argv.includes(`--${name}`);

const log = (line: string) => process.stderr.write(`${line}\n`);

function packageVersion(name: string): string {
  const path = join(root, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}

/** Builds the library with tsup, snapshots it, and bundles the worker as plain JavaScript. */
async function build(
  skipLibraryBuild: boolean,
): Promise<{ workerScript: string; oursUrl: string }> {
  if (!skipLibraryBuild) {
    log('Building the library (npx tsup)...');
    const result = spawnSync('npx', ['tsup'], { cwd: root, encoding: 'utf8', timeout: 180_000 });
    if (result.status !== 0) {
      throw new Error(`npx tsup failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
  }
  mkdirSync(join(buildDir, 'lib'), { recursive: true });
  for (const file of ['index.js', 'index.js.map']) {
    copyFileSync(join(root, 'dist', file), join(buildDir, 'lib', file));
  }
  const { build: tsup } = await import('tsup');
  await tsup({
    config: false,
    entry: {
      worker: join(root, 'bench', 'scenarios', 'worker.ts'),
      // Scenario 9's processes, with the library (and its backplane) bundled from source.
      'fanout-worker': join(root, 'bench', 'scenarios', 'fanout-worker.ts'),
      // Scenario 10's processes (HTTP/2), the library bundled from source likewise.
      'http2-worker': join(root, 'bench', 'scenarios', 'http2-worker.ts'),
    },
    outDir: buildDir,
    format: ['esm'],
    outExtension: () => ({ js: '.mjs' }),
    platform: 'node',
    target: 'node20',
    splitting: false,
    sourcemap: true,
    dts: false,
    clean: false,
    silent: true,
    skipNodeModulesBundle: true,
  });
  return {
    workerScript: join(buildDir, 'worker.mjs'),
    oursUrl: pathToFileURL(join(buildDir, 'lib', 'index.js')).href,
  };
}

/** The commit measured, and the files of lib/ changed in the working tree (read-only git). */
function revision(): { commit: string; libChanges: string[] } {
  const git = (args: string[]) =>
    spawnSync('git', args, { cwd: root, encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  return {
    commit: git(['rev-parse', '--short', 'HEAD']).trim() || 'unknown',
    libChanges: git(['status', '--porcelain', '--', 'lib'])
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.slice(3)),
  };
}

function machine(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? '?',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const date = new Date();
  const quick = flag('quick');
  const only = (option('only') ?? '')
    .split(',')
    .filter((s) => s !== '')
    .map(Number);
  for (const n of only) {
    if (!SCENARIOS.some((s) => s.n === n)) throw new Error(`--only: no scenario ${n} (1 to 14)`);
  }
  const timeMs = option('time-ms');
  const variantOption = option('variants');
  const variantFilter =
    variantOption === undefined
      ? undefined
      : variantOption.split(',').map((v) => {
          if (!(VARIANT_KEYS as readonly string[]).includes(v)) {
            throw new Error(`--variants: no variant ${v} (${VARIANT_KEYS.join(', ')})`);
          }
          return v as VariantKey;
        });
  const profileDir = option('cpu-prof-dir');
  const { workerScript, oursUrl } = await build(flag('no-build'));
  const runsOption = option('runs');
  const manyOption = option('many-connections');
  const oursOptions = option('ours-options') ?? '';
  const oursEcho = option('ours-echo') ?? 'pipe';
  if (oursEcho !== 'pipe' && oursEcho !== 'streams')
    throw new Error('--ours-echo: pipe or streams');
  if (oursOptions !== '') JSON.parse(oursOptions);
  const config: SuiteConfig = {
    runs: Number(runsOption ?? (quick ? 1 : 5)),
    heavyRuns: Number(runsOption ?? (quick ? 1 : 3)),
    warmupMs: quick ? 100 : 300,
    durationMs: Number(timeMs ?? (quick ? 500 : 1500)),
    idleConnections: quick ? 500 : 5000,
    deflateConnections: quick ? 50 : 500,
    streamBytes: quick ? 256 * 2 ** 20 : 4 * 2 ** 30,
    referenceBytes: quick ? 32 * 2 ** 20 : 256 * 2 ** 20,
    workerScript,
    oursUrl,
    profileDir: profileDir === undefined ? undefined : resolve(profileDir),
    variants: variantFilter,
    oursOptions,
    oursEcho,
    openLoopConnections: 1000,
    openLoopWarmupMs: quick ? 300 : 1000,
    openLoopMs: Number(timeMs ?? (quick ? 1000 : 4000)),
    broadcastConnections: quick ? 2000 : 10_000,
    broadcastCount: quick ? 20 : 100,
    manyConnections: Number(manyOption ?? (quick ? 5000 : 100_000)),
    manyRuns: Number(runsOption ?? 1),
  };
  const partial =
    quick ||
    only.length > 0 ||
    variantFilter !== undefined ||
    oursOptions !== '' ||
    oursEcho !== 'pipe' ||
    runsOption !== undefined ||
    manyOption !== undefined ||
    timeMs !== undefined;
  const host = machine();
  const measured = revision();
  const versions = {
    ws: packageVersion('ws'),
    websocket: packageVersion('websocket'),
    bufferutil: packageVersion('bufferutil'),
    'utf-8-validate': packageVersion('utf-8-validate'),
  };
  console.log(`# websocket-duplex benchmark suite${quick ? ' (--quick)' : ''}\n`);
  console.log(
    `${date.toISOString()} on ${machineLine(host)}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `ours at ${measured.commit}${measured.libChanges.length === 0 ? '' : ` with uncommitted changes to ${measured.libChanges.join(', ')}`} (dist/index.js, built by tsup) vs ws ${versions.ws} (bufferutil ${versions.bufferutil}; "no add-ons": WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1) vs websocket ${versions.websocket}; plain TCP with a length prefix as the ceiling.`,
  );
  console.log(
    `${runsText(config)} in rotating order, ${config.warmupMs} ms warm-up + ${config.durationMs} ms measured per echo run; server and client in separate worker processes on 127.0.0.1${oursOptions === '' ? '' : `; ours with ${oursOptions}`}${oursEcho === 'pipe' ? '' : `; ours echoes with ${oursEcho}`}.\n`,
  );

  const ctx = new SuiteContext(config, log);
  const figures: Figure[] = [];
  const failures: Array<{ scenario: number; error: string }> = [];
  const timings: Record<string, number> = {};
  const selected = SCENARIOS.filter((s) => only.length === 0 || only.includes(s.n));
  try {
    for (const scenario of selected) {
      const t0 = performance.now();
      log(`\nScenario ${scenario.n}: ${scenario.title}`);
      try {
        figures.push(...(await scenario.run(ctx)));
      } catch (err) {
        const message = (err as Error).stack ?? String(err);
        failures.push({ scenario: scenario.n, error: message });
        log(`Scenario ${scenario.n} FAILED: ${message}`);
      } finally {
        await ctx.stopAll();
      }
      timings[scenario.n] = (performance.now() - t0) / 1000;
      log(`  (${timings[scenario.n]!.toFixed(0)} s)`);
    }
  } finally {
    await ctx.stopAll();
  }

  const seconds = (performance.now() - started) / 1000;
  const results: SuiteResults = {
    date: date.toISOString(),
    revision: measured,
    machine: host,
    versions,
    config: {
      ...config,
      workerScript: relative(root, config.workerScript),
      oursUrl: 'bench/results/build.tmp/lib/index.js',
      quick,
      only,
    },
    bufferutil: ctx.bufferutil,
    totalSeconds: Number(seconds.toFixed(1)),
    scenarioSeconds: timings,
    variants: VARIANT_KEYS,
    figures,
    verdicts: figures.flatMap((f) =>
      judge(f).map((v) => ({ figure: f.id, target: v.target.text, met: v.met, detail: v.detail })),
    ),
    failures,
  };
  const rendered = render(results);
  console.log(rendered.report);
  console.log(
    `\nTotal: ${seconds.toFixed(0)} s; load average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const paths = partial
    ? {
        json: join(resultsDir, 'partial.json.tmp'),
        md: join(resultsDir, 'partial.md.tmp'),
        svg: join(resultsDir, 'chart.svg.tmp'),
      }
    : {
        json: join(resultsDir, 'latest.json'),
        md: join(resultsDir, 'latest.md'),
        svg: join(root, 'bench', 'chart.svg'),
      };
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(paths.json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(paths.md, rendered.markdown);
  writeFileSync(paths.svg, rendered.svg);
  console.log(
    `\nWrote ${relative(root, paths.json)}, ${relative(root, paths.md)} and ${relative(root, paths.svg)}${partial ? ' (a quick or partial run: the checked-in results are left alone)' : ''}.`,
  );
  if (
    failures.length > 0 ||
    figures.some((f) => Object.values(f.missing).some((m) => m?.startsWith('failed')))
  ) {
    process.exitCode = 1;
  }
}

/** What a run writes to bench/results/latest.json, and what the tables and chart come from. */
interface SuiteResults {
  date: string;
  revision?: ReturnType<typeof revision>;
  machine: ReturnType<typeof machine>;
  versions: Record<string, string>;
  config: SuiteConfig & { quick: boolean; only: number[] };
  bufferutil: Partial<Record<VariantKey, boolean>>;
  totalSeconds: number;
  scenarioSeconds: Record<string, number>;
  variants: readonly VariantKey[];
  figures: Figure[];
  verdicts: Array<{ figure: string; target: string; met: boolean | undefined; detail: string }>;
  failures: Array<{ scenario: number; error: string }>;
}

function machineLine(m: SuiteResults['machine']): string {
  return `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, node ${m.node}`;
}

function runsText(config: SuiteConfig): string {
  return config.runs === config.heavyRuns
    ? `${config.runs} run(s) per figure`
    : `${config.runs} runs per echo figure, ${config.heavyRuns} per memory and streaming figure`;
}

/** Renders the tables (markdown), the chart (SVG) and the markdown file of a run's results. */
function render(results: SuiteResults): { report: string; markdown: string; svg: string } {
  const { figures, failures, versions, config } = results;
  const cpu = cpuTable(figures);
  const notes = [
    'Absolute figures: median of the runs ±half their spread (max-min)/median. MB/s: payload bytes (10^6) echoed (or received) per second; msg/s: messages echoed per second; KiB/conn: server memory growth per connection after GC; MiB: peak RSS (maxRSS) of the process.',
    'Ratios: median (lowest-highest) of the per-run ratios, each run paired with the ws run of the same round. "higher"/"lower": which way is better for the figure.',
    "CPU per message: user + system time of the client process over the measured phase, divided by its messages, plus the server process's over the whole run (warm-up, connection setup and close included), divided by all the messages it echoed; for 10-p50 (the open loop), both processes' over the measured phase alone.",
    `ws = ws ${versions.ws} with bufferutil (its masking add-on; on Node 20 ws validates UTF-8 with node's own buffer.isUtf8 either way); ws (no add-ons) = WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1; websocket = WebSocket-Node ${versions.websocket} (its own bufferutil); plain TCP = 4-byte length prefix, store-and-forward echo (bench/lib/length-prefix.ts).`,
  ];
  // One note per reason, listing the figures and variants it applies to.
  const reasons = new Map<string, { ids: Set<string>; variants: Set<string> }>();
  for (const f of figures) {
    for (const [v, why] of Object.entries(f.missing)) {
      const entry = reasons.get(why) ?? { ids: new Set(), variants: new Set() };
      entry.ids.add(f.id);
      entry.variants.add(VARIANT_TITLES[v as VariantKey]);
      reasons.set(why, entry);
    }
  }
  const missingNotes = [...reasons].map(
    ([why, { ids, variants }]) => `${[...ids].join(', ')}, ${[...variants].join(' and ')}: ${why}`,
  );
  const report = [
    '### Absolute figures',
    '',
    absoluteTable(figures),
    '',
    '### Ratios against ws (with bufferutil), paired per run',
    '',
    ratioTable(figures),
    '',
    ...(cpu === undefined
      ? []
      : [
          '### CPU time per echoed message, client + server (µs): steadier than the rates on a busy machine',
          '',
          cpu,
          '',
        ]),
    ...notes.map((n) => `- ${n}`),
    ...missingNotes.map((n) => `- ${n}`),
    ...failures.map((f) => `- Scenario ${f.scenario} FAILED: ${f.error.split('\n')[0]}`),
  ].join('\n');
  const dateText = results.date.slice(0, 10);
  const machineText = machineLine(results.machine);
  const svg = ratioChart(
    figures,
    'websocket-duplex against ws (= 1.0x) and WebSocket-Node: ratios, median of paired runs',
    `${dateText}, ${machineText}, ${runsText(config)}; npm run bench`,
    figures.filter((f) => f.values.ws === undefined).map(footnoteFor),
  );
  const at =
    results.revision === undefined
      ? ''
      : ` at ${results.revision.commit}${results.revision.libChanges.length === 0 ? '' : ' (with uncommitted lib/ changes)'}`;
  const markdown = `${report}\n\n${dateText}, ours${at}, on ${machineText}; ${runsText(config)}; total ${results.totalSeconds.toFixed(0)} s.\n`;
  return { report, markdown, svg };
}

/** --render=FILE: redraws the tables, the markdown file and the chart of a results file. */
function renderOnly(file: string): void {
  const results = JSON.parse(readFileSync(file, 'utf8')) as SuiteResults;
  const rendered = render(results);
  console.log(rendered.report);
  const latest = resolve(file) === join(resultsDir, 'latest.json');
  const md = latest ? join(resultsDir, 'latest.md') : join(resultsDir, 'partial.md.tmp');
  const svg = latest ? join(root, 'bench', 'chart.svg') : join(resultsDir, 'chart.svg.tmp');
  writeFileSync(md, rendered.markdown);
  writeFileSync(svg, rendered.svg);
  console.log(
    `\nWrote ${relative(root, md)} and ${relative(root, svg)} from ${relative(root, file)}.`,
  );
}

const renderFile = option('render');
if (renderFile !== undefined) renderOnly(renderFile);
else await main();
