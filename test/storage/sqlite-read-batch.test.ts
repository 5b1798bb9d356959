// The batch behind the SQLite store's point reads: calls that arrive together are read together, each
// answered with its own result, in one read transaction that is always ended; a flood in capped batches.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { ReadBatch } from '../../src/storage/sqlite/sqlite-read-batch.ts';

const dir = mkdtempSync(join(tmpdir(), 'enclave-read-batch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function database(name: string): DatabaseSync {
  const db = new DatabaseSync(join(dir, name));
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT');
  db.exec("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  return db;
}

const valueOf = (db: DatabaseSync) => (k: number) => (db.prepare('SELECT v FROM t WHERE k = ?').get(k) as { v: string } | undefined)?.v;

void describe('ReadBatch', () => {
  void it('answers each of many calls made at once with its own result, and a failing read rejects only its own call', async () => {
    const db = database('own.db');
    const batch = new ReadBatch(db, (k: number) => {
      // An SQLite error in the middle of the batch's transaction.
      if (k === 2) return (db.prepare('SELECT missing_column FROM t').get() as { v: string }).v;
      return valueOf(db)(k);
    });
    const out = await Promise.allSettled([1, 2, 3, 4].map((k) => batch.get(k)));
    assert.deepEqual(
      out.map((o) => (o.status === 'fulfilled' ? o.value : /no such column/.test((o.reason as Error).message))),
      ['one', true, 'three', undefined],
    );
    assert.equal(db.isTransaction, false, 'the batch ended its read transaction');
    db.exec("INSERT INTO t VALUES (5, 'five')"); // and the connection writes as before
    assert.equal(await batch.get(5), 'five', 'a later call is a new batch that sees the write');
    db.close();
  });

  void it('reads a batch from one snapshot: a commit by another connection between two of its reads is not seen', async () => {
    const db = database('snapshot.db');
    const other = new DatabaseSync(join(dir, 'snapshot.db'));
    const read = valueOf(db);
    const batch = new ReadBatch(db, (k: number) => {
      if (k === 2) other.exec("UPDATE t SET v = 'changed' WHERE k = 3");
      return read(k);
    });
    assert.deepEqual(await Promise.all([1, 2, 3].map((k) => batch.get(k))), ['one', 'two', 'three']);
    assert.equal(await batch.get(3), 'changed', 'the next batch sees the commit');
    other.close();
    db.close();
  });

  void it('rejects the calls of a batch whose connection closed meanwhile with storage_unavailable', async () => {
    const db = database('closed.db');
    const batch = new ReadBatch(db, valueOf(db));
    const pending = [batch.get(1), batch.get(2)];
    db.close();
    for (const p of pending) await assert.rejects(p, (err: Error & { code?: string }) => err.code === 'storage_unavailable');
  });

  void it('reads a flood in capped batches, one per turn of the event loop, each its own snapshot; every call is answered', async () => {
    const db = database('capped.db');
    const other = new DatabaseSync(join(dir, 'capped.db'));
    const read = valueOf(db);
    let turn = 0;
    const tick = () => {
      turn += 1;
      if (turn < 10) setImmediate(tick);
    };
    setImmediate(tick);
    const turns: number[] = [];
    const batch = new ReadBatch(
      db,
      (k: number) => {
        turns.push(turn);
        // The end of the first batch: a commit the next batch, a new read transaction, sees.
        if (turns.length === 2) other.exec("UPDATE t SET v = 'changed' WHERE k = 3");
        return read(k);
      },
      2,
    );
    assert.deepEqual(await Promise.all([1, 3, 3, 2, 1].map((k) => batch.get(k))), ['one', 'three', 'changed', 'two', 'one']);
    assert.deepEqual(turns, [1, 1, 2, 2, 3], 'two reads a turn');
    assert.equal(db.isTransaction, false);
    other.close();
    db.close();
  });

  void it('reads inside a transaction the connection already holds, and leaves it open', async () => {
    const db = database('held.db');
    const batch = new ReadBatch(db, valueOf(db));
    db.exec('BEGIN');
    db.exec("UPDATE t SET v = 'uncommitted' WHERE k = 1");
    assert.deepEqual(await Promise.all([batch.get(1), batch.get(2)]), ['uncommitted', 'two'], 'the holder sees its own write');
    assert.equal(db.isTransaction, true, 'the batch neither committed nor ended the holder\'s transaction');
    db.exec('ROLLBACK');
    assert.equal(await batch.get(1), 'one');
    db.close();
  });
});
