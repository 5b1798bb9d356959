// The transparency log's store on PostgreSQL: the LogStore port for several gateway instances on one
// database (docs/transparency-log.md, docs/deployment.md). It passes the same conformance suite as the
// SQLite log store (test/storage/log-store-conformance.ts).
//
// - Appends from any instance: one statement per batch takes the next indexes from the `entries` counter
//   row and inserts the batch. The counter's row lock is held until the statement commits, so batches
//   of every instance are numbered one after another, densely; a batch that fails rolls its numbers back
//   with it. The statement returns once the commit is durable (synchronous_commit is forced on for this
//   store's connections: an acknowledged entry must survive a crash of the server).
// - One integrator: `integrate` is a compare-and-set on the `tree_size` row; the sequencer lease
//   (postgres-log-lease.ts) says which instance runs it, and another takes over when the holder dies.
import { EnclaveError } from '../../core/errors.ts';
import type { LogEntryRow, LogQuery, LogStore, LogTile, SequencerLease, StoredCheckpoint, StoredLogEntry } from '../../core/log-store.ts';
import type { Migration } from '../../core/migration-plan.ts';
import { logSearchSql, subjectIndexSql, toLogEntry } from '../log-search.ts';
import { columnArrays, type PostgresDb } from './postgres-db.ts';
import { PostgresSequencerLease } from './postgres-log-lease.ts';
import { POSTGRES_LOG_MIGRATIONS } from './postgres-log-migrations.ts';
import { openMigrated } from './postgres-migrate.ts';
import { parsePostgresUrl, type PostgresLocation } from './postgres-url.ts';

export interface PostgresLogOptions {
  readonly migrations?: readonly Migration[];
}

const bytes = (v: unknown): Uint8Array => v as Uint8Array;

export class PostgresLogStore implements LogStore {
  readonly driver = 'postgres';
  private readonly db: PostgresDb;
  private readonly lease: PostgresSequencerLease;
  private closing: Promise<void> | null = null;

  private constructor(db: PostgresDb) {
    this.db = db;
    this.lease = new PostgresSequencerLease(db);
  }

  /** Connects and migrates. Fails with invalid_config, storage_unavailable or migration_refused. */
  static async open(url: string | PostgresLocation, options: PostgresLogOptions = {}): Promise<PostgresLogStore> {
    const location = typeof url === 'string' ? parsePostgresUrl(url) : url;
    const db = await openMigrated(location, {
      migrations: options.migrations ?? POSTGRES_LOG_MIGRATIONS,
      history: 'log_schema_migrations',
      settings: { synchronous_commit: 'on' },
    });
    return new PostgresLogStore(db);
  }


  private async counter(name: string): Promise<number> {
    const [r] = await this.db.prepared('SELECT value FROM log_counters WHERE name = $1', [name]);
    if (!r) throw new EnclaveError('storage_unavailable', `${this.db.where}: the log's ${name} counter is missing`);
    return Number(r['value']);
  }

  async append(entries: readonly LogEntryRow[]): Promise<number> {
    if (entries.length === 0) return this.size();
    const columns = columnArrays(entries.map((e) => [e.time, e.type, e.principal, e.subject, e.body]));
    // Data-modifying CTEs run exactly once and commit with the statement (one round trip, one commit);
    // prepared once per connection, since every group commit runs it.
    const [r] = await this.db.prepared(
      `WITH c AS (UPDATE log_counters SET value = value + $1::bigint
                  WHERE name = 'entries' AND value >= (SELECT t.value FROM log_counters t WHERE t.name = 'tree_size')
                  RETURNING value - $1::bigint AS first),
       ins AS (
         INSERT INTO log_entries (idx, time, type, principal, subject, body)
         SELECT c.first + e.ord - 1, e.time, e.type, e.principal, e.subject, e.body
         FROM c, unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[]) WITH ORDINALITY AS e(time, type, principal, subject, body, ord))
       SELECT first FROM c`,
      [entries.length, ...columns],
    );
    // No row: the counter is missing, or below the integrated tree's size (indexes the tree already commits to
    // other entries would be handed out: acknowledged, yet in no checkpoint ever signed). Nothing was inserted.
    if (!r) throw new EnclaveError('log_mismatch', `${this.db.where}: the log's entries counter is missing or below its integrated tree's size; nothing is appended until the store is restored`);
    return Number(r['first']);
  }

  size(): Promise<number> {
    return this.counter('entries');
  }

  async readEntries(from: number, to: number): Promise<Uint8Array[]> {
    return (await this.db.prepared('SELECT body FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx', [from, to])).map((r) => bytes(r['body']));
  }

  async search(query: LogQuery): Promise<StoredLogEntry[]> {
    const { sql, values } = logSearchSql(query, (n) => `$${n}`, 'postgres');
    return (await this.db.rows(sql, values)).map(toLogEntry);
  }

  treeSize(): Promise<number> {
    return this.counter('tree_size');
  }

  integrate(fromSize: number, toSize: number, tiles: readonly LogTile[]): Promise<boolean> {
    return this.db.tx(async (sql) => {
      // The row lock serializes integrators; a second one that raced sees the moved size and gives up.
      const [r] = await sql.rows("SELECT value FROM log_counters WHERE name = 'tree_size' FOR UPDATE");
      if (Number(r?.['value']) !== fromSize) return false;
      if (tiles.length > 0) {
        await sql.run(
          `INSERT INTO log_tiles (level, idx, width, data) SELECT * FROM unnest($1::integer[], $2::bigint[], $3::integer[], $4::bytea[])
           ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data WHERE excluded.width > log_tiles.width`,
          columnArrays(tiles.map((t) => [t.level, t.index, t.width, t.data])),
        );
      }
      // Index the newly integrated entries by subject in one sorted pass.
      await sql.run(subjectIndexSql((n) => `$${n}`), [fromSize, toSize]);
      await sql.run("UPDATE log_counters SET value = $1 WHERE name = 'tree_size'", [toSize]);
      return true;
    });
  }

  async readTile(level: number, index: number): Promise<LogTile | undefined> {
    const [r] = await this.db.prepared('SELECT width, data FROM log_tiles WHERE level = $1 AND idx = $2', [level, index]);
    return r ? { level, index, width: Number(r['width']), data: bytes(r['data']) } : undefined;
  }

  async putCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean> {
    // The `checkpoint` counter holds the largest size stored; its row lock orders concurrent publishers.
    // The same size again replaces only the same tree (sameCheckpointRoot: the third lines, the roots,
    // are equal and present); the WHERE sees the locked, latest row, so another root is refused.
    const n = await this.db.run(
      `WITH ok AS (UPDATE log_counters SET value = $1 WHERE name = 'checkpoint' AND value <= $1 RETURNING 1)
       INSERT INTO log_checkpoints (size, time, text) SELECT $1, $2, $3 FROM ok
       ON CONFLICT (size) DO UPDATE SET time = excluded.time, text = excluded.text
       WHERE split_part(log_checkpoints.text, E'\\n', 3) <> '' AND split_part(log_checkpoints.text, E'\\n', 3) = split_part(excluded.text, E'\\n', 3)`,
      [checkpoint.size, checkpoint.time, checkpoint.text],
    );
    return n === 1;
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const [r] = await this.db.prepared('SELECT size, time, text FROM log_checkpoints ORDER BY size DESC LIMIT 1', []);
    return r ? { size: Number(r['size']), time: Number(r['time']), text: String(r['text']) } : undefined;
  }

  async getMeta(key: string): Promise<string | undefined> {
    const [r] = await this.db.prepared('SELECT value FROM log_meta WHERE key = $1', [key]);
    return r ? String(r['value']) : undefined;
  }

  async putMetaIfAbsent(key: string, value: string): Promise<boolean> {
    return (await this.db.run('INSERT INTO log_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value])) === 1;
  }

  leadSequencer(instance: string): Promise<boolean> {
    if (this.closing) return Promise.reject(new EnclaveError('storage_unavailable', `${this.db.where}: the log store is closed`));
    return this.lease.lead(instance);
  }

  releaseSequencer(): Promise<void> {
    return this.lease.release();
  }

  sequencer(): Promise<SequencerLease | undefined> {
    return this.lease.holder();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.lease.close();
      await this.db.end();
    })();
    return this.closing;
  }
}
