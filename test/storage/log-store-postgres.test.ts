// The PostgreSQL log store against the shared conformance suite, in a schema of this file's own, plus what
// only a server shows: several handles (standing for several instances) appending at once get dense,
// distinct indexes; exactly one of them holds the sequencer lease, and the lease passes on when its
// holder closes or its session dies; the log keeps its own migration history beside a vault store's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import type { LogEntryRow } from '../../src/core/log-store.ts';
import { migrationChecksum } from '../../src/storage/checksum.ts';
import { openLogStore } from '../../src/storage/open-store.ts';
import { PostgresLogStore } from '../../src/storage/postgres/postgres-log-store.ts';
import { POSTGRES_LOG_MIGRATIONS } from '../../src/storage/postgres/postgres-log-migrations.ts';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { admin, dropSchemas, freshSchema, pgUrl, postgresSkip, relationsIn, schemaMaker } from '../helpers/postgres.ts';
import { logStoreConformance } from './log-store-conformance.ts';

const skip = await postgresSkip();
const shared = freshSchema('log_conformance');
logStoreConformance('postgres', () => PostgresLogStore.open(pgUrl(shared, { pool_size: '4' })), () => dropSchemas(shared), { skip });

const row = (n: number): LogEntryRow => ({ time: n, type: 'access.decision', principal: 'p', subject: `s${n % 3}`, body: Buffer.from(`{"n":${n}}`) });

void describe('PostgresLogStore', { skip }, () => {
  const schema = schemaMaker();

  void it('several handles appending at once get dense, distinct indexes, each batch contiguous', async () => {
    const url = pgUrl(schema('log_dense'), { pool_size: '3' });
    const handles = await Promise.all([1, 2, 3].map(() => PostgresLogStore.open(url)));
    try {
      const batches = Array.from({ length: 60 }, (_, b) => Array.from({ length: 1 + (b % 7) }, (_, i) => row(b * 100 + i)));
      const firsts = await Promise.all(batches.map((rows, b) => (handles[b % 3] as PostgresLogStore).append(rows)));
      const total = batches.reduce((n, rows) => n + rows.length, 0);
      const taken = new Map<number, number>();
      firsts.forEach((first, b) => {
        batches[b]?.forEach((_, i) => {
          assert.ok(!taken.has(first + i), `index ${first + i} given twice`);
          taken.set(first + i, (batches[b]?.[i] as LogEntryRow).time);
        });
      });
      assert.deepEqual([...taken.keys()].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
      assert.equal(await handles[0]?.size(), total);
      // Each index holds the entry its batch was told it has.
      const bodies = await (handles[1] as PostgresLogStore).readEntries(0, total);
      for (const [index, time] of taken) assert.equal(Buffer.from(bodies[index] ?? []).toString(), `{"n":${time}}`);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });

  void it('exactly one handle holds the sequencer lease; it passes on when the holder closes', async () => {
    const url = pgUrl(schema('log_lease'), { pool_size: '2' });
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => PostgresLogStore.open(url)));
    assert.ok(a && b && c);
    try {
      assert.deepEqual(await Promise.all([a.leadSequencer('a'), b.leadSequencer('b'), c.leadSequencer('c')]).then((r) => r.filter(Boolean).length), 1);
      const holder = await c.sequencer();
      assert.equal(holder?.held, true);
      const byName = { a, b, c };
      const first = byName[holder.instance as 'a' | 'b' | 'c'];
      const others = Object.entries(byName).filter(([name]) => name !== holder.instance);
      for (const [name, h] of others) assert.equal(await h.leadSequencer(name), false, `${name} is refused while ${holder.instance} holds it`);
      assert.equal(await first.leadSequencer(holder.instance), true, 'the holder keeps it');
      await first.close();
      const [nextName, next] = others[0] ?? [];
      assert.ok(next && nextName);
      assert.equal(await next.leadSequencer(nextName), true, 'closing the holder let the lease go');
      assert.deepEqual([(await next.sequencer())?.instance, (await next.sequencer())?.held], [nextName, true]);
    } finally {
      await Promise.all([a, b, c].map((h) => h.close()));
    }
  });

  void it('a holder whose session dies loses the lease to the next instance that polls, and notices', async () => {
    const s = schema('log_lease_kill');
    const url = pgUrl(s, { pool_size: '2', application_name: 'lease-kill-test' });
    const a = await PostgresLogStore.open(url);
    const b = await PostgresLogStore.open(url);
    try {
      assert.equal(await a.leadSequencer('a'), true);
      assert.equal(await b.leadSequencer('b'), false);
      // What a killed process looks like to the server: its session ends.
      const killed = await admin(async (client) =>
        (
          await client.query(
            `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'lease-kill-test'`,
          )
        ).rowCount,
      );
      assert.equal(killed, 1);
      let taken = false;
      for (let i = 0; i < 50 && !taken; i++) {
        taken = await b.leadSequencer('b');
        if (!taken) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(taken, true, 'b took the lease once a\'s session was gone');
      assert.equal((await a.sequencer())?.instance, 'b');
      // a learns its session is gone (from the driver at once, or from its next heartbeat's failure)
      // and from then on polls like any other instance.
      const again = await a.leadSequencer('a').catch(async (e: unknown) => {
        assert.ok(isEnclaveError(e, 'storage_unavailable'), String(e));
        return a.leadSequencer('a');
      });
      assert.equal(again, false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  void it('a refused append leaves no gap for the other handles', async () => {
    const url = pgUrl(schema('log_rollback'), { pool_size: '2' });
    const a = await PostgresLogStore.open(url);
    const b = await PostgresLogStore.open(url);
    try {
      assert.equal(await a.append([row(0)]), 0);
      await assert.rejects(a.append([row(1), { ...row(2), body: null as unknown as Uint8Array }]));
      assert.equal(await b.append([row(3)]), 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  void it('shares a schema with a vault store: each keeps its own migration history', async () => {
    const s = schema('log_beside_vault');
    const vault = await PostgresStore.open(pgUrl(s));
    const log = await openLogStore(pgUrl(s), '.');
    await log.close();
    await vault.close();
    const rel = await relationsIn(s);
    for (const t of ['schema_migrations', 'log_schema_migrations', 'log_entries', 'records', 'meta', 'log_meta']) assert.ok(rel.includes(t), t);
    const history = await admin(async (c) => (await c.query<{ id: number; checksum: string }>(`SELECT id, checksum FROM ${s}.log_schema_migrations ORDER BY id`)).rows);
    assert.deepEqual(history, POSTGRES_LOG_MIGRATIONS.map((m) => ({ id: m.id, checksum: migrationChecksum(m.sql) })));
    // A modified log migration is refused by the log store only.
    await assert.rejects(
      PostgresLogStore.open(pgUrl(s), { migrations: POSTGRES_LOG_MIGRATIONS.map((m) => ({ ...m, sql: `${m.sql}\n-- edited` })) }),
      (e) => isEnclaveError(e, 'migration_refused'),
    );
    await (await PostgresStore.open(pgUrl(s))).close();
  });
});
