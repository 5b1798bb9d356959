// The keyring's data-key cache: a subject's records are always sealed under the key that is stored
// for them, even when this process made another key for the same subject and lost the race to store it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { open, seal } from '../../src/crypto/aead.ts';
import { Keyring } from '../../src/services/keyring.ts';

const aad = new TextEncoder().encode('["enclave/record/v1","users","r1","s1",1]');

void describe('Keyring', () => {
  void it('unwraps the stored key, not a key it made for a registration another process won', () => {
    const root = randomBytes(32);
    const mine = new Keyring();
    const theirs = new Keyring();
    mine.load(root);
    theirs.load(root);
    // Both register subject s at the same time; the other process's row is the one stored.
    const lost = mine.newSubjectKey('us', 's');
    const stored = theirs.newSubjectKey('us', 's');
    const dek = mine.unwrap('us', 's', stored.wrapped);
    const sealed = seal(dek, Buffer.from('protected'), aad);
    assert.equal(open(theirs.unwrap('us', 's', stored.wrapped), sealed, aad).toString(), 'protected', 'sealed under the stored key');
    const third = new Keyring();
    third.load(root);
    assert.throws(() => open(third.unwrap('us', 's', lost.wrapped), sealed, aad), (e: unknown) => e instanceof EnclaveError && e.code === 'integrity_error');
    // A cached key serves only the wrapped key it came from.
    assert.ok(mine.unwrap('us', 's', stored.wrapped).equals(dek));
    assert.ok(!mine.unwrap('us', 's', lost.wrapped).equals(dek));
  });

  void it('a wrapped key moved to another subject or site does not unwrap, even while its own key is cached', () => {
    const k = new Keyring();
    k.load(randomBytes(32));
    const a = k.newSubjectKey('us', 'a').wrapped;
    k.newSubjectKey('us', 'b');
    k.unwrap('us', 'a', a);
    const integrity = (e: unknown) => e instanceof EnclaveError && e.code === 'integrity_error';
    assert.throws(() => k.unwrap('us', 'b', a), integrity);
    assert.throws(() => k.unwrap('eu', 'a', a), integrity);
  });

  void it('sealing wipes the cached data keys: a cached key is not served while sealed', () => {
    const k = new Keyring();
    k.load(randomBytes(32));
    const a = k.newSubjectKey('us', 'a').wrapped;
    k.unwrap('us', 'a', a);
    k.drop();
    assert.throws(() => k.unwrap('us', 'a', a), (e: unknown) => e instanceof EnclaveError && e.code === 'sealed');
  });
});
