// What every embedded store does with its database file: open it with durable settings, and apply its
// ordered, checksummed migrations (core/migration-plan.ts).
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import { pathProblem } from '../../core/path-problem.ts';
import { planMigrations, type AppliedMigration, type Migration } from '../../core/migration-plan.ts';
import { migrationChecksum } from '../checksum.ts';
import { createPrivateFile, createProblem, makeDirectories, PathStepError, statOrAbsent } from '../private-files.ts';

/**
 * Creates the store's file (and its directory, 0700) unless it exists; refuses a path that is no file.
 * The path itself is looked at first: under a file, its stat says so (ENOTDIR) in the store's words.
 */
function prepareFile(path: string): void {
  const st = statOrAbsent(path);
  if (st?.isDirectory() === true) throw new PathStepError(pathProblem({ code: 'EISDIR' }) ?? 'is a directory', undefined);
  // A FIFO, a device or a socket: SQLite could block reading it, or write into it.
  if (st !== undefined && !st.isFile()) throw new PathStepError('is not a regular file', undefined);
  if (st === undefined) makeDirectories(dirname(path), 0o700);
  try {
    createPrivateFile(path);
  } catch (err) {
    if (err instanceof EnclaveError) throw err;
    throw new PathStepError(createProblem(err), err);
  }
}

/**
 * Opens (creating) a database. WAL with synchronous=FULL makes every commit durable; secure_delete zeroes
 * freed content so erased keys and purged rows leave no bytes behind once the WAL is checkpointed. A new
 * file is created 0600 in a directory created 0700 (storage/private-files.ts); its WAL and shared-memory
 * files take its mode. A path that cannot hold the store is refused in one line that names it and says
 * why (storage_unavailable).
 */
export function openSqliteDatabase(path: string): DatabaseSync {
  try {
    if (path !== ':memory:') prepareFile(path);
    const db = new DatabaseSync(path);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA secure_delete = ON');
    db.exec('PRAGMA temp_store = MEMORY');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    return db;
  } catch (cause) {
    if (cause instanceof EnclaveError) throw cause;
    // SQLite's own reason otherwise ("file is not a database", "unable to open database file").
    const why = cause instanceof PathStepError ? cause.why : cause instanceof Error ? cause.message : String(cause);
    throw new EnclaveError('storage_unavailable', `cannot open SQLite store at ${path}: ${why}`, { cause: cause instanceof PathStepError ? cause.cause : cause });
  }
}

/**
 * Applies each pending migration and its history row in one transaction. Each store names its own
 * history table, so two stores can share a database file without mixing their histories.
 */
export function applyMigrations(db: DatabaseSync, migrations: readonly Migration[], historyTable: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${historyTable} (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`);
  const applied = db.prepare(`SELECT id, name, checksum FROM ${historyTable} ORDER BY id`).all() as unknown as AppliedMigration[];
  for (const m of planMigrations(migrations, applied, migrationChecksum)) {
    inTransaction(db, () => {
      try {
        db.exec(m.sql);
      } catch (cause) {
        throw new EnclaveError('migration_refused', `migration ${m.id} (${m.name}) failed to apply; nothing of it was kept`, { cause });
      }
      db.prepare(`INSERT INTO ${historyTable} (id, name, checksum, applied_at) VALUES (?, ?, ?, ?)`).run(m.id, m.name, migrationChecksum(m.sql), Date.now());
    });
  }
}

/** Runs `fn` in a write transaction taken at once (BEGIN IMMEDIATE), so it never fails midway on a lock upgrade. */
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

/** Prepared statements by SQL text, prepared once per connection. */
export class StatementCache {
  private readonly db: DatabaseSync;
  private readonly cache = new Map<string, StatementSync>();
  private readonly arrayCache = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  get(sql: string): StatementSync {
    return this.prepared(this.cache, sql, false);
  }

  /** A statement whose rows are arrays in its column order (for hot reads mapped by position). */
  arrays(sql: string): StatementSync {
    return this.prepared(this.arrayCache, sql, true);
  }

  clear(): void {
    this.cache.clear();
    this.arrayCache.clear();
  }

  private prepared(cache: Map<string, StatementSync>, sql: string, arrays: boolean): StatementSync {
    let s = cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (arrays) s.setReturnArrays(true);
      cache.set(sql, s);
    }
    return s;
  }
}

/**
 * The rows of a bulk insert in the table's key order (BINARY collation: code-unit order, as `<` on
 * strings): each B-tree page is then visited once per batch instead of once per row at random, which
 * matters once the table outgrows the page cache. The sort is stable, so among equal keys the later row
 * still comes last.
 */
export function byKey<T>(rows: readonly T[], key: (row: T) => string): T[] {
  return rows
    .map((row) => ({ row, k: key(row) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.row);
}
