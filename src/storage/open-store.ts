// Storage URLs: `sqlite:<path>` (relative to the data directory), `sqlite::memory:`, and
// `postgres://…` / `postgresql://…` (docs/postgresql.md). Unknown schemes are a configuration error.
// Opening is async: a PostgreSQL store connects and migrates before it is returned.
import { isAbsolute, join } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import type { Store } from '../core/store.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { isPostgresUrl } from './postgres/postgres-url.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export function sqlitePathOf(url: string, dataDir: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const p = url.slice('sqlite:'.length);
  if (p === ':memory:') return p;
  return isAbsolute(p) ? p : join(dataDir, p);
}

export async function openStore(url: string, dataDir: string): Promise<Store> {
  const path = sqlitePathOf(url, dataDir);
  if (path !== undefined) {
    if (path === '') throw new EnclaveError('invalid_config', `storage URL "${url}" names no file (expected sqlite:<path>)`);
    return new SqliteStore({ path });
  }
  if (isPostgresUrl(url)) return PostgresStore.open(url);
  // Only the scheme is repeated: the rest of an unrecognized URL may hold a password.
  throw new EnclaveError('invalid_config', `storage URL must start with "sqlite:", "postgres://" or "postgresql://" (got scheme "${url.split(':')[0]?.slice(0, 20) ?? ''}")`);
}
