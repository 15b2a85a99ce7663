/**
 * Fuzzes the handshake parsers with a million seeded requests and responses, valid and
 * mutated, against references written from their documented contracts (see
 * engines/handshake-fuzz.ts). FUZZ_SEED=n replays another seed.
 */
import { expect, it } from 'vitest';
import { fuzzSeed } from '../helpers/seeded-random.js';
import { fuzzHandshake } from './engines/handshake-fuzz.js';

const INPUTS = 1_000_000;

it(`parses ${INPUTS.toLocaleString('en')} handshakes as the references do, failing only with HTTP statuses`, () => {
  const report = fuzzHandshake(fuzzSeed(0x4a5d_0001), INPUTS);
  console.log(
    `handshake fuzz: ${report.inputs} inputs in ${report.ms} ms; ${report.accepted} accepted, ` +
      `${report.deflateAgreements} permessage-deflate agreements, slowest call ${report.maxCallMicros.toFixed(0)} µs ` +
      `(${report.slowestRetimedMicros.toFixed(0)} µs re-timed alone, bound 5 ms); ` +
      `refusals ${JSON.stringify(report.statuses)}`,
  );
  expect(report.failures).toEqual([]);
  expect(report.inputs).toBe(INPUTS);
  for (const status of [
    '400 ERR_WS_HANDSHAKE',
    '400 ERR_WS_INVALID_HEADER',
    '405 ERR_WS_HANDSHAKE',
    '426 ERR_WS_HANDSHAKE',
  ]) {
    expect(report.statuses[status], status).toBeGreaterThan(0);
  }
}, 180_000);
