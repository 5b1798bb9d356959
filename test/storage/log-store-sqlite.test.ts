// The SQLite log store against the shared conformance suite (writes on its writer thread, and inline),
// plus what only a file can show: entries, tiles and checkpoints survive closing and reopening, and the
// log keeps its own migration history.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import { SqliteLogStore } from '../../src/storage/sqlite/sqlite-log-store.ts';
import { SQLITE_LOG_MIGRATIONS } from '../../src/storage/sqlite/sqlite-log-migrations.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { logStoreConformance } from './log-store-conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'enclave-log-store-'));
let n = 0;

logStoreConformance('sqlite (file, writer thread)', () => new SqliteLogStore({ path: join(dir, 'conformance', `log-${++n}.db`) }), undefined, { finishesEntries: true });
logStoreConformance('sqlite (file, inline writer)', () => new SqliteLogStore({ path: join(dir, 'conformance', `log-${++n}.db`), writer: 'inline' }), undefined, { finishesEntries: true });
logStoreConformance('sqlite (:memory:)', () => new SqliteLogStore({ path: ':memory:' }), undefined, { finishesEntries: true });
// One file for every test: the suite must not depend on a fresh database.
logStoreConformance('sqlite (one shared file)', () => new SqliteLogStore({ path: join(dir, 'shared', 'log.db') }), undefined, { finishesEntries: true });

void describe('SqliteLogStore on a file', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('keeps entries, tiles, tree size, checkpoints and meta across close and reopen', async () => {
    const path = join(dir, 'reopen', 'log.db');
    const first = new SqliteLogStore({ path });
    await first.append([{ time: 1, type: 'token.issued', principal: null, subject: null, body: Buffer.from('{"a":1}') }]);
    await first.integrate(0, 1, [{ level: 0, index: 0, width: 1, data: Buffer.alloc(32, 7) }]);
    await first.putCheckpoint({ size: 1, time: 2, text: 'origin\n1\nAAAA\n' });
    await first.putMetaIfAbsent('origin', 'o');
    await first.close();

    const again = new SqliteLogStore({ path });
    assert.equal(await again.size(), 1);
    assert.equal(Buffer.from((await again.readEntries(0, 1))[0] ?? []).toString(), '{"a":1}');
    assert.equal(await again.treeSize(), 1);
    assert.equal((await again.readTile(0, 0))?.width, 1);
    assert.equal((await again.latestCheckpoint())?.text, 'origin\n1\nAAAA\n');
    assert.equal(await again.getMeta('origin'), 'o');
    await again.close();
  });

  void it('can share a file with a vault store: each keeps its own migration history', async () => {
    const path = join(dir, 'shared-with-vault', 'one.db');
    const vault = new SqliteStore({ path });
    const log = new SqliteLogStore({ path });
    assert.equal(await log.append([{ time: 1, type: 'token.issued', principal: null, subject: null, body: Buffer.from('{}') }]), 0);
    await vault.meta.put('k', 'v');
    await log.close();
    await vault.close();
    // Reopening both applies nothing twice and refuses nothing.
    const log2 = new SqliteLogStore({ path });
    const vault2 = new SqliteStore({ path });
    assert.equal(await log2.size(), 1);
    await log2.close();
    await vault2.close();
  });

  void it('migration 2 moves the subject index to integration time and backfills it for the integrated entries', async () => {
    const path = join(dir, 'migrate-2', 'log.db');
    const v1 = new SqliteLogStore({ path, migrations: SQLITE_LOG_MIGRATIONS.slice(0, 1) });
    const row = (subject: string) => ({ time: 1, type: 'access.decision', principal: null, subject, body: Buffer.from('{}') });
    await v1.append([row('s1'), row('s2'), row('s1')]);
    await v1.close();
    // A tree of 2 integrated by a build of schema 1 (whose integrate knew no subject index).
    const raw = new DatabaseSync(path);
    raw.prepare("UPDATE log_meta SET value = '2' WHERE key = 'tree_size'").run();
    raw.close();
    const v2 = new SqliteLogStore({ path });
    assert.deepEqual((await v2.search({ subject: 's1', limit: 10 })).map((e) => e.index), [0], 'integrated entries are indexed');
    await v2.integrate(2, 3, []);
    assert.deepEqual((await v2.search({ subject: 's1', limit: 10 })).map((e) => e.index), [0, 2]);
    await v2.close();
  });

  void it('refuses to open a log whose applied migration was modified', async () => {
    const path = join(dir, 'modified', 'log.db');
    await new SqliteLogStore({ path }).close();
    const modified = SQLITE_LOG_MIGRATIONS.map((m) => ({ ...m, sql: `${m.sql}\n-- edited` }));
    assert.throws(() => new SqliteLogStore({ path, migrations: modified }), (e) => isEnclaveError(e, 'migration_refused'));
  });
});
