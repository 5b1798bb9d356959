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
  {
    id: 2,
    name: 'gatekeeper',
    sql: `
CREATE TABLE access_requests (
  id text COLLATE "C" PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('access', 'breakglass')),
  requester text NOT NULL,
  requester_org text NOT NULL,
  requester_role text NOT NULL,
  scope text NOT NULL,
  purpose text NOT NULL,
  justification_code text NOT NULL,
  justification text NOT NULL,
  duration_ms bigint NOT NULL,
  digest text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  decided_at bigint,
  grant_id text
);
CREATE INDEX access_requests_by_time ON access_requests (created_at, id);
CREATE TABLE approvals (
  target text COLLATE "C" NOT NULL,
  approver text COLLATE "C" NOT NULL,
  approver_org text NOT NULL,
  approver_role text NOT NULL,
  digest text NOT NULL,
  verdict text NOT NULL CHECK (verdict IN ('approve', 'deny')),
  comment text NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (target, approver)
);
CREATE TABLE grants (
  id text COLLATE "C" PRIMARY KEY,
  request_id text COLLATE "C" NOT NULL UNIQUE REFERENCES access_requests (id),
  principal text COLLATE "C" NOT NULL,
  scope text NOT NULL,
  purpose text NOT NULL,
  breakglass smallint NOT NULL CHECK (breakglass IN (0, 1)),
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint,
  revoked_by text
);
CREATE INDEX grants_by_expiry ON grants (expires_at);
CREATE INDEX grants_by_time ON grants (created_at, id);
CREATE TABLE policy_versions (
  version integer PRIMARY KEY,
  text text NOT NULL,
  digest text NOT NULL,
  proposal_id text,
  approvers text NOT NULL,
  activated_at bigint NOT NULL
);
CREATE TABLE proposals (
  id text COLLATE "C" PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('policy', 'token.issue', 'token.revoke')),
  proposer text NOT NULL,
  proposer_org text NOT NULL,
  proposer_role text NOT NULL,
  payload text NOT NULL,
  digest text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'applied', 'rejected', 'failed')),
  decided_at bigint,
  outcome text
);
CREATE INDEX proposals_by_time ON proposals (created_at, id);
`,
  },
  {
    id: 3,
    name: 'token_lineage',
    // As the SQLite store's migration 3: a rotated token's predecessor and the chain it belongs to.
    sql: `
ALTER TABLE tokens ADD COLUMN replaces text COLLATE "C";
ALTER TABLE tokens ADD COLUMN lineage text COLLATE "C";
UPDATE tokens SET lineage = id;
ALTER TABLE tokens ALTER COLUMN lineage SET NOT NULL;
CREATE INDEX tokens_by_lineage ON tokens (lineage);
`,
  },
  {
    id: 4,
    name: 'record_creator',
    // As the SQLite store's migration 4: the principal that created each record.
    sql: `
ALTER TABLE records ADD COLUMN created_by text;
`,
  },
  {
    id: 5,
    name: 'move_owner',
    // A re-home's mark names who set it and when, so a mark whose holder died can be taken over while a
    // live one is not. A mark set before this migration has no holder: it is stale at once.
    sql: `
ALTER TABLE subjects ADD COLUMN move_owner text;
ALTER TABLE subjects ADD COLUMN move_started_at bigint;
UPDATE subjects SET move_owner = '', move_started_at = 0 WHERE moved_to IS NOT NULL;
`,
  },
  {
    id: 6,
    name: 'subject_claims',
    // As the SQLite store's migration 7: one subject id, one home site, across instances.
    sql: `
CREATE TABLE subject_claims (
  key text COLLATE "C" PRIMARY KEY,
  holder text NOT NULL,
  claimed_at bigint NOT NULL,
  completed boolean NOT NULL DEFAULT false
);
`,
  },
  {
    id: 7,
    name: 'record_claims',
    // As the SQLite store's migration 8: record ids claimed while they are created, apart.
    sql: `
CREATE TABLE record_claims (
  key text COLLATE "C" PRIMARY KEY,
  holder text NOT NULL,
  claimed_at bigint NOT NULL,
  completed boolean NOT NULL DEFAULT false
);
`,
  },
];
