// Several log services (standing for several gateway instances) on one PostgreSQL log: all append,
// exactly one integrates and signs (the sequencer lease), the others serve what it published; when it
// closes, another takes over and extends the same tree; a sealed sequencer lets the lease go so that an
// unsealed instance signs. Every checkpoint and tile is checked by the outside verifier.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import type { LogEventInput } from '../../src/core/event-log.ts';
import { parseTilePath } from '../../src/core/tlog/tiles.ts';
import { LogService } from '../../src/services/log-service.ts';
import { verifyLog, type LogFetch } from '../../src/services/log-verifier.ts';
import { PostgresLogStore } from '../../src/storage/postgres/postgres-log-store.ts';
import { admin, pgUrl, postgresSkip, schemaMaker } from '../helpers/postgres.ts';

const skip = await postgresSkip();
const ORIGIN = 'enclave.test/scale';

const event = (i: number): LogEventInput => ({ type: 'access.decision', principal: { id: 'app', org: 'platform', role: 'service' }, subject: `s-${i % 5}`, details: { i } });

/** The log's public resources as an outside verifier fetches them, served by `log`. */
function fetchFrom(log: LogService): LogFetch {
  return async (path) => {
    try {
      if (path === 'checkpoint') {
        const cp = await log.checkpoint();
        return cp ? Buffer.from(cp.text) : undefined;
      }
      const r = parseTilePath(path);
      return r.kind === 'entries' ? await log.entryBundle(r.index, r.width) : await log.tile(r.level, r.index, r.width);
    } catch (err) {
      if (isEnclaveError(err, 'not_found')) return undefined;
      throw err;
    }
  };
}

void describe('the log sequencer among several instances (PostgreSQL)', { skip }, () => {
  const schema = schemaMaker();
  const root = randomBytes(32);

  async function instances(label: string, names: readonly string[], params: Record<string, string> = {}): Promise<LogService[]> {
    const url = pgUrl(schema(label), { pool_size: '2', ...params });
    return Promise.all(names.map(async (instance) => new LogService({ store: await PostgresLogStore.open(url), origin: ORIGIN, instance })));
  }

  void it('all append; one integrates and signs, the others serve its checkpoint and tiles, which verify', async () => {
    const [a, b, c] = await instances('seq_roles', ['a', 'b', 'c']);
    assert.ok(a && b && c);
    try {
      for (const log of [a, b, c]) await log.unsealed(root);
      const logs = [a, b, c];
      const receipts = await Promise.all(Array.from({ length: 600 }, (_, i) => (logs[i % 3] as LogService).append(event(i))));
      const indexes = receipts.map((r) => r.index).sort((x, y) => x - y);
      assert.deepEqual(indexes, Array.from({ length: 600 }, (_, i) => i), 'dense and distinct across the instances');
      await Promise.all([a.sync(), b.sync(), c.sync()]);
      const leaders = [a, b, c].filter((l) => l.isSequencer);
      assert.equal(leaders.length, 1, 'exactly one sequencer');
      const leader = leaders[0] as LogService;
      assert.deepEqual([(await b.sequencer())?.instance, (await b.sequencer())?.held], [leader.instance, true]);
      await leader.sync();
      for (const log of [a, b, c]) {
        const vkey = await log.vkey();
        assert.ok(vkey);
        const v = await verifyLog({ fetch: fetchFrom(log), vkey, entries: [0, 300, 599] });
        assert.equal(v.checkpoint.size, 600, `${log.instance} serves the whole tree`);
      }
    } finally {
      await Promise.all([a, b, c].map((l) => l.close()));
    }
  });

  void it('when the sequencer closes, another takes over and extends the same tree (consistent with the old checkpoint)', async () => {
    const [a, b] = await instances('seq_takeover', ['a', 'b']);
    assert.ok(a && b);
    let open = [a, b];
    try {
      await a.unsealed(root);
      await b.unsealed(root);
      await Promise.all(Array.from({ length: 100 }, (_, i) => b.append(event(i))));
      await a.sync();
      assert.equal(a.isSequencer, true);
      await b.sync();
      assert.equal(b.isSequencer, false);
      const before = await b.checkpoint();
      assert.ok(before);
      await a.close();
      open = [b];
      await Promise.all(Array.from({ length: 50 }, (_, i) => b.append(event(i))));
      const after = await b.sync();
      assert.equal(b.isSequencer, true, 'b took the lease a let go');
      assert.equal(after?.size, before.size + 50);
      const vkey = await b.vkey();
      assert.ok(vkey);
      const v = await verifyLog({ fetch: fetchFrom(b), vkey, since: before.text });
      assert.equal(v.consistentWith, before.size);
    } finally {
      await Promise.all(open.map((l) => l.close()));
    }
  });

  void it('a sealed sequencer integrates, then lets the lease go to an unsealed instance, which signs', async () => {
    const [sealed, open] = await instances('seq_sealed', ['sealed', 'open']);
    assert.ok(sealed && open);
    try {
      await sealed.unsealed(root);
      sealed.sealedNow();
      await Promise.all(Array.from({ length: 10 }, (_, i) => sealed.append(event(i))));
      assert.equal(await sealed.sync(), null, 'nothing can be signed yet');
      assert.equal(sealed.isSequencer, false);
      assert.equal(await sealed.store.treeSize(), 10, 'but it integrated');
      assert.equal((await sealed.sequencer())?.held, false, 'and let the lease go');
      await open.unsealed(root);
      const cp = await open.sync();
      assert.equal(open.isSequencer, true);
      assert.equal(cp?.size, 10);
      await sealed.sync();
      assert.equal(sealed.isSequencer, false, 'the unsealed one keeps it');
      assert.equal((await sealed.checkpoint())?.size, 10);
    } finally {
      await Promise.all([sealed, open].map((l) => l.close()));
    }
  });

  void it('a sealed instance that integrates tick after tick keeps one lease session instead of a new one per tick', async () => {
    const app = `seq-${randomBytes(6).toString('hex')}`;
    const [sealed] = await instances('seq_session', ['sealed'], { application_name: app, pool_size: '1' });
    assert.ok(sealed);
    // Every connection of this store carries `app`; the pool's is idle between statements, the lease's holds the lock.
    const sessions = () => admin(async (c) => (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid', [app])).rows.map((r) => r.pid));
    try {
      await sealed.unsealed(root);
      sealed.sealedNow();
      let first: number[] | undefined;
      for (let tick = 0; tick < 4; tick++) {
        await Promise.all(Array.from({ length: 3 }, (_, i) => sealed.append(event(tick * 3 + i))));
        assert.equal(await sealed.sync(), null);
        assert.equal(await sealed.store.treeSize(), (tick + 1) * 3, 'it integrated');
        assert.equal((await sealed.sequencer())?.held, false, 'and let the lease go');
        const now = await sessions();
        first ??= now;
        assert.equal(now.length, 2, 'the pool connection and the lease session, kept between ticks');
        assert.deepEqual(now, first, `tick ${tick}: the same two sessions as at the first tick`);
      }
    } finally {
      await sealed.close();
    }
    assert.deepEqual(await sessions(), [], 'closing ends them all');
  });
});
