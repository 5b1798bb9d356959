// A deletion certificate is in the transparency log however its issuing was interrupted: a log that
// fails at the certificate's own entry (after the certificate was stored) leaves the purge pending, and
// the next purge appends the missing entry instead of refusing with the certificate unlogged for good; and
// one that could not be stored is issued by the next purge. Either way the purge's own entry
// (migration.purged), appended before, is not appended again: one purge, one entry in the audit log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LogEventInput, LogReceipt } from '../../src/core/event-log.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

void describe('migration: a certificate whose log entry failed', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(20, 31);
  });
  after(async () => h.close());

  void it('is logged by the next purge, which then reports it, instead of staying unlogged', async () => {
    const ctx = await h.open(h.builds[0]?.mappingPath);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const append = h.log.append.bind(h.log);
    h.log.append = (e: LogEventInput): Promise<LogReceipt> => (e.type === 'certificate.issued' ? Promise.reject(new Error('disk I/O error')) : append(e));
    try {
      await assert.rejects(purgeMigration(ctx), /disk I\/O error/);
    } finally {
      h.log.append = append;
    }
    const [stored] = await h.state.certificates(ctx.name);
    assert.ok(stored, 'the certificate was stored before its log entry failed');
    assert.equal(stored.logIndex, null);
    assert.ok(await h.state.pendingPurge(ctx.name), 'the purge stays pending until its certificate is logged');

    const report = await purgeMigration(ctx);
    assert.equal(report.certificate.id, stored.id, 'the stored certificate, not a second one');
    assert.notEqual(report.certificate.logIndex, null);
    const logged = h.log.events.filter((e) => e.type === 'certificate.issued');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.details['certificate'], stored.id);
    assert.equal((await h.state.certificate(stored.id))?.logIndex, report.certificate.logIndex);
    assert.equal(await h.state.pendingPurge(ctx.name), undefined);
    assert.equal((await h.state.certificates(ctx.name)).length, 1);
    const purged = purgedEntries(h, ctx.name);
    assert.equal(purged.length, 1, 'one purge, one migration.purged entry');
    assert.equal(report.logIndex, h.log.events.indexOf(purged[0] as LogEventInput), 'the report gives the entry appended the first time');
  });

  void it('a certificate that could not be stored: the next purge issues it, and the purge is in the log once', async () => {
    const ctx = await h.open(h.builds[1]?.mappingPath);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const save = h.state.saveCertificate.bind(h.state);
    h.state.saveCertificate = () => Promise.reject(new Error('database is locked'));
    try {
      await assert.rejects(purgeMigration(ctx), /database is locked/);
    } finally {
      h.state.saveCertificate = save;
    }
    assert.deepEqual(await h.state.certificates(ctx.name), []);
    assert.equal(purgedEntries(h, ctx.name).length, 1, 'the first attempt logged the purge before the certificate failed');

    const report = await purgeMigration(ctx);
    assert.match(report.certificate.id, /^dc-/);
    assert.equal(purgedEntries(h, ctx.name).length, 1, 'one purge, one migration.purged entry');
    assert.equal(h.log.events.filter((e) => e.type === 'certificate.issued' && e.details['migration'] === ctx.name).length, 1);
    assert.equal(await h.state.pendingPurge(ctx.name), undefined);
  });
});

function purgedEntries(h: MigrationHarness, migration: string): LogEventInput[] {
  return h.log.events.filter((e) => e.type === 'migration.purged' && e.details['migration'] === migration);
}
