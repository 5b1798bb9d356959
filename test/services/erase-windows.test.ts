// Crypto-shredding at the edges of an erasure's own steps: between the commit of the erased row and the
// end of the store's scrub (a WAL checkpoint; a VACUUM on PostgreSQL), and at the destination of a move
// the erasure takes over, where a whole copy may land between the erasure's read and its write.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import type { Store } from '../../src/core/store.ts';
import { filesContaining } from '../helpers/files-at-rest.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { hold, whileHeld } from '../helpers/hold.ts';

const uid = (p: string) => `${p}-${randomBytes(5).toString('hex')}`;
const userData = (subject: string) => ({ user_id: subject, username: `name-${subject}`, email: `${subject}@x.test`, phone: '+1 555 0100' });

void describe('an erasure, step by step', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await fx.close();
  });
  const site = (id: string): Store => {
    const s = fx.enclave.sites.get(id);
    assert.ok(s, id);
    return s;
  };

  void it('a read that loaded the row before the erasure and reaches the key while the erased row is being scrubbed decrypts nothing', async () => {
    const v = fx.enclave.vault;
    const s = uid('scrubbing');
    await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
    await v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
    // The data key is in the cache, as it is for any subject read lately.
    await v.getRecord(fx.principals.service, 'users', `${s}-u`);
    const reading = hold(fx.enclave.decisions, 'decide', (req) => req.action === 'record.read', { once: true, afterCall: true });
    const read = v.getRecord(fx.principals.service, 'users', `${s}-u`).then(
      (view) => view,
      (err: unknown) => err,
    );
    await reading.reached;
    // The erasure has committed and is scrubbing when the read goes on.
    const scrubbing = hold(site('trusted-us'), 'scrub', () => true, { once: true });
    const erasing = v.eraseSubject(fx.principals.officer, s);
    await whileHeld(scrubbing, async () => {
      await scrubbing.reached;
      assert.notEqual((await site('trusted-us').subjects.get(s))?.erasedAt ?? null, null, 'the erased row is committed');
      reading.release();
      reading.restore();
      const outcome = await read;
      assert.ok(outcome instanceof EnclaveError, `expected a refusal, got ${inspect(outcome)}`);
      assert.equal(outcome.code, 'subject_moving', outcome.message);
    });
    await erasing;
    await assert.rejects(v.getRecord(fx.principals.service, 'users', `${s}-u`), (e: unknown) => e instanceof EnclaveError && e.code === 'subject_erased');
  });

  void it('an erasure refused by the store leaves the live subject readable on this instance', async () => {
    const v = fx.enclave.vault;
    const s = uid('refused');
    await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
    await v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
    const us = site('trusted-us');
    const erase = us.subjects.erase.bind(us.subjects);
    // Another instance marks the subject for a move between this erasure's read and its write.
    us.subjects.erase = async (id, at, owner) => {
      await us.subjects.setMovedTo(id, { site: 'eu-central', owner: 'other-host:1:aa', startedAt: Date.now() }, null);
      return erase(id, at, owner);
    };
    try {
      await assert.rejects(v.eraseSubject(fx.principals.officer, s), (e: unknown) => e instanceof EnclaveError && e.code === 'subject_moving');
    } finally {
      us.subjects.erase = erase;
    }
    // The other instance's move was given up; the subject lives on here and its key opens.
    assert.equal(await us.subjects.setMovedTo(s, null, 'other-host:1:aa'), true);
    assert.equal((await v.getRecord(fx.principals.service, 'users', `${s}-u`)).data['email'], `${s}@x.test`);
  });

  void it("a whole copy that lands at the move's destination while the erasure runs leaves no wrapped key in that site's files", async () => {
    const { vault, keyring } = fx.enclave;
    const s = uid('landed');
    await vault.registerSubject(fx.principals.service, { id: s, country: 'US' });
    await vault.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
    const us = site('trusted-us');
    const eu = site('eu-central');
    const row = await us.subjects.get(s);
    assert.ok(row?.wrappedKey);
    // Another instance's move, live: marked, its copy not made yet when the erasure reads the subject.
    assert.equal(await us.subjects.setMovedTo(s, { site: 'eu-central', owner: 'other-host:1:bb', startedAt: Date.now() }, null), true);
    const logged = hold(fx.enclave.log, 'append', (e) => e.type === 'subject.erased' && e.subject === s, { once: true, afterCall: true });
    const erasing = vault.eraseSubject(fx.principals.officer, s);
    const copied = keyring.rewrap('trusted-us', 'eu-central', s, row.wrappedKey);
    await whileHeld(logged, async () => {
      await logged.reached;
      // Its copy commits at the destination now, after the erasure read the subject.
      await eu.importSubject({ ...row, country: 'DE', jurisdiction: 'eu', wrappedKey: copied, movedTo: null, moveOwner: null, moveStartedAt: null }, await us.records.listBySubject(s));
      assert.ok(filesContaining(fx.dataDir, copied).length > 0, 'positive control: the copied wrapped key is on disk');
    });
    await erasing;
    for (const [name, store] of fx.enclave.sites) assert.equal((await store.subjects.get(s))?.wrappedKey ?? null, null, `no live data key at ${name}`);
    assert.deepEqual(filesContaining(fx.dataDir, copied), [], 'no copy of the destination\'s wrapped key survives in any file');
    assert.deepEqual(filesContaining(fx.dataDir, row.wrappedKey), [], 'nor of the source\'s');
  });
});
