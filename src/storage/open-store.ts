// Storage URLs: `sqlite:<path>` (relative to the data directory), `sqlite::memory:`, and
// `postgres://…` / `postgresql://…` (docs/postgresql.md). Unknown schemes are a configuration error.
// Opening is async: a PostgreSQL store connects and migrates before it is returned.
import { isAbsolute, join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import type { LogStore } from '../core/log-store.ts';
import type { Store } from '../core/store.ts';
import type { MigrationStateStore } from '../core/migration-state.ts';
import { SqliteMigrationState } from './sqlite/sqlite-migration-state.ts';
import { PostgresLogStore } from './postgres/postgres-log-store.ts';
import { PostgresMigrationState } from './postgres/postgres-migration-state.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { isPostgresUrl } from './postgres/postgres-url.ts';
import { SqliteLogStore } from './sqlite/sqlite-log-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export function sqlitePathOf(url: string, dataDir: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const p = url.slice('sqlite:'.length);
  // An empty path names no file: returned as '' so callers refuse it (join would give the data directory).
  if (p === ':memory:' || p === '') return p;
  return isAbsolute(p) ? p : join(dataDir, p);
}

function sqliteOrRefuse<T>(url: string, dataDir: string, sqlite: (path: string) => T): T | undefined {
  const path = sqlitePathOf(url, dataDir);
  if (path === undefined) return undefined;
  if (path === '') throw new EnclaveError('invalid_config', `storage URL "${url}" names no file (expected sqlite:<path>)`);
  return sqlite(path);
}

function unknownScheme(url: string, accepted: string): EnclaveError {
  // Only the scheme is repeated: the rest of an unrecognized URL may hold a password.
  return new EnclaveError('invalid_config', `storage URL must start with ${accepted} (got scheme "${url.split(':')[0]?.slice(0, 20) ?? ''}")`);
}

export async function openStore(url: string, dataDir: string): Promise<Store> {
  const sqlite = sqliteOrRefuse(url, dataDir, (path) => new SqliteStore({ path }));
  if (sqlite) return sqlite;
  if (isPostgresUrl(url)) return PostgresStore.open(url);
  throw unknownScheme(url, '"sqlite:", "postgres://" or "postgresql://"');
}

/** The transparency log's store (log.storage): a SQLite file, or PostgreSQL for several instances. */
export async function openLogStore(url: string, dataDir: string): Promise<LogStore> {
  const sqlite = sqliteOrRefuse(url, dataDir, (path) => new SqliteLogStore({ path }));
  if (sqlite) return sqlite;
  if (isPostgresUrl(url)) return PostgresLogStore.open(url);
  throw unknownScheme(url, '"sqlite:", "postgres://" or "postgresql://"');
}

/** The migration state store named by `migration.state`: a SQLite file, or PostgreSQL for several processes at once. */
export async function openMigrationState(url: string, dataDir: string): Promise<MigrationStateStore> {
  const sqlite = sqliteOrRefuse(url, dataDir, (path) => new SqliteMigrationState(path));
  if (sqlite) return sqlite;
  if (isPostgresUrl(url)) return PostgresMigrationState.open(url);
  throw unknownScheme(url, '"sqlite:", "postgres://" or "postgresql://"');
}
