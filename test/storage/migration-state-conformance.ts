// The migration state conformance suite: every MigrationStateStore adapter (SQLite, PostgreSQL) runs it.
// `open` returns a handle on the suite's one database (a new handle per call, so on PostgreSQL several
// handles stand for several processes); every test works under a migration id of its own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { ZERO_COUNTERS, type BatchInfo, type LedgerEntry, type MigrationStateStore } from '../../src/core/migration-state.ts';

// Timestamps beyond 2^32 catch adapters that truncate to 32-bit integers.
const T0 = 2 ** 41 + 7;

export interface MigrationStateAdapter {
  open(): Promise<MigrationStateStore>;
  /** Handles that claim at once stand for separate processes (false: one process, calls interleave). */
  readonly concurrent: boolean;
  cleanup?(): Promise<void>;
}

export function migrationStateConformance(name: string, adapter: MigrationStateAdapter, options: { skip?: string | false } = {}): void {
  void describe(`MigrationStateStore conformance: ${name}`, { skip: options.skip ?? false }, () => {
    const opened: MigrationStateStore[] = [];
    after(async () => {
      for (const s of opened) await s.close();
      await adapter.cleanup?.();
    });
    const open = async (): Promise<MigrationStateStore> => {
      const s = await adapter.open();
      opened.push(s);
      return s;
    };

    /** A migration in pass 1, copying, with `n` pending batches. */
    async function planned(s: MigrationStateStore, n: number): Promise<string> {
      const id = `m${randomBytes(5).toString('hex')}`;
      assert.equal(await s.create({ id, mappingHash: 'h', source: 'sqlite:x.db', createdAt: T0, pass: 0, passState: 'done', passStartedAt: null, passFinishedAt: null, interruptedPass: null }), 'created');
      assert.equal(await s.create({ id, mappingHash: 'other', source: 'x', createdAt: 0, pass: 0, passState: 'done', passStartedAt: null, passFinishedAt: null, interruptedPass: null }), 'exists');
      assert.equal(await s.beginPass(id, 0, 1, T0 + 1), true);
      assert.equal(await s.beginPass(id, 0, 1, T0 + 1), false, 'a pass is begun once');
      const batches: BatchInfo[] = Array.from({ length: n }, (_, seq) => ({
        migration: id,
        pass: 1,
        seq,
        table: seq % 2 === 0 ? 'accounts' : 'messages',
        after: seq === 0 ? null : `k${seq - 1}`,
        upTo: seq === n - 1 ? null : `k${seq}`,
        planned: 10,
        state: 'pending',
        claimedBy: null,
        claimedAt: null,
      }));
      await s.addBatches(batches);
      await s.setPassState(id, 1, 'copying', T0 + 2);
      return id;
    }

    void it('workers claiming at once get disjoint batches, every batch exactly once, in order per worker', async () => {
      const handles = adapter.concurrent ? await Promise.all([1, 2, 3, 4].map(() => open())) : [await open()];
      const first = handles[0] as MigrationStateStore;
      const id = await planned(first, 60);
      const got = await Promise.all(
        ['w1', 'w2', 'w3', 'w4'].map(async (worker, i) => {
          const s = handles[i % handles.length] as MigrationStateStore;
          const mine: number[] = [];
          for (;;) {
            const b = await s.claimBatch(id, 1, worker, T0 + 3);
            if (!b) return mine;
            assert.deepEqual([b.state, b.claimedBy, b.claimedAt, b.planned], ['running', worker, T0 + 3, 10]);
            mine.push(b.seq);
            assert.equal(await s.completeBatch(b, worker, { ...ZERO_COUNTERS, read: 10, copied: 9, stayed: 1 }, T0 + 4), true);
          }
        }),
      );
      const all = got.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 60 }, (_, i) => i), 'each batch claimed exactly once');
      for (const mine of got) assert.deepEqual(mine, [...mine].sort((a, b) => a - b), 'a worker claims in plan order');
      if (adapter.concurrent) assert.ok(got.filter((mine) => mine.length > 0).length >= 2, `the work was shared: ${got.map((g) => g.length).join(', ')}`);
      const p = await first.passProgress(id, 1);
      assert.deepEqual([p.batches, p.done, p.planned, p.counters], [60, 60, 600, { ...ZERO_COUNTERS, read: 600, copied: 540, stayed: 60 }]);
      assert.deepEqual(await first.claims(id, 1), []);
    });

    void it("a dead worker's batch is released, taken by another, and the dead one can no longer complete it", async () => {
      const [a, b] = adapter.concurrent ? [await open(), await open()] : [await open(), undefined];
      const other = b ?? a;
      const id = await planned(a, 3);
      const held = await a.claimBatch(id, 1, 'dead', T0 + 10);
      assert.equal(held?.seq, 0);
      const survivor = await a.claimBatch(id, 1, 'alive', T0 + 11);
      assert.equal(survivor?.seq, 1);
      const byWorker = (l: { worker: string }[]) => l.sort((x, y) => x.worker.localeCompare(y.worker));
      assert.deepEqual(byWorker(await other.claims(id, 1)), [{ worker: 'alive', claimedAt: T0 + 11 }, { worker: 'dead', claimedAt: T0 + 10 }]);
      assert.equal(await other.releaseClaims(id, 1, ['nobody']), 0);
      assert.equal((await other.get(id))?.interruptedPass, null, 'nothing taken back: the pass is not interrupted');
      assert.equal(await other.releaseClaims(id, 1, ['dead']), 1);
      assert.equal((await other.get(id))?.interruptedPass, 1, 'the pass is marked interrupted');
      assert.deepEqual(await other.releasedBatches(id, 1), [0], 'only the batch taken back is released');
      assert.deepEqual(await other.releasedBatches(id, 2), []);
      assert.deepEqual(await other.claims(id, 1), [{ worker: 'alive', claimedAt: T0 + 11 }]);
      assert.equal(await other.completeBatch(survivor, 'alive', ZERO_COUNTERS, T0 + 12), true);
      const again = await other.claimBatch(id, 1, 'alive', T0 + 20);
      assert.deepEqual([again?.seq, again?.table, again?.after, again?.upTo], [0, 'accounts', null, 'k0']);
      assert.equal(await a.completeBatch(held, 'dead', ZERO_COUNTERS, T0 + 21), false, 'the dead claim cannot complete');
      assert.equal(await other.completeBatch(again as BatchInfo, 'alive', ZERO_COUNTERS, T0 + 22), true);
      assert.equal(await other.completeBatch(again as BatchInfo, 'alive', ZERO_COUNTERS, T0 + 23), false, 'done once');
      assert.deepEqual(await a.releasedBatches(id, 1), [0], 'a released batch stays released once done');
      const p = await a.passProgress(id, 1);
      assert.deepEqual([p.batches, p.done], [3, 2]);
    });

    void it('exclusive sections of one migration never overlap; another migration is not held up', async () => {
      const handles = adapter.concurrent ? await Promise.all([1, 2, 3].map(() => open())) : [await open()];
      const id = `m${randomBytes(5).toString('hex')}`;
      let inside = 0;
      let most = 0;
      const order: number[] = [];
      await Promise.all(
        [0, 1, 2, 3, 4, 5].map((n) =>
          (handles[n % handles.length] as MigrationStateStore).exclusive(id, async () => {
            inside += 1;
            most = Math.max(most, inside);
            // A different migration's section runs meanwhile, without waiting for this one.
            if (n === 0) assert.equal(await (handles.at(-1) as MigrationStateStore).exclusive(`${id}x`, () => Promise.resolve('other')), 'other');
            await new Promise((r) => setTimeout(r, 15));
            order.push(n);
            inside -= 1;
          }),
        ),
      );
      assert.equal(order.length, 6);
      if (adapter.concurrent) assert.equal(most, 1, 'one section at a time');
      await assert.rejects((handles[0] as MigrationStateStore).exclusive(id, () => Promise.reject(new Error('boom'))), /boom/);
      assert.equal(await (handles[0] as MigrationStateStore).exclusive(id, () => Promise.resolve(42)), 42, 'a failed section lets the next one in');
    });

    void it('ledger: upserts, lookups by key, unseen rows, stamps paged in key order, removal', async () => {
      const s = await open();
      const id = await planned(s, 1);
      const entry = (key: string, seenPass: number, digest = 1, seenBatch: number | null = 7): LedgerEntry => ({ table: 'accounts', key, collection: 'users', recordId: `r-${key}`, subject: 's1', digest: Buffer.of(digest, 0, 255), seenPass, seenBatch });
      // Byte order of keys: "B" < "a" < "a\u00e9" (UTF-8), as SQLite compares.
      const keys = ['a', 'B', 'a\u00e9', 'c1', 'c10', 'c2'];
      await s.putLedger(id, keys.map((k) => entry(k, 1)));
      await s.putLedger(id, [entry('c1', 2, 9, 11), entry('B', 1, 1, null)]);
      const got = await s.ledger(id, 'accounts', ['c1', 'a', 'B', 'zz']);
      assert.deepEqual([...got.keys()].sort(), ['B', 'a', 'c1']);
      assert.deepEqual(Buffer.from(got.get('c1')?.digest ?? []), Buffer.of(9, 0, 255));
      assert.deepEqual([got.get('c1')?.seenPass, got.get('c1')?.seenBatch, got.get('a')?.seenBatch, got.get('B')?.seenBatch], [2, 11, 7, null]);
      assert.equal(await s.ledgerCount(id), 6);
      assert.equal(await s.ledgerCount(id, 'messages'), 0);
      assert.deepEqual((await s.unseen(id, 2, 100)).map((e) => e.key).sort(), keys.filter((k) => k !== 'c1').sort());
      await s.stampLedger(id, 'accounts', ['a', 'c2'], 'v1');
      const page1 = await s.unstamped(id, 'accounts', 'v1', 2, null);
      const page2 = await s.unstamped(id, 'accounts', 'v1', 10, page1.at(-1)?.key ?? null);
      assert.deepEqual([...page1, ...page2].map((e) => e.key), ['B', 'a\u00e9', 'c1', 'c10']);
      await s.removeLedger(id, 'accounts', ['B', 'c10']);
      assert.equal(await s.ledgerCount(id, 'accounts'), 4);
      await s.clearLedger(id);
      assert.equal(await s.ledgerCount(id), 0);
    });

    void it('invalidateLedger empties the digest only of rows still as read: a newer pass\'s row and a swept one stay as they are', async () => {
      const s = await open();
      const id = await planned(s, 1);
      const entry = (key: string, seenPass: number, seenBatch: number | null, digest: number): LedgerEntry => ({ table: 'accounts', key, collection: 'users', recordId: `r-${key}`, subject: 's1', digest: Buffer.of(digest, 1), seenPass, seenBatch });
      const read = [entry('same', 1, 3, 5), entry('nobatch', 1, null, 5), entry('newer', 1, 3, 5), entry('swept', 1, 3, 5), entry('changed', 1, 3, 5)];
      await s.putLedger(id, read);
      // What verification read, then changed under it: a new pass rewrote one row, a sweep removed one,
      // and one row's digest changed within the same pass and batch.
      await s.putLedger(id, [entry('newer', 2, 0, 5), entry('changed', 1, 3, 6)]);
      await s.removeLedger(id, 'accounts', ['swept']);
      assert.equal(await s.invalidateLedger(id, read), 2);
      const got = await s.ledger(id, 'accounts', read.map((e) => e.key));
      const digest = (k: string) => [...Buffer.from(got.get(k)?.digest ?? Buffer.of(0xee))];
      assert.deepEqual(digest('same'), []);
      assert.deepEqual(digest('nobatch'), [], 'a row without a batch (seen_batch NULL) is matched too');
      assert.deepEqual([digest('newer'), got.get('newer')?.seenPass, got.get('newer')?.seenBatch], [[5, 1], 2, 0], 'the newer pass\'s row is kept');
      assert.deepEqual(digest('changed'), [6, 1]);
      assert.equal(got.has('swept'), false, 'a removed row is not put back');
      assert.equal(await s.invalidateLedger(id, []), 0);
    });

    void it('verifications, mismatches in order, pending purges and certificates round-trip', async () => {
      const s = await open();
      const id = await planned(s, 1);
      const v = { id: `v-${id}`, migration: id, pass: 1, startedAt: T0, finishedAt: T0 + 5, ok: false, tables: [{ table: 'accounts', collection: 'users', rows: 3, sourceRoot: 'aa', erased: 1, records: 2, destinationRoot: 'bb', mismatches: 3 }], root: 'cc', mismatches: 3 };
      await s.putMismatches(v.id, [{ table: 'accounts', key: 'k1', kind: 'missing', detail: 'record_not_found' }, { table: 'accounts', key: 'k2', kind: 'changed', detail: '' }]);
      await s.putMismatches(v.id, [{ table: 'messages', key: 'k3', kind: 'extra', detail: 'gone' }]);
      await s.saveVerification(v);
      await s.saveVerification({ ...v, id: `w-${id}`, ok: true, mismatches: 0 });
      assert.deepEqual(await s.verification(v.id), v);
      assert.equal((await s.latestVerification(id))?.id, `w-${id}`, 'same finish time: the later saved is the latest');
      const ms = await s.mismatches(v.id, 2, 0);
      assert.deepEqual(ms.map((m) => [m.seq, m.key, m.kind]), [[1, 'k1', 'missing'], [2, 'k2', 'changed']]);
      assert.deepEqual((await s.mismatches(v.id, 2, 2)).map((m) => [m.seq, m.table, m.detail]), [[3, 'messages', 'gone']]);
      const pending = { migration: id, verification: v.id, startedAt: T0, preparedAt: T0 + 1, tables: [{ table: 'accounts', collection: 'users', purged: 2, purgedRoot: 'dd', erased: 1, kept: 1, keptBefore: 'ee', keptAfter: null }] };
      await s.savePendingPurge(pending);
      await s.savePendingPurge({ ...pending, preparedAt: T0 + 2 });
      assert.deepEqual(await s.pendingPurge(id), { ...pending, preparedAt: T0 + 2 });
      await s.clearPendingPurge(id);
      assert.equal(await s.pendingPurge(id), undefined);
      const c = { id: `dc-${id}`, migration: id, verification: v.id, issuedAt: T0 + 9, note: 'note\n\u2014 sig\n', logIndex: null };
      await s.saveCertificate(c);
      await s.saveCertificate({ ...c, note: 'replaced?' });
      await s.setCertificateLogIndex(c.id, 2 ** 40);
      assert.deepEqual(await s.certificate(c.id), { ...c, logIndex: 2 ** 40 });
      assert.deepEqual((await s.certificates(id)).map((x) => x.id), [c.id]);
      assert.ok((await s.certificates()).some((x) => x.id === c.id));
      const m = await s.get(id);
      assert.deepEqual([m?.pass, m?.passState, m?.createdAt, m?.passStartedAt, m?.passFinishedAt], [1, 'copying', T0, T0 + 1, null]);
      await s.setPassState(id, 1, 'done', T0 + 30);
      assert.equal((await s.get(id))?.passFinishedAt, T0 + 30);
    });

    void it('a pending purge is marked committed once, for its verification only, and a new one starts unmarked', async () => {
      const s = await open();
      const id = `m${randomBytes(5).toString('hex')}`;
      assert.equal(await s.markPurgeCommitted(id, 'v1', T0), false, 'no purge pending: nothing to mark');
      assert.equal(await s.pendingPurge(id), undefined);
      const pending = { migration: id, verification: 'v1', startedAt: T0, preparedAt: T0 + 1, tables: [{ table: 'accounts', collection: 'users', purged: 2, purgedRoot: 'dd', erased: 1, kept: 1, keptBefore: 'ee', keptAfter: 'ee' }], sourceSettings: { journal_mode: 'delete' } };
      await s.savePendingPurge(pending);
      assert.deepEqual(await s.pendingPurge(id), pending, 'saved before the commit: not marked');
      assert.equal(await s.markPurgeCommitted(id, 'v0', T0 + 2), false, 'another verification\'s purge is not this one');
      assert.deepEqual(await s.pendingPurge(id), pending);
      assert.equal(await s.markPurgeCommitted(id, 'v1', T0 + 2), true);
      assert.deepEqual(await s.pendingPurge(id), { ...pending, committedAt: T0 + 2 }, 'the body is kept, the commit time added (beyond 2^32)');
      assert.equal(await s.markPurgeCommitted(id, 'v1', T0 + 3), true);
      assert.equal((await s.pendingPurge(id))?.committedAt, T0 + 2, 'the first mark stands');
      const other = await open();
      assert.equal((await other.pendingPurge(id))?.committedAt, T0 + 2, 'another handle reads the mark');
      // A purge saved again (a new purge of the migration, or one saved as committed) takes its own committedAt, or none.
      await s.savePendingPurge({ ...pending, verification: 'v2', preparedAt: T0 + 4 });
      assert.deepEqual(await s.pendingPurge(id), { ...pending, verification: 'v2', preparedAt: T0 + 4 }, 'a new purge is not marked by the old one\'s mark');
      await s.savePendingPurge({ ...pending, committedAt: T0 + 5 });
      assert.deepEqual(await s.pendingPurge(id), { ...pending, committedAt: T0 + 5 });
      await s.clearPendingPurge(id);
      assert.equal(await s.pendingPurge(id), undefined);
      assert.equal(await s.markPurgeCommitted(id, 'v1', T0 + 6), false, 'cleared: nothing to mark');
    });
  });
}
