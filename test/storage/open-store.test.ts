// Storage URLs that name no store are configuration errors, never a file made somewhere by default.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import { openLogStore, openMigrationState, openStore, sqlitePathOf, storeIdentity } from '../../src/storage/open-store.ts';
import { makeFixture } from '../helpers/fixture.ts';

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

void describe('one store per home site', () => {
  void it('tells apart stores by where their data lives: the resolved file, or PostgreSQL host, port, database and schema', () => {
    assert.equal(storeIdentity('sqlite:sites/a.db', '/data'), storeIdentity('sqlite:/data/sites/../sites/a.db', '/elsewhere'));
    assert.notEqual(storeIdentity('sqlite:a.db', '/data'), storeIdentity('sqlite:b.db', '/data'));
    assert.equal(storeIdentity('sqlite::memory:', '/data'), undefined);
    assert.equal(storeIdentity('postgres://a:secret@db:5432/enclave?schema=us', '/data'), storeIdentity('postgresql://b@db/enclave?schema=us&pool_size=3', '/data'));
    assert.notEqual(storeIdentity('postgres://db/enclave?schema=us', '/data'), storeIdentity('postgres://db/enclave?schema=eu', '/data'));
    assert.doesNotMatch(storeIdentity('postgres://a:secret@db/enclave', '/data') ?? '', /secret/);
  });

  for (const [what, edit] of [
    ['two home sites', (s: string) => s.replace('storage: sqlite:sites/eu-central.db', 'storage: sqlite:sites/trusted-us.db')],
    ['a home site and the control store', (s: string) => s.replace('storage: sqlite:sites/eu-central.db', 'storage: sqlite:./control.db')],
  ] as const) {
    void it(`refuses ${what} on one file when the enclave opens (at init already)`, async () => {
      await assert.rejects(makeFixture({ config: edit }), (err: unknown) => isEnclaveError(err, 'invalid_config') && /name the same store/.test(err.message));
    });
  }
});
