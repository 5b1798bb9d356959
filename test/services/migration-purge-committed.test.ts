// A purge the source committed but whose scrub failed afterwards (purge_pending, no certificate) is
// recorded as committed: when the legacy application then changes a row that stays (the source is live),
// the next purge still scrubs and certifies it, instead of taking the changed source for a purge done in
// part (purge_partial, with run and purge refused for good). A purge not recorded as committed (the
// process died between the commit and the mark) is judged by the source as before. SQLite (a reader
// pinning the WAL fails the checkpoint) and PostgreSQL (a reader's lock fails VACUUM FULL under a
// lock_timeout): real failures of the engines' own scrubs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import pg from 'pg';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import { formatRfc3339 } from '../../src/core/rfc3339.ts';
import { publishedVerifierKey } from '../../src/services/migration/certificate-issuer.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { openSource } from '../../src/storage/sources/open-source.ts';
import { SqliteSource } from '../../src/storage/sources/sqlite-source.ts';
import { freshPgSchema, PG_URL, pgSkip } from '../helpers/legacy-servers.ts';
import { accountsMessagesMapping, editSqlite, fails, migrationHarness, vaultRecords, type MigrationHarness } from '../helpers/migration.ts';

/** SQLite sources that wait half a second for readers to let the WAL go, instead of the default half minute. */
const shortWait: typeof openSource = async (spec, base) => (spec.kind === 'sqlite' ? new SqliteSource(join(base, spec.path), spec.path, { scrubWaitMs: 500 }) : openSource(spec, base));

/** The id (1-based) of an account of the first legacy site (virginia) whose subject moves, or stays. */
function account(h: MigrationHarness, moves: boolean): number {
  const i = [...Array(h.population.size).keys()].find((x) => legacySiteOf(x) === 'virginia' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(x)) === moves);
  assert.ok(i !== undefined, `the population has a virginia subject who ${moves ? 'moves' : 'stays'}`);
  return i + 1;
}

/** The legacy application changes a row that stays, on a connection of its own; returns what it held. */
function changeStayingRow(h: MigrationHarness, legacy: string, phone = '+1 555 0142'): string {
  const staying = account(h, false);
  let was = '';
  editSqlite(legacy, (db) => {
    was = String(db.prepare('SELECT phone FROM accounts WHERE id = ?').get(staying)?.['phone']);
    assert.equal(db.prepare('UPDATE accounts SET phone = ? WHERE id = ?').run(phone, staying).changes, 1);
  });
  return was;
}

async function migratedAndVerified(h: MigrationHarness, open = shortWait): Promise<MigrationContext> {
  const ctx = await h.open(undefined, { openSource: open });
  await new MigrationRunner(ctx).run();
  assert.equal((await verifyMigration(ctx)).ok, true);
  return ctx;
}

void describe('a purge committed at the source whose scrub failed is finished even after the source changed', () => {
  void it('SQLite: a reader pins the WAL, the scrub fails (purge_pending); the application changes a staying row; the next purge scrubs and certifies', async () => {
    const h = await migrationHarness(40, 5);
    try {
      const legacy = h.builds[0]?.path ?? '';
      // The legacy application runs the file in WAL mode: its readers do not keep the purge's writer out.
      editSqlite(legacy, (db) => db.exec('PRAGMA journal_mode = WAL'));
      const ctx = await migratedAndVerified(h);
      const records = await vaultRecords(h);
      const moving = account(h, true);

      // A read transaction begun before the purge: its snapshot needs the old pages, so the checkpoint fails.
      const reader = new DatabaseSync(legacy);
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM accounts').get();
      await assert.rejects(purgeMigration(ctx), fails('purge_pending', /committed the purge .*scrub did not complete/s));
      reader.exec('COMMIT');
      reader.close();
      assert.deepEqual(await h.state.certificates(ctx.name), []);
      const pending = await h.state.pendingPurge(ctx.name);
      assert.equal(typeof pending?.committedAt, 'number', 'the purge is on record as committed at the source');
      editSqlite(legacy, (db) => assert.equal(db.prepare('SELECT count(*) AS n FROM accounts WHERE id = ?').get(moving)?.['n'], 0, 'the source did commit the purge'));

      // The legacy application goes on: a row that stays changes.
      changeStayingRow(h, legacy);
      await assert.rejects(new MigrationRunner(ctx).run(), fails('purge_pending', /run `enclave migrate purge` to finish it/));

      const again = await h.open(undefined, { openSource: shortWait });
      const report = await purgeMigration(again);
      assert.match(report.certificate.id, /^dc-/);
      assert.match(report.certificate.note, /wal_checkpoint\(TRUNCATE\)/);
      assert.equal((await h.state.certificates(ctx.name)).length, 1);
      assert.equal(await h.state.pendingPurge(ctx.name), undefined);
      const body = verifyCertificate(report.certificate.note, (await publishedVerifierKey(h.fx.enclave.control.meta)) ?? '').certificate;
      assert.equal(body.times.purge_committed_at, formatRfc3339(pending?.committedAt ?? 0), 'the certificate gives the commit time on record');
      for (const t of body.tables) assert.equal(t.kept_root_after, t.kept_root_before, 'what stayed, as checked when the source committed');
      editSqlite(legacy, (db) => assert.equal(db.prepare('SELECT phone FROM accounts WHERE id = ?').get(account(h, false))?.['phone'], '+1 555 0142', 'the application\'s change is left as it is'));
      assert.equal(await vaultRecords(h), records, 'no record was swept');
      assert.equal((await new MigrationRunner(again).run()).swept, 0);
    } finally {
      await h.close();
    }
  });

  void it('SQLite: a purge that died between its commit and the mark is judged by the source: refused once a staying row changed, marked committed once the source shows it, then finished', async () => {
    const h = await migrationHarness(40, 5);
    try {
      const legacy = h.builds[0]?.path ?? '';
      const ctx = await migratedAndVerified(h);
      // The process "dies" right after the source committed, before the mark.
      const mark = h.state.markPurgeCommitted.bind(h.state);
      h.state.markPurgeCommitted = () => Promise.reject(new Error('killed'));
      try {
        await assert.rejects(purgeMigration(ctx), fails('purge_pending', /committed the purge .*could not record it: killed/s));
      } finally {
        h.state.markPurgeCommitted = mark;
      }
      assert.equal((await h.state.pendingPurge(ctx.name))?.committedAt, undefined, 'not marked');

      // Changed since: the source holds neither the state before the purge nor the state after it, and
      // which one it committed is not known to the state: refused, without guessing.
      const was = changeStayingRow(h, legacy);
      const refused = (err: unknown) =>
        fails('purge_partial', /before it was recorded as committed.* in accounts the rows that stay are not exactly those the purge found.*Whether the source committed it is not known/s)(err) && !/from a copy|not purged/.test((err as Error).message);
      await assert.rejects(purgeMigration(await h.open(undefined, { openSource: shortWait })), refused);
      await assert.rejects(new MigrationRunner(ctx).run(), refused);

      // Back as the commit left it: the source holds exactly what stays, so the purge is known to have
      // committed, and marked so before its scrub, which a reader pinning the WAL fails once more.
      changeStayingRow(h, legacy, was);
      const reader = new DatabaseSync(legacy);
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM accounts').get();
      await assert.rejects(purgeMigration(await h.open(undefined, { openSource: shortWait })), fails('purge_pending', /scrub did not complete/));
      reader.exec('COMMIT');
      reader.close();
      const pending = await h.state.pendingPurge(ctx.name);
      assert.equal(pending?.committedAt, pending?.preparedAt, 'marked committed, at the time it was prepared (when it committed is not known)');

      // So a change of the live source since no longer holds it up: the next purge scrubs and certifies.
      changeStayingRow(h, legacy, '+1 555 0199');
      const report = await purgeMigration(await h.open(undefined, { openSource: shortWait }));
      assert.match(report.certificate.id, /^dc-/);
      assert.equal(await h.state.pendingPurge(ctx.name), undefined);
    } finally {
      await h.close();
    }
  });
});

void describe('PostgreSQL: a purge committed at the source whose VACUUM FULL failed is finished after a staying row changed', { skip: await pgSkip() }, () => {
  void it('a reader holds its lock past lock_timeout (purge_pending); the application changes a staying row; the next purge scrubs and certifies', async () => {
    const h = await migrationHarness(2, 1);
    const db = await freshPgSchema('enclave_pc');
    const reader = new pg.Client({ connectionString: PG_URL });
    await reader.connect();
    try {
      const countries = ['us', 'de', 'br', 'fr', 'in', 'us'];
      const moves = (i: number) => ['us', 'de', 'fr'].includes(countries[i % countries.length] ?? '');
      await db.client.query('CREATE TABLE accounts (id bigint PRIMARY KEY, user_uid text NOT NULL UNIQUE, handle text NOT NULL, email text NOT NULL, country_code char(2))');
      await db.client.query('CREATE TABLE messages (id integer PRIMARY KEY, sender_account bigint NOT NULL REFERENCES accounts (id), recipient_uid text NOT NULL, body text NOT NULL, sent_at timestamp NOT NULL)');
      for (let i = 1; i <= 24; i++) {
        await db.client.query('INSERT INTO accounts VALUES ($1, $2, $3, $4, $5)', [i, `p${String(i).padStart(3, '0')}`, `handle${i}`, `user${i}@example.com`, countries[i % countries.length]]);
        await db.client.query('INSERT INTO messages VALUES ($1, $2, $3, $4, $5)', [i * 10, i, 'p001', `message of ${i}`, '2024-03-01 12:00:00']);
      }
      // The source's sessions give up waiting for a lock after half a second (VACUUM FULL waits for every reader otherwise).
      const url = new URL(PG_URL);
      url.searchParams.set('options', '-c lock_timeout=500');
      const path = join(h.fx.dir, 'pg.mapping.yaml');
      writeFileSync(
        path,
        accountsMessagesMapping('pg-committed', `{ postgres: { url: "${url.toString()}", schema: ${db.schema} } }`, { hashIds: true }),
      );
      const ctx = await h.open(path);
      await new MigrationRunner(ctx).run();
      assert.equal((await verifyMigration(ctx)).ok, true);
      const records = await vaultRecords(h);

      // A reader in a transaction that read the table: its ACCESS SHARE lock lets the purge's EXCLUSIVE lock
      // and commit through, but not VACUUM FULL's ACCESS EXCLUSIVE.
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM "${db.schema}".accounts`);
      await assert.rejects(purgeMigration(ctx), fails('purge_pending', /committed the purge .*scrub did not complete: .*lock timeout/s));
      await reader.query('COMMIT');
      assert.equal(Number((await db.client.query<{ n: string }>('SELECT count(*) AS n FROM accounts')).rows[0]?.n), [...Array(24).keys()].filter((k) => !moves(k + 1)).length, 'the source committed the purge');
      assert.deepEqual(await h.state.certificates(ctx.name), []);
      assert.equal(typeof (await h.state.pendingPurge(ctx.name))?.committedAt, 'number');

      // The legacy application changes a row that stays, and adds one.
      const staying = [...Array(24).keys()].map((k) => k + 1).find((i) => !moves(i)) ?? 0;
      assert.equal((await db.client.query('UPDATE messages SET body = $1 WHERE sender_account = $2', ['edited later', staying])).rowCount, 1);
      await db.client.query('INSERT INTO accounts VALUES (100, $1, $2, $3, $4)', ['p100', 'handle100', 'user100@example.com', 'br']);
      await assert.rejects(new MigrationRunner(ctx).run(), fails('purge_pending'));

      const report = await purgeMigration(await h.open(path));
      assert.match(report.certificate.id, /^dc-/);
      assert.match(report.certificate.note, /VACUUM \(FULL, ANALYZE\)/);
      assert.equal(await h.state.pendingPurge(ctx.name), undefined);
      assert.equal((await h.state.certificates(ctx.name)).length, 1);
      assert.equal(await vaultRecords(h), records, 'no record was swept');
    } finally {
      await reader.end().catch(() => undefined);
      await db.drop();
      await h.close();
    }
  });
});
