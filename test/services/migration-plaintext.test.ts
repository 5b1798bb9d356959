// Invariant 3 and the purge's promise, by raw bytes: after a purge no protected value of a migrated
// subject remains in any file of the legacy source (database, WAL, shared memory, journal, JSON Lines
// and their side files), while the rows of subjects who stay are still there (positive control); and the
// enclave's own files (site stores, migration state) never held any of them in plaintext. A JSON Lines
// purge that fails or is killed midway is checked the same way once recovered: every table or none, no
// side file left, and no vault record lost.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { openMigration } from '../../src/services/migration/open-migration.ts';
import { JsonlSource } from '../../src/storage/sources/jsonl-source.ts';
import { openSource } from '../../src/storage/sources/open-source.ts';
import { SqliteSource } from '../../src/storage/sources/sqlite-source.ts';
import { filesContaining } from '../helpers/files-at-rest.ts';
import { exportJsonl, fails, JSONL_KEYS, migrationHarness, vaultRecords, type MigrationHarness } from '../helpers/migration.ts';

interface Canaries {
  readonly secret: string[];
  readonly visible: string[];
}

/** Gives every protected column of every row a unique marker: `gone-…` for moving subjects, `kept-…` for the others. */
function plantCanaries(db: DatabaseSync, h: MigrationHarness, tag: string): Canaries {
  const canaries: Canaries = { secret: [], visible: [] };
  const moving = (account: number) => h.fx.enclave.config.countryIndex.has(h.population.countryOf(account - 1));
  const mark = (account: number, what: string) => {
    const v = `${moving(account) ? 'gone' : 'kept'}-${tag}-${what}`;
    (moving(account) ? canaries.secret : canaries.visible).push(v);
    return v;
  };
  for (const { id } of db.prepare('SELECT id FROM accounts').all() as { id: number }[]) {
    db.prepare('UPDATE accounts SET email = ?, phone = ? WHERE id = ?').run(`${mark(id, `mail${id}`)}@example.com`, mark(id, `ph${id}`).slice(0, 32), id);
  }
  for (const { id, sender_account: a } of db.prepare('SELECT id, sender_account FROM messages').all() as { id: string; sender_account: number }[]) {
    db.prepare('UPDATE messages SET body = ? WHERE id = ?').run(`private message ${mark(a, `body-${id}`)} — ünïcödé`, id);
  }
  for (const { id, account_id: a } of db.prepare('SELECT id, account_id FROM devices').all() as { id: string; account_id: number }[]) {
    db.prepare('UPDATE devices SET location = ? WHERE id = ?').run(mark(a, `loc-${id}`), id);
  }
  return canaries;
}

function scan(dir: string, c: Canaries, when: string): void {
  for (const v of c.secret) assert.deepEqual(filesContaining(dir, v), [], `${when}: ${v} is gone from every file`);
  const found = c.visible.filter((v) => filesContaining(dir, v).length > 0);
  assert.deepEqual(found, c.visible, `${when}: positive control, the rows that stay are still readable in the files`);
}

/** SQLite sources that wait one second for readers to let the WAL go, instead of the default half minute. */
const shortWait: typeof openSource = async (spec, base) => (spec.kind === 'sqlite' ? new SqliteSource(join(base, spec.path), spec.path, { scrubWaitMs: 1000 }) : openSource(spec, base));

function journalModeOf(path: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode;
  } finally {
    db.close();
  }
}

/** The legacy application's connection: writes go to the WAL and stay there (no automatic checkpoint). */
function legacyApp(path: string): DatabaseSync {
  const app = new DatabaseSync(path);
  app.exec('PRAGMA journal_mode = WAL');
  app.exec('PRAGMA wal_autocheckpoint = 0');
  return app;
}

const EXPORTED = Object.keys(JSONL_KEYS).map((t) => `${t}.jsonl`).sort();

/** Exports legacy site `build` to JSON Lines under `name` (with canaries planted) and writes a mapping of its own migration `<site>-<name>`. */
function exportWithCanaries(h: MigrationHarness, build: number, name: string, tag: string): { dir: string; mappingPath: string; canaries: Canaries } {
  const { dir, mappingPath, prepared: canaries } = exportJsonl(h, build, name, (db) => plantCanaries(db, h, tag));
  return { dir, mappingPath, canaries };
}

void describe('purge leaves no plaintext of the migrated subjects in the source\'s files', () => {
  let h: MigrationHarness;
  const tag = randomBytes(4).toString('hex');
  before(async () => {
    h = await migrationHarness(40, 5);
  });
  after(async () => h.close());

  void it('SQLite in WAL mode, held open by the legacy application during the purge', async () => {
    const legacy = h.builds[0]?.path ?? '';
    // Written through the WAL, not checkpointed: the application keeps its connection open.
    const app = legacyApp(legacy);
    const canaries = plantCanaries(app, h, `${tag}w`);
    assert.ok(canaries.secret.length > 10 && canaries.visible.length > 3);
    const dir = join(legacy, '..');
    assert.ok(filesContaining(dir, canaries.secret[0] ?? '').some((f) => f.endsWith('-wal')), 'the canaries are in the WAL before the purge');

    const ctx = await h.open();
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    await purgeMigration(ctx);
    scan(dir, canaries, 'after the purge, the application still connected');
    app.close();
    scan(dir, canaries, 'after the application closed');
    // The vault's files and the migration state never held them in plaintext.
    for (const v of canaries.secret.slice(0, 20)) assert.deepEqual(filesContaining(h.fx.dataDir, v), [], `${v} is not in the enclave's files`);
  });

  void it('JSON Lines exports', async () => {
    // The second legacy site, exported to JSON Lines (ascending key order) and migrated from there.
    const { dir, mappingPath, canaries } = exportWithCanaries(h, 1, 'export', `${tag}j`);
    const ctx = await h.open(mappingPath);
    const run = await new MigrationRunner(ctx).run();
    assert.ok(run.counters.copied > 10 && run.counters.refused === 0, JSON.stringify(run.counters));
    assert.equal((await verifyMigration(ctx)).ok, true);
    const report = await purgeMigration(ctx);
    assert.ok(report.tables.every((t) => t.keptBefore === t.keptAfter));
    scan(dir, canaries, 'after the JSON Lines purge');
    assert.deepEqual(readdirSync(dir).sort(), EXPORTED, 'no side file is left behind');
    const moving = [...Array(h.population.size).keys()].filter((i) => legacySiteOf(i) === 'singapore' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)));
    assert.equal(report.tables.find((t) => t.table === 'accounts')?.purged, moving.length);
  });
});

void it('a reader holding the WAL fails the scrub and nothing is certified; the next purge, once it is gone, scrubs and certifies', async () => {
  const h = await migrationHarness(40, 5);
  try {
    const legacy = h.builds[0]?.path ?? '';
    const dir = join(legacy, '..');
    const app = legacyApp(legacy);
    const canaries = plantCanaries(app, h, `${randomBytes(4).toString('hex')}r`);
    const ctx = await h.open(undefined, { openSource: shortWait });
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);

    // A read transaction begun before the purge: its snapshot still needs the old pages.
    const reader = new DatabaseSync(legacy);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM accounts').get();
    await assert.rejects(purgeMigration(ctx), (err) => err instanceof EnclaveError && err.code === 'purge_pending' && /wal_checkpoint\(TRUNCATE\) .* did not complete .*read transaction.*No certificate was issued; run `enclave migrate purge` again/s.test(err.message));
    assert.deepEqual(await h.state.certificates(ctx.name), [], 'no certificate while the scrub did not happen');
    assert.ok(canaries.secret.some((v) => filesContaining(dir, v).length > 0), 'the deleted rows are indeed still in the files');

    reader.exec('COMMIT');
    reader.close();
    const report = await purgeMigration(await h.open(undefined, { openSource: shortWait }));
    assert.match(report.certificate.note, /wal_checkpoint\(TRUNCATE\)/);
    assert.equal((await h.state.certificates(ctx.name)).length, 1);
    scan(dir, canaries, 'after the second purge, the application still connected');
    app.close();
    scan(dir, canaries, 'after the application closed');
  } finally {
    await h.close();
  }
});

void it('a scrub that failed and is run again puts back the journal mode the source had before the purge, and certifies that one', async () => {
  const h = await migrationHarness(40, 5);
  try {
    const legacy = h.builds[0]?.path ?? '';
    assert.equal(journalModeOf(legacy), 'delete', 'the legacy file starts in rollback-journal mode');
    // The first scrub meets a reader that began after the purge committed (the file is in WAL by then).
    let reader: DatabaseSync | undefined;
    class ReadDuringScrub extends SqliteSource {
      override async scrub(tables: readonly string[], before?: Readonly<Record<string, string>>) {
        reader = new DatabaseSync(legacy);
        reader.exec('BEGIN');
        reader.prepare('SELECT count(*) FROM accounts').get();
        return super.scrub(tables, before);
      }
    }
    const withReader: typeof openSource = async (spec, base) => (spec.kind === 'sqlite' ? new ReadDuringScrub(join(base, spec.path), spec.path, { scrubWaitMs: 500 }) : openSource(spec, base));
    const ctx = await h.open(undefined, { openSource: withReader });
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    await assert.rejects(purgeMigration(ctx), fails('purge_pending'));
    assert.equal(journalModeOf(legacy), 'wal', 'the failed scrub leaves the file in WAL');
    reader?.exec('COMMIT');
    reader?.close();
    await ctx.source.close(); // as the failed process would have on exit: leaving WAL needs every other connection closed

    const report = await purgeMigration(await h.open(undefined, { openSource: shortWait }));
    assert.equal(journalModeOf(legacy), 'delete', 'the second scrub restores the mode from before the first purge');
    assert.match(report.certificate.note, /journal_mode restored to delete/);
    assert.doesNotMatch(report.certificate.note, /journal_mode_before.{0,8}wal/);
  } finally {
    await h.close();
  }
});

void it('a purge refused inside its transaction gives the source its journal mode back (nothing was deleted, so nothing is scrubbed)', async () => {
  const h = await migrationHarness(40, 5);
  try {
    const legacy = h.builds[0]?.path ?? '';
    const ctx = await h.open();
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    // A moving row changes after its verification: the purge finds it inside its transaction and refuses.
    const app = new DatabaseSync(legacy);
    const moving = [...Array(h.population.size).keys()].find((i) => legacySiteOf(i) === 'virginia' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)));
    assert.ok(moving !== undefined);
    assert.equal(app.prepare('UPDATE accounts SET phone = ? WHERE id = ?').run('+1 555 0199', moving + 1).changes, 1);
    app.close();
    await assert.rejects(purgeMigration(ctx), fails('purge_refused', /changed since verification .*Nothing was deleted/));
    assert.equal(journalModeOf(legacy), 'delete', 'the refused purge put the rollback-journal mode back');
  } finally {
    await h.close();
  }
});


/** Reads every file of the export (to compare before and after). */
const snapshot = (dir: string) => EXPORTED.map((f) => readFileSync(join(dir, f), 'utf8'));

/** An export run and verified, ready to purge: with the vault's record count and the files as they are. */
async function migratedExport(h: MigrationHarness, build: number, name: string, tag: string) {
  const exported = exportWithCanaries(h, build, name, tag);
  const ctx = await h.open(exported.mappingPath);
  await new MigrationRunner(ctx).run();
  assert.equal((await verifyMigration(ctx)).ok, true);
  return { ...exported, ctx, records: await vaultRecords(h), before: snapshot(exported.dir) };
}

void describe('a JSON Lines purge that fails or is killed midway purges every table or none, and loses no record', () => {
  let h: MigrationHarness;
  const tag = randomBytes(4).toString('hex');
  before(async () => {
    h = await migrationHarness(40, 5);
  });
  after(async () => h.close());

  void it('fails before its commit point (a side file cannot be written): no table is purged, and the next run sweeps nothing', async () => {
    const { dir, mappingPath, canaries, ctx, records, before } = await migratedExport(h, 0, 'failed', `${tag}f`);
    // The subjects table's side file, prepared last, cannot be created: the other tables' are written by then.
    mkdirSync(join(dir, 'accounts.jsonl.purge-tmp'));
    await assert.rejects(purgeMigration(ctx), /EISDIR/);
    assert.deepEqual(snapshot(dir), before, 'no file was purged');
    assert.deepEqual(readdirSync(dir).sort(), [...EXPORTED, 'accounts.jsonl.purge-tmp'].sort(), 'no side file is left but the obstacle');
    assert.equal((await new MigrationRunner(ctx).run()).swept, 0, 'the next run finds every row still there');
    assert.equal(await vaultRecords(h), records);

    rmSync(join(dir, 'accounts.jsonl.purge-tmp'), { recursive: true });
    const again = await h.open(mappingPath);
    assert.equal((await verifyMigration(again)).ok, true);
    const report = await purgeMigration(again);
    assert.match(report.certificate.id, /^dc-/);
    scan(dir, canaries, 'after the purge run again');
    assert.deepEqual(readdirSync(dir).sort(), EXPORTED);
    assert.equal(await vaultRecords(h), records, 'no record was lost');
  });

  void it('killed between two tables: the next open finishes every table, runs refuse until the purge is certified, and no record is swept', async () => {
    const { dir, mappingPath, canaries, records, before } = await migratedExport(h, 1, 'killed', `${tag}k`);
    // The process dies after the commit marker, once the other tables were rewritten: accounts (the subjects table) goes last.
    class DiesBetweenTables extends JsonlSource {
      protected override overwrite(table: string): void {
        if (table === 'accounts') throw new Error('killed');
        super.overwrite(table);
      }
    }
    const dying = await openMigration(h.fx.enclave, h.state, {
      mappingPath,
      log: h.log,
      batchSize: 7,
      openSource: (spec, base) => Promise.resolve(new DiesBetweenTables(spec.kind === 'jsonl' ? resolve(base, spec.dir) : '')),
    });
    await assert.rejects(purgeMigration(dying.ctx), /killed/);
    await dying.close();
    const messages = EXPORTED.indexOf('messages.jsonl');
    const accounts = EXPORTED.indexOf('accounts.jsonl');
    assert.notEqual(snapshot(dir)[messages], before[messages], 'messages was rewritten before the crash');
    assert.equal(snapshot(dir)[accounts], before[accounts], 'accounts was not');
    const crashed = join(h.fx.dir, 'killed-at-crash');
    cpSync(dir, crashed, { recursive: true });

    // Defense in depth: the same files without the commit marker (some tables purged, others not, as
    // files committed one at a time used to leave them) block runs and purges; nothing is swept.
    rmSync(join(dir, '.purge-commit'));
    const partial = await h.open(mappingPath);
    await assert.rejects(new MigrationRunner(partial).run(), fails('purge_partial', /in accounts the rows that stay are not exactly those the purge found/));
    await assert.rejects(purgeMigration(partial), fails('purge_partial'));
    assert.equal(await vaultRecords(h), records);

    // What the crash left, opened again: the purge is finished for every table.
    rmSync(dir, { recursive: true });
    cpSync(crashed, dir, { recursive: true });
    const reopened = await h.open(mappingPath);
    assert.deepEqual(readdirSync(dir).sort(), EXPORTED, 'every table finished, no side file or marker left');
    await assert.rejects(new MigrationRunner(reopened).run(), fails('purge_pending', /run `enclave migrate purge` to finish it/));
    const report = await purgeMigration(reopened);
    assert.match(report.certificate.id, /^dc-/);
    assert.ok(report.tables.every((t) => t.purged > 0 || t.kept > 0));
    scan(dir, canaries, 'after the interrupted purge was finished');
    assert.equal(await vaultRecords(h), records, 'no record was lost');
    assert.equal((await new MigrationRunner(reopened).run()).swept, 0);
  });
});
