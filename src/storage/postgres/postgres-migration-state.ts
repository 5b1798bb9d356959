// Migration state on PostgreSQL (the port is core/migration-state.ts; the embedded adapter is
// sqlite/sqlite-migration-state.ts): what lets several `enclave migrate run` processes, on one host or
// many, share one pass (issue 6, docs/migration.md#several-processes-at-once).
// - A batch is claimed with `SELECT … FOR UPDATE SKIP LOCKED` inside the claiming UPDATE: workers never
//   wait on each other's row locks and never get the same batch.
// - Planning and the end of a pass run under a session-level advisory lock on a connection of its own:
//   one process plans while the others wait, and a planner that dies lets it go with its session.
// Tables carry a `mig_` prefix and their own history table, so the state may share a schema with a store.
import type pg from 'pg';
import { EnclaveError } from '../../core/errors.ts';
import type { Migration } from '../../core/migration-plan.ts';
import type { BatchCounters, BatchInfo, CertificateInfo, LedgerEntry, MigrationInfo, MigrationStateStore, Mismatch, PassState, PendingPurge, VerificationInfo } from '../../core/migration-state.ts';
import { toBatch, toCertificate, toLedger, toMigration, toMismatch, toPendingPurge, toVerification } from '../migration-state-rows.ts';
import { advisoryKey, columnArrays, inKeyOrder, type PostgresDb } from './postgres-db.ts';
import { openMigrated } from './postgres-migrate.ts';
import { parsePostgresUrl, type PostgresLocation } from './postgres-url.ts';

// Keys and names compare bytewise (COLLATE "C"), as in SQLite: `unstamped` pages through keys in order.
export const POSTGRES_MIGRATION_STATE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'migration state',
    sql: `
CREATE TABLE mig_migrations (
  id text COLLATE "C" PRIMARY KEY,
  mapping_hash text NOT NULL,
  source text NOT NULL,
  created_at bigint NOT NULL,
  pass integer NOT NULL,
  pass_state text NOT NULL,
  pass_started_at bigint,
  pass_finished_at bigint
);
CREATE TABLE mig_batches (
  migration text COLLATE "C" NOT NULL,
  pass integer NOT NULL,
  seq integer NOT NULL,
  tbl text COLLATE "C" NOT NULL,
  after_key text COLLATE "C",
  up_to text COLLATE "C",
  planned bigint NOT NULL,
  state text NOT NULL,
  claimed_by text,
  claimed_at bigint,
  done_at bigint,
  n_read bigint NOT NULL DEFAULT 0,
  n_copied bigint NOT NULL DEFAULT 0,
  n_recopied bigint NOT NULL DEFAULT 0,
  n_unchanged bigint NOT NULL DEFAULT 0,
  n_stayed bigint NOT NULL DEFAULT 0,
  n_refused bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (migration, pass, seq)
);
CREATE INDEX mig_batches_by_state ON mig_batches (migration, pass, state, seq);
CREATE TABLE mig_ledger (
  migration text COLLATE "C" NOT NULL,
  tbl text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  collection text NOT NULL,
  record_id text NOT NULL,
  subject text NOT NULL,
  digest bytea NOT NULL,
  seen_pass integer NOT NULL,
  stamp text,
  PRIMARY KEY (migration, tbl, key)
);
CREATE INDEX mig_ledger_by_pass ON mig_ledger (migration, seen_pass);
CREATE TABLE mig_verifications (
  id text COLLATE "C" PRIMARY KEY,
  n bigint GENERATED ALWAYS AS IDENTITY,
  migration text COLLATE "C" NOT NULL,
  pass integer NOT NULL,
  started_at bigint NOT NULL,
  finished_at bigint NOT NULL,
  ok boolean NOT NULL,
  tables_json text NOT NULL,
  root text NOT NULL,
  mismatches bigint NOT NULL
);
CREATE INDEX mig_verifications_by_migration ON mig_verifications (migration, finished_at);
CREATE TABLE mig_mismatches (
  verification text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  tbl text NOT NULL,
  key text NOT NULL,
  kind text NOT NULL,
  detail text NOT NULL,
  PRIMARY KEY (verification, seq)
);
CREATE TABLE mig_pending_purges (
  migration text COLLATE "C" PRIMARY KEY,
  verification text NOT NULL,
  body text NOT NULL
);
CREATE TABLE mig_certificates (
  id text COLLATE "C" PRIMARY KEY,
  migration text COLLATE "C" NOT NULL,
  verification text NOT NULL,
  issued_at bigint NOT NULL,
  note text NOT NULL,
  log_index bigint
);
`,
  },
  {
    id: 2,
    name: 'interrupted pass',
    sql: `ALTER TABLE mig_migrations ADD COLUMN interrupted_pass integer;`,
  },
  {
    id: 3,
    name: 'released batches',
    sql: `
ALTER TABLE mig_batches ADD COLUMN released boolean NOT NULL DEFAULT false;
ALTER TABLE mig_ledger ADD COLUMN seen_batch integer;
`,
  },
  {
    id: 4,
    name: 'purge committed',
    sql: `ALTER TABLE mig_pending_purges ADD COLUMN committed_at bigint;`,
  },
];

const str = (v: unknown): string => v as string;

/** SQLSTATE program_limit_exceeded: here, a key larger than a B-tree entry may be (about 2,700 bytes once compressed). */
const PROGRAM_LIMIT = '54000';

/**
 * The ledger's key is its primary key, and PostgreSQL's B-tree entries hold at most about 2,700 bytes
 * (after compression); SQLite has no such limit. A source key beyond it is refused as what it is, data
 * this migration state cannot hold, naming the table and the key's size, never the key (a source key may be an e-mail address).
 */
function tooLongKey(err: unknown, entries: readonly LedgerEntry[]): EnclaveError | undefined {
  if ((err as { code?: unknown }).code !== PROGRAM_LIMIT) return undefined;
  const longest = entries.reduce((a, b) => (Buffer.byteLength(b.key) > Buffer.byteLength(a.key) ? b : a));
  return new EnclaveError(
    'invalid_source_data',
    `table ${longest.table}: a key of ${Buffer.byteLength(longest.key)} bytes is longer than the PostgreSQL migration state can index (about 2,700 bytes once compressed); keep the migration state in SQLite for this source`,
    { details: { key: longest.table }, cause: err },
  );
}

export class PostgresMigrationState implements MigrationStateStore {
  private readonly db: PostgresDb;

  private constructor(db: PostgresDb) {
    this.db = db;
  }

  /** Connects and migrates. Fails with invalid_config, storage_unavailable or migration_refused. */
  static async open(url: string | PostgresLocation, migrations: readonly Migration[] = POSTGRES_MIGRATION_STATE_MIGRATIONS): Promise<PostgresMigrationState> {
    const location = typeof url === 'string' ? parsePostgresUrl(url) : url;
    // synchronous_commit on: a batch marked done must survive a crash of the server, as in SQLite's FULL mode.
    const db = await openMigrated(location, { migrations, history: 'mig_schema_migrations', settings: { synchronous_commit: 'on' } });
    return new PostgresMigrationState(db);
  }

  async get(id: string): Promise<MigrationInfo | undefined> {
    const [r] = await this.db.rows('SELECT * FROM mig_migrations WHERE id = $1', [id]);
    return r ? toMigration(r) : undefined;
  }

  async create(m: MigrationInfo): Promise<'created' | 'exists'> {
    const n = await this.db.run(
      `INSERT INTO mig_migrations (id, mapping_hash, source, created_at, pass, pass_state, pass_started_at, pass_finished_at, interrupted_pass)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
      [m.id, m.mappingHash, m.source, m.createdAt, m.pass, m.passState, m.passStartedAt, m.passFinishedAt, m.interruptedPass],
    );
    return n === 1 ? 'created' : 'exists';
  }

  async beginPass(id: string, fromPass: number, pass: number, at: number): Promise<boolean> {
    return this.db.tx(async (sql) => {
      const n = await sql.run(`UPDATE mig_migrations SET pass = $1, pass_state = 'planning', pass_started_at = $2, pass_finished_at = NULL WHERE id = $3 AND pass = $4`, [pass, at, id, fromPass]);
      if (n !== 1) return false;
      await sql.run('DELETE FROM mig_batches WHERE migration = $1 AND pass = $2', [id, pass]);
      return true;
    });
  }

  async addBatches(batches: readonly BatchInfo[]): Promise<void> {
    if (batches.length === 0) return;
    const cols = columnArrays(batches.map((b) => [b.migration, b.pass, b.seq, b.table, b.after, b.upTo, b.planned, b.state]));
    await this.db.run(
      `INSERT INTO mig_batches (migration, pass, seq, tbl, after_key, up_to, planned, state)
       SELECT * FROM unnest($1::text[], $2::integer[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])`,
      cols,
    );
  }

  async setPassState(id: string, pass: number, state: PassState, at: number): Promise<void> {
    await this.db.run(
      `UPDATE mig_migrations SET pass_state = $1, pass_finished_at = CASE WHEN $1 = 'done' THEN $2::bigint ELSE pass_finished_at END WHERE id = $3 AND pass = $4`,
      [state, at, id, pass],
    );
  }

  async claimBatch(id: string, pass: number, worker: string, at: number): Promise<BatchInfo | undefined> {
    // SKIP LOCKED: a batch another worker is claiming right now is passed over, not waited for, so
    // concurrent claims get different batches without serializing on the first pending row.
    const [r] = await this.db.prepared(
      `UPDATE mig_batches b SET state = 'running', claimed_by = $1, claimed_at = $2
       FROM (SELECT migration, pass, seq FROM mig_batches WHERE migration = $3 AND pass = $4 AND state = 'pending'
             ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) c
       WHERE b.migration = c.migration AND b.pass = c.pass AND b.seq = c.seq
       RETURNING b.*`,
      [worker, at, id, pass],
    );
    return r ? toBatch(r) : undefined;
  }

  async claims(id: string, pass: number): Promise<{ worker: string; claimedAt: number }[]> {
    const rows = await this.db.rows(
      `SELECT claimed_by, min(claimed_at) AS at FROM mig_batches WHERE migration = $1 AND pass = $2 AND state = 'running' GROUP BY claimed_by ORDER BY claimed_by`,
      [id, pass],
    );
    return rows.map((r) => ({ worker: str(r['claimed_by']), claimedAt: Number(r['at']) }));
  }

  async releaseClaims(id: string, pass: number, workers: readonly string[]): Promise<number> {
    if (workers.length === 0) return 0;
    // The mark first, in its own statement: a process killed between the two leaves the pass marked
    // and the batches held, which the next run releases again.
    await this.db.run(
      `UPDATE mig_migrations SET interrupted_pass = $2 WHERE id = $1
         AND EXISTS (SELECT 1 FROM mig_batches WHERE migration = $1 AND pass = $2 AND state = 'running' AND claimed_by = ANY($3::text[]))`,
      [id, pass, [...workers]],
    );
    return this.db.run(
      `UPDATE mig_batches SET state = 'pending', claimed_by = NULL, claimed_at = NULL, released = true WHERE migration = $1 AND pass = $2 AND state = 'running' AND claimed_by = ANY($3::text[])`,
      [id, pass, [...workers]],
    );
  }

  async releasedBatches(id: string, pass: number): Promise<number[]> {
    const rows = await this.db.rows('SELECT seq FROM mig_batches WHERE migration = $1 AND pass = $2 AND released ORDER BY seq', [id, pass]);
    return rows.map((r) => Number(r['seq']));
  }

  async putLedger(id: string, entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // In key order, as every instance writes them (see insertSubjects): upserts of overlapping keys never deadlock.
    const cols = columnArrays(inKeyOrder(entries, (e) => [e.table, e.key]).map((e) => [e.table, e.key, e.collection, e.recordId, e.subject, e.digest, e.seenPass, e.seenBatch]));
    try {
      await this.db.run(
        `INSERT INTO mig_ledger (migration, tbl, key, collection, record_id, subject, digest, seen_pass, seen_batch)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::integer[], $9::integer[])
         ON CONFLICT (migration, tbl, key) DO UPDATE SET collection = excluded.collection, record_id = excluded.record_id,
           subject = excluded.subject, digest = excluded.digest, seen_pass = excluded.seen_pass, seen_batch = excluded.seen_batch`,
        [id, ...cols],
      );
    } catch (err) {
      throw tooLongKey(err, entries) ?? err;
    }
  }

  async completeBatch(b: BatchInfo, worker: string, c: BatchCounters, at: number): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE mig_batches SET state = 'done', done_at = $1, n_read = $2, n_copied = $3, n_recopied = $4, n_unchanged = $5, n_stayed = $6, n_refused = $7
       WHERE migration = $8 AND pass = $9 AND seq = $10 AND state = 'running' AND claimed_by = $11`,
      [at, c.read, c.copied, c.recopied, c.unchanged, c.stayed, c.refused, b.migration, b.pass, b.seq, worker],
    );
    return n === 1;
  }

  async ledger(id: string, table: string, keys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const out = new Map<string, LedgerEntry>();
    if (keys.length === 0) return out;
    const rows = await this.db.prepared('SELECT * FROM mig_ledger WHERE migration = $1 AND tbl = $2 AND key = ANY($3::text[])', [id, table, [...keys]]);
    for (const r of rows) out.set(str(r['key']), toLedger(r));
    return out;
  }

  async unseen(id: string, pass: number, limit: number): Promise<LedgerEntry[]> {
    return (await this.db.rows('SELECT * FROM mig_ledger WHERE migration = $1 AND seen_pass < $2 LIMIT $3', [id, pass, limit])).map(toLedger);
  }

  async removeLedger(id: string, table: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.run('DELETE FROM mig_ledger WHERE migration = $1 AND tbl = $2 AND key = ANY($3::text[])', [id, table, [...keys]]);
  }

  async clearLedger(id: string): Promise<void> {
    await this.db.run('DELETE FROM mig_ledger WHERE migration = $1', [id]);
  }

  async ledgerCount(id: string, table?: string): Promise<number> {
    const [r] = table === undefined
      ? await this.db.rows('SELECT count(*) AS n FROM mig_ledger WHERE migration = $1', [id])
      : await this.db.rows('SELECT count(*) AS n FROM mig_ledger WHERE migration = $1 AND tbl = $2', [id, table]);
    return Number(r?.['n'] ?? 0);
  }

  async passProgress(id: string, pass: number): Promise<{ batches: number; done: number; planned: number; counters: BatchCounters }> {
    const [r = {}] = await this.db.rows(
      `SELECT count(*) AS batches, count(*) FILTER (WHERE state = 'done') AS done, coalesce(sum(planned), 0) AS planned,
         coalesce(sum(n_read), 0) AS n_read, coalesce(sum(n_copied), 0) AS n_copied, coalesce(sum(n_recopied), 0) AS n_recopied,
         coalesce(sum(n_unchanged), 0) AS n_unchanged, coalesce(sum(n_stayed), 0) AS n_stayed, coalesce(sum(n_refused), 0) AS n_refused
       FROM mig_batches WHERE migration = $1 AND pass = $2`,
      [id, pass],
    );
    // sum(bigint) is numeric, which the driver returns as text.
    const n = (k: string): number => Number(r[k] ?? 0);
    return {
      batches: n('batches'),
      done: n('done'),
      planned: n('planned'),
      counters: { read: n('n_read'), copied: n('n_copied'), recopied: n('n_recopied'), unchanged: n('n_unchanged'), stayed: n('n_stayed'), refused: n('n_refused') },
    };
  }

  async invalidateLedger(id: string, entries: readonly LedgerEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const cols = columnArrays(entries.map((e) => [e.table, e.key, e.seenPass, e.seenBatch, e.digest]));
    return this.db.run(
      `UPDATE mig_ledger l SET digest = '\\x'::bytea
       FROM unnest($2::text[], $3::text[], $4::integer[], $5::integer[], $6::bytea[]) AS e (tbl, key, seen_pass, seen_batch, digest)
       WHERE l.migration = $1 AND l.tbl = e.tbl AND l.key = e.key AND l.seen_pass = e.seen_pass
         AND l.seen_batch IS NOT DISTINCT FROM e.seen_batch AND l.digest = e.digest`,
      [id, ...cols],
    );
  }

  async stampLedger(id: string, table: string, keys: readonly string[], stamp: string): Promise<void> {
    if (keys.length === 0) return;
    await this.db.run('UPDATE mig_ledger SET stamp = $1 WHERE migration = $2 AND tbl = $3 AND key = ANY($4::text[])', [stamp, id, table, [...keys]]);
  }

  async unstamped(id: string, table: string, stamp: string, limit: number, afterKey: string | null): Promise<LedgerEntry[]> {
    const rows = await this.db.rows(
      'SELECT * FROM mig_ledger WHERE migration = $1 AND tbl = $2 AND (stamp IS NULL OR stamp <> $3) AND key > $4 ORDER BY key LIMIT $5',
      [id, table, stamp, afterKey ?? '', limit],
    );
    return rows.map(toLedger);
  }

  async putMismatches(verification: string, mismatches: readonly Mismatch[]): Promise<void> {
    if (mismatches.length === 0) return;
    const cols = columnArrays(mismatches.map((m) => [m.table, m.key, m.kind, m.detail]));
    await this.db.run(
      `INSERT INTO mig_mismatches (verification, seq, tbl, key, kind, detail)
       SELECT $1, (SELECT coalesce(max(seq), 0) FROM mig_mismatches WHERE verification = $1) + m.ord, m.tbl, m.key, m.kind, m.detail
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS m (tbl, key, kind, detail, ord)`,
      [verification, ...cols],
    );
  }

  async saveVerification(v: VerificationInfo): Promise<void> {
    await this.db.run(
      `INSERT INTO mig_verifications (id, migration, pass, started_at, finished_at, ok, tables_json, root, mismatches) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [v.id, v.migration, v.pass, v.startedAt, v.finishedAt, v.ok, JSON.stringify(v.tables), v.root, v.mismatches],
    );
  }

  async verification(id: string): Promise<VerificationInfo | undefined> {
    const [r] = await this.db.rows('SELECT * FROM mig_verifications WHERE id = $1', [id]);
    return r ? toVerification(r) : undefined;
  }

  async latestVerification(migration: string): Promise<VerificationInfo | undefined> {
    const [r] = await this.db.rows('SELECT * FROM mig_verifications WHERE migration = $1 ORDER BY finished_at DESC, n DESC LIMIT 1', [migration]);
    return r ? toVerification(r) : undefined;
  }

  async mismatches(verification: string, limit: number, after: number): Promise<(Mismatch & { readonly seq: number })[]> {
    const rows = await this.db.rows('SELECT * FROM mig_mismatches WHERE verification = $1 AND seq > $2 ORDER BY seq LIMIT $3', [verification, after, limit]);
    return rows.map(toMismatch);
  }

  async savePendingPurge(p: PendingPurge): Promise<void> {
    const { committedAt, ...body } = p;
    await this.db.run(
      'INSERT INTO mig_pending_purges (migration, verification, body, committed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (migration) DO UPDATE SET verification = excluded.verification, body = excluded.body, committed_at = excluded.committed_at',
      [p.migration, p.verification, JSON.stringify(body), committedAt ?? null],
    );
  }

  async pendingPurge(migration: string): Promise<PendingPurge | undefined> {
    const [r] = await this.db.rows('SELECT body, committed_at FROM mig_pending_purges WHERE migration = $1', [migration]);
    return r ? toPendingPurge(r) : undefined;
  }

  async markPurgeCommitted(migration: string, verification: string, at: number): Promise<boolean> {
    // The first mark stands: the commit happened once.
    return (await this.db.run('UPDATE mig_pending_purges SET committed_at = coalesce(committed_at, $1) WHERE migration = $2 AND verification = $3', [at, migration, verification])) > 0;
  }

  async clearPendingPurge(migration: string): Promise<void> {
    await this.db.run('DELETE FROM mig_pending_purges WHERE migration = $1', [migration]);
  }

  async saveCertificate(c: CertificateInfo): Promise<void> {
    await this.db.run(
      'INSERT INTO mig_certificates (id, migration, verification, issued_at, note, log_index) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING',
      [c.id, c.migration, c.verification, c.issuedAt, c.note, c.logIndex],
    );
  }

  async setCertificateLogIndex(id: string, index: number): Promise<void> {
    await this.db.run('UPDATE mig_certificates SET log_index = $1 WHERE id = $2', [index, id]);
  }

  async certificate(id: string): Promise<CertificateInfo | undefined> {
    const [r] = await this.db.rows('SELECT * FROM mig_certificates WHERE id = $1', [id]);
    return r ? toCertificate(r) : undefined;
  }

  async certificates(migration?: string): Promise<CertificateInfo[]> {
    const rows = migration === undefined
      ? await this.db.rows('SELECT * FROM mig_certificates ORDER BY issued_at, id')
      : await this.db.rows('SELECT * FROM mig_certificates WHERE migration = $1 ORDER BY issued_at, id', [migration]);
    return rows.map(toCertificate);
  }

  async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    // A session lock on a connection of its own: held while fn runs, and released by the server if this
    // process dies (its socket closes), so a waiting worker takes over a planner that was killed.
    let lost: unknown;
    const client: pg.Client = await this.db.session((err) => {
      lost = err;
    });
    try {
      try {
        await client.query('SELECT pg_advisory_lock($1)', [advisoryKey('migration-exclusive', this.db.location.schema, id)]);
      } catch (err) {
        throw this.db.fail(err, 'cannot lock the migration');
      }
      const out = await fn();
      if (lost !== undefined) throw this.db.fail(lost, 'lost the migration lock');
      return out;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.db.end();
  }
}
