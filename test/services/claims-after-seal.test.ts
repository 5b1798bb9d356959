// A registration that a seal interrupts lets go of its subject claim (services/subject-claims.ts): the
// claim names the id by a keyed hash under a key derived from the root key, which the seal dropped, yet
// the claim must not stay held; another instance would refuse the id as "being registered by another
// request" for as long as this process lives (on this host) or ten minutes (on another).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { hold } from '../helpers/hold.ts';
import { codeOf, settle, twoInstances } from '../helpers/two-instances.ts';

void describe('a registration interrupted by a seal', { timeout: 60_000 }, () => {
  const two = twoInstances('SQLite', 'rscr');
  const unsealA = async () => {
    for (const share of readDevShares(two.a.dataDir) ?? []) if (two.a.enclave.keyring.sealed) await two.a.enclave.seal.submit(share);
  };

  void it('releases its claim: another instance registers the id, and the interrupted one says sealed', async () => {
    await unsealA();
    const s = `rscr-${randomBytes(4).toString('hex')}`;
    const a = two.a.enclave;
    const held = hold(a.control.subjectClaims, 'claim', () => true, { once: true });
    let registering: Promise<unknown>;
    try {
      registering = settle(a.vault.registerSubject(two.a.principals.service, { id: s, country: 'US' }));
      await Promise.race([held.reached, registering]); // A computed the claim's key and is claiming s.
      a.seal.seal();
      held.release();
      assert.equal(codeOf(await registering), 'sealed');
    } finally {
      held.restore();
    }
    const b = await settle(two.b.vault.registerSubject(two.a.principals.service, { id: s, country: 'US' }));
    assert.ok(!(b instanceof Error), `B could not register ${s}: ${b instanceof Error ? b.message : ''}`);
    // A, unsealed again, finds the subject B registered.
    await unsealA();
    assert.equal(codeOf(await settle(a.vault.registerSubject(two.a.principals.service, { id: s, country: 'US' }))), 'subject_exists');
  });

  void it('completes its claim when the seal comes after the subject is stored: the subject is registered and its claim settled', async () => {
    await unsealA();
    const s = `rscr-${randomBytes(4).toString('hex')}`;
    const a = two.a.enclave;
    // Held once its row is inserted, before the claim is completed.
    const held = hold(a.router.store('trusted-us').subjects, 'insert', () => true, { once: true, afterCall: true });
    let registering: Promise<unknown>;
    try {
      registering = settle(a.vault.registerSubject(two.a.principals.service, { id: s, country: 'US' }));
      await Promise.race([held.reached, registering]); // A stored s and is completing its claim.
      a.seal.seal();
      held.release();
      assert.ok(!((await registering) instanceof Error), 'the subject was stored: its registration stands');
    } finally {
      held.restore();
    }
    await unsealA();
    assert.ok(await a.router.findSubject(s), 'the subject is stored');
    const claims = await a.control.subjectClaims.getMany(await claimKeysOf(s));
    assert.deepEqual([...claims.values()].map((c) => c.completed), [true], 'the claim of a stored subject is completed');
  });

  /** The claim key of an id, as the vault's SubjectClaims names it (enclave unsealed). */
  async function claimKeysOf(id: string): Promise<string[]> {
    const { createHmac } = await import('node:crypto');
    const secret = two.a.enclave.keyring.derive('subject/claim/v1');
    const key = createHmac('sha256', secret).update(id).digest('hex');
    secret.fill(0);
    return [key];
  }
});
