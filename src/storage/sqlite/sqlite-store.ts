// Embedded store on node:sqlite. WAL with synchronous=FULL makes every commit durable; secure_delete
// zeroes freed content so erased keys and purged rows leave no bytes behind once the WAL is checkpointed.
import { DatabaseSync, type StatementSync, type SQLInputValue } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EnclaveError } from '../../core/errors.ts';
import { planMigrations, type AppliedMigration, type Migration } from '../../core/migration-plan.ts';
import type {
  AccessRequestRow,
  AccessRequestStore,
  ApprovalRow,
  ApprovalStore,
  DeleteResult,
  GrantRow,
  GrantStore,
  InsertResult,
  MetaStore,
  PolicyVersionRow,
  PolicyVersionStore,
  ProposalRow,
  ProposalStore,
  PrincipalRow,
  RecordRow,
  RecordStore,
  Store,
  SubjectRow,
  SubjectStore,
  TokenRow,
  TokenStore,
  TokenWithPrincipal,
  UpdateResult,
} from '../../core/store.ts';
import { migrationChecksum } from '../checksum.ts';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.ts';

type Row = Record<string, SQLInputValue>;

function str(v: unknown): string {
  return v as string;
}
function num(v: unknown): number {
  return Number(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
function bytesOrNull(v: unknown): Uint8Array | null {
  return v === null || v === undefined ? null : (v as Uint8Array);
}

function toSubject(r: Row): SubjectRow {
  return {
    id: str(r['id']),
    country: str(r['country']),
    jurisdiction: str(r['jurisdiction']),
    wrappedKey: bytesOrNull(r['wrapped_key']),
    keyId: str(r['key_id']),
    createdAt: num(r['created_at']),
    erasedAt: numOrNull(r['erased_at']),
    movedTo: (r['moved_to'] as string | null) ?? null,
  };
}

function toRecord(r: Row): RecordRow {
  return {
    collection: str(r['collection']),
    id: str(r['id']),
    subject: str(r['subject']),
    version: num(r['version']),
    publicJson: str(r['public_json']),
    sealed: bytesOrNull(r['sealed']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  };
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : (v as string);
}

function toAccessRequest(r: Row): AccessRequestRow {
  return {
    id: str(r['id']),
    kind: str(r['kind']) as AccessRequestRow['kind'],
    requester: str(r['requester']),
    requesterOrg: str(r['requester_org']),
    requesterRole: str(r['requester_role']),
    scope: str(r['scope']),
    purpose: str(r['purpose']),
    justificationCode: str(r['justification_code']),
    justification: str(r['justification']),
    durationMs: num(r['duration_ms']),
    digest: str(r['digest']),
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
    status: str(r['status']) as AccessRequestRow['status'],
    decidedAt: numOrNull(r['decided_at']),
    grantId: strOrNull(r['grant_id']),
  };
}

function toApproval(r: Row): ApprovalRow {
  return {
    target: str(r['target']),
    approver: str(r['approver']),
    approverOrg: str(r['approver_org']),
    approverRole: str(r['approver_role']),
    digest: str(r['digest']),
    verdict: str(r['verdict']) as ApprovalRow['verdict'],
    comment: str(r['comment']),
    at: num(r['at']),
  };
}

function toGrant(r: Row): GrantRow {
  return {
    id: str(r['id']),
    requestId: str(r['request_id']),
    principal: str(r['principal']),
    scope: str(r['scope']),
    purpose: str(r['purpose']),
    breakglass: num(r['breakglass']) === 1,
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
    revokedAt: numOrNull(r['revoked_at']),
    revokedBy: strOrNull(r['revoked_by']),
  };
}

function toPolicyVersion(r: Row): PolicyVersionRow {
  return {
    version: num(r['version']),
    text: str(r['text']),
    digest: str(r['digest']),
    proposalId: strOrNull(r['proposal_id']),
    approvers: str(r['approvers']),
    activatedAt: num(r['activated_at']),
  };
}

function toProposal(r: Row): ProposalRow {
  return {
    id: str(r['id']),
    kind: str(r['kind']) as ProposalRow['kind'],
    proposer: str(r['proposer']),
    proposerOrg: str(r['proposer_org']),
    proposerRole: str(r['proposer_role']),
    payload: str(r['payload']),
    digest: str(r['digest']),
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
    status: str(r['status']) as ProposalRow['status'],
    decidedAt: numOrNull(r['decided_at']),
    outcome: strOrNull(r['outcome']),
  };
}

/** A page size within [1, 1000]; 100 when none is given. */
function limitOf(options?: { limit?: number }): number {
  return Math.max(1, Math.min(Math.trunc(options?.limit ?? 100), 1000));
}

function toTokenWithPrincipal(r: Row): TokenWithPrincipal {
  return {
    token: {
      id: str(r['id']),
      hash: str(r['hash']),
      principalId: str(r['principal_id']),
      label: str(r['label']),
      createdAt: num(r['created_at']),
      expiresAt: numOrNull(r['expires_at']),
      revokedAt: numOrNull(r['revoked_at']),
    },
    principal: { id: str(r['principal_id']), org: str(r['p_org']), role: str(r['p_role']), createdAt: num(r['p_created_at']) },
  };
}

export interface SqliteOptions {
  /** A file path, or ':memory:' for tests. */
  readonly path: string;
  readonly migrations?: readonly Migration[];
}

export class SqliteStore implements Store {
  readonly driver = 'sqlite';
  readonly subjects: SubjectStore;
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
  private readonly cache = new Map<string, StatementSync>();

  constructor(options: SqliteOptions) {
    this.path = options.path;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    try {
      this.db = new DatabaseSync(options.path);
      this.db.exec('PRAGMA journal_mode = WAL');
      this.db.exec('PRAGMA synchronous = FULL');
      this.db.exec('PRAGMA secure_delete = ON');
      this.db.exec('PRAGMA temp_store = MEMORY');
      this.db.exec('PRAGMA foreign_keys = ON');
      this.db.exec('PRAGMA busy_timeout = 5000');
    } catch (cause) {
      throw new EnclaveError('storage_unavailable', `cannot open SQLite store at ${options.path}`, { cause });
    }
    try {
      this.migrate(options.migrations ?? SQLITE_MIGRATIONS);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.subjects = this.subjectStore();
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
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  private tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private migrate(migrations: readonly Migration[]): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
    const applied = this.db.prepare('SELECT id, name, checksum FROM schema_migrations ORDER BY id').all() as unknown as AppliedMigration[];
    const pending = planMigrations(migrations, applied, migrationChecksum);
    for (const m of pending) {
      this.tx(() => {
        try {
          this.db.exec(m.sql);
        } catch (cause) {
          throw new EnclaveError('migration_refused', `migration ${m.id} (${m.name}) failed to apply; nothing of it was kept`, { cause });
        }
        this.db.prepare('INSERT INTO schema_migrations (id, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(m.id, m.name, migrationChecksum(m.sql), Date.now());
      });
    }
  }

  private subjectStore(): SubjectStore {
    return {
      insert: async (row) => Promise.resolve<InsertResult>(this.insertSubjectRow(row) ? 'inserted' : 'exists'),
      insertMany: async (rows) => Promise.resolve(this.tx(() => rows.reduce((n, row) => n + (this.insertSubjectRow(row) ? 1 : 0), 0))),
      get: async (id) => {
        const r = this.stmt('SELECT * FROM subjects WHERE id = ?').get(id) as Row | undefined;
        return Promise.resolve(r ? toSubject(r) : undefined);
      },
      erase: async (id, at) => {
        const n = this.tx(() => {
          const r = this.stmt('UPDATE subjects SET wrapped_key = NULL, erased_at = ? WHERE id = ? AND erased_at IS NULL').run(at, id);
          if (r.changes !== 1) return undefined;
          return Number(this.stmt(`UPDATE records SET public_json = '{}', updated_at = ? WHERE subject = ?`).run(at, id).changes);
        });
        if (n !== undefined) await this.scrub();
        return n;
      },
      setResidence: async (id, country, jurisdiction) =>
        Promise.resolve(this.stmt('UPDATE subjects SET country = ?, jurisdiction = ? WHERE id = ?').run(country, jurisdiction, id).changes === 1),
      setMovedTo: async (id, site) => {
        const r = this.stmt('UPDATE subjects SET moved_to = ? WHERE id = ?').run(site, id);
        return Promise.resolve(r.changes === 1);
      },
      count: async () => Promise.resolve(num((this.stmt('SELECT count(*) AS n FROM subjects').get() as Row)['n'])),
    };
  }

  private insertSubjectRow(row: SubjectRow): boolean {
    const r = this.stmt(
      `INSERT INTO subjects (id, country, jurisdiction, wrapped_key, key_id, created_at, erased_at, moved_to)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ).run(row.id, row.country, row.jurisdiction, row.wrappedKey, row.keyId, row.createdAt, row.erasedAt, row.movedTo);
    return r.changes === 1;
  }

  private insertRecordStmt(): StatementSync {
    return this.stmt(
      `INSERT INTO records (collection, id, subject, version, public_json, sealed, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO NOTHING`,
    );
  }

  private insertRecordRow(row: RecordRow): boolean {
    const r = this.insertRecordStmt().run(row.collection, row.id, row.subject, row.version, row.publicJson, row.sealed, row.createdAt, row.updatedAt);
    return r.changes === 1;
  }

  private recordStore(): RecordStore {
    return {
      insert: async (row) => Promise.resolve<InsertResult>(this.insertRecordRow(row) ? 'inserted' : 'exists'),
      insertMany: async (rows) => Promise.resolve(this.tx(() => rows.reduce((n, row) => n + (this.insertRecordRow(row) ? 1 : 0), 0))),
      get: async (collection, id) => {
        const r = this.stmt('SELECT * FROM records WHERE collection = ? AND id = ?').get(collection, id) as Row | undefined;
        return Promise.resolve(r ? toRecord(r) : undefined);
      },
      update: async (row, expectedVersion) =>
        Promise.resolve(
          this.tx<UpdateResult>(() => {
            const r = this.stmt(
              `UPDATE records SET version = ?, public_json = ?, sealed = ?, updated_at = ?
               WHERE collection = ? AND id = ? AND version = ? AND subject = ?`,
            ).run(row.version, row.publicJson, row.sealed, row.updatedAt, row.collection, row.id, expectedVersion, row.subject);
            if (r.changes === 1) return 'updated';
            return this.stmt('SELECT 1 FROM records WHERE collection = ? AND id = ?').get(row.collection, row.id) ? 'version_conflict' : 'not_found';
          }),
        ),
      delete: async (collection, id, expectedVersion) =>
        Promise.resolve(
          this.tx<DeleteResult>(() => {
            const r =
              expectedVersion === undefined
                ? this.stmt('DELETE FROM records WHERE collection = ? AND id = ?').run(collection, id)
                : this.stmt('DELETE FROM records WHERE collection = ? AND id = ? AND version = ?').run(collection, id, expectedVersion);
            if (r.changes === 1) return 'deleted';
            return this.stmt('SELECT 1 FROM records WHERE collection = ? AND id = ?').get(collection, id) ? 'version_conflict' : 'not_found';
          }),
        ),
      listBySubject: async (subject, options) => {
        const limit = Math.max(1, Math.min(options?.limit ?? 1000, 10_000));
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
      count: async () => Promise.resolve(num((this.stmt('SELECT count(*) AS n FROM records').get() as Row)['n'])),
    };
  }

  private tokenStore(): TokenStore {
    const select = `SELECT t.*, p.org AS p_org, p.role AS p_role, p.created_at AS p_created_at
                    FROM tokens t JOIN principals p ON p.id = t.principal_id`;
    return {
      create: async (principal: PrincipalRow, token: TokenRow) => Promise.resolve(this.tx(() => this.insertToken(principal, token))),
      findByHash: async (hash) => {
        const r = this.stmt(`${select} WHERE t.hash = ?`).get(hash) as Row | undefined;
        return Promise.resolve(r ? toTokenWithPrincipal(r) : undefined);
      },
      revoke: async (id, at) => Promise.resolve(this.revokeToken(id, at)),
      get: async (id) => {
        const r = this.stmt(`${select} WHERE t.id = ?`).get(id) as Row | undefined;
        return Promise.resolve(r ? toTokenWithPrincipal(r) : undefined);
      },
      list: async () => Promise.resolve((this.stmt(`${select} ORDER BY t.created_at, t.id`).all() as Row[]).map(toTokenWithPrincipal)),
    };
  }

  /** Creates the principal if new (its org and role must then match) and the token; call inside tx. */
  private insertToken(principal: PrincipalRow, token: TokenRow): 'created' | 'principal_mismatch' {
    this.stmt('INSERT INTO principals (id, org, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(principal.id, principal.org, principal.role, principal.createdAt);
    const p = this.stmt('SELECT org, role FROM principals WHERE id = ?').get(principal.id) as Row;
    if (p['org'] !== principal.org || p['role'] !== principal.role) return 'principal_mismatch';
    this.stmt('INSERT INTO tokens (id, hash, principal_id, label, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      token.id,
      token.hash,
      token.principalId,
      token.label,
      token.createdAt,
      token.expiresAt,
      token.revokedAt,
    );
    return 'created';
  }

  private revokeToken(id: string, at: number): boolean {
    return this.stmt('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1;
  }

  private insertGrantRow(g: GrantRow): void {
    this.stmt(
      `INSERT INTO grants (id, request_id, principal, scope, purpose, breakglass, created_at, expires_at, revoked_at, revoked_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(g.id, g.requestId, g.principal, g.scope, g.purpose, g.breakglass ? 1 : 0, g.createdAt, g.expiresAt, g.revokedAt, g.revokedBy);
  }

  private accessRequestStore(): AccessRequestStore {
    return {
      insert: async (row, grant) =>
        Promise.resolve(
          this.tx<InsertResult>(() => {
            const r = this.stmt(
              `INSERT INTO access_requests (id, kind, requester, requester_org, requester_role, scope, purpose, justification_code, justification,
                 duration_ms, digest, created_at, expires_at, status, decided_at, grant_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
            ).run(
              row.id,
              row.kind,
              row.requester,
              row.requesterOrg,
              row.requesterRole,
              row.scope,
              row.purpose,
              row.justificationCode,
              row.justification,
              row.durationMs,
              row.digest,
              row.createdAt,
              row.expiresAt,
              row.status,
              row.decidedAt,
              row.grantId,
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
        ).all(options?.kind ?? null, options?.status ?? null, options?.requester ?? null, limitOf(options)) as Row[];
        return Promise.resolve(rows.map(toAccessRequest));
      },
      decide: async (id, d) =>
        Promise.resolve(
          this.tx(() => {
            const changed =
              d.status === 'denied'
                ? this.stmt(`UPDATE access_requests SET status = 'denied', decided_at = ? WHERE id = ? AND status = 'pending'`).run(d.at, id).changes
                : this.stmt(`UPDATE access_requests SET status = 'approved', decided_at = ?, grant_id = ? WHERE id = ? AND status = 'pending' AND expires_at > ?`).run(d.at, d.grant.id, id, d.at).changes;
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
          this.stmt(
            `INSERT INTO approvals (target, approver, approver_org, approver_role, digest, verdict, comment, at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target, approver) DO NOTHING`,
          ).run(a.target, a.approver, a.approverOrg, a.approverRole, a.digest, a.verdict, a.comment, a.at).changes === 1
            ? 'inserted'
            : 'exists',
        ),
      list: async (target) => Promise.resolve((this.stmt('SELECT * FROM approvals WHERE target = ? ORDER BY at, approver').all(target) as Row[]).map(toApproval)),
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
      list: async (options) =>
        Promise.resolve(
          (this.stmt('SELECT * FROM grants WHERE (?1 IS NULL OR principal = ?1) ORDER BY created_at DESC, id DESC LIMIT ?2').all(options?.principal ?? null, limitOf(options)) as Row[]).map(toGrant),
        ),
      revoke: async (id, at, by) => Promise.resolve(this.stmt('UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at, by, id).changes === 1),
    };
  }

  private appendPolicyVersion(v: PolicyVersionRow): 'inserted' | 'stale' {
    const latest = num((this.stmt('SELECT coalesce(max(version), 0) AS v FROM policy_versions').get() as Row)['v']);
    if (v.version !== latest + 1) return 'stale';
    this.stmt('INSERT INTO policy_versions (version, text, digest, proposal_id, approvers, activated_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      v.version,
      v.text,
      v.digest,
      v.proposalId,
      v.approvers,
      v.activatedAt,
    );
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
          this.stmt(
            `INSERT INTO proposals (id, kind, proposer, proposer_org, proposer_role, payload, digest, created_at, expires_at, status, decided_at, outcome)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
          ).run(p.id, p.kind, p.proposer, p.proposerOrg, p.proposerRole, p.payload, p.digest, p.createdAt, p.expiresAt, p.status, p.decidedAt, p.outcome).changes === 1
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
              limitOf(options),
            ) as Row[]
          ).map(toProposal),
        ),
      decide: async (id, d) => {
        // Errors thrown inside roll the transaction back; the answer names why.
        class Abort extends Error {
          readonly why: 'stale' | 'principal_mismatch' | 'token_not_found';
          constructor(why: 'stale' | 'principal_mismatch' | 'token_not_found') {
            super(why);
            this.why = why;
          }
        }
        try {
          return await Promise.resolve(
            this.tx(() => {
              const changed =
                d.status === 'applied'
                  ? this.stmt(`UPDATE proposals SET status = 'applied', decided_at = ?, outcome = ? WHERE id = ? AND status = 'pending' AND expires_at > ?`).run(d.at, d.outcome, id, d.at).changes
                  : this.stmt(`UPDATE proposals SET status = ?, decided_at = ?, outcome = ? WHERE id = ? AND status = 'pending'`).run(d.status, d.at, d.outcome, id).changes;
              if (changed !== 1) return 'not_pending' as const;
              if (d.status !== 'applied') return 'decided' as const;
              const e = d.effect;
              switch (e.kind) {
                case 'policy':
                  if (this.appendPolicyVersion(e.version) === 'stale') throw new Abort('stale');
                  break;
                case 'token.issue':
                  if (this.insertToken(e.principal, e.token) === 'principal_mismatch') throw new Abort('principal_mismatch');
                  break;
                case 'token.revoke':
                  if (!this.revokeToken(e.tokenId, d.at)) throw new Abort('token_not_found');
                  break;
              }
              return 'decided' as const;
            }),
          );
        } catch (err) {
          if (err instanceof Abort) return err.why;
          throw err;
        }
      },
    };
  }

  private metaStore(): MetaStore {
    return {
      get: async (key) => {
        const r = this.stmt('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
        return Promise.resolve(r ? str(r['value']) : undefined);
      },
      putIfAbsent: async (key, value) => Promise.resolve(this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value).changes === 1),
      put: async (key, value) => {
        this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
        return Promise.resolve();
      },
    };
  }

  async importSubject(subject: SubjectRow, records: readonly RecordRow[]): Promise<void> {
    this.tx(() => {
      this.stmt('DELETE FROM records WHERE subject = ?').run(subject.id);
      this.stmt('DELETE FROM subjects WHERE id = ?').run(subject.id);
      this.insertSubjectRow({ ...subject, movedTo: null });
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
      this.cache.clear();
      this.db.close();
    }
    return Promise.resolve();
  }
}
