// What commands print. Results go to stdout, as JSON with --json or as text for people; notes, warnings
// and progress go to stderr so that stdout stays clean for pipes.
import { isAbsolute, relative, resolve } from 'node:path';
import { styleText } from 'node:util';
import type { Io } from './io.ts';

export class Output {
  readonly json: boolean;
  private readonly io: Io;

  constructor(io: Io, options: { json?: boolean } = {}) {
    this.io = io;
    this.json = options.json === true;
  }

  /** The command's result: JSON with --json, otherwise the human rendering. */
  result<T>(value: T, human: (value: T) => string): void {
    this.io.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`);
  }

  /** A line of human output on stdout (suppressed with --json, where only the result is printed). */
  line(text = ''): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** A warning that must not be missed: bold on a colour terminal, plain otherwise. */
  warn(text: string): void {
    this.io.stderr.write(`${emphasize(this.io, text)}\n`);
  }
}

export function emphasize(io: Io, text: string): string {
  return io.stderr.isTTY === true ? styleText(['bold', 'yellow'], text, { stream: io.stderr }) : text;
}

/** Thousands separators, whatever the locale: 10,000. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

// Control characters (C0, DEL, C1) and the line separators and bidirectional overrides that reorder text.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text a server sent, made safe to print: each control character as its \uXXXX escape (no terminal escapes). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Left-aligned columns; the last column is not padded. */
export function columns(rows: readonly (readonly string[])[], indent = '  ', gap = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join(gap).trimEnd())
    .join('\n');
}

/** A table with a header row; numeric columns are right-aligned with thousands separators. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? count(c) : c)))];
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => `  ${r.map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()}`).join('\n');
}

/** "1 record", "2 records". */
export function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A path as the user would type it: relative to the working directory when inside it, else absolute. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? resolve(path) : rel;
}
