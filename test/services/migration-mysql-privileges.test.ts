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
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

const USERS = 12;
const COUNTRIES = ['US', 'BR', 'DE', 'IN'];

const ACCOUNTS_TABLE = 'CREATE TABLE accounts (id BIGINT PRIMARY KEY, user_uid VARCHAR(16) NOT NULL UNIQUE, handle VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, country_code CHAR(2)) ENGINE=InnoDB';
const ACCOUNTS_MAPPING = `subjects: { table: accounts, id: user_uid, key: id, country: country_code }
tables:
  - table: accounts
    collection: users
    key: [user_uid]
    fields: { user_id: user_uid, username: handle, email: email }
`;

interface Rig {
  readonly h: MigrationHarness;
  readonly db: MysqlDatabase;
  readonly user: string;
  readonly account: string;
  readonly count: (table: string) => Promise<number>;
  /** The file of the mapping called `name`. */
  readonly mappingPath: (name: string) => string;
  /** A mapping of `accounts` (and `more` tables) read through the limited account; copied and verified. */
  readonly migrated: (name: string, more?: string) => Promise<MigrationContext>;
}

/**
 * Registers the describe's hooks: a migration harness, a fresh database with `accounts` (uids prefix1…)
 * and what `setup` adds, and an account created with `grant` (a privilege list and where) and dropped.
 */
function limitedAccount(prefix: string, setup: (db: MysqlDatabase, uid: (i: number) => string) => Promise<void>, grant: (database: string) => string): Rig {
  const user = `enclave_${prefix}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const account = `'${user}'@'%'`;
  const rig = { user, account } as { -readonly [K in keyof Rig]: Rig[K] };
  before(async () => {
    rig.h = await migrationHarness(2, 1);
    rig.db = await freshMysqlDatabase(`enclave_${prefix}`);
    const uid = (i: number) => `${prefix}${i}`;
    await rig.db.conn.query(ACCOUNTS_TABLE);
    for (let i = 1; i <= USERS; i++) await rig.db.conn.query('INSERT INTO accounts VALUES (?, ?, ?, ?, ?)', [i, uid(i), `handle${i}`, `user${i}@example.com`, COUNTRIES[i % COUNTRIES.length]]);
    await setup(rig.db, uid);
    await rig.db.conn.query(`CREATE USER ${account} IDENTIFIED BY '${password}'`);
    await rig.db.conn.query(`GRANT ${grant(rig.db.database)} TO ${account}`);
  });
  after(async () => {
    await rig.db.conn.query(`DROP USER IF EXISTS ${account}`);
    await rig.h.close();
    await rig.db.drop();
  });
  rig.count = async (table) => Number(((await rig.db.conn.query(`SELECT count(*) AS n FROM ${table}`))[0] as { n: number }[])[0]?.n ?? -1);
  rig.mappingPath = (name) => join(rig.h.fx.dir, `${name}.mapping.yaml`);
  rig.migrated = async (name, more = '') => {
    const url = new URL(rig.db.url);
    url.username = user;
    url.password = password;
    const path = rig.mappingPath(name);
    writeFileSync(path, `version: 1\nname: ${name}\nsource: { mysql: "${url.toString()}" }\n${ACCOUNTS_MAPPING}${more}`);
    const ctx = await rig.h.open(path);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    return ctx;
  };
  return rig;
}

void describe('a MySQL/MariaDB purge through an account without the TRIGGER privilege', { skip: await mysqlSkip() }, () => {
  // What the purge needs and no more: read, delete, and INSERT for OPTIMIZE TABLE's rebuild.
  const r = limitedAccount(
    'priv',
    async (db, uid) => {
      await db.conn.query('CREATE TABLE messages (id INT PRIMARY KEY, sender_account BIGINT NOT NULL, recipient_uid VARCHAR(16) NOT NULL, body TEXT NOT NULL, sent_at DATETIME NOT NULL) ENGINE=InnoDB');
      for (let i = 1; i <= USERS; i++) await db.conn.query('INSERT INTO messages VALUES (?, ?, ?, ?, ?)', [i, i, uid(1), `message of ${i}`, '2024-03-01 12:00:00']);
    },
    (database) => `SELECT, INSERT, DELETE ON \`${database}\`.*`,
  );

  void it('is refused, naming the privilege to grant, until the account holds TRIGGER on every purged table; then it goes ahead', async () => {
    const { h, db, user, account, count } = r;
    const ctx = await r.migrated(
      'least-privilege',
      `  - table: messages
    collection: messages
    subject: { join: sender_account }
    fields: { recipient_id: recipient_uid, body: body, sent_at: sent_at }
`,
    );

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
  const r = limitedAccount(
    'privfk',
    async (db) => {
      // A table the account is not shown, whose rows a delete of their account cascades to.
      await db.conn.query('CREATE TABLE notes (id INT PRIMARY KEY, account_id BIGINT NOT NULL, text VARCHAR(64) NOT NULL, FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE) ENGINE=InnoDB');
      for (let i = 1; i <= USERS; i++) await db.conn.query('INSERT INTO notes VALUES (?, ?, ?)', [i, i, `note of ${i}`]);
    },
    (database) => `SELECT, INSERT, DELETE, TRIGGER ON \`${database}\`.accounts`,
  );

  void it('is refused, naming GRANT SELECT ON the database, since a foreign key from a table it cannot see would cascade unseen; with it, the cascade is seen and refused', async () => {
    const { h, db, user, account, count } = r;
    const ctx = await r.migrated('single-tables');
    const hidden = new RegExp(`the account ${user}@% holds privileges on single tables only, .*grant it for the purge with GRANT SELECT ON \`${db.database}\`\\.\\* TO '${user}'@'%'`);
    assert.match((await planMigration(ctx)).purgeRefused ?? '', hidden);
    await assert.rejects(purgeMigration(ctx), (err: unknown) => err instanceof EnclaveError && err.code === 'purge_refused' && hidden.test(err.message));
    assert.deepEqual([await count('accounts'), await count('notes')], [USERS, USERS], 'nothing was deleted, nothing cascaded');

    // Shown the whole database, the check finds the cascade into the unmapped table and refuses that.
    await db.conn.query(`GRANT SELECT ON \`${db.database}\`.* TO ${account}`);
    // A database-wide grant reaches a session at its next USE (MySQL's manual, "When Privilege Changes Take Effect"): a new one.
    ctx.close();
    const again = await h.open(r.mappingPath('single-tables'));
    const cascade = (await planMigration(again)).purgeRefused ?? '';
    assert.doesNotMatch(cascade, /single tables only/);
    assert.match(cascade, /would change rows of tables the purge does not verify: table notes, constraint notes_ibfk_1 \(account_id → accounts, its ON DELETE rule not shown to the source's account, so taken as CASCADE\)/);
    await assert.rejects(purgeMigration(again), (err: unknown) => err instanceof EnclaveError && err.code === 'purge_refused');
    assert.deepEqual([await count('accounts'), await count('notes')], [USERS, USERS]);
  });
});

