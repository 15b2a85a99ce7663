import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The floors of lib/ (DESIGN.md): protocol/ at the bottom, stream/ and handshake/ above it,
 * the server, client and router above those, compat/ and cli/ on top. Nothing below imports
 * compat/ or cli/ (WebSocket-Node's API is installed from compat/, not imported by the
 * connection), and no module takes part in an import cycle at run time (type-only imports
 * are erased and do not count for cycles).
 */

const ROOT = join(import.meta.dirname, '..');
const LIB = join(ROOT, 'lib');

interface Module {
  /** Relative imports that stay at run time. */
  runtime: string[];
  /** Every relative import, type-only ones included. */
  all: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

function readGraph(): Map<string, Module> {
  const graph = new Map<string, Module>();
  const statement = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^;'"]*?from\s+['"](\.[^'"]+)['"]/g;
  for (const file of sourceFiles(LIB)) {
    const module: Module = { runtime: [], all: [] };
    for (const match of readFileSync(file, 'utf8').matchAll(statement)) {
      const target = relative(
        ROOT,
        normalize(join(dirname(file), match[3]!.replace(/\.js$/, '.ts'))),
      );
      module.all.push(target);
      if (match[2] === undefined) module.runtime.push(target);
    }
    graph.set(relative(ROOT, file), module);
  }
  return graph;
}

/** The strongly connected components of more than one module (Tarjan). */
function cycles(graph: Map<string, Module>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.runtime ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('the floors of lib/', () => {
  const graph = readGraph();

  it('reads the whole tree', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('lib/stream/websocket-connection.ts')?.runtime.length).toBeGreaterThan(3);
  });

  it('has no import cycle at run time', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle when there is one (the checker itself)', () => {
    const planted = new Map(graph);
    planted.set('lib/a.ts', { runtime: ['lib/b.ts'], all: ['lib/b.ts'] });
    planted.set('lib/b.ts', { runtime: ['lib/a.ts'], all: ['lib/a.ts'] });
    expect(cycles(planted)).toEqual([['lib/a.ts', 'lib/b.ts']]);
  });

  it('imports compat/ and cli/ from nowhere below them', () => {
    const below = /^lib\/(protocol|stream|handshake|extensions|web|redis)\//;
    const upward = [...graph].flatMap(([file, module]) =>
      below.test(file)
        ? module.all.filter((t) => /^lib\/(compat|cli)\//.test(t)).map((t) => `${file} -> ${t}`)
        : [],
    );
    expect(upward).toEqual([]);
  });
});
