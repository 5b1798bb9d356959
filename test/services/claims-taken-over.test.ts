// A registration's claim taken over while its holder still runs (services/subject-claims.ts, Vault
// registerNow / importSubjectsNow): a claim of another host is taken over after its ten-minute lease, or
// at once when that host's clock is that far behind. The instance that lost its claim must then leave a
// row the new holder adopted or stored itself, and remove its own only where the id is stored at another
// home site too: never leave the id at two sites, nor at none with its claim completed (every later
// registration would then be refused for ever).
//
// Instance A's claims are made under a holder of another host, dated 11 minutes back (A stalled that long
// after claiming, or its clock is that far behind): B takes them over.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Store, SubjectClaimStore } from '../../src/core/store.ts';
import { SubjectClaims } from '../../src/services/subject-claims.ts';
import { hold } from '../helpers/hold.ts';
import { postgresSkip } from '../helpers/postgres.ts';
import { codeOf, settle, twoInstances } from '../helpers/two-instances.ts';

const skip = await postgresSkip();
const US = 'trusted-us';
const EU = 'eu-central';
const FOREIGN = 'host-a.example:4242:abcdef01';
const LEASE_AGO = 11 * 60_000;

for (const backend of ['SQLite', 'PostgreSQL'] as const) {
  void describe(`a claim taken over from a holder that still runs (${backend})`, { skip: backend === 'PostgreSQL' ? skip : false, timeout: 120_000 }, () => {
    const two = twoInstances(backend, 'cto');
    const store = (site: string): Store => two.a.enclave.router.store(site);
    const fresh = () => `cto-${randomBytes(4).toString('hex')}`;
    const homes = async (s: string) => {
      const out: string[] = [];
      for (const site of [US, EU]) if (await store(site).subjects.get(s)) out.push(site);
      return out;
    };
    const registerB = (s: string, country: string) => two.b.vault.registerSubject(two.a.principals.service, { id: s, country });

    /** Makes A's vault claim as a holder of another host whose claims are 11 minutes old; returns A's claim store (to hold) and a restore. */
    function foreignA(): { claimStore: SubjectClaimStore; restore: () => void } {
      const vault = two.a.enclave.vault as unknown as { claims: SubjectClaims };
      const original = vault.claims;
      const claimStore: SubjectClaimStore = { ...two.a.enclave.control.subjectClaims };
      vault.claims = new SubjectClaims({ store: claimStore, keyring: two.a.enclave.keyring, holder: FOREIGN, clock: () => Date.now() - LEASE_AGO });
      return { claimStore, restore: () => (vault.claims = original) };
    }

    void it('bulk: A, having lost its claim to B, who registered the subject at the same site, leaves B\'s row alone', async () => {
      const s = fresh();
      const a = foreignA();
      const heldInsert = hold(store(US).subjects, 'insertMany', () => true, { once: true });
      try {
        const importing = settle(two.a.enclave.vault.importSubjects(two.a.principals.service, [{ id: s, country: 'US' }]));
        await heldInsert.reached; // A claimed s and logged it; its row is not stored yet.
        const b = await settle(registerB(s, 'US'));
        assert.ok(!(b instanceof Error), `B's registration failed: ${b instanceof Error ? b.message : ''}`);
        assert.deepEqual(await homes(s), [US], 'B registered s at its home');
        heldInsert.release();
        const outcome = await importing;
        const after = await homes(s);
        const again = await settle(registerB(s, 'US'));
        // A inserted nothing (B's row was there): whatever A answers, B's registered subject must stand.
        assert.deepEqual(
          after,
          [US],
          `B's registered subject was purged by A (A answered ${codeOf(outcome) ?? 'ok'}: ${outcome instanceof Error ? outcome.message : JSON.stringify(outcome)}); registering s again now: ${again instanceof Error ? again.message : 'ok'}`,
        );
      } finally {
        heldInsert.release();
        heldInsert.restore();
        a.restore();
      }
    });

    void it('single: B takes over, finds A\'s row and adopts it; A, having lost its claim, keeps that row: the id is stored once', async () => {
      const s = fresh();
      const a = foreignA();
      const heldInsert = hold(store(US).subjects, 'insert', () => true, { once: true });
      const heldComplete = hold(a.claimStore, 'complete', () => true, { once: true });
      const heldTakeOver = hold(two.b.control.subjectClaims, 'takeOver', () => true, { once: true, afterCall: true });
      try {
        const registeringA = settle(two.a.enclave.vault.registerSubject(two.a.principals.service, { id: s, country: 'US' }));
        await heldInsert.reached; // A claimed s; its row not stored yet.
        const registeringB = settle(registerB(s, 'DE'));
        await heldTakeOver.reached; // B found no subject, then took A's claim over.
        heldInsert.release();
        await heldComplete.reached; // A stored its row at US and is about to complete its claim.
        heldTakeOver.release();
        const b = await registeringB;
        assert.equal(codeOf(b), 'subject_exists', 'B looked again and found A\'s row');
        heldComplete.release();
        const outcomeA = await registeringA;
        const where = await homes(s);
        const again = await settle(registerB(s, 'DE'));
        // Both registrations answered 409 subject_exists; the subject must then exist somewhere.
        assert.equal(
          where.length,
          1,
          `the id is stored at ${JSON.stringify(where)} after A answered ${codeOf(outcomeA) ?? 'ok'} and B answered subject_exists; registering s again now: ${again instanceof Error ? again.message : 'ok'}`,
        );
      } finally {
        heldInsert.release();
        heldComplete.release();
        heldTakeOver.release();
        heldInsert.restore();
        heldComplete.restore();
        heldTakeOver.restore();
        a.restore();
      }
      // And the id can be registered again, or is found: not refused for ever as "being registered".
      const again = await settle(registerB(s, 'DE'));
      const where = await homes(s);
      assert.ok(!(again instanceof Error) || where.length === 1, `a later registration: ${again instanceof Error ? again.message : 'ok'}; stored at ${JSON.stringify(where)}`);
    });

    void it('single: B takes over and stores its own at its home before A stores; A, having lost its claim, removes its row: one home', async () => {
      const s = fresh();
      const a = foreignA();
      const heldInsert = hold(store(US).subjects, 'insert', () => true, { once: true });
      try {
        const registeringA = settle(two.a.enclave.vault.registerSubject(two.a.principals.service, { id: s, country: 'US' }));
        await heldInsert.reached; // A claimed s; its row not stored yet.
        const b = await settle(registerB(s, 'DE'));
        assert.ok(!(b instanceof Error), `B's registration failed: ${b instanceof Error ? b.message : ''}`);
        assert.deepEqual(await homes(s), [EU]);
        heldInsert.release();
        const outcomeA = await registeringA;
        assert.equal(codeOf(outcomeA), 'subject_exists');
        assert.match((outcomeA as Error).message, /registered at another home site by another instance/);
        assert.deepEqual(await homes(s), [EU], 'A removed its own row: the id has one home');
      } finally {
        heldInsert.release();
        heldInsert.restore();
        a.restore();
      }
    });
  });
}
