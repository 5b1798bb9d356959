// Sources that compare values by rules of their own: a join whose values equal the subjects' key only
// under the column's collation (SQLite NOCASE here; MySQL's default _ci collations, in
// migration-servers.test.ts) joins as the source's own join does, so no row of a purged subject stays.
// A link PostgreSQL cannot compare as it stands (uuid against text) is refused by the mapping check.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { planMigration } from '../../src/services/migration/migration-planner.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { freshPgSchema, PG_URL, pgSkip, type PgSchema } from '../helpers/legacy-servers.ts';
import { handleJoinedSource, migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

void describe('migration from a source whose join compares without regard to case', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(2, 1);
  });
  after(async () => h.close());

  void it('rows that name their subject in another case move and are purged with it; a reference to nobody stays', async () => {
    const { dbPath: path, mappingPath } = handleJoinedSource(
      h,
      'nocase',
      `CREATE TABLE accounts (handle TEXT PRIMARY KEY COLLATE NOCASE, user_uid TEXT NOT NULL UNIQUE, email TEXT, country TEXT);
      CREATE TABLE messages (id INTEGER PRIMARY KEY, sender TEXT, body TEXT, recipient TEXT, sent_at TEXT);
      INSERT INTO accounts VALUES ('alice', 'nc-u1', 'alice@example.com', 'US'), ('Bob', 'nc-u2', 'bob@example.com', 'US');
      INSERT INTO messages VALUES (1, 'alice', 'one', 'r', '2024-01-01 00:00:00'), (2, 'ALICE', 'two', 'r', '2024-01-01 00:00:00'),
        (3, 'bob', 'three', 'r', '2024-01-01 00:00:00'), (4, 'carol', 'four', 'r', '2024-01-01 00:00:00');`,
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

void describe('a PostgreSQL subject link of uuid against text', { skip: await pgSkip() }, () => {
  let h: MigrationHarness;
  let db: PgSchema;
  before(async () => {
    h = await migrationHarness(2, 1);
    db = await freshPgSchema('enclave_uuid');
    await db.client.query(`CREATE TABLE accounts (id uuid PRIMARY KEY, user_uid text NOT NULL UNIQUE, handle text NOT NULL, email text NOT NULL, country char(2));
      CREATE TABLE messages (id integer PRIMARY KEY, sender varchar(64), recipient text NOT NULL, body text NOT NULL, sent_at timestamp NOT NULL);
      CREATE TABLE devices (serial text PRIMARY KEY, owner_uuid uuid, model text NOT NULL, os text NOT NULL, ip text NOT NULL);
      CREATE TABLE notes (id integer PRIMARY KEY, sender uuid, recipient text NOT NULL, body text NOT NULL, sent_at timestamp NOT NULL);
      INSERT INTO accounts VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'alice', 'alice@example.com', 'US');
      INSERT INTO messages VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'r', 'one', '2024-01-01 00:00:00'), (2, 'not-a-uuid', 'r', 'two', '2024-01-01 00:00:00');
      INSERT INTO devices VALUES ('d1', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'phone', 'os', '192.0.2.1');
      INSERT INTO notes VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'r', 'one', '2024-01-01 00:00:00'), (2, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 'r', 'two', '2024-01-01 00:00:00');`);
  });
  after(async () => {
    await h.close();
    await db.drop();
  });

  const open = (name: string, table: string) => {
    const path = join(h.fx.dir, `${name}.mapping.yaml`);
    writeFileSync(
      path,
      `version: 1
name: ${name}
source: { postgres: { url: "${PG_URL}", schema: ${db.schema} } }
subjects: { table: accounts, id: user_uid, key: id, country: country }
tables:
  - table: accounts
    collection: users
    record_id: hash
    fields: { user_id: user_uid, username: handle, email: email }
${table}`,
    );
    return h.open(path);
  };
  const mismatch = (pattern: RegExp) => (err: unknown) => err instanceof EnclaveError && err.code === 'mapping_mismatch' && pattern.test(err.message);

  void it('a varchar column joined to a uuid key is refused at the mapping check, naming table and column (one malformed value would fail the whole plan)', async () => {
    const messages = `  - table: messages
    collection: messages
    record_id: hash
    subject: { join: sender }
    fields: { recipient_id: recipient, body: body, sent_at: sent_at }
`;
    await assert.rejects(open('uuid-join', messages), mismatch(/tables\[1\] \(messages\)\.subject: column "sender" of messages is character varying \(text\) but subjects\.key "id" of accounts is uuid/));
  });

  void it('a uuid column naming a subject id of text is refused alike', async () => {
    const devices = `  - table: devices
    collection: devices
    subject: owner_uuid
    fields: { model: model, os: os, ip_address: ip }
`;
    await assert.rejects(open('uuid-column', devices), mismatch(/tables\[1\] \(devices\)\.subject: column "owner_uuid" of devices is uuid but subjects\.id "user_uid" of accounts is text \(text\)/));
  });

  void it('a uuid column joined to a uuid key passes and joins', async () => {
    const notes = `  - table: notes
    collection: messages
    record_id: hash
    subject: { join: sender }
    fields: { recipient_id: recipient, body: body, sent_at: sent_at }
`;
    const plan = await planMigration(await open('uuid-uuid', notes));
    const moved = plan.tables.find((t) => t.table === 'notes');
    assert.equal(moved?.moves['us']?.rows, 1);
    assert.deepEqual(moved.stays, { no_subject: 1 });
  });
});
