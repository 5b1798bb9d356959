// Crypto-shredding takes effect at once on this instance: a request that read a subject's row before the
// subject was erased and reaches its data key only after the erasure
// neither decrypts with it nor puts it back in the data-key cache; it is answered subject_moving (retry),
// and the retry finds the subject erased.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { Keyring } from '../../src/services/keyring.ts';
import { makeFixture } from '../helpers/fixture.ts';
import { hold } from '../helpers/hold.ts';

const userData = (subject: string) => ({ user_id: subject, username: `name-${subject}`, email: `${subject}@x.test`, phone: '+1 555 0100' });

function cachedKeys(keyring: Keyring): number {
  return (keyring as unknown as { deks: { size: number } }).deks.size;
}

void describe('an erasure while a read is under way', () => {
  void it('the read that reaches the key after the erasure gets subject_moving, nothing decrypted, and the erased key is not cached again', async () => {
    const fx = await makeFixture();
    try {
      const v = fx.enclave.vault;
      const s = `inflight-${randomBytes(4).toString('hex')}`;
      await v.registerSubject(fx.principals.service, { id: s, country: 'US' });
      await v.createRecord(fx.principals.service, 'users', { id: `${s}-u`, data: userData(s) });
      // Hold the read after it loaded the subject's row and its decision, before it opens the record.
      const held = hold(fx.enclave.decisions, 'decide', (req) => req.action === 'record.read', { once: true, afterCall: true });
      const read = v.getRecord(fx.principals.service, 'users', `${s}-u`).then(
        (view) => view,
        (err: unknown) => err,
      );
      await held.reached;
      await v.eraseSubject(fx.principals.officer, s);
      assert.equal(cachedKeys(fx.enclave.keyring), 0, 'the erasure forgot the key');
      held.release();
      const outcome = await read;
      assert.ok(outcome instanceof EnclaveError, `expected a refusal, got ${inspect(outcome)}`);
      assert.equal(outcome.code, 'subject_moving', outcome.message);
      assert.equal(cachedKeys(fx.enclave.keyring), 0, 'the erased subject\'s key is not cached again');
      // Retried, the read finds the subject erased.
      await assert.rejects(v.getRecord(fx.principals.service, 'users', `${s}-u`), (e: unknown) => e instanceof EnclaveError && e.code === 'subject_erased');
    } finally {
      await fx.close();
    }
  });
});

void describe('Keyring.shred and Keyring.forget', () => {
  void it('refuses a shredded key to a request that read the row before; other subjects are untouched', () => {
    const k = new Keyring();
    k.load(randomBytes(32));
    const { wrapped } = k.newSubjectKey('us', 's');
    k.unwrap('us', 's', wrapped);
    k.shred('us', 's');
    assert.throws(() => k.unwrap('us', 's', wrapped), (e: unknown) => e instanceof EnclaveError && e.code === 'subject_moving');
    assert.equal(cachedKeys(k), 0);
    const other = k.newSubjectKey('us', 't');
    k.unwrap('us', 't', other.wrapped);
    assert.equal(cachedKeys(k), 1);
  });

  void it('a key forgotten after a re-home still opens: the subject may come back to the site, through another instance too', () => {
    const root = randomBytes(32);
    const k = new Keyring();
    k.load(root);
    const { wrapped } = k.newSubjectKey('us', 's');
    k.unwrap('us', 's', wrapped);
    const away = k.rewrap('us', 'eu', 's', wrapped);
    k.forget('us', 's');
    assert.equal(cachedKeys(k), 0);
    // Another instance (its own keyring, the same root) re-homed the subject back here.
    const other = new Keyring();
    other.load(root);
    const home = other.rewrap('eu', 'us', 's', away);
    k.unwrap('us', 's', home);
    assert.equal(cachedKeys(k), 1);
  });
});
