// A migration page meets a subject another instance is registering at that moment, for the same country
// (so at the same home site): several `migrate run` workers (docs/migration.md, "Several processes at
// once": each calls Vault.importSubjects per page, and one subject's rows spread over many pages and
// tables), or the application registering a user the migration is copying. The page's import finds the
// id claimed by the other registration (services/subject-claims.ts); it waits for that claim to settle
// and then finds the subject, rather than refusing every row of that subject for the pass.
//
// Instance B's import is held at its subject.registered entry (claim taken, row not stored) until A's
// import starts waiting for it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { hold } from '../helpers/hold.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

const settle = <T>(p: Promise<T>): Promise<T | Error> => p.then((v) => v, (e: unknown) => e as Error);

void describe('a migration page meets a registration of the same subject through another instance', () => {
  let h: MigrationHarness;
  let ctx: MigrationContext;
  let b: Enclave;
  let user: { index: number; id: string; country: string };

  before(async () => {
    h = await migrationHarness(30, 5);
    ctx = await h.open(h.builds[0]?.mappingPath);
    b = await openEnclave(loadConfig(h.fx.configPath), { instance: 'b' });
    for (const share of h.fx.shares) await b.seal.submit(share);
    const index = [...Array(h.population.size).keys()].find((i) => legacySiteOf(i) === 'virginia' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)));
    assert.ok(index !== undefined);
    user = { index, id: h.population.userId(index), country: h.population.countryOf(index) };
  });
  after(async () => {
    await b.close();
    await h.close();
  });

  void it('the migration copies the subject\'s rows (both registrations are of one country: one home either way)', async () => {
    const held = hold(b.log, 'append', (event) => event.type === 'subject.registered' && event.subject === user.id, { once: true });
    let run: Awaited<ReturnType<MigrationRunner['run']>>;
    try {
      const other = settle(b.vault.importSubjects(h.fx.principals.service, [{ id: user.id, country: user.country }]));
      await held.reached;
      // B's registration goes on once A's page looks at the claim it found taken.
      const waiting = hold(h.fx.enclave.control.subjectClaims, 'getMany', () => true, { once: true });
      void waiting.reached.then(() => {
        held.release();
        waiting.release();
      });
      try {
        run = await new MigrationRunner(ctx).run();
      } finally {
        waiting.release();
        waiting.restore();
      }
      held.release();
      const o = await other;
      assert.ok(!(o instanceof Error), o instanceof Error ? o.message : '');
    } finally {
      held.release();
      held.restore();
    }
    const spurious = run.refused.filter((r) => r.code === 'subject_exists');
    assert.deepEqual(spurious, [], `rows of ${user.id} refused because another instance was registering the same subject, for the same country; the pass ended ${run.complete ? 'complete' : 'incomplete'}`);
  });
});
