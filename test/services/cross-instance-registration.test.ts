// One subject id, one home site, across instances (invariant 1). Two enclaves on one set of stores
// (PostgreSQL schemas, as several `enclave serve` processes run; one SQLite data directory, as a server
// and the CLI): instance A's registration is held after its log entry, before its row is stored, while B
// registers the same id for a resident of another country. Home sites share no unique key, so before the
// claims in the control store both succeeded and the id lived at the home sites of two jurisdictions.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { EnclaveError } from '../../src/core/errors.ts';
import { UNMARKED, type Store } from '../../src/core/store.ts';
import { KEY_ID } from '../../src/services/keyring.ts';
import type { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { newHolderId } from '../../src/storage/process-alive.ts';
import { hold } from '../helpers/hold.ts';
import { postgresSkip } from '../helpers/postgres.ts';
import { codeOf, raceAtEntry, settle, twoInstances } from '../helpers/two-instances.ts';

const skip = await postgresSkip();
const US = 'trusted-us';
const EU = 'eu-central';

for (const backend of ['PostgreSQL', 'SQLite'] as const) {
  void describe(`subject registrations through two instances at once (${backend})`, { skip: backend === 'PostgreSQL' ? skip : false, timeout: 120_000 }, () => {
    const two = twoInstances(backend, 'xr');

    const store = (site: string): Store => two.a.enclave.router.store(site);
    const fresh = () => `xr-${randomBytes(4).toString('hex')}`;
    /** The home sites holding a row for the subject. */
    const homes = async (s: string) => {
      const out: string[] = [];
      for (const site of [US, EU]) if (await store(site).subjects.get(s)) out.push(site);
      return out;
    };
    const registerA = (s: string, country = 'US') => two.a.enclave.vault.registerSubject(two.a.principals.service, { id: s, country });
    const registerB = (s: string, country = 'DE') => two.b.vault.registerSubject(two.a.principals.service, { id: s, country });

    const race = <T>(first: () => Promise<unknown>, second: () => Promise<T>) => raceAtEntry(two, 'subject.registered', first, second);

    void it('B registering the id A is registering, for another country, is refused (409): the id has one home', async () => {
      const s = fresh();
      const { first, second } = await race(() => registerA(s), () => registerB(s));
      assert.ok(!(first instanceof Error), `A's registration failed: ${String(first)}`);
      assert.equal(codeOf(second), 'subject_exists', `B: ${JSON.stringify(second)}`);
      assert.match((second as Error).message, /being registered by another request/);
      assert.deepEqual(await homes(s), [US]);
      // Once A's is done, B is told the subject exists, as any later registration.
      assert.equal(codeOf(await settle(registerB(s))), 'subject_exists');
    });

    void it('a bulk import through B during A\'s registration refuses that id and registers the others', async () => {
      const s = fresh();
      const other = fresh();
      const { second } = await race(() => registerA(s), () => two.b.vault.importSubjects(two.a.principals.service, [{ id: s, country: 'DE' }, { id: other, country: 'DE' }]));
      assert.ok(!(second instanceof Error), second instanceof Error ? second.message : '');
      assert.deepEqual(second.refused, [{ id: s, code: 'subject_exists' }]);
      assert.equal(second.created, 1);
      assert.deepEqual(await homes(s), [US]);
      assert.deepEqual(await homes(other), [EU]);
      // Run again once A is done: counted as existing, as an import of any registered subject.
      const again = await two.b.vault.importSubjects(two.a.principals.service, [{ id: s, country: 'DE' }]);
      assert.deepEqual({ ...again }, { created: 0, replaced: 0, existing: 1, refused: [] });
    });

    /** The claim key of `s`, as the vault computes it (services/subject-claims.ts). */
    const keyFor = (s: string) => {
      const secret = two.a.enclave.keyring.derive('subject/claim/v1');
      try {
        return createHmac('sha256', secret).update(s).digest('hex');
      } finally {
        secret.fill(0);
      }
    };
    const claimOf = async (s: string) => (await two.a.enclave.control.subjectClaims.getMany([keyFor(s)])).get(keyFor(s));

    void it('a claim left by a registration whose process died is taken over; if it had stored its row, that row stands', async () => {
      const dead = 'killed-host:1:0000';
      const claims = two.a.enclave.control.subjectClaims;
      // Died after its claim, before storing its row.
      const s1 = fresh();
      await claims.claim([keyFor(s1)], dead, 0);
      const ok = await settle(registerB(s1));
      assert.ok(!(ok instanceof Error), `the dead holder's claim was not taken over: ${ok instanceof Error ? ok.message : ''}`);
      assert.deepEqual(await homes(s1), [EU]);
      assert.equal((await claimOf(s1))?.completed, true);
      // Died after storing its row, before completing its claim.
      const s2 = fresh();
      await claims.claim([keyFor(s2)], dead, 0);
      const row = { id: s2, country: 'US', jurisdiction: 'us', wrappedKey: two.a.enclave.keyring.newSubjectKey(US, s2).wrapped, keyId: KEY_ID, createdAt: Date.now(), erasedAt: null, ...UNMARKED };
      // Its row appears after B looked for the subject, before B claims (the dead holder was slow, not gone).
      const held = hold(two.b.control.subjectClaims, 'claim', () => true, { once: true });
      try {
        const registering = settle(registerB(s2));
        await held.reached;
        assert.equal(await store(US).subjects.insert(row), 'inserted');
        held.release();
        assert.equal(codeOf(await registering), 'subject_exists');
      } finally {
        held.release();
        held.restore();
      }
      assert.deepEqual(await homes(s2), [US], 'taken over, the id is looked up again: the row the dead holder stored stands');
      assert.equal((await claimOf(s2))?.completed, true);
      // A live holder's claim (this process's) is not taken over.
      const s3 = fresh();
      await claims.claim([keyFor(s3)], newHolderId(), Date.now());
      assert.equal(codeOf(await settle(registerB(s3))), 'subject_exists');
      assert.deepEqual(await homes(s3), []);
    });

    void it('a subject registered before the claims is given its completed claim when it is re-homed', async () => {
      const s = fresh();
      const row = { id: s, country: 'US', jurisdiction: 'us', wrappedKey: two.a.enclave.keyring.newSubjectKey(US, s).wrapped, keyId: KEY_ID, createdAt: Date.now(), erasedAt: null, ...UNMARKED };
      assert.equal(await store(US).subjects.insert(row), 'inserted');
      assert.equal(await claimOf(s), undefined, 'stored as before the claims: no claim');
      await two.a.enclave.vault.rehomeSubject(two.a.principals.officer, s, 'DE');
      assert.equal((await claimOf(s))?.completed, true);
      assert.deepEqual(await homes(s), [EU]);
      assert.equal(codeOf(await settle(registerB(s, 'US'))), 'subject_exists');
    });

    void it('a registration that fails lets go of its claim: the id can be registered afterwards', async () => {
      const s = fresh();
      const append = two.b.log.append.bind(two.b.log);
      two.b.log.append = (event) => (event.type === 'subject.registered' ? Promise.reject(new EnclaveError('log_unavailable', 'log down (test)')) : append(event));
      try {
        assert.equal(codeOf(await settle(registerB(s))), 'log_unavailable');
      } finally {
        two.b.log.append = append;
      }
      assert.equal(await claimOf(s), undefined);
      await registerA(s);
      assert.deepEqual(await homes(s), [US]);
    });

    if (backend === 'SQLite') {
      void it('the control store holds no subject id: claims name it by a keyed hash', async () => {
        const s = fresh();
        await registerA(s);
        const db = new DatabaseSync((two.a.enclave.control as SqliteStore).path, { readOnly: true });
        try {
          const keys = (db.prepare('SELECT key FROM subject_claims').all() as { key: string }[]).map((r) => r.key);
          assert.ok(keys.includes(keyFor(s)));
          assert.ok(keys.every((k) => /^[0-9a-f]{64}$/.test(k)));
        } finally {
          db.close();
        }
      });
    }
  });
}
