// The transparency-log search both SQL log stores run: the same tables and columns, so one statement for
// a query (with the driver's placeholders) and one mapping of its rows.
import type { LogQuery, StoredLogEntry } from '../core/log-store.ts';
import type { SqlRow } from './rows.ts';

/** The SELECT for `query`, its parameters in order; `placeholder(n)` is the driver's n-th (1-based). */
export function logSearchSql(query: LogQuery, placeholder: (n: number) => string): { sql: string; values: (string | number)[] } {
  const where: string[] = [];
  const values: (string | number)[] = [];
  const add = (condition: string, value: string | number | undefined) => {
    if (value === undefined) return;
    values.push(value);
    where.push(`${condition} ${placeholder(values.length)}`);
  };
  // By subject: through the subject index, which covers the integrated entries.
  add('s.subject =', query.subject);
  add('e.time >=', query.from);
  add('e.time <', query.to);
  add('e.principal =', query.principal);
  add('e.type =', query.type);
  add('e.idx >', query.after);
  add('e.idx <', query.before);
  values.push(query.limit);
  const from = query.subject === undefined ? 'log_entries e' : 'log_subject_index s JOIN log_entries e ON e.idx = s.idx';
  const sql = `SELECT e.idx, e.time, e.type, e.principal, e.subject, e.body FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.idx LIMIT ${placeholder(values.length)}`;
  return { sql, values };
}

export function toLogEntry(r: SqlRow): StoredLogEntry {
  return {
    index: Number(r['idx']),
    time: Number(r['time']),
    type: String(r['type']),
    principal: r['principal'] as string | null,
    subject: r['subject'] as string | null,
    body: r['body'] as Uint8Array,
  };
}
