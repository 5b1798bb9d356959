// PostgreSQL and MariaDB as legacy sources, on the real servers of this machine: run, verify, a change at
// the source found and re-copied, purge (VACUUM FULL / OPTIMIZE TABLE), certificate; a purge refused
// when a foreign key would make the engine delete or change rows of a table the mapping leaves out.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { publishedVerifierKey } from '../../src/services/migration/certificate-issuer.ts';
import { planMigration } from '../../src/services/migration/migration-planner.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { freshMysqlDatabase, freshPgSchema, mysqlSkip, PG_URL, pgSkip } from '../helpers/legacy-servers.ts';
import { accountsMessagesMapping, migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

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
  /** Schema changes (on tables prefixed `hz<n>_`, n from 1) that make a delete do more than delete, or keep it when rolled back, and the refusal each gets. */
  readonly hazards: readonly { readonly ddl: readonly string[]; readonly refusal: RegExp }[];
  drop(): Promise<void>;
}


const uid = (i: number) => `s${String(i).padStart(3, '0')}`;

/** Creates and fills `<prefix>accounts` and `<prefix>messages`. */
async function load(e: Engine, prefix = ''): Promise<void> {
  for (const d of e.ddl) await e.exec(d.replace(/\b(accounts|messages)\b/g, `${prefix}$1`));
  const p = e.param;
  for (let i = 1; i <= USERS; i++) {
    await e.exec(`INSERT INTO ${prefix}accounts VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, [i, uid(i), `handle${i}`, `user${i}@example.com`, COUNTRIES[i % COUNTRIES.length]]);
    for (let k = 1; k <= 3; k++) {
      await e.exec(`INSERT INTO ${prefix}messages VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, [i * 10 + k, i, `s00${k}`, `message ${k} of ${i}`, `2024-03-0${k} 12:00:00`]);
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
    writeFileSync(path, accountsMessagesMapping(e.name, e.source));
    const ctx = await h.open(path);
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual([run.counters.copied, run.counters.refused], [moving.length * 4, 0]);
    const reader = h.fx.principals.service; // a platform service stating its purpose (officers read protected fields only under a grant)
    const first = moving[0] ?? 0;
    const record = await h.fx.enclave.vault.getRecord(reader, 'messages', String(first * 10 + 1));
    assert.deepEqual(record.data, { sender_id: uid(first), recipient_id: 's001', body: `message 1 of ${first}`, sent_at: '2024-03-01T12:00:00Z' });
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

  void it('refuses the purge when deleting would cascade into, or set null in, tables the mapping leaves out; nothing is deleted', async () => {
    await load(e, 'fk_');
    // Unmapped tables whose rows the engine itself would delete or change along with the purged subjects'.
    await e.exec('CREATE TABLE fk_other (uid varchar(16), note varchar(64), CONSTRAINT fk_other_uid FOREIGN KEY (uid) REFERENCES fk_accounts (user_uid) ON DELETE CASCADE)');
    await e.exec('CREATE TABLE fk_notes (id int PRIMARY KEY, account bigint, CONSTRAINT fk_notes_account FOREIGN KEY (account) REFERENCES fk_accounts (id) ON DELETE SET NULL)');
    const first = moving[0] ?? 0;
    await e.exec(`INSERT INTO fk_other VALUES (${e.param(1)}, ${e.param(2)})`, [uid(first), 'never copied']);
    await e.exec(`INSERT INTO fk_notes VALUES (${e.param(1)}, ${e.param(2)})`, [1, first]);
    const path = join(h.fx.dir, `${e.name}-fk.mapping.yaml`);
    writeFileSync(path, accountsMessagesMapping(`${e.name}-fk`, e.source, { prefix: 'fk_' }));
    const ctx = await h.open(path);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    assert.match((await planMigration(ctx)).purgeRefused ?? '', /table fk_other, constraint fk_other_uid/, 'plan tells before anything is deleted');

    const refusal = /table fk_notes, constraint fk_notes_account \(account → fk_accounts, ON DELETE SET NULL\); table fk_other, constraint fk_other_uid \(uid → fk_accounts, ON DELETE CASCADE\)\. Map those tables too .* ON DELETE RESTRICT or NO ACTION; then purge again\. Nothing was deleted/;
    await assert.rejects(purgeMigration(ctx), (err) => err instanceof EnclaveError && err.code === 'purge_refused' && refusal.test(err.message));
    assert.equal(await e.count('SELECT count(*) AS n FROM fk_accounts'), USERS);
    assert.equal(await e.count('SELECT count(*) AS n FROM fk_messages'), USERS * 3);
    assert.equal(await e.count('SELECT count(*) AS n FROM fk_other'), 1);
    assert.equal(await e.count('SELECT count(*) AS n FROM fk_notes WHERE account IS NOT NULL'), 1);
    assert.deepEqual(await h.state.certificates(ctx.name), []);
  });

  void it('refuses the purge when a foreign key between two mapped tables would cascade into rows that stay; nothing is deleted', async () => {
    await load(e, 'cx_');
    // Messages of staying users addressed to a moving user go when that user's account row goes.
    await e.exec('ALTER TABLE cx_messages ADD CONSTRAINT cx_rcpt FOREIGN KEY (recipient_uid) REFERENCES cx_accounts (user_uid) ON DELETE CASCADE');
    const path = join(h.fx.dir, `${e.name}-cx.mapping.yaml`);
    writeFileSync(path, accountsMessagesMapping(`${e.name}-cx`, e.source, { prefix: 'cx_' }));
    const ctx = await h.open(path);
    assert.deepEqual((await new MigrationRunner(ctx).run()).refused, []);
    assert.equal((await verifyMigration(ctx)).ok, true);
    const refusal = /table cx_messages: after deleting, \d+ rows remain where \d+ rows that stay were expected .*a foreign key may cascade into it from another purged table\); nothing was deleted/;
    await assert.rejects(purgeMigration(ctx), (err) => err instanceof EnclaveError && err.code === 'purge_refused' && refusal.test(err.message));
    assert.equal(await e.count('SELECT count(*) AS n FROM cx_accounts'), USERS);
    assert.equal(await e.count('SELECT count(*) AS n FROM cx_messages'), USERS * 3);
    assert.deepEqual(await h.state.certificates(ctx.name), []);
  });

  void it('refuses the purge when a trigger or rule runs on DELETE or a table cannot roll back; plan says so first, and nothing is deleted', async () => {
    for (const [n, hazard] of e.hazards.entries()) {
      const prefix = `hz${n + 1}_`;
      await load(e, prefix);
      for (const d of hazard.ddl) await e.exec(d);
      const path = join(h.fx.dir, `${e.name}-${prefix}.mapping.yaml`);
      writeFileSync(path, accountsMessagesMapping(`${e.name}-${prefix}`, e.source, { prefix }));
      const ctx = await h.open(path);
      await new MigrationRunner(ctx).run();
      assert.equal((await verifyMigration(ctx)).ok, true);
      assert.match((await planMigration(ctx)).purgeRefused ?? '', hazard.refusal, 'plan tells before anything is deleted');
      await assert.rejects(purgeMigration(ctx), (err) => err instanceof EnclaveError && err.code === 'purge_refused' && hazard.refusal.test(err.message) && /Nothing was deleted/.test(err.message));
      assert.equal(await e.count(`SELECT count(*) AS n FROM ${prefix}accounts`), USERS);
      assert.equal(await e.count(`SELECT count(*) AS n FROM ${prefix}messages`), USERS * 3);
      assert.deepEqual(await h.state.certificates(ctx.name), []);
    }
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
      hazards: [
        {
          // The deleted row's email, copied into a table nobody purges.
          ddl: [
            'CREATE TABLE hz1_audit (email text)',
            'CREATE FUNCTION hz1_keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO hz1_audit VALUES (OLD.email); RETURN OLD; END$$',
            'CREATE TRIGGER hz1_keep AFTER DELETE ON hz1_accounts FOR EACH ROW EXECUTE FUNCTION hz1_keep()',
          ],
          refusal: /table hz1_accounts has trigger hz1_keep, which runs on DELETE\. Drop or disable those triggers/,
        },
        {
          ddl: ['CREATE TABLE hz2_audit (body text)', 'CREATE RULE hz2_keep AS ON DELETE TO hz2_messages DO ALSO INSERT INTO hz2_audit VALUES (OLD.body)'],
          refusal: /table hz2_messages has rule hz2_keep, which rewrites DELETE\. /,
        },
      ],
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
      hazards: [
        {
          ddl: ['CREATE TABLE hz1_audit (email VARCHAR(128)) ENGINE=InnoDB', 'CREATE TRIGGER hz1_keep AFTER DELETE ON hz1_accounts FOR EACH ROW INSERT INTO hz1_audit VALUES (OLD.email)'],
          refusal: /table hz1_accounts has trigger hz1_keep, which runs on DELETE\. Drop or disable those triggers/,
        },
        {
          // MyISAM keeps a delete that the purge's rollback would undo: the rows were gone, the purge "refused".
          ddl: ['ALTER TABLE hz2_messages DROP FOREIGN KEY hz2_messages_ibfk_1', 'ALTER TABLE hz2_messages ENGINE=MyISAM'],
          refusal: /table hz2_messages has the MyISAM engine, which cannot roll back a refused purge\. .*convert those tables to a transactional engine/,
        },
      ],
      drop: () => db.drop(),
    };
  });
});
