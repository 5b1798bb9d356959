// What every node:sqlite database of the enclave shares: opening with its pragmas, one write
// transaction at a time, a prepared-statement cache, and the ordered, checksummed schema history.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import { planMigrations, type AppliedMigration, type Migration } from '../../core/migration-plan.ts';
import { migrationChecksum } from '../checksum.ts';

/** Opens (creating its directory) and applies the pragmas; `what` names it in the error. */
export function openDatabase(path: string, pragmas: readonly string[], what: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  try {
    const db = new DatabaseSync(path);
    for (const p of pragmas) db.exec(`PRAGMA ${p}`);
    return db;
  } catch (cause) {
    throw new EnclaveError('storage_unavailable', `cannot open ${what} at ${path}`, { cause });
  }
}

/** Runs `fn` in a write transaction (BEGIN IMMEDIATE: the write lock is taken up front). */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

export class StatementCache {
  private readonly db: DatabaseSync;
  private readonly cache = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  get(sql: string): StatementSync {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  clear(): void {
    this.cache.clear();
  }
}

/** Applies the pending migrations, each in its own transaction with its history row; closes the database on refusal. */
export function applyMigrations(db: DatabaseSync, migrations: readonly Migration[]): void {
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
    const applied = db.prepare('SELECT id, name, checksum FROM schema_migrations ORDER BY id').all() as unknown as AppliedMigration[];
    for (const m of planMigrations(migrations, applied, migrationChecksum)) {
      inTransaction(db, () => {
        try {
          db.exec(m.sql);
        } catch (cause) {
          throw new EnclaveError('migration_refused', `migration ${m.id} (${m.name}) failed to apply; nothing of it was kept`, { cause });
        }
        db.prepare('INSERT INTO schema_migrations (id, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(m.id, m.name, migrationChecksum(m.sql), Date.now());
      });
    }
  } catch (err) {
    db.close();
    throw err;
  }
}
