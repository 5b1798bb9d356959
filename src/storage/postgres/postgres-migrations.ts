// Ordered schema history of the PostgreSQL store. Never edit an applied migration: add a new one.
// Tables are created unqualified: the migration runs with search_path set to the store's schema.
// Keys are COLLATE "C" (byte order), so ordering and keyset paging match the SQLite store whatever
// the database's default collation.
import type { Migration } from '../../core/migration-plan.ts';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'initial',
    sql: `
CREATE TABLE subjects (
  id text COLLATE "C" PRIMARY KEY,
  country text NOT NULL,
  jurisdiction text NOT NULL,
  wrapped_key bytea,
  key_id text NOT NULL,
  created_at bigint NOT NULL,
  erased_at bigint,
  moved_to text
);
CREATE TABLE records (
  collection text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  subject text COLLATE "C" NOT NULL,
  version bigint NOT NULL,
  public_json text NOT NULL,
  sealed bytea,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (collection, id)
);
CREATE INDEX records_by_subject ON records (subject, collection, id);
CREATE TABLE principals (
  id text COLLATE "C" PRIMARY KEY,
  org text NOT NULL,
  role text NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE tokens (
  id text COLLATE "C" PRIMARY KEY,
  hash text NOT NULL UNIQUE,
  principal_id text COLLATE "C" NOT NULL REFERENCES principals (id),
  label text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint,
  revoked_at bigint
);
CREATE TABLE meta (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL
);
`,
  },
];
