// The SQLite adapter against the shared conformance suite, on a file and in memory, plus what only a
// file-backed store can show: data survives closing and reopening.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { UNMARKED } from '../../src/core/store.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { storeConformance } from './conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'enclave-sqlite-'));
let n = 0;

storeConformance(
  'sqlite (file)',
  () => new SqliteStore({ path: join(dir, 'conformance', `store-${++n}.db`) }),
  async () => {
    rmSync(join(dir, 'conformance'), { recursive: true, force: true });
    return Promise.resolve();
  },
);

storeConformance('sqlite (:memory:)', () => new SqliteStore({ path: ':memory:' }));

// A single file shared by every test of the suite: the suite must not depend on a fresh database.
const shared = join(dir, 'shared', 'store.db');
storeConformance('sqlite (one shared file)', () => new SqliteStore({ path: shared }));

void describe('SqliteStore on a file', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('keeps subjects, records, tokens and meta across close and reopen', async () => {
    const path = join(dir, 'reopen', 'nested', 'site.db');
    const first = new SqliteStore({ path });
    const key = Buffer.from([0, 1, 2, 3, 250]);
    await first.subjects.insert({ id: 's1', country: 'US', jurisdiction: 'us', wrappedKey: key, keyId: 'k1', createdAt: 1, erasedAt: null, ...UNMARKED });
    await first.records.insert({ collection: 'users', id: 'r1', subject: 's1', version: 1, publicJson: '{"a":1}', sealed: key, createdAt: 1, updatedAt: 1, createdBy: null });
    await first.tokens.create({ id: 'p1', org: 'o', role: 'r', createdAt: 1 }, { id: 't1', hash: 'h1', principalId: 'p1', label: '', createdAt: 1, expiresAt: null, revokedAt: null, replaces: null, lineage: 't1' });
    await first.meta.put('k', 'v');
    await first.close();

    const second = new SqliteStore({ path });
    try {
      assert.deepEqual(Buffer.from((await second.subjects.get('s1'))?.wrappedKey ?? []), key);
      assert.equal((await second.records.get('users', 'r1'))?.publicJson, '{"a":1}');
      assert.equal((await second.tokens.findByHash('h1'))?.principal.id, 'p1');
      assert.equal(await second.meta.get('k'), 'v');
    } finally {
      await second.close();
    }
  });

  void it('close is idempotent', async () => {
    const s = new SqliteStore({ path: join(dir, 'twice.db') });
    await s.close();
    await s.close();
    assert.equal(s.driver, 'sqlite');
  });
});

void describe('two handles on one file (a running server and the CLI)', () => {
  void it('a revocation, an erasure or a move made through one handle is seen at once through the other', async () => {
    const path = join(dir, 'two-handles', 'site.db');
    const server = new SqliteStore({ path });
    const cli = new SqliteStore({ path });
    const key = Buffer.from([9, 9, 9]);
    await cli.subjects.insert({ id: 's1', country: 'US', jurisdiction: 'us', wrappedKey: key, keyId: 'k1', createdAt: 1, erasedAt: null, ...UNMARKED });
    await cli.tokens.create({ id: 'p1', org: 'o', role: 'r', createdAt: 1 }, { id: 't1', hash: 'h1', principalId: 'p1', label: '', createdAt: 1, expiresAt: null, revokedAt: null, replaces: null, lineage: 't1' });
    // The server reads (and caches) both rows.
    assert.equal((await server.tokens.findByHash('h1'))?.token.revokedAt, null);
    assert.ok((await server.subjects.get('s1'))?.wrappedKey);
    assert.ok((await server.subjects.get('s1'))?.wrappedKey, 'read twice: served from the cache');
    // Another process changes them.
    assert.deepEqual(await cli.tokens.revoke('t1', 5), ['t1']);
    assert.equal(await cli.subjects.erase('s1', 6), 0);
    assert.equal((await server.tokens.findByHash('h1'))?.token.revokedAt, 5, 'a revoked token is never served from a stale cache');
    const erased = await server.subjects.get('s1');
    assert.deepEqual([erased?.wrappedKey, erased?.erasedAt], [null, 6], 'an erased subject\'s key is never served from a stale cache');
    await cli.subjects.setResidence('s1', 'PR', 'us');
    assert.equal((await server.subjects.get('s1'))?.country, 'PR');
    await cli.purgeSubject('s1');
    assert.equal(await server.subjects.get('s1'), undefined);
    await server.close();
    await cli.close();
  });
});
