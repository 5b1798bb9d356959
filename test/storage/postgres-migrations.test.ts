// The PostgreSQL store's schema migrations against the real server: one transaction under an advisory
// lock per schema, refused (and nothing changed) when the history disagrees with the build, nothing kept
// when a migration fails, and several instances starting at once on a fresh schema.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planMigrations, type Migration } from '../../src/core/migration-plan.ts';
import { migrationChecksum } from '../../src/storage/checksum.ts';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/postgres-migrations.ts';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { admin, pgUrl, postgresSkip, relationsIn, schemaExists, schemaMaker } from '../helpers/postgres.ts';
import { HISTORY_EDITS, refusedNaming } from './migration-cases.ts';

const M: Migration[] = [
  { id: 1, name: 'initial', sql: 'CREATE TABLE a (x integer);' },
  { id: 2, name: 'add_b', sql: 'CREATE TABLE b (y text);' },
  { id: 3, name: 'index_b', sql: 'CREATE INDEX b_y ON b (y);' },
];

const skip = await postgresSkip();

void describe('PostgresStore migrations', { skip }, () => {
  const make = schemaMaker();
  const fresh = (): string => make('migrations');

  const history = async (schema: string) =>
    admin(async (c) => (await c.query<{ id: number; name: string; checksum: string }>(`SELECT id, name, checksum FROM ${schema}.schema_migrations ORDER BY id`)).rows);
  const openClose = async (schema: string, migrations?: readonly Migration[]) => {
    const s = await PostgresStore.open(pgUrl(schema), migrations ? { migrations } : {});
    await s.close();
  };

  void it('the shipped migrations are numbered 1..n and plan cleanly', () => {
    assert.deepEqual(planMigrations(POSTGRES_MIGRATIONS, [], migrationChecksum), [...POSTGRES_MIGRATIONS]);
  });

  void it('a fresh schema is created and records every shipped migration with its checksum', async () => {
    const schema = fresh();
    assert.equal(await schemaExists(schema), false);
    await openClose(schema);
    assert.deepEqual(await history(schema), POSTGRES_MIGRATIONS.map((m) => ({ id: m.id, name: m.name, checksum: migrationChecksum(m.sql) })));
    const rel = await relationsIn(schema);
    for (const t of ['subjects', 'records', 'records_by_subject', 'principals', 'tokens', 'meta', 'schema_migrations']) assert.ok(rel.includes(t), `${t} in ${schema}`);
  });

  void it('reopening an up-to-date schema changes nothing; a newer build applies only its new migrations', async () => {
    const schema = fresh();
    await openClose(schema, M.slice(0, 2));
    const before = await history(schema);
    await openClose(schema, M.slice(0, 2));
    assert.deepEqual(await history(schema), before);
    await openClose(schema, M);
    assert.deepEqual((await history(schema)).map((h) => h.name), ['initial', 'add_b', 'index_b']);
    assert.deepEqual((await history(schema)).slice(0, 2), before, 'earlier history rows are untouched');
    assert.deepEqual(await relationsIn(schema), ['a', 'b', 'b_y', 'schema_migrations', 'schema_migrations_pkey']);
  });

  void it('the token_lineage migration gives every token issued before it a lineage of its own, so revoking it still revokes it', async () => {
    const schema = fresh();
    await openClose(schema, POSTGRES_MIGRATIONS.slice(0, POSTGRES_MIGRATIONS.findIndex((m) => m.name === 'token_lineage')));
    await admin(async (c) => c.query(`INSERT INTO ${schema}.principals VALUES ('p1', 'o', 'r', 1); INSERT INTO ${schema}.tokens VALUES ('t1', 'h1', 'p1', '', 1, NULL, NULL), ('t2', 'h2', 'p1', '', 2, NULL, 3);`));
    const s = await PostgresStore.open(pgUrl(schema));
    try {
      assert.deepEqual((await s.tokens.list()).map((t) => [t.token.id, t.token.lineage, t.token.replaces]), [['t1', 't1', null], ['t2', 't2', null]]);
      assert.deepEqual(await s.tokens.revoke('t1', 9), ['t1']);
    } finally {
      await s.close();
    }
  });

  for (const e of HISTORY_EDITS) {
    void it(`refuses to open a schema with ${e.what}, naming the migration, and changes nothing`, async () => {
      const schema = fresh();
      await openClose(schema, M);
      await admin(async (c) => c.query(e.sql.replace('schema_migrations', `${schema}.schema_migrations`)));
      const historyBefore = await history(schema);
      const relationsBefore = await relationsIn(schema);
      await assert.rejects(PostgresStore.open(pgUrl(schema), { migrations: M }), refusedNaming(e.words));
      assert.deepEqual(await history(schema), historyBefore);
      assert.deepEqual(await relationsIn(schema), relationsBefore);
    });
  }

  void it('a failing migration keeps nothing of the upgrade; a fixed build then migrates cleanly', async () => {
    const schema = fresh();
    await openClose(schema, M.slice(0, 1));
    const broken: Migration[] = [
      ...M.slice(0, 1),
      M[1] as Migration,
      // The first statement succeeds, the second fails: the one transaction must undo both migrations.
      { id: 3, name: 'half_done', sql: 'CREATE TABLE half (x integer); CREATE TABLE broken (;' },
    ];
    await assert.rejects(PostgresStore.open(pgUrl(schema), { migrations: broken }), refusedNaming(['migration 3 (half_done) failed', 'nothing of this upgrade was kept']));
    assert.deepEqual((await history(schema)).map((h) => h.name), ['initial']);
    assert.deepEqual(await relationsIn(schema), ['a', 'schema_migrations', 'schema_migrations_pkey']);
    await openClose(schema, M);
    assert.deepEqual((await history(schema)).map((h) => h.name), ['initial', 'add_b', 'index_b']);
  });

  void it('a failing first migration on a fresh schema leaves not even the schema behind', async () => {
    const schema = fresh();
    await assert.rejects(PostgresStore.open(pgUrl(schema), { migrations: [{ id: 1, name: 'bad', sql: 'CREATE TABLE ok (x integer); SELECT * FROM missing_table;' }] }), refusedNaming(['migration 1 (bad)']));
    assert.equal(await schemaExists(schema), false);
  });

  void it('several instances starting at once on a fresh schema: all open, each migration applied exactly once', async () => {
    const schema = fresh();
    const stores = await Promise.all(Array.from({ length: 6 }, async () => PostgresStore.open(pgUrl(schema))));
    try {
      assert.deepEqual((await history(schema)).map((h) => h.id), POSTGRES_MIGRATIONS.map((m) => m.id));
      // They are one store: a write through one is read through every other.
      await stores[0]?.meta.put('k', 'v');
      assert.deepEqual(await Promise.all(stores.map(async (s) => s.meta.get('k'))), stores.map(() => 'v'));
    } finally {
      await Promise.all(stores.map(async (s) => s.close()));
    }
  });
});
