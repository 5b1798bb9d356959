// What commands print. Results go to stdout, as JSON with --json or as text for people; notes, warnings
// and progress go to stderr so that stdout stays clean for pipes. Everything an Output writes passes
// terminalText first: text from a server or a store (record fields, justifications, policy text, error
// details, table names) may hold terminal escape sequences (ESC [ …, an OSC 52 clipboard write, \r
// overwriting a line), and none of them reaches the terminal raw.
import { isAbsolute, relative, resolve } from 'node:path';
import { styleText } from 'node:util';
import type { Io, OutStream } from './io.ts';

export class Output {
  readonly json: boolean;
  private readonly io: Io;

  constructor(io: Io, options: { json?: boolean } = {}) {
    this.io = io;
    this.json = options.json === true;
  }

  /**
   * The command's result: JSON with --json, otherwise the human rendering. The JSON stays valid and means
   * the same: JSON.stringify escapes C0 controls itself, and what terminalText escapes besides (DEL, C1,
   * line separators, bidirectional overrides) can only stand inside a JSON string, where \uXXXX is that
   * same character.
   */
  result<T>(value: T, human: (value: T) => string): void {
    this.write(this.io.stdout, this.json ? JSON.stringify(value, null, 2) : human(value));
  }

  /**
   * A result too long to hold at once: `head` and a list under `field` that arrives a part at a time
   * (verify's mismatches, read page by page). With --json the same text result would print for
   * `{ ...head, [field]: all }` (head a plain object without `field`, items plain JSON values), written
   * as the parts come; otherwise `headText`, each part's `human` text, and `end`'s text. `add` resolves
   * once stdout has taken the part (a pipe to a slow reader would otherwise hold every part in memory).
   * A failure midway leaves what was written so far, and the command fails.
   */
  resultList<T>(head: object, field: string, headText: string, human: (part: readonly T[]) => string): { add(part: readonly T[]): Promise<void>; end(tailText: string): Promise<void> } {
    if (!this.json) {
      void this.send(`${headText}\n`);
      return {
        add: (part) => (part.length > 0 ? this.send(`${human(part)}\n`) : Promise.resolve()),
        end: (tailText) => this.send(tailText === '' ? '' : `${tailText}\n`),
      };
    }
    // JSON.stringify(…, null, 2) of the head with an empty list last ends in `[]` and `}`: the items go between.
    const empty = JSON.stringify({ ...head, [field]: [] }, null, 2);
    void this.send(empty.slice(0, -'[]\n}'.length + 1));
    let items = 0;
    return {
      add: (part) => {
        let text = '';
        for (const item of part) {
          text += `${items === 0 ? '\n' : ',\n'}${JSON.stringify(item, null, 2).replace(/^/gm, '    ')}`;
          items += 1;
        }
        return this.send(text);
      },
      end: () => this.send(items === 0 ? ']\n}\n' : '\n  ]\n}\n'),
    };
  }

  /** Writes to stdout (escaped as every output); resolves once the stream can take more. */
  private send(text: string): Promise<void> {
    const out = this.io.stdout;
    if (text === '' || out.write(terminalText(text))) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        out.off('error', done);
        resolve();
      };
      out.once('drain', done);
      out.once('close', done);
      out.once('error', done);
    });
  }

  /** One JSON document on one line (JSON Lines), with --json; escaped as by result. */
  jsonLine(value: unknown): void {
    this.write(this.io.stdout, JSON.stringify(value));
  }

  /** A line of human output on stdout (suppressed with --json, where only the result is printed). */
  line(text = ''): void {
    if (!this.json) this.write(this.io.stdout, text);
  }

  /** A note for the person at the terminal, on stderr. */
  note(text: string): void {
    this.write(this.io.stderr, text);
  }

  /** A warning that must not be missed: bold on a colour terminal, plain otherwise. */
  warn(text: string): void {
    this.io.stderr.write(`${emphasize(this.io, terminalText(text))}\n`);
  }

  private write(stream: OutStream, text: string): void {
    stream.write(`${terminalText(text)}\n`);
  }
}

export function emphasize(io: Io, text: string): string {
  return io.stderr.isTTY === true ? styleText(['bold', 'yellow'], text, { stream: io.stderr }) : text;
}

/** Thousands separators, whatever the locale: 10,000. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

// Control characters (C0, DEL, C1), the line separators, and every format character (Unicode's Cf: the
// bidirectional controls that reorder text, and the zero-width ones that hide it: "ann\u200b" shows as "ann").
const BEYOND_C0 = '\\u007f-\\u009f\\u2028\\u2029\\p{Cf}';
const UNPRINTABLE = new RegExp(`[\\u0000-\\u001f${BEYOND_C0}]`, 'gu');
// The same but for line feeds and tabs, which move to the next line or tab stop and overwrite nothing.
const UNPRINTABLE_IN_TEXT = new RegExp(`[\\u0000-\\u0008\\u000b-\\u001f${BEYOND_C0}]`, 'gu');

// Each UTF-16 unit as \uXXXX (a character beyond U+FFFF as its surrogate pair): inside a JSON string (--json) the escape means the same character.
const escaped = (c: string) => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/** A value made safe to print on one line: each control character as its \uXXXX escape, line feeds included. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escaped);
}

/**
 * Multi-line text made safe for a terminal: as printable, but its line feeds and tabs stay (a CRLF line
 * end becomes a line feed), so that a policy set or a diff still prints as lines. What Output writes.
 */
export function terminalText(text: string): string {
  return text.replaceAll('\r\n', '\n').replace(UNPRINTABLE_IN_TEXT, escaped);
}

/** Left-aligned columns; the last column is not padded. A cell is one line: its own line feeds are escaped too. */
export function columns(rows: readonly (readonly string[])[], indent = '  ', gap = '  '): string {
  const cells = rows.map((row) => row.map((cell) => printable(String(cell))));
  const widths: number[] = [];
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return cells
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join(gap).trimEnd())
    .join('\n');
}

/** A table with a header row; numeric columns are right-aligned with thousands separators. Cells as in columns. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? count(c) : printable(String(c)))))];
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
