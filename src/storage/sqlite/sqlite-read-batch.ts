// Point reads that arrive together are run together: each call queues its key, and the queue is read at
// the end of the event loop's turn (setImmediate), back to back in one read transaction. Under load a
// lone read runs between HTTP parsing and socket writes, with SQLite's pages and code gone from the CPU
// caches; back to back it costs about half as much, and the read transaction takes the WAL read lock
// once per batch (https://sqlite.org/wal.html#concurrency). A batch reads one snapshot, as if its calls
// had arrived at the same instant. A batch is capped: under a flood of requests, the reads beyond the cap
// wait for the next turn, so that one turn never holds the event loop (and the read snapshot) for all of them.
import type { DatabaseSync } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';

interface Waiting<K, R> {
  readonly key: K;
  readonly resolve: (value: R) => void;
  readonly reject: (reason: unknown) => void;
}

/** Reads per batch by default: about 3 ms of point reads on the benchmark machine. */
export const READ_BATCH_MAX = 256;

export class ReadBatch<K, R> {
  private readonly db: DatabaseSync;
  private readonly read: (key: K) => R;
  private readonly max: number;
  private readonly waiting: Waiting<K, R>[] = [];

  /** `read` runs synchronously on `db`, once per queued key; what it throws rejects that key's call alone. */
  constructor(db: DatabaseSync, read: (key: K) => R, max = READ_BATCH_MAX) {
    this.db = db;
    this.read = read;
    this.max = Math.max(1, Math.trunc(max));
  }

  get(key: K): Promise<R> {
    return new Promise((resolve, reject) => {
      if (this.waiting.push({ key, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.waiting.splice(0, this.max);
    // What the cap left waits for the next turn (new calls meanwhile join it: the queue is not empty).
    if (this.waiting.length > 0) setImmediate(() => this.flush());
    if (!this.db.isOpen) {
      const closed = new EnclaveError('storage_unavailable', 'the store was closed before the read ran');
      for (const w of batch) w.reject(closed);
      return;
    }
    // Every transaction of the store is synchronous, so none is open between two turns; the check guards
    // the BEGIN anyway. Without a transaction of its own the batch still reads, statement by statement.
    const own = batch.length > 1 && !this.db.isTransaction && run(this.db, 'BEGIN');
    for (const w of batch) {
      try {
        w.resolve(this.read(w.key));
      } catch (err) {
        w.reject(err);
      }
    }
    if (own && !run(this.db, 'COMMIT')) run(this.db, 'ROLLBACK');
  }
}

/** Runs a transaction statement; false if it failed (this runs from the event loop, where a throw ends the process). */
function run(db: DatabaseSync, sql: string): boolean {
  try {
    db.exec(sql);
    return true;
  } catch {
    return false;
  }
}
