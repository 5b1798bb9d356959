// Source values the adapters read into something else than the source holds. Verify compares converted
// records on both sides, so a lossy read is a copy that verifies against itself, and the purge then
// deletes the only exact value. Each case checks that the copy holds the source's value (or that the
// row is refused and never purged).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { planMigration } from '../../src/services/migration/migration-planner.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { freshPgSchema, PG_URL, pgSkip, type PgSchema } from '../helpers/legacy-servers.ts';
import { fails, handleJoinedSource, migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

void describe('PostgreSQL values of types node-postgres parses into something else', { skip: await pgSkip() }, () => {
  let h: MigrationHarness;
  let db: PgSchema;
  before(async () => {
    h = await migrationHarness(2, 1);
    db = await freshPgSchema('enclave_lossy');
    await db.client.query(`CREATE TABLE accounts (id text PRIMARY KEY, handle text NOT NULL, email text NOT NULL, country text);
      CREATE TABLE messages (id text PRIMARY KEY, sender text, recipient text NOT NULL, body interval NOT NULL, sent_at timestamptz NOT NULL);
      CREATE TABLE videos (id text PRIMARY KEY, owner text, title timestamptz[] NOT NULL, views integer NOT NULL, published_at timestamptz NOT NULL);
      CREATE TABLE notes (id text PRIMARY KEY, sender text, recipient text NOT NULL, body json[] NOT NULL, sent_at timestamptz NOT NULL);
      INSERT INTO accounts VALUES ('lv-u1', 'alice', 'alice@example.com', 'US');
      INSERT INTO messages VALUES ('lv-m1', 'lv-u1', 'r', interval '1 day', '2024-01-01 00:00:00+00'), ('lv-m2', 'lv-u1', 'r', interval '1.000001 seconds', '2024-01-01 00:00:00+00');
      INSERT INTO videos VALUES ('lv-v1', 'lv-u1', ARRAY['2024-01-01 10:00:00.123456+00'::timestamptz], 1, '2024-01-01 00:00:00+00');
      INSERT INTO notes VALUES ('lv-n1', 'lv-u1', 'r', ARRAY['{"n": 12345678901234567891}'::json], '2024-01-01 00:00:00+00');`);
  });
  after(async () => {
    await h.close();
    await db.drop();
  });

  void it('an interval, a timestamptz[] and a json[] are copied as PostgreSQL writes them, not as {} or rounded', async () => {
    const path = join(h.fx.dir, 'lossy-pg.mapping.yaml');
    writeFileSync(
      path,
      `version: 1
name: lossy-pg
source: { postgres: { url: "${PG_URL}", schema: ${db.schema} } }
subjects: { table: accounts, id: id, country: country }
tables:
  - table: accounts
    collection: users
    fields: { user_id: id, username: handle, email: email }
  - table: messages
    collection: messages
    subject: sender
    fields: { recipient_id: recipient, body: body, sent_at: sent_at }
  - table: videos
    collection: videos
    subject: owner
    fields: { title: title, views: views, published_at: published_at }
  - table: notes
    collection: messages
    subject: sender
    fields: { recipient_id: recipient, body: body, sent_at: sent_at }
`,
    );
    const ctx = await h.open(path);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const field = async (collection: string, id: string, name: string) => (await ctx.enclave.vault.getRecord(ctx.principal, collection, id)).data[name];
    // As the source's session writes them (IntervalStyle iso_8601, UTC): exact, and two intervals never one value.
    assert.equal(await field('messages', 'lv-m1', 'body'), 'P1D');
    assert.equal(await field('messages', 'lv-m2', 'body'), 'PT1.000001S');
    assert.equal(await field('videos', 'lv-v1', 'title'), '{"2024-01-01 10:00:00.123456+00"}');
    assert.equal(await field('messages', 'lv-n1', 'body'), '{"{\\"n\\": 12345678901234567891}"}');
  });
});

void describe('SQLite text that is not valid UTF-8', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(2, 1);
  });
  after(async () => h.close());

  void it('refuses its row (never copied as U+FFFD, verified against itself, and purged); a subject link of such bytes finds no subject', async () => {
    const { dbPath: path, mappingPath } = handleJoinedSource(
      h,
      'bad-utf8',
      `CREATE TABLE accounts (handle TEXT PRIMARY KEY, user_uid TEXT NOT NULL UNIQUE, email TEXT, country TEXT);
      CREATE TABLE messages (id INTEGER PRIMARY KEY, sender TEXT, body TEXT, recipient TEXT, sent_at TEXT);
      INSERT INTO accounts VALUES ('alice', 'bu-u1', 'alice@example.com', 'US'), ('a\uFFFDb', 'bu-u2', 'ab@example.com', 'US');
      INSERT INTO messages VALUES (1, 'alice', 'one', 'r', '2024-01-01 00:00:00'), (2, 'alice', CAST(x'6361666521ff' AS TEXT), 'r', '2024-01-01 00:00:00'),
        (3, CAST(x'61ff62' AS TEXT), 'three', 'r', '2024-01-01 00:00:00');`,
    );
    const ctx = await h.open(mappingPath);
    const plan = await planMigration(ctx);
    const messages = plan.tables.find((t) => t.table === 'messages');
    // Message 3's sender is the bytes 61 ff 62, which is no subject's key (a'\uFFFD'b is another text).
    assert.deepEqual(messages?.stays, { no_subject: 1 });
    const report = await new MigrationRunner(ctx).run();
    assert.deepEqual(report.refused.map((r) => [r.table, r.key, r.code]), [['messages', '2', 'invalid_field']]);
    const verified = await verifyMigration(ctx);
    assert.equal(verified.ok, false, 'a row that cannot be copied exactly blocks the purge');
    await assert.rejects(purgeMigration(ctx), fails('not_verified'));
    const left = new DatabaseSync(path, { readOnly: true });
    try {
      assert.deepEqual(left.prepare('SELECT id, hex(body) AS b FROM messages ORDER BY id').all().map((r) => [r['id'], r['b']]), [
        [1, '6F6E65'],
        [2, '6361666521FF'],
        [3, '7468726565'],
      ]);
    } finally {
      left.close();
    }
  });
});
