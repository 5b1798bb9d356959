// The PostgreSQL source against the conformance suite, on the real server (a fresh schema, dropped after).
import { PostgresSource } from '../../../src/storage/sources/postgres-source.ts';
import { freshPgSchema, PG_URL, pgSkip, type PgSchema } from '../../helpers/legacy-servers.ts';
import { FIXTURE, sourceConformance, type LogicalType } from './conformance.ts';

const TYPES: Readonly<Record<LogicalType, string>> = {
  int: 'integer',
  bigint: 'bigint',
  text: 'text',
  real: 'double precision',
  bool: 'boolean',
  timestamp: 'timestamptz',
  date: 'date',
  decimal: 'numeric(10,2)',
  blob: 'bytea',
};

let db: PgSchema | undefined;

sourceConformance('postgres', {
  async open() {
    db = await freshPgSchema('enclave_src');
    for (const t of FIXTURE) {
      const cols = t.columns.map((c) => `"${c.name}" ${TYPES[c.type]}${c.nullable === true ? '' : ' NOT NULL'}`);
      await db.client.query(`CREATE TABLE "${t.name}" (${cols.join(', ')}, PRIMARY KEY (${t.key.map((k) => `"${k}"`).join(', ')}))`);
      for (const r of t.rows) {
        await db.client.query(
          `INSERT INTO "${t.name}" VALUES (${t.columns.map((_, i) => `$${i + 1}`).join(', ')})`,
          t.columns.map((c) => { const v = r[c.name] ?? null; return typeof v === 'bigint' ? v.toString() : v; }),
        );
      }
    }
    return PostgresSource.open(PG_URL, db.schema);
  },
  cleanup: async () => db?.drop(),
  skip: await pgSkip(),
});
