/**
 * Fuzzes message assembly against a reference assembler (see engines/assembler-fuzz.ts): a
 * million seeded inputs through MessageAssembler, a sample of them through its real stream
 * writes, and the connection's InboundProcessor (bytes to messages). FUZZ_SEED=n replays
 * another seed; bench/fuzz-long.ts runs larger sizes.
 */
import { expect, it } from 'vitest';
import { fuzzSeed } from '../helpers/seeded-random.js';
import {
  type AssemblerFuzzReport,
  fuzzInboundProcessor,
  fuzzMessageAssembler,
} from './engines/assembler-fuzz.js';

const INPUTS = 1_000_000;
const seed = fuzzSeed(0xa55e_0001);

function show(name: string, report: AssemblerFuzzReport): void {
  console.log(
    `${name}: ${report.inputs} inputs (${report.frames} frames) in ${report.ms} ms; ` +
      `${report.messages} messages, failures by code ${JSON.stringify(report.errors)}`,
  );
}

const MESSAGE_RULES = [
  'ERR_WS_EXPECTED_CONTINUATION',
  'ERR_WS_INVALID_OPCODE',
  'ERR_WS_INVALID_UTF8',
  'ERR_WS_MESSAGE_TOO_LARGE',
  'ERR_WS_UNEXPECTED_CONTINUATION',
];

it(`MessageAssembler assembles ${INPUTS.toLocaleString('en')} frame sequences as the reference does`, () => {
  const report = fuzzMessageAssembler(seed, INPUTS);
  show('MessageAssembler fuzz', report);
  expect(report.failures).toEqual([]);
  expect(report.inputs).toBe(INPUTS);
  expect(Object.keys(report.errors).sort()).toEqual(MESSAGE_RULES);
}, 120_000);

it('MessageAssembler gives the same through its stream writes (20,000 sequences)', () => {
  const report = fuzzMessageAssembler(seed + 1, 20_000, true);
  show('MessageAssembler through streams', report);
  expect(report.failures).toEqual([]);
}, 60_000);

it('InboundProcessor turns 200,000 byte streams into the reference messages', () => {
  const report = fuzzInboundProcessor(seed + 2, 200_000);
  show('InboundProcessor fuzz', report);
  expect(report.failures).toEqual([]);
  for (const rule of MESSAGE_RULES) expect(report.errors[rule], rule).toBeGreaterThan(0);
}, 120_000);
