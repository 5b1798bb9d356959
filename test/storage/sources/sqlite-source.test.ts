// The SQLite source against the conformance suite, on a legacy file created the way an application would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
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
