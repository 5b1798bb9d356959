// Invariant 3 and the purge's promise, by raw bytes: after a purge no protected value of a migrated
// subject remains in any file of the legacy source (database, WAL, shared memory, journal, JSON Lines
// and their side files), while the rows of subjects who stay are still there (positive control); and the
// enclave's own files (site stores, migration state) never held any of them in plaintext.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { openSource } from '../../src/storage/sources/open-source.ts';
import { SqliteSource } from '../../src/storage/sources/sqlite-source.ts';
import { migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** Files under `dir` whose bytes contain the text as UTF-8 or UTF-16LE. */
function filesContaining(dir: string, text: string): string[] {
  const patterns = [Buffer.from(text, 'utf8'), Buffer.from(text, 'utf16le')];
  return filesUnder(dir).filter((f) => {
    const bytes = readFileSync(f);
    return patterns.some((p) => bytes.includes(p));
  });
}

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

/** The legacy application's connection: writes go to the WAL and stay there (no automatic checkpoint). */
function legacyApp(path: string): DatabaseSync {
  const app = new DatabaseSync(path);
  app.exec('PRAGMA journal_mode = WAL');
  app.exec('PRAGMA wal_autocheckpoint = 0');
  return app;
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
    const sqlite = h.builds[1]?.path ?? '';
    const dir = join(h.fx.dir, 'export');
    mkdirSync(dir);
    const db = new DatabaseSync(sqlite);
    const canaries = plantCanaries(db, h, `${tag}j`);
    const keys: Record<string, string> = { accounts: 'user_uid', devices: 'id', messages: 'id', watch_events: 'id', videos: 'id', comments: 'id' };
    for (const [table, key] of Object.entries(keys)) {
      const rows = db.prepare(`SELECT * FROM ${table} ORDER BY ${key}`).all();
      writeFileSync(join(dir, `${table}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    }
    db.close();
    const mapping = readFileSync(h.builds[1]?.mappingPath ?? '', 'utf8')
      .replace('name: singapore', 'name: singapore-export')
      .replace('sqlite: singapore.db', 'jsonl: ../export')
      .replace(/    subject: \{ join: (\w+) \}\n/g, '    key: [id]\n    subject: { join: $1 }\n')
      .replace(/    subject: (owner_uid|author_uid)\n/g, '    key: [id]\n    subject: $1\n');
    const mappingPath = join(h.fx.dir, 'legacy', 'export.mapping.yaml');
    writeFileSync(mappingPath, mapping);
    const ctx = await h.open(mappingPath);
    const run = await new MigrationRunner(ctx).run();
    assert.ok(run.counters.copied > 10 && run.counters.refused === 0, JSON.stringify(run.counters));
    assert.equal((await verifyMigration(ctx)).ok, true);
    const report = await purgeMigration(ctx);
    assert.ok(report.tables.every((t) => t.keptBefore === t.keptAfter));
    scan(dir, canaries, 'after the JSON Lines purge');
    assert.deepEqual(readdirSync(dir).sort(), Object.keys(keys).map((t) => `${t}.jsonl`).sort(), 'no side file is left behind');
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
    // A one-second wait for readers instead of the default half minute.
    const shortWait: typeof openSource = async (spec, base) => (spec.kind === 'sqlite' ? new SqliteSource(join(base, spec.path), spec.path, { scrubWaitMs: 1000 }) : openSource(spec, base));
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
