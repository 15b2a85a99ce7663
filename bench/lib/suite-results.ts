/**
 * The results of the benchmark suite (bench/run.ts): figures measured per variant and run,
 * the targets they are held to, and the two markdown tables (absolute figures, and ratios
 * against ws) printed and written to bench/results/.
 */
import {
  formatNumber,
  formatRatioSummary,
  markdownTable,
  pairedRatios,
  type Summary,
  summarize,
} from './stats.js';

/** The implementations compared, in table order. */
export const VARIANT_KEYS = ['ours', 'ws', 'ws-js', 'websocket', 'tcp'] as const;
export type VariantKey = (typeof VARIANT_KEYS)[number];

/** Column titles of the variants. */
export const VARIANT_TITLES: Record<VariantKey, string> = {
  ours: 'ours',
  ws: 'ws',
  'ws-js': 'ws (no add-ons)',
  websocket: 'websocket',
  tcp: 'plain TCP',
};

/**
 * A target a figure is held to: a paired ratio of ours against another variant (at least
 * `min`, at most `max`), or ours' own value at most `absMax`.
 */
export interface Target {
  text: string;
  against?: VariantKey;
  min?: number;
  max?: number;
  absMax?: number;
}

/** One measured figure: a row of the tables. */
export interface Figure {
  /** Stable id, e.g. '1', '6-rss', '8-1k-rate'. */
  id: string;
  scenario: number;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Raw values per run; index i of every variant was measured in the same round. */
  values: Partial<Record<VariantKey, number[]>>;
  /** Why a variant has no value (e.g. "not possible: ..."). */
  missing: Partial<Record<VariantKey, string>>;
  targets: Target[];
  /** More per-run measurements, by name, kept in the JSON (not in the tables). */
  extra: Record<string, Partial<Record<VariantKey, number[]>>>;
}

/** Whether a target is met, and the figure it was judged on. */
export interface Verdict {
  target: Target;
  met: boolean | undefined;
  detail: string;
}

/** Paired ratios a / b of a figure (undefined when either is missing). */
export function figureRatio(f: Figure, a: VariantKey, b: VariantKey): Summary | undefined {
  const x = f.values[a];
  const y = f.values[b];
  return x === undefined || y === undefined ? undefined : pairedRatios(x, y);
}

export function judge(f: Figure): Verdict[] {
  return f.targets.map((target) => {
    if (target.absMax !== undefined) {
      const ours = f.values.ours;
      if (ours === undefined) return { target, met: undefined, detail: 'not measured' };
      const worst = Math.max(...ours);
      return {
        target,
        met: worst < target.absMax,
        detail: `worst run ${formatNumber(worst)} ${f.unit}`,
      };
    }
    const ratio = figureRatio(f, 'ours', target.against ?? 'ws');
    if (ratio === undefined) return { target, met: undefined, detail: 'not measured' };
    const met =
      (target.min === undefined || ratio.median >= target.min) &&
      (target.max === undefined || ratio.median <= target.max);
    // Three decimals when two would round onto the limit and hide which side it is on.
    const limit = target.min ?? target.max ?? 1;
    const digits = Math.abs(ratio.median - limit) < 0.005 ? 3 : 2;
    return { target, met, detail: `${ratio.median.toFixed(digits)}x` };
  });
}

function formatValue(values: readonly number[] | undefined, missing: string | undefined): string {
  if (values === undefined || values.length === 0) {
    if (missing === undefined) return '-';
    return missing.startsWith('not possible') ? 'not possible' : missing;
  }
  const s = summarize(values);
  return values.length === 1
    ? formatNumber(s.median)
    : `${formatNumber(s.median)} ±${Math.round((s.spread * 100) / 2)}%`;
}

/** The variants that appear in any of the figures, in table order. */
export function presentVariants(figures: readonly Figure[]): VariantKey[] {
  return VARIANT_KEYS.filter((k) =>
    figures.some((f) => f.values[k] !== undefined || f.missing[k] !== undefined),
  );
}

/** Markdown table of the absolute figures: median ±half the spread over the runs. */
export function absoluteTable(figures: readonly Figure[]): string {
  const variants = presentVariants(figures);
  const rows = figures.map((f) => [
    f.id,
    f.label,
    f.unit,
    ...variants.map((v) => formatValue(f.values[v], f.missing[v])),
  ]);
  return markdownTable(
    ['#', 'scenario', 'unit', ...variants.map((v) => VARIANT_TITLES[v])],
    rows,
    [0, 1, 2],
  );
}

/** Markdown table of the ratios against ws (paired per run), with the targets. */
export function ratioTable(figures: readonly Figure[]): string {
  const others = presentVariants(figures).filter((v) => v !== 'ws');
  const rows = figures.map((f) => {
    const verdicts = judge(f);
    return [
      f.id,
      f.label,
      f.better === 'higher' ? 'higher' : 'lower',
      ...others.map((v) => {
        if (f.values.ws === undefined) return f.values[v] === undefined ? '-' : 'n/a';
        if (f.values[v] === undefined) return f.missing[v] === undefined ? '-' : 'not possible';
        const ratio = figureRatio(f, v, 'ws');
        return ratio?.values.length === 1
          ? `${ratio.median.toFixed(2)}x`
          : formatRatioSummary(ratio);
      }),
      verdicts.map((v) => v.target.text).join('; '),
      verdicts
        .map((v) => `${v.met === undefined ? '?' : v.met ? 'met' : 'MISSED'} (${v.detail})`)
        .join('; '),
    ];
  });
  return markdownTable(
    [
      '#',
      'scenario',
      'better',
      ...others.map((v) => `${VARIANT_TITLES[v]} / ws`),
      'target',
      'result',
    ],
    rows,
    [0, 1, 2, others.length + 3, others.length + 4],
  );
}

/** Per-run CPU time per echoed message, client plus server, of a variant (µs). */
function cpuPerMessage(f: Figure, v: VariantKey): number[] | undefined {
  const client = f.extra['client CPU per message (µs)']?.[v];
  const server = f.extra['server CPU per message (µs)']?.[v];
  if (client === undefined || server === undefined) return undefined;
  return client.map((c, i) => c + (server[i] ?? Number.NaN));
}

/**
 * Markdown table of the CPU time (user + system, client process plus server process) per
 * echoed message: what a message costs, whatever else the machine is running, where the
 * rates move with the load. Ratios are paired per run, as for the rates.
 */
export function cpuTable(figures: readonly Figure[]): string | undefined {
  const echo = figures.filter((f) => f.extra['client CPU per message (µs)'] !== undefined);
  if (echo.length === 0) return undefined;
  const variants = presentVariants(echo);
  const rows = echo.map((f) => {
    const ws = cpuPerMessage(f, 'ws');
    const ours = cpuPerMessage(f, 'ours');
    const ratio = ours === undefined || ws === undefined ? undefined : pairedRatios(ours, ws);
    return [
      f.id,
      f.label,
      ...variants.map((v) => {
        const values = cpuPerMessage(f, v);
        return values === undefined ? '-' : formatNumber(summarize(values).median);
      }),
      ratio === undefined ? '-' : formatRatioSummary(ratio),
    ];
  });
  return markdownTable(
    [
      '#',
      'scenario',
      ...variants.map((v) => `${VARIANT_TITLES[v]} µs`),
      'ours / ws (lower is better)',
    ],
    rows,
    [0, 1],
  );
}
