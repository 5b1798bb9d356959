// A legacy SQLite database as a migration source. Reads go through a read-only handle, so planning,
// copying and verifying never write to the legacy file. The purge opens a read-write handle with
// secure_delete on (freed cells and pages are overwritten with zeros: sqlite.org/pragma.html#pragma_
// secure_delete) and the WAL journal (only new page images are appended, no plaintext pre-images as a
// rollback journal would write), then checkpoints and truncates the WAL and VACUUMs the file. A step
// that did not happen (a reader pinning the WAL) fails the scrub: the purger then certifies nothing.
import { existsSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { EnclaveError } from '../../core/errors.ts';
import type {
  ColumnKind,
  DanglingReference,
  DeleteAction,
  KeyTuple,
  LookupRequest,
  MigrationSource,
  ReadRequest,
  ScrubReport,
  SourceColumn,
  SourceForeignKey,
  SourceRow,
  SourceTable,
  SourceTransaction,
} from '../../core/migration-source.ts';
import { ansiQuote, chunks, deleteByKeys, keysetSelect, lookupSelect, type Dialect } from './sql-text.ts';

const SQLITE: Dialect = { quote: ansiQuote, param: () => '?', rowValues: true, rowList: 'values' };
const IN_CHUNK = 500;
/** How long a purge's scrub waits for readers to let the WAL go, by default. */
const SCRUB_WAIT_MS = 30_000;
const CHECKPOINT_SLICE_MS = 250;
/** PRAGMA journal_mode's values (https://sqlite.org/pragma.html#pragma_journal_mode). */
const JOURNAL_MODES = new Set(['delete', 'truncate', 'persist', 'memory', 'wal', 'off']);

/** The column kind of a declared type, by SQLite's own affinity rules (sqlite.org/datatype3.html 3.1). */
export function sqliteKind(declared: string): ColumnKind {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text';
  if (t.includes('BLOB')) return 'blob';
  if (t === '') return 'other';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'real';
  if (t.includes('BOOL')) return 'boolean';
  if (t.includes('TIME')) return 'timestamp';
  if (t.includes('DATE')) return 'date';
  if (t.includes('JSON')) return 'json';
  if (t.includes('DEC') || t.includes('NUMERIC')) return 'decimal';
  return 'other';
}

type Row = Record<string, SQLInputValue>;

/** A read-only handle: planning, copying and verifying never write to the legacy file. */
function openReader(path: string, location: string): DatabaseSync {
  try {
    const db = new DatabaseSync(path, { readOnly: true });
    db.exec('PRAGMA busy_timeout = 5000');
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    return db;
  } catch (cause) {
    throw unavailable(location, cause);
  }
}

function normalize(row: Row): SourceRow {
  for (const k in row) {
    const v = row[k];
    // Integers are read as bigint (a number would throw beyond 2^53) and narrowed where exact.
    if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) row[k] = Number(v);
  }
  return row as SourceRow;
}

function unavailable(path: string, cause: unknown): EnclaveError {
  return new EnclaveError('source_unavailable', `cannot read the SQLite source ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

/** What a UTF-16 database's driver may have decoded wrongly: U+FFFD, or a surrogate (a lone one becomes a wrong pair). */
const UTF16_SUSPECT = /[\uFFFD\uD800-\uDFFF]/;

class SqliteReader {
  protected db: DatabaseSync;
  private readonly cache = new Map<string, StatementSync>();
  protected readonly path: string;
  /** PRAGMA encoding, lower case (a TextDecoder label), read once. */
  private encoding: string | undefined;

  constructor(db: DatabaseSync, path: string) {
    this.db = db;
    this.path = path;
  }

  protected stmt(sql: string): StatementSync {
    let s = this.cache.get(sql);
    if (!s) {
      try {
        s = this.db.prepare(sql);
      } catch (cause) {
        throw unavailable(this.path, cause);
      }
      this.cache.set(sql, s);
    }
    return s;
  }

  protected all(sql: string, params: readonly SQLInputValue[]): SourceRow[] {
    const s = this.stmt(sql);
    try {
      // Integers as numbers (fast); a page holding one beyond 2^53 is read again with bigints.
      s.setReadBigInts(false);
      return s.all(...params) as Row[] as SourceRow[];
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ERR_OUT_OF_RANGE') throw unavailable(this.path, cause);
    }
    try {
      s.setReadBigInts(true);
      return (s.all(...params) as Row[]).map(normalize);
    } catch (cause) {
      throw unavailable(this.path, cause);
    }
  }

  /**
   * The rows of a SELECT of `columns`, text that is not valid in the database's encoding as its bytes.
   * SQLite stores any bytes as TEXT, and node:sqlite decodes what is not valid into U+FFFD (and, in a
   * UTF-16 database, a lone surrogate before another character into a wrong pair): two values would
   * read alike, a copy would hold what the source does not and verify against itself (it compares
   * converted records), and the purge would delete the only exact bytes. As bytes, such a value refuses
   * its row as a field (binary data), as a key, and links to no subject. A page holding a value that may
   * be so is read again with each text value's bytes beside it; that read's rows are the page.
   */
  private rowsOf(columns: readonly string[], sql: string, params: readonly SQLInputValue[]): SourceRow[] {
    const rows = this.all(sql, params);
    this.encoding ??= String(this.all('PRAGMA encoding', [])[0]?.['encoding'] ?? 'UTF-8').toLowerCase();
    // Every value of every page is looked at: includes() is several times cheaper than a regular expression.
    const suspect = this.encoding === 'utf-8' ? (v: string) => v.includes('\uFFFD') : (v: string) => UTF16_SUSPECT.test(v);
    if (!rows.some((r) => columns.some((c) => typeof r[c] === 'string' && suspect(r[c])))) return rows;
    const prefix = `SELECT ${columns.map(ansiQuote).join(', ')} FROM `;
    if (!sql.startsWith(prefix)) throw new EnclaveError('internal', 'a SQLite source read does not select its columns as expected');
    const both = columns.map((c) => `${ansiQuote(c)}, CASE WHEN typeof(${ansiQuote(c)}) = 'text' THEN CAST(${ansiQuote(c)} AS BLOB) END`).join(', ');
    const s = this.stmt(`SELECT ${both} FROM ${sql.slice(prefix.length)}`);
    let read: SQLInputValue[][];
    try {
      s.setReadBigInts(true);
      s.setReturnArrays(true);
      read = s.all(...params) as unknown as SQLInputValue[][];
    } catch (cause) {
      throw unavailable(this.path, cause);
    }
    const decoder = new TextDecoder(this.encoding, { fatal: true, ignoreBOM: true });
    /** The text the bytes hold, or the bytes when they are not valid text. */
    const exact = (bytes: Uint8Array): string | Uint8Array => {
      try {
        return decoder.decode(bytes);
      } catch {
        return bytes;
      }
    };
    return read.map((values) => {
      const row: Row = {};
      columns.forEach((c, i) => {
        const v = values[2 * i] ?? null;
        const bytes = values[2 * i + 1];
        row[c] = typeof v === 'string' && bytes instanceof Uint8Array && suspect(v) ? exact(bytes) : v;
      });
      return normalize(row);
    });
  }

  async read(r: ReadRequest): Promise<SourceRow[]> {
    const q = keysetSelect(SQLITE, r.table, r.columns, r.key, r.after, r.upTo, r.limit);
    return Promise.resolve(this.rowsOf(r.columns, q.sql, q.params));
  }

  async lookup(r: LookupRequest): Promise<SourceRow[]> {
    const out: SourceRow[] = [];
    for (const part of chunks(r.values, IN_CHUNK)) {
      const q = lookupSelect(SQLITE, r.table, r.columns, r.by, part);
      out.push(...this.rowsOf(r.columns, q.sql, q.params));
    }
    return Promise.resolve(out);
  }

  clearCache(): void {
    this.cache.clear();
  }
}

class SqliteTransaction extends SqliteReader implements SourceTransaction {
  readonly readsOwnDeletes = true;

  /**
   * PRAGMA foreign_key_check reports violations whether or not foreign keys are enforced, by table, rowid
   * and key. It runs on the tables that have a key into `tables` only (matched without regard to ASCII
   * case, as SQLite matches names), and only those keys' rows are kept: not the whole file twice under
   * the purge's write lock.
   */
  async danglingReferences(tables: readonly string[]): Promise<DanglingReference[]> {
    const keys = this.all(
      `SELECT DISTINCT s.name AS referring, f.id AS fk FROM sqlite_schema AS s, pragma_foreign_key_list(s.name) AS f
       WHERE s.type = 'table' AND lower(f."table") IN (SELECT lower(value) FROM json_each(?)) ORDER BY 1, 2`,
      [JSON.stringify(tables)],
    );
    const out: DanglingReference[] = [];
    for (const [table, fks] of Map.groupBy(keys, (k) => String(k['referring']))) {
      const ids = new Set(fks.map((k) => Number(k['fk'])));
      for (const r of this.all('SELECT rowid, fkid FROM pragma_foreign_key_check(?)', [table])) {
        if (ids.has(Number(r['fkid']))) out.push({ table, key: `foreign key ${Number(r['fkid'])}`, row: r['rowid'] === null ? null : String(r['rowid']) });
      }
    }
    return Promise.resolve(out);
  }

  async delete(table: string, key: readonly string[], keys: readonly KeyTuple[]): Promise<number> {
    let n = 0;
    for (const part of chunks(keys, IN_CHUNK)) {
      const q = deleteByKeys(SQLITE, table, key, part);
      try {
        n += Number(this.db.prepare(q.sql).run(...q.params).changes);
      } catch (cause) {
        throw unavailable(this.path, cause);
      }
    }
    return Promise.resolve(n);
  }
}

export class SqliteSource extends SqliteReader implements MigrationSource {
  readonly kind = 'sqlite';
  readonly location: string;
  private writer: DatabaseSync | undefined;
  private journalMode = 'delete';
  private readonly scrubWaitMs: number;

  constructor(path: string, location = path, options: { readonly scrubWaitMs?: number } = {}) {
    if (!existsSync(path)) throw new EnclaveError('source_unavailable', `the SQLite source ${location} does not exist`);
    super(openReader(path, location), path);
    this.location = location;
    this.scrubWaitMs = options.scrubWaitMs ?? SCRUB_WAIT_MS;
  }

  private tableNames(): string[] {
    return this.all(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`, []).map((r) => String(r['name']));
  }

  async tables(): Promise<SourceTable[]> {
    const out: SourceTable[] = [];
    for (const name of this.tableNames()) {
      const info = this.all(`SELECT name, type, "notnull", pk FROM pragma_table_xinfo(?) WHERE hidden <> 1 ORDER BY cid`, [name]);
      const columns: SourceColumn[] = info.map((c) => ({ name: String(c['name']), kind: sqliteKind(String(c['type'])), nativeType: String(c['type']) || '(none)', nullable: Number(c['notnull']) === 0 }));
      const primaryKey = info.filter((c) => Number(c['pk']) > 0).sort((a, b) => Number(a['pk']) - Number(b['pk'])).map((c) => String(c['name']));
      const uniqueKeys: string[][] = [];
      for (const idx of this.all(`SELECT name FROM pragma_index_list(?) WHERE "unique" = 1 AND partial = 0`, [name])) {
        const cols = this.all(`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, [String(idx['name'])]).map((c) => (c['name'] === null ? '' : String(c['name'])));
        if (cols.every((c) => c !== '')) uniqueKeys.push(cols);
      }
      // An INTEGER PRIMARY KEY is the rowid itself: unique, but listed by no index.
      if (primaryKey.length > 0 && !uniqueKeys.some((u) => u.join('\u0000') === primaryKey.join('\u0000'))) uniqueKeys.unshift(primaryKey);
      out.push({ name, columns, primaryKey, uniqueKeys });
    }
    return Promise.resolve(out);
  }

  async foreignKeys(): Promise<SourceForeignKey[]> {
    const names = this.tableNames();
    // SQLite matches table names without regard to (ASCII) case, and a schema may spell them otherwise.
    const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
    const out: SourceForeignKey[] = [];
    for (const table of names) {
      const rows = this.all(`SELECT id, "table" AS ref, "from" AS col, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, [table]);
      for (const id of new Set(rows.map((r) => Number(r['id'])))) {
        const parts = rows.filter((r) => Number(r['id']) === id);
        const references = byLower.get(String(parts[0]?.['ref']).toLowerCase());
        if (references === undefined) continue;
        const onDelete = String(parts[0]?.['on_delete']).toLowerCase() as DeleteAction;
        out.push({ table, name: `foreign key ${id}`, columns: parts.map((r) => String(r['col'])), references, onDelete });
      }
    }
    return Promise.resolve(out);
  }

  async deleteHazards(tables: readonly string[]): Promise<string[]> {
    // A trigger's event is in its CREATE text only. Any trigger on a purged table whose text says DELETE
    // counts (its event, or a DELETE in its body): a false alarm asks for a look, a miss would leave a copy.
    const purged = new Set(tables.map((t) => t.toLowerCase()));
    const triggers = this.all(`SELECT name, tbl_name AS tbl, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY tbl_name, name`, []);
    return Promise.resolve(
      triggers
        .filter((r) => purged.has(String(r['tbl']).toLowerCase()) && /\bdelete\b/i.test(String(r['sql'])))
        .map((r) => `table ${String(r['tbl'])} has trigger ${String(r['name'])}, which may run on DELETE`),
    );
  }

  async count(table: string): Promise<number> {
    return Promise.resolve(Number(this.all(`SELECT count(*) AS n FROM ${ansiQuote(table)}`, [])[0]?.['n'] ?? 0));
  }

  private openWriter(): DatabaseSync {
    if (!this.writer) {
      try {
        const w = new DatabaseSync(this.path);
        w.exec('PRAGMA busy_timeout = 5000');
        this.journalMode = (w.prepare('PRAGMA journal_mode').get() as Record<string, string>)['journal_mode'] ?? 'delete';
        // Zero freed content, keep temporary b-trees (VACUUM's copy) off disk, and append new page
        // images to a WAL instead of writing old ones to a rollback journal.
        w.exec('PRAGMA secure_delete = ON');
        // Exactly the verified deletes: no ON DELETE CASCADE into tables outside the mapping (node:sqlite
        // turns foreign keys on by default; SQLite itself has them off).
        w.exec('PRAGMA foreign_keys = OFF');
        w.exec('PRAGMA temp_store = MEMORY');
        const mode = (w.prepare('PRAGMA journal_mode = WAL').get() as Record<string, string>)['journal_mode'];
        if (mode !== 'wal') {
          w.close();
          throw new Error(`journal_mode stayed ${String(mode)} where WAL was asked for`);
        }
        this.writer = w;
      } catch (cause) {
        throw unavailable(this.location, cause);
      }
    }
    return this.writer;
  }

  async transaction<T>(_tables: readonly string[], work: (tx: SourceTransaction) => Promise<T>): Promise<T> {
    const w = this.openWriter();
    // BEGIN IMMEDIATE takes the write lock now: no other writer can change the rows being checked.
    try {
      w.exec('BEGIN IMMEDIATE');
    } catch (cause) {
      throw unavailable(this.location, cause);
    }
    const tx = new SqliteTransaction(w, this.path);
    let out: T;
    try {
      out = await work(tx);
      w.exec('COMMIT');
    } catch (err) {
      if (w.isTransaction) w.exec('ROLLBACK');
      tx.clearCache();
      // Nothing was deleted, so there is nothing to scrub: the file gets its journal mode back now.
      this.leaveWal(w, this.journalMode);
      throw err;
    }
    tx.clearCache();
    return out;
  }

  /**
   * Puts back the journal mode the purge found and closes the writer (a later purge opens its own).
   * Leaving WAL needs every other connection closed, this source's own reader included. Says what it did.
   */
  private leaveWal(w: DatabaseSync, original: string): string | undefined {
    let step: string | undefined;
    if (original !== 'wal') {
      this.clearCache();
      this.db.close();
      try {
        w.exec(`PRAGMA journal_mode = ${original === 'memory' || original === 'off' ? 'DELETE' : original.toUpperCase()}`);
        step = `journal_mode restored to ${original} (the emptied WAL file is removed)`;
      } catch {
        step = 'journal_mode left at WAL: another process holds the database open (the WAL file is empty)';
      }
      this.db = openReader(this.path, this.location);
    }
    w.close();
    this.writer = undefined;
    return step;
  }

  /** The journal mode the purge's writer found (it switches the file to WAL); empty before it opened. */
  settingsBefore(): Readonly<Record<string, string>> {
    return this.writer ? { journal_mode: this.journalMode } : {};
  }

  async scrub(_tables: readonly string[], before: Readonly<Record<string, string>> = {}): Promise<ScrubReport> {
    const w = this.openWriter();
    // A scrub run again after a failed one finds the file in WAL (the first purge left it so): the mode
    // to restore is the one recorded before that purge. Only a mode SQLite names is taken from the record.
    const recorded = before['journal_mode'];
    const original = recorded !== undefined && JOURNAL_MODES.has(recorded) ? recorded : this.journalMode;
    const steps: string[] = [
      'DELETE in one transaction (BEGIN IMMEDIATE) with PRAGMA secure_delete = ON: freed cells and pages are overwritten with zeros',
      'journal_mode WAL during the purge: no rollback journal holding the deleted rows is written',
    ];
    const deadline = Date.now() + this.scrubWaitMs;
    await this.checkpoint(w, deadline);
    steps.push('PRAGMA wal_checkpoint(TRUNCATE): the WAL is copied into the database file and emptied');
    try {
      w.exec('VACUUM');
    } catch (cause) {
      throw unavailable(this.location, cause);
    }
    const free = Number((w.prepare('PRAGMA freelist_count').get() as Record<string, number>)['freelist_count']);
    if (free !== 0) throw new EnclaveError('source_unavailable', `VACUUM of the SQLite source ${this.location} left ${free} free pages: the file was not rebuilt`);
    steps.push('VACUUM (temp_store = MEMORY): the database file is rebuilt without free pages');
    await this.checkpoint(w, deadline);
    steps.push('PRAGMA wal_checkpoint(TRUNCATE) again after VACUUM');
    const version = (w.prepare('SELECT sqlite_version() AS v').get() as Record<string, string>)['v'] ?? '?';
    const pageSize = String((w.prepare('PRAGMA page_size').get() as Record<string, number>)['page_size']);
    const restored = this.leaveWal(w, original);
    if (restored !== undefined) steps.push(restored);
    return Promise.resolve({
      engine: `SQLite ${version}`,
      steps,
      settings: { secure_delete: 'on', journal_mode_before: original, page_size: pageSize },
      limits: [
        'copies of the file made before the purge (backups, snapshots, replicas) are not touched',
        'the file system may keep freed blocks (copy-on-write file systems, SSD wear levelling)',
      ],
    });
  }

  /**
   * wal_checkpoint(TRUNCATE) until it completes. It reports, not throws, when it could not: a reader
   * whose snapshot predates the purge pins the WAL and the file's old pages (which still hold the
   * deleted rows) until it ends.
   */
  private async checkpoint(w: DatabaseSync, deadline: number): Promise<void> {
    let last: Record<string, number> = {};
    try {
      // Short busy waits, tried again until the deadline, so the wait is bounded by it.
      w.exec(`PRAGMA busy_timeout = ${CHECKPOINT_SLICE_MS}`);
      for (;;) {
        last = w.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as Record<string, number>;
        if (Number(last['log']) < 0) break;
        if (Number(last['busy']) === 0 && Number(last['checkpointed']) === Number(last['log'])) return;
        if (Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_SLICE_MS));
      }
    } catch (cause) {
      throw unavailable(this.location, cause);
    } finally {
      if (w.isOpen) w.exec('PRAGMA busy_timeout = 5000');
    }
    if (Number(last['log']) < 0) throw new EnclaveError('source_unavailable', `PRAGMA wal_checkpoint(TRUNCATE) on the SQLite source ${this.location} found no WAL to checkpoint`);
    throw new EnclaveError(
      'source_unavailable',
      `PRAGMA wal_checkpoint(TRUNCATE) on the SQLite source ${this.location} did not complete within ${Math.round(this.scrubWaitMs / 1000)} s ` +
        `(busy ${String(last['busy'])}, ${String(last['checkpointed'])} of ${String(last['log'])} WAL frames copied): another connection holds a read transaction open, ` +
        'and until it ends the WAL and the database file keep the deleted rows; end that transaction (or stop the application)',
    );
  }

  async close(): Promise<void> {
    this.clearCache();
    if (this.writer?.isOpen) this.writer.close();
    if (this.db.isOpen) this.db.close();
    return Promise.resolve();
  }
}
