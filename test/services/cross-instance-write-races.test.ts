// Record writes racing a re-home or an erasure through ANOTHER instance: two enclaves on one set of
// PostgreSQL stores, as several `enclave serve` processes run, and on one SQLite data directory, as a
// running server and the CLI (`enclave subject rehome`, `erase`) do. Within one process the per-subject gate
// keeps a re-home or an erasure out of a write's wait for its log entry; across instances only the store
// can: it refuses, atomically with the write, a record write whose subject's row at that site is gone,
// erased or marked as moving. Each case holds instance A's write after its decision and its log entry
// (the wait the gate covers in one process) while instance B changes the subject, then lets it go: the
// write must be refused (409 subject_moving, 410 subject_erased), never land at the site the subject
// left, be acknowledged and then lost, or put an erased subject's public fields back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Store } from '../../src/core/store.ts';
import { hold, type Held } from '../helpers/hold.ts';
import { errorCode, json } from '../helpers/http.ts';
import { postgresSkip } from '../helpers/postgres.ts';
import { codeOf, settle, twoInstances } from '../helpers/two-instances.ts';

const skip = await postgresSkip();
const US = 'trusted-us';
const EU = 'eu-central';

const userData = (s: string, email = `${s}@x.test`) => ({ user_id: s, username: `name-${s}`, email });
const NEW_EMAIL = 'new@x.test';


for (const backend of ['PostgreSQL', 'SQLite'] as const) {
  void describe(`record writes racing a re-home or an erasure through another instance (${backend})`, { skip: backend === 'PostgreSQL' ? skip : false, timeout: 120_000 }, () => {
    const two = twoInstances(backend, 'xi');

    /** A's store of `site` (its own pool; B has another on the same schema). */
    const storeA = (site: string): Store => two.a.enclave.router.store(site);
    const rehomeB = (s: string) => two.b.vault.rehomeSubject(two.a.principals.officer, s, 'DE');
    const eraseB = (s: string) => two.b.vault.eraseSubject(two.a.principals.officer, s);

    /** A subject registered in the US through A, with its `users` record `<s>-u` unless `record` is false. */
    async function scene(record = true): Promise<{ s: string; id: string }> {
      const s = `xi-${randomBytes(4).toString('hex')}`;
      assert.equal((await two.a.call('service', 'POST', '/v1/subjects', { id: s, country: 'US' })).statusCode, 201);
      if (record) {
        const r = await two.a.call('service', 'POST', '/v1/collections/users/records', { id: `${s}-u`, data: userData(s) });
        assert.equal(r.statusCode, 201, r.body);
      }
      return { s, id: `${s}-u` };
    }

    /** Holds A's write once its log entry of `type` is durable (after the decision, the subject's row read, the row sealed), before the store. */
    const holdA = (type: string): Held => hold(two.a.enclave.log, 'append', (event) => event.type === type, { once: true, afterCall: true });
    /** Holds B's re-home after its copy to the EU site committed, before it purges the US site. */
    const holdCopyB = (): Held => hold(two.b.router.store(EU), 'importSubject', () => true, { once: true, afterCall: true });

    /** Starts A's request, holds it at its log entry, runs `change` through B meanwhile, then lets A go. */
    async function race(type: string, write: () => Promise<LightMyRequestResponse>, change: () => Promise<unknown>): Promise<{ res: LightMyRequestResponse; changed: unknown }> {
      const held = holdA(type);
      try {
        const written = write();
        await held.reached;
        const changed = await settle(change());
        held.release();
        return { res: await written, changed };
      } finally {
        held.release();
        held.restore();
      }
    }

    /** As race, but B's re-home is held between its copy and its purge while A's write goes on. */
    async function raceCopy(type: string, write: () => Promise<LightMyRequestResponse>, s: string): Promise<{ res: LightMyRequestResponse; moved: unknown }> {
      const heldA = holdA(type);
      const heldB = holdCopyB();
      try {
        const written = write();
        await heldA.reached;
        const moving = settle(rehomeB(s));
        await heldB.reached;
        heldA.release();
        const res = await written;
        heldB.release();
        return { res, moved: await moving };
      } finally {
        heldA.release();
        heldB.release();
        heldA.restore();
        heldB.restore();
      }
    }

    void it('a create held while B re-homes the subject is refused (409) and leaves nothing at the site they left', async () => {
      const { s, id } = await scene(false);
      const { res, changed } = await race('record.created', () => two.a.call('service', 'POST', '/v1/collections/users/records', { id, data: userData(s) }), () => rehomeB(s));
      assert.ok(!(changed instanceof Error), `B's re-home failed: ${String(changed)}`);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(errorCode(res), 'subject_moving');
      assert.equal(await storeA(US).records.get('users', id), undefined, 'no record at the site the subject left (invariant 1)');
      assert.equal(await storeA(US).subjects.get(s), undefined);
      assert.equal(await storeA(EU).records.get('users', id), undefined, 'a refused create is nowhere');
      // The retry the answer asks for lands at the subject's new home.
      const again = await two.a.call('service', 'POST', '/v1/collections/users/records', { id, data: userData(s) });
      assert.equal(again.statusCode, 201, again.body);
      assert.ok(await storeA(EU).records.get('users', id));
    });

    void it('a replace held while B marks and copies the subject is refused (409), never acknowledged and then purged', async () => {
      const { s, id } = await scene();
      const { res, moved } = await raceCopy('record.updated', () => two.a.call('service', 'PUT', `/v1/collections/users/records/${id}`, { data: userData(s, NEW_EMAIL) }), s);
      assert.ok(!(moved instanceof Error), `B's re-home failed: ${String(moved)}`);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(errorCode(res), 'subject_moving');
      assert.equal(await storeA(US).records.get('users', id), undefined);
      const read = await two.a.call('service', 'GET', `/v1/collections/users/records/${id}`);
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(json<{ data: { email: string } }>(read).data.email, `${s}@x.test`, 'the record is as the refused replace found it');
    });

    void it('a delete held while B marks and copies the subject is refused (409), never acknowledged while the record lives on', async () => {
      const { s, id } = await scene();
      const { res, moved } = await raceCopy('record.deleted', () => two.a.call('service', 'DELETE', `/v1/collections/users/records/${id}`), s);
      assert.ok(!(moved instanceof Error), `B's re-home failed: ${String(moved)}`);
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(errorCode(res), 'subject_moving');
      assert.ok(await storeA(EU).records.get('users', id), 'the record lives on at the new home');
      assert.equal((await two.a.call('service', 'DELETE', `/v1/collections/users/records/${id}`)).statusCode, 204, 'the retry deletes it');
    });

    void it('a create held while B erases the subject is refused (410) and stores no public field of theirs', async () => {
      const { s, id } = await scene(false);
      const { res, changed } = await race('record.created', () => two.a.call('service', 'POST', '/v1/collections/users/records', { id, data: userData(s) }), () => eraseB(s));
      assert.ok(!(changed instanceof Error), `B's erasure failed: ${String(changed)}`);
      assert.equal(res.statusCode, 410, res.body);
      assert.equal(errorCode(res), 'subject_erased');
      assert.equal(await storeA(US).records.get('users', id), undefined, 'nothing written for an erased subject');
    });

    void it('a replace held while B erases the subject is refused (410) and puts no public field back', async () => {
      const { s, id } = await scene();
      const { res, changed } = await race('record.updated', () => two.a.call('service', 'PUT', `/v1/collections/users/records/${id}`, { data: userData(s, NEW_EMAIL) }), () => eraseB(s));
      assert.ok(!(changed instanceof Error), `B's erasure failed: ${String(changed)}`);
      assert.equal(res.statusCode, 410, res.body);
      assert.equal(errorCode(res), 'subject_erased');
      const row = await storeA(US).records.get('users', id);
      assert.equal(row?.publicJson, '{}', 'the erased public fields stay blank');
      assert.equal(row.version, 1);
    });

    void it("a bulk import held while B erases one subject and re-homes another refuses their rows (subject_erased, subject_moving) and writes the others'", async () => {
      const gone = await scene(false);
      const moved = await scene(false);
      const kept = await scene(false);
      const items = [gone, moved, kept].map(({ s, id }) => ({ id, data: userData(s) }));
      const held = holdA('record.created');
      try {
        const importing = settle(two.a.enclave.vault.importRecords(two.a.principals.service, 'users', items));
        await held.reached;
        assert.ok(!(await settle(eraseB(gone.s)) instanceof Error));
        assert.ok(!(await settle(rehomeB(moved.s)) instanceof Error));
        held.release();
        const r = await importing;
        assert.ok(!(r instanceof Error), `the import failed: ${r instanceof Error ? r.message : ''}`);
        assert.deepEqual(
          [...r.refused].sort((x, y) => x.id.localeCompare(y.id)),
          [
            { id: gone.id, code: 'subject_erased' },
            { id: moved.id, code: 'subject_moving' },
          ].sort((x, y) => x.id.localeCompare(y.id)),
        );
        assert.deepEqual([r.created, r.existing], [1, 0]);
      } finally {
        held.release();
        held.restore();
      }
      assert.equal(await storeA(US).records.get('users', gone.id), undefined);
      assert.equal(await storeA(US).records.get('users', moved.id), undefined, 'nothing at the site the subject left');
      assert.equal(await storeA(EU).records.get('users', moved.id), undefined);
      assert.ok(await storeA(US).records.get('users', kept.id));
      assert.equal(codeOf(await settle(two.a.enclave.vault.getRecord(two.a.principals.service, 'users', gone.id))), 'record_not_found');
    });
  });
}
