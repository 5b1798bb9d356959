// The log service at its edges: two instances unsealing at once with different identities, a store that
// stops answering a commit (fail closed within a bound, not hanging for ever), a real full disk under
// group commit, and a seal racing a batch whose drafts had to be finished on the request thread.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import { decodeLogEntry, subjectHash, type LogEntryDraft } from '../../src/core/log-entry.ts';
import type { AppendedEntries } from '../../src/core/log-store.ts';
import { openCheckpoint } from '../../src/core/tlog/checkpoint.ts';
import { noteVerifier } from '../../src/core/tlog/note.ts';
import { logSubjectKey } from '../../src/crypto/key-derivation.ts';
import { LogService } from '../../src/services/log-service.ts';
import { PostgresLogStore } from '../../src/storage/postgres/postgres-log-store.ts';
import { SqliteLogStore } from '../../src/storage/sqlite/sqlite-log-store.ts';
import { admin, pgUrl, postgresSkip, schemaMaker } from '../helpers/postgres.ts';
import { LOG_ACTOR, logEvent } from '../helpers/log.ts';

const skip = await postgresSkip();
const dir = mkdtempSync(join(tmpdir(), 'enclave-log-edges-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const actor = LOG_ACTOR;
const event = logEvent;

/** Settles `p`, or fails the test if it has not settled after `ms` (a hang shows as a failure, not a stuck run). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  const settled = await Promise.race([Promise.allSettled([p]).then(([r]) => r as PromiseSettledResult<T>), hung]);
  clearTimeout(timer);
  assert.notEqual(settled, 'hung', `${what} did not settle within ${ms} ms`);
  return settled as PromiseSettledResult<T>;
}

void describe('LogService edges', () => {
  void it('of two instances unsealing at once with different origins, only one records its key; the other is refused', async () => {
    const path = join(dir, 'identity-race.db');
    const root = randomBytes(32);
    // Two gateway instances on one log store (as on PostgreSQL), misconfigured with different origins.
    const a = new LogService({ store: new SqliteLogStore({ path }), origin: 'first.example/log' });
    const b = new LogService({ store: new SqliteLogStore({ path }), origin: 'second.example/log' });
    const results = await Promise.allSettled([a.unsealed(root), b.unsealed(root)]);
    assert.deepEqual(
      results.map((r) => r.status).sort(),
      ['fulfilled', 'rejected'],
      'the instance that did not record its verifier key must not sign with it',
    );
    const refused = results.find((r) => r.status === 'rejected');
    assert.ok(refused?.status === 'rejected' && isEnclaveError(refused.reason, 'invalid_config'));
    // And the one that signs has the log's recorded identity: its checkpoints verify under /log/vkey.
    const signer = results[0]?.status === 'fulfilled' ? a : b;
    await signer.append(event(1));
    const cp = await signer.sync();
    const vkey = await (signer === a ? b : a).vkey();
    assert.ok(cp && vkey);
    assert.equal(openCheckpoint(cp.text, noteVerifier(vkey)).checkpoint.size, 1);
    await b.close();
    await a.close();
  });

  void it('fails appends with log_unavailable within its commit timeout when the store stops answering, then recovers', async () => {
    const store = new SqliteLogStore({ path: ':memory:' });
    let release: (() => void) | null = null;
    let stuck = true;
    const hanging = Object.assign(Object.create(store) as SqliteLogStore, {
      // A commit that never returns (a hung fsync, a lost PostgreSQL connection without keepalive answers).
      appendEntries: async (...args: Parameters<SqliteLogStore['appendEntries']>): Promise<AppendedEntries> => {
        if (stuck) {
          stuck = false;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
        }
        return store.appendEntries(...args);
      },
    });
    const log = new LogService({ store: hanging, origin: 'o', commitTimeoutMs: 200 });
    const first = Array.from({ length: 5 }, (_, i) => log.append(event(i)));
    for (const p of first) {
      const r = await within(p, 3000, 'an append whose commit hangs');
      assert.ok(r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable'), String(r.status === 'rejected' ? r.reason : r.value));
    }
    // While the commit is still outstanding, a new append is refused at once instead of queueing behind it.
    const during = await within(log.append(event(9)), 100, 'an append while the store is stuck');
    assert.ok(during.status === 'rejected' && isEnclaveError(during.reason, 'log_unavailable'));
    // The store answers again: appends go on (the late commit stands as an over-report, never an under-report).
    assert.ok(release !== null);
    (release as () => void)();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const later = await within(log.append(event(10)), 3000, 'an append after the store recovered');
    assert.ok(later.status === 'fulfilled', String(later.status === 'rejected' ? later.reason : ''));
    // The late commit stored the refused batch: an over-report, with dense indexes after it.
    assert.equal(later.value.index, 5);
    await log.close();
  });

  void it('closes within its commit timeout on a store that never answers: what is pending fails with log_unavailable', async () => {
    const store = new SqliteLogStore({ path: ':memory:' });
    // A store that stops answering altogether: a commit stuck in fsync, and a close queued behind it.
    const silent = Object.assign(Object.create(store) as SqliteLogStore, {
      appendEntries: () => new Promise<AppendedEntries>(() => {}),
      close: () => new Promise<void>(() => {}),
    });
    const reported: string[] = [];
    const log = new LogService({ store: silent, origin: 'o', commitTimeoutMs: 200, onError: (_err, what) => reported.push(what) });
    const pending = Promise.allSettled([0, 1, 2].map((i) => log.append(event(i))));
    const closed = await within(log.close(), 5000, 'close on a store that never answers');
    assert.equal(closed.status, 'fulfilled', String(closed.status === 'rejected' ? closed.reason : ''));
    const settled = await within(pending, 1000, 'the appends pending when the log closed');
    assert.ok(settled.status === 'fulfilled');
    for (const r of settled.value) assert.ok(r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable'), String(r.status === 'rejected' ? r.reason : r.value));
    const after = await within(log.append(event(3)), 1000, 'an append after close');
    assert.ok(after.status === 'rejected' && isEnclaveError(after.reason, 'log_unavailable'));
    assert.deepEqual(reported, ['close'], 'the store that did not close is reported');
    await store.close();
  });

  void it('does not replace a stored checkpoint of its size with another root: the fork is kept and reported (log_mismatch)', async () => {
    const store = new SqliteLogStore({ path: join(dir, 'fork.db') });
    const log = new LogService({ store, origin: 'o' });
    await log.unsealed(randomBytes(32));
    await Promise.all([log.append(event(0)), log.append(event(1))]);
    assert.equal((await log.sync())?.size, 2);
    await log.append(event(2));
    // Another tree of size 3 was published meanwhile (a second sequencer over a store that diverged, a forger).
    const other = `o\n3\n${Buffer.alloc(32, 7).toString('base64')}\n\n— o AAAA\n`;
    assert.equal(await store.putCheckpoint({ size: 3, time: 1, text: other }), true);
    await assert.rejects(log.sync(), (e) => isEnclaveError(e, 'log_mismatch'));
    assert.equal((await store.latestCheckpoint())?.text, other, 'the other root is kept as evidence, not overwritten');
    await log.close();
  });

  void it('rejects every waiter of a batch whose transaction fails on a full disk, stores none of it, and recovers', async () => {
    // The inline writer on a file: its connection is the store's own, where a page limit makes the disk "full".
    const store = new SqliteLogStore({ path: join(dir, 'full.db'), writer: 'inline' });
    const db = (store as unknown as { db: DatabaseSync }).db;
    const log = new LogService({ store, origin: 'o' });
    await log.unsealed(randomBytes(32));
    await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(event(i))));
    const pages = Number((db.prepare('PRAGMA page_count').get() as { page_count: number }).page_count);
    db.exec(`PRAGMA max_page_count = ${pages}`);
    const big = 'x'.repeat(2000);
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => log.append(event(100 + i, { details: { action: 'record.read', pad: big } }))));
    assert.ok(
      results.every((r) => r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable')),
      'no waiter of the failed batch is acknowledged',
    );
    assert.equal(await store.size(), 10, 'nothing of the failed batch is stored');
    db.exec('PRAGMA max_page_count = 1073741823');
    assert.equal((await log.append(event(11))).index, 10, 'the next batch is stored, with no gap');
    assert.equal((await log.sync())?.size, 11);
    await log.close();
  });

  void it('a batch finished on the request thread hashes its subjects under the key it was given, even if the enclave seals meanwhile', async () => {
    const store = new SqliteLogStore({ path: join(dir, 'clone-seal.db') });
    const root = randomBytes(32);
    const key = logSubjectKey(root);
    const raw = randomBytes(32);
    raw.set(key);
    const items: LogEntryDraft[] = [
      { v: 1 as const, type: 'access.decision' as const, time: '2026-03-01T12:00:00.000Z', principal: actor, subjectId: 'u-42', details: { action: 'record.read', f: (() => 1) as unknown as string } },
      { v: 1 as const, type: 'access.decision' as const, time: '2026-03-01T12:00:00.000Z', principal: actor, subjectId: 'u-42', details: { action: 'record.read' } },
    ];
    // The service hands the store its own key buffer; sealing wipes that buffer (LogService.sealedNow).
    const appended = store.appendEntries(items, raw);
    raw.fill(0);
    const { outcomes } = await appended;
    assert.ok(outcomes[0] instanceof Error, 'the draft that cannot cross is refused alone');
    assert.equal(outcomes[1], 0);
    const [body] = await store.readEntries(0, 1);
    assert.ok(body);
    assert.equal(decodeLogEntry(body).subject, subjectHash(key, 'u-42'), 'hashed under the log subject key, not under a wiped (all-zero, public) key');
    await store.close();
  });
  void it('appends nothing at indexes its integrated tree already holds when the newest entries were removed from the store', async () => {
    const path = join(dir, 'truncated.db');
    const log = new LogService({ store: new SqliteLogStore({ path }), origin: 'o' });
    await log.unsealed(randomBytes(32));
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(event(i))));
    assert.equal((await log.sync())?.size, 20);
    // Entries 10 to 19, integrated and signed, removed from the file behind the log's back.
    const db = new DatabaseSync(path);
    db.prepare('DELETE FROM log_entries WHERE idx >= 10').run();
    db.close();
    // Acknowledged at 10..19, these would be in no checkpoint: the tree holds the removed entries' leaves there.
    const results = await Promise.allSettled(Array.from({ length: 15 }, (_, i) => log.append(event(100 + i))));
    for (const r of results) assert.ok(r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable'), String(r.status === 'rejected' ? r.reason : `acknowledged at ${r.value.index}`));
    // Nor is anything signed over the tree; the integrator says why.
    await assert.rejects(log.sync(), (e) => isEnclaveError(e, 'log_mismatch'));
    assert.equal((await log.checkpoint())?.size, 20);
    await log.close();
  });
});

void describe('LogService edges on PostgreSQL', { skip }, () => {
  const schema = schemaMaker();

  void it('fails appends within its commit timeout while another session holds the entries counter, then recovers', async () => {
    const name = schema('stuck');
    const url = pgUrl(name, { pool_size: '2' });
    const log = new LogService({ store: await PostgresLogStore.open(url), origin: 'o', commitTimeoutMs: 300 });
    await log.append(event(0));
    await admin(async (c) => {
      // An operator's forgotten transaction (or a commit waiting for a synchronous standby that is down).
      await c.query('BEGIN');
      await c.query(`SELECT value FROM "${name}".log_counters WHERE name = 'entries' FOR UPDATE`);
      try {
        const stuck = await within(log.append(event(1)), 3000, 'an append behind a held counter row');
        assert.ok(stuck.status === 'rejected' && isEnclaveError(stuck.reason, 'log_unavailable'), String(stuck.status === 'rejected' ? stuck.reason : stuck.value));
        const during = await within(log.append(event(2)), 100, 'an append while the commit is stuck');
        assert.ok(during.status === 'rejected' && isEnclaveError(during.reason, 'log_unavailable'));
      } finally {
        await c.query('ROLLBACK');
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const later = await within(log.append(event(3)), 3000, 'an append once the row is free');
    assert.ok(later.status === 'fulfilled', String(later.status === 'rejected' ? later.reason : ''));
    assert.equal(later.value.index, 2, 'the late commit stands (an over-report), the next one follows it densely');
    await log.close();
  });

  void it('appends nothing at indexes its integrated tree already holds when the entries counter was set back', async () => {
    const name = schema('rewound');
    const log = new LogService({ store: await PostgresLogStore.open(pgUrl(name, { pool_size: '2' })), origin: 'o' });
    await log.unsealed(randomBytes(32));
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(event(i))));
    assert.equal((await log.sync())?.size, 20);
    // Entries 10 to 19, integrated and signed, removed with the counter set back, behind the log's back.
    await admin(async (c) => {
      await c.query(`DELETE FROM "${name}".log_entries WHERE idx >= 10`);
      await c.query(`UPDATE "${name}".log_counters SET value = 10 WHERE name = 'entries'`);
    });
    const results = await Promise.allSettled(Array.from({ length: 15 }, (_, i) => log.append(event(100 + i))));
    for (const r of results) assert.ok(r.status === 'rejected' && isEnclaveError(r.reason, 'log_unavailable'), String(r.status === 'rejected' ? r.reason : `acknowledged at ${r.value.index}`));
    await assert.rejects(log.sync(), (e) => isEnclaveError(e, 'log_mismatch'));
    assert.equal((await log.checkpoint())?.size, 20, 'nothing is signed over the tree');
    assert.equal(await log.store.size(), 10, 'nor appended');
    await log.close();
  });

  void it('of two instances unsealing at once with different origins, one is refused', async () => {
    const url = pgUrl(schema('identity'), { pool_size: '2' });
    const root = randomBytes(32);
    const a = new LogService({ store: await PostgresLogStore.open(url), origin: 'first.example/log' });
    const b = new LogService({ store: await PostgresLogStore.open(url), origin: 'second.example/log' });
    const results = await Promise.allSettled([a.unsealed(root), b.unsealed(root)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    await a.close();
    await b.close();
  });
});
