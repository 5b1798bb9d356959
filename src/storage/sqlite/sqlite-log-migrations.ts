// Ordered schema history of the embedded transparency-log store (its own database file by default, its
// own history table). Never edit an applied migration: add a new one.
import type { Migration } from '../../core/migration-plan.ts';
import { SUBJECT_EPOCH } from '../log-search.ts';

export const SQLITE_LOG_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'log initial',
    sql: `
CREATE TABLE log_entries (
  idx INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  principal TEXT,
  subject TEXT,
  body BLOB NOT NULL
) STRICT;
CREATE INDEX log_entries_by_time ON log_entries (time);
CREATE INDEX log_entries_by_type ON log_entries (type);
CREATE INDEX log_entries_by_principal ON log_entries (principal) WHERE principal IS NOT NULL;
CREATE INDEX log_entries_by_subject ON log_entries (subject) WHERE subject IS NOT NULL;
CREATE TABLE log_tiles (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  width INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) STRICT;
CREATE TABLE log_checkpoints (
  size INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  text TEXT NOT NULL
) STRICT;
CREATE TABLE log_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
INSERT INTO log_meta (key, value) VALUES ('tree_size', '0');
`,
  },
  {
    // Subject hashes are random: indexing them at append time wrote a random index page per entry into
    // every commit. The integrator now indexes each integrated range at once, in key order.
    id: 2,
    name: 'subject index built at integration',
    sql: `
DROP INDEX log_entries_by_subject;
CREATE TABLE log_subject_index (
  subject TEXT NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (subject, idx)
) STRICT, WITHOUT ROWID;
INSERT INTO log_subject_index (subject, idx)
  SELECT subject, idx FROM log_entries
  WHERE subject IS NOT NULL AND idx < (SELECT CAST(value AS INTEGER) FROM log_meta WHERE key = 'tree_size');
`,
  },
  {
    // Keyed by subject alone, the index took one random page write per integrated entry across the whole
    // log (a third of the writer thread's time under the gated-read bench); the epoch first keeps an
    // integration's inserts among the newest epoch's pages (log-search.ts, SUBJECT_EPOCH).
    id: 3,
    name: 'subject index by epoch',
    sql: `
CREATE TABLE log_subject_index_by_epoch (
  epoch INTEGER NOT NULL,
  subject TEXT NOT NULL,
  idx INTEGER NOT NULL,
  PRIMARY KEY (epoch, subject, idx)
) STRICT, WITHOUT ROWID;
INSERT INTO log_subject_index_by_epoch (epoch, subject, idx)
  SELECT idx / ${SUBJECT_EPOCH}, subject, idx FROM log_subject_index ORDER BY 1, 2, 3;
DROP TABLE log_subject_index;
ALTER TABLE log_subject_index_by_epoch RENAME TO log_subject_index;
`,
  },
];
