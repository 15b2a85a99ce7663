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
 * into UsageErrors (exit status 2) that point at --help, so that a typo never ends in a
 * stack trace.
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
    throw new UsageError(`${(err as Error).message} (see: wsdx ${spec.name} --help)`);
  }
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

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * Reads a duration in milliseconds: `500ms`, `2s`, `1.5m`, or a bare number of seconds,
 * the unit of wscat and websocat, so that `--ping-interval 10` means what users expect.
 */
export function duration(
  values: OptionValues,
  name: string,
  allowZero = false,
): number | undefined {
  const raw = text(values, name);
  if (raw === undefined) return undefined;
  const match = DURATION.exec(raw.trim());
  const ms = match === null ? Number.NaN : Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000);
  if (!Number.isFinite(ms) || ms < (allowZero ? 0 : 1) || ms > 2 ** 31 - 1) {
    throw new UsageError(
      `--${name} takes a duration such as 10, 2.5s or 500ms, got ${JSON.stringify(raw)}`,
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
