/**
 * Small statistics and report helpers shared by the benchmarks: a median and spread over a
 * few runs, number formatting, and a markdown table that reads well in a terminal too.
 */

/** The summary of a few repeated measurements of one figure. */
export interface Summary {
  /** The middle value (the mean of the two middle ones for an even count). */
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how far apart the runs were, 0 for a single run. */
  spread: number;
  /** The raw values, in measurement order. */
  values: number[];
}

/** Returns the median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Summarizes repeated measurements: median, extremes and relative spread. */
export function summarize(values: readonly number[]): Summary {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, spread: m > 0 ? (max - min) / m : 0, values: [...values] };
}

/** Formats a rate: thousands separators from 100 up, one decimal below. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

/** Formats a median with its spread, e.g. `1,234 ±3%`. */
export function formatSummary(s: Summary, scale = 1): string {
  return `${formatNumber(s.median * scale)} ±${Math.round((s.spread * 100) / 2)}%`;
}

/** Formats a ratio as `1.23x` (or `n/a` when it cannot be computed). */
export function formatRatio(ours: number, theirs: number): string {
  if (!(ours > 0) || !(theirs > 0)) return 'n/a';
  return `${(ours / theirs).toFixed(2)}x`;
}

/**
 * Summarizes the ratios a[i] / b[i] of measurements taken in pairs (run i of each, back to
 * back): steadier than the ratio of two medians when the machine's load drifts during a run.
 */
export function pairedRatios(a: readonly number[], b: readonly number[]): Summary | undefined {
  const n = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) if (a[i]! > 0 && b[i]! > 0) ratios.push(a[i]! / b[i]!);
  return ratios.length === 0 ? undefined : summarize(ratios);
}

/** Formats a ratio summary as `1.23x (0.95-1.40)`: the median, then the lowest and highest. */
export function formatRatioSummary(s: Summary | undefined): string {
  if (s === undefined) return 'n/a';
  return `${s.median.toFixed(2)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
}

/** Formats a byte count as B, KiB or MiB. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

/**
 * Renders a markdown table with padded columns. Columns listed in `alignLeft` (by index,
 * default the first) are left-aligned, the others right-aligned (numbers).
 */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
  alignLeft: readonly number[] = [0],
): string {
  const left = new Set(alignLeft);
  const widths = head.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) =>
    left.has(i) ? text.padEnd(widths[i]!) : text.padStart(widths[i]!);
  const line = (cells: readonly string[]) =>
    `| ${head.map((_, i) => cell(cells[i] ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (left.has(i) ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}
