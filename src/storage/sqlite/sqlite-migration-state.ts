// Migration state on node:sqlite (the port is core/migration-state.ts): its own file beside the control
// store, WAL with synchronous=FULL so a completed batch survives a SIGKILL or a power cut, and its own
// ordered, checksummed schema history like every store.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type { Migration } from '../../core/migration-plan.ts';
import type { BatchCounters, BatchInfo, CertificateInfo, LedgerEntry, MigrationInfo, MigrationStateStore, Mismatch, PassState, PendingPurge, VerificationInfo } from '../../core/migration-state.ts';
import { toBatch, toCertificate, toLedger, toMigration, toMismatch, toPendingPurge, toVerification } from '../migration-state-rows.ts';
import { chunks } from '../sources/sql-text.ts';
import { applyMigrations, byKey, inTransaction, openSqliteDatabase, StatementCache } from './sqlite-db.ts';

export const MIGRATION_STATE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'migration state',
    sql: `
CREATE TABLE migrations (
  id TEXT PRIMARY KEY,
  mapping_hash TEXT NOT NULL,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  pass INTEGER NOT NULL,
  pass_state TEXT NOT NULL,
  pass_started_at INTEGER,
  pass_finished_at INTEGER
) STRICT;
CREATE TABLE batches (
  migration TEXT NOT NULL,
  pass INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  tbl TEXT NOT NULL,
  after_key TEXT,
  up_to TEXT,
  planned INTEGER NOT NULL,
  state TEXT NOT NULL,
  claimed_by TEXT,
  claimed_at INTEGER,
  done_at INTEGER,
  n_read INTEGER NOT NULL DEFAULT 0,
  n_copied INTEGER NOT NULL DEFAULT 0,
  n_recopied INTEGER NOT NULL DEFAULT 0,
  n_unchanged INTEGER NOT NULL DEFAULT 0,
  n_stayed INTEGER NOT NULL DEFAULT 0,
  n_refused INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (migration, pass, seq)
) STRICT;
CREATE INDEX batches_by_state ON batches (migration, pass, state, seq);
CREATE TABLE ledger (
  migration TEXT NOT NULL,
  tbl TEXT NOT NULL,
  key TEXT NOT NULL,
  collection TEXT NOT NULL,
  record_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  digest BLOB NOT NULL,
  seen_pass INTEGER NOT NULL,
  stamp TEXT,
  PRIMARY KEY (migration, tbl, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX ledger_by_pass ON ledger (migration, seen_pass);
CREATE TABLE verifications (
  id TEXT PRIMARY KEY,
  migration TEXT NOT NULL,
  pass INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  tables_json TEXT NOT NULL,
  root TEXT NOT NULL,
  mismatches INTEGER NOT NULL
) STRICT;
CREATE INDEX verifications_by_migration ON verifications (migration, finished_at);
CREATE TABLE mismatches (
  verification TEXT NOT NULL,
  seq INTEGER NOT NULL,
  tbl TEXT NOT NULL,
  key TEXT NOT NULL,
  kind TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (verification, seq)
) STRICT;
CREATE TABLE pending_purges (
  migration TEXT PRIMARY KEY,
  verification TEXT NOT NULL,
  body TEXT NOT NULL
) STRICT;
CREATE TABLE certificates (
  id TEXT PRIMARY KEY,
  migration TEXT NOT NULL,
  verification TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  note TEXT NOT NULL,
  log_index INTEGER
) STRICT;
`,
  },
  {
    id: 2,
    name: 'interrupted pass',
    sql: `ALTER TABLE migrations ADD COLUMN interrupted_pass INTEGER;`,
  },
  {
    id: 3,
    name: 'released batches',
    sql: `
ALTER TABLE batches ADD COLUMN released INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN seen_batch INTEGER;
`,
  },
  {
    id: 4,
    name: 'purge committed',
    sql: `ALTER TABLE pending_purges ADD COLUMN committed_at INTEGER;`,
  },
];

type Row = Record<string, SQLInputValue>;
/** Columns declared TEXT NOT NULL come back as strings. */
const str = (v: unknown): string => v as string;
const IN_CHUNK = 500;

export class SqliteMigrationState implements MigrationStateStore {
  private readonly db: DatabaseSync;
  private readonly cache: StatementCache;

  constructor(path: string) {
    this.db = openSqliteDatabase(path);
    try {
      applyMigrations(this.db, MIGRATION_STATE_MIGRATIONS, 'migration_state_schema');
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.cache = new StatementCache(this.db);
  }

  private stmt(sql: string): StatementSync {
    return this.cache.get(sql);
  }

  private tx<T>(fn: () => T): T {
    return inTransaction(this.db, fn);
  }

  async get(id: string): Promise<MigrationInfo | undefined> {
    const r = this.stmt('SELECT * FROM migrations WHERE id = ?').get(id) as Row | undefined;
    return Promise.resolve(r ? toMigration(r) : undefined);
  }

  async create(m: MigrationInfo): Promise<'created' | 'exists'> {
    const r = this.stmt(
      `INSERT INTO migrations (id, mapping_hash, source, created_at, pass, pass_state, pass_started_at, pass_finished_at, interrupted_pass)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ).run(m.id, m.mappingHash, m.source, m.createdAt, m.pass, m.passState, m.passStartedAt, m.passFinishedAt, m.interruptedPass);
    return Promise.resolve(r.changes === 1 ? 'created' : 'exists');
  }

  async beginPass(id: string, fromPass: number, pass: number, at: number): Promise<boolean> {
    return Promise.resolve(
      this.tx(() => {
        const r = this.stmt(`UPDATE migrations SET pass = ?, pass_state = 'planning', pass_started_at = ?, pass_finished_at = NULL WHERE id = ? AND pass = ?`).run(pass, at, id, fromPass);
        if (r.changes !== 1) return false;
        this.stmt('DELETE FROM batches WHERE migration = ? AND pass = ?').run(id, pass);
        return true;
      }),
    );
  }

  async addBatches(batches: readonly BatchInfo[]): Promise<void> {
    this.tx(() => {
      for (const b of batches) {
        this.stmt(`INSERT INTO batches (migration, pass, seq, tbl, after_key, up_to, planned, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(
          b.migration,
          b.pass,
          b.seq,
          b.table,
          b.after,
          b.upTo,
          b.planned,
          b.state,
        );
      }
    });
    return Promise.resolve();
  }

  async setPassState(id: string, pass: number, state: PassState, at: number): Promise<void> {
    this.stmt(`UPDATE migrations SET pass_state = ?, pass_finished_at = CASE WHEN ? = 'done' THEN ? ELSE pass_finished_at END WHERE id = ? AND pass = ?`).run(state, state, at, id, pass);
    return Promise.resolve();
  }

  async claimBatch(id: string, pass: number, worker: string, at: number): Promise<BatchInfo | undefined> {
    // One statement: the sub-select and the update happen under one write lock, so two workers never
    // get the same batch (PostgreSQL: FOR UPDATE SKIP LOCKED in the sub-select).
    const r = this.stmt(
      `UPDATE batches SET state = 'running', claimed_by = ?, claimed_at = ?
       WHERE migration = ? AND pass = ? AND state = 'pending'
         AND seq = (SELECT seq FROM batches WHERE migration = ? AND pass = ? AND state = 'pending' ORDER BY seq LIMIT 1)
       RETURNING *`,
    ).get(worker, at, id, pass, id, pass) as Row | undefined;
    return Promise.resolve(r ? toBatch(r) : undefined);
  }

  async exclusive<T>(_id: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  async claims(id: string, pass: number): Promise<{ worker: string; claimedAt: number }[]> {
    const rows = this.stmt(`SELECT claimed_by, min(claimed_at) AS at FROM batches WHERE migration = ? AND pass = ? AND state = 'running' GROUP BY claimed_by`).all(id, pass) as Row[];
    return Promise.resolve(rows.map((r) => ({ worker: str(r['claimed_by']), claimedAt: Number(r['at']) })));
  }

  async releaseClaims(id: string, pass: number, workers: readonly string[]): Promise<number> {
    return Promise.resolve(
      this.tx(() => {
        let n = 0;
        for (const w of workers) {
          n += Number(
            this.stmt(`UPDATE batches SET state = 'pending', claimed_by = NULL, claimed_at = NULL, released = 1 WHERE migration = ? AND pass = ? AND state = 'running' AND claimed_by = ?`).run(id, pass, w)
              .changes,
          );
        }
        if (n > 0) this.stmt('UPDATE migrations SET interrupted_pass = ? WHERE id = ?').run(pass, id);
        return n;
      }),
    );
  }

  async releasedBatches(id: string, pass: number): Promise<number[]> {
    const rows = this.stmt('SELECT seq FROM batches WHERE migration = ? AND pass = ? AND released = 1 ORDER BY seq').all(id, pass) as Row[];
    return Promise.resolve(rows.map((r) => Number(r['seq'])));
  }

  async putLedger(id: string, entries: readonly LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    this.tx(() => {
      const s = this.stmt(
        `INSERT INTO ledger (migration, tbl, key, collection, record_id, subject, digest, seen_pass, seen_batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (migration, tbl, key) DO UPDATE SET collection = excluded.collection, record_id = excluded.record_id,
           subject = excluded.subject, digest = excluded.digest, seen_pass = excluded.seen_pass, seen_batch = excluded.seen_batch`,
      );
      for (const e of byKey(entries, (x) => `${x.table}\u0000${x.key}`)) s.run(id, e.table, e.key, e.collection, e.recordId, e.subject, e.digest, e.seenPass, e.seenBatch);
    });
    return Promise.resolve();
  }

  async completeBatch(b: BatchInfo, worker: string, c: BatchCounters, at: number): Promise<boolean> {
    const r = this.stmt(
      `UPDATE batches SET state = 'done', done_at = ?, n_read = ?, n_copied = ?, n_recopied = ?, n_unchanged = ?, n_stayed = ?, n_refused = ?
       WHERE migration = ? AND pass = ? AND seq = ? AND state = 'running' AND claimed_by = ?`,
    ).run(at, c.read, c.copied, c.recopied, c.unchanged, c.stayed, c.refused, b.migration, b.pass, b.seq, worker);
    return Promise.resolve(r.changes === 1);
  }

  async ledger(id: string, table: string, keys: readonly string[]): Promise<Map<string, LedgerEntry>> {
    const out = new Map<string, LedgerEntry>();
    for (const part of chunks(keys, IN_CHUNK)) {
      const rows = this.stmt(`SELECT * FROM ledger WHERE migration = ? AND tbl = ? AND key IN (${part.map(() => '?').join(', ')})`).all(id, table, ...part) as Row[];
      for (const r of rows) out.set(str(r['key']), toLedger(r));
    }
    return Promise.resolve(out);
  }

  async unseen(id: string, pass: number, limit: number): Promise<LedgerEntry[]> {
    const rows = this.stmt('SELECT * FROM ledger WHERE migration = ? AND seen_pass < ? LIMIT ?').all(id, pass, limit) as Row[];
    return Promise.resolve(rows.map(toLedger));
  }

  async removeLedger(id: string, table: string, keys: readonly string[]): Promise<void> {
    this.tx(() => {
      for (const part of chunks(keys, IN_CHUNK)) this.stmt(`DELETE FROM ledger WHERE migration = ? AND tbl = ? AND key IN (${part.map(() => '?').join(', ')})`).run(id, table, ...part);
    });
    return Promise.resolve();
  }

  async clearLedger(id: string): Promise<void> {
    this.stmt('DELETE FROM ledger WHERE migration = ?').run(id);
    return Promise.resolve();
  }

  async ledgerCount(id: string, table?: string): Promise<number> {
    const r = (table === undefined
      ? this.stmt('SELECT count(*) AS n FROM ledger WHERE migration = ?').get(id)
      : this.stmt('SELECT count(*) AS n FROM ledger WHERE migration = ? AND tbl = ?').get(id, table)) as Row;
    return Promise.resolve(Number(r['n']));
  }

  async passProgress(id: string, pass: number): Promise<{ batches: number; done: number; planned: number; counters: BatchCounters }> {
    const r = this.stmt(
      `SELECT count(*) AS batches, coalesce(sum(state = 'done'), 0) AS done, coalesce(sum(planned), 0) AS planned,
         coalesce(sum(n_read), 0) AS n_read, coalesce(sum(n_copied), 0) AS n_copied, coalesce(sum(n_recopied), 0) AS n_recopied,
         coalesce(sum(n_unchanged), 0) AS n_unchanged, coalesce(sum(n_stayed), 0) AS n_stayed, coalesce(sum(n_refused), 0) AS n_refused
       FROM batches WHERE migration = ? AND pass = ?`,
    ).get(id, pass) as Row;
    return Promise.resolve({
      batches: Number(r['batches']),
      done: Number(r['done']),
      planned: Number(r['planned']),
      counters: {
        read: Number(r['n_read']),
        copied: Number(r['n_copied']),
        recopied: Number(r['n_recopied']),
        unchanged: Number(r['n_unchanged']),
        stayed: Number(r['n_stayed']),
        refused: Number(r['n_refused']),
      },
    });
  }

  async invalidateLedger(id: string, entries: readonly LedgerEntry[]): Promise<number> {
    let marked = 0;
    this.tx(() => {
      const s = this.stmt(`UPDATE ledger SET digest = X'' WHERE migration = ? AND tbl = ? AND key = ? AND seen_pass = ? AND seen_batch IS ? AND digest = ?`);
      for (const e of entries) marked += Number(s.run(id, e.table, e.key, e.seenPass, e.seenBatch, e.digest).changes);
    });
    return Promise.resolve(marked);
  }

  async stampLedger(id: string, table: string, keys: readonly string[], stamp: string): Promise<void> {
    this.tx(() => {
      for (const part of chunks(keys, IN_CHUNK)) {
        this.stmt(`UPDATE ledger SET stamp = ? WHERE migration = ? AND tbl = ? AND key IN (${part.map(() => '?').join(', ')})`).run(stamp, id, table, ...part);
      }
    });
    return Promise.resolve();
  }

  async unstamped(id: string, table: string, stamp: string, limit: number, afterKey: string | null): Promise<LedgerEntry[]> {
    const rows = this.stmt(`SELECT * FROM ledger WHERE migration = ? AND tbl = ? AND (stamp IS NULL OR stamp <> ?) AND key > ? ORDER BY key LIMIT ?`).all(
      id,
      table,
      stamp,
      afterKey ?? '',
      limit,
    ) as Row[];
    return Promise.resolve(rows.map(toLedger));
  }

  async putMismatches(verification: string, mismatches: readonly Mismatch[]): Promise<void> {
    if (mismatches.length === 0) return Promise.resolve();
    this.tx(() => {
      let seq = Number((this.stmt('SELECT coalesce(max(seq), 0) AS n FROM mismatches WHERE verification = ?').get(verification) as Row)['n']);
      const s = this.stmt('INSERT INTO mismatches (verification, seq, tbl, key, kind, detail) VALUES (?, ?, ?, ?, ?, ?)');
      for (const m of mismatches) s.run(verification, ++seq, m.table, m.key, m.kind, m.detail);
    });
    return Promise.resolve();
  }

  async saveVerification(v: VerificationInfo): Promise<void> {
    this.stmt(
      `INSERT INTO verifications (id, migration, pass, started_at, finished_at, ok, tables_json, root, mismatches) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(v.id, v.migration, v.pass, v.startedAt, v.finishedAt, v.ok ? 1 : 0, JSON.stringify(v.tables), v.root, v.mismatches);
    return Promise.resolve();
  }

  async verification(id: string): Promise<VerificationInfo | undefined> {
    const r = this.stmt('SELECT * FROM verifications WHERE id = ?').get(id) as Row | undefined;
    return Promise.resolve(r ? toVerification(r) : undefined);
  }

  async latestVerification(migration: string): Promise<VerificationInfo | undefined> {
    const r = this.stmt('SELECT * FROM verifications WHERE migration = ? ORDER BY finished_at DESC, rowid DESC LIMIT 1').get(migration) as Row | undefined;
    return Promise.resolve(r ? toVerification(r) : undefined);
  }

  async mismatches(verification: string, limit: number, after: number): Promise<(Mismatch & { readonly seq: number })[]> {
    const rows = this.stmt('SELECT * FROM mismatches WHERE verification = ? AND seq > ? ORDER BY seq LIMIT ?').all(verification, after, limit) as Row[];
    return Promise.resolve(rows.map(toMismatch));
  }

  async savePendingPurge(p: PendingPurge): Promise<void> {
    const { committedAt, ...body } = p;
    this.stmt(
      'INSERT INTO pending_purges (migration, verification, body, committed_at) VALUES (?, ?, ?, ?) ON CONFLICT (migration) DO UPDATE SET verification = excluded.verification, body = excluded.body, committed_at = excluded.committed_at',
    ).run(p.migration, p.verification, JSON.stringify(body), committedAt ?? null);
    return Promise.resolve();
  }

  async pendingPurge(migration: string): Promise<PendingPurge | undefined> {
    const r = this.stmt('SELECT body, committed_at FROM pending_purges WHERE migration = ?').get(migration) as Row | undefined;
    return Promise.resolve(r ? toPendingPurge(r) : undefined);
  }

  async markPurgeCommitted(migration: string, verification: string, at: number): Promise<boolean> {
    // The first mark stands: the commit happened once.
    const r = this.stmt('UPDATE pending_purges SET committed_at = coalesce(committed_at, ?) WHERE migration = ? AND verification = ?').run(at, migration, verification);
    return Promise.resolve(Number(r.changes) > 0);
  }

  async clearPendingPurge(migration: string): Promise<void> {
    this.stmt('DELETE FROM pending_purges WHERE migration = ?').run(migration);
    return Promise.resolve();
  }

  async saveCertificate(c: CertificateInfo): Promise<void> {
    this.stmt('INSERT INTO certificates (id, migration, verification, issued_at, note, log_index) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(
      c.id,
      c.migration,
      c.verification,
      c.issuedAt,
      c.note,
      c.logIndex,
    );
    return Promise.resolve();
  }

  async setCertificateLogIndex(id: string, index: number): Promise<void> {
    this.stmt('UPDATE certificates SET log_index = ? WHERE id = ?').run(index, id);
    return Promise.resolve();
  }

  async certificate(id: string): Promise<CertificateInfo | undefined> {
    const r = this.stmt('SELECT * FROM certificates WHERE id = ?').get(id) as Row | undefined;
    return Promise.resolve(r ? toCertificate(r) : undefined);
  }

  async certificates(migration?: string): Promise<CertificateInfo[]> {
    const rows = (migration === undefined
      ? this.stmt('SELECT * FROM certificates ORDER BY issued_at, id').all()
      : this.stmt('SELECT * FROM certificates WHERE migration = ? ORDER BY issued_at, id').all(migration)) as Row[];
    return Promise.resolve(rows.map(toCertificate));
  }

  async close(): Promise<void> {
    if (this.db.isOpen) {
      this.cache.clear();
      this.db.close();
    }
    return Promise.resolve();
  }
}
