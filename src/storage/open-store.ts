// Storage URLs: `sqlite:<path>` (relative to the data directory), `sqlite::memory:`, and later
// `postgres://…` (the PostgreSQL adapter issue). Unknown schemes are a configuration error.
import { isAbsolute, join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import type { LogStore } from '../core/log-store.ts';
import type { Store } from '../core/store.ts';
import { SqliteLogStore } from './sqlite/sqlite-log-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export function sqlitePathOf(url: string, dataDir: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const p = url.slice('sqlite:'.length);
  if (p === ':memory:') return p;
  return isAbsolute(p) ? p : join(dataDir, p);
}

function openBy<T>(url: string, dataDir: string, sqlite: (path: string) => T): T {
  const path = sqlitePathOf(url, dataDir);
  if (path !== undefined) {
    if (path === '' ) throw new EnclaveError('invalid_config', `storage URL "${url}" names no file (expected sqlite:<path>)`);
    return sqlite(path);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new EnclaveError('invalid_config', 'the PostgreSQL adapter is not part of this build yet; use sqlite:<path>');
  }
  throw new EnclaveError('invalid_config', `storage URL must start with "sqlite:" (got scheme "${url.split(':')[0] ?? ''}")`);
}

export function openStore(url: string, dataDir: string): Store {
  return openBy(url, dataDir, (path) => new SqliteStore({ path }));
}

/** The transparency log's store (log.storage). */
export function openLogStore(url: string, dataDir: string): LogStore {
  return openBy(url, dataDir, (path) => new SqliteLogStore({ path }));
}
