// Storage URLs: `sqlite:<path>` (relative to the data directory), `sqlite::memory:`, and
// `postgres://…` / `postgresql://…` (docs/postgresql.md). Unknown schemes are a configuration error.
// Opening is async: a PostgreSQL store connects and migrates before it is returned.
import { isAbsolute, join, resolve } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import type { EnclaveConfig } from '../core/config.ts';
import type { LogStore } from '../core/log-store.ts';
import type { Store } from '../core/store.ts';
import type { MigrationStateStore } from '../core/migration-state.ts';
import { SqliteMigrationState } from './sqlite/sqlite-migration-state.ts';
import { PostgresLogStore } from './postgres/postgres-log-store.ts';
import { PostgresMigrationState } from './postgres/postgres-migration-state.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { describeLocation, isPostgresUrl, parsePostgresUrl } from './postgres/postgres-url.ts';
import { SqliteLogStore, type SqliteLogOptions } from './sqlite/sqlite-log-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export function sqlitePathOf(url: string, dataDir: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const p = url.slice('sqlite:'.length);
  // An empty path names no file: returned as '' so callers refuse it (join would give the data directory).
  if (p === ':memory:' || p === '') return p;
  return isAbsolute(p) ? p : join(dataDir, p);
}

/**
 * Where a storage URL's data lives, comparable between URLs (a resolved file, or PostgreSQL's host, port,
 * database and schema; never a password); undefined for a store of its own by construction (in memory)
 * or a URL that opening refuses anyway.
 */
export function storeIdentity(url: string, dataDir: string): string | undefined {
  const path = sqlitePathOf(url, dataDir);
  if (path !== undefined) return path === '' || path === ':memory:' ? undefined : `SQLite file ${resolve(path)}`;
  if (!isPostgresUrl(url)) return undefined;
  try {
    return describeLocation(parsePostgresUrl(url));
  } catch {
    return undefined;
  }
}

/**
 * Invariant 1: each jurisdiction's records live in a store of their own. Two home sites (or a home site
 * and the control store) configured onto one file, database or schema would mix them: refused.
 */
export function refuseSharedStores(config: EnclaveConfig): void {
  const owners = new Map<string, string>();
  const stores: [string, string][] = [['control.storage', config.controlStorage]];
  for (const site of config.sites.values()) if (site.role === 'home') stores.push([`site "${site.id}"`, site.storage]);
  for (const [who, url] of stores) {
    const id = storeIdentity(url, config.dataDir);
    if (id === undefined) continue;
    const other = owners.get(id);
    if (other !== undefined) {
      throw new EnclaveError('invalid_config', `${other} and ${who} name the same store (${id}): every home site needs its own file, database or schema, apart from the control store`);
    }
    owners.set(id, who);
  }
}

function sqliteOrRefuse<T>(url: string, dataDir: string, sqlite: (path: string) => T): T | undefined {
  const path = sqlitePathOf(url, dataDir);
  if (path === undefined) return undefined;
  if (path === '') throw new EnclaveError('invalid_config', `storage URL "${url}" names no file (expected sqlite:<path>)`);
  return sqlite(path);
}

/** Opens a store of one kind by its URL's scheme. Async, so a refusal arrives as a rejected promise. */
async function openByScheme<T>(url: string, dataDir: string, sqlite: (path: string) => T, postgres: (url: string) => Promise<T>): Promise<T> {
  const opened = sqliteOrRefuse(url, dataDir, sqlite);
  if (opened) return opened;
  if (isPostgresUrl(url)) return postgres(url);
  // Only the scheme is repeated: the rest of an unrecognized URL may hold a password.
  throw new EnclaveError('invalid_config', `storage URL must start with "sqlite:", "postgres://" or "postgresql://" (got scheme "${url.split(':')[0]?.slice(0, 20) ?? ''}")`);
}

export function openStore(url: string, dataDir: string): Promise<Store> {
  return openByScheme<Store>(url, dataDir, (path) => new SqliteStore({ path }), (u) => PostgresStore.open(u));
}

/** The transparency log's store (log.storage): a SQLite file, or PostgreSQL for several instances. */
export function openLogStore(url: string, dataDir: string, options: { readonly writer?: SqliteLogOptions['writer'] } = {}): Promise<LogStore> {
  return openByScheme<LogStore>(url, dataDir, (path) => new SqliteLogStore({ path, ...options }), (u) => PostgresLogStore.open(u));
}

/** The migration state store named by `migration.state`: a SQLite file, or PostgreSQL for several processes at once. */
export function openMigrationState(url: string, dataDir: string): Promise<MigrationStateStore> {
  return openByScheme<MigrationStateStore>(url, dataDir, (path) => new SqliteMigrationState(path), (u) => PostgresMigrationState.open(u));
}
