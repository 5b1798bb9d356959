// The Store port on PostgreSQL (pg Pool), behaving exactly as the SQLite store does (the conformance
// suite, test/storage/conformance.ts, decides). Each store is one schema of one database; opening it
// connects and migrates, so it is async: `await PostgresStore.open(url)`.
//
// Erasure on PostgreSQL: the row's wrapped key is overwritten (set NULL) in the erasing transaction, and
// scrub() VACUUMs the subjects table so the old row version leaves the table. PostgreSQL has no secure
// delete: freed space is not zeroed, and the WAL, replicas and backups keep the old version until they
// are recycled or expire. docs/postgresql.md says what that means.
import { EnclaveError } from '../../core/errors.ts';
import type { Migration } from '../../core/migration-plan.ts';
import type {
  AccessRequestStore,
  ApprovalStore,
  GrantStore,
  MetaStore,
  PolicyVersionStore,
  ProposalStore,
  RecordRow,
  RecordStore,
  Store,
  SubjectClaimStore,
  SubjectRow,
  SubjectStore,
  TokenStore,
} from '../../core/store.ts';
import { UNMARKED } from '../../core/store.ts';
import { erasedHere, SUBJECT_COLUMNS, SUBJECT_UPSERT_SET, subjectValues } from '../rows.ts';
import { advisoryKey, type PostgresDb, type Sql } from './postgres-db.ts';
import { postgresAccessRequests, postgresApprovals, postgresGrants, postgresPolicyVersions, postgresProposals } from './postgres-gatekeeper.ts';
import { postgresMeta } from './postgres-meta.ts';
import { openMigrated } from './postgres-migrate.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import { insertRecords, postgresRecords } from './postgres-records.ts';
import { postgresSubjectClaims } from './postgres-subject-claims.ts';
import { postgresSubjects } from './postgres-subjects.ts';
import { postgresTokens } from './postgres-tokens.ts';
import { parsePostgresUrl, type PostgresLocation } from './postgres-url.ts';

export interface PostgresOptions {
  readonly migrations?: readonly Migration[];
}

export class PostgresStore implements Store {
  readonly driver = 'postgres';
  readonly subjects: SubjectStore;
  readonly subjectClaims: SubjectClaimStore;
  readonly recordClaims: SubjectClaimStore;
  readonly records: RecordStore;
  readonly tokens: TokenStore;
  readonly meta: MetaStore;
  readonly accessRequests: AccessRequestStore;
  readonly approvals: ApprovalStore;
  readonly grants: GrantStore;
  readonly policyVersions: PolicyVersionStore;
  readonly proposals: ProposalStore;
  private readonly db: PostgresDb;
  /** The vacuum that has not started yet: every scrub requested meanwhile shares it (see scrub()). */
  private queuedScrub: Promise<void> | undefined;
  private lastScrub: Promise<void> = Promise.resolve();

  private constructor(db: PostgresDb) {
    this.db = db;
    this.subjects = postgresSubjects(db, () => this.scrub());
    this.subjectClaims = postgresSubjectClaims(db, 'subject_claims');
    this.recordClaims = postgresSubjectClaims(db, 'record_claims');
    this.records = postgresRecords(db);
    this.tokens = postgresTokens(db);
    this.meta = postgresMeta(db);
    this.accessRequests = postgresAccessRequests(db);
    this.approvals = postgresApprovals(db);
    this.grants = postgresGrants(db);
    this.policyVersions = postgresPolicyVersions(db);
    this.proposals = postgresProposals(db);
  }

  /** Connects and migrates. Fails with invalid_config, storage_unavailable or migration_refused. */
  static async open(url: string | PostgresLocation, options: PostgresOptions = {}): Promise<PostgresStore> {
    const location = typeof url === 'string' ? parsePostgresUrl(url) : url;
    const db = await openMigrated(location, { migrations: options.migrations ?? POSTGRES_MIGRATIONS });
    return new PostgresStore(db);
  }


  /** Serializes re-homing writes to one subject across every instance sharing this database. */
  private static async lockSubject(sql: Sql, schema: string, id: string): Promise<void> {
    await sql.rows('SELECT pg_advisory_xact_lock($1)', [advisoryKey('subject', schema, id)]);
  }

  async importSubject(subject: SubjectRow, records: readonly RecordRow[]): Promise<void> {
    if (records.some((r) => r.subject !== subject.id)) throw new EnclaveError('subject_mismatch', 'importSubject was given a record of another subject');
    await this.db.tx(async (sql) => {
      await PostgresStore.lockSubject(sql, this.db.location.schema, subject.id);
      // FOR UPDATE: an erasure committed meanwhile is seen, and one that comes later waits for this copy.
      const held = await sql.rows('SELECT erased_at FROM subjects WHERE id = $1 FOR UPDATE', [subject.id]);
      if (subject.erasedAt === null && held[0] && held[0]['erased_at'] !== null) throw erasedHere(subject.id);
      await sql.run('DELETE FROM records WHERE subject = $1', [subject.id]);
      // The row is replaced in place, not deleted and inserted: an erasure or a mark waiting for its lock
      // then finds the copy (READ COMMITTED follows an updated row to its new version, and skips a deleted
      // one), as it would after it, instead of no subject at all.
      await sql.run(
        `INSERT INTO subjects (${SUBJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET ${SUBJECT_UPSERT_SET}`,
        subjectValues({ ...subject, ...UNMARKED }),
      );
      const inserted = new Set((await insertRecords(sql, records)).map((k) => `${k.collection}/${k.id}`));
      const refused = records.find((r) => !inserted.delete(`${r.collection}/${r.id}`));
      if (refused) throw new EnclaveError('record_exists', `record ${refused.collection}/${refused.id} exists here under another subject`);
    });
  }

  async purgeSubject(id: string): Promise<number> {
    const n = await this.db.tx(async (sql) => {
      await PostgresStore.lockSubject(sql, this.db.location.schema, id);
      // The subject's row first, then its records: the order an erasure (and importSubject) takes them
      // in. Records first, a purge and an erasure of one subject through two instances would deadlock.
      await sql.rows('SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE', [id]);
      const deleted = await sql.run('DELETE FROM records WHERE subject = $1', [id]);
      await sql.run('DELETE FROM subjects WHERE id = $1', [id]);
      return deleted;
    });
    await this.scrub();
    return n;
  }

  /**
   * VACUUMs the subjects table (where the wrapped keys live), so the row versions an erasure or a purge
   * left behind are removed from the table. VACUUM takes no lock that blocks reads or writes, but one
   * runs at a time per table: requests made while one runs share the next run, which starts after them.
   */
  async scrub(): Promise<void> {
    if (this.queuedScrub) return this.queuedScrub;
    const next = this.lastScrub
      .catch(() => undefined)
      .then(async () => {
        this.queuedScrub = undefined;
        await this.db.run('VACUUM subjects');
      });
    this.queuedScrub = next;
    this.lastScrub = next;
    return next;
  }

  async close(): Promise<void> {
    await this.lastScrub.catch(() => undefined);
    await this.db.end();
  }
}
