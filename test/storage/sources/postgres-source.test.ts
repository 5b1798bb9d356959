// The PostgreSQL source against the conformance suite, on the real server (a fresh schema, dropped after).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnclaveError } from '../../../src/core/errors.ts';
import { MysqlSource } from '../../../src/storage/sources/mysql-source.ts';
import { PostgresSource, redactUrl } from '../../../src/storage/sources/postgres-source.ts';
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

void describe('source locations in messages and certificates', () => {
  void it('never show a password, whether in the URL\'s user part or as a query parameter either driver reads', async () => {
    assert.equal(redactUrl('postgres://u:hunter22@db/x?password=hunter33&sslpassword=hunter44&schema=s'), 'postgres://u:***@db/x?password=***&sslpassword=***&schema=s');
    for (const [open, url] of [
      [() => PostgresSource.open('postgres://u@127.0.0.1:1/db?password=SECRETPW', 'public'), 'postgres'],
      [() => MysqlSource.open('mysql://u@127.0.0.1:1/db?password=SECRETPW'), 'mysql'],
    ] as const) {
      await assert.rejects(open(), (e: unknown) => e instanceof EnclaveError && e.code === 'source_unavailable' && !e.message.includes('SECRETPW') && e.message.includes('password=***'), url);
    }
  });
});
