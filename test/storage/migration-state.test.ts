// The migration state port on both adapters (the conformance suite), plus what only PostgreSQL shows: a
// planner killed inside its exclusive section lets the next worker in (the lock dies with its session),
// and `migration.state: postgres://…` opens it, with its own schema history beside a vault store's.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openMigrationState } from '../../src/storage/open-store.ts';
import { PostgresMigrationState } from '../../src/storage/postgres/postgres-migration-state.ts';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { SqliteMigrationState } from '../../src/storage/sqlite/sqlite-migration-state.ts';
import { admin, dropSchemas, freshSchema, pgUrl, postgresSkip, relationsIn, schemaMaker } from '../helpers/postgres.ts';
import { migrationStateConformance } from './migration-state-conformance.ts';

const skip = await postgresSkip();
const dir = mkdtempSync(join(tmpdir(), 'enclave-migstate-'));
migrationStateConformance('sqlite', {
  open: () => Promise.resolve(new SqliteMigrationState(join(dir, 'state.db'))),
  concurrent: false,
  cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
});
const shared = freshSchema('migstate');
migrationStateConformance('postgres', { open: () => PostgresMigrationState.open(pgUrl(shared, { pool_size: '3' })), concurrent: true, cleanup: () => dropSchemas(shared) }, { skip });

void describe('PostgresMigrationState', { skip }, () => {
  const schema = schemaMaker();

  void it('a worker whose session dies inside its exclusive section releases it: the next one enters', async () => {
    const s = schema('migstate_dead');
    const dying = await PostgresMigrationState.open(pgUrl(s, { application_name: 'dying-planner' }));
    const next = await PostgresMigrationState.open(pgUrl(s));
    try {
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      // Never finishes on its own: only the death of its session can let the others in.
      void dying.exclusive('m', () => {
        entered();
        return new Promise<never>(() => undefined);
      }).catch(() => undefined);
      await inside;
      let waited = false;
      const second = next.exclusive('m', () => Promise.resolve((waited = true)));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(waited, false, 'held while the first lives');
      await admin((c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dying-planner' AND pid <> pg_backend_pid()`));
      assert.equal(await second, true);
    } finally {
      await dying.close().catch(() => undefined);
      await next.close();
    }
  });

  void it('migration.state: postgres://… opens it, in its own tables and history beside a vault store', async () => {
    const s = schema('migstate_open');
    const store = await PostgresStore.open(pgUrl(s));
    const state = await openMigrationState(pgUrl(s), '/nonexistent');
    try {
      assert.ok(state instanceof PostgresMigrationState);
      const rel = await relationsIn(s);
      for (const t of ['mig_batches', 'mig_ledger', 'mig_schema_migrations', 'schema_migrations', 'records']) assert.ok(rel.includes(t), t);
    } finally {
      await state.close();
      await store.close();
    }
    await assert.rejects(openMigrationState('mysql://root@127.0.0.1/test', '/x'), (e: { code?: string; message: string }) => e.code === 'invalid_config' && !e.message.includes('127.0.0.1'));
  });
});
