// Storage URLs that name no store are configuration errors, never a file made somewhere by default.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import { openLogStore, openMigrationState, openStore, sqlitePathOf } from '../../src/storage/open-store.ts';

void describe('storage URLs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'enclave-open-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('resolves sqlite paths against the data directory, and an empty one to nothing', () => {
    assert.equal(sqlitePathOf('sqlite:site.db', dir), join(dir, 'site.db'));
    assert.equal(sqlitePathOf('sqlite::memory:', dir), ':memory:');
    assert.equal(sqlitePathOf('sqlite:', dir), '');
    assert.equal(sqlitePathOf('postgres://h/db', dir), undefined);
  });

  void it('refuses "sqlite:" with no path for every kind of store, creating nothing', async () => {
    const opens: [string, () => Promise<unknown>][] = [
      ['store', () => openStore('sqlite:', dir)],
      ['log store', () => openLogStore('sqlite:', dir)],
      ['migration state', () => openMigrationState('sqlite:', dir)],
    ];
    for (const [what, open] of opens) {
      await assert.rejects(open(), (err: unknown) => isEnclaveError(err, 'invalid_config') && /names no file/.test(err.message), what);
    }
    assert.deepEqual(readdirSync(dir), []);
  });
});
