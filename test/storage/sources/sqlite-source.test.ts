// The SQLite source against the conformance suite, on a legacy file created the way an application would;
// and what it reports to the purge's check for dangling references.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { describe, it } from 'node:test';
import { SqliteSource } from '../../../src/storage/sources/sqlite-source.ts';
import { FIXTURE, sourceConformance, type LogicalType } from './conformance.ts';

const TYPES: Readonly<Record<LogicalType, string>> = {
  int: 'INTEGER',
  bigint: 'BIGINT',
  text: 'TEXT',
  real: 'REAL',
  bool: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  date: 'DATE',
  decimal: 'DECIMAL(10,2)',
  blob: 'BLOB',
};

const dir = mkdtempSync(join(tmpdir(), 'enclave-sqlite-source-'));

sourceConformance('sqlite', {
  open() {
    const path = join(dir, 'legacy.db');
    const db = new DatabaseSync(path);
    for (const t of FIXTURE) {
      const cols = t.columns.map((c) => `"${c.name}" ${TYPES[c.type]}${c.nullable === true ? '' : ' NOT NULL'}`);
      db.exec(`CREATE TABLE "${t.name}" (${cols.join(', ')}, PRIMARY KEY (${t.key.map((k) => `"${k}"`).join(', ')}))`);
      const insert = db.prepare(`INSERT INTO "${t.name}" VALUES (${t.columns.map(() => '?').join(', ')})`);
      for (const r of t.rows) {
        insert.run(
          ...t.columns.map((c): SQLInputValue => {
            const v = r[c.name] ?? null;
            return typeof v === 'boolean' ? Number(v) : v;
          }),
        );
      }
    }
    db.close();
    return Promise.resolve(new SqliteSource(path));
  },
  cleanup: () => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  },
});

void describe('SQLite source: dangling references for a purge', () => {
  void it('lists the rows whose keys into the given tables refer to no row, by table, key and rowid (null without one), and no others', async () => {
    const own = mkdtempSync(join(tmpdir(), 'enclave-sqlite-dangling-'));
    const path = join(own, 'dangling.db');
    const db = new DatabaseSync(path, { enableForeignKeyConstraints: false });
    db.exec(`
      CREATE TABLE users (id INTEGER PRIMARY KEY, uid TEXT UNIQUE);
      CREATE TABLE teams (id INTEGER PRIMARY KEY);
      CREATE TABLE posts (id INTEGER PRIMARY KEY, team INTEGER REFERENCES teams (id), author TEXT REFERENCES Users (uid));
      CREATE TABLE likes (k TEXT PRIMARY KEY, user INTEGER REFERENCES users (id)) WITHOUT ROWID;
      INSERT INTO users VALUES (1, 'a');
      INSERT INTO posts VALUES (10, 7, 'a'), (11, NULL, 'gone'), (12, 7, NULL);
      INSERT INTO likes VALUES ('x', 1), ('y', 5);`);
    db.close();
    const source = new SqliteSource(path);
    try {
      const found = await source.transaction(['users'], async (tx) => tx.danglingReferences?.(['users']));
      // posts 10 and 12 dangle through their key into teams, which is not purged: not listed.
      assert.deepEqual(found, [
        { table: 'likes', key: 'foreign key 0', row: null },
        { table: 'posts', key: 'foreign key 0', row: '11' }, // SQLite numbers a table's keys from its last
      ]);
      assert.deepEqual(await source.transaction(['teams'], async (tx) => tx.danglingReferences?.(['teams'])), [
        { table: 'posts', key: 'foreign key 1', row: '10' },
        { table: 'posts', key: 'foreign key 1', row: '12' },
      ]);
    } finally {
      await source.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});

void describe('SQLite source: text that is not valid in the database\'s encoding', () => {
  void it('is read as its bytes, not as U+FFFD (two such values would read alike), in reads and lookups; valid text with a U+FFFD stays text (UTF-8 and UTF-16 databases)', async () => {
    const own = mkdtempSync(join(tmpdir(), 'enclave-sqlite-utf8-'));
    for (const encoding of ['UTF-8', 'UTF-16le']) {
      const path = join(own, `${encoding}.db`);
      const db = new DatabaseSync(path);
      db.exec(`PRAGMA encoding = '${encoding}';
        CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER);
        INSERT INTO t VALUES (1, CAST(${encoding === 'UTF-8' ? "x'61ff62'" : "x'00d8'"} AS TEXT), 9007199254740993), (2, CAST(${encoding === 'UTF-8' ? "x'61fe62'" : "x'3dd87800'"} AS TEXT), 2),
          (3, 'a\uFFFDb', 3), (4, 'plain \u{1F478}', 4);`);
      db.close();
      const source = new SqliteSource(path);
      try {
        const rows = await source.read({ table: 't', columns: ['id', 's', 'n'], key: ['id'], limit: 10 });
        const stored = (id: number) => {
          const raw = new DatabaseSync(path, { readOnly: true });
          try {
            return (raw.prepare('SELECT CAST(s AS BLOB) AS b FROM t WHERE id = ?').get(id) as { b: Uint8Array }).b;
          } finally {
            raw.close();
          }
        };
        assert.deepEqual(rows.map((r) => r['id']), [1, 2, 3, 4], encoding);
        assert.ok(rows[0]?.['s'] instanceof Uint8Array && Buffer.from(rows[0]['s']).equals(Buffer.from(stored(1))), `${encoding}: row 1 as its bytes`);
        assert.ok(rows[1]?.['s'] instanceof Uint8Array && Buffer.from(rows[1]['s']).equals(Buffer.from(stored(2))), `${encoding}: row 2 as its bytes`);
        assert.equal(rows[0]?.['n'], 9007199254740993n, 'integers beyond 2^53 stay exact in the re-read');
        assert.equal(rows[2]?.['s'], 'a\uFFFDb');
        assert.equal(rows[3]?.['s'], 'plain \u{1F478}');
        const found = await source.lookup({ table: 't', columns: ['id', 's'], by: 'id', values: [2, 3] });
        assert.deepEqual(found.map((r) => [r['id'], r['s'] instanceof Uint8Array]), [[2, true], [3, false]]);
      } finally {
        await source.close();
      }
    }
    rmSync(own, { recursive: true, force: true });
  });
});
