// Embedded store on node:sqlite. WAL with synchronous=FULL makes every commit durable; secure_delete
// zeroes freed content so erased keys and purged rows leave no bytes behind once the WAL is checkpointed.
import type { DatabaseSync, StatementSync, SQLInputValue } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import type { Migration } from '../../core/migration-plan.ts';
import type {
  DeleteResult,
  InsertResult,
  MetaStore,
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
import { applyMigrations, inTransaction, openDatabase, StatementCache } from './sqlite-db.ts';
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
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly cache: StatementCache;

  constructor(options: SqliteOptions) {
    this.path = options.path;
    this.db = openDatabase(
      options.path,
      ['journal_mode = WAL', 'synchronous = FULL', 'secure_delete = ON', 'temp_store = MEMORY', 'foreign_keys = ON', 'busy_timeout = 5000'],
      'SQLite store',
    );
    applyMigrations(this.db, options.migrations ?? SQLITE_MIGRATIONS);
    this.cache = new StatementCache(this.db);
    this.subjects = this.subjectStore();
    this.records = this.recordStore();
    this.tokens = this.tokenStore();
    this.meta = this.metaStore();
  }

  private stmt(sql: string): StatementSync {
    return this.cache.get(sql);
  }

  private tx<T>(fn: () => T): T {
    return inTransaction(this.db, fn);
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
      create: async (principal: PrincipalRow, token: TokenRow) =>
        Promise.resolve(
          this.tx(() => {
            this.stmt('INSERT INTO principals (id, org, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING').run(
              principal.id,
              principal.org,
              principal.role,
              principal.createdAt,
            );
            const p = this.stmt('SELECT org, role FROM principals WHERE id = ?').get(principal.id) as Row;
            if (p['org'] !== principal.org || p['role'] !== principal.role) return 'principal_mismatch' as const;
            this.stmt('INSERT INTO tokens (id, hash, principal_id, label, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
              token.id,
              token.hash,
              token.principalId,
              token.label,
              token.createdAt,
              token.expiresAt,
              token.revokedAt,
            );
            return 'created' as const;
          }),
        ),
      findByHash: async (hash) => {
        const r = this.stmt(`${select} WHERE t.hash = ?`).get(hash) as Row | undefined;
        return Promise.resolve(r ? toTokenWithPrincipal(r) : undefined);
      },
      revoke: async (id, at) => Promise.resolve(this.stmt('UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1),
      list: async () => Promise.resolve((this.stmt(`${select} ORDER BY t.created_at, t.id`).all() as Row[]).map(toTokenWithPrincipal)),
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
