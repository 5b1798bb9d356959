// Key-value metadata on PostgreSQL (the seal record lives here in the control store).
import type { MetaStore } from '../../core/store.ts';
import type { PostgresDb } from './postgres-db.ts';

export function postgresMeta(db: PostgresDb): MetaStore {
  return {
    get: async (key) => {
      const r = (await db.prepared('SELECT value FROM meta WHERE key = $1', [key]))[0];
      return r ? String(r['value']) : undefined;
    },
    putIfAbsent: async (key, value) => (await db.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value])) === 1,
    replace: async (key, expected, value) => (await db.run('UPDATE meta SET value = $3 WHERE key = $1 AND value = $2', [key, expected, value])) === 1,
    put: async (key, value) => {
      await db.run('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    },
  };
}
