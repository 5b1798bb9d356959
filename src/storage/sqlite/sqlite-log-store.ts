// The transparency log's embedded store on node:sqlite: entries (with their search columns), the hash
// tiles of the integrated tree, and the published checkpoints. By default it is a database file of its
// own, so the log's commits (one fsync per group of appends) do not queue behind record writes.
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import type { LogEntryRow, LogQuery, LogStore, LogTile, StoredCheckpoint, StoredLogEntry } from '../../core/log-store.ts';
import type { Migration } from '../../core/migration-plan.ts';
import { applyMigrations, inTransaction, openSqliteDatabase, StatementCache } from './sqlite-db.ts';
import { SQLITE_LOG_MIGRATIONS } from './sqlite-log-migrations.ts';

type Row = Record<string, SQLInputValue>;

const TREE_SIZE = 'tree_size';

function bytes(v: unknown): Uint8Array {
  return v as Uint8Array;
}

export interface SqliteLogOptions {
  /** A file path, or ':memory:' for tests. */
  readonly path: string;
  readonly migrations?: readonly Migration[];
}

export class SqliteLogStore implements LogStore {
  readonly driver = 'sqlite';
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly statements: StatementCache;

  constructor(options: SqliteLogOptions) {
    this.path = options.path;
    this.db = openSqliteDatabase(options.path);
    this.statements = new StatementCache(this.db);
    try {
      applyMigrations(this.db, options.migrations ?? SQLITE_LOG_MIGRATIONS, 'log_schema_migrations', (fn) => inTransaction(this.db, fn));
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  private run<T>(fn: () => T): Promise<T> {
    // node:sqlite is synchronous; any failure (closed handle, full disk, I/O error) becomes a rejection.
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof EnclaveError ? err : new EnclaveError('storage_unavailable', 'the log store failed', { cause: err }));
    }
  }

  private sizeNow(): number {
    const r = this.statements.get('SELECT max(idx) AS m FROM log_entries').get() as Row;
    return r['m'] === null ? 0 : Number(r['m']) + 1;
  }

  private treeSizeNow(): number {
    return Number((this.statements.get('SELECT value FROM log_meta WHERE key = ?').get(TREE_SIZE) as Row)['value']);
  }

  append(entries: readonly LogEntryRow[]): Promise<number> {
    return this.run(() =>
      inTransaction(this.db, () => {
        const first = this.sizeNow();
        const insert = this.statements.get('INSERT INTO log_entries (idx, time, type, principal, subject, body) VALUES (?, ?, ?, ?, ?, ?)');
        entries.forEach((e, i) => insert.run(first + i, e.time, e.type, e.principal, e.subject, e.body));
        return first;
      }),
    );
  }

  size(): Promise<number> {
    return this.run(() => this.sizeNow());
  }

  readEntries(from: number, to: number): Promise<Uint8Array[]> {
    return this.run(() =>
      (this.statements.get('SELECT body FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx').all(from, to) as Row[]).map((r) => bytes(r['body'])),
    );
  }

  search(query: LogQuery): Promise<StoredLogEntry[]> {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    const add = (sql: string, value: SQLInputValue | undefined) => {
      if (value === undefined) return;
      where.push(sql);
      args.push(value);
    };
    add('e.time >= ?', query.from);
    add('e.time < ?', query.to);
    add('e.principal = ?', query.principal);
    add('e.type = ?', query.type);
    add('e.idx > ?', query.after);
    add('e.idx < ?', query.before);
    // By subject: through the subject index, which covers the integrated entries.
    const from = query.subject === undefined ? 'log_entries e' : 'log_subject_index s JOIN log_entries e ON e.idx = s.idx';
    if (query.subject !== undefined) {
      where.unshift('s.subject = ?');
      args.unshift(query.subject);
    }
    const sql = `SELECT e.idx, e.time, e.type, e.principal, e.subject, e.body FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.idx LIMIT ?`;
    return this.run(() =>
      (this.statements.get(sql).all(...args, query.limit) as Row[]).map((r) => ({
        index: Number(r['idx']),
        time: Number(r['time']),
        type: r['type'] as string,
        principal: r['principal'] as string | null,
        subject: r['subject'] as string | null,
        body: bytes(r['body']),
      })),
    );
  }

  treeSize(): Promise<number> {
    return this.run(() => this.treeSizeNow());
  }

  integrate(fromSize: number, toSize: number, tiles: readonly LogTile[]): Promise<boolean> {
    return this.run(() =>
      inTransaction(this.db, () => {
        if (this.treeSizeNow() !== fromSize) return false;
        const put = this.statements.get(
          `INSERT INTO log_tiles (level, idx, width, data) VALUES (?, ?, ?, ?)
           ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data WHERE excluded.width > log_tiles.width`,
        );
        for (const t of tiles) put.run(t.level, t.index, t.width, t.data);
        // Index the newly integrated entries by subject in one sorted pass (see migration 2).
        this.statements
          .get('INSERT INTO log_subject_index (subject, idx) SELECT subject, idx FROM log_entries WHERE idx >= ? AND idx < ? AND subject IS NOT NULL ORDER BY subject, idx')
          .run(fromSize, toSize);
        this.statements.get('UPDATE log_meta SET value = ? WHERE key = ?').run(String(toSize), TREE_SIZE);
        return true;
      }),
    );
  }

  readTile(level: number, index: number): Promise<LogTile | undefined> {
    return this.run(() => {
      const r = this.statements.get('SELECT width, data FROM log_tiles WHERE level = ? AND idx = ?').get(level, index) as Row | undefined;
      return r ? { level, index, width: Number(r['width']), data: bytes(r['data']) } : undefined;
    });
  }

  putCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean> {
    return this.run(() =>
      inTransaction(this.db, () => {
        const latest = this.statements.get('SELECT max(size) AS m FROM log_checkpoints').get() as Row;
        if (latest['m'] !== null && Number(latest['m']) > checkpoint.size) return false;
        this.statements
          .get('INSERT INTO log_checkpoints (size, time, text) VALUES (?, ?, ?) ON CONFLICT (size) DO UPDATE SET time = excluded.time, text = excluded.text')
          .run(checkpoint.size, checkpoint.time, checkpoint.text);
        return true;
      }),
    );
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
    return this.run(() => this.statements.get('INSERT INTO log_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value).changes === 1);
  }

  close(): Promise<void> {
    if (this.db.isOpen) {
      this.statements.clear();
      this.db.close();
    }
    return Promise.resolve();
  }
}
