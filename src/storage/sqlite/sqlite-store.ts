// Embedded store on node:sqlite (settings in sqlite-db.ts: every commit durable, freed bytes zeroed).
import type { DatabaseSync, StatementSync, SQLInputValue } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import type { Migration } from '../../core/migration-plan.ts';
import type {
  AccessRequestStore,
  ApprovalStore,
  DeleteResult,
  GrantRow,
  GrantStore,
  InsertManyResult,
  InsertResult,
  MetaStore,
  PolicyVersionRow,
  PolicyVersionStore,
  ProposalStore,
  PrincipalRow,
  RecordInsertResult,
  RecordRow,
  RecordStore,
  RecordWithSubject,
  Store,
  SubjectRow,
  SubjectClaimStore,
  SubjectStore,
  TokenRow,
  TokenStore,
  UpdateResult,
} from '../../core/store.ts';
import { UNMARKED } from '../../core/store.ts';
import {
  byId,
  erasedHere,
  markedBySql,
  noDenialSql,
  UNMARK_SQL,
  writableSubjectSql,
  ProposalAbort,
  ACCESS_REQUEST_COLUMNS,
  accessRequestValues,
  countOf,
  GRANT_COLUMNS,
  grantValues,
  listLimit,
  pageLimit,
  POLICY_VERSION_COLUMNS,
  policyVersionValues,
  PROPOSAL_COLUMNS,
  proposalValues,
  APPROVAL_COLUMNS,
  approvalValues,
  toAccessRequest,
  approvalsByTarget,
  toApproval,
  toGrant,
  toPolicyVersion,
  toProposal,
  RECORD_COLUMNS,
  recordWithSubjectSql,
  recordValues,
  SUBJECT_COLUMNS,
  subjectValues,
  TOKEN_COLUMNS,
  TOKEN_SELECT,
  tokenValues,
  toRecord,
  toRecordWithSubject,
  toSubject,
  toSubjectClaim,
  toTokenWithPrincipal,
  type SqlRow,
} from '../rows.ts';
import { applyMigrations, byKey, inTransaction, openSqliteDatabase, StatementCache } from './sqlite-db.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';
import { ReadBatch } from './sqlite-read-batch.ts';

type Row = Record<string, SQLInputValue>;

// Built once: a statement's text is its cache key, looked up for every row of a bulk load and every read.
const INSERT_SUBJECT = `INSERT INTO subjects (${SUBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`;
/** The compare-and-set condition on the move mark: the expected owner is passed twice (anonymous parameters). */
const MARKED_BY = markedBySql('?');
/** importSubject's insert: it holds the subject's row itself (it has just written it). */
const INSERT_RECORD = `INSERT INTO records (${RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO NOTHING`;
/**
 * Every other record write checks its subject in the same statement (RecordStore): SQLite runs one writer
 * at a time, on the latest snapshot, so no mark or erasure of the subject, through any connection, comes
 * between the check and the write. (The WHERE also keeps the upsert unambiguous to SQLite's parser.)
 */
const INSERT_RECORD_CHECKED = `INSERT INTO records (${RECORD_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (${writableSubjectSql('?3')}) ON CONFLICT (collection, id) DO NOTHING`;
const WRITABLE_SUBJECT = writableSubjectSql('?');
// A conditional write names the record's revision by version and created_at: a record deleted and
// created again starts at version 1 again, so the version alone would match the new one (RecordRevision).
const UPDATE_RECORD = `UPDATE records SET version = ?1, public_json = ?2, sealed = ?3, updated_at = ?4
  WHERE collection = ?5 AND id = ?6 AND version = ?7 AND created_at = ?10 AND subject = ?8 AND created_by IS ?9 AND EXISTS (${writableSubjectSql('?8')})`;
const DELETE_RECORD = `DELETE FROM records WHERE collection = ?1 AND id = ?2 AND (?3 IS NULL OR (version = ?3 AND created_at = ?5)) AND (?4 IS NULL OR created_by IS NULL OR created_by = ?4)
  AND EXISTS (${writableSubjectSql('records.subject')})`;
const INSERT_TOKEN = `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const GET_WITH_SUBJECT = recordWithSubjectSql('?', '?');
/**
 * Whether a principal of the org (?1) with a role in ?2 or an id in ?3 (JSON arrays) holds or held a token
 * created at ?4 or later, or holds one still valid at ?5.
 */
const ORG_HAS_APPROVER_TOKEN = `SELECT 1 FROM tokens t JOIN principals p ON p.id = t.principal_id
  WHERE p.org = ?1 AND (p.role IN (SELECT value FROM json_each(?2)) OR p.id IN (SELECT value FROM json_each(?3)))
  AND (t.created_at >= ?4 OR (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?5))) LIMIT 1`;
const REVOKE_LINEAGE = 'UPDATE tokens SET revoked_at = ? WHERE lineage = (SELECT lineage FROM tokens WHERE id = ?) AND revoked_at IS NULL RETURNING id';

export interface SqliteOptions {
  /** A file path, or ':memory:' for tests. */
  readonly path: string;
  readonly migrations?: readonly Migration[];
}

const NO_DENIAL = noDenialSql('?3');

export class SqliteStore implements Store {
  readonly driver = 'sqlite';
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
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements: StatementCache;
  /** The gated read's lookups, run together per event-loop turn (sqlite-read-batch.ts). */
  private readonly recordReads: ReadBatch<readonly [string, string], RecordWithSubject | undefined>;

  constructor(options: SqliteOptions) {
    this.path = options.path;
    this.db = openSqliteDatabase(options.path);
    this.statements = new StatementCache(this.db);
    this.recordReads = new ReadBatch(this.db, ([collection, id]) => {
      const r = this.statements.arrays(GET_WITH_SUBJECT).get(collection, id) as unknown as unknown[] | undefined;
      return r ? toRecordWithSubject(r) : undefined;
    });
    try {
      this.migrate(options.migrations ?? SQLITE_MIGRATIONS);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.subjects = this.subjectStore();
    this.subjectClaims = this.subjectClaimStore('subject_claims');
    this.recordClaims = this.subjectClaimStore('record_claims');
    this.records = this.recordStore();
    this.tokens = this.tokenStore();
    this.meta = this.metaStore();
    this.accessRequests = this.accessRequestStore();
    this.approvals = this.approvalStore();
    this.grants = this.grantStore();
    this.policyVersions = this.policyVersionStore();
    this.proposals = this.proposalStore();
  }

  private stmt(sql: string): StatementSync {
    return this.statements.get(sql);
  }

  private tx<T>(fn: () => T): T {
    return inTransaction(this.db, fn);
  }

  private migrate(migrations: readonly Migration[]): void {
    applyMigrations(this.db, migrations, 'schema_migrations');
  }

  private subjectStore(): SubjectStore {
    return {
      insert: async (row) => Promise.resolve<InsertResult>(this.insertSubjectRow(row) ? 'inserted' : 'exists'),
      insertMany: async (rows) => Promise.resolve(this.tx(() => byKey(rows, (r) => r.id).reduce((n, row) => n + (this.insertSubjectRow(row) ? 1 : 0), 0))),
      get: async (id) => {
        const r = this.stmt('SELECT * FROM subjects WHERE id = ?').get(id) as Row | undefined;
        return Promise.resolve(r ? toSubject(r) : undefined);
      },
      getMany: async (ids) => Promise.resolve(this.many('SELECT * FROM subjects WHERE id IN (SELECT value FROM json_each(?))', [], ids, toSubject)),
      erase: async (id, at, owner = null) => {
        const n = this.tx(() => {
          const r = this.stmt(`UPDATE subjects SET wrapped_key = NULL, erased_at = ?, ${UNMARK_SQL} WHERE id = ? AND erased_at IS NULL AND ${MARKED_BY}`).run(at, id, owner, owner);
          if (r.changes !== 1) return undefined;
          return Number(this.stmt(`UPDATE records SET public_json = '{}', updated_at = ? WHERE subject = ?`).run(at, id).changes);
        });
        if (n !== undefined) await this.scrub();
        return n;
      },
      setResidence: async (id, country, jurisdiction) =>
        Promise.resolve(this.stmt('UPDATE subjects SET country = ?, jurisdiction = ? WHERE id = ?').run(country, jurisdiction, id).changes === 1),
      setMovedTo: async (id, mark, expectedOwner) => {
        const r = this.stmt(`UPDATE subjects SET moved_to = ?, move_owner = ?, move_started_at = ? WHERE id = ? AND ${MARKED_BY} AND (? IS NULL OR erased_at IS NULL)`).run(
          mark?.site ?? null,
          mark?.owner ?? null,
          mark?.startedAt ?? null,
          id,
          expectedOwner,
          expectedOwner,
          mark?.site ?? null,
        );
        return Promise.resolve(r.changes === 1);
      },
      count: async () => Promise.resolve(countOf(this.stmt('SELECT count(*) AS n FROM subjects').get())),
    };
  }

  /** Rows by id for a list of ids, in one statement: the ids go in as one JSON array (any number, one plan). */
  private many<T extends { readonly id: string }>(sql: string, params: readonly SQLInputValue[], ids: readonly string[], to: (r: SqlRow) => T): Map<string, T> {
    return byId(ids.length === 0 ? [] : (this.stmt(sql).all(...params, JSON.stringify(ids)) as Row[]), to);
  }

  private insertSubjectRow(row: SubjectRow): boolean {
    const r = this.stmt(INSERT_SUBJECT).run(...subjectValues(row));
    return r.changes === 1;
  }

  /** importSubject's insert, unchecked: it wrote the subject's row in the same transaction. */
  private insertRecordRow(row: RecordRow): boolean {
    const r = this.stmt(INSERT_RECORD).run(...recordValues(row));
    return r.changes === 1;
  }

  /** Whether the subject's row takes record writes (RecordStore): present, not erased, not moving. */
  private subjectWritable(id: string): boolean {
    return this.stmt(WRITABLE_SUBJECT).get(id) !== undefined;
  }

  /** A record insert checked against its subject in the same statement; why it inserted nothing, if it did not. */
  private insertCheckedRow(row: RecordRow): RecordInsertResult {
    if (this.stmt(INSERT_RECORD_CHECKED).run(...recordValues(row)).changes === 1) return 'inserted';
    return this.subjectWritable(row.subject) ? 'exists' : 'subject_unavailable';
  }

  /**
   * insertMany inside its transaction: each subject checked once (the transaction holds SQLite's one write
   * lock, so no mark or erasure comes between the check and the inserts), then its rows in key order.
   */
  private insertCheckedRows(rows: readonly RecordRow[]): InsertManyResult {
    let inserted = 0;
    const writable = new Map<string, boolean>();
    for (const row of byKey(rows, (r) => r.id)) {
      let ok = writable.get(row.subject);
      if (ok === undefined) {
        ok = this.subjectWritable(row.subject);
        writable.set(row.subject, ok);
      }
      if (ok && this.insertRecordRow(row)) inserted += 1;
    }
    return { inserted, unavailable: [...writable].filter(([, ok]) => !ok).map(([subject]) => subject) };
  }

  private recordStore(): RecordStore {
    return {
      insert: async (row) => Promise.resolve(this.insertCheckedRow(row)),
      insertMany: async (rows) => Promise.resolve(this.tx(() => this.insertCheckedRows(rows))),
      get: async (collection, id) => {
        const r = this.stmt('SELECT * FROM records WHERE collection = ? AND id = ?').get(collection, id) as Row | undefined;
        return Promise.resolve(r ? toRecord(r) : undefined);
      },
      getWithSubject: (collection, id) => this.recordReads.get([collection, id]),
      getMany: async (collection, ids) => Promise.resolve(this.many('SELECT * FROM records WHERE collection = ? AND id IN (SELECT value FROM json_each(?))', [collection], ids, toRecord)),
      update: async (row, expected) =>
        Promise.resolve(
          this.tx<UpdateResult>(() => {
            const r = this.stmt(UPDATE_RECORD).run(row.version, row.publicJson, row.sealed, row.updatedAt, row.collection, row.id, expected.version, row.subject, row.createdBy, expected.createdAt);
            if (r.changes === 1) return 'updated';
            if (!this.subjectWritable(row.subject)) return 'subject_unavailable';
            return this.stmt('SELECT 1 FROM records WHERE collection = ? AND id = ?').get(row.collection, row.id) ? 'version_conflict' : 'not_found';
          }),
        ),
      delete: async (collection, id, expected, creator) =>
        Promise.resolve(
          this.tx<DeleteResult>(() => {
            const r = this.stmt(DELETE_RECORD).run(collection, id, expected?.version ?? null, creator ?? null, expected?.createdAt ?? null);
            if (r.changes === 1) return 'deleted';
            const stored = this.stmt('SELECT subject FROM records WHERE collection = ? AND id = ?').get(collection, id) as Row | undefined;
            if (!stored) return 'not_found';
            return this.subjectWritable(stored['subject'] as string) ? 'version_conflict' : 'subject_unavailable';
          }),
        ),
      listBySubject: async (subject, options) => {
        const limit = listLimit(options?.limit);
        const after = options?.after;
        const coll = options?.collection;
        let rows: Row[];
        if (coll !== undefined) {
          rows = (after
            ? this.stmt('SELECT * FROM records WHERE subject = ? AND collection = ? AND (collection, id) > (?, ?) ORDER BY collection, id LIMIT ?').all(subject, coll, after.collection, after.id, limit)
            : this.stmt('SELECT * FROM records WHERE subject = ? AND collection = ? ORDER BY collection, id LIMIT ?').all(subject, coll, limit));
        } else {
          rows = (after
            ? this.stmt('SELECT * FROM records WHERE subject = ? AND (collection, id) > (?, ?) ORDER BY collection, id LIMIT ?').all(subject, after.collection, after.id, limit)
            : this.stmt('SELECT * FROM records WHERE subject = ? ORDER BY collection, id LIMIT ?').all(subject, limit));
        }
        return Promise.resolve(rows.map(toRecord));
      },
      count: async () => Promise.resolve(countOf(this.stmt('SELECT count(*) AS n FROM records').get())),
    };
  }

  private tokenStore(): TokenStore {
    const select = TOKEN_SELECT;
    return {
      create: async (principal: PrincipalRow, token: TokenRow) => Promise.resolve(this.tx(() => this.insertToken(principal, token))),
      findByHash: async (hash) => {
        const r = this.stmt(`${select} WHERE t.hash = ?`).get(hash) as Row | undefined;
        return Promise.resolve(r ? toTokenWithPrincipal(r) : undefined);
      },
      revoke: async (id, at) => Promise.resolve(this.revokeToken(id, at)),
      rotate: async (replaced, token, at) =>
        Promise.resolve(
          this.tx(() => {
            const r = this.stmt('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND lineage = ? AND principal_id = ?').run(at, replaced, token.lineage, token.principalId);
            if (r.changes !== 1) return 'not_active' as const;
            this.stmt(INSERT_TOKEN).run(...tokenValues({ ...token, replaces: replaced }));
            return 'rotated' as const;
          }),
        ),
      get: async (id) => {
        const r = this.stmt(`${select} WHERE t.id = ?`).get(id) as Row | undefined;
        return Promise.resolve(r ? toTokenWithPrincipal(r) : undefined);
      },
      lineage: async (lineage) => Promise.resolve((this.stmt(`${select} WHERE t.lineage = ? ORDER BY t.created_at, t.id`).all(lineage) as Row[]).map(toTokenWithPrincipal)),
      list: async () => Promise.resolve((this.stmt(`${select} ORDER BY t.created_at, t.id`).all() as Row[]).map(toTokenWithPrincipal)),
    };
  }

  /** Creates the principal if new (its org and role must then match) and the token; call inside tx. */
  private insertToken(principal: PrincipalRow, token: TokenRow): 'created' | 'principal_mismatch' {
    this.stmt('INSERT INTO principals (id, org, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(principal.id, principal.org, principal.role, principal.createdAt);
    const p = this.stmt('SELECT org, role FROM principals WHERE id = ?').get(principal.id) as Row;
    if (p['org'] !== principal.org || p['role'] !== principal.role) return 'principal_mismatch';
    this.stmt(INSERT_TOKEN).run(...tokenValues(token));
    return 'created';
  }

  /** The token's lineage, every token of it not revoked yet, in one statement (SQLite's write lock orders it against rotate). */
  private revokeToken(id: string, at: number): string[] {
    return (this.stmt(REVOKE_LINEAGE).all(at, id) as Row[]).map((r) => r['id'] as string);
  }

  private insertGrantRow(g: GrantRow): void {
    this.stmt(`INSERT INTO grants (${GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...grantValues(g));
  }

  private openBreakGlass(principal: string, at: number): GrantRow[] {
    return (this.stmt('SELECT * FROM grants WHERE principal = ? AND breakglass = 1 AND revoked_at IS NULL AND expires_at > ? ORDER BY expires_at, id').all(principal, at) as Row[]).map(toGrant);
  }

  private accessRequestStore(): AccessRequestStore {
    return {
      insert: async (row, grant, maxOpen) =>
        Promise.resolve(
          this.tx<InsertResult | 'limit'>(() => {
            // BEGIN IMMEDIATE holds the write lock from here: no other opening can pass this count meanwhile.
            if (grant && maxOpen !== undefined && this.openBreakGlass(grant.principal, grant.createdAt).length >= maxOpen) return 'limit';
            const r = this.stmt(`INSERT INTO access_requests (${ACCESS_REQUEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`).run(
              ...accessRequestValues(row),
            );
            if (r.changes !== 1) return 'exists';
            if (grant) this.insertGrantRow(grant);
            return 'inserted';
          }),
        ),
      get: async (id) => {
        const r = this.stmt('SELECT * FROM access_requests WHERE id = ?').get(id) as Row | undefined;
        return Promise.resolve(r ? toAccessRequest(r) : undefined);
      },
      list: async (options) => {
        const rows = this.stmt(
          `SELECT * FROM access_requests WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR requester = ?3)
           ORDER BY created_at DESC, id DESC LIMIT ?4`,
        ).all(options?.kind ?? null, options?.status ?? null, options?.requester ?? null, pageLimit(options?.limit)) as Row[];
        return Promise.resolve(rows.map(toAccessRequest));
      },
      decide: async (id, d) =>
        Promise.resolve(
          this.tx(() => {
            const changed =
              d.status === 'denied'
                ? this.stmt(`UPDATE access_requests SET status = 'denied', decided_at = ? WHERE id = ? AND status = 'pending'`).run(d.at, id).changes
                : this.stmt(`UPDATE access_requests SET status = 'approved', decided_at = ?1, grant_id = ?2 WHERE id = ?3 AND status = 'pending' AND expires_at > ?1 AND ${NO_DENIAL}`).run(d.at, d.grant.id, id).changes;
            if (changed !== 1) return 'not_pending' as const;
            if (d.status === 'approved') this.insertGrantRow(d.grant);
            return 'decided' as const;
          }),
        ),
    };
  }

  private approvalStore(): ApprovalStore {
    return {
      add: async (a) =>
        Promise.resolve<InsertResult>(
          this.stmt(`INSERT INTO approvals (${APPROVAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target, approver) DO NOTHING`).run(...approvalValues(a)).changes === 1
            ? 'inserted'
            : 'exists',
        ),
      list: async (target) => Promise.resolve((this.stmt('SELECT * FROM approvals WHERE target = ? ORDER BY at, approver').all(target) as Row[]).map(toApproval)),
      listMany: async (targets) =>
        Promise.resolve(
          approvalsByTarget(targets, targets.length === 0 ? [] : (this.stmt('SELECT * FROM approvals WHERE target IN (SELECT value FROM json_each(?)) ORDER BY at, approver').all(JSON.stringify(targets)) as Row[])),
        ),
    };
  }

  private grantStore(): GrantStore {
    return {
      get: async (id) => {
        const r = this.stmt('SELECT * FROM grants WHERE id = ?').get(id) as Row | undefined;
        return Promise.resolve(r ? toGrant(r) : undefined);
      },
      listActive: async (at) =>
        Promise.resolve((this.stmt('SELECT * FROM grants WHERE expires_at > ? AND revoked_at IS NULL ORDER BY created_at, id').all(at) as Row[]).map(toGrant)),
      openBreakGlass: async (principal, at) => Promise.resolve(this.openBreakGlass(principal, at)),
      list: async (options) =>
        Promise.resolve(
          (this.stmt('SELECT * FROM grants WHERE (?1 IS NULL OR principal = ?1) ORDER BY created_at DESC, id DESC LIMIT ?2').all(options?.principal ?? null, pageLimit(options?.limit)) as Row[]).map(toGrant),
        ),
      revoke: async (id, at, by) => Promise.resolve(this.stmt('UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at, by, id).changes === 1),
    };
  }

  private appendPolicyVersion(v: PolicyVersionRow): 'inserted' | 'stale' {
    const latest = countOf(this.stmt('SELECT coalesce(max(version), 0) AS n FROM policy_versions').get());
    if (v.version !== latest + 1) return 'stale';
    this.stmt(`INSERT INTO policy_versions (${POLICY_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`).run(...policyVersionValues(v));
    return 'inserted';
  }

  private policyVersionStore(): PolicyVersionStore {
    return {
      append: async (v) => Promise.resolve(this.tx(() => this.appendPolicyVersion(v))),
      latest: async () => {
        const r = this.stmt('SELECT * FROM policy_versions ORDER BY version DESC LIMIT 1').get() as Row | undefined;
        return Promise.resolve(r ? toPolicyVersion(r) : undefined);
      },
      get: async (version) => {
        const r = this.stmt('SELECT * FROM policy_versions WHERE version = ?').get(version) as Row | undefined;
        return Promise.resolve(r ? toPolicyVersion(r) : undefined);
      },
      list: async () => Promise.resolve((this.stmt('SELECT * FROM policy_versions ORDER BY version').all() as Row[]).map(toPolicyVersion)),
    };
  }

  private proposalStore(): ProposalStore {
    return {
      insert: async (p) =>
        Promise.resolve<InsertResult>(
          this.stmt(`INSERT INTO proposals (${PROPOSAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`).run(...proposalValues(p)).changes === 1
            ? 'inserted'
            : 'exists',
        ),
      get: async (id) => {
        const r = this.stmt('SELECT * FROM proposals WHERE id = ?').get(id) as Row | undefined;
        return Promise.resolve(r ? toProposal(r) : undefined);
      },
      list: async (options) =>
        Promise.resolve(
          (
            this.stmt('SELECT * FROM proposals WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR status = ?2) ORDER BY created_at DESC, id DESC LIMIT ?3').all(
              options?.kind ?? null,
              options?.status ?? null,
              pageLimit(options?.limit),
            ) as Row[]
          ).map(toProposal),
        ),
      decide: async (id, d) => {
        // Errors thrown inside roll the transaction back; the answer names why.
        try {
          return await Promise.resolve(
            this.tx(() => {
              const changed =
                d.status === 'applied'
                  ? this.stmt(`UPDATE proposals SET status = 'applied', decided_at = ?1, outcome = ?2 WHERE id = ?3 AND status = 'pending' AND expires_at > ?1 AND ${NO_DENIAL}`).run(d.at, d.outcome, id).changes
                  : this.stmt(`UPDATE proposals SET status = ?, decided_at = ?, outcome = ? WHERE id = ? AND status = 'pending'`).run(d.status, d.at, d.outcome, id).changes;
              if (changed !== 1) return 'not_pending' as const;
              if (d.status !== 'applied') return 'decided' as const;
              const e = d.effect;
              switch (e.kind) {
                case 'policy':
                  if (this.appendPolicyVersion(e.version) === 'stale') throw new ProposalAbort('stale');
                  break;
                case 'token.issue':
                  // The write transaction orders two bootstraps of one org: the second sees the first's token.
                  if (e.bootstrap) {
                    const b = e.bootstrap;
                    if (this.stmt(ORG_HAS_APPROVER_TOKEN).get(b.org, JSON.stringify(b.roles), JSON.stringify(b.principals), b.since, b.at)) throw new ProposalAbort('org_bootstrapped');
                  }
                  if (this.insertToken(e.principal, e.token) === 'principal_mismatch') throw new ProposalAbort('principal_mismatch');
                  break;
                case 'token.revoke':
                  if (this.revokeToken(e.tokenId, d.at).length === 0) throw new ProposalAbort('token_not_found');
                  break;
              }
              return 'decided' as const;
            }),
          );
        } catch (err) {
          if (err instanceof ProposalAbort) return err.why;
          throw err;
        }
      },
    };
  }

  /** The claims of one table: subject_claims, or record_claims (Store.recordClaims). */
  private subjectClaimStore(table: 'subject_claims' | 'record_claims'): SubjectClaimStore {
    const keysOf = (rows: unknown[]) => new Set((rows as Row[]).map((r) => r['key'] as string));
    return {
      claim: async (keys, holder, at, transient = false) =>
        Promise.resolve(
          this.unflushedIf(transient, () =>
            this.tx(() => {
              const put = this.stmt(`INSERT INTO ${table} (key, holder, claimed_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`);
              return new Set([...new Set(keys)].filter((key) => put.run(key, holder, at).changes === 1));
            }),
          ),
        ),
      getMany: async (keys) => {
        const rows = keys.length === 0 ? [] : (this.stmt(`SELECT * FROM ${table} WHERE key IN (SELECT value FROM json_each(?))`).all(JSON.stringify(keys)) as Row[]);
        return Promise.resolve(new Map(rows.map((r) => [r['key'] as string, toSubjectClaim(r)])));
      },
      takeOver: async (claim, holder, at) =>
        Promise.resolve(
          this.stmt(`UPDATE ${table} SET holder = ?, claimed_at = ? WHERE key = ? AND holder = ? AND claimed_at = ? AND completed = 0`).run(holder, at, claim.key, claim.holder, claim.claimedAt)
            .changes === 1,
        ),
      complete: async (keys, holder) =>
        Promise.resolve(
          keysOf(keys.length === 0 ? [] : this.stmt(`UPDATE ${table} SET completed = 1 WHERE key IN (SELECT value FROM json_each(?)) AND holder = ? RETURNING key`).all(JSON.stringify(keys), holder)),
        ),
      release: async (keys, holder, transient = false) => {
        if (keys.length > 0) {
          this.unflushedIf(transient, () => this.stmt(`DELETE FROM ${table} WHERE key IN (SELECT value FROM json_each(?)) AND holder = ? AND completed = 0`).run(JSON.stringify(keys), holder));
        }
        return Promise.resolve();
      },
    };
  }

  /**
   * Runs `fn` (a write) committing without syncing the WAL when `unflushed`: two syncs more a create (a
   * record id's claim and release) halved the creates a second. In WAL mode synchronous=NORMAL loses only
   * the last commits to a power loss, never the file; the next commit synced is synced with them.
   */
  private unflushedIf<T>(unflushed: boolean, fn: () => T): T {
    if (!unflushed) return fn();
    this.db.exec('PRAGMA synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.exec('PRAGMA synchronous = FULL');
    }
  }

  private metaStore(): MetaStore {
    return {
      get: async (key) => {
        const r = this.stmt('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
        return Promise.resolve(r ? (r['value'] as string) : undefined);
      },
      putIfAbsent: async (key, value) => Promise.resolve(this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value).changes === 1),
      replace: async (key, expected, value) => Promise.resolve(this.stmt('UPDATE meta SET value = ? WHERE key = ? AND value = ?').run(value, key, expected).changes === 1),
      put: async (key, value) => {
        this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
        return Promise.resolve();
      },
    };
  }

  async importSubject(subject: SubjectRow, records: readonly RecordRow[]): Promise<void> {
    this.tx(() => {
      if (subject.erasedAt === null && this.stmt('SELECT 1 FROM subjects WHERE id = ? AND erased_at IS NOT NULL').get(subject.id)) throw erasedHere(subject.id);
      this.stmt('DELETE FROM records WHERE subject = ?').run(subject.id);
      this.stmt('DELETE FROM subjects WHERE id = ?').run(subject.id);
      this.insertSubjectRow({ ...subject, ...UNMARKED });
      for (const r of records) {
        if (r.subject !== subject.id) throw new EnclaveError('subject_mismatch', 'importSubject was given a record of another subject');
        if (!this.insertRecordRow(r)) throw new EnclaveError('record_exists', `record ${r.collection}/${r.id} exists here under another subject`);
      }
    });
    return Promise.resolve();
  }

  async purgeSubject(id: string): Promise<number> {
    const n = this.tx(() => {
      const deleted = this.stmt('DELETE FROM records WHERE subject = ?').run(id).changes;
      this.stmt('DELETE FROM subjects WHERE id = ?').run(id);
      return Number(deleted);
    });
    await this.scrub();
    return n;
  }

  async scrub(): Promise<void> {
    // secure_delete zeroed freed cells in the pages written; checkpointing copies them into the main
    // file and TRUNCATE empties the WAL, which still held the pages as they were before.
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.db.isOpen) {
      this.statements.clear();
      this.db.close();
    }
    return Promise.resolve();
  }
}
