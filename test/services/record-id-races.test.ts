// One record id, one record (records are addressed by collection and id alone). Home sites are separate
// stores sharing no unique key, so two creates of one id for subjects whose homes are at two sites each
// found the id nowhere and stored it, through one instance or two: both were acknowledged, and a later
// read, update or delete of the id reached whichever site was looked at first. A create now claims the id
// in the control store while it checks the other sites and stores (services/vault.ts claimingRecordIds).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { Store } from '../../src/core/store.ts';
import { makeFixture } from '../helpers/fixture.ts';
import { postgresSkip } from '../helpers/postgres.ts';
import { codeOf, raceAtEntry, settle, twoInstances } from '../helpers/two-instances.ts';

const skip = await postgresSkip();
const US = 'trusted-us';
const EU = 'eu-central';
const fresh = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const userData = (subject: string) => ({ user_id: subject, username: `name-${subject}`, email: `${subject}@x.test` });

/** The home sites holding a `users` record with this id. */
async function holders(store: (site: string) => Store, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const site of [US, EU]) if (await store(site).records.get('users', id)) out.push(site);
  return out;
}

void describe('one record id created for subjects at two home sites at once, in one instance', () => {
  void it('exactly one create is stored; the other is refused with record_exists', async () => {
    const fx = await makeFixture();
    try {
      const vault = fx.enclave.vault;
      const us = fresh('us');
      const eu = fresh('eu');
      await vault.registerSubject(fx.principals.service, { id: us, country: 'US' });
      await vault.registerSubject(fx.principals.service, { id: eu, country: 'DE' });
      const create = (id: string, s: string) => settle(vault.createRecord(fx.principals.service, 'users', { id, data: userData(s) }));
      const id = fresh('rec');
      const outcomes = await Promise.all([create(id, us), create(id, eu)]);
      assert.deepEqual(outcomes.map((o) => codeOf(o) ?? 'created'), ['created', 'record_exists']);
      assert.deepEqual(await holders((site) => fx.enclave.router.store(site), id), [US]);
      // A create and a bulk load at once: the same.
      const other = fresh('rec');
      const [created, imported] = await Promise.all([create(other, eu), settle(vault.importRecords(fx.principals.service, 'users', [{ id: other, data: userData(us) }]))]);
      assert.ok(!(imported instanceof Error), inspect(imported));
      // Whichever came first is stored, the other refused.
      const createWon = codeOf(created) === undefined;
      assert.equal(codeOf(created), createWon ? undefined : 'record_exists', inspect(created));
      assert.deepEqual(imported.refused, createWon ? [{ id: other, code: 'subject_mismatch' }] : []);
      assert.deepEqual(await holders((site) => fx.enclave.router.store(site), other), [createWon ? EU : US]);
    } finally {
      await fx.close();
    }
  });
});

for (const backend of ['PostgreSQL', 'SQLite'] as const) {
  void describe(`one record id created through two instances at once (${backend})`, { skip: backend === 'PostgreSQL' ? skip : false, timeout: 120_000 }, () => {
    const two = twoInstances(backend, 'rid');
    const store = (site: string): Store => two.a.enclave.router.store(site);
    const subjects = async () => {
      const us = fresh('us');
      const eu = fresh('eu');
      await two.a.enclave.vault.registerSubject(two.a.principals.service, { id: us, country: 'US' });
      await two.a.enclave.vault.registerSubject(two.a.principals.service, { id: eu, country: 'DE' });
      return { us, eu };
    };
    const createA = (id: string, s: string) => two.a.enclave.vault.createRecord(two.a.principals.service, 'users', { id, data: userData(s) });
    const createB = (id: string, s: string) => two.b.vault.createRecord(two.a.principals.service, 'users', { id, data: userData(s) });

    const race = <T>(first: () => Promise<unknown>, second: () => Promise<T>) => raceAtEntry(two, 'record.created', first, second);

    void it('B creating the id A is creating, for a subject at another site, is refused (409 record_exists)', async () => {
      const { us, eu } = await subjects();
      const id = fresh('rec');
      const { first, second } = await race(() => createA(id, us), () => createB(id, eu));
      assert.ok(!(first instanceof Error), `A's create failed: ${String(first)}`);
      assert.equal(codeOf(second), 'record_exists', inspect(second));
      assert.match((second as Error).message, /being created by another request/);
      assert.deepEqual(await holders(store, id), [US]);
      // Once A's is stored, B is told the record exists, as any later create.
      const again = await settle(createB(id, eu));
      assert.equal(codeOf(again), 'record_exists');
      assert.match((again as Error).message, /already exists/);
      // The id names one record: B reads and deletes A's.
      assert.equal((await two.b.vault.getRecord(two.a.principals.service, 'users', id)).subject, us);
      await two.b.vault.deleteRecord(two.a.principals.service, 'users', id);
      assert.deepEqual(await holders(store, id), []);
      // Deleted, the id is free again, for a subject at another site (a claim lasts only while its create runs).
      assert.equal((await createB(id, eu)).subject, eu);
      assert.deepEqual(await holders(store, id), [EU]);
    });

    void it('a bulk load through B during A\'s create refuses that id (record_exists) and stores the others', async () => {
      const { us, eu } = await subjects();
      const id = fresh('rec');
      const other = fresh('rec');
      const { first, second } = await race(
        () => createA(id, us),
        () => two.b.vault.importRecords(two.a.principals.service, 'users', [{ id, data: userData(eu) }, { id: other, data: userData(eu) }]),
      );
      assert.ok(!(first instanceof Error), `A's create failed: ${String(first)}`);
      assert.ok(!(second instanceof Error), inspect(second));
      assert.deepEqual(second.refused, [{ id, code: 'record_exists' }]);
      assert.equal(second.created, 1);
      assert.deepEqual(await holders(store, id), [US]);
      assert.deepEqual(await holders(store, other), [EU]);
      // The next pass finds A's record: another subject's id.
      const again = await two.b.vault.importRecords(two.a.principals.service, 'users', [{ id, data: userData(eu) }]);
      assert.deepEqual(again.refused, [{ id, code: 'subject_mismatch' }]);
    });

    void it('a bulk load through A that fails after A was sealed still lets go of its claims: B then creates those ids', async () => {
      const { us, eu } = await subjects();
      const ids = [fresh('rec'), fresh('rec')];
      // A's claims are named by a key derived from the root key, which the seal drops; its store then fails.
      const records = store(US).records;
      const insertMany = Object.getOwnPropertyDescriptor(records, 'insertMany');
      let reach!: () => void;
      const reached = new Promise<void>((r) => (reach = r));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      Object.defineProperty(records, 'insertMany', { configurable: true, writable: true, value: async () => {
        reach();
        await gate;
        throw new Error('the store went away');
      } });
      try {
        const running = settle(two.a.enclave.vault.importRecords(two.a.principals.service, 'users', ids.map((id) => ({ id, data: userData(us) }))));
        await reached;
        two.a.enclave.seal.seal();
        release();
        const outcome = await running;
        assert.ok(outcome instanceof Error && /the store went away/.test(outcome.message), inspect(outcome));
      } finally {
        release();
        if (insertMany) Object.defineProperty(records, 'insertMany', insertMany);
        else delete (records as { insertMany?: unknown }).insertMany;
        for (const share of two.a.shares) await two.a.enclave.seal.submit(share);
      }
      assert.equal(two.a.enclave.seal.status().sealed, false);
      for (const id of ids) {
        assert.deepEqual(await holders(store, id), []);
        // A claim of A's left behind would refuse this as being created by another request while A lives.
        assert.equal((await createB(id, eu)).subject, eu);
      }
    });
  });
}

void describe('one record id created twice at once in an enclave with one home site', () => {
  void it('the site\'s own key keeps it to one record (no claim is needed): one create is stored, the other refused with record_exists', async () => {
    // The EU jurisdiction keeps no home site: every record is stored at trusted-us.
    const fx = await makeFixture({
      config: (starter) => starter.replace('    home_site: eu-central\n', '').replace(/ {2}- id: eu-central\n(?: {4}.*\n)+/, ''),
    });
    try {
      assert.deepEqual([...fx.enclave.sites.keys()], [US]);
      const vault = fx.enclave.vault;
      const [a, b] = [fresh('us'), fresh('us')];
      for (const s of [a, b]) await vault.registerSubject(fx.principals.service, { id: s, country: 'US' });
      const id = fresh('rec');
      const outcomes = await Promise.all([a, b].map((s) => settle(vault.createRecord(fx.principals.service, 'users', { id, data: userData(s) }))));
      assert.deepEqual(outcomes.map((o) => codeOf(o) ?? 'created').sort(), ['created', 'record_exists']);
      const imported = await vault.importRecords(fx.principals.service, 'users', [{ id, data: userData(b) }]);
      assert.equal(imported.created, 0);
      assert.equal((await fx.enclave.router.store(US).records.get('users', id)) !== undefined, true);
    } finally {
      await fx.close();
    }
  });
});
