/**
 * Fuzzes FrameDecoder with a million seeded random and mutated inputs, each checked against
 * a reference decoder (see engines/frame-decoder-fuzz.ts). FUZZ_SEED=n replays another seed;
 * bench/fuzz-long.ts runs the same engine at a larger size.
 */
import { expect, it } from 'vitest';
import { fuzzSeed } from '../helpers/seeded-random.js';
import { fuzzFrameDecoder } from './engines/frame-decoder-fuzz.js';

const INPUTS = 1_000_000;

it(`decodes ${INPUTS.toLocaleString('en')} random and mutated inputs as the reference does`, () => {
  const report = fuzzFrameDecoder(fuzzSeed(0xf4a3_0001), INPUTS);
  console.log(
    `frame decoder fuzz: ${report.inputs} inputs in ${report.ms} ms; ${report.withFrames} gave frames, ` +
      `${report.withErrors} failed: ${JSON.stringify(report.errors)}`,
  );
  expect(report.failures).toEqual([]);
  expect(report.inputs).toBe(INPUTS);
  // The inputs reach every rule, not just the first check.
  expect(Object.keys(report.errors).sort()).toEqual(
    [
      'ERR_WS_CONTROL_FRAME_TOO_LONG',
      'ERR_WS_FRAGMENTED_CONTROL_FRAME',
      'ERR_WS_FRAME_TOO_LARGE',
      'ERR_WS_INVALID_LENGTH',
      'ERR_WS_INVALID_OPCODE',
      'ERR_WS_MASK_REQUIRED',
      'ERR_WS_RESERVED_BITS',
      'ERR_WS_UNEXPECTED_MASK',
    ].sort(),
  );
}, 120_000);
