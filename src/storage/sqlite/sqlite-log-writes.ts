// The log store's writes, synchronous on one node:sqlite connection. The store runs them on a worker
// thread (sqlite-log-writer.ts) so that a commit's fsync never blocks the event loop, or inline for an
// in-memory database, which a worker cannot share.
import { createSecretKey } from 'node:crypto';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import { finishLogEntries, type LogEntryDraft } from '../../core/log-entry.ts';
import { sameCheckpointRoot, type LogEntryRow, type LogTile, type StoredCheckpoint } from '../../core/log-store.ts';
import { HASH_SIZE, leafHash } from '../../core/tlog/merkle.ts';
import { subjectIndexSql } from '../log-search.ts';
import { inTransaction, StatementCache } from './sqlite-db.ts';

type Row = Record<string, SQLInputValue>;

export const TREE_SIZE_KEY = 'tree_size';

/** Why one item of an appendEntries call was refused (plain data: it crosses from the writer thread). */
export interface AppendRefusal {
  readonly code: string;
  readonly message: string;
}

export type AppendOutcome = number | AppendRefusal;

/** What appendEntries returns across the thread boundary (LogStore's AppendedEntries, refusals as plain data). */
export interface AppendResult {
  readonly outcomes: AppendOutcome[];
  readonly leafHashes: Uint8Array;
}

/** Current number of entries (the next index). */
export function entryCount(statements: StatementCache): number {
  const r = statements.get('SELECT max(idx) AS m FROM log_entries').get() as Row;
  return r['m'] === null ? 0 : Number(r['m']) + 1;
}

export function storedTreeSize(statements: StatementCache): number {
  return Number((statements.get('SELECT value FROM log_meta WHERE key = ?').get(TREE_SIZE_KEY) as Row)['value']);
}

export class SqliteLogWrites {
  private readonly db: DatabaseSync;
  private readonly statements: StatementCache;

  constructor(db: DatabaseSync) {
    this.db = db;
    this.statements = new StatementCache(db);
  }

  append(entries: readonly LogEntryRow[]): number {
    return inTransaction(this.db, () => {
      const first = entryCount(this.statements);
      // The next index comes from the entries stored; the integrated tree already commits to every index
      // below its size. Fewer entries than that (the newest deleted from the file) would hand out indexes
      // whose leaves are other entries: acknowledged, yet in no checkpoint ever signed. Refused instead.
      const tree = storedTreeSize(this.statements);
      if (first < tree) {
        throw new EnclaveError('log_mismatch', `the log store holds ${first} entries but its integrated tree has ${tree}: entries were removed from the store; nothing is appended until it is restored`);
      }
      const insert = this.statements.get('INSERT INTO log_entries (idx, time, type, principal, subject, body) VALUES (?, ?, ?, ?, ?, ?)');
      entries.forEach((e, i) => insert.run(first + i, e.time, e.type, e.principal, e.subject, e.body));
      return first;
    });
  }

  /**
   * LogStore.appendEntries: drafts finished here, each refusal its item's alone. The key is this call's
   * copy (a worker receives a clone) and is wiped once imported.
   */
  appendEntries(items: readonly (LogEntryRow | LogEntryDraft)[], subjectKey: Uint8Array | null): AppendResult {
    const key = subjectKey === null ? null : createSecretKey(subjectKey);
    subjectKey?.fill(0);
    const finished = finishLogEntries(items, key);
    const rows = finished.filter((f): f is LogEntryRow => !(f instanceof EnclaveError));
    let index = rows.length === 0 ? 0 : this.append(rows);
    // Hashed here, off the thread that integrates: from the very bytes just stored.
    const leafHashes = new Uint8Array(rows.length * HASH_SIZE);
    rows.forEach((r, i) => leafHashes.set(leafHash(r.body), i * HASH_SIZE));
    return { outcomes: finished.map((f) => (f instanceof EnclaveError ? { code: f.code, message: f.message } : index++)), leafHashes };
  }

  integrate(fromSize: number, toSize: number, tiles: readonly LogTile[]): boolean {
    return inTransaction(this.db, () => {
      if (storedTreeSize(this.statements) !== fromSize) return false;
      const put = this.statements.get(
        `INSERT INTO log_tiles (level, idx, width, data) VALUES (?, ?, ?, ?)
         ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data WHERE excluded.width > log_tiles.width`,
      );
      for (const t of tiles) put.run(t.level, t.index, t.width, t.data);
      // Index the newly integrated entries by subject in one sorted pass (migrations 2 and 3).
      this.statements.get(subjectIndexSql(() => '?')).run(fromSize, toSize);
      this.statements.get('UPDATE log_meta SET value = ? WHERE key = ?').run(String(toSize), TREE_SIZE_KEY);
      return true;
    });
  }

  putCheckpoint(checkpoint: StoredCheckpoint): boolean {
    return inTransaction(this.db, () => {
      const latest = this.statements.get('SELECT size, text FROM log_checkpoints ORDER BY size DESC LIMIT 1').get() as Row | undefined;
      if (latest && Number(latest['size']) > checkpoint.size) return false;
      // The same size again: only the same tree (more cosignatures); another root is a fork, refused.
      if (latest && Number(latest['size']) === checkpoint.size && !sameCheckpointRoot(latest['text'] as string, checkpoint.text)) return false;
      this.statements
        .get('INSERT INTO log_checkpoints (size, time, text) VALUES (?, ?, ?) ON CONFLICT (size) DO UPDATE SET time = excluded.time, text = excluded.text')
        .run(checkpoint.size, checkpoint.time, checkpoint.text);
      return true;
    });
  }

  putMetaIfAbsent(key: string, value: string): boolean {
    return this.statements.get('INSERT INTO log_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value).changes === 1;
  }

  /** Runs a write by name with its arguments as the store sent them (the worker's entry point). */
  dispatch(op: LogWriteOp, args: readonly unknown[]): unknown {
    switch (op) {
      case 'append':
        return this.append(args[0] as readonly LogEntryRow[]);
      case 'appendEntries':
        return this.appendEntries(args[0] as readonly (LogEntryRow | LogEntryDraft)[], args[1] as Uint8Array | null);
      case 'integrate':
        return this.integrate(args[0] as number, args[1] as number, args[2] as readonly LogTile[]);
      case 'putCheckpoint':
        return this.putCheckpoint(args[0] as StoredCheckpoint);
      case 'putMetaIfAbsent':
        return this.putMetaIfAbsent(args[0] as string, args[1] as string);
    }
  }

  close(): void {
    this.statements.clear();
  }
}

/** The write operations by name, as the worker receives them. */
export type LogWriteOp = 'append' | 'appendEntries' | 'integrate' | 'putCheckpoint' | 'putMetaIfAbsent';
