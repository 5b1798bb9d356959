// Schema migrations: the pure plan, and the SQLite adapter applying it. A store refuses to open on a
// schema history that disagrees with this build, and a failing migration leaves no partial schema.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { planMigrations, type AppliedMigration, type Migration } from '../../src/core/migration-plan.ts';
import { migrationChecksum } from '../../src/storage/checksum.ts';
import { holderGone } from '../../src/storage/process-alive.ts';
import { SQLITE_MIGRATIONS } from '../../src/storage/sqlite/sqlite-migrations.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { HISTORY_EDITS, refusedNaming } from './migration-cases.ts';

const M: Migration[] = [
  { id: 1, name: 'initial', sql: 'CREATE TABLE a (x INTEGER) STRICT;' },
  { id: 2, name: 'add_b', sql: 'CREATE TABLE b (y TEXT) STRICT;' },
  { id: 3, name: 'index_b', sql: 'CREATE INDEX b_y ON b (y);' },
];
const applied = (m: Migration): AppliedMigration => ({ id: m.id, name: m.name, checksum: migrationChecksum(m.sql) });
const at = (i: number): Migration => {
  const m = M[i];
  assert.ok(m);
  return m;
};

/** Asserts `fn` throws migration_refused with a message that contains every one of `words`. */
function refused(fn: () => unknown, ...words: string[]): void {
  assert.throws(fn, refusedNaming(words));
}

void describe('planMigrations (pure)', () => {
  void it('a fresh database gets every migration, in order', () => {
    assert.deepEqual(planMigrations(M, [], migrationChecksum), M);
  });

  void it('a partly migrated database gets only the rest; an up-to-date one gets nothing', () => {
    assert.deepEqual(planMigrations(M, [applied(at(0))], migrationChecksum), [at(1), at(2)]);
    assert.deepEqual(planMigrations(M, M.map(applied), migrationChecksum), []);
  });

  void it('the order in which history rows are read does not matter', () => {
    assert.deepEqual(planMigrations(M, [applied(at(1)), applied(at(0))], migrationChecksum), [at(2)]);
  });

  void it('refuses a migration modified after it was applied, naming it', () => {
    refused(() => planMigrations(M, [applied(at(0)), { ...applied(at(1)), checksum: migrationChecksum('CREATE TABLE b (y BLOB);') }], migrationChecksum), 'migration 2', 'add_b', 'modified');
  });

  void it('refuses a database with a migration unknown to this build, naming it', () => {
    refused(() => planMigrations(M, [...M.map(applied), { id: 4, name: 'from_the_future', checksum: 'x' }], migrationChecksum), 'migration 4', 'from_the_future');
  });

  void it('refuses a renamed migration, naming both names', () => {
    refused(() => planMigrations(M, [applied(at(0)), { ...applied(at(1)), name: 'add_bee' }], migrationChecksum), 'migration 2', 'add_bee', 'add_b');
  });

  void it('refuses a gap in the applied history, naming the migration found', () => {
    refused(() => planMigrations(M, [applied(at(0)), applied(at(2))], migrationChecksum), 'expected 2', 'found 3', 'index_b');
    refused(() => planMigrations(M, [applied(at(1))], migrationChecksum), 'expected 1', 'found 2', 'add_b');
  });

  void it('refuses a build whose own migrations are not numbered 1..n', () => {
    refused(() => planMigrations([at(0), at(2)], [], migrationChecksum), 'found 3 at position 2');
  });

  void it('the shipped SQLite migrations are numbered 1..n and plan cleanly', () => {
    assert.deepEqual(planMigrations(SQLITE_MIGRATIONS, [], migrationChecksum), [...SQLITE_MIGRATIONS]);
  });
});

void describe('SqliteStore migrations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-migrations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const freshPath = () => join(dir, `db-${++n}.db`);

  function history(path: string): { id: number; name: string; checksum: string }[] {
    const db = new DatabaseSync(path);
    try {
      return db.prepare('SELECT id, name, checksum FROM schema_migrations ORDER BY id').all().map((r) => ({ id: Number(r['id']), name: String(r['name']), checksum: String(r['checksum']) }));
    } finally {
      db.close();
    }
  }
  function tables(path: string): string[] {
    const db = new DatabaseSync(path);
    try {
      return db.prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => String(r['name']));
    } finally {
      db.close();
    }
  }
  function edit(path: string, sql: string): void {
    const db = new DatabaseSync(path);
    try {
      db.exec(sql);
    } finally {
      db.close();
    }
  }
  async function openClose(path: string, migrations?: readonly Migration[]): Promise<void> {
    const s = new SqliteStore({ path, ...(migrations ? { migrations } : {}) });
    await s.close();
  }

  void it('a fresh database records every shipped migration with its checksum', async () => {
    const path = freshPath();
    await openClose(path);
    assert.deepEqual(
      history(path),
      SQLITE_MIGRATIONS.map((m) => ({ id: m.id, name: m.name, checksum: migrationChecksum(m.sql) })),
    );
    assert.ok(tables(path).includes('records'));
  });

  void it('reopening an up-to-date database is a no-op (history and data unchanged)', async () => {
    const path = freshPath();
    const s = new SqliteStore({ path });
    await s.meta.put('k', 'v');
    await s.close();
    const before = history(path);
    const schema = tables(path);
    await openClose(path);
    await openClose(path);
    assert.deepEqual(history(path), before);
    assert.deepEqual(tables(path), schema);
    const again = new SqliteStore({ path });
    try {
      assert.equal(await again.meta.get('k'), 'v');
    } finally {
      await again.close();
    }
  });

  void it('a newer build applies only its new migrations', async () => {
    const path = freshPath();
    await openClose(path, [...SQLITE_MIGRATIONS]);
    const extra: Migration = { id: SQLITE_MIGRATIONS.length + 1, name: 'extra_table', sql: 'CREATE TABLE extra (z INTEGER) STRICT;' };
    await openClose(path, [...SQLITE_MIGRATIONS, extra]);
    assert.deepEqual(history(path).map((h) => h.name), [...SQLITE_MIGRATIONS.map((m) => m.name), 'extra_table']);
    assert.ok(tables(path).includes('extra'));
  });

  void it('the token_lineage migration gives every token issued before it a lineage of its own, so revoking it still revokes it', async () => {
    const path = freshPath();
    await openClose(path, SQLITE_MIGRATIONS.slice(0, SQLITE_MIGRATIONS.findIndex((m) => m.name === 'token_lineage')));
    edit(path, `INSERT INTO principals VALUES ('p1', 'o', 'r', 1); INSERT INTO tokens VALUES ('t1', 'h1', 'p1', '', 1, NULL, NULL), ('t2', 'h2', 'p1', '', 2, NULL, 3);`);
    const s = new SqliteStore({ path });
    try {
      assert.deepEqual((await s.tokens.list()).map((t) => [t.token.id, t.token.lineage, t.token.replaces]), [['t1', 't1', null], ['t2', 't2', null]]);
      assert.deepEqual(await s.tokens.revoke('t1', 9), ['t1']);
    } finally {
      await s.close();
    }
  });

  void it('move_owner: a mark set before it has a holder that is gone at once; unmarked rows stay unmarked', async () => {
    const path = freshPath();
    // Found by name, so the test stays right when the migration is renumbered beside another new one.
    await openClose(path, SQLITE_MIGRATIONS.slice(0, SQLITE_MIGRATIONS.findIndex((m) => m.name === 'move_owner')));
    edit(path, `INSERT INTO subjects (id, country, jurisdiction, wrapped_key, key_id, created_at, erased_at, moved_to)
      VALUES ('marked', 'US', 'us', x'01', 'k1', 1, NULL, 'eu-central'), ('plain', 'US', 'us', x'01', 'k1', 1, NULL, NULL)`);
    const s = new SqliteStore({ path });
    try {
      const marked = await s.subjects.get('marked');
      assert.deepEqual([marked?.movedTo, marked?.moveOwner, marked?.moveStartedAt], ['eu-central', '', 0]);
      assert.ok(holderGone(marked?.moveOwner ?? 'x', Date.now(), marked?.moveStartedAt ?? Date.now()));
      const plain = await s.subjects.get('plain');
      assert.deepEqual([plain?.movedTo, plain?.moveOwner, plain?.moveStartedAt], [null, null, null]);
    } finally {
      await s.close();
    }
  });

  void it('subjects_without_rowid keeps every subject row as it was, keyed by id alone', async () => {
    const path = freshPath();
    await openClose(path, SQLITE_MIGRATIONS.slice(0, SQLITE_MIGRATIONS.findIndex((m) => m.name === 'subjects_without_rowid')));
    edit(path, `INSERT INTO subjects VALUES
      ('live', 'US', 'us', x'0102', 'k1', 1, NULL, NULL, NULL, NULL),
      ('erased', 'US', 'us', NULL, 'k1', 2, 3, NULL, NULL, NULL),
      ('moving', 'DE', 'eu', x'03', 'k1', ${2 ** 41}, NULL, 'eu-central', 'host:1:ab', 5);
      INSERT INTO records VALUES ('users', 'r1', 'moving', 1, '{}', x'04', 1, 1, 'p');`);
    const rows = (p: string) => {
      const db = new DatabaseSync(p, { readOnly: true });
      try {
        return { rows: JSON.stringify(db.prepare('SELECT * FROM subjects ORDER BY id').all()), sql: String((db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'subjects'").get() as { sql: string }).sql) };
      } finally {
        db.close();
      }
    };
    const before = rows(path);
    assert.doesNotMatch(before.sql, /WITHOUT ROWID/);
    const s = new SqliteStore({ path });
    try {
      const found = await s.records.getWithSubject('users', 'r1');
      assert.deepEqual([found?.subject?.id, found?.subject?.movedTo, found?.subject?.moveOwner, found?.subject?.createdAt], ['moving', 'eu-central', 'host:1:ab', 2 ** 41]);
    } finally {
      await s.close();
    }
    const after = rows(path);
    assert.match(after.sql, /WITHOUT ROWID/);
    assert.equal(after.rows, before.rows);
  });

  for (const s of HISTORY_EDITS) {
    void it(`refuses to open a database with ${s.what}, naming the migration, and changes nothing`, async () => {
      const path = freshPath();
      await openClose(path, M);
      edit(path, s.sql);
      const historyBefore = history(path);
      const tablesBefore = tables(path);
      assert.throws(() => new SqliteStore({ path, migrations: M }), refusedNaming(s.words));
      assert.deepEqual(history(path), historyBefore);
      assert.deepEqual(tables(path), tablesBefore);
    });
  }

  void it('a migration whose SQL fails leaves no partial schema and no history row for it', async () => {
    const path = freshPath();
    const broken: Migration[] = [
      at(0),
      // The first statement succeeds, the second fails: the transaction must undo the first.
      { id: 2, name: 'half_done', sql: 'CREATE TABLE half (x INTEGER) STRICT; CREATE TABLE broken (;' },
    ];
    assert.throws(
      () => new SqliteStore({ path, migrations: broken }),
      (err: unknown) => err instanceof EnclaveError && err.code === 'migration_refused' && /migration 2 \(half_done\) failed/.test(err.message),
    );
    assert.deepEqual(history(path).map((h) => h.name), ['initial']);
    assert.deepEqual(tables(path), ['a', 'schema_migrations']);
    // A fixed build then migrates the same database cleanly.
    await openClose(path, M);
    assert.deepEqual(history(path).map((h) => h.name), ['initial', 'add_b', 'index_b']);
    assert.deepEqual(tables(path), ['a', 'b', 'b_y', 'schema_migrations']);
  });

  void it('a failing first migration leaves an empty history', () => {
    const path = freshPath();
    assert.throws(() => new SqliteStore({ path, migrations: [{ id: 1, name: 'bad', sql: 'CREATE TABLE ok (x); SELECT * FROM missing_table;' }] }));
    assert.deepEqual(history(path), []);
    assert.deepEqual(tables(path), ['schema_migrations']);
  });
});
