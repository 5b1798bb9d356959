// Sources that compare values by rules of their own: a join whose values equal the subjects' key only
// under the column's collation (SQLite NOCASE here; MySQL's default _ci collations, in
// migration-servers.test.ts) joins as the source's own join does, so no row of a purged subject stays.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { planMigration } from '../../src/services/migration/migration-planner.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

void describe('migration from a source whose join compares without regard to case', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(2, 1);
  });
  after(async () => h.close());

  void it('rows that name their subject in another case move and are purged with it; a reference to nobody stays', async () => {
    const path = join(h.fx.dir, 'nocase.db');
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE accounts (handle TEXT PRIMARY KEY COLLATE NOCASE, user_uid TEXT NOT NULL UNIQUE, email TEXT, country TEXT);
      CREATE TABLE messages (id INTEGER PRIMARY KEY, sender TEXT, body TEXT, recipient TEXT, sent_at TEXT);
      INSERT INTO accounts VALUES ('alice', 'nc-u1', 'alice@example.com', 'US'), ('Bob', 'nc-u2', 'bob@example.com', 'US');
      INSERT INTO messages VALUES (1, 'alice', 'one', 'r', '2024-01-01 00:00:00'), (2, 'ALICE', 'two', 'r', '2024-01-01 00:00:00'),
        (3, 'bob', 'three', 'r', '2024-01-01 00:00:00'), (4, 'carol', 'four', 'r', '2024-01-01 00:00:00');`);
    db.close();
    const mappingPath = join(h.fx.dir, 'nocase.mapping.yaml');
    writeFileSync(
      mappingPath,
      `version: 1
name: nocase
source: { sqlite: ${JSON.stringify(path)} }
subjects: { table: accounts, id: user_uid, key: handle, country: country }
tables:
  - table: accounts
    collection: users
    record_id: hash
    fields: { user_id: user_uid, username: handle, email: email }
  - table: messages
    collection: messages
    record_id: hash
    subject: { join: sender }
    fields: { body: body, recipient_id: recipient, sent_at: sent_at }
`,
    );
    const ctx = await h.open(mappingPath);
    const plan = await planMigration(ctx);
    const messages = plan.tables.find((t) => t.table === 'messages');
    assert.equal(messages?.moves['us']?.rows, 3, 'alice, ALICE and bob join as SQLite joins them');
    assert.deepEqual(messages.stays, { no_subject: 1 });
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    await purgeMigration(ctx);
    const left = new DatabaseSync(path, { readOnly: true });
    try {
      assert.deepEqual(left.prepare('SELECT id FROM messages').all().map((r) => r['id']), [4]);
      assert.equal((left.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n, 0);
    } finally {
      left.close();
    }
  });
});
