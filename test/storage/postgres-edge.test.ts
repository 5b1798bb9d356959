// The PostgreSQL adapters where a server differs from SQLite: several instances writing the same rows at
// once (lock order: no deadlock, and one that happens anyway is a typed error, not an internal one), text
// PostgreSQL refuses to store (NUL), keys longer than a B-tree entry, schema names that are keywords, and
// a write that waited for a delete of its record.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { EnclaveError } from '../../src/core/errors.ts';
import type { RecordRevision, RecordRow, SubjectRow } from '../../src/core/store.ts';
import { UNMARKED } from '../../src/core/store.ts';
import { PostgresMigrationState } from '../../src/storage/postgres/postgres-migration-state.ts';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { admin, dropSchemas, pgUrl, postgresSkip, schemaMaker } from '../helpers/postgres.ts';

const skip = await postgresSkip();

const subject = (id: string, over: Partial<SubjectRow> = {}): SubjectRow => ({
  id,
  country: 'US',
  jurisdiction: 'us',
  wrappedKey: Buffer.from([1, 2, 3]),
  keyId: 'k1',
  createdAt: 1,
  erasedAt: null,
  ...UNMARKED,
  ...over,
});
const record = (id: string, subjectId = 's'): RecordRow => ({ collection: 'users', id, subject: subjectId, version: 1, publicJson: '{"a":1}', sealed: null, createdAt: 1, updatedAt: 1, createdBy: null });
/** The revision `record` rows are created at. */
const AT_1: RecordRevision = { version: 1, createdAt: 1 };

/** Waits until `n` sessions of `app` wait on a lock. */
async function waitingOnLocks(c: pg.Client, app: string, n: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    // Inside a transaction the statistics views keep their first snapshot: take a fresh one each time.
    await c.query('SELECT pg_stat_clear_snapshot()');
    const r = await c.query("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE $1 AND wait_event_type = 'Lock'", [`${app}%`]);
    if ((r.rowCount ?? 0) >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`${n} sessions of ${app} never waited on a lock`);
}

void describe('PostgreSQL adapters: edge cases and several instances', { skip }, () => {
  const schema = schemaMaker();

  void it('bulk loads of the same rows in opposite orders through two instances never deadlock', async () => {
    const url = pgUrl(schema('bulk_order'));
    const [a, b] = [await PostgresStore.open(url), await PostgresStore.open(url)];
    try {
      for (let round = 0; round < 8; round++) {
        const ids = Array.from({ length: 1500 }, (_, i) => `r${round}-${String(i).padStart(4, '0')}`);
        const [sa, sb] = await Promise.all([a.subjects.insertMany(ids.map((id) => subject(id))), b.subjects.insertMany([...ids].reverse().map((id) => subject(id)))]);
        assert.equal(sa + sb, ids.length, 'each subject inserted once');
        const [ra, rb] = await Promise.all([a.records.insertMany(ids.map((id) => record(id, id))), b.records.insertMany([...ids].reverse().map((id) => record(id, id)))]);
        assert.equal(ra.inserted + rb.inserted, ids.length, 'each record inserted once');
        assert.deepEqual([...ra.unavailable, ...rb.unavailable], []);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  // A record write checks its subject's row in its statement, locked FOR SHARE (RecordStore): a mark or an
  // erasure (UPDATEs of non-key columns, which FOR KEY SHARE would let through) and the write are ordered.
  const CHANGES = {
    mark: { sql: "moved_to = 'eu-central', move_owner = 'h:9:z', move_started_at = 1", run: (st: PostgresStore, id: string) => st.subjects.setMovedTo(id, { site: 'eu-central', owner: 'h:9:z', startedAt: 1 }, null) },
    erase: { sql: 'erased_at = 5, wrapped_key = NULL', run: (st: PostgresStore, id: string) => st.subjects.erase(id, 5) },
  } as const;

  void it('a record write that comes while a mark or an erasure of its subject is uncommitted waits for it, then is refused, writing nothing', async () => {
    const s = schema('write_waits');
    const app = `ww${randomBytes(4).toString('hex')}`;
    const store = await PostgresStore.open(pgUrl(s, { application_name: app }));
    try {
      for (const [change, { sql }] of Object.entries(CHANGES)) {
        const writes: Record<string, (id: string) => Promise<unknown>> = {
          insert: (id) => store.records.insert(record(`${id}-new`, id)),
          insertMany: async (id) => store.records.insertMany([record(`${id}-new`, id)]),
          update: (id) => store.records.update({ ...record(`${id}-r`, id), version: 2, publicJson: '{"back":true}' }, AT_1),
          delete: (id) => store.records.delete('users', `${id}-r`),
        };
        for (const [op, write] of Object.entries(writes)) {
          const id = `${change}-${op}`;
          await store.subjects.insert(subject(id));
          await store.records.insert(record(`${id}-r`, id));
          await admin(async (c) => {
            await c.query('BEGIN');
            await c.query(`UPDATE ${s}.subjects SET ${sql} WHERE id = $1`, [id]);
            const writing = write(id);
            writing.catch(() => undefined);
            await waitingOnLocks(c, app, 1);
            await c.query('COMMIT');
            const outcome = await writing;
            assert.deepEqual(outcome, op === 'insertMany' ? { inserted: 0, unavailable: [id] } : 'subject_unavailable', `${op} after ${change}`);
          });
          assert.equal(await store.records.get('users', `${id}-new`), undefined);
          // (The raw erasure above marks the row only: the record keeps what it held.)
          assert.deepEqual((await store.records.get('users', `${id}-r`))?.publicJson, '{"a":1}', `${op} after ${change} changed nothing`);
        }
      }
    } finally {
      await store.close();
    }
  });

  void it('a replace or a delete that waits for a delete of its record answers not_found, as it would after it (not version_conflict)', async () => {
    const s = schema('after_delete');
    const app = `ad${randomBytes(4).toString('hex')}`;
    const store = await PostgresStore.open(pgUrl(s, { application_name: app }));
    try {
      const writes: Record<string, (id: string) => Promise<unknown>> = {
        update: (id) => store.records.update({ ...record(`${id}-r`, id), version: 2, publicJson: '{"back":true}' }, AT_1),
        delete: (id) => store.records.delete('users', `${id}-r`, AT_1),
      };
      for (const [op, write] of Object.entries(writes)) {
        await store.subjects.insert(subject(op));
        await store.records.insert(record(`${op}-r`, op));
        await admin(async (c) => {
          await c.query('BEGIN');
          await c.query(`DELETE FROM ${s}.records WHERE collection = 'users' AND id = $1`, [`${op}-r`]);
          const writing = write(op);
          writing.catch(() => undefined);
          await waitingOnLocks(c, app, 1);
          await c.query('COMMIT');
          assert.equal(await writing, 'not_found', op);
        });
        assert.equal(await store.records.get('users', `${op}-r`), undefined, `${op} wrote nothing back`);
      }
    } finally {
      await store.close();
    }
  });

  void it("an erasure that waits for a re-home's copy of its subject to the same store erases the copy, as it would after it", async () => {
    const s = schema('erase_after_copy');
    const app = `ec${randomBytes(4).toString('hex')}`;
    const store = await PostgresStore.open(pgUrl(s, { application_name: app }));
    try {
      await store.subjects.insert(subject('mover'));
      await store.records.insert(record('mover-r', 'mover'));
      await admin(async (c) => {
        await c.query('BEGIN');
        await c.query(`SELECT 1 FROM ${s}.subjects WHERE id = 'mover' FOR UPDATE`);
        // The copy (a stale one being replaced) waits first, the erasure behind it.
        const copying = store.importSubject(subject('mover', { country: 'DE', jurisdiction: 'eu' }), [record('mover-r', 'mover')]);
        copying.catch(() => undefined);
        await waitingOnLocks(c, app, 1);
        const erasing = store.subjects.erase('mover', 5);
        erasing.catch(() => undefined);
        await waitingOnLocks(c, app, 2);
        await c.query('COMMIT');
        await copying;
        assert.equal(await erasing, 1, 'the erasure found the subject the copy left, and blanked its record');
      });
      const row = await store.subjects.get('mover');
      assert.equal(row?.erasedAt, 5);
      assert.equal(row?.wrappedKey, null);
      assert.equal(row?.country, 'DE');
    } finally {
      await store.close();
    }
  });

  void it('a mark or an erasure through another instance waits for a record write that checked the subject first: the copy includes it, the erasure blanks it', async () => {
    const s = schema('change_waits');
    const app = `cw${randomBytes(4).toString('hex')}`;
    const writer = await PostgresStore.open(pgUrl(s, { application_name: `${app}-write` }));
    const changer = await PostgresStore.open(pgUrl(s, { application_name: `${app}-change` }));
    try {
      for (const [change, { run }] of Object.entries(CHANGES)) {
        for (const op of ['update', 'delete'] as const) {
          const id = `${change}-${op}`;
          await writer.subjects.insert(subject(id));
          await writer.records.insert(record(`${id}-r`, id));
          await admin(async (c) => {
            // Hold the record: the write takes the subject's row, then waits here with it held.
            await c.query('BEGIN');
            await c.query(`SELECT 1 FROM ${s}.records WHERE id = $1 FOR UPDATE`, [`${id}-r`]);
            const writing = op === 'update' ? writer.records.update({ ...record(`${id}-r`, id), version: 2, publicJson: '{"b":2}' }, AT_1) : writer.records.delete('users', `${id}-r`);
            writing.catch(() => undefined);
            await waitingOnLocks(c, `${app}-write`, 1);
            const changing = run(changer, id);
            changing.catch(() => undefined);
            await waitingOnLocks(c, app, 2);
            await c.query('ROLLBACK');
            assert.equal(await writing, op === 'update' ? 'updated' : 'deleted');
            assert.ok((await changing) !== undefined && (await changing) !== false, `the ${change} went through after the write`);
          });
          // Read after the change: a re-home's copy sees the write; an erasure blanked it.
          const rows = await changer.records.listBySubject(id);
          if (op === 'delete') assert.deepEqual(rows, []);
          else assert.deepEqual(rows.map((r) => [r.version, r.publicJson]), [[2, change === 'erase' ? '{}' : '{"b":2}']]);
        }
      }
    } finally {
      await writer.close();
      await changer.close();
    }
  });

  void it('bulk loads racing marks and erasures of their subjects through another instance: no deadlock, nothing lands unseen', async () => {
    const url = pgUrl(schema('bulk_race'));
    const [a, b] = [await PostgresStore.open(url), await PostgresStore.open(url)];
    try {
      for (let round = 0; round < 5; round++) {
        const ids = Array.from({ length: 300 }, (_, i) => `b${round}-${String(i).padStart(3, '0')}`);
        await a.subjects.insertMany(ids.map((id) => subject(id)));
        const rows = ids.flatMap((id) => ['x', 'y', 'z'].map((k) => record(`${id}-${k}`, id)));
        const erased = ids.filter((_, i) => i % 3 === 0);
        const marked = ids.filter((_, i) => i % 3 === 1);
        const [loads, ...changes] = await Promise.allSettled([
          Promise.all([a.records.insertMany(rows), a.records.insertMany([...rows].reverse())]),
          ...[...erased].reverse().map((id) => b.subjects.erase(id, 7)),
          ...marked.map((id) => b.subjects.setMovedTo(id, { site: 'eu-central', owner: 'h:1:a', startedAt: 1 }, null)),
        ]);
        assert.equal(loads?.status, 'fulfilled', `the loads failed: ${loads?.status === 'rejected' ? String(loads.reason) : ''}`);
        for (const c of changes) assert.equal(c.status, 'fulfilled', c.status === 'rejected' ? String(c.reason) : '');
        const [l1, l2] = loads.status === 'fulfilled' ? loads.value : [];
        assert.equal((l1?.inserted ?? 0) + (l2?.inserted ?? 0) <= rows.length, true);
        const refused = new Set([...(l1?.unavailable ?? []), ...(l2?.unavailable ?? [])]);
        for (const id of ids) {
          const stored = await b.records.listBySubject(id);
          if (erased.includes(id)) assert.ok(stored.every((r) => r.publicJson === '{}'), `${id}: erased, yet a public field stands`);
          else if (!marked.includes(id)) assert.equal(stored.length, 3, `${id}: untouched, so loaded`);
          if (refused.has(id) && stored.length > 0) assert.ok(erased.includes(id) || marked.includes(id));
        }
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  void it("a purge and an erasure of one subject through two instances at once: no deadlock, the subject's key is gone", async () => {
    const s = schema('purge_erase');
    const app = `pe${randomBytes(4).toString('hex')}`;
    const purger = await PostgresStore.open(pgUrl(s, { application_name: `${app}-purge` }));
    const eraser = await PostgresStore.open(pgUrl(s, { application_name: `${app}-erase` }));
    try {
      await purger.subjects.insert(subject('s'));
      await purger.records.insertMany(['r1', 'r2', 'r3'].map((id) => record(id)));
      await admin(async (c) => {
        // Hold one record: the purge waits on it, holding whatever else it reached; the erasure then
        // comes in, and the hold is let go: each holds what the other wants unless they lock in one order.
        await c.query('BEGIN');
        await c.query(`SELECT 1 FROM ${s}.records WHERE id = 'r2' FOR UPDATE`);
        const purging = purger.purgeSubject('s');
        purging.catch(() => undefined);
        await waitingOnLocks(c, `${app}-purge`, 1);
        const erasing = eraser.subjects.erase('s', 9);
        erasing.catch(() => undefined);
        await waitingOnLocks(c, app, 2);
        await c.query('ROLLBACK');
        const [p, e] = await Promise.allSettled([purging, erasing]);
        assert.equal(p.status, 'fulfilled', `the purge failed: ${p.status === 'rejected' ? String(p.reason) : ''}`);
        assert.equal(e.status, 'fulfilled', `the erasure failed: ${e.status === 'rejected' ? String(e.reason) : ''}`);
      });
      assert.equal(await purger.subjects.get('s'), undefined, 'the purge removed the subject');
      assert.equal(await purger.records.count(), 0);
    } finally {
      await purger.close();
      await eraser.close();
    }
  });

  void it('a deadlock the server breaks is storage_unavailable (try again) and changes nothing, never an internal error', async () => {
    const s = schema('deadlock');
    const store = await PostgresStore.open(pgUrl(s));
    try {
      await store.subjects.insert(subject('a'));
      await store.records.insert(record('ra', 'a'));
      await admin(async (c) => {
        // The other side of the cycle waits far longer before checking for deadlocks, so the server
        // picks the store's transaction as the victim.
        await c.query('BEGIN');
        await c.query("SET LOCAL deadlock_timeout = '60s'");
        await c.query(`SELECT 1 FROM ${s}.records WHERE id = 'ra' FOR UPDATE`);
        // The erasure takes a's row, then waits on the record we hold...
        const erasing = store.subjects.erase('a', 5);
        erasing.catch(() => undefined);
        await waitingOnLocks(c, 'enclave', 1);
        // ...while we want a's row: a cycle.
        const ours = c.query(`UPDATE ${s}.subjects SET key_id = 'x' WHERE id = 'a'`);
        await assert.rejects(erasing, (err: unknown) => {
          assert.ok(err instanceof EnclaveError, `a deadlock must be a typed error, got ${String(err)}`);
          assert.equal(err.code, 'storage_unavailable');
          assert.match(err.message, /deadlock/);
          return true;
        });
        await ours;
        await c.query('ROLLBACK');
      });
      const a = await store.subjects.get('a');
      assert.deepEqual([a?.erasedAt, a?.wrappedKey === null, (await store.records.get('users', 'ra'))?.publicJson], [null, false, '{"a":1}'], 'nothing half done');
    } finally {
      await store.close();
    }
  });

  void it('a statement the server cancels (pg_cancel_backend; statement_timeout alike) is storage_unavailable and changes nothing', async () => {
    const s = schema('cancel');
    const app = `cx${randomBytes(4).toString('hex')}`;
    const store = await PostgresStore.open(pgUrl(s, { application_name: app }));
    try {
      await store.subjects.insert(subject('c'));
      await store.records.insert(record('rc', 'c'));
      await admin(async (c) => {
        await c.query('BEGIN');
        await c.query(`SELECT 1 FROM ${s}.records WHERE id = 'rc' FOR UPDATE`);
        const erasing = store.subjects.erase('c', 5);
        erasing.catch(() => undefined);
        await waitingOnLocks(c, app, 1);
        await c.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [app]);
        await assert.rejects(erasing, (err: unknown) => {
          assert.ok(err instanceof EnclaveError, `a cancelled statement must be a typed error, got ${String(err)}`);
          assert.equal(err.code, 'storage_unavailable');
          return true;
        });
        await c.query('ROLLBACK');
      });
      const c = await store.subjects.get('c');
      assert.deepEqual([c?.erasedAt, c?.wrappedKey === null], [null, false], 'nothing half done');
    } finally {
      await store.close();
    }
  });

  void it('text PostgreSQL cannot store (NUL) is refused as invalid_request, and nothing is stored', async () => {
    const store = await PostgresStore.open(pgUrl(schema('nul')));
    try {
      const refused = (err: unknown) => {
        assert.ok(err instanceof EnclaveError, `expected a typed error, got ${String(err)}`);
        assert.equal(err.code, 'invalid_request');
        assert.match(err.message, /U\+0000/);
        return true;
      };
      await assert.rejects(store.approvals.add({ target: 'req', approver: 'p', approverOrg: 'o', approverRole: 'r', digest: 'd', verdict: 'approve', comment: 'ok\u0000', at: 1 }), refused);
      assert.deepEqual(await store.approvals.list('req'), []);
      // In a transaction too (a request with its break-glass grant): nothing of it is kept.
      const request = {
        id: 'bg1',
        kind: 'breakglass' as const,
        requester: 'p',
        requesterOrg: 'o',
        requesterRole: 'r',
        scope: '{}',
        purpose: 'x',
        justificationCode: 'c',
        justification: 'server down\u0000',
        durationMs: 1,
        digest: 'd',
        createdAt: 1,
        expiresAt: 10,
        status: 'approved' as const,
        decidedAt: 1,
        grantId: 'g1',
      };
      const grant = { id: 'g1', requestId: 'bg1', principal: 'p', scope: '{}', purpose: 'x', breakglass: true, createdAt: 1, expiresAt: 10, revokedAt: null, revokedBy: null };
      await assert.rejects(store.accessRequests.insert(request, grant, 1), refused);
      assert.equal(await store.accessRequests.get('bg1'), undefined);
      assert.equal(await store.grants.get('g1'), undefined);
      await assert.rejects(store.tokens.create({ id: 'p', org: 'o', role: 'r', createdAt: 1 }, { id: 't', hash: 'h', principalId: 'p', label: 'l\u0000', createdAt: 1, expiresAt: null, revokedAt: null, replaces: null, lineage: 't' }), refused);
      assert.deepEqual(await store.tokens.list(), []);
    } finally {
      await store.close();
    }
  });

  void it('a schema named by an SQL keyword (select, user) opens and works like any other', async () => {
    const names = ['select', 'user'];
    // Keywords are fixed names: drop them before and after, so runs do not meet (names are per server).
    await dropSchemas(...names);
    try {
      for (const name of names) {
        const store = await PostgresStore.open(pgUrl(name));
        try {
          await store.subjects.insert(subject('k'));
          assert.equal((await store.subjects.get('k'))?.id, 'k');
          await store.subjects.erase('k', 2);
        } finally {
          await store.close();
        }
        const again = await PostgresStore.open(pgUrl(name));
        assert.equal((await again.subjects.get('k'))?.erasedAt, 2);
        await again.close();
      }
    } finally {
      await dropSchemas(...names);
    }
  });

  void it('a migration key too long for an index entry is a typed error naming its table, not an internal one', async () => {
    const state = await PostgresMigrationState.open(pgUrl(schema('long_key')));
    try {
      const key = JSON.stringify([randomBytes(3000).toString('base64')]);
      const entry = { table: 'legacy_users', key, collection: 'users', recordId: 'r', subject: 's', digest: new Uint8Array(32), seenPass: 1, seenBatch: 1 };
      await assert.rejects(state.putLedger('m', [entry]), (err: unknown) => {
        assert.ok(err instanceof EnclaveError, `expected a typed error, got ${String(err)}`);
        assert.equal(err.code, 'invalid_source_data');
        assert.match(err.message, /legacy_users/);
        assert.ok(!err.message.includes(key), 'the message does not repeat a whole key');
        return true;
      });
      assert.equal(await state.ledgerCount('m'), 0);
      // A long key that fits is kept as it is.
      const fits = JSON.stringify(['x'.repeat(5000)]);
      await state.putLedger('m', [{ ...entry, key: fits }]);
      assert.equal((await state.ledger('m', 'legacy_users', [fits])).get(fits)?.key, fits);
    } finally {
      await state.close();
    }
  });
});
