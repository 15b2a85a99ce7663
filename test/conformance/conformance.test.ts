/**
 * The conformance suite: every case of test/conformance/cases/ against our server (a raw
 * client peer and an echo server) and against our client (a raw server peer and a client
 * that echoes), each judged strictly, then a summary: cases run, passed, failed.
 *
 * Cases run five at a time, except the large-message ones (group 9), which run one at a
 * time to bound memory. Deterministic: every run sends the same bytes.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { casesFor, KNOWN_FAILURES } from './cases/index.js';
import { ConformanceEnv, describeExpectation, runCase } from './cases/runner.js';
import { ConformanceSummary } from './cases/summary.js';
import type { ConformanceCase, Side } from './cases/types.js';

const env = new ConformanceEnv();
const summary = new ConformanceSummary();

afterAll(async () => {
  console.log(summary.format('RFC 6455 + RFC 7692, server and client'));
  await env.close();
  expect(env.openClients, 'client connections left open after the suite').toBe(0);
});

async function check(side: Side, c: ConformanceCase): Promise<void> {
  const result = await runCase(c, side, env);
  const known = KNOWN_FAILURES.get(`${side} ${c.id}`);
  summary.record(side, c, result, known);
  const report = `${side} ${c.id}: ${describeExpectation(c)}\n  seen: ${result.seen.join(', ')}`;
  if (known !== undefined) {
    expect(result.passed, `${report}\n  passes now: remove it from KNOWN_FAILURES (${known})`).toBe(
      false,
    );
    return;
  }
  expect(result.problems, report).toEqual([]);
}

for (const side of ['server', 'client'] as const) {
  const cases = casesFor(side);
  describe(`our ${side}`, () => {
    describe.concurrent('cases', () => {
      for (const c of cases.filter((k) => k.group !== 'Limits')) {
        it(`${c.id} ${c.title}`, () => check(side, c), 60_000);
      }
    });
    describe('large messages, one at a time', () => {
      for (const c of cases.filter((k) => k.group === 'Limits')) {
        it(`${c.id} ${c.title}`, () => check(side, c), 60_000);
      }
    });
  });
}
