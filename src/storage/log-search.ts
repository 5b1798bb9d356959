// The transparency-log search both SQL log stores run: the same tables and columns, so one statement for
// a query (with the driver's placeholders) and one mapping of its rows.
import type { LogQuery, StoredLogEntry } from '../core/log-store.ts';
import type { SqlRow } from './rows.ts';

/**
 * Entries per epoch of the subject index, keyed (epoch, subject, idx) with epoch = idx / SUBJECT_EPOCH.
 * Subject hashes are random: keyed by subject alone, each integration wrote one random index page per
 * entry into an index as large as the log; with the epoch first, its inserts land among the newest
 * epoch's few hundred pages. A search probes each epoch in turn. Fixed by the stores' migrations: never change it.
 */
export const SUBJECT_EPOCH = 16_384;

/** The SELECT for `query`, its parameters in order; `placeholder(n)` is the driver's n-th (1-based). */
export function logSearchSql(query: LogQuery, placeholder: (n: number) => string): { sql: string; values: (string | number)[] } {
  const where: string[] = [];
  const values: (string | number)[] = [];
  const param = (value: string | number): string => {
    values.push(value);
    return placeholder(values.length);
  };
  const add = (condition: string, value: string | number | undefined) => {
    if (value !== undefined) where.push(`${condition} ${param(value)}`);
  };
  let from = 'log_entries e';
  let epochs = '';
  if (query.subject !== undefined) {
    // By subject: through the subject index (integrated entries), one epoch after another, from the
    // epoch of the first index wanted to the last indexed one (or the one of the last index wanted).
    // Placeholders are numbered in the order of `values` and SQLite's are positional: each is taken in
    // the order it appears in the statement.
    const first = `CAST(${param(Math.floor(Math.max(0, (query.after ?? -1) + 1) / SUBJECT_EPOCH))} AS INTEGER)`;
    const last = query.before === undefined ? '(SELECT max(epoch) FROM log_subject_index)' : `CAST(${param(Math.floor(Math.max(0, query.before - 1) / SUBJECT_EPOCH))} AS INTEGER)`;
    epochs = `WITH RECURSIVE ep(n) AS (SELECT ${first} UNION ALL SELECT n + 1 FROM ep WHERE n < ${last}) `;
    // CROSS JOIN: SQLite keeps the epochs as the outer loop (one index probe each), whatever its statistics.
    from = 'ep CROSS JOIN log_subject_index s JOIN log_entries e ON e.idx = s.idx';
    where.push('s.epoch = ep.n');
    add('s.subject =', query.subject);
  }
  add('e.time >=', query.from);
  add('e.time <', query.to);
  add('e.principal =', query.principal);
  add('e.type =', query.type);
  add('e.idx >', query.after);
  add('e.idx <', query.before);
  const limit = param(query.limit);
  const sql = `${epochs}SELECT e.idx, e.time, e.type, e.principal, e.subject, e.body FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.idx LIMIT ${limit}`;
  return { sql, values };
}

/** Indexes the integrated entries [from, to) by subject (both stores; `placeholder` as above). */
export function subjectIndexSql(placeholder: (n: number) => string): string {
  return `INSERT INTO log_subject_index (epoch, subject, idx)
          SELECT idx / ${SUBJECT_EPOCH}, subject, idx FROM log_entries
          WHERE idx >= ${placeholder(1)} AND idx < ${placeholder(2)} AND subject IS NOT NULL ORDER BY 1, 2, 3`;
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
