/** Every conformance case, in Autobahn's group order, and the failures already reported. */
import { closeGroup } from './close.js';
import { compressionGroup } from './compression.js';
import { fragmentationGroup } from './fragmentation.js';
import { framingGroups } from './framing.js';
import { limitsGroup } from './limits.js';
import type { ConformanceCase, Side } from './types.js';
import { utf8Group } from './utf8.js';

export const allCases: readonly ConformanceCase[] = [
  ...framingGroups,
  ...fragmentationGroup,
  ...utf8Group,
  ...closeGroup,
  ...limitsGroup,
  ...compressionGroup,
];

/** The cases that run against one side. */
export function casesFor(side: Side): ConformanceCase[] {
  return allCases.filter((c) => (c.sides ?? ['server', 'client']).includes(side));
}

/**
 * Cases whose strict expectation our implementation does not meet yet, keyed `side id`,
 * each with the bug it shows. The suite asserts that they still fail, so a fix makes the
 * suite ask for the entry's removal. Empty: every case is met strictly.
 */
export const KNOWN_FAILURES: ReadonlyMap<string, string> = new Map<string, string>();
