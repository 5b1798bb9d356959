// The small expression form a migration mapping may use to find a subject's country from columns of the
// users table, e.g. `upper(trim(coalesce(residence_country, billing_country)))`. It is parsed into a tree
// here and evaluated over the row in the migration itself: nothing of it ever reaches an engine as SQL or
// JavaScript, so it cannot inject anything. Grammar:
//
//   expr   := string | integer | column | call
//   call   := name "(" [ expr { "," expr } ] ")"
//   column := identifier | "quoted identifier"
//   string := 'text' with '' for a quote
//
// Functions: coalesce(a, b, …), upper(x), lower(x), trim(x), substr(x, start, length) (as SQLite and
// MySQL: start 1 is the first character, -1 the last; 0 and a negative length, on which the engines
// disagree, are refused), nullif(x, y), concat(a, b, …). Every function but coalesce and concat is null in, null out.
import { EnclaveError } from './errors.ts';

export type CountryExpr =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'integer'; readonly value: number }
  | { readonly kind: 'call'; readonly fn: ExprFunction; readonly args: readonly CountryExpr[] };

export const EXPR_FUNCTIONS = {
  coalesce: { min: 1, max: 16 },
  upper: { min: 1, max: 1 },
  lower: { min: 1, max: 1 },
  trim: { min: 1, max: 1 },
  substr: { min: 2, max: 3 },
  nullif: { min: 2, max: 2 },
  concat: { min: 1, max: 16 },
} as const;
export type ExprFunction = keyof typeof EXPR_FUNCTIONS;

export const MAX_EXPR_LENGTH = 1000;
const MAX_DEPTH = 16;
const MAX_NODES = 200;

const IDENT = /[A-Za-z_][A-Za-z0-9_$]*/y;
const INTEGER = /-?[0-9]{1,9}/y;

class Parser {
  private pos = 0;
  private nodes = 0;
  private readonly text: string;
  private readonly where: string;

  constructor(text: string, where: string) {
    this.text = text;
    this.where = where;
  }

  fail(message: string): never {
    throw new EnclaveError('invalid_mapping', `${this.where}: ${message} at character ${this.pos + 1} of the expression`);
  }

  private skip(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  private peek(): string {
    this.skip();
    return this.text[this.pos] ?? '';
  }

  parseAll(): CountryExpr {
    const e = this.expr(0);
    if (this.peek() !== '') this.fail(`unexpected "${this.text[this.pos] ?? ''}"`);
    return e;
  }

  private expr(depth: number): CountryExpr {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH}`);
    if (++this.nodes > MAX_NODES) this.fail(`more than ${MAX_NODES} terms`);
    const c = this.peek();
    if (c === "'") return { kind: 'string', value: this.quoted("'") };
    if (c === '"') return { kind: 'column', name: this.quoted('"') };
    if (c === '-' || (c >= '0' && c <= '9')) {
      INTEGER.lastIndex = this.pos;
      const m = INTEGER.exec(this.text);
      if (!m) this.fail('expected a whole number');
      this.pos += m[0].length;
      return { kind: 'integer', value: Number(m[0]) };
    }
    IDENT.lastIndex = this.pos;
    const m = IDENT.exec(this.text);
    if (!m) this.fail(c === '' ? 'the expression ends too early' : `unexpected "${c}"`);
    this.pos += m[0].length;
    const name = m[0];
    if (this.peek() !== '(') return { kind: 'column', name };
    const fn = name.toLowerCase();
    if (!Object.hasOwn(EXPR_FUNCTIONS, fn)) this.fail(`unknown function "${name}" (expected one of: ${Object.keys(EXPR_FUNCTIONS).join(', ')})`);
    this.pos++; // (
    const args: CountryExpr[] = [];
    if (this.peek() !== ')') {
      for (;;) {
        args.push(this.expr(depth + 1));
        const next = this.peek();
        if (next === ',') {
          this.pos++;
          continue;
        }
        if (next === ')') break;
        this.fail(next === '' ? `missing ")" after the arguments of ${fn}` : `expected "," or ")" but found "${next}"`);
      }
    }
    this.pos++; // )
    const arity = EXPR_FUNCTIONS[fn as ExprFunction];
    if (args.length < arity.min || args.length > arity.max) {
      this.fail(`${fn} takes ${arity.min === arity.max ? arity.min : `${arity.min} to ${arity.max}`} argument(s), not ${args.length}`);
    }
    if (fn === 'substr') {
      const [, start, length] = args;
      if (args.slice(1).some((a) => a.kind !== 'integer')) this.fail('substr takes whole numbers as its start and length');
      if (start?.kind === 'integer' && start.value === 0) this.fail('substr counts from 1 (the first character) or from -1 (the last); 0 means something else in each SQL engine');
      if (length?.kind === 'integer' && length.value < 0) this.fail('substr takes a length of 0 or more; a negative one means something else in each SQL engine');
    }
    return { kind: 'call', fn: fn as ExprFunction, args };
  }

  private quoted(q: string): string {
    let out = '';
    this.pos++;
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined) this.fail(`unterminated ${q === "'" ? 'string' : 'quoted column name'}`);
      this.pos++;
      if (ch === q) {
        if (this.text[this.pos] === q) {
          out += q;
          this.pos++;
          continue;
        }
        if (q === '"' && out === '') this.fail('empty column name');
        return out;
      }
      out += ch;
    }
  }
}

/** Parses an expression; `where` names it in errors (e.g. "subjects.country.expr"). */
export function parseCountryExpr(text: string, where: string): CountryExpr {
  if (text.length > MAX_EXPR_LENGTH) throw new EnclaveError('invalid_mapping', `${where}: the expression is longer than ${MAX_EXPR_LENGTH} characters`);
  if (text.trim() === '') throw new EnclaveError('invalid_mapping', `${where}: the expression is empty`);
  return new Parser(text, where).parseAll();
}

/** The columns an expression reads, in order of first use. */
export function exprColumns(e: CountryExpr): string[] {
  const out: string[] = [];
  const walk = (x: CountryExpr) => {
    if (x.kind === 'column' && !out.includes(x.name)) out.push(x.name);
    if (x.kind === 'call') x.args.forEach(walk);
  };
  walk(e);
  return out;
}

export type ExprInput = string | number | bigint | boolean | null | Uint8Array;

function text(v: ExprInput): string | null {
  if (v === null) return null;
  if (v instanceof Uint8Array) return null;
  return String(v);
}

/** Evaluates over a row; every value is read as text, and the result is text or null. */
export function evaluateCountryExpr(e: CountryExpr, row: Readonly<Record<string, ExprInput>>): string | null {
  switch (e.kind) {
    case 'string':
      return e.value;
    case 'integer':
      return String(e.value);
    case 'column':
      return text(row[e.name] ?? null);
    case 'call': {
      const arg = (i: number) => {
        const a = e.args[i];
        return a === undefined ? null : evaluateCountryExpr(a, row);
      };
      switch (e.fn) {
        case 'coalesce':
          for (let i = 0; i < e.args.length; i++) {
            const v = arg(i);
            if (v !== null) return v;
          }
          return null;
        case 'concat':
          return e.args.map((_, i) => arg(i) ?? '').join('');
        case 'upper':
          return arg(0)?.toUpperCase() ?? null;
        case 'lower':
          return arg(0)?.toLowerCase() ?? null;
        case 'trim':
          return arg(0)?.trim() ?? null;
        case 'nullif': {
          const a = arg(0);
          return a !== null && a === arg(1) ? null : a;
        }
        case 'substr': {
          const s = arg(0);
          if (s === null) return null;
          const chars = [...s];
          // A negative start counts from the end; the part of the span before the first character is empty.
          const from = Number(arg(1));
          const first = from > 0 ? from - 1 : chars.length + from;
          const end = e.args.length > 2 ? first + Number(arg(2)) : chars.length;
          return chars.slice(Math.max(first, 0), Math.max(end, 0)).join('');
        }
      }
    }
  }
}

/** The expression written back in its canonical form (lowercase function names, quoted where needed). */
export function formatCountryExpr(e: CountryExpr): string {
  switch (e.kind) {
    case 'string':
      return `'${e.value.replace(/'/g, "''")}'`;
    case 'integer':
      return String(e.value);
    case 'column':
      return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(e.name) && !Object.hasOwn(EXPR_FUNCTIONS, e.name.toLowerCase()) ? e.name : `"${e.name.replace(/"/g, '""')}"`;
    case 'call':
      return `${e.fn}(${e.args.map(formatCountryExpr).join(', ')})`;
  }
}
