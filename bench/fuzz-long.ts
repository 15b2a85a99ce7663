/**
 * The long fuzz run: the engines of test/fuzz/ at a larger size than CI runs them (20x by
 * default), each with its own seed, printing a report per engine and exiting 1 on any
 * failure. Not a benchmark and not a test: run it by hand or in a nightly job.
 *
 *   node --import tsx bench/fuzz-long.ts                 # 20x CI: 20 M inputs per parser
 *   node --import tsx bench/fuzz-long.ts --scale 100     # 100x
 *   node --import tsx bench/fuzz-long.ts --seed 42       # another seed (the CI seeds by default)
 *   node --import tsx bench/fuzz-long.ts --only handshake
 *
 * A failure prints its seed and input index; FUZZ_SEED=<seed> replays it in the CI tests.
 */
import { parseArgs } from 'node:util';
import { fuzzInboundProcessor, fuzzMessageAssembler } from '../test/fuzz/engines/assembler-fuzz.js';
import { fuzzConnections } from '../test/fuzz/engines/connection-fuzz.js';
import { fuzzFrameDecoder } from '../test/fuzz/engines/frame-decoder-fuzz.js';
import { fuzzHandshake } from '../test/fuzz/engines/handshake-fuzz.js';
import { ServerProcess } from '../test/helpers/server-process.js';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '20' },
    seed: { type: 'string' },
    only: { type: 'string' },
  },
});
const scale = Number(values.scale);
if (!(scale > 0)) throw new Error('--scale must be a positive number');
const seedOf = (ciSeed: number): number =>
  values.seed === undefined ? ciSeed : Number(values.seed) >>> 0;

/** The CI sizes (see test/fuzz/*.test.ts) and seeds. */
const CI = {
  decoder: { inputs: 1_000_000, seed: 0xf4a3_0001 },
  assembler: { inputs: 1_000_000, seed: 0xa55e_0001 },
  inbound: { inputs: 200_000, seed: 0xa55e_0003 },
  handshake: { inputs: 1_000_000, seed: 0x4a5d_0001 },
  connection: { inputs: 2_000, seed: 0xc0_0001 },
};

let failed = false;
function report(name: string, r: { failures: string[]; ms: number }, summary: string): void {
  console.log(
    `${name}: ${summary} in ${(r.ms / 1000).toFixed(1)} s; ${r.failures.length === 0 ? 'no failure' : 'FAILURES:'}`,
  );
  for (const f of r.failures) console.log(`  ${f}`);
  if (r.failures.length > 0) failed = true;
}

const want = (name: string): boolean => values.only === undefined || values.only === name;

if (want('decoder')) {
  const r = fuzzFrameDecoder(seedOf(CI.decoder.seed), Math.round(CI.decoder.inputs * scale));
  report(
    'frame decoder',
    r,
    `${r.inputs} inputs, ${r.withErrors} refused ${JSON.stringify(r.errors)}`,
  );
}
if (want('assembler')) {
  const r = fuzzMessageAssembler(
    seedOf(CI.assembler.seed),
    Math.round(CI.assembler.inputs * scale),
  );
  report('MessageAssembler', r, `${r.inputs} inputs, ${r.frames} frames, ${r.messages} messages`);
  const s = fuzzMessageAssembler(seedOf(CI.assembler.seed) + 1, Math.round(20_000 * scale), true);
  report('MessageAssembler (stream writes)', s, `${s.inputs} inputs`);
}
if (want('inbound')) {
  const r = fuzzInboundProcessor(seedOf(CI.inbound.seed), Math.round(CI.inbound.inputs * scale));
  report('InboundProcessor', r, `${r.inputs} inputs, ${r.messages} messages`);
}
if (want('handshake')) {
  const r = fuzzHandshake(seedOf(CI.handshake.seed), Math.round(CI.handshake.inputs * scale));
  report(
    'handshake parsers',
    r,
    `${r.inputs} inputs, ${r.accepted} accepted, slowest call ${r.slowestRetimedMicros.toFixed(0)} µs alone`,
  );
}
if (want('connection')) {
  const server = await ServerProcess.start({
    server: { perMessageDeflate: true, closeTimeout: 1_000 },
  });
  try {
    const before = await server.stats();
    const r = await fuzzConnections(
      server.port,
      seedOf(CI.connection.seed),
      Math.round(CI.connection.inputs * scale),
      {
        concurrency: 32,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const after = await server.stats();
    const leaked =
      JSON.stringify(after.resources) !== JSON.stringify(before.resources) || after.sockets > 0;
    if (!server.alive) r.failures.push(`the server process died: ${server.exitReport}`);
    if (leaked)
      r.failures.push(
        `resources before ${JSON.stringify(before.resources)}, after ${JSON.stringify(after.resources)}`,
      );
    report('connections', r, `${r.sessions} sessions, endings ${JSON.stringify(r.endings)}`);
  } finally {
    await server.stop();
  }
}

process.exitCode = failed ? 1 : 0;
