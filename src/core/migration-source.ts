// The migration source port: a legacy database (SQLite, PostgreSQL, MySQL/MariaDB) or a directory of
// JSON Lines exports, as the migration sees it. Adapters live in src/storage/sources and run one
// conformance suite (test/storage/sources/conformance.ts). Rows are read in key order by keyset
// pagination (never OFFSET, which rescans everything it skips), so memory and time per batch stay flat.

export const SOURCE_KINDS = ['sqlite', 'postgres', 'mysql', 'jsonl'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** A column's type as the mapping checks it, whatever the engine calls it (`nativeType`). */
export type ColumnKind = 'text' | 'integer' | 'real' | 'decimal' | 'boolean' | 'timestamp' | 'date' | 'json' | 'blob' | 'other';

export interface SourceColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nativeType: string;
  readonly nullable: boolean;
}

export interface SourceTable {
  readonly name: string;
  readonly columns: readonly SourceColumn[];
  /** The primary key's columns in key order; empty when the table has none (JSON Lines never has one). */
  readonly primaryKey: readonly string[];
  /** Column sets of the unique indexes (a key given in the mapping must be one of them or the primary key). */
  readonly uniqueKeys: readonly (readonly string[])[];
}

/**
 * A value as an adapter hands it over: integers beyond 2^53 as bigint, timestamps as RFC 3339 strings in
 * UTC, dates as YYYY-MM-DD, decimals and JSON as their text, blobs as bytes.
 */
export type SourceValue = string | number | bigint | boolean | null | Uint8Array;
export type SourceRow = Readonly<Record<string, SourceValue>>;

/** The value of one key column: keys are text or integers. */
export type KeyValue = string | number | bigint;
export type KeyTuple = readonly KeyValue[];

export interface ReadRequest {
  readonly table: string;
  /** Columns to return; must include the key columns. */
  readonly columns: readonly string[];
  /** Key columns, in key order. */
  readonly key: readonly string[];
  /** Exclusive lower bound (rows with a greater key). */
  readonly after?: KeyTuple | undefined;
  /** Inclusive upper bound. */
  readonly upTo?: KeyTuple | undefined;
  readonly limit: number;
}

export interface LookupRequest {
  readonly table: string;
  readonly columns: readonly string[];
  /** The column matched against `values`. */
  readonly by: string;
  readonly values: readonly KeyValue[];
}

/** Reads, as the migration needs them: in key order, a bounded page at a time. */
export interface SourceReader {
  /** Rows with after < key <= upTo, ascending by key, at most `limit`. */
  read(request: ReadRequest): Promise<SourceRow[]>;
  /** Rows whose column `by` has one of the values (a batch join, e.g. to the users table). */
  lookup(request: LookupRequest): Promise<SourceRow[]>;
}

export interface SourceTransaction extends SourceReader {
  /** Deletes the rows with these keys; returns how many it deleted. */
  delete(table: string, key: readonly string[], keys: readonly KeyTuple[]): Promise<number>;
  /** Whether reads in this transaction already miss the rows it deleted (SQL engines) or only after commit (files). */
  readonly readsOwnDeletes: boolean;
  /**
   * The rows whose foreign keys into `tables` refer to no row, where the engine does not enforce foreign
   * keys during the purge (SQLite's purge runs with them off): a purge that adds any leaves rows pointing
   * at deleted ones (core/purge-foreign-keys.ts compares before and after). Only keys into `tables` are
   * checked: the purge deletes from no other table, so no other key can start to dangle. Undefined where
   * the engine enforces them (a RESTRICT key then fails the delete itself).
   */
  danglingReferences?(tables: readonly string[]): Promise<DanglingReference[]>;
}

/** A row whose foreign key refers to no row. */
export interface DanglingReference {
  /** The referring table. */
  readonly table: string;
  /** Its foreign key, as foreignKeys() names it. */
  readonly key: string;
  /** The referring row (SQLite: its rowid); null where the engine cannot name it (a WITHOUT ROWID table). */
  readonly row: string | null;
}

/**
 * What a foreign key does to its rows when the row it refers to is deleted (SQL's ON DELETE); `unknown`
 * when the source does not show it to this account (MariaDB shows a key's rule only to an account with a
 * privilege beyond SELECT on its table), which a purge takes for the worst.
 */
export type DeleteAction = 'cascade' | 'set null' | 'set default' | 'restrict' | 'no action' | 'unknown';

/** A foreign key that refers to a table of the source, as the schema declares it. */
export interface SourceForeignKey {
  /** The referring table; qualified (`schema.table`) when it is outside the source's schema or database. */
  readonly table: string;
  /** The constraint's name; SQLite names none, so it is its position there (`foreign key 0`). */
  readonly name: string;
  readonly columns: readonly string[];
  /** The table of the source it refers to. */
  readonly references: string;
  readonly onDelete: DeleteAction;
}

/** What an engine did to make deleted rows leave its files, and what it cannot promise. */
export interface ScrubReport {
  readonly engine: string;
  readonly steps: readonly string[];
  /** Engine settings that bear on what may remain (e.g. wal_level, log_bin). */
  readonly settings: Readonly<Record<string, string>>;
  readonly limits: readonly string[];
}

export interface MigrationSource extends SourceReader {
  readonly kind: SourceKind;
  /** Where the data is, for people and certificates: never a password. */
  readonly location: string;
  tables(): Promise<SourceTable[]>;
  /** The foreign keys, anywhere the engine can see, that refer to the source's tables (none for files). */
  foreignKeys(): Promise<SourceForeignKey[]>;
  /**
   * What a DELETE from these tables would do besides deleting the verified rows, or could not undo, one
   * sentence each: triggers that run on it (they may copy the deleted values elsewhere), rules that
   * rewrite it, tables whose engine cannot roll a refused purge back. Empty for files.
   */
  deleteHazards(tables: readonly string[]): Promise<string[]>;
  count(table: string): Promise<number>;
  /**
   * Runs `work` in one transaction that is committed only if it resolves. SQL engines lock the tables
   * against writers for its duration, so what was checked is exactly what is deleted.
   */
  transaction<T>(tables: readonly string[], work: (tx: SourceTransaction) => Promise<T>): Promise<T>;
  /**
   * Engine settings a purge's transaction changed and its scrub puts back, as they were before it
   * (SQLite: journal_mode); empty where nothing is changed. A pending purge keeps them, so that a scrub
   * run again by a later process, after the first failed, restores and reports the original settings.
   */
  settingsBefore(): Readonly<Record<string, string>>;
  /** After a purge: makes the deleted rows leave the source's files as far as the engine allows. */
  scrub(tables: readonly string[], before?: Readonly<Record<string, string>>): Promise<ScrubReport>;
  close(): Promise<void>;
}

/** Key comparison in the order adapters return rows: numbers numerically, text by UTF-8 bytes. */
export function compareKeys(a: KeyTuple, b: KeyTuple): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : -1) : 1;
    const c = compareKeyValue(x, y);
    if (c !== 0) return c;
  }
  return 0;
}

function compareKeyValue(x: KeyValue, y: KeyValue): number {
  if (typeof x === 'string' && typeof y === 'string') return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
  if (typeof x === 'string') return 1;
  if (typeof y === 'string') return -1;
  return x < y ? -1 : x > y ? 1 : 0;
}
