// Ordered schema history of the transparency log's PostgreSQL store, recorded in its own history table
// (log_schema_migrations), so the log may share a schema with a vault store. Never edit an applied
// migration: add a new one. Tables are created unqualified (search_path is the store's schema).
import type { Migration } from '../../core/migration-plan.ts';
import { SUBJECT_EPOCH } from '../log-search.ts';

export const POSTGRES_LOG_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'log initial',
    sql: `
CREATE TABLE log_entries (
  idx bigint PRIMARY KEY,
  time bigint NOT NULL,
  type text COLLATE "C" NOT NULL,
  principal text COLLATE "C",
  subject text COLLATE "C",
  body bytea NOT NULL
);
CREATE INDEX log_entries_by_time ON log_entries (time);
CREATE INDEX log_entries_by_type ON log_entries (type);
CREATE INDEX log_entries_by_principal ON log_entries (principal) WHERE principal IS NOT NULL;
-- Subjects are indexed as entries are integrated, in key order (their hashes are random: an
-- append-time index would cost a random page write per entry), as in the SQLite log store.
CREATE TABLE log_subject_index (
  subject text COLLATE "C" NOT NULL,
  idx bigint NOT NULL,
  PRIMARY KEY (subject, idx)
);
CREATE TABLE log_tiles (
  level integer NOT NULL,
  idx bigint NOT NULL,
  width integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE log_checkpoints (
  size bigint PRIMARY KEY,
  time bigint NOT NULL,
  text text NOT NULL
);
CREATE TABLE log_meta (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);
-- One row per counter, so that appends (entries), the integrator (tree_size) and publication
-- (checkpoint: the largest size stored) lock different rows and never wait for one another.
CREATE TABLE log_counters (
  name text COLLATE "C" PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO log_counters (name, value) VALUES ('entries', 0), ('tree_size', 0), ('checkpoint', 0);
-- Who holds the sequencer lease (the lease itself is a session advisory lock; this row says who).
CREATE TABLE log_sequencer (
  id integer PRIMARY KEY CHECK (id = 1),
  instance text NOT NULL,
  since bigint NOT NULL,
  heartbeat bigint NOT NULL
);
`,
  },
  {
    // As SQLite's migration 3: the epoch first keeps an integration's index inserts among the newest
    // epoch's pages instead of one random page per entry across the whole log (log-search.ts).
    id: 2,
    name: 'subject index by epoch',
    sql: `
CREATE TABLE log_subject_index_by_epoch (
  epoch integer NOT NULL,
  subject text COLLATE "C" NOT NULL,
  idx bigint NOT NULL,
  PRIMARY KEY (epoch, subject, idx)
);
INSERT INTO log_subject_index_by_epoch (epoch, subject, idx)
  SELECT idx / ${SUBJECT_EPOCH}, subject, idx FROM log_subject_index ORDER BY 1, 2, 3;
DROP TABLE log_subject_index;
ALTER TABLE log_subject_index_by_epoch RENAME TO log_subject_index;
`,
  },
];
