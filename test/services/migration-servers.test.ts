// PostgreSQL and MariaDB as legacy sources, on the real servers of this machine: run, verify, a change at
// the source found and re-copied, purge (VACUUM FULL / OPTIMIZE TABLE), certificate.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import { publishedVerifierKey } from '../../src/services/migration/certificate-issuer.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { freshMysqlDatabase, freshPgSchema, mysqlSkip, PG_URL, pgSkip } from '../helpers/legacy-servers.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

const COUNTRIES = ['us', 'de', 'br', 'fr', 'in', 'us'];
const USERS = 36;

interface Engine {
  readonly name: string;
  /** Runs one statement with positional parameters. */
  exec(sql: string, params?: readonly unknown[]): Promise<void>;
  count(sql: string): Promise<number>;
  readonly source: string;
  readonly ddl: readonly string[];
  readonly param: (n: number) => string;
  readonly steps: RegExp;
  drop(): Promise<void>;
}

function mapping(name: string, source: string): string {
  return `version: 1
name: ${name}
source: ${source}
subjects: { table: accounts, id: user_uid, key: id, country: { expr: "upper(country_code)" } }
tables:
  - table: accounts
    collection: users
    key: [user_uid]
    fields: { user_id: user_uid, username: handle, email: email }
  - table: messages
    collection: messages
    subject: { join: sender_account }
    fields: { recipient_id: recipient_uid, body: body, sent_at: sent_at }
`;
}

async function load(e: Engine): Promise<void> {
  for (const d of e.ddl) await e.exec(d);
  const p = e.param;
  for (let i = 1; i <= USERS; i++) {
    await e.exec(`INSERT INTO accounts VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, [i, `s${String(i).padStart(3, '0')}`, `handle${i}`, `user${i}@example.com`, COUNTRIES[i % COUNTRIES.length]]);
    for (let k = 1; k <= 3; k++) {
      await e.exec(`INSERT INTO messages VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, [i * 10 + k, i, `s00${k}`, `message ${k} of ${i}`, `2024-03-0${k} 12:00:00`]);
    }
  }
}

function engineSuite(make: () => Promise<Engine>): void {
  let h: MigrationHarness;
  let e: Engine;
  const moving = Array.from({ length: USERS }, (_, k) => k + 1).filter((i) => ['us', 'de', 'fr'].includes(COUNTRIES[i % COUNTRIES.length] ?? ''));
  before(async () => {
    h = await migrationHarness(2, 1);
    e = await make();
    await load(e);
  });
  after(async () => {
    await h.close();
    await e.drop();
  });

  void it('runs, verifies, finds and re-copies a change, purges and certifies', async () => {
    const path = join(h.fx.dir, `${e.name}.mapping.yaml`);
    writeFileSync(path, mapping(e.name, e.source));
    const ctx = await h.open(path);
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual([run.counters.copied, run.counters.refused], [moving.length * 4, 0]);
    const reader = h.fx.principals.service; // a platform service stating its purpose (officers read protected fields only under a grant)
    const first = moving[0] ?? 0;
    const record = await h.fx.enclave.vault.getRecord(reader, 'messages', String(first * 10 + 1));
    assert.deepEqual(record.data, { sender_id: `s${String(first).padStart(3, '0')}`, recipient_id: 's001', body: `message 1 of ${first}`, sent_at: '2024-03-01T12:00:00Z' });
    assert.equal((await verifyMigration(ctx)).ok, true);

    await e.exec(`UPDATE messages SET body = 'changed at the source' WHERE id = ${e.param(1)}`, [first * 10 + 2]);
    const v = await verifyMigration(ctx);
    assert.equal(v.ok, false);
    assert.deepEqual((await h.state.mismatches(v.id, 10, 0)).map((m) => [m.table, m.key, m.kind]), [['messages', `[${first * 10 + 2}]`, 'changed']]);
    assert.equal((await new MigrationRunner(ctx).run()).counters.recopied, 1);
    assert.equal((await verifyMigration(ctx)).ok, true);

    const report = await purgeMigration(ctx);
    assert.equal(await e.count('SELECT count(*) AS n FROM accounts'), USERS - moving.length);
    assert.equal(await e.count('SELECT count(*) AS n FROM messages'), (USERS - moving.length) * 3);
    assert.equal(report.tables.find((t) => t.table === 'messages')?.purged, moving.length * 3);
    for (const t of report.tables) assert.equal(t.keptBefore, t.keptAfter);
    const check = verifyCertificate(report.certificate.note, (await publishedVerifierKey(h.fx.enclave.control.meta)) ?? '');
    assert.match(check.certificate.method.steps.join('\n'), e.steps);
    assert.ok(check.certificate.method.limits.length >= 3, 'the certificate states what the engine cannot guarantee');
    assert.doesNotMatch(report.certificate.note, /password/i);
    assert.equal((await h.fx.enclave.vault.getRecord(reader, 'messages', String(first * 10 + 2))).data['body'], 'changed at the source');
  });
}

void describe('PostgreSQL as a legacy source', { skip: await pgSkip() }, () => {
  engineSuite(async () => {
    const db = await freshPgSchema('enclave_mig');
    return {
      name: 'postgres-legacy',
      source: `{ postgres: { url: "${PG_URL}", schema: ${db.schema} } }`,
      ddl: [
        'CREATE TABLE accounts (id bigint PRIMARY KEY, user_uid text NOT NULL UNIQUE, handle text NOT NULL, email text NOT NULL, country_code char(2))',
        'CREATE TABLE messages (id integer PRIMARY KEY, sender_account bigint NOT NULL REFERENCES accounts (id), recipient_uid text NOT NULL, body text NOT NULL, sent_at timestamp NOT NULL)',
      ],
      param: (n) => `$${n}`,
      exec: async (sql, params = []) => {
        await db.client.query(sql, params as unknown[]);
      },
      count: async (sql) => Number((await db.client.query<{ n: string }>(sql)).rows[0]?.n ?? -1),
      steps: /VACUUM \(FULL, ANALYZE\)/,
      drop: () => db.drop(),
    };
  });
});

void describe('MariaDB as a legacy source', { skip: await mysqlSkip() }, () => {
  engineSuite(async () => {
    const db = await freshMysqlDatabase('enclave_mig');
    return {
      name: 'mariadb-legacy',
      source: `{ mysql: "${db.url}" }`,
      ddl: [
        'CREATE TABLE accounts (id BIGINT PRIMARY KEY, user_uid VARCHAR(16) NOT NULL UNIQUE, handle VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, country_code CHAR(2)) ENGINE=InnoDB',
        'CREATE TABLE messages (id INT PRIMARY KEY, sender_account BIGINT NOT NULL, recipient_uid VARCHAR(16) NOT NULL, body TEXT NOT NULL, sent_at DATETIME NOT NULL, FOREIGN KEY (sender_account) REFERENCES accounts (id)) ENGINE=InnoDB',
      ],
      param: () => '?',
      exec: async (sql, params = []) => {
        await db.conn.query(sql, [...params] as (string | number)[]);
      },
      count: async (sql) => Number(((await db.conn.query(sql))[0] as { n: number }[])[0]?.n ?? -1),
      steps: /OPTIMIZE TABLE/,
      drop: () => db.drop(),
    };
  });
});
