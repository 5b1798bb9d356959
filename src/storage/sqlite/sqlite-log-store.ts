// The transparency log's embedded store on node:sqlite: entries (with their search columns), the hash
// tiles of the integrated tree, and the published checkpoints. By default it is a database file of its
// own, so the log's commits (one fsync per group of appends) do not queue behind record writes.
//
// Writes run on a worker thread that owns the write connection (sqlite-log-writer.ts): node:sqlite is
// synchronous, and a commit's fsync on the event loop would stall every request meanwhile. Reads run on
// this thread's own connection; in WAL mode they see every committed write and never wait for one.
// A writer thread that dies is replaced (its requests in flight fail); one that keeps dying is not.
//
// The sequencer lease is trivially held: one process serves a SQLite log (several processes on one file
// would each append correctly, and the integrators' compare-and-set keeps the tree whole, but nothing
// here elects one of them; that is what the PostgreSQL adapter's lease is for).
import { createSecretKey } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { EnclaveError, isErrorCode } from '../../core/errors.ts';
import { finishLogEntries, type LogEntryDraft } from '../../core/log-entry.ts';
import type { AppendedEntries, LogEntryRow, LogQuery, LogStore, LogTile, SequencerLease, StoredCheckpoint, StoredLogEntry } from '../../core/log-store.ts';
import type { Migration } from '../../core/migration-plan.ts';
import { logSearchSql, toLogEntry } from '../log-search.ts';
import { applyMigrations, openSqliteDatabase, StatementCache } from './sqlite-db.ts';
import { SQLITE_LOG_MIGRATIONS } from './sqlite-log-migrations.ts';
import { entryCount, SqliteLogWrites, storedTreeSize, type AppendResult, type LogWriteOp } from './sqlite-log-writes.ts';

type Row = Record<string, SQLInputValue>;

function bytes(v: unknown): Uint8Array {
  return v as Uint8Array;
}

function failure(err: unknown): EnclaveError {
  return err instanceof EnclaveError ? err : new EnclaveError('storage_unavailable', 'the log store failed', { cause: err });
}

export interface SqliteLogOptions {
  /** A file path, or ':memory:' for tests. */
  readonly path: string;
  readonly migrations?: readonly Migration[];
  /** Where writes run: a worker thread (default for a file) or this thread (always for ':memory:'). */
  readonly writer?: 'worker' | 'inline';
}

interface Writer {
  call<T>(op: LogWriteOp, args: readonly unknown[]): Promise<T>;
  close(): Promise<void>;
}

function inlineWriter(db: DatabaseSync): Writer {
  const writes = new SqliteLogWrites(db);
  return {
    call<T>(op: LogWriteOp, args: readonly unknown[]) {
      try {
        return Promise.resolve(writes.dispatch(op, args) as T);
      } catch (err) {
        return Promise.reject(failure(err));
      }
    },
    close() {
      writes.close();
      return Promise.resolve();
    },
  };
}

/**
 * Restarts of a writer thread that died (an uncaught error, a crash of its isolate) allowed within
 * RESTART_WINDOW_MS: a death now and then is restarted, so the log is not unavailable until the process
 * restarts; a thread that keeps dying (a database it cannot open, a write that kills it each time) leaves
 * the store closed instead of spinning: the log fails closed and says why.
 */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

interface Thread {
  readonly worker: Worker;
  /** Requests sent to this thread and not yet answered: failed if it dies. */
  readonly pending: Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>;
  readonly exited: Promise<void>;
  /** It died or exited: it answers nothing more. */
  ended: boolean;
}

/** The writer thread's client: requests by id, the thread kept alive only while one is outstanding, restarted if it dies. */
function workerWriter(path: string): Writer {
  let next = 0;
  let dead: EnclaveError | null = null;
  let closing = false;
  /** When (performance.now()) each restart within the window happened. */
  const restarts: number[] = [];

  const start = (): Thread => {
    // The writer only moves batches into SQLite: a small heap keeps its isolate from sizing itself from the
    // machine's memory (V8 would otherwise give it tens of MB of young generation it never needs).
    const worker = new Worker(new URL('./sqlite-log-writer.ts', import.meta.url), {
      workerData: { path },
      // Old space: drafts are finished here (entries of up to 64 KiB, batches of up to 1,000).
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 192 },
    });
    const t: Thread = { worker, pending: new Map(), exited: new Promise((resolve) => worker.once('exit', () => resolve())), ended: false };
    worker.unref();
    worker.on('message', (m: { id: number; result?: unknown; error?: { message: string; code?: string } }) => {
      const p = settle(t, m.id);
      if (!m.error) return p?.resolve(m.result);
      const code = m.error.code;
      p?.reject(code !== undefined && isErrorCode(code) ? new EnclaveError(code, m.error.message) : failure(new Error(m.error.message)));
    });
    // 'error' (an uncaught exception, out of memory) is followed by 'exit'.
    worker.on('error', (err) => died(t, failure(err)));
    worker.on('exit', () => {
      died(t, new EnclaveError('storage_unavailable', closing ? 'the log store is closed' : 'the log writer thread exited'));
      // A new thread once the old one is gone, with its connection (and any transaction it left open).
      if (t === current && !closing && dead === null) current = start();
    });
    return t;
  };

  const settle = (t: Thread, id: number) => {
    const p = t.pending.get(id);
    t.pending.delete(id);
    if (t.pending.size === 0) t.worker.unref();
    return p;
  };

  const died = (t: Thread, err: EnclaveError) => {
    if (t.ended) return;
    t.ended = true;
    // Requests in flight fail as they would on a failed commit; one the thread committed before it died
    // stands as an attempt (the log may over-report, never under-report).
    for (const id of [...t.pending.keys()]) settle(t, id)?.reject(err);
    if (closing) {
      dead ??= err;
      return;
    }
    const now = performance.now();
    while (restarts.length > 0 && now - (restarts[0] ?? now) > RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) {
      dead = new EnclaveError(
        'storage_unavailable',
        `the log writer thread died ${MAX_RESTARTS + 1} times within ${RESTART_WINDOW_MS / 1000} s; the log store stays closed until it is reopened`,
        { cause: err },
      );
      return;
    }
    restarts.push(now);
  };

  let current = start();

  return {
    call<T>(op: LogWriteOp, args: readonly unknown[]) {
      if (dead) return Promise.reject(dead);
      const t = current;
      // Between a thread's death and its exit (when the next one starts), nothing would answer.
      if (t.ended) return Promise.reject(new EnclaveError('storage_unavailable', 'the log writer thread is restarting; try again'));
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        if (t.pending.size === 0) t.worker.ref();
        t.pending.set(id, { resolve, reject });
        try {
          t.worker.postMessage({ id, op, args });
        } catch (err) {
          // Not sent (a value that cannot be cloned): nothing will answer it.
          settle(t, id);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    },
    async close() {
      closing = true;
      if (dead) return;
      const t = current;
      // Requests already sent are answered before the thread ends: it handles messages in order.
      t.worker.ref();
      if (!t.ended) t.worker.postMessage('close');
      await t.exited;
    },
  };
}

export class SqliteLogStore implements LogStore {
  readonly driver = 'sqlite';
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements: StatementCache;
  private readonly writer: Writer;
  private closing: Promise<void> | null = null;
  private lease: { instance: string; since: number; heartbeat: number; held: boolean } | undefined;

  constructor(options: SqliteLogOptions) {
    this.path = options.path;
    this.db = openSqliteDatabase(options.path);
    this.statements = new StatementCache(this.db);
    try {
      applyMigrations(this.db, options.migrations ?? SQLITE_LOG_MIGRATIONS, 'log_schema_migrations');
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.writer = options.path === ':memory:' || options.writer === 'inline' ? inlineWriter(this.db) : workerWriter(options.path);
  }

  private run<T>(fn: () => T): Promise<T> {
    // node:sqlite is synchronous; any failure (closed handle, full disk, I/O error) becomes a rejection.
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(failure(err));
    }
  }

  append(entries: readonly LogEntryRow[]): Promise<number> {
    if (this.closing) return Promise.reject(new EnclaveError('storage_unavailable', 'the log store is closed'));
    return this.writer.call('append', [entries]);
  }

  async appendEntries(items: readonly (LogEntryRow | LogEntryDraft)[], subjectKey: Uint8Array | null): Promise<AppendedEntries> {
    if (this.closing) throw new EnclaveError('storage_unavailable', 'the log store is closed');
    // This call's own copy of the key, taken now: the caller's buffer is wiped when the enclave seals,
    // which may happen before the fallback below runs (it would then hash under an all-zero key).
    const key = subjectKey === null ? null : Uint8Array.from(subjectKey);
    try {
      return await this.postEntries(items, key);
    } catch (err) {
      if (!(err instanceof DOMException && err.name === 'DataCloneError')) throw err;
      // A draft holding what cannot cross to the writer thread (a function, say): every draft is finished
      // here instead, so that one is refused alone, as the encoder refuses it on any other store.
      const finished = finishLogEntries(items, key === null ? null : createSecretKey(key));
      const stored = await this.postEntries(finished.filter((f): f is LogEntryRow => !(f instanceof EnclaveError)), null);
      let k = 0;
      const outcomes = finished.map((f) => (f instanceof EnclaveError ? f : (stored.outcomes[k++] ?? new EnclaveError('log_unavailable', 'the log store gave no outcome for an entry'))));
      return { outcomes, leafHashes: stored.leafHashes };
    } finally {
      key?.fill(0);
    }
  }

  private async postEntries(items: readonly (LogEntryRow | LogEntryDraft)[], subjectKey: Uint8Array | null): Promise<AppendedEntries> {
    // The writer gets a copy of the key and wipes it once imported; this copy is wiped once it has been
    // posted to the worker (cloned) or used by the inline writer, both before call() returns.
    const copy = subjectKey === null ? null : Uint8Array.from(subjectKey);
    const written = this.writer.call<AppendResult>('appendEntries', [items, copy]);
    copy?.fill(0);
    const { outcomes, leafHashes } = await written;
    return { outcomes: outcomes.map((o) => (typeof o === 'number' ? o : new EnclaveError(isErrorCode(o.code) ? o.code : 'log_unavailable', o.message))), leafHashes };
  }

  size(): Promise<number> {
    return this.run(() => entryCount(this.statements));
  }

  readEntries(from: number, to: number): Promise<Uint8Array[]> {
    return this.run(() =>
      (this.statements.get('SELECT body FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx').all(from, to) as Row[]).map((r) => bytes(r['body'])),
    );
  }

  search(query: LogQuery): Promise<StoredLogEntry[]> {
    const { sql, values } = logSearchSql(query, () => '?', 'sqlite');
    return this.run(() => (this.statements.get(sql).all(...values) as Row[]).map(toLogEntry));
  }

  treeSize(): Promise<number> {
    return this.run(() => storedTreeSize(this.statements));
  }

  integrate(fromSize: number, toSize: number, tiles: readonly LogTile[]): Promise<boolean> {
    if (this.closing) return Promise.reject(new EnclaveError('storage_unavailable', 'the log store is closed'));
    return this.writer.call('integrate', [fromSize, toSize, tiles]);
  }

  readTile(level: number, index: number): Promise<LogTile | undefined> {
    return this.run(() => {
      const r = this.statements.get('SELECT width, data FROM log_tiles WHERE level = ? AND idx = ?').get(level, index) as Row | undefined;
      return r ? { level, index, width: Number(r['width']), data: bytes(r['data']) } : undefined;
    });
  }

  putCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean> {
    if (this.closing) return Promise.reject(new EnclaveError('storage_unavailable', 'the log store is closed'));
    return this.writer.call('putCheckpoint', [checkpoint]);
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.run(() => {
      const r = this.statements.get('SELECT size, time, text FROM log_checkpoints ORDER BY size DESC LIMIT 1').get() as Row | undefined;
      return r ? { size: Number(r['size']), time: Number(r['time']), text: r['text'] as string } : undefined;
    });
  }

  getMeta(key: string): Promise<string | undefined> {
    return this.run(() => (this.statements.get('SELECT value FROM log_meta WHERE key = ?').get(key) as Row | undefined)?.['value'] as string | undefined);
  }

  putMetaIfAbsent(key: string, value: string): Promise<boolean> {
    if (this.closing) return Promise.reject(new EnclaveError('storage_unavailable', 'the log store is closed'));
    return this.writer.call('putMetaIfAbsent', [key, value]);
  }

  leadSequencer(instance: string): Promise<boolean> {
    if (this.closing) return Promise.reject(new EnclaveError('storage_unavailable', 'the log store is closed'));
    const now = Date.now();
    this.lease = this.lease?.held === true && this.lease.instance === instance ? { ...this.lease, heartbeat: now } : { instance, since: now, heartbeat: now, held: true };
    return Promise.resolve(true);
  }

  releaseSequencer(): Promise<void> {
    if (this.lease) this.lease = { ...this.lease, held: false };
    return Promise.resolve();
  }

  sequencer(): Promise<SequencerLease | undefined> {
    const l = this.lease;
    return Promise.resolve(l && { instance: l.instance, since: l.since, heartbeatAgeMs: Date.now() - l.heartbeat, held: l.held });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.lease = undefined;
      this.statements.clear();
      await this.writer.close();
      this.db.close();
    })();
    return this.closing;
  }
}
