// Storage URLs: `sqlite:<path>` (relative to the data directory), `sqlite::memory:`, and later
// `postgres://…` (the PostgreSQL adapter issue). Unknown schemes are a configuration error.
import { isAbsolute, join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import type { MigrationStateStore } from '../core/migration-state.ts';
import { SqliteMigrationState } from './sqlite/sqlite-migration-state.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export function sqlitePathOf(url: string, dataDir: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const p = url.slice('sqlite:'.length);
  if (p === ':memory:') return p;
  return isAbsolute(p) ? p : join(dataDir, p);
}

export function openStore(url: string, dataDir: string): Store {
  const path = sqlitePathOf(url, dataDir);
  if (path !== undefined) {
    if (path === '' ) throw new EnclaveError('invalid_config', `storage URL "${url}" names no file (expected sqlite:<path>)`);
    return new SqliteStore({ path });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    throw new EnclaveError('invalid_config', 'the PostgreSQL adapter is not part of this build yet; use sqlite:<path>');
  }
  throw new EnclaveError('invalid_config', `storage URL must start with "sqlite:" (got scheme "${url.split(':')[0] ?? ''}")`);
}

/** The migration state store named by `migration.state` (same URL forms as the stores). */
export function openMigrationState(url: string, dataDir: string): MigrationStateStore {
  const path = sqlitePathOf(url, dataDir);
  if (path === undefined || path === '') {
    throw new EnclaveError('invalid_config', `migration.state must be sqlite:<path> in this build (got scheme "${url.split(':')[0] ?? ''}")`);
  }
  return new SqliteMigrationState(path);
}
