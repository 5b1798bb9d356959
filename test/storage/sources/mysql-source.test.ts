// The MySQL/MariaDB source against the conformance suite, on the real server (a fresh database, dropped after).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MysqlSource } from '../../../src/storage/sources/mysql-source.ts';
import { freshMysqlDatabase, mysqlSkip, type MysqlDatabase } from '../../helpers/legacy-servers.ts';
import { FIXTURE, sourceConformance, type LogicalType } from './conformance.ts';

const TYPES: Readonly<Record<LogicalType, string>> = {
  int: 'INT',
  bigint: 'BIGINT',
  text: 'VARCHAR(64)',
  real: 'DOUBLE',
  bool: 'BOOLEAN',
  timestamp: 'DATETIME',
  date: 'DATE',
  decimal: 'DECIMAL(10,2)',
  blob: 'BLOB',
};

let db: MysqlDatabase | undefined;

sourceConformance('mysql (MariaDB)', {
  async open() {
    db = await freshMysqlDatabase('enclave_src');
    for (const t of FIXTURE) {
      const cols = t.columns.map((c) => `\`${c.name}\` ${TYPES[c.type]}${c.nullable === true ? ' NULL' : ' NOT NULL'}`);
      await db.conn.query(`CREATE TABLE \`${t.name}\` (${cols.join(', ')}, PRIMARY KEY (${t.key.map((k) => `\`${k}\``).join(', ')})) ENGINE=InnoDB`);
      for (const r of t.rows) {
        const values = t.columns.map((c) => {
          const v = r[c.name] ?? null;
          if (typeof v === 'bigint') return v.toString();
          if (c.type === 'timestamp' && typeof v === 'string') return v.replace('T', ' ').replace('Z', '');
          return v;
        });
        await db.conn.query(`INSERT INTO \`${t.name}\` VALUES (${t.columns.map(() => '?').join(', ')})`, values);
      }
    }
    return MysqlSource.open(db.url);
  },
  cleanup: async () => db?.drop(),
  skip: await mysqlSkip(),
});

void describe('MySQL/MariaDB unique keys', { skip: await mysqlSkip() }, () => {
  void it('an index on a column prefix is no unique key: its columns would let two rows share a key', async () => {
    const own = await freshMysqlDatabase('enclave_src_prefix');
    try {
      await own.conn.query('CREATE TABLE notes (rid INT PRIMARY KEY, acct INT NOT NULL, label VARCHAR(64) NOT NULL, UNIQUE KEY by_label (acct, label(4)), UNIQUE KEY whole (acct, label)) ENGINE=InnoDB');
      const source = await MysqlSource.open(own.url);
      try {
        const notes = (await source.tables()).find((t) => t.name === 'notes');
        assert.deepEqual(notes?.primaryKey, ['rid']);
        assert.deepEqual(notes.uniqueKeys.map((k) => k.join(',')).sort(), ['acct,label', 'rid']);
      } finally {
        await source.close();
      }
    } finally {
      await own.drop();
    }
  });
});

void describe('MySQL/MariaDB FLOAT columns', { skip: await mysqlSkip() }, () => {
  void it('are read exactly, not as the six digits the text protocol writes (two floats would read as one value), in reads, lookups and a purge\'s reads', async () => {
    const own = await freshMysqlDatabase('enclave_src_float');
    try {
      await own.conn.query('CREATE TABLE m (id INT PRIMARY KEY, f FLOAT, u FLOAT UNSIGNED, d DOUBLE) ENGINE=InnoDB');
      await own.conn.query('INSERT INTO m VALUES (1, 1.2345678, 3.4e38, 0.1), (2, 1.2345679, 1e-40, 0.2), (3, NULL, NULL, NULL)');
      const source = await MysqlSource.open(own.url);
      try {
        const expected = [
          [1, Math.fround(1.2345678), Math.fround(3.4e38), 0.1],
          [2, Math.fround(1.2345679), Math.fround(1e-40), 0.2],
          [3, null, null, null],
        ];
        const columns = ['id', 'f', 'u', 'd'];
        const values = (rows: readonly Record<string, unknown>[]) => rows.map((r) => columns.map((c) => r[c]));
        assert.deepEqual(values(await source.read({ table: 'm', columns, key: ['id'], limit: 10 })), expected);
        assert.deepEqual(values(await source.lookup({ table: 'm', columns, by: 'id', values: [2] })), [expected[1]]);
        await source.transaction(['m'], async (tx) => {
          assert.deepEqual(values(await tx.read({ table: 'm', columns, key: ['id'], after: [1], limit: 10 })), expected.slice(1));
        });
      } finally {
        await source.close();
      }
    } finally {
      await own.drop();
    }
  });
});
