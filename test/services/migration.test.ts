// Migration end to end on a real legacy SQLite site (the demo's schema): plan changes nothing; run copies
// exactly the moving subjects' rows through the vault, sealed; verify proves the copy and lists every
// difference by table and key; a live source's changes are copied again by the next run; purge happens
// only after a matching verification, deletes exactly the verified rows and nothing of anyone else (nor
// through a foreign key into a table the mapping leaves out), and is certified; the log hears of every
// step, without protected values or raw subject ids.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { describeVerification } from '../../src/cli/migrate/describe.ts';
import { verifyCertificate } from '../../src/core/deletion-certificate.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { encodeKey } from '../../src/core/migration-row.ts';
import type { LedgerEntry, MigrationStateStore, Mismatch } from '../../src/core/migration-state.ts';
import { publishedVerifierKey } from '../../src/services/migration/certificate-issuer.ts';
import type { MigrationContext } from '../../src/services/migration/migration-context.ts';
import { planMigration } from '../../src/services/migration/migration-planner.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { dumpSqlite, editSqlite, fails, migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

void describe('migration of a legacy SQLite site', () => {
  let h: MigrationHarness;
  let ctx: MigrationContext;
  let legacy: string;
  /** Users of the first legacy site, split by whether their country has a jurisdiction. */
  const moving: number[] = [];
  const staying: number[] = [];

  before(async () => {
    h = await migrationHarness(80, 7);
    legacy = h.builds[0]?.path ?? '';
    for (let i = 0; i < h.population.size; i++) {
      if (legacySiteOf(i) !== 'virginia') continue;
      (h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)) ? moving : staying).push(i);
    }
    assert.ok(moving.length > 5 && staying.length > 2, `${moving.length} moving, ${staying.length} staying`);
    ctx = await h.open();
  });
  after(async () => h.close());

  const expectedRecords = (collection: string) => moving.reduce((n, i) => n + h.population.user(i).records.filter((r) => r.collection === collection).length, 0);

  void it('plan counts what would move to each home site and what stays, and changes nothing', async () => {
    const before = readFileSync(legacy);
    const plan = await planMigration(ctx);
    assert.deepEqual(readFileSync(legacy), before, 'the legacy file is byte for byte the same');
    assert.equal(await h.state.get('virginia'), undefined, 'no migration state was created');
    const users = plan.tables.find((t) => t.table === 'accounts');
    assert.ok(users);
    const us = moving.filter((i) => h.fx.enclave.config.countryIndex.get(h.population.countryOf(i)) === 'us').length;
    assert.equal(users.moves['us']?.rows, us);
    assert.equal(users.moves['us']?.site, 'trusted-us');
    assert.equal(users.moves['eu']?.rows, moving.length - us);
    assert.deepEqual(users.stays, { outside_jurisdictions: staying.length });
    const messages = plan.tables.find((t) => t.table === 'messages');
    assert.equal((messages?.moves['us']?.rows ?? 0) + (messages?.moves['eu']?.rows ?? 0), expectedRecords('messages'));
    assert.deepEqual(plan.unmapped, []);
  });

  void it('verify and purge are refused before anything was copied', async () => {
    await assert.rejects(verifyMigration(ctx), fails('migration_not_found'));
    await assert.rejects(purgeMigration(ctx), fails('migration_not_found'));
  });

  void it('run copies exactly the moving subjects\' rows through the vault, sealed, readable as they were', async () => {
    const report = await new MigrationRunner(ctx).run();
    assert.equal(report.complete, true);
    assert.equal(report.refused.length, 0);
    const total = moving.reduce((n, i) => n + h.population.user(i).records.length, 0);
    assert.equal(report.counters.copied, total);
    assert.equal(report.counters.stayed, staying.reduce((n, i) => n + h.population.user(i).records.length, 0));
    const { vault, sites } = h.fx.enclave;
    const reader = h.fx.principals.service; // a platform service stating its purpose (officers read protected fields only under a grant)
    assert.equal((await sites.get('trusted-us')?.records.count() ?? 0) + (await sites.get('eu-central')?.records.count() ?? 0), total);
    for (const i of moving.slice(0, 4)) {
      const user = h.population.user(i);
      for (const r of user.records) {
        const got = await vault.getRecord(reader, r.collection, r.id);
        assert.deepEqual(got.data, Object.fromEntries(Object.keys(got.data).map((k) => [k, r.data[k] ?? null])), `${r.collection}/${r.id}`);
        assert.equal(got.subject, user.id);
      }
      assert.equal((await vault.getSubject(reader, user.id)).country, user.country);
    }
    for (const i of staying) await assert.rejects(vault.getSubject(reader, h.population.userId(i)), fails('subject_not_found'));
    // Run again: nothing new is written, everything is seen unchanged.
    const again = await new MigrationRunner(ctx).run();
    assert.equal(again.pass, 2);
    assert.deepEqual([again.counters.copied, again.counters.recopied, again.counters.unchanged, again.swept], [0, 0, total, 0]);
  });

  void it('verify proves the copy: per-table roots of both sides agree', async () => {
    const v = await verifyMigration(ctx);
    assert.equal(v.ok, true);
    assert.equal(v.mismatches, 0);
    for (const t of v.tables) {
      assert.equal(t.sourceRoot, t.destinationRoot, t.table);
      assert.equal(t.rows, t.records);
    }
    assert.equal(v.tables.find((t) => t.table === 'messages')?.rows, expectedRecords('messages'));
  });

  void it('a live source: changes after copying show up at verify by table and key, and the next run copies them again', async () => {
    const db = new DatabaseSync(legacy);
    const [changed, removed, movedAway] = moving;
    assert.ok(changed !== undefined && removed !== undefined && movedAway !== undefined);
    const msg = h.population.user(changed).records.find((r) => r.collection === 'messages') ?? h.population.user(moving[3] ?? 0).records.find((r) => r.collection === 'messages');
    const dev = h.population.user(removed).records.find((r) => r.collection === 'devices');
    assert.ok(msg && dev);
    const account = (i: number) => i + 1;
    try {
      db.prepare('UPDATE messages SET body = ? WHERE id = ?').run('edited after the copy', msg.id);
      db.prepare('DELETE FROM devices WHERE id = ?').run(dev.id);
      db.prepare('INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?)').run(`${h.population.userId(removed)}-dnew`, account(removed), 'Pixel 9', 'Android 15', '192.0.2.9', null);
      // One subject moves to a country outside every jurisdiction: their records no longer belong here.
      db.prepare('UPDATE accounts SET country_code = ? WHERE id = ?').run('br', account(movedAway));
    } finally {
      db.close();
    }
    const v = await verifyMigration(ctx);
    assert.equal(v.ok, false);
    const list = await h.state.mismatches(v.id, 1000, 0);
    const has = (table: string, key: string, kind: string) => list.some((m) => m.table === table && m.key === encodeKey([key]) && m.kind === kind);
    assert.ok(has('messages', msg.id, 'changed'), 'the edited message');
    assert.ok(has('devices', dev.id, 'extra'), 'the deleted device');
    assert.ok(has('devices', `${h.population.userId(removed)}-dnew`, 'missing'), 'the new device');
    assert.ok(has('accounts', h.population.userId(movedAway), 'extra'), 'the subject who left the jurisdictions');
    assert.equal(v.mismatches, list.length);
    const leaving = h.population.user(movedAway).records.length;
    assert.equal(list.length, 3 + leaving);
    assert.ok(v.tables.some((t) => t.sourceRoot !== t.destinationRoot));

    await assert.rejects(purgeMigration(ctx), fails('not_verified', /found \d+ mismatch/));

    const run = await new MigrationRunner(ctx).run();
    assert.equal(run.counters.recopied, 1, 'the edited message is copied again');
    assert.equal(run.counters.copied, 1, 'the new device is copied');
    assert.equal(run.swept, 1 + leaving, 'the deleted device and the leaving subject\'s records are removed');
    const reader = h.fx.principals.service; // a platform service stating its purpose (officers read protected fields only under a grant)
    assert.equal((await h.fx.enclave.vault.getRecord(reader, 'messages', msg.id)).data['body'], 'edited after the copy');
    assert.equal((await h.fx.enclave.vault.getRecord(reader, 'messages', msg.id)).version, 2);
    await assert.rejects(h.fx.enclave.vault.getRecord(reader, 'devices', dev.id), fails('record_not_found'));
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('purge is refused when the source changed after the verification, and nothing is deleted', async () => {
    const before = dumpSqlite(legacy);
    const db = new DatabaseSync(legacy);
    const i = moving[4] ?? 0;
    try {
      db.prepare('UPDATE accounts SET handle = ? WHERE id = ?').run('renamed_after_verify', i + 1);
    } finally {
      db.close();
    }
    await assert.rejects(purgeMigration(ctx), fails('purge_refused', /table accounts changed since verification .*Nothing was deleted/));
    const now = dumpSqlite(legacy);
    assert.deepEqual(now.get('messages'), before.get('messages'));
    assert.equal(now.get('accounts')?.length, before.get('accounts')?.length);
    // A run after the verification unbinds it too.
    await new MigrationRunner(ctx).run();
    await assert.rejects(purgeMigration(ctx), fails('not_verified', /ran again .* after its latest verification/));
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('purge is refused when deleting would cascade into, or leave dangling, rows of a table the mapping leaves out, and nothing is deleted', async () => {
    const cases: [string, RegExp][] = [
      [
        'CREATE TABLE other (uid TEXT REFERENCES Accounts (user_uid) ON DELETE CASCADE, note TEXT)',
        /deleting from accounts would change rows of tables the purge does not verify: table other, .*Map those tables too.*Nothing was deleted/,
      ],
      // A key the purge's connection does not enforce: only a check after the deletes sees it.
      [
        'CREATE TABLE other (uid TEXT REFERENCES accounts (user_uid) ON DELETE NO ACTION, note TEXT)',
        /deleting would leave 1 row\(s\) referring to purged rows, in other \(foreign key 0\): 1 .*PRAGMA foreign_key_check lists them\)\. Map those tables too, or clear those references at the source; then purge again\. Nothing was deleted/,
      ],
    ];
    for (const [ddl, refusal] of cases) {
      const db = new DatabaseSync(legacy);
      try {
        db.exec(ddl);
        db.prepare('INSERT INTO other VALUES (?, ?)').run(h.population.userId(moving[0] ?? 0), 'never copied');
        const before = dumpSqlite(legacy);
        if (ddl.includes('CASCADE')) assert.match((await planMigration(ctx)).purgeRefused ?? '', /table other, constraint foreign key 0 \(uid → accounts, ON DELETE CASCADE\)/);
        await assert.rejects(purgeMigration(ctx), fails('purge_refused', refusal));
        assert.deepEqual(dumpSqlite(legacy), before);
      } finally {
        db.exec('DROP TABLE other');
        db.close();
      }
    }
  });

  void it('purge is refused when a trigger on a purged table runs on DELETE (it could copy the deleted values elsewhere), and nothing is deleted', async () => {
    const db = new DatabaseSync(legacy);
    try {
      db.exec('CREATE TABLE audit (note TEXT)');
      db.exec("CREATE TRIGGER keep_email AFTER DELETE ON Accounts BEGIN INSERT INTO audit VALUES ('deleted ' || old.email); END");
      const before = dumpSqlite(legacy);
      const refusal = /table accounts has trigger keep_email, which may run on DELETE\. Drop or disable those triggers or rules/i;
      assert.match((await planMigration(ctx)).purgeRefused ?? '', refusal);
      await assert.rejects(purgeMigration(ctx), fails('purge_refused', refusal));
      assert.deepEqual(dumpSqlite(legacy), before);
      // A trigger on another event, or on a table the purge leaves alone, is no hazard.
      db.exec('DROP TRIGGER keep_email');
      db.exec("CREATE TRIGGER on_insert AFTER INSERT ON accounts BEGIN INSERT INTO audit VALUES ('new'); END");
      db.exec("CREATE TRIGGER on_audit AFTER DELETE ON audit BEGIN SELECT 1; END");
      assert.equal((await planMigration(ctx)).purgeRefused, null);
    } finally {
      db.exec('DROP TABLE audit');
      db.exec('DROP TRIGGER IF EXISTS on_insert');
      db.close();
    }
  });

  void it('purge deletes exactly the verified rows, keeps every other row identical, scrubs, and certifies', async () => {
    const before = dumpSqlite(legacy);
    const report = await purgeMigration(ctx);
    const after = dumpSqlite(legacy);
    const stayingUids = new Set(staying.map((i) => h.population.userId(i)));
    const movedAway = moving[2] ?? 0;
    stayingUids.add(h.population.userId(movedAway));
    const keptAccounts = (before.get('accounts') ?? []).filter((r) => stayingUids.has((JSON.parse(r) as { user_uid: string }).user_uid));
    assert.deepEqual(after.get('accounts'), keptAccounts, 'exactly the staying users remain, unchanged');
    const keptIds = new Set(keptAccounts.map((r) => (JSON.parse(r) as { id: number }).id));
    assert.deepEqual(after.get('messages'), (before.get('messages') ?? []).filter((r) => keptIds.has((JSON.parse(r) as { sender_account: number }).sender_account)));
    for (const t of report.tables) {
      assert.equal(t.keptBefore, t.keptAfter, `${t.table}: rows that stay have equal digests before and after`);
      assert.equal(t.kept, after.get(t.table)?.length);
    }
    const vkey = await publishedVerifierKey(h.fx.enclave.control.meta);
    assert.ok(vkey);
    const check = verifyCertificate(report.certificate.note, vkey);
    assert.equal(check.id, report.certificate.id);
    assert.equal(check.certificate.totals.subjects, moving.length - 1);
    assert.equal(check.certificate.verification.id, report.verification);
    assert.equal(check.certificate.source.site, 'virginia');
    assert.match(check.certificate.method.steps.join('\n'), /secure_delete = ON[\s\S]*wal_checkpoint\(TRUNCATE\)[\s\S]*VACUUM/);
    // The records stay readable in the vault; the purge touched only the source.
    assert.equal((await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'users', h.population.userId(moving[5] ?? 0))).subject, h.population.userId(moving[5] ?? 0));
    await assert.rejects(purgeMigration(ctx), fails('purge_refused', /already purged \(certificate dc-/));
    // The copied rows are gone from the source for good: a later run must not sweep their records.
    const rerun = await new MigrationRunner(ctx).run();
    assert.deepEqual([rerun.swept, rerun.counters.copied], [0, 0]);
    assert.equal((await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'users', h.population.userId(moving[5] ?? 0))).version, 1);
  });

  void it('the transparency log heard every step, with no protected value and no raw subject id', () => {
    const types = h.log.events.map((e) => e.type);
    assert.ok(types.includes('migration.run') && types.includes('migration.verified'));
    assert.equal(types[types.indexOf('migration.purged') + 1], 'certificate.issued', 'the certificate follows the purge');
    const text = JSON.stringify(h.log.events);
    for (const i of moving) {
      const u = h.population.user(i);
      assert.ok(!text.includes(String(u.records[0]?.data['email'])), 'no e-mail address');
      assert.ok(!text.includes(`"${u.id}"`), 'no raw subject id');
    }
    const verified = h.log.events.filter((e) => e.type === 'migration.verified');
    assert.deepEqual(verified.map((e) => e.details['ok']), [true, false, true, true]);
  });
});

void describe('migration refusals', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(30, 3);
  });
  after(async () => h.close());

  void it('a row of a moving subject that does not fit its collection is refused, listed at verify, and blocks the purge', async () => {
    const legacy = h.builds[0]?.path ?? '';
    const i = [...Array(h.population.size).keys()].find((x) => legacySiteOf(x) === 'virginia' && h.fx.enclave.config.countryIndex.get(h.population.countryOf(x)) === 'us') ?? 0;
    const db = new DatabaseSync(legacy);
    try {
      db.prepare('UPDATE accounts SET email = ? WHERE id = ?').run(`${'x'.repeat(400)}@example.com`, i + 1);
    } finally {
      db.close();
    }
    const ctx = await h.open();
    const run = await new MigrationRunner(ctx).run();
    assert.equal(run.counters.refused, 1);
    assert.deepEqual(run.refused.map((r) => [r.table, r.key, r.code]), [['accounts', JSON.stringify(h.population.userId(i)), 'invalid_field']]);
    assert.doesNotMatch(JSON.stringify(run.refused), /xxxx/, 'the refusal never repeats the value');
    const v = await verifyMigration(ctx);
    assert.equal(v.ok, false);
    assert.deepEqual((await h.state.mismatches(v.id, 10, 0)).map((m) => [m.table, m.kind, m.detail]), [['accounts', 'refused', 'invalid_field']]);
    await assert.rejects(purgeMigration(ctx), fails('not_verified'));
  });

  void it('a purge that dies after the source committed is finished by the next purge, and blocks runs until then', async () => {
    const ctx = await h.open(h.builds[1]?.mappingPath);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const records = await h.fx.enclave.sites.get('trusted-us')?.records.count();
    // The process "dies" right after the source committed: before the certificate is stored.
    const save = h.state.saveCertificate.bind(h.state);
    h.state.saveCertificate = () => Promise.reject(new Error('killed'));
    try {
      await assert.rejects(purgeMigration(ctx), /killed/);
    } finally {
      h.state.saveCertificate = save;
    }
    assert.ok(await h.state.pendingPurge('singapore'), 'the purge is on record as committed');
    await assert.rejects(new MigrationRunner(ctx).run(), fails('purge_pending', /run `enclave migrate purge` to finish it/));
    const report = await purgeMigration(ctx);
    assert.match(report.certificate.id, /^dc-/);
    assert.equal(await h.state.pendingPurge('singapore'), undefined);
    assert.equal(await h.fx.enclave.sites.get('trusted-us')?.records.count(), records, 'no record was swept');
    assert.equal((await new MigrationRunner(ctx).run()).swept, 0);
  });

  void it('a sealed enclave copies nothing; a changed mapping is refused under the same name', async () => {
    const path = join(h.fx.dir, 'legacy', 'other.mapping.yaml');
    writeFileSync(path, readFileSync(h.builds[1]?.mappingPath ?? '', 'utf8').replace('name: singapore', 'name: other'));
    const ctx = await h.open(path);
    h.fx.enclave.keyring.drop();
    await assert.rejects(new MigrationRunner(ctx).run(), fails('sealed'));
    assert.equal(await h.state.get('other'), undefined);
    for (const s of h.fx.shares.slice(0, 2)) await h.fx.enclave.seal.submit(s);

    const virginia = h.builds[0]?.mappingPath ?? '';
    writeFileSync(virginia, readFileSync(virginia, 'utf8').replace('virginia data center', 'virginia data centre'));
    const changed = await h.open(virginia);
    await assert.rejects(new MigrationRunner(changed).run(), fails('migration_changed', /give the changed mapping a new name/));
  });
});

void describe('migration: a purge that would leave a dangling reference where it removes another', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(30, 9);
  });
  after(async () => h.close());

  void it('is refused although the total of dangling rows stays the same, and nothing is deleted; without the new one it proceeds', async () => {
    const legacy = h.builds[0]?.path ?? '';
    const [gone, referred] = [...Array(h.population.size).keys()].filter((i) => legacySiteOf(i) === 'virginia' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)));
    assert.ok(gone !== undefined && referred !== undefined);
    // The source as the legacy application left it, its foreign keys unenforced: a moving user's account
    // refers to an account that no longer exists (dangling before the purge; the purge deletes it), and
    // a table the mapping leaves out refers to another moving user (dangling once the purge deletes them).
    const db = new DatabaseSync(legacy, { enableForeignKeyConstraints: false });
    try {
      db.exec('ALTER TABLE accounts ADD COLUMN referrer INTEGER REFERENCES accounts (id)');
      db.prepare('UPDATE accounts SET referrer = ? WHERE id = ?').run(999_999, gone + 1);
      db.exec('CREATE TABLE invites (uid TEXT REFERENCES accounts (user_uid) ON DELETE NO ACTION, note TEXT)');
      db.prepare('INSERT INTO invites VALUES (?, ?)').run(h.population.userId(referred), 'never copied');
      assert.equal((db.prepare('SELECT count(*) AS n FROM pragma_foreign_key_check').get() as { n: number }).n, 1, 'one dangling row before the purge');
    } finally {
      db.close();
    }
    const ctx = await h.open();
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const before = dumpSqlite(legacy);
    await assert.rejects(
      purgeMigration(ctx),
      fails('purge_refused', /deleting would leave 1 row\(s\) referring to purged rows, in invites \(foreign key 0\): 1 .*Nothing was deleted/),
    );
    assert.deepEqual(dumpSqlite(legacy), before, 'nothing was deleted');
    const mode = new DatabaseSync(legacy, { readOnly: true });
    try {
      assert.equal((mode.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'delete', 'the refused purge put the journal mode back');
    } finally {
      mode.close();
    }

    // Without the new one, the dangling row that was there before is no reason to refuse: it goes with its account.
    const edit = new DatabaseSync(legacy);
    try {
      edit.exec('DROP TABLE invites');
    } finally {
      edit.close();
    }
    const report = await purgeMigration(ctx);
    assert.ok(report.tables.some((t) => t.table === 'accounts' && t.purged > 0));
    assert.equal(dumpSqlite(legacy).get('accounts')?.some((r) => (JSON.parse(r) as { referrer: number | null }).referrer === 999_999), false);
  });
});

void describe('migration: records shared between migrations, rows that change subject or become invalid', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(30, 5);
  });
  after(async () => h.close());
  /** Users of a legacy site who move to a home site (their rows migrate). */
  const movingAt = (site: string) => [...Array(h.population.size).keys()].filter((i) => legacySiteOf(i) === site && h.fx.enclave.config.countryIndex.has(h.population.countryOf(i)));
  const message = (i: number) => h.population.user(i).records.find((r) => r.collection === 'messages');
  /** A new message of the nth-last moving user of virginia, added at the source (`insert` adds it again). */
  const sourceMessage = async (nth: number, suffix: string, body: string) => {
    const [virginia] = h.builds;
    assert.ok(virginia);
    const ctx = await h.open(virginia.mappingPath);
    const i = movingAt('virginia').at(-nth);
    assert.ok(i !== undefined);
    const id = `${h.population.userId(i)}-${suffix}`;
    const insert = () => editSqlite(virginia.path, (db) => db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?)').run(id, i + 1, 'someone', body, '2026-01-01T00:00:00Z'));
    insert();
    return { ctx, id, path: virginia.path, insert };
  };
  const bodyOf = async (id: string) => (await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', id)).data['body'];
  /** A run that dies right after the ledger row of source key `id` is written ahead, before its vault write (as a process gone by the next run). */
  const killedAfterLedgerOf = async (ctx: MigrationContext, id: string) => {
    const state = h.state;
    const real = state.putLedger.bind(state);
    state.putLedger = async (migration, entries) => {
      await real(migration, entries);
      if (entries.some((e) => e.key === encodeKey([id]))) {
        state.putLedger = real;
        throw new Error('killed');
      }
    };
    await assert.rejects(new MigrationRunner(ctx, { worker: `${hostname()}:999999999:gone` }).run(), /killed/);
  };

  /** A row written ahead by a killed run, then gone at the source while its interrupted pass is finished without it. */
  const writtenAheadThenGone = async (nth: number, suffix: string, body: string) => {
    const m = await sourceMessage(nth, suffix, body);
    await killedAfterLedgerOf(m.ctx, m.id);
    editSqlite(m.path, (db) => db.prepare('DELETE FROM messages WHERE id = ?').run(m.id));
    const finished = await new MigrationRunner(m.ctx).run();
    assert.equal(finished.complete, true);
    return { ...m, finished };
  };

  void it('a second migration never overwrites a record another migration wrote under the same id', async () => {
    const [virginia, singapore] = h.builds;
    assert.ok(virginia && singapore);
    const a = await h.open(virginia.mappingPath);
    await new MigrationRunner(a).run();
    const [ann] = movingAt('virginia').filter((i) => message(i) !== undefined);
    assert.ok(ann !== undefined);
    const m = message(ann);
    assert.ok(m);
    const reader = h.fx.principals.service;
    const before = await h.fx.enclave.vault.getRecord(reader, 'messages', m.id);
    // The other legacy site holds the same user and a message under the same id, with other content.
    editSqlite(singapore.path, (db) => {
      db.exec(`ATTACH DATABASE '${virginia.path.replaceAll("'", "''")}' AS v`);
      db.prepare('INSERT INTO accounts SELECT * FROM v.accounts WHERE id = ?').run(ann + 1);
      db.prepare('INSERT INTO messages SELECT * FROM v.messages WHERE id = ?').run(m.id);
      db.prepare('UPDATE messages SET body = ? WHERE id = ?').run('the other site says otherwise', m.id);
    });
    const b = await h.open(singapore.mappingPath);
    const run = await new MigrationRunner(b).run();
    const refused = run.refused.find((r) => r.table === 'messages' && r.key === JSON.stringify(m.id));
    assert.equal(refused?.code, 'record_exists', JSON.stringify(run.refused));
    assert.match(refused.message, /exists already and this migration did not write it/);
    // The account row is the same at both sites: identical content is not adopted either.
    assert.equal(run.refused.find((r) => r.table === 'accounts' && r.key === JSON.stringify(h.population.userId(ann)))?.code, 'record_exists');
    const after = await h.fx.enclave.vault.getRecord(reader, 'messages', m.id);
    assert.deepEqual([after.version, after.data['body']], [before.version, before.data['body']], 'the first migration\'s record is untouched');
    assert.equal((await verifyMigration(a)).ok, true, 'the first migration still verifies, so its purge is still sound');
    assert.equal((await verifyMigration(b)).ok, false, 'the second lists the row it could not copy');
  });

  void it('a row re-pointed to another subject moves its record to that subject in the next run, and verifies', async () => {
    const [virginia] = h.builds;
    assert.ok(virginia);
    const ctx = await h.open(virginia.mappingPath);
    const [, from, to] = movingAt('virginia').filter((i) => message(i) !== undefined);
    assert.ok(from !== undefined && to !== undefined);
    const m = message(from);
    assert.ok(m);
    editSqlite(virginia.path, (db) => db.prepare('UPDATE messages SET sender_account = ? WHERE id = ?').run(to + 1, m.id));
    const v = await verifyMigration(ctx);
    assert.ok((await h.state.mismatches(v.id, 100, 0)).some((x) => x.table === 'messages' && x.key === encodeKey([m.id]) && x.kind === 'changed'));
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual(run.refused, []);
    assert.equal(run.counters.recopied, 1);
    assert.equal(run.swept, 0);
    const moved = await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', m.id);
    assert.equal(moved.subject, h.population.userId(to));
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a subject whose source country moves them to another home site is listed at verify and refused by run until re-homed', async () => {
    const [virginia] = h.builds;
    assert.ok(virginia);
    const ctx = await h.open(virginia.mappingPath);
    const i = movingAt('virginia').find((x) => h.fx.enclave.config.countryIndex.get(h.population.countryOf(x)) === 'us' && message(x) !== undefined);
    assert.ok(i !== undefined);
    const uid = h.population.userId(i);
    editSqlite(virginia.path, (db) => db.prepare('UPDATE accounts SET country_code = ? WHERE id = ?').run('de', i + 1));
    const v = await verifyMigration(ctx);
    const listed = (await h.state.mismatches(v.id, 1000, 0)).filter((m) => m.detail.includes(`subject "${uid}"`));
    assert.ok(listed.length > 1, 'their rows are listed');
    assert.ok(listed.every((m) => m.kind === 'moved'));
    assert.match(listed[0]?.detail ?? '', new RegExp(`registered in US at site \\S+, but the source now gives DE \\(home site \\S+\\): re-home them \\(enclave subject rehome ${uid} --country DE\\)`));
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual(new Set(run.refused.map((r) => r.code)), new Set(['no_home_site']));
    assert.equal(run.counters.refused, listed.length, 'every row of theirs, none of anyone else');
    assert.equal(run.swept, 0, 'their copies stay where they are until the re-home');
    await h.fx.enclave.vault.rehomeSubject(h.fx.principals.officer, uid, 'DE');
    const again = await new MigrationRunner(ctx).run();
    assert.deepEqual(again.refused, []);
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a run stopped after its vault write, before its batch is done, whose row then changes, copies it on the next run', async () => {
    const { ctx, id, path } = await sourceMessage(1, 'late', 'first words');
    // The process dies right after the vault writes of the batch holding that row, before it is marked done.
    const state = h.state;
    const real = state.completeBatch.bind(state);
    const written = () => h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', id).then(() => true, () => false);
    state.completeBatch = async (...args) => {
      if (!(await written())) return real(...args);
      state.completeBatch = real;
      throw new Error('killed');
    };
    // As a process that is gone by the next run (its batches are given back at once).
    await assert.rejects(new MigrationRunner(ctx, { worker: `${hostname()}:999999999:gone` }).run(), /killed/);
    assert.equal(await bodyOf(id), 'first words', 'the vault write happened');
    editSqlite(path, (db) => db.prepare('UPDATE messages SET body = ? WHERE id = ?').run('second thoughts', id));
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual(run.refused, []);
    assert.equal(await bodyOf(id), 'second thoughts');
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a run stopped between its ledger write and its vault write writes the record on the next run, its row unchanged', async () => {
    const { ctx, id } = await sourceMessage(2, 'ahead', 'ahead words');
    await killedAfterLedgerOf(ctx, id);
    assert.equal((await h.state.ledger(ctx.name, 'messages', [encodeKey([id])])).get(encodeKey([id]))?.digest.length, 32, 'the ledger row holds the row\'s digest');
    await assert.rejects(h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', id), (err: unknown) => err instanceof EnclaveError && err.code === 'record_not_found', 'the vault write never happened');
    // Nothing changed at the source: the ledger row's digest equals the row's, and still proves nothing.
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual(run.refused, []);
    assert.equal(await bodyOf(id), 'ahead words');
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a row written ahead, then gone at the source before the interrupted batch was copied again, and back unchanged in a later pass, is written then', async () => {
    // Gone at the source while no run goes: the pass is finished without meeting the row again.
    const { ctx, id, insert, finished } = await writtenAheadThenGone(3, 'back', 'back again');
    // Back, exactly as it was: its ledger row, written ahead in the interrupted pass, proves nothing.
    insert();
    const next = await new MigrationRunner(ctx).run();
    assert.equal(next.pass, finished.pass + 1);
    assert.equal(await bodyOf(id), 'back again');
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a row written ahead by an interrupted pass and refused through the next pass proves nothing in the pass after, once valid again', async () => {
    const { ctx, id, path } = await sourceMessage(4, 'refused', 'valid words');
    await killedAfterLedgerOf(ctx, id);
    const setSentAt = (v: string) => editSqlite(path, (db) => db.prepare('UPDATE messages SET sent_at = ? WHERE id = ?').run(v, id));
    setSentAt('not a time');
    // The interrupted pass ends, then a whole pass more, with the row refused in both.
    for (let k = 0; k < 2; k++) assert.deepEqual((await new MigrationRunner(ctx).run()).refused.map((r) => [r.key, r.code]), [[JSON.stringify(id), 'invalid_field']]);
    setSentAt('2026-01-01T00:00:00Z');
    await new MigrationRunner(ctx).run();
    assert.equal(await bodyOf(id), 'valid words');
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('the pass after an interrupted one writes again only the rows of the batch taken back', async () => {
    const { ctx, id } = await sourceMessage(5, 'doubt', 'doubted words');
    await killedAfterLedgerOf(ctx, id);
    const finished = await new MigrationRunner(ctx).run();
    assert.equal(finished.complete, true);
    assert.equal((await h.state.releasedBatches(ctx.name, finished.pass)).length, 1, 'one batch was taken back');
    const next = await new MigrationRunner(ctx).run();
    assert.equal(next.pass, finished.pass + 1);
    const c = next.counters;
    // That batch's rows (7 a batch, more in a table's last, open-ended range) are written again, as
    // identical records; every other row is proven unchanged by its ledger row.
    assert.ok(c.recopied > 0 && c.recopied <= 14, JSON.stringify(c));
    assert.equal(c.copied, 0);
    assert.ok(c.unchanged > 10 * c.recopied, JSON.stringify(c));
    assert.equal(await bodyOf(id), 'doubted words');
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a row written ahead in an interrupted pass is still doubted after the next pass is interrupted twice before meeting it', async () => {
    const { ctx, id, insert, finished } = await writtenAheadThenGone(6, 'twice', 'twice words');
    insert();
    // The next pass dies in an accounts batch (copied before any messages batch), and so does the run
    // that takes that batch back, once the pass is marked interrupted.
    const [first] = movingAt('virginia');
    assert.ok(first !== undefined);
    await killedAfterLedgerOf(ctx, h.population.userId(first));
    await killedAfterLedgerOf(ctx, h.population.userId(first));
    assert.equal((await h.state.get(ctx.name))?.interruptedPass, finished.pass + 1);
    const last = await new MigrationRunner(ctx).run();
    assert.equal(last.pass, finished.pass + 1);
    assert.equal(await bodyOf(id), 'twice words');
    assert.equal((await verifyMigration(ctx)).ok, true);
  });

  void it('a row copied before and refused now keeps its copy: not swept, listed at verify', async () => {
    const [virginia] = h.builds;
    assert.ok(virginia);
    const ctx = await h.open(virginia.mappingPath);
    const [, , , i] = movingAt('virginia');
    assert.ok(i !== undefined);
    const uid = h.population.userId(i);
    const before = await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'users', uid);
    editSqlite(virginia.path, (db) => db.prepare('UPDATE accounts SET email = ? WHERE id = ?').run(`${'x'.repeat(400)}@example.com`, i + 1));
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual(run.refused.map((r) => [r.table, r.code]), [['accounts', 'invalid_field']]);
    assert.equal(run.swept, 0, 'the copy of the row is not taken for a row gone at the source');
    assert.deepEqual(await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'users', uid), before);
    const v = await verifyMigration(ctx);
    const listed = await h.state.mismatches(v.id, 10, 0);
    assert.deepEqual(listed.map((m) => [m.table, m.kind]), [['accounts', 'refused']]);
    // Running again cannot fix a refusal, and the advice does not say it would.
    const advice = describeVerification(v, listed);
    assert.match(advice, /Refused rows, and rows of subjects who moved, are not copied by running again/);
    assert.doesNotMatch(advice, /to copy the changed, missing and extra rows again/);
  });
});

void describe('migration: verify beside a run of the next pass', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(20, 11);
  });
  after(async () => h.close());

  void it('leaves the ledger rows the new pass wrote as it wrote them, so its sweep does not remove their records', async () => {
    const [virginia] = h.builds;
    assert.ok(virginia);
    const ctx = await h.open(virginia.mappingPath);
    const first = await new MigrationRunner(ctx).run();
    const i = [...Array(h.population.size).keys()].find((k) => legacySiteOf(k) === 'virginia' && h.fx.enclave.config.countryIndex.has(h.population.countryOf(k)) && h.population.user(k).records.some((r) => r.collection === 'messages'));
    assert.ok(i !== undefined);
    const msg = h.population.user(i).records.find((r) => r.collection === 'messages');
    assert.ok(msg);
    const db = new DatabaseSync(virginia.path);
    try {
      db.prepare('UPDATE messages SET body = ? WHERE id = ?').run('edited while verifying', msg.id);
    } finally {
      db.close();
    }
    const key = encodeKey([msg.id]);
    // A run of the next pass copies the row while verify is between reading its ledger row and reporting
    // it changed: simulated by rewriting the row as that pass would, just before verify reports.
    let rewritten: LedgerEntry | undefined;
    const state: MigrationStateStore = Object.create(h.state, {
      putMismatches: {
        value: async (verification: string, list: readonly Mismatch[]) => {
          const row = (await h.state.ledger(ctx.name, 'messages', [key])).get(key);
          if (row && list.some((m) => m.key === key)) {
            rewritten = { ...row, seenPass: first.pass + 1, seenBatch: 0, digest: Buffer.alloc(32, 7) };
            await h.state.putLedger(ctx.name, [rewritten]);
          }
          return h.state.putMismatches(verification, list);
        },
      },
    }) as MigrationStateStore;
    const verifying: MigrationContext = Object.create(ctx, { state: { value: state } }) as MigrationContext;
    const v = await verifyMigration(verifying);
    assert.deepEqual((await h.state.mismatches(v.id, 10, 0)).map((m) => [m.table, m.key, m.kind]), [['messages', key, 'changed']]);
    assert.ok(rewritten);
    const after = (await h.state.ledger(ctx.name, 'messages', [key])).get(key);
    assert.deepEqual([after?.seenPass, after?.seenBatch, Buffer.from(after?.digest ?? [])], [rewritten.seenPass, rewritten.seenBatch, rewritten.digest]);
    assert.deepEqual((await h.state.unseen(ctx.name, first.pass + 1, 1000)).filter((e) => e.key === key), [], 'not taken for a row the new pass did not see');
  });
});
