// A migration claims a record id (its ledger row, written ahead) before it creates the record, but the claim lives
// in the migration's state, which the API does not read: the API can create a record under that id first,
// in the same instant, or while a run stopped between its claim and its vault write. The record the API
// created is never replaced nor deleted by the migration; the row is refused (record_exists), and its
// claim is given up (docs/migration.md, "Resumability and live sources").
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import type { LedgerEntry } from '../../src/core/migration-state.ts';
import { encodeKey } from '../../src/core/migration-row.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

void describe('migration: the API creates a record under an id the migration has claimed', () => {
  let h: MigrationHarness;
  let ctx: MigrationContext;
  let legacy: string;
  /** A user of the first legacy site who moves, registered by the first run. */
  let user: { index: number; id: string };

  before(async () => {
    h = await migrationHarness(30, 5);
    const [virginia] = h.builds;
    assert.ok(virginia);
    legacy = virginia.path;
    ctx = await h.open(virginia.mappingPath);
    const index = [...Array(h.population.size).keys()].find((i) => legacySiteOf(i) === 'virginia' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)));
    assert.ok(index !== undefined);
    user = { index, id: h.population.userId(index) };
    const first = await new MigrationRunner(ctx).run();
    assert.deepEqual(first.refused, []);
  });
  after(async () => h.close());

  const edit = (sql: (db: DatabaseSync) => void) => {
    const db = new DatabaseSync(legacy);
    try {
      sql(db);
    } finally {
      db.close();
    }
  };
  /** A new message of the user at the legacy source: the next run claims its id, then copies it. */
  const sourceMessage = (id: string) => edit((db) => db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?)').run(id, user.index + 1, 'someone', 'the legacy words', '2026-01-01T00:00:00Z'));
  /** The platform service creates that id through the API, with its own content. */
  const appCreates = (id: string) =>
    h.fx.enclave.vault.createRecord(h.fx.principals.service, 'messages', { id, data: { sender_id: user.id, recipient_id: 'someone', body: 'the app wrote this', sent_at: '2026-02-02T00:00:00Z' } });
  const read = (id: string) => h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', id);
  const ledgerRow = async (id: string) => (await h.state.ledger(ctx.name, 'messages', [encodeKey([id])])).get(encodeKey([id]));
  /** Runs `during` once, right after the migration's claim of `id` (its ledger row, written ahead) is stored. */
  const afterClaim = (id: string, during: () => Promise<void>) => {
    const state = h.state;
    const real = state.putLedger.bind(state);
    state.putLedger = async (migration: string, entries: readonly LedgerEntry[]) => {
      await real(migration, entries);
      // The claim is the row's ledger row, written ahead of the vault write.
      if (entries.some((e) => e.key === encodeKey([id]))) {
        state.putLedger = real;
        await during();
      }
    };
  };
  const refusedRow = (run: { refused: readonly { table: string; key: string; code: string }[] }, id: string) => run.refused.find((r) => r.table === 'messages' && r.key === JSON.stringify(id));

  void it('in the same instant as the claim: the API record is kept as written, the row is refused, and no later run or sweep touches it', async () => {
    const id = `${user.id}-race`;
    sourceMessage(id);
    let created = false;
    afterClaim(id, async () => {
      await appCreates(id);
      created = true;
    });
    const run = await new MigrationRunner(ctx).run();
    assert.ok(created, 'the API created the record between the claim and the vault write');
    assert.equal(refusedRow(run, id)?.code, 'record_exists', JSON.stringify(run.refused));
    const kept = await read(id);
    assert.deepEqual([kept.version, kept.data['body']], [1, 'the app wrote this'], 'the API\'s record is not overwritten');
    assert.equal(await ledgerRow(id), undefined, 'the claim is given up: the id is not the migration\'s');

    const again = await new MigrationRunner(ctx).run();
    assert.equal(refusedRow(again, id)?.code, 'record_exists');
    assert.equal((await read(id)).version, 1);
    const v = await verifyMigration(ctx);
    assert.equal(v.ok, false, 'the row is not in the vault as the source has it: no purge until it is');

    // The row goes at the source: the sweep removes only what the migration wrote.
    edit((db) => db.prepare('DELETE FROM messages WHERE id = ?').run(id));
    const swept = await new MigrationRunner(ctx).run();
    assert.equal(swept.swept, 0);
    assert.equal((await read(id)).data['body'], 'the app wrote this');
  });

  void it('after a run stopped between its claim and its vault write: the next run refuses the row and leaves the API\'s record', async () => {
    const id = `${user.id}-stopped`;
    sourceMessage(id);
    afterClaim(id, () => Promise.reject(new Error('killed')));
    // As a process that is gone by the next run (its batches are given back at once).
    await assert.rejects(new MigrationRunner(ctx, { worker: `${hostname()}:999999999:gone` }).run(), /killed/);
    assert.ok(await ledgerRow(id), 'the claim is on record');
    await assert.rejects(read(id), (err: unknown) => err instanceof EnclaveError && err.code === 'record_not_found', 'the vault write never happened');
    await appCreates(id);

    const run = await new MigrationRunner(ctx).run();
    assert.equal(refusedRow(run, id)?.code, 'record_exists', JSON.stringify(run.refused));
    const kept = await read(id);
    assert.deepEqual([kept.version, kept.data['body']], [1, 'the app wrote this']);
    assert.equal(await ledgerRow(id), undefined);
  });

  void it('after a run stopped between its claim and its vault write, with the row gone at the source: the sweep leaves the API\'s record', async () => {
    const id = `${user.id}-gone`;
    sourceMessage(id);
    afterClaim(id, () => Promise.reject(new Error('killed')));
    await assert.rejects(new MigrationRunner(ctx, { worker: `${hostname()}:999999999:gone` }).run(), /killed/);
    await appCreates(id);
    edit((db) => db.prepare('DELETE FROM messages WHERE id = ?').run(id));

    // The first run finishes the stopped pass (which saw the row when it claimed it); the next pass's sweep
    // finds the claim of a row gone at the source.
    const finished = await new MigrationRunner(ctx).run();
    const next = await new MigrationRunner(ctx).run();
    assert.equal(next.pass, finished.pass + 1);
    assert.equal(finished.swept + next.swept, 0, 'the claim\'s id holds the API\'s record, not one the migration wrote');
    assert.equal((await read(id)).data['body'], 'the app wrote this');
    assert.equal(await ledgerRow(id), undefined, 'the sweep drops the claim all the same');
  });
});
