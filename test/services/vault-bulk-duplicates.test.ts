// One id, one home, inside one bulk call too: a subject id or a record id given twice in one import (a
// caller's batch, a migration page assembled from two tables) is stored once, at one home site.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/core/store.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';

const uid = (p: string) => `${p}-${randomBytes(5).toString('hex')}`;

void describe('a bulk import naming one id twice', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await fx.close();
  });

  async function sitesHolding(read: (store: Store) => Promise<unknown>): Promise<string[]> {
    const out: string[] = [];
    for (const [name, store] of fx.enclave.sites) if ((await read(store)) !== undefined) out.push(name);
    return out;
  }

  void it('registers a subject id given with the countries of two jurisdictions once, at the first one\'s home, and refuses the other', async () => {
    const s = uid('twice');
    const same = uid('same');
    const r = await fx.enclave.vault.importSubjects(fx.principals.service, [
      { id: s, country: 'US' },
      { id: same, country: 'US' },
      { id: s, country: 'DE' },
      { id: same, country: 'PR' },
    ]);
    assert.deepEqual([r.created, r.existing, r.refused], [2, 1, [{ id: s, code: 'subject_exists' }]]);
    assert.deepEqual(await sitesHolding((store) => store.subjects.get(s)), ['trusted-us']);
    assert.deepEqual(await sitesHolding((store) => store.subjects.get(same)), ['trusted-us']);
    assert.equal((await fx.enclave.vault.getSubject(fx.principals.service, s)).country, 'US');
  });

  void it('refuses a record id given to two subjects of two home sites in one batch: stored once, at the first one\'s site', async () => {
    const a = uid('a');
    const b = uid('b');
    const id = uid('rec');
    await fx.enclave.vault.registerSubject(fx.principals.service, { id: a, country: 'US' });
    await fx.enclave.vault.registerSubject(fx.principals.service, { id: b, country: 'DE' });
    const r = await fx.enclave.vault.importRecords(fx.principals.service, 'users', [
      { id, data: { user_id: a, username: 'a', email: 'a@x.test' } },
      { id, data: { user_id: b, username: 'b', email: 'b@x.test' } },
    ]);
    assert.deepEqual([r.created, r.refused], [1, [{ id, code: 'subject_mismatch' }]]);
    assert.deepEqual(await sitesHolding((store) => store.records.get('users', id)), ['trusted-us']);
    assert.equal((await fx.enclave.vault.getRecord(fx.principals.service, 'users', id)).subject, a);
  });
});
