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
  {
    id: 2,
    name: 'gatekeeper',
    sql: `
CREATE TABLE access_requests (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('access', 'breakglass')),
  requester TEXT NOT NULL,
  requester_org TEXT NOT NULL,
  requester_role TEXT NOT NULL,
  scope TEXT NOT NULL,
  purpose TEXT NOT NULL,
  justification_code TEXT NOT NULL,
  justification TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  digest TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  decided_at INTEGER,
  grant_id TEXT
) STRICT;
CREATE INDEX access_requests_by_time ON access_requests (created_at, id);
CREATE TABLE approvals (
  target TEXT NOT NULL,
  approver TEXT NOT NULL,
  approver_org TEXT NOT NULL,
  approver_role TEXT NOT NULL,
  digest TEXT NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('approve', 'deny')),
  comment TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (target, approver)
) STRICT;
CREATE TABLE grants (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL UNIQUE REFERENCES access_requests (id),
  principal TEXT NOT NULL,
  scope TEXT NOT NULL,
  purpose TEXT NOT NULL,
  breakglass INTEGER NOT NULL CHECK (breakglass IN (0, 1)),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  revoked_by TEXT
) STRICT;
CREATE INDEX grants_by_expiry ON grants (expires_at);
CREATE INDEX grants_by_time ON grants (created_at, id);
CREATE TABLE policy_versions (
  version INTEGER PRIMARY KEY,
  text TEXT NOT NULL,
  digest TEXT NOT NULL,
  proposal_id TEXT,
  approvers TEXT NOT NULL,
  activated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE proposals (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('policy', 'token.issue', 'token.revoke')),
  proposer TEXT NOT NULL,
  proposer_org TEXT NOT NULL,
  proposer_role TEXT NOT NULL,
  payload TEXT NOT NULL,
  digest TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'rejected', 'failed')),
  decided_at INTEGER,
  outcome TEXT
) STRICT;
CREATE INDEX proposals_by_time ON proposals (created_at, id);
`,
  },
  {
    id: 3,
    name: 'token_lineage',
    // A rotated token names the one it replaces and shares its lineage (the chain's first token), so that
    // revoking any token of a chain revokes the one in force. Tokens issued before are each their own lineage.
    sql: `
ALTER TABLE tokens ADD COLUMN replaces TEXT;
ALTER TABLE tokens ADD COLUMN lineage TEXT NOT NULL DEFAULT '';
UPDATE tokens SET lineage = id;
CREATE INDEX tokens_by_lineage ON tokens (lineage);
`,
  },
  {
    id: 4,
    name: 'record_creator',
    // The principal that created each record, kept by every update: a migration replaces or deletes only
    // the records it created, whatever its ledger says (an id it claimed may be taken by the API first).
    // Records created before are null: their creator is not known.
    sql: `
ALTER TABLE records ADD COLUMN created_by TEXT;
`,
  },
  {
    id: 5,
    name: 'move_owner',
    // A re-home's mark names who set it and when, so a mark whose holder died can be taken over while a
    // live one is not. A mark set before this migration has no holder: it is stale at once.
    sql: `
ALTER TABLE subjects ADD COLUMN move_owner TEXT;
ALTER TABLE subjects ADD COLUMN move_started_at INTEGER;
UPDATE subjects SET move_owner = '', move_started_at = 0 WHERE moved_to IS NOT NULL;
`,
  },
  {
    id: 6,
    name: 'subjects_without_rowid',
    // Every gated read looks its subject up by id. A rowid table finds it through its primary-key index
    // and then the table: two B-tree descents. Keyed by id itself (as records are), one.
    // https://sqlite.org/withoutrowid.html; the table is rebuilt as https://sqlite.org/lang_altertable.html
    // describes under "Making Other Kinds Of Table Schema Changes".
    // secure_delete (on for every connection) overwrites the old table's pages as they are freed.
    sql: `
CREATE TABLE subjects_by_id (
  id TEXT PRIMARY KEY,
  country TEXT NOT NULL,
  jurisdiction TEXT NOT NULL,
  wrapped_key BLOB,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  erased_at INTEGER,
  moved_to TEXT,
  move_owner TEXT,
  move_started_at INTEGER
) STRICT, WITHOUT ROWID;
INSERT INTO subjects_by_id (id, country, jurisdiction, wrapped_key, key_id, created_at, erased_at, moved_to, move_owner, move_started_at)
  SELECT id, country, jurisdiction, wrapped_key, key_id, created_at, erased_at, moved_to, move_owner, move_started_at FROM subjects;
DROP TABLE subjects;
ALTER TABLE subjects_by_id RENAME TO subjects;
`,
  },
  {
    id: 7,
    name: 'subject_claims',
    // One subject id, one home site, across instances (core/store.ts SubjectClaimStore): home sites
    // share no unique key, the control store's claims do. Keyed by a keyed hash of the id, not the id.
    sql: `
CREATE TABLE subject_claims (
  key TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  claimed_at INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
`,
  },
  {
    id: 8,
    name: 'record_claims',
    // Record ids claimed while they are created (core/store.ts Store.recordClaims): only claims in flight,
    // apart from the subjects' completed ones. Those left in subject_claims by an earlier build's crashed
    // process match no id of either kind (their key is of another HMAC key) and are never read.
    sql: `
CREATE TABLE record_claims (
  key TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  claimed_at INTEGER NOT NULL,
  completed INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
`,
  },
];
