import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

/** One command-line option, as parseArgs wants it plus what --help says about it. */
export interface OptionSpec {
  /** Long name, without the dashes. */
  name: string;
  short?: string;
  /** 'boolean' for a flag; 'string' for an option that takes a value. */
  type: 'boolean' | 'string';
  /** May be given several times (values are collected in order). */
  multiple?: boolean;
  /** The value's placeholder in --help (NAME, FILE, DURATION...). */
  value?: string;
  help: string;
}

/** A positional argument, for the usage line and --help. */
export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
}

/** What a command declares about its arguments; --help is made from it. */
export interface CommandSpec {
  name: string;
  summary: string;
  positionals: readonly PositionalSpec[];
  options: readonly OptionSpec[];
  /** Paragraphs printed after the options (modes, exit status...). */
  notes?: readonly string[];
  examples: readonly string[];
  /**
   * What to say about options of other tools that this command does not take (wscat's,
   * websocat's), by spelling: the unknown-option error adds it.
   */
  foreignOptions?: Readonly<Record<string, string>>;
}

/** Parsed option values, by long name. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The result of parsing a command's arguments. */
export interface ParsedArgs {
  values: OptionValues;
  positionals: string[];
}

/** The option every command has. */
export const HELP_OPTION: OptionSpec = {
  name: 'help',
  short: 'h',
  type: 'boolean',
  help: 'show this help and exit',
};

/**
 * Parses `argv` against a command's spec with node:util's parseArgs, turning its errors
 * into one-line UsageErrors (exit status 2) of our own wording, with the nearest option
 * suggested and a word on other tools' options, so that a typo never ends in a stack trace
 * or in parseArgs's text.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options: Record<
    string,
    { type: 'boolean' | 'string'; short?: string; multiple?: boolean }
  > = {};
  for (const option of [...spec.options, HELP_OPTION]) {
    options[option.name] = {
      type: option.type,
      ...(option.short === undefined ? {} : { short: option.short }),
      ...(option.multiple === true ? { multiple: true } : {}),
    };
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as OptionValues, positionals };
  } catch (err) {
    throw new UsageError(
      `${describeParseError(spec, err as Error)} (see: wsdx ${spec.name} --help)`,
    );
  }
}

/** Words parseArgs's errors in our own terms (its text quotes unevenly and speaks of '--'). */
function describeParseError(spec: CommandSpec, err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const message = err.message;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /option '([^']+)'/i.exec(message)?.[1] ?? message;
    const foreign = spec.foreignOptions?.[option.split('=')[0]!];
    if (foreign !== undefined) return `wsdx ${spec.name} has no ${option}: ${foreign}`;
    const near = nearestOption(spec, option);
    return `unknown option ${option} for wsdx ${spec.name}${near === undefined ? '' : `; did you mean ${near}?`}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const names = /Option '(?:-(\w), )?--([\w-]+)/.exec(message);
    if (names !== null) {
      const option = spec.options.find((o) => o.name === names[2]);
      if (option?.type === 'string')
        return `--${names[2]} needs a value (${option.value ?? 'VALUE'})`;
      return `--${names[2]} takes no value`;
    }
  }
  return message.split('\n')[0]!.replace(/'/g, '');
}

/** The command's option nearest to a misspelt one (at most 2 edits away), for a suggestion. */
function nearestOption(spec: CommandSpec, given: string): string | undefined {
  const name = given.replace(/^-+/, '').split('=')[0]!;
  let best: { label: string; distance: number } | undefined;
  for (const option of [...spec.options, HELP_OPTION]) {
    const distance = editDistance(name, option.name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) {
      best = { label: `--${option.name}`, distance };
    }
  }
  return best?.label;
}

/** Levenshtein distance, for suggestions (short strings only). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Checks the number of positionals, so that a missing URL or a stray word is reported
 * with the command's usage line rather than discovered later.
 */
export function expectPositionals(spec: CommandSpec, positionals: readonly string[]): string[] {
  const required = spec.positionals.filter((p) => p.optional !== true).length;
  if (positionals.length < required || positionals.length > spec.positionals.length) {
    throw new UsageError(`usage: ${usageLine(spec)} (see: wsdx ${spec.name} --help)`);
  }
  return [...positionals];
}

/** Gives the usage line of a command, from its spec. */
export function usageLine(spec: CommandSpec): string {
  const args = spec.positionals.map((p) => (p.optional === true ? `[${p.name}]` : p.name));
  return ['wsdx', spec.name, '[options]', ...args].join(' ');
}

/** Renders a command's --help text, so that help and parsing can never disagree. */
export function renderHelp(spec: CommandSpec): string {
  const lines = [`Usage: ${usageLine(spec)}`, '', spec.summary, ''];
  if (spec.positionals.length > 0) {
    lines.push('Arguments:');
    for (const p of spec.positionals) lines.push(row(p.name, p.help));
    lines.push('');
  }
  lines.push('Options:');
  for (const option of [...spec.options, HELP_OPTION])
    lines.push(row(optionLabel(option), option.help));
  for (const note of spec.notes ?? []) lines.push('', note);
  if (spec.examples.length > 0) {
    lines.push('', 'Examples:');
    for (const example of spec.examples) lines.push(`  ${example}`);
  }
  return `${lines.join('\n')}\n`;
}

function optionLabel(option: OptionSpec): string {
  const short = option.short === undefined ? '    ' : `-${option.short}, `;
  const value = option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : '';
  return `${short}--${option.name}${value}`;
}

const LABEL_WIDTH = 28;
const HELP_WIDTH = 70;

function row(label: string, help: string): string {
  const indent = ' '.repeat(LABEL_WIDTH + 2);
  const pad =
    label.length + 2 >= LABEL_WIDTH ? `\n${indent}` : ' '.repeat(LABEL_WIDTH - label.length);
  return `  ${label}${pad}${wrap(help, HELP_WIDTH).join(`\n${indent}`)}`;
}

/** Cuts a text into lines of at most `width` characters, at spaces. */
function wrap(value: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of value.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

// ---------------------------------------------------------------- typed accessors

/** Reads a flag (false when absent). */
export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/** Reads a string option (the last one, when repeated). */
export function text(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) return stringOf(value[value.length - 1]);
  return stringOf(value);
}

/** Reads a repeatable string option (empty when absent). */
export function list(values: OptionValues, name: string): string[] {
  const value = values[name];
  const all = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return all.filter((v): v is string => typeof v === 'string');
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A duration as typed: a number with an optional unit. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const FOREVER: ReadonlySet<string> = new Set(['inf', 'infinity', 'never']);

/** What a duration option accepts besides a positive number. */
export interface DurationRange {
  /** 0 is allowed (meaning "at once"). */
  zero?: boolean;
  /** `inf`, `infinity` and `never` are allowed, and read as Infinity. */
  forever?: boolean;
}

/**
 * Reads a duration in milliseconds: `500ms`, `2s`, `1.5m`, `1h`, or a bare number of
 * seconds, the unit of wscat and websocat, so that `--ping-interval 10` means what users
 * expect; `inf`/`never` where waiting forever makes sense.
 */
export function duration(
  values: OptionValues,
  name: string,
  range: DurationRange = {},
): number | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  const trimmed = raw.trim().toLowerCase();
  if (range.forever === true && FOREVER.has(trimmed)) return Number.POSITIVE_INFINITY;
  const match = DURATION_PATTERN.exec(trimmed);
  const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000);
  if (!Number.isFinite(ms) || ms < (range.zero === true ? 0 : 1) || ms > 2 ** 31 - 1) {
    const examples = `10, 2.5s, 500ms or 1h${range.forever === true ? ', or inf' : ''}`;
    throw new UsageError(
      `--${name} takes a duration such as ${examples}, got ${JSON.stringify(raw)}`,
    );
  }
  return Math.round(ms);
}

/** Parses an integer within [min, max], or throws a UsageError naming `what`. */
export function parseInteger(raw: string, what: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
