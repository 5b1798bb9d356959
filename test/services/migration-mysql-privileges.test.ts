// A purge through a least-privilege MySQL/MariaDB account: MySQL lists a table's triggers in
// information_schema.TRIGGERS only to an account with the TRIGGER privilege on it, so without that
// privilege the check for triggers that run on DELETE would find none and the purge would go ahead
// although a trigger might copy the deleted values elsewhere. The purge fails closed: it is refused,
// naming the privilege to grant, until the account holds TRIGGER on every purged table. On the real
// MariaDB of this machine, with an account the test creates and drops.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { planMigration } from '../../src/services/migration/migration-planner.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { freshMysqlDatabase, mysqlSkip, type MysqlDatabase } from '../helpers/legacy-servers.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

const USERS = 12;
const COUNTRIES = ['US', 'BR', 'DE', 'IN'];

void describe('a MySQL/MariaDB purge through an account without the TRIGGER privilege', { skip: await mysqlSkip() }, () => {
  let h: MigrationHarness;
  let db: MysqlDatabase;
  const user = `enclave_lp_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const account = `'${user}'@'%'`;

  before(async () => {
    h = await migrationHarness(2, 1);
    db = await freshMysqlDatabase('enclave_priv');
    await db.conn.query('CREATE TABLE accounts (id BIGINT PRIMARY KEY, user_uid VARCHAR(16) NOT NULL UNIQUE, handle VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, country_code CHAR(2)) ENGINE=InnoDB');
    await db.conn.query('CREATE TABLE messages (id INT PRIMARY KEY, sender_account BIGINT NOT NULL, recipient_uid VARCHAR(16) NOT NULL, body TEXT NOT NULL, sent_at DATETIME NOT NULL) ENGINE=InnoDB');
    for (let i = 1; i <= USERS; i++) {
      await db.conn.query('INSERT INTO accounts VALUES (?, ?, ?, ?, ?)', [i, `lp${i}`, `handle${i}`, `user${i}@example.com`, COUNTRIES[i % COUNTRIES.length]]);
      await db.conn.query('INSERT INTO messages VALUES (?, ?, ?, ?, ?)', [i, i, 'lp1', `message of ${i}`, '2024-03-01 12:00:00']);
    }
    // What the purge needs and no more: read, delete, and INSERT for OPTIMIZE TABLE's rebuild.
    await db.conn.query(`CREATE USER ${account} IDENTIFIED BY '${password}'`);
    await db.conn.query(`GRANT SELECT, INSERT, DELETE ON \`${db.database}\`.* TO ${account}`);
  });
  after(async () => {
    await db.conn.query(`DROP USER IF EXISTS ${account}`);
    await h.close();
    await db.drop();
  });

  const count = async (table: string) => Number(((await db.conn.query(`SELECT count(*) AS n FROM ${table}`))[0] as { n: number }[])[0]?.n ?? -1);

  void it('is refused, naming the privilege to grant, until the account holds TRIGGER on every purged table; then it goes ahead', async () => {
    const url = new URL(db.url);
    url.username = user;
    url.password = password;
    const path = join(h.fx.dir, 'least-privilege.mapping.yaml');
    writeFileSync(
      path,
      `version: 1
name: least-privilege
source: { mysql: "${url.toString()}" }
subjects: { table: accounts, id: user_uid, key: id, country: country_code }
tables:
  - table: accounts
    collection: users
    key: [user_uid]
    fields: { user_id: user_uid, username: handle, email: email }
  - table: messages
    collection: messages
    subject: { join: sender_account }
    fields: { recipient_id: recipient_uid, body: body, sent_at: sent_at }
`,
    );
    const ctx = await h.open(path);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);

    // No trigger exists, but this account could not have seen one: the purge cannot know.
    const both = new RegExp(`the account ${user}@% lacks the TRIGGER privilege \\(held itself, not through a role\\) on tables accounts, messages, .*grant it for the purge with GRANT TRIGGER ON \`${db.database}\`\\.\`accounts\` TO '${user}'@'%' and GRANT TRIGGER ON \`${db.database}\`\\.\`messages\` TO '${user}'@'%'\\. .*grant the privileges named`);
    assert.match((await planMigration(ctx)).purgeRefused ?? '', both, 'plan tells before anything is deleted');
    const refused = (pattern: RegExp) => (err: unknown) => err instanceof EnclaveError && err.code === 'purge_refused' && pattern.test(err.message) && /Nothing was deleted/.test(err.message);
    await assert.rejects(purgeMigration(ctx), refused(both));
    assert.deepEqual([await count('accounts'), await count('messages')], [USERS, USERS], 'nothing was deleted');
    assert.deepEqual(await h.state.certificates(ctx.name), []);

    // TRIGGER on one table: the other is still refused.
    await db.conn.query(`GRANT TRIGGER ON \`${db.database}\`.accounts TO ${account}`);
    const messagesOnly = (await planMigration(ctx)).purgeRefused ?? '';
    assert.match(messagesOnly, /lacks the TRIGGER privilege \(held itself, not through a role\) on table messages, /);
    assert.doesNotMatch(messagesOnly, /accounts/);
    await assert.rejects(purgeMigration(ctx), refused(/lacks the TRIGGER privilege \(held itself, not through a role\) on table messages, /));
    assert.deepEqual([await count('accounts'), await count('messages')], [USERS, USERS]);

    // TRIGGER on the whole database: the check sees every trigger, finds none, and the purge goes ahead.
    await db.conn.query(`GRANT TRIGGER ON \`${db.database}\`.* TO ${account}`);
    assert.equal((await planMigration(ctx)).purgeRefused, null);
    const report = await purgeMigration(ctx);
    const moved = report.tables.find((t) => t.table === 'accounts')?.purged ?? 0;
    assert.ok(moved > 0 && moved < USERS, 'the US and German subjects were purged, the others stay');
    assert.equal(await count('accounts'), USERS - moved);
  });
});

void describe('a MySQL/MariaDB purge through an account with privileges on single tables only', { skip: await mysqlSkip() }, () => {
  let h: MigrationHarness;
  let db: MysqlDatabase;
  const user = `enclave_lt_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const account = `'${user}'@'%'`;

  before(async () => {
    h = await migrationHarness(2, 1);
    db = await freshMysqlDatabase('enclave_privfk');
    await db.conn.query('CREATE TABLE accounts (id BIGINT PRIMARY KEY, user_uid VARCHAR(16) NOT NULL UNIQUE, handle VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, country_code CHAR(2)) ENGINE=InnoDB');
    // A table the account is not shown, whose rows a delete of their account cascades to.
    await db.conn.query('CREATE TABLE notes (id INT PRIMARY KEY, account_id BIGINT NOT NULL, text VARCHAR(64) NOT NULL, FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE) ENGINE=InnoDB');
    for (let i = 1; i <= USERS; i++) {
      await db.conn.query('INSERT INTO accounts VALUES (?, ?, ?, ?, ?)', [i, `lt${i}`, `handle${i}`, `user${i}@example.com`, COUNTRIES[i % COUNTRIES.length]]);
      await db.conn.query('INSERT INTO notes VALUES (?, ?, ?)', [i, i, `note of ${i}`]);
    }
    await db.conn.query(`CREATE USER ${account} IDENTIFIED BY '${password}'`);
    await db.conn.query(`GRANT SELECT, INSERT, DELETE, TRIGGER ON \`${db.database}\`.accounts TO ${account}`);
  });
  after(async () => {
    await db.conn.query(`DROP USER IF EXISTS ${account}`);
    await h.close();
    await db.drop();
  });

  const count = async (table: string) => Number(((await db.conn.query(`SELECT count(*) AS n FROM ${table}`))[0] as { n: number }[])[0]?.n ?? -1);

  void it('is refused, naming GRANT SELECT ON the database, since a foreign key from a table it cannot see would cascade unseen; with it, the cascade is seen and refused', async () => {
    const url = new URL(db.url);
    url.username = user;
    url.password = password;
    const path = join(h.fx.dir, 'single-tables.mapping.yaml');
    writeFileSync(
      path,
      `version: 1
name: single-tables
source: { mysql: "${url.toString()}" }
subjects: { table: accounts, id: user_uid, key: id, country: country_code }
tables:
  - table: accounts
    collection: users
    key: [user_uid]
    fields: { user_id: user_uid, username: handle, email: email }
`,
    );
    const ctx = await h.open(path);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const hidden = new RegExp(`the account ${user}@% holds privileges on single tables only, .*grant it for the purge with GRANT SELECT ON \`${db.database}\`\\.\\* TO '${user}'@'%'`);
    assert.match((await planMigration(ctx)).purgeRefused ?? '', hidden);
    await assert.rejects(purgeMigration(ctx), (err: unknown) => err instanceof EnclaveError && err.code === 'purge_refused' && hidden.test(err.message));
    assert.deepEqual([await count('accounts'), await count('notes')], [USERS, USERS], 'nothing was deleted, nothing cascaded');

    // Shown the whole database, the check finds the cascade into the unmapped table and refuses that.
    await db.conn.query(`GRANT SELECT ON \`${db.database}\`.* TO ${account}`);
    // A database-wide grant reaches a session at its next USE (MySQL's manual, "When Privilege Changes Take Effect"): a new one.
    ctx.close();
    const again = await h.open(path);
    const cascade = (await planMigration(again)).purgeRefused ?? '';
    assert.doesNotMatch(cascade, /single tables only/);
    assert.match(cascade, /would change rows of tables the purge does not verify: table notes, constraint notes_ibfk_1 \(account_id → accounts, its ON DELETE rule not shown to the source's account, so taken as CASCADE\)/);
    await assert.rejects(purgeMigration(again), (err: unknown) => err instanceof EnclaveError && err.code === 'purge_refused');
    assert.deepEqual([await count('accounts'), await count('notes')], [USERS, USERS]);
  });
});

