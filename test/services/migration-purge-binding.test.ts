// A purge is bound to what was verified: a source that changes between `verify` and `purge` (or during
// the purge itself) makes it refuse, and nothing is deleted; it never deletes a row whose content or
// destination differs from what was verified.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { legacySiteOf } from '../../src/cli/demo/legacy-sites.ts';
import { purgeMigration } from '../../src/services/migration/migration-purger.ts';
import { MigrationRunner } from '../../src/services/migration/migration-runner.ts';
import { verifyMigration } from '../../src/services/migration/migration-verifier.ts';
import { JsonlSource } from '../../src/storage/sources/jsonl-source.ts';
import { dumpSqlite, editSqlite, exportJsonl, fails, migrationHarness, type MigrationHarness } from '../helpers/migration.ts';

/** A line of a JSON Lines export of messages whose sender moves to a home site (their rows migrate). */
const sentByMoving = (h: MigrationHarness, line: string) =>
  line !== '' && h.fx.enclave.config.countryIndex.has(h.population.countryOf((JSON.parse(line) as { sender_account: number }).sender_account - 1));

void describe('purge: a subject whose source country changed after the verification', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(30, 21);
  });
  after(async () => h.close());

  void it('to a country of another selected jurisdiction (another home site) is refused, and nothing is deleted', async () => {
    const [virginia] = h.builds;
    assert.ok(virginia);
    const ctx = await h.open(virginia.mappingPath);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const i = [...Array(h.population.size).keys()].find((x) => legacySiteOf(x) === 'virginia' && h.fx.enclave.config.countryIndex.get(h.population.countryOf(x)) === 'us');
    assert.ok(i !== undefined);
    // Registered at the US home site; the source now says Germany, whose home site is another.
    editSqlite(virginia.path, (db) => db.prepare('UPDATE accounts SET country_code = ? WHERE id = ?').run('de', i + 1));
    const before = dumpSqlite(virginia.path);
    await assert.rejects(purgeMigration(ctx), fails('purge_refused', /re-home|another home site|registered/));
    assert.deepEqual(dumpSqlite(virginia.path), before, 'nothing was deleted');
  });
});

const filesOf = (dir: string) => new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

void describe('purge of JSON Lines: a file changed during the purge', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(30, 22);
  });
  after(async () => h.close());

  void it('a line of a moving subject edited after the purge read it (before the rewrite) is not deleted: the purge is refused', async () => {
    const { dir, mappingPath } = exportJsonl(h, 0, 'edited-midway');
    const ctx = await h.open(mappingPath);
    await new MigrationRunner(ctx).run();
    assert.equal((await verifyMigration(ctx)).ok, true);
    const file = join(dir, 'messages.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => sentByMoving(h, l));
    assert.ok(at >= 0);
    let edited: Map<string, string> | undefined;
    // The legacy application writes to the export while the purge digests the subjects table (messages
    // were read and their deletions spooled already): the message's body changes, its key does not.
    const onProgress = ({ table }: { table: string }) => {
      if (table !== 'accounts' || edited) return;
      const row = JSON.parse(lines[at] ?? '') as Record<string, unknown>;
      row['body'] = 'written during the purge: never copied';
      lines[at] = JSON.stringify(row);
      writeFileSync(file, lines.join('\n'));
      // The export as the application left it (the purge's own side files of the moment aside).
      edited = new Map([...filesOf(dir)].filter(([f]) => f.endsWith('.jsonl')));
    };
    await assert.rejects(purgeMigration(ctx, { onProgress }), fails('purge_refused', /messages\.jsonl changed during the purge.*nothing was deleted/));
    assert.ok(edited);
    assert.deepEqual(filesOf(dir), edited, 'nothing was deleted, no side file is left');
  });
});

void describe('JSON Lines numbers a 64-bit float cannot hold', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(20, 23);
  });
  after(async () => h.close());

  void it('are read exactly (integers as bigint, other numbers as their text), never rounded', async () => {
    const dir = join(h.fx.dir, 'numbers');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 't.jsonl'),
      '{"id": 9007199254740993, "n": 12345678901234567891, "d": 0.1000000000000000000001, "ok": 1.5, "big": 1e400, "nested": {"x": 12345678901234567891}}\n{"id": 9007199254740995}\n',
    );
    const source = new JsonlSource(dir);
    try {
      const rows = await source.read({ table: 't', columns: ['id', 'n', 'd', 'ok', 'big', 'nested'], key: ['id'], limit: 10 });
      assert.deepEqual(rows[0], { id: 9007199254740993n, n: 12345678901234567891n, d: '0.1000000000000000000001', ok: 1.5, big: '1e400', nested: '{"x":12345678901234567891}' });
      assert.deepEqual(rows[1]?.['id'], 9007199254740995n);
    } finally {
      await source.close();
    }
  });

  void it('a moving row holding one is copied exactly or refused, never purged after a rounded copy', async () => {
    const { dir, mappingPath } = exportJsonl(h, 0, 'big-numbers');
    const file = join(dir, 'messages.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => sentByMoving(h, l));
    assert.ok(at >= 0);
    const id = (JSON.parse(lines[at] ?? '') as { id: string }).id;
    // The export wrote the body as a JSON number of 20 digits (a `string` field).
    lines[at] = (lines[at] ?? '').replace(/"body":"(?:[^"\\]|\\.)*"/, '"body":12345678901234567891');
    writeFileSync(file, lines.join('\n'));
    const ctx = await h.open(mappingPath);
    const run = await new MigrationRunner(ctx).run();
    assert.deepEqual(run.refused, []);
    const record = await h.fx.enclave.vault.getRecord(h.fx.principals.service, 'messages', id);
    assert.equal(record.data['body'], '12345678901234567891', 'the copy holds the exact digits');
  });
});

void describe('JSON Lines bytes that are not UTF-8', () => {
  let h: MigrationHarness;
  before(async () => {
    h = await migrationHarness(20, 24);
  });
  after(async () => h.close());

  void it('are refused naming the file and line, never copied as U+FFFD (and then purged)', async () => {
    const { dir, mappingPath } = exportJsonl(h, 0, 'latin1');
    const file = join(dir, 'messages.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    const at = lines.findLastIndex((l) => sentByMoving(h, l));
    assert.ok(at >= 0);
    // An export written in Latin-1: "Müller" with ü as the single byte 0xFC.
    const [head, tail] = (lines[at] ?? '').split('"body":"');
    const bytes = lines.map((l, i) => (i === at ? Buffer.concat([Buffer.from(`${head ?? ''}"body":"M`), Buffer.from([0xfc]), Buffer.from(`ller ${tail ?? ''}`)]) : Buffer.from(l)));
    writeFileSync(file, Buffer.concat(bytes.flatMap((b, i) => (i === 0 ? [b] : [Buffer.from('\n'), b]))));
    // Refused by the first read, the mapping's check of the schema or the run.
    const copy = async () => new MigrationRunner(await h.open(mappingPath)).run();
    await assert.rejects(copy(), fails('invalid_source_data', new RegExp(`^messages\\.jsonl:${at + 1}: not valid UTF-8`)));
  });
});
