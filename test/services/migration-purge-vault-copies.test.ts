// A purge deletes a source row only while the vault still holds its copy. Between `verify` and `purge` a
// record may be deleted through the API (or lost by its store): the source's row is then the only copy
// of its data, and the purge is refused, nothing deleted, until the copy is back (verify marks it, run
// copies it again) or the row is deleted at the source too. A subject erased meanwhile is purged, a
// record of theirs deleted before the erasure included: the erasure wants their rows gone from the
// source as well. A record changed through the API keeps the
// data in the vault, newer: the purge goes ahead.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { describeCertificate, describePurge, describeVerificationHead } from '../../src/cli/migrate/describe.ts';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import { publishVerifierKey } from '../../src/services/migration/certificate-issuer.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { dumpSqlite, editSqlite, fails, migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

/** A harness of the describe's own (each case purges or erases: builds are not shared), made before its cases. */
function harnessFor(seed: number): () => MigrationHarness {
  let h: MigrationHarness | undefined;
  before(async () => {
    h = await migrationHarness(60, seed);
  });
  after(async () => h?.close());
  return () => h ?? assert.fail('the harness is made before the cases');
}

/** Build `b` of the harness, migrated once: its legacy file, its site, and the migration's context. */
async function migrated(h: MigrationHarness, b = 0): Promise<{ legacy: string; site: string; ctx: MigrationContext }> {
  const build = h.builds[b] ?? assert.fail(`the harness has a build ${b}`);
  const ctx = await h.open(build.mappingPath);
  await new MigrationRunner(ctx).run();
  return { legacy: build.path, site: build.site, ctx };
}

/** Users (by index) of a legacy site who move and have a message; at least `n` of them. */
function movingWithMessages(h: MigrationHarness, site: string, n: number): number[] {
  const found = [...Array(h.population.size).keys()].filter(
    (i) => legacySiteOf(i) === site && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)) && h.population.user(i).records.some((r) => r.collection === 'messages'),
  );
  assert.ok(found.length >= n, `the population has ${n} moving users with messages at ${site}`);
  return found;
}

function messageOf(h: MigrationHarness, i: number): string {
  const m = h.population.user(i).records.find((r) => r.collection === 'messages');
  assert.ok(m);
  return m.id;
}

function rowsOf(path: string, sql: string, ...params: (string | number)[]): number {
  let n = -1;
  editSqlite(path, (db) => {
    n = Number(db.prepare(sql).get(...params)?.['n']);
  });
  return n;
}

void describe('migration: a purge checks that the vault still holds the copies', () => {
  const harness = harnessFor(11);

  void it('a record deleted through the API after verify: the purge is refused and deletes nothing; once copied again it purges', async () => {
    const h = harness();
    const { legacy, ctx } = await migrated(h);
    assert.equal((await verifyMigration(ctx)).ok, true);
    const [i = 0] = movingWithMessages(h, 'virginia', 1);
    const message = messageOf(h, i);
    await h.fx.enclave.vault.deleteRecord(h.fx.principals.service, 'messages', message);

    const before = dumpSqlite(legacy);
    await assert.rejects(
      purgeMigration(ctx),
      fails('purge_refused', new RegExp(`table messages: 1 row\\(s\\) whose copy verification v-\\w+ found is no longer in the vault \\(key \\["${message}"\\]: record messages/${message} is no longer in the vault .*the source holds the only copy.*Nothing was deleted`, 's')),
    );
    assert.deepEqual(dumpSqlite(legacy), before, 'nothing was deleted at the source');
    assert.deepEqual(await h.state.certificates(ctx.name), []);
    assert.equal(await h.state.pendingPurge(ctx.name), undefined);

    // As the refusal says: verify lists it, the next run copies it again, and the purge goes ahead.
    const v = await verifyMigration(ctx);
    assert.deepEqual((await h.state.mismatches(v.id, 10, 0)).map((m) => [m.table, m.key, m.kind]), [['messages', JSON.stringify([message]), 'missing']]);
    assert.equal((await new MigrationRunner(ctx).run()).counters.recopied, 1);
    assert.equal((await verifyMigration(ctx)).ok, true);
    const report = await purgeMigration(ctx);
    assert.match(report.certificate.id, /^dc-/);
    assert.equal(rowsOf(legacy, 'SELECT count(*) AS n FROM messages WHERE id = ?', message), 0);
  });

  void it('a subject erased and a record changed through the API after verify: the purge deletes their rows at the source', async () => {
    const h = harness();
    const { legacy, site, ctx } = await migrated(h, 1);
    assert.equal((await verifyMigration(ctx)).ok, true);
    const [erased = 0, edited = 0] = movingWithMessages(h, site, 2);
    // One of their records deleted through the API first: once they are erased, its row goes too.
    await h.fx.enclave.vault.deleteRecord(h.fx.principals.service, 'messages', messageOf(h, erased));
    await h.fx.enclave.vault.eraseSubject(h.fx.principals.officer, h.population.userId(erased));
    const message = messageOf(h, edited);
    const record = await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', message);
    await h.fx.enclave.vault.replaceRecord(h.fx.principals.service, 'messages', message, { data: { ...record.data, body: 'edited in the vault' } });

    const report = await purgeMigration(ctx);
    assert.match(report.certificate.id, /^dc-/);
    assert.equal(rowsOf(legacy, 'SELECT count(*) AS n FROM accounts WHERE user_uid = ?', h.population.userId(erased)), 0, 'the erased subject\'s rows are gone from the source too');
    assert.equal(rowsOf(legacy, 'SELECT count(*) AS n FROM messages WHERE id = ?', messageOf(h, erased)), 0);
    assert.equal(rowsOf(legacy, 'SELECT count(*) AS n FROM messages WHERE id = ?', message), 0);
    assert.equal((await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', message)).data['body'], 'edited in the vault');
  });
});

void describe('migration: a subject erased before verify', () => {
  const harness = harnessFor(12);

  void it('is no mismatch: verify counts their rows as erased, a run refuses a row of theirs changed since, and the purge deletes them at the source with the rest', async () => {
    const h = harness();
    const { legacy, site, ctx } = await migrated(h);
    const [erased = 0] = movingWithMessages(h, site, 1);
    const subject = h.population.userId(erased);
    const theirs = h.population.user(erased).records;
    await h.fx.enclave.vault.eraseSubject(h.fx.principals.officer, subject);
    // Their source rows change after the erasure, and a new one appears, never copied: still theirs, still to go.
    editSqlite(legacy, (db) => {
      db.prepare('UPDATE messages SET body = ? WHERE id = ?').run('changed after the erasure', messageOf(h, erased));
      db.prepare("INSERT INTO messages SELECT 'after-erasure', sender_account, recipient_uid, body, sent_at FROM messages WHERE id = ?").run(messageOf(h, erased));
    });

    const v = await verifyMigration(ctx);
    assert.equal(v.ok, true, `mismatches: ${JSON.stringify(await h.state.mismatches(v.id, 10, 0))}`);
    assert.deepEqual(await h.state.mismatches(v.id, 10, 0), []);
    const byTable = Object.fromEntries(v.tables.map((t) => [t.table, t]));
    assert.equal(byTable['accounts']?.erased, 1);
    assert.equal(byTable['messages']?.erased, theirs.filter((r) => r.collection === 'messages').length + 1);
    for (const t of v.tables) assert.equal(t.records, t.rows - t.erased, `${t.table}: a record for each row not erased`);
    // A second pass copies nothing: the changed and the new row are refused as their subject's (erased), and the verification stands.
    const again = await new MigrationRunner(ctx).run();
    assert.deepEqual([again.counters.copied, again.counters.recopied, again.counters.refused], [0, 0, 2]);
    assert.deepEqual(again.refused.map((r) => [r.table, r.key, r.code]).sort(), [
      ['messages', JSON.stringify('after-erasure'), 'subject_erased'],
      ['messages', JSON.stringify(messageOf(h, erased)), 'subject_erased'],
    ]);
    const v2 = await verifyMigration(ctx);
    assert.equal(v2.ok, true);

    const report = await purgeMigration(ctx);
    assert.match(report.certificate.id, /^dc-/);
    assert.equal(rowsOf(legacy, 'SELECT count(*) AS n FROM accounts WHERE user_uid = ?', subject), 0, 'the erased subject\'s rows are gone from the source too');
    assert.equal(rowsOf(legacy, 'SELECT count(*) AS n FROM messages WHERE id = ?', messageOf(h, erased)), 0);
    assert.equal(rowsOf(legacy, "SELECT count(*) AS n FROM messages WHERE id = 'after-erasure'"), 0);
    const purged = Object.fromEntries(report.tables.map((t) => [t.table, t]));
    assert.equal(purged['messages']?.erased, byTable['messages']?.erased);
    // The certificate says how many purged rows had no copy left, by the erasure.
    const signed = JSON.parse(report.certificate.note.slice(0, report.certificate.note.indexOf('\n'))) as { tables: { table: string; purged_rows: number; erased_rows?: number }[] };
    assert.equal(signed.tables.find((t) => t.table === 'messages')?.erased_rows, byTable['messages']?.erased);
    // And the CLI says so, in verify's, purge's and the certificate's tables.
    const vkey = await publishVerifierKey(h.fx.enclave);
    const check = verifyCertificate(report.certificate.note, vkey);
    const erasedColumn = / {2}messages +\d+ +(\d+) /;
    for (const text of [describeVerificationHead(v2), describePurge(report, check), describeCertificate(check, vkey, report.certificate.logIndex)]) {
      assert.match(text, /OF ERASED SUBJECTS/, text);
      assert.equal(Number(erasedColumn.exec(text)?.[1]), byTable['messages']?.erased, text);
      assert.match(text, /Rows of erased subjects have no record to compare: the erasure destroyed their copies in the vault\. They are deleted at the source with the rest\./);
    }
  });
});

void describe('migration: a subject erased, then their rows deleted at the source', () => {
  const harness = harnessFor(14);

  void it('is no mismatch: their records, written by the migration, are left as the erasure left them', async () => {
    const h = harness();
    const { legacy, site, ctx } = await migrated(h);
    const [erased = 0] = movingWithMessages(h, site, 1);
    await h.fx.enclave.vault.eraseSubject(h.fx.principals.officer, h.population.userId(erased));
    editSqlite(legacy, (db) => db.prepare('DELETE FROM messages WHERE id = ?').run(messageOf(h, erased)));
    const v = await verifyMigration(ctx);
    assert.deepEqual(await h.state.mismatches(v.id, 10, 0), []);
    assert.equal(v.ok, true);
  });
});

void describe('migration: a record erased under another subject', () => {
  const harness = harnessFor(13);

  void it('is a mismatch: a row\'s copy replaced by another subject\'s record, that subject then erased, is listed missing, not counted as erased', async () => {
    const h = harness();
    const { site, ctx } = await migrated(h);
    const [i = 0] = movingWithMessages(h, site, 1);
    const message = messageOf(h, i);
    const record = await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', message);
    // The row's copy deleted, its id taken by a record of a throwaway subject, who is then erased.
    await h.fx.enclave.vault.deleteRecord(h.fx.principals.service, 'messages', message);
    await h.fx.enclave.vault.registerSubject(h.fx.principals.service, { id: 'throwaway', country: 'US' });
    await h.fx.enclave.vault.createRecord(h.fx.principals.service, 'messages', { id: message, data: { ...record.data, sender_id: 'throwaway' } });
    await h.fx.enclave.vault.eraseSubject(h.fx.principals.officer, 'throwaway');

    const v = await verifyMigration(ctx);
    assert.equal(v.ok, false);
    assert.deepEqual((await h.state.mismatches(v.id, 10, 0)).map((m) => [m.table, m.key, m.kind, m.detail]), [['messages', JSON.stringify([message]), 'missing', 'subject_erased']]);
    assert.ok(v.tables.every((t) => t.erased === 0), 'the row\'s own subject is not erased');
  });
});

void describe('migration: a subject erased while verify reads their page', () => {
  const harness = harnessFor(15);

  void it('is counted as erased, not missing: the registration is looked up again for a read that found the subject erased', async () => {
    const h = harness();
    const { site, ctx } = await migrated(h);
    const [i = 0] = movingWithMessages(h, site, 1);
    const subject = h.population.userId(i);
    // The erasure lands right after verify looked up the page's registrations, before it reads the records.
    const router = ctx.enclave.router;
    const findSubjects = router.findSubjects.bind(router);
    let erasedMidway = false;
    router.findSubjects = async (ids) => {
      const found = await findSubjects(ids);
      if (!erasedMidway && ids.includes(subject)) {
        erasedMidway = true;
        await h.fx.enclave.vault.eraseSubject(h.fx.principals.officer, subject);
      }
      return found;
    };
    try {
      const v = await verifyMigration(ctx);
      assert.ok(erasedMidway);
      assert.deepEqual(await h.state.mismatches(v.id, 10, 0), []);
      assert.equal(v.ok, true);
      assert.ok(v.tables.some((t) => t.erased > 0));
    } finally {
      router.findSubjects = findSubjects;
    }
  });
});
