// Ordered schema history of the embedded store. Never edit an applied migration: add a new one.
import type { Migration } from '../../core/migration-plan.ts';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'initial',
    sql: `
CREATE TABLE subjects (
  id TEXT PRIMARY KEY,
  country TEXT NOT NULL,
  jurisdiction TEXT NOT NULL,
  wrapped_key BLOB,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  erased_at INTEGER,
  moved_to TEXT
) STRICT;
CREATE TABLE records (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  subject TEXT NOT NULL,
  version INTEGER NOT NULL,
  public_json TEXT NOT NULL,
  sealed BLOB,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (collection, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX records_by_subject ON records (subject, collection, id);
CREATE TABLE principals (
  id TEXT PRIMARY KEY,
  org TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  principal_id TEXT NOT NULL REFERENCES principals (id),
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`,
  },
];
