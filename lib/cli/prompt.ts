import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import type { MessageSummary } from './framing.js';
import { type Color, colorsFor, formatBytes, paint } from './output.js';

/** Bytes of a received message that the interactive view shows. */
export const PREVIEW_BYTES = 4096;

/**
 * An interactive line prompt on the terminal. Lines printed while the user types appear
 * above the prompt, and the half-typed line is redrawn below them, so that received
 * messages never garble the input.
 *
 * Events: 'line' (text), 'eof' (Ctrl-D), 'interrupt' (Ctrl-C).
 */
export class Prompt extends EventEmitter {
  readonly colors: boolean;
  readonly #rl: readline.Interface;
  #closed = false;

  constructor(promptText = '> ') {
    super();
    this.colors = colorsFor(process.stdout);
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      prompt: promptText,
      terminal: true,
      historySize: 200,
    });
    this.#rl.on('line', (line) => {
      this.emit('line', line);
      if (!this.#closed) this.#rl.prompt();
    });
    this.#rl.on('SIGINT', () => this.emit('interrupt'));
    this.#rl.on('close', () => {
      const wasOpen = !this.#closed;
      this.#closed = true;
      // Leave no bare prompt behind: what is printed next starts on a clean line.
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      if (wasOpen) this.emit('eof');
    });
    this.#rl.prompt();
  }

  /** Prints a line above the prompt, in a color when the terminal has them. */
  print(line: string, color?: Color): void {
    const shown = color === undefined ? line : paint(color, line, this.colors);
    if (this.#closed) {
      process.stdout.write(`${shown}\n`);
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    process.stdout.write(`${shown}\n`);
    this.#rl.prompt(true);
  }

  /** Stops reading the terminal (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rl.close();
  }
}

/**
 * Formats a received or sent message for the terminal: the direction ('<' in, '>' out),
 * the type, and the content (text as is, binary as a hex and ASCII preview).
 */
export function formatMessage(direction: '<' | '>', summary: MessageSummary, label = ''): string {
  const who = label === '' ? '' : `${label} `;
  if (!summary.binary) {
    const shown = summary.head.toString('utf8');
    const more =
      summary.size > summary.head.length ? ` ... (${formatBytes(summary.size)} in all)` : '';
    return `${direction} ${who}[text] ${shown}${more}`;
  }
  const preview = summary.head.subarray(0, 16);
  const hex = [...preview].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const ascii = [...preview]
    .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'))
    .join('');
  const more = summary.size > preview.length ? ' ...' : '';
  return `${direction} ${who}[binary ${formatBytes(summary.size)}] ${hex}${more} |${ascii}|`;
}
