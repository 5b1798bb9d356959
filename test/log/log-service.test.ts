// The log service on a real SQLite log store: group commit (1,000 concurrent appends get distinct dense
// indexes, durable across reopen), integration into C2SP tiles checked by an independent reader over
// the served tiles, signed checkpoints, proofs, sealed behaviour, and refusals when the store fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import { decodeLogEntry, finishLogEntry, LOG_ENTRY_VERSION, subjectHash } from '../../src/core/log-entry.ts';
import { openCheckpoint } from '../../src/core/tlog/checkpoint.ts';
import { decodeBase64 } from '../../src/core/tlog/encoding.ts';
import { checkRecord, checkTree, leafHash, treeHash } from '../../src/core/tlog/merkle.ts';
import { noteVerifier } from '../../src/core/tlog/note.ts';
import { decodeEntryBundle, decodeTile, TILE_WIDTH, tileHashReader, tileWidth } from '../../src/core/tlog/tiles.ts';
import { logSubjectKey } from '../../src/crypto/key-derivation.ts';
import { LogService } from '../../src/services/log-service.ts';
import { SqliteLogStore } from '../../src/storage/sqlite/sqlite-log-store.ts';
import { logEvent } from '../helpers/log.ts';

const dir = mkdtempSync(join(tmpdir(), 'enclave-log-service-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function open(path = join(dir, `log-${++n}.db`)): LogService {
  return new LogService({ store: new SqliteLogStore({ path }), origin: 'enclave.test/log' });
}

const event = logEvent;

/** Checks the published checkpoint and the whole tree as an outside party would: from the tiles alone. */
async function verifyFromTiles(log: LogService): Promise<{ size: number; root: Uint8Array }> {
  const cp = await log.checkpoint();
  assert.ok(cp, 'a checkpoint is published');
  const vkey = await log.vkey();
  assert.ok(vkey);
  const { checkpoint } = openCheckpoint(cp.text, noteVerifier(vkey));
  const reader = tileHashReader(checkpoint.size, async (t) => decodeTile(await log.tile(t.level, t.index, t.width), t.width));
  assert.deepEqual(Buffer.from(await treeHash(checkpoint.size, reader)), Buffer.from(checkpoint.root), 'the tiles hash to the signed root');
  // Every entry bundle matches the level-0 tiles.
  for (let b = 0; b * TILE_WIDTH < checkpoint.size; b++) {
    const width = tileWidth(0, b, checkpoint.size);
    const entries = decodeEntryBundle(await log.entryBundle(b, width), width);
    const hashes = decodeTile(await log.tile(0, b, width), width);
    entries.forEach((e, i) => assert.deepEqual(Buffer.from(leafHash(e)), Buffer.from(hashes[i] ?? []), `entry ${b * TILE_WIDTH + i}`));
  }
  return { size: checkpoint.size, root: checkpoint.root };
}

void describe('LogService', () => {
  void it('gives 1,000 concurrent appends distinct, dense indexes, all durable across a reopen', async () => {
    const path = join(dir, 'concurrent.db');
    const log = open(path);
    const receipts = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(event(i))));
    const indexes = receipts.map((r) => r.index).sort((a, b) => a - b);
    assert.deepEqual(indexes, Array.from({ length: 1000 }, (_, i) => i));
    await log.close();
    const again = new SqliteLogStore({ path });
    assert.equal(await again.size(), 1000, 'no acknowledged entry lost');
    // Each receipt points at its own entry.
    const bodies = await again.readEntries(0, 1000);
    receipts.forEach((r, i) => assert.equal((decodeLogEntry(bodies[r.index] ?? new Uint8Array()).details as { i: number }).i, i));
    await again.close();
  });

  void it('shares commits among concurrent appends (group commit)', async () => {
    const store = new SqliteLogStore({ path: join(dir, 'group.db') });
    let commits = 0;
    const counting = Object.assign(Object.create(store) as SqliteLogStore, {
      append: (rows: Parameters<SqliteLogStore['append']>[0]) => {
        commits++;
        return store.append(rows);
      },
      appendEntries: (...args: Parameters<SqliteLogStore['appendEntries']>) => {
        commits++;
        return store.appendEntries(...args);
      },
    });
    const log = new LogService({ store: counting, origin: 'o' });
    await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(event(i))));
    assert.ok(commits >= 1 && commits <= 5, `500 concurrent appends took ${commits} commits`);
    await log.close();
  });

  void it('integrates into tiles and signs checkpoints that an outside reader verifies, with proofs', async () => {
    const log = open();
    const root = randomBytes(32);
    await log.unsealed(root);
    for (let i = 0; i < 300; i++) await log.append(event(i)).then(() => undefined);
    const first = await verifyFromTiles(await syncd(log));
    assert.equal(first.size, 300);
    await Promise.all(Array.from({ length: 70_000 - 300 }, (_, i) => log.append(event(300 + i, { details: { i: 300 + i } }))));
    const second = await verifyFromTiles(await syncd(log));
    assert.equal(second.size, 70_000);

    // Inclusion and consistency proofs from the API verify against the signed roots.
    for (const index of [0, 255, 256, 65_535, 65_536, 69_999]) {
      const p = await log.inclusionProof(index);
      checkRecord(p.proof.map((h) => decodeBase64(h, 'hash')), second.size, second.root, index, decodeBase64(p.leafHash, 'leaf'));
    }
    const c = await log.consistencyProof(300);
    checkTree(c.proof.map((h) => decodeBase64(h, 'hash')), second.size, second.root, 300, first.root);
    await log.close();
  });

  void it('restores its tree from the stored tiles after a restart and keeps extending it consistently', async () => {
    const path = join(dir, 'restart.db');
    const root = randomBytes(32);
    const a = open(path);
    await a.unsealed(root);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => a.append(event(i))));
    const before = await verifyFromTiles(await syncd(a));
    await a.close();

    const b = open(path);
    await b.unsealed(root);
    await Promise.all(Array.from({ length: 333 }, (_, i) => b.append(event(i))));
    const later = await verifyFromTiles(await syncd(b));
    assert.equal(later.size, 1333);
    const c = await b.consistencyProof(before.size);
    checkTree(c.proof.map((h) => decodeBase64(h, 'hash')), later.size, later.root, before.size, before.root);
    await b.close();
  });

  void it('integrates its own appends from the leaf hashes its writer returned, and reads back only what another writer appended', async () => {
    const path = join(dir, 'leaves.db');
    const store = new SqliteLogStore({ path });
    let read = 0;
    const counting = Object.assign(Object.create(store) as SqliteLogStore, {
      readEntries: (from: number, to: number) => {
        read += to - from;
        return store.readEntries(from, to);
      },
    });
    const log = new LogService({ store: counting, origin: 'enclave.test/log' });
    await log.unsealed(randomBytes(32));
    await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(event(i))));
    await log.sync();
    assert.equal(read, 0, 'no entry read back');
    // Another process appends between this one's appends: the run of hashes has a gap.
    const other = new SqliteLogStore({ path });
    const raw = (i: number) => finishLogEntry({ v: LOG_ENTRY_VERSION, type: 'enclave.sealed', time: new Date().toISOString(), principal: null, subjectId: null, details: { other: i } }, null);
    assert.equal(await other.append([raw(0), raw(1), raw(2)]), 500);
    await other.close();
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(event(i))));
    await log.sync();
    assert.equal(read, 23, 'the chunk holding the other writer\'s entries is read back, and nothing else');
    const { size } = await verifyFromTiles(log);
    assert.equal(size, 523);
    await log.close();
  });

  void it('names subjects only by their keyed hash, and while sealed logs decisions unlinked but refuses changes', async () => {
    const log = open();
    const root = randomBytes(32);
    await log.unsealed(root);
    const linked = await log.append(event(1, { subject: 'alice-77' }));
    log.sealedNow();
    const unlinked = await log.append(event(2, { subject: 'alice-77' }));
    await assert.rejects(log.append({ type: 'subject.erased', subject: 'alice-77', details: {} }), (e) => isEnclaveError(e, 'sealed'));
    const noSubject = await log.append({ type: 'enclave.sealed', details: {} });
    const bodies = await log.store.readEntries(0, 10);
    assert.equal(bodies.length, 3);
    const text = bodies.map((b) => Buffer.from(b).toString()).join('\n');
    assert.ok(!text.includes('alice-77'), 'the raw subject id is never stored');
    assert.equal(decodeLogEntry(bodies[linked.index] ?? new Uint8Array()).subject, subjectHash(logSubjectKey(root), 'alice-77'));
    const sealedEntry = decodeLogEntry(bodies[unlinked.index] ?? new Uint8Array());
    assert.deepEqual([sealedEntry.subject, sealedEntry.sealed], [null, true]);
    assert.equal(decodeLogEntry(bodies[noSubject.index] ?? new Uint8Array()).subject, null);
    await log.close();
  });

  void it('logs of a principal passed as it is only its id, org and role, and what they are at each append', async () => {
    const log = open();
    await log.unsealed(randomBytes(32));
    const principal = { id: 'svc-1', org: 'platform', role: 'service', orgKind: 'service', purpose: 'account', secret: 'not for the log' };
    const first = await Promise.all([log.append(event(1, { principal })), log.append(event(2, { principal }))]);
    // A caller that reuses one object for another actor (the copy is kept per object) gets the new one.
    principal.role = 'auditor';
    const later = await log.append(event(3, { principal }));
    const bodies = await log.store.readEntries(0, 10);
    const actorOf = (i: number) => decodeLogEntry(bodies[i] ?? new Uint8Array()).principal;
    for (const r of first) assert.deepEqual(actorOf(r.index), { id: 'svc-1', org: 'platform', role: 'service' });
    assert.deepEqual(actorOf(later.index), { id: 'svc-1', org: 'platform', role: 'auditor' });
    assert.ok(!bodies.some((b) => Buffer.from(b).toString().includes('not for the log')));
    await log.close();
  });

  // The embedded store finishes entries on its writer thread (LogStore.appendEntries); a store without
  // that method gets rows finished here. Both must store the same entries and refuse the same ones.
  const stores: readonly (readonly [string, () => SqliteLogStore])[] = [
    ['finished on the writer thread', () => new SqliteLogStore({ path: join(dir, `log-${++n}.db`) })],
    ['finished by the service (a store without appendEntries)', () => Object.assign(new SqliteLogStore({ path: join(dir, `log-${++n}.db`) }), { appendEntries: undefined })],
  ];
  for (const [how, make] of stores) {
    void it(`hashes the subjects of entries still queued when it is sealed, under the key they were appended with (${how})`, async () => {
      const log = new LogService({ store: make(), origin: 'enclave.test/log' });
      const root = randomBytes(32);
      await log.unsealed(root);
      const appended = Array.from({ length: 40 }, (_, i) => log.append(event(i, { subject: `bob-${i}` })));
      log.sealedNow();
      const receipts = await Promise.all(appended);
      const bodies = await log.store.readEntries(0, 100);
      assert.equal(bodies.length, 40);
      receipts.forEach((r, i) => assert.equal(decodeLogEntry(bodies[r.index] ?? new Uint8Array()).subject, subjectHash(logSubjectKey(root), `bob-${i}`), `entry of bob-${i}`));
      await log.close();
    });

    void it(`a sync right after sealing covers the entries queued before an entry the seal refused (${how})`, async () => {
      const log = new LogService({ store: make(), origin: 'enclave.test/log' });
      await log.unsealed(randomBytes(32));
      const first = log.append(event(0, { subject: 'dave' }));
      const big = log.append(event(1, { subject: 'erin', details: { note: 'x'.repeat(70_000) } })).then(
        () => 'stored',
        (e: unknown) => e,
      );
      log.sealedNow();
      await log.sync();
      assert.equal(await log.store.treeSize(), 1, 'the sync waited for the entry queued first and integrated it');
      assert.equal((await first).index, 0);
      assert.ok(isEnclaveError(await big, 'log_unavailable'));
      await log.close();
    });

    void it(`refuses an entry that cannot be encoded alone: the others of its batch are stored with dense indexes (${how})`, async () => {
      const log = new LogService({ store: make(), origin: 'enclave.test/log' });
      const root = randomBytes(32);
      await log.unsealed(root);
      const results = await Promise.allSettled([
        log.append(event(0)),
        log.append(event(1, { details: { note: 'x'.repeat(70_000) } })),
        log.append(event(2)),
        log.append(event(3, { details: { bad: Number.NaN } })),
        log.append(event(4)),
      ]);
      const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
      assert.deepEqual(refused, [1, 3]);
      for (const i of refused) {
        const r = results[i];
        assert.ok(r?.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable'), `entry ${i}: ${r?.status === 'rejected' ? String(r.reason) : ''}`);
      }
      assert.deepEqual(
        results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.index] : [])),
        [0, 1, 2],
      );
      const bodies = await log.store.readEntries(0, 10);
      assert.deepEqual(bodies.map((b) => decodeLogEntry(b).details['i']), [0, 2, 4]);
      // The key the service holds was not wiped by the store: later entries still hash under it.
      const later = await log.append(event(5, { subject: 'carol' }));
      assert.equal(decodeLogEntry((await log.store.readEntries(later.index, later.index + 1))[0] ?? new Uint8Array()).subject, subjectHash(logSubjectKey(root), 'carol'));
      // The tree over the batch with refusals (leaf hashes from the writer, or read back) is the stored entries'.
      assert.equal((await verifyFromTiles(await syncd(log))).size, 4);
      await log.close();
    });
  }

  void it('refuses alone an entry whose details cannot cross to the writer thread, and the writer goes on', async () => {
    const log = open();
    await log.unsealed(randomBytes(32));
    const results = await Promise.allSettled([
      log.append(event(0)),
      // Not a LogValue: what a caller's bug could pass at run time.
      log.append(event(1, { details: { callback: (() => 1) as unknown as string } })),
      log.append(event(2)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const refused = results[1];
    assert.ok(refused?.status === 'rejected' && isEnclaveError(refused.reason, 'log_unavailable'), String(refused?.status === 'rejected' ? refused.reason : ''));
    assert.equal((await log.append(event(3))).index, 2, 'later appends go on, with no gap');
    await log.close();
  });

  void it('while sealed, integrates but publishes no checkpoint; the first one after unsealing covers everything', async () => {
    const log = open();
    await log.append(event(1, { subject: undefined }));
    assert.equal(await log.sync(), null);
    await assert.rejects(log.tile(0, 0, 1), (e) => isEnclaveError(e, 'not_found'));
    await log.unsealed(randomBytes(32));
    assert.equal((await log.sync())?.size, 1);
    await log.close();
  });

  void it('a sealed instance integrates what another extended meanwhile, into tiles that verify', async () => {
    const store = new SqliteLogStore({ path: ':memory:' });
    // Two instances on one log: `sealed` never has the keys; `open` signs. The SQLite lease lets either lead.
    const sealed = new LogService({ store, origin: 'o' });
    const open = new LogService({ store: Object.assign(Object.create(store) as SqliteLogStore, { close: () => Promise.resolve() }), origin: 'o' });
    await open.unsealed(randomBytes(32));
    await Promise.all(Array.from({ length: 10 }, (_, i) => sealed.append(event(i, { subject: undefined }))));
    await sealed.sync();
    await Promise.all(Array.from({ length: 300 }, (_, i) => open.append(event(i))));
    assert.equal((await open.sync())?.size, 310);
    await Promise.all(Array.from({ length: 5 }, (_, i) => sealed.append(event(i, { subject: undefined }))));
    await sealed.sync();
    assert.equal(await store.treeSize(), 315, 'the sealed instance integrated from the tree the other stored');
    assert.equal((await verifyFromTiles(await syncd(open))).size, 315);
    await open.close();
    await sealed.close();
  });

  void it('a sync that finds a run under way waits for it and integrates what was appended since', async () => {
    const store = new SqliteLogStore({ path: ':memory:' });
    // The first run reads the store's size, then stalls: what is appended meanwhile is past its target.
    let release = (): void => undefined;
    const stalled = new Promise<void>((r) => (release = r));
    let first = true;
    const slow = Object.assign(Object.create(store) as SqliteLogStore, {
      size: async () => {
        const size = await store.size();
        if (first) {
          first = false;
          await stalled;
        }
        return size;
      },
    });
    const log = new LogService({ store: slow, origin: 'o' });
    await log.unsealed(randomBytes(32));
    await log.append(event(1));
    const running = log.sync();
    while (first) await new Promise((r) => setImmediate(r));
    const { index } = await log.append(event(2));
    const after = log.sync();
    release();
    assert.equal((await running)?.size, 1);
    assert.equal((await after)?.size, 2, `entry ${index} is in the checkpoint the later sync answers with`);
    await log.close();
  });

  void it('not the sequencer, serves the checkpoint it read for at most a second, and the latest after a sync', async () => {
    const store = new SqliteLogStore({ path: ':memory:' });
    let now = Date.parse('2026-01-01T00:00:00Z');
    const leader = new LogService({ store, origin: 'o' });
    const follower = new LogService({ store: Object.assign(Object.create(store) as SqliteLogStore, { leadSequencer: () => Promise.resolve(false), close: () => Promise.resolve() }), origin: 'o', clock: () => now });
    await leader.unsealed(randomBytes(32));
    await leader.append(event(1));
    await leader.sync();
    assert.equal((await follower.checkpoint())?.size, 1);
    await leader.append(event(2));
    await leader.sync();
    now += 999;
    assert.equal((await follower.checkpoint())?.size, 1, 'within the second, the one read');
    now += 1;
    assert.equal((await follower.checkpoint())?.size, 2, 'after it, the published one');
    await leader.append(event(3));
    await leader.sync();
    assert.equal((await follower.sync())?.size, 3, 'a sync reads it afresh');
    await follower.close();
    await leader.close();
  });

  void it('refuses appends with log_unavailable when the store fails, and recovers when it works again', async () => {
    const store = new SqliteLogStore({ path: join(dir, 'failing.db') });
    let broken = true;
    const failing = Object.assign(Object.create(store) as SqliteLogStore, {
      append: (rows: Parameters<SqliteLogStore['append']>[0]) => (broken ? Promise.reject(new Error('disk full')) : store.append(rows)),
      appendEntries: (...args: Parameters<SqliteLogStore['appendEntries']>) => (broken ? Promise.reject(new Error('disk full')) : store.appendEntries(...args)),
    });
    const log = new LogService({ store: failing, origin: 'o' });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => log.append(event(i))));
    assert.ok(results.every((r) => r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable')));
    broken = false;
    assert.equal((await log.append(event(1))).index, 0, 'nothing of the failed batches was written');
    await log.close();
    await assert.rejects(log.append(event(2)), (e) => isEnclaveError(e, 'log_unavailable'));
  });

  void it('refuses appends beyond its queue bound instead of growing without limit', async () => {
    const log = new LogService({ store: new SqliteLogStore({ path: ':memory:' }), origin: 'o', maxQueue: 10 });
    const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => log.append(event(i))));
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(refused.length, 15);
    assert.ok(refused.every((r) => isEnclaveError(r.reason, 'log_unavailable')));
    await log.close();
  });

  void it('refuses a verifier key that changed with the origin: a log keeps its identity', async () => {
    const path = join(dir, 'identity.db');
    const root = randomBytes(32);
    const a = new LogService({ store: new SqliteLogStore({ path }), origin: 'first.example/log' });
    await a.unsealed(root);
    await a.close();
    const b = new LogService({ store: new SqliteLogStore({ path }), origin: 'second.example/log' });
    await assert.rejects(b.unsealed(root), (e) => isEnclaveError(e, 'invalid_config'));
    await b.close();
  });
});

async function syncd(log: LogService): Promise<LogService> {
  await log.sync();
  return log;
}
