/**
 * Draws the suite's ratio chart as a self-contained SVG (hand-written, no dependency): one
 * group of horizontal bars per figure, each bar a variant's paired ratio against ws on a
 * log scale, with ws at 1.0x. Figures without a ws value (ws cannot run them) are listed as
 * text under the bars.
 */
import { formatNumber, median } from './stats.js';
import {
  type Figure,
  figureRatio,
  presentVariants,
  VARIANT_TITLES,
  type VariantKey,
} from './suite-results.js';

const COLORS: Record<VariantKey, string> = {
  ours: '#1f6feb',
  ws: '#6e7781',
  'ws-js': '#a0a7b0',
  websocket: '#d29922',
  tcp: '#2da44e',
};

const WIDTH = 960;
const LABEL_WIDTH = 330;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_RIGHT = WIDTH - 70;
const BAR = 11;
const BAR_GAP = 2;
const GROUP_GAP = 12;
/** The log2 range of the axis: 1/16x to 16x. */
const MIN_LOG = -4;
const MAX_LOG = 4;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function x(ratio: number): number {
  const l = Math.min(MAX_LOG, Math.max(MIN_LOG, Math.log2(ratio)));
  return PLOT_LEFT + ((l - MIN_LOG) / (MAX_LOG - MIN_LOG)) * (PLOT_RIGHT - PLOT_LEFT);
}

/** Lines of a text block, clipped to a rough character budget. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line.length === 0 ? word : `${line} ${word}`;
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

/**
 * Renders the chart. `title` heads it; `subtitle` (machine and date) goes under the title;
 * `footnotes` are figures without a ratio, one line each.
 */
export function ratioChart(
  figures: readonly Figure[],
  title: string,
  subtitle: string,
  footnotes: readonly string[],
): string {
  const charted = figures.filter((f) => f.values.ws !== undefined);
  const variants = presentVariants(charted).filter((v) => v !== 'ws');
  const out: string[] = [];
  let y = 70;
  const body: string[] = [];
  for (const f of charted) {
    const bars = variants.filter((v) => f.values[v] !== undefined || f.missing[v] !== undefined);
    const groupHeight = Math.max(1, bars.length) * (BAR + BAR_GAP);
    const labelLines = wrap(`${f.id}. ${f.label} (${f.unit}, ${f.better} is better)`, 52);
    labelLines.forEach((line, i) => {
      body.push(
        `<text x="${LABEL_WIDTH}" y="${y + 10 + i * 13}" text-anchor="end" class="label">${escapeXml(line)}</text>`,
      );
    });
    bars.forEach((v, i) => {
      const top = y + i * (BAR + BAR_GAP);
      const ratio = figureRatio(f, v, 'ws');
      if (ratio === undefined) {
        body.push(
          `<text x="${PLOT_LEFT + 4}" y="${top + BAR - 2}" class="small">${escapeXml(VARIANT_TITLES[v])}: not possible</text>`,
        );
        return;
      }
      const from = x(1);
      const to = x(ratio.median);
      const good = f.better === 'higher' ? ratio.median >= 1 : ratio.median <= 1;
      body.push(
        `<rect x="${Math.min(from, to).toFixed(1)}" y="${top}" width="${Math.max(1, Math.abs(to - from)).toFixed(1)}" height="${BAR}" fill="${COLORS[v]}"${v === 'ours' ? '' : ' fill-opacity="0.75"'}><title>${escapeXml(`${VARIANT_TITLES[v]}: ${ratio.median.toFixed(2)}x ws (runs ${ratio.min.toFixed(2)}-${ratio.max.toFixed(2)})`)}</title></rect>`,
      );
      // The spread of the paired runs, as a thin line.
      if (ratio.max > ratio.min) {
        body.push(
          `<line x1="${x(ratio.min).toFixed(1)}" x2="${x(ratio.max).toFixed(1)}" y1="${top + BAR / 2}" y2="${top + BAR / 2}" stroke="#24292f" stroke-width="1"/>`,
        );
      }
      // The label goes past the bar and its spread line.
      const anchorRight = to >= from;
      const labelX = anchorRight ? Math.max(to, x(ratio.max)) + 4 : Math.min(to, x(ratio.min)) - 4;
      body.push(
        `<text x="${labelX.toFixed(1)}" y="${top + BAR - 2}" text-anchor="${anchorRight ? 'start' : 'end'}" class="${v === 'ours' ? (good ? 'value good' : 'value bad') : 'value'}">${ratio.median.toFixed(2)}x</text>`,
      );
    });
    y += Math.max(groupHeight, labelLines.length * 13) + GROUP_GAP;
  }
  const plotBottom = y;
  // Axis: gridlines at powers of two, ws at 1.0x.
  const grid: string[] = [];
  for (let l = MIN_LOG; l <= MAX_LOG; l++) {
    const gx = x(2 ** l).toFixed(1);
    grid.push(
      `<line x1="${gx}" x2="${gx}" y1="60" y2="${plotBottom}" stroke="${l === 0 ? '#24292f' : '#d0d7de'}" stroke-width="${l === 0 ? 1.5 : 1}"/>`,
    );
    const text = l >= 0 ? `${2 ** l}x` : `1/${2 ** -l}x`;
    grid.push(
      `<text x="${gx}" y="${plotBottom + 14}" text-anchor="middle" class="small">${text}</text>`,
    );
  }
  y = plotBottom + 34;
  const legend: string[] = [];
  let lx = PLOT_LEFT;
  for (const v of ['ws', ...variants] as VariantKey[]) {
    legend.push(`<rect x="${lx}" y="${y - 9}" width="10" height="10" fill="${COLORS[v]}"/>`);
    const name = v === 'ws' ? 'ws 8 with bufferutil (= 1.0x)' : VARIANT_TITLES[v];
    legend.push(`<text x="${lx + 14}" y="${y}" class="small">${escapeXml(name)}</text>`);
    lx += 24 + name.length * 6.2;
  }
  y += 22;
  const notes: string[] = [];
  for (const note of footnotes) {
    for (const line of wrap(note, 150)) {
      notes.push(`<text x="20" y="${y}" class="small">${escapeXml(line)}</text>`);
      y += 14;
    }
  }
  const height = y + 10;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    '<style>.label{font-size:11px;fill:#24292f}.small{font-size:10px;fill:#57606a}.value{font-size:10px;fill:#57606a}.good{fill:#1a7f37;font-weight:600}.bad{fill:#cf222e;font-weight:600}.title{font-size:15px;font-weight:600;fill:#24292f}</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="24" class="title">${escapeXml(title)}</text>`,
    `<text x="20" y="42" class="small">${escapeXml(subtitle)}</text>`,
    ...grid,
    ...body,
    ...legend,
    ...notes,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

/** One line for a figure that has no ratio against ws (ws cannot run it). */
export function footnoteFor(f: Figure): string {
  const measured = (Object.keys(f.values) as VariantKey[]).map(
    (v) => `${VARIANT_TITLES[v]} ${formatNumber(median(f.values[v]!))} ${f.unit}`,
  );
  const byReason = new Map<string, string[]>();
  for (const [v, why] of Object.entries(f.missing)) {
    const reason = why.split(':')[0]!;
    byReason.set(reason, [...(byReason.get(reason) ?? []), VARIANT_TITLES[v as VariantKey]]);
  }
  const missing = [...byReason].map(([reason, names]) => `${names.join(', ')}: ${reason}`);
  const targets = f.targets.map((t) => `target for ours ${t.text}`);
  return `${f.id}. ${f.label}: ${[...measured, ...missing, ...targets].join('; ')}`;
}
