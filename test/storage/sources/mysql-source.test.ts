// The MySQL/MariaDB source against the conformance suite, on the real server (a fresh database, dropped after).
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
