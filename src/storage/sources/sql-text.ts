// SQL text shared by the SQL sources. Identifiers come from the mapping (already restricted to
// [A-Za-z0-9_$]) and are quoted anyway; values are always bound parameters, never spliced in.
import type { KeyTuple, KeyValue } from '../../core/migration-source.ts';

export interface Dialect {
  /** Quotes an identifier: "name" or `name`. */
  readonly quote: (name: string) => string;
  /** The n-th placeholder (1-based): ? or $n. */
  readonly param: (n: number) => string;
  /** Row values (a, b) > (?, ?) are understood and use the index; otherwise the comparison is spelled out. */
  readonly rowValues: boolean;
  /** How a list of row values is written after IN: SQLite needs (VALUES (…), (…)), the others take ((…), (…)). */
  readonly rowList: 'values' | 'parens';
}

export const ansiQuote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const backtickQuote = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

export interface Fragment {
  readonly sql: string;
  readonly params: KeyValue[];
}

/** key > bound (op '>') or key <= bound (op '<='), for a key of one or more columns. */
function compare(d: Dialect, key: readonly string[], op: '>' | '<=', bound: KeyTuple, params: KeyValue[]): string {
  const next = (v: KeyValue | undefined) => {
    params.push(v as KeyValue);
    return d.param(params.length);
  };
  if (key.length === 1) return `${d.quote(key[0] ?? '')} ${op} ${next(bound[0])}`;
  if (d.rowValues) return `(${key.map(d.quote).join(', ')}) ${op} (${bound.map((v) => next(v)).join(', ')})`;
  // (a, b) > (x, y)  ⇔  a > x OR (a = x AND b > y); likewise for <=.
  const strict = op === '>' ? '>' : '<';
  const ors: string[] = [];
  for (let i = 0; i < key.length; i++) {
    const parts = key.slice(0, i).map((k, j) => `${d.quote(k)} = ${next(bound[j])}`);
    const last = i === key.length - 1 && op === '<=' ? '<=' : strict;
    parts.push(`${d.quote(key[i] ?? '')} ${last} ${next(bound[i])}`);
    ors.push(`(${parts.join(' AND ')})`);
  }
  return `(${ors.join(' OR ')})`;
}

/** SELECT … WHERE after < key <= upTo ORDER BY key LIMIT n. */
export function keysetSelect(d: Dialect, table: string, columns: readonly string[], key: readonly string[], after: KeyTuple | undefined, upTo: KeyTuple | undefined, limit: number, qualified = d.quote(table)): Fragment {
  const params: KeyValue[] = [];
  const where: string[] = [];
  if (after) where.push(compare(d, key, '>', after, params));
  if (upTo) where.push(compare(d, key, '<=', upTo, params));
  const order = key.map(d.quote).join(', ');
  params.push(limit);
  const sql = `SELECT ${columns.map(d.quote).join(', ')} FROM ${qualified}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${d.param(params.length)}`;
  return { sql, params };
}

/** SELECT … WHERE by IN (…). */
export function lookupSelect(d: Dialect, table: string, columns: readonly string[], by: string, values: readonly KeyValue[], qualified = d.quote(table)): Fragment {
  const params = [...values];
  return { sql: `SELECT ${columns.map(d.quote).join(', ')} FROM ${qualified} WHERE ${d.quote(by)} IN (${params.map((_, i) => d.param(i + 1)).join(', ')})`, params };
}

/** DELETE … WHERE key IN (…), for keys of one or more columns. */
export function deleteByKeys(d: Dialect, table: string, key: readonly string[], keys: readonly KeyTuple[], qualified = d.quote(table)): Fragment {
  const params: KeyValue[] = [];
  const tuple = (k: KeyTuple) =>
    k.map((v) => {
      params.push(v);
      return d.param(params.length);
    });
  if (key.length === 1) return { sql: `DELETE FROM ${qualified} WHERE ${d.quote(key[0] ?? '')} IN (${keys.map((k) => tuple(k)[0] ?? '').join(', ')})`, params };
  const rows = keys.map((k) => `(${tuple(k).join(', ')})`);
  const list = d.rowList === 'values' ? `VALUES ${rows.join(', ')}` : rows.join(', ');
  return { sql: `DELETE FROM ${qualified} WHERE (${key.map(d.quote).join(', ')}) IN (${list})`, params };
}

/** Splits a list into chunks (bound-parameter limits differ by engine). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
