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

/** The engine a statement is for: PostgreSQL bounds each epoch's share of a subject search with LATERAL. */
export type SearchDialect = 'sqlite' | 'postgres';

const COLUMNS = 'e.idx, e.time, e.type, e.principal, e.subject, e.body';

/** The SELECT for `query`, its parameters in order; `placeholder(n)` is the driver's n-th (1-based). */
export function logSearchSql(query: LogQuery, placeholder: (n: number) => string, dialect: SearchDialect): { sql: string; values: (string | number)[] } {
  const where: string[] = [];
  const values: (string | number)[] = [];
  const param = (value: string | number): string => {
    values.push(value);
    return placeholder(values.length);
  };
  const add = (condition: string, value: string | number | undefined) => {
    if (value !== undefined) where.push(`${condition} ${param(value)}`);
  };
  const filters = () => {
    add('e.time >=', query.from);
    add('e.time <', query.to);
    add('e.principal =', query.principal);
    add('e.type =', query.type);
    add('e.idx >', query.after);
    add('e.idx <', query.before);
  };
  if (query.subject === undefined) {
    filters();
    const limit = param(query.limit);
    return { sql: `SELECT ${COLUMNS} FROM log_entries e${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.idx LIMIT ${limit}`, values };
  }
  // By subject: through the subject index (integrated entries), one epoch after another, from the epoch
  // of the first index wanted to the last indexed one (and not past the one of the last index wanted).
  // BIGINT: PostgreSQL's INTEGER is 32 bits, and a cursor may be any safe integer. Placeholders are
  // numbered in the order of `values` and SQLite's are positional: each is taken in statement order.
  const first = param(Math.floor(Math.max(0, (query.after ?? -1) + 1) / SUBJECT_EPOCH));
  const stop = query.before === undefined ? '' : ` AND n < CAST(${param(Math.floor(Math.max(0, query.before - 1) / SUBJECT_EPOCH))} AS BIGINT)`;
  const epochs = `WITH RECURSIVE ep(n) AS (SELECT CAST(${first} AS BIGINT) UNION ALL SELECT n + 1 FROM ep WHERE n < (SELECT max(epoch) FROM log_subject_index)${stop}) `;
  // The entries' own bound on the epoch says nothing new (s.idx = e.idx), but keeps a merge join on
  // PostgreSQL from walking log_entries from the cursor to each epoch.
  where.push('s.epoch = ep.n', `e.idx >= ep.n * ${SUBJECT_EPOCH}`, `e.idx < (ep.n + 1) * ${SUBJECT_EPOCH}`);
  add('s.subject =', query.subject);
  filters();
  const limit = param(query.limit);
  const matches = `log_subject_index s JOIN log_entries e ON e.idx = s.idx WHERE ${where.join(' AND ')}`;
  if (dialect === 'postgres') {
    // Each epoch gives at most `limit` matches, read in index order: a page of a frequent subject costs
    // epochs × limit rows at most, not every match the subject has past the cursor.
    return { sql: `${epochs}SELECT ${COLUMNS} FROM ep CROSS JOIN LATERAL (SELECT ${COLUMNS} FROM ${matches} ORDER BY s.idx LIMIT ${limit}) e ORDER BY e.idx LIMIT ${limit}`, values };
  }
  // CROSS JOIN: SQLite keeps the epochs as the outer loop (one index probe each), whatever its statistics.
  return { sql: `${epochs}SELECT ${COLUMNS} FROM ep CROSS JOIN ${matches} ORDER BY e.idx LIMIT ${limit}`, values };
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
