// Invariant 3: no protected value is ever at rest in plaintext. A real enclave writes, updates, deletes
// and erases records carrying distinctive protected values; then the raw bytes of every file it wrote
// (databases, WAL, shared memory, anything else) are searched for them, as UTF-8 and as UTF-16LE.
// Public values are searched too, as a positive control: the scan must find what is stored in the clear.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { recordAad } from '../../src/core/record-model.ts';
import { aeadKey, open, type AeadKey } from '../../src/crypto/aead.ts';
import { siteKek } from '../../src/crypto/key-derivation.ts';
import { combineShares } from '../../src/crypto/shamir-shares.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { filesContaining, filesUnder } from '../helpers/files-at-rest.ts';

const tag = () => randomBytes(6).toString('hex');

function isIntegrityError(err: unknown): boolean {
  return err instanceof EnclaveError && err.code === 'integrity_error';
}

void describe('invariant 3: no protected value at rest in plaintext', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await fx.close();
  });

  void it('protected values written, updated, deleted and erased never appear in any file, WAL checkpointed or not', async () => {
    const { vault } = fx.enclave;
    const officer = fx.principals.officer;
    const service = fx.principals.service;
    const run = tag();
    // Every protected canary starts with this prefix, so one search also catches any canary forgotten below.
    const PREFIX = `canary-${run}`;
    const protectedValues: string[] = [];
    const p = (what: string, max = 60) => {
      const v = `${PREFIX}-${what}-${tag()}`.slice(0, max);
      protectedValues.push(v);
      return v;
    };
    const publicValue = (what: string) => `visible-${run}-${what}`;

    const us = `us-${run}`;
    const eu = `eu-${run}`;
    const gone = `gone-${run}`;
    await vault.registerSubject(service, { id: us, country: 'US' });
    await vault.registerSubject(service, { id: eu, country: 'DE' });
    await vault.registerSubject(service, { id: gone, country: 'US' });

    const usUsername = publicValue('us-name');
    const goneUsername = publicValue('gone-name');
    const usUser = await vault.createRecord(service, 'users', { id: `u-${us}`, data: { user_id: us, username: usUsername, email: `${p('email')}@x.test`, phone: p('phone', 32), birthdate: null } });
    await vault.createRecord(service, 'users', { id: `u-${eu}`, data: { user_id: eu, username: publicValue('eu-name'), email: `${p('email-eu')}@x.test` } });
    await vault.createRecord(service, 'users', { id: `u-${gone}`, data: { user_id: gone, username: goneUsername, email: `${p('email-gone')}@x.test` } });
    await vault.createRecord(service, 'messages', {
      id: `m1-${us}`,
      data: { sender_id: us, recipient_id: p('recipient'), body: `Hello, this is a private message: ${p('body', 200)} — ünïcödé ✓`, sent_at: '2024-05-01T10:00:00Z' },
    });
    await vault.createRecord(service, 'messages', { id: `m2-${us}`, data: { sender_id: us, recipient_id: p('recipient2'), body: p('body-deleted'), sent_at: '2024-05-01T10:01:00Z' } });
    await vault.createRecord(service, 'devices', { id: `d-${eu}`, data: { user_id: eu, model: p('model'), os: p('os'), ip_address: p('ip', 45), location: p('location') } });
    await vault.createRecord(service, 'watch_history', { id: `w-${gone}`, data: { user_id: gone, video_id: p('video'), watched_at: '2024-05-02T00:00:00Z', seconds: 42 } });
    await vault.createRecord(service, 'messages', { id: `m-${gone}`, data: { sender_id: gone, recipient_id: p('recipient-gone'), body: p('body-gone'), sent_at: '2024-05-01T10:02:00Z' } });
    await vault.createRecord(service, 'videos', { id: `v-${us}`, data: { owner_id: us, title: publicValue('title'), views: 7, published_at: '2024-01-01T00:00:00Z' } });
    // Updates: both the old and the new protected values must stay out of the files.
    await vault.replaceRecord(service, 'users', `u-${us}`, { data: { user_id: us, username: usUsername, email: `${p('email-v2')}@x.test`, phone: p('phone-v2', 32) }, ifMatch: { version: usUser.version, createdAt: Date.parse(usUser.created_at) } });
    await vault.replaceRecord(service, 'devices', `d-${eu}`, { data: { user_id: eu, model: p('model-v2'), os: p('os-v2'), ip_address: p('ip-v2', 45) } });
    await vault.deleteRecord(service, 'messages', `m2-${us}`);

    const dataFiles = filesUnder(fx.dataDir).map((f) => f.slice(fx.dataDir.length + 1));
    // The scan covers the WAL while it still holds the writes (nothing has checkpointed it yet).
    const usWal = join(fx.dataDir, 'sites', 'trusted-us.db-wal');
    assert.ok(statSync(usWal).size > 0, 'the WAL holds uncheckpointed writes');
    assert.ok(dataFiles.includes('sites/trusted-us.db-shm'));
    assert.ok(filesContaining(fx.dataDir, usUsername).includes('sites/trusted-us.db-wal'), 'positive control: a public value is found in the WAL');

    const scan = (when: string) => {
      for (const dir of [fx.dataDir, fx.dir]) {
        assert.deepEqual(filesContaining(dir, PREFIX), [], `${when}: no protected canary in any file under ${dir}`);
        for (const v of protectedValues) assert.deepEqual(filesContaining(dir, v), [], `${when}: ${v} is not at rest in plaintext`);
      }
    };
    scan('before any checkpoint');

    // Erasure checkpoints the WAL (scrub): scan again with the data in the main files.
    await vault.eraseSubject(officer, gone);
    scan('after erasure and checkpoint');
    assert.ok(filesContaining(fx.dataDir, usUsername).length > 0, 'positive control: a live public value is found');
    assert.deepEqual(filesContaining(fx.dataDir, goneUsername), [], 'an erased subject\'s public fields are blanked and scrubbed too');

    // And after a clean close, when every file is final.
    await fx.enclave.close();
    scan('after close');
    assert.ok(filesContaining(fx.dataDir, publicValue('title')).length > 0, 'positive control after close');
  });
});

void describe('crypto-shredding: erasure destroys the only way to read a subject\'s protected fields', () => {
  let fx: Fixture;
  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await fx.close();
  });

  void it('keeps the ciphertext, destroys the wrapped key everywhere on disk, and no key the enclave holds opens it', async () => {
    const { vault, sites, keyring } = fx.enclave;
    const officer = fx.principals.officer;
    const store = sites.get('trusted-us');
    assert.ok(store);
    const id = `shred-${tag()}`;
    const other = `keep-${tag()}`;
    await vault.registerSubject(officer, { id, country: 'US' });
    await vault.registerSubject(officer, { id: other, country: 'US' });
    await vault.createRecord(officer, 'users', { id: `u-${id}`, data: { user_id: id, username: 'x', email: 'shred@x.test' } });
    await vault.createRecord(officer, 'users', { id: `u-${other}`, data: { user_id: other, username: 'y', email: 'keep@x.test' } });

    const wrapped = (await store.subjects.get(id))?.wrappedKey;
    assert.ok(wrapped, 'the subject has a wrapped key before erasure');
    const sealedBefore = (await store.records.get('users', `u-${id}`))?.sealed;
    assert.ok(sealedBefore);
    assert.ok(filesContaining(fx.dataDir, wrapped).length > 0, 'positive control: the wrapped key is found on disk before erasure');

    const result = await vault.eraseSubject(officer, id);
    assert.equal(result.records, 1);

    const row = await store.records.get('users', `u-${id}`);
    assert.ok(row, 'the record row still exists');
    assert.ok(row.sealed);
    assert.deepEqual(Buffer.from(row.sealed), Buffer.from(sealedBefore), 'the ciphertext is kept as it was');
    assert.equal(row.publicJson, '{}');
    const subject = await store.subjects.get(id);
    assert.equal(subject?.wrappedKey, null);
    assert.notEqual(subject?.erasedAt, null);

    await assert.rejects(vault.getRecord(officer, 'users', `u-${id}`), (err: unknown) => err instanceof EnclaveError && err.code === 'subject_erased');
    await assert.rejects(vault.listSubjectRecords(officer, id), (err: unknown) => err instanceof EnclaveError && err.code === 'subject_erased');

    assert.deepEqual(filesContaining(fx.dataDir, wrapped), [], 'no copy of the wrapped key survives in any file (db, WAL, shm)');

    // Every key the enclave can still derive or unwrap fails to open the erased subject's ciphertext.
    const root = await combineShares(fx.shares.slice(0, 2));
    const otherWrapped = (await store.subjects.get(other))?.wrappedKey;
    assert.ok(otherWrapped);
    const candidates: [string, AeadKey][] = [
      ['root key', aeadKey(root)],
      ...[...fx.enclave.config.sites.keys()].map((s): [string, AeadKey] => [`KEK of ${s}`, aeadKey(siteKek(root, s))]),
      ['another subject\'s data key', keyring.unwrap('trusted-us', other, otherWrapped)],
    ];
    const aad = recordAad('users', `u-${id}`, id, row.version);
    for (const [name, key] of candidates) {
      assert.throws(() => open(key, row.sealed ?? new Uint8Array(), aad), isIntegrityError, `${name} does not open the erased ciphertext`);
    }
    // The keyring keeps no cached data key for the erased subject: unwrapping anything for them fails
    // instead of answering from the cache.
    assert.throws(() => keyring.unwrap('trusted-us', id, otherWrapped), isIntegrityError);
    // The other subject is untouched (read by the platform service: an officer needs a grant).
    assert.equal((await vault.getRecord(fx.principals.service, 'users', `u-${other}`)).data['email'], 'keep@x.test');
  });
});
