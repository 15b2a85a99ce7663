/**
 * Collects the outcome of every conformance case and prints the summary: cases run, passed,
 * failed, overall and per group, with each failure's expectation and what was seen.
 */
import type { CaseResult } from './runner.js';
import type { ConformanceCase, Side } from './types.js';

interface Row {
  side: Side;
  c: ConformanceCase;
  result: CaseResult;
  /** The bug a failure is already reported as, if it is a known one. */
  known: string | undefined;
}

export class ConformanceSummary {
  readonly #rows: Row[] = [];

  record(side: Side, c: ConformanceCase, result: CaseResult, known?: string): void {
    this.#rows.push({ side, c, result, known });
  }

  get run(): number {
    return this.#rows.length;
  }

  get passed(): number {
    return this.#rows.filter((r) => r.result.passed).length;
  }

  get failed(): number {
    return this.run - this.passed;
  }

  /** Failures that are known, reported bugs. */
  get knownFailures(): number {
    return this.#rows.filter((r) => !r.result.passed && r.known !== undefined).length;
  }

  /** The summary, as printed: a table per side and group, failures, and one closing line. */
  format(label: string): string {
    const lines: string[] = [];
    const groups = new Map<string, { run: number; passed: number; ms: number }>();
    for (const { side, c, result } of this.#rows) {
      const key = `${side.padEnd(6)} ${c.group}`;
      const g = groups.get(key) ?? { run: 0, passed: 0, ms: 0 };
      g.run++;
      if (result.passed) g.passed++;
      g.ms += result.ms;
      groups.set(key, g);
    }
    lines.push(`Conformance (${label}) by side and group:`);
    for (const [key, g] of groups) {
      lines.push(
        `  ${key.padEnd(34)} ${String(g.run).padStart(4)} run ${String(g.passed).padStart(4)} passed ${String(g.run - g.passed).padStart(3)} failed ${String(g.ms).padStart(6)} ms`,
      );
    }
    for (const { side, c, result, known } of this.#rows.filter((r) => !r.result.passed)) {
      lines.push(`  FAILED ${side} ${c.id} ${c.title}${known === undefined ? '' : ' (known)'}`);
      if (known !== undefined) lines.push(`    ${known}`);
      for (const p of result.problems) lines.push(`    ${p}`);
      lines.push(`    expected: ${result.expected.join(', ')}`);
      lines.push(`    seen:     ${result.seen.join(', ')}`);
    }
    const known = this.knownFailures;
    lines.push(
      `Conformance (${label}): ${this.run} cases run, ${this.passed} passed, ${this.failed} failed` +
        (known > 0 ? ` (${known} of them known lib bugs, reported)` : ''),
    );
    return lines.join('\n');
  }
}
