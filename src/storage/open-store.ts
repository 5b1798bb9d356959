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

/**
 * Why a storage URL cannot be opened, judged from its text alone (nothing is opened or connected to), or
 * undefined. Never repeats the URL past its scheme: the rest may hold a password.
 */
export function storageUrlProblem(url: string): string | undefined {
  const path = sqlitePathOf(url, '.');
  if (path !== undefined) return path === '' ? `storage URL "${url}" names no file (expected sqlite:<path>)` : undefined;
  if (!isPostgresUrl(url)) return `storage URL must start with "sqlite:", "postgres://" or "postgresql://" (got scheme "${url.split(':')[0]?.slice(0, 20) ?? ''}")`;
  try {
    parsePostgresUrl(url);
    return undefined;
  } catch (err) {
    if (err instanceof EnclaveError) return err.message;
    throw err;
  }
}

/** Every store an enclave opens, by the key that names it in the configuration file (`sites[1].storage`). */
export function configuredStores(config: EnclaveConfig): { readonly key: string; readonly url: string }[] {
  const stores = [
    { key: 'control.storage', url: config.controlStorage },
    { key: 'log.storage', url: config.log.storage },
    { key: 'migration.state', url: config.migrationState },
  ];
  // The sites in the file's order (their ids are unique); only home sites have a store the enclave opens.
  [...config.sites.values()].forEach((site, i) => {
    if (site.role === 'home') stores.push({ key: `sites[${i}].storage`, url: site.storage });
  });
  return stores;
}

/**
 * Refuses a configuration with a storage URL that cannot be opened, naming the file (`source`) and the
 * key; what opening a store refuses names neither.
 */
export function checkStorageUrls(config: EnclaveConfig, source: string): void {
  for (const { key, url } of configuredStores(config)) {
    const problem = storageUrlProblem(url);
    if (problem !== undefined) throw new EnclaveError('invalid_config', `${source}: ${key}: ${problem}`);
  }
}

/** Opens a store of one kind by its URL's scheme. Async, so a refusal arrives as a rejected promise. */
async function openByScheme<T>(url: string, dataDir: string, sqlite: (path: string) => T, postgres: (url: string) => Promise<T>): Promise<T> {
  const problem = storageUrlProblem(url);
  if (problem !== undefined) throw new EnclaveError('invalid_config', problem);
  const path = sqlitePathOf(url, dataDir);
  return path === undefined ? postgres(url) : sqlite(path);
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
