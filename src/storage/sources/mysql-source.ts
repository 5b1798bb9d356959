// A legacy MySQL or MariaDB database as a migration source (mysql2). The session runs in UTC;
// DATETIME/TIMESTAMP become RFC 3339 strings, DATE stays text, BIGINT stays exact, DECIMAL stays text.
// The purge runs in one SERIALIZABLE transaction (InnoDB turns its reads into locking reads, so writers
// into the scanned ranges wait), then OPTIMIZE TABLE rebuilds each table (for InnoDB: a full rebuild
// into a new tablespace, dev.mysql.com/doc/refman/8.0/en/optimize-table.html).
import mysql from 'mysql2/promise';
import { EnclaveError } from '../../core/errors.ts';
import type {
  ColumnKind,
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
  SourceValue,
} from '../../core/migration-source.ts';
import { redactUrl } from './postgres-source.ts';
import { backtickQuote, chunks, deleteByKeys, keysetSelect, lookupSelect, type Dialect } from './sql-text.ts';

// Row-value comparisons are spelled out: MariaDB does not use an index for (a, b) > (x, y).
const MYSQL: Dialect = { quote: backtickQuote, param: () => '?', rowValues: false, rowList: 'parens' };
const IN_CHUNK = 1000;

interface Field {
  readonly type: string;
  string(): string | null;
}

function typeCast(field: Field, next: () => unknown): unknown {
  switch (field.type) {
    case 'DATETIME':
    case 'TIMESTAMP': {
      const s = field.string();
      return s === null ? null : `${s.replace(' ', 'T')}Z`;
    }
    case 'DATE':
    case 'JSON':
    case 'NEWDECIMAL':
      return field.string();
    case 'LONGLONG': {
      const s = field.string();
      if (s === null) return null;
      const n = Number(s);
      return Number.isSafeInteger(n) ? n : BigInt(s);
    }
    default:
      return next();
  }
}

export function mysqlKind(dataType: string): ColumnKind {
  switch (dataType.toLowerCase()) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'integer':
    case 'bigint':
    case 'year':
      return 'integer';
    case 'decimal':
    case 'numeric':
      return 'decimal';
    case 'float':
    case 'double':
    case 'real':
      return 'real';
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
      return 'text';
    case 'datetime':
    case 'timestamp':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'json':
      return 'json';
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return 'blob';
    default:
      return 'other';
  }
}

function unavailable(location: string, cause: unknown): EnclaveError {
  return new EnclaveError('source_unavailable', `MySQL source ${location}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

const bind = (values: readonly unknown[]) => values.map((v) => (typeof v === 'bigint' ? v.toString() : v));

class MysqlReader {
  protected readonly conn: mysql.Connection;
  readonly location: string;
  /** Per table, its FLOAT columns (read as DOUBLE: exactSelect). */
  private readonly floats = new Map<string, ReadonlySet<string>>();

  constructor(conn: mysql.Connection, location: string) {
    this.conn = conn;
    this.location = location;
  }

  protected async q(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    try {
      const [rows] = await this.conn.query({ sql, typeCast }, bind(params));
      return rows as Record<string, unknown>[];
    } catch (cause) {
      throw unavailable(this.location, cause);
    }
  }

  /**
   * A SELECT of `columns` with the FLOAT ones read as DOUBLE. The text protocol writes a FLOAT with six
   * significant digits (1.2345678 and 1.2345679 both as 1.23457): copied so, verify (which compares
   * converted records) could not tell, and the purge would delete the only exact value. A FLOAT widened
   * to a DOUBLE (× 1e0, exact, the sign of zero kept) is written with every digit it needs.
   */
  private async exactSelect(table: string, columns: readonly string[], sql: string): Promise<string> {
    let floats = this.floats.get(table);
    if (!floats) {
      const rows = await this.q(`SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND DATA_TYPE = 'float'`, [table]);
      floats = new Set(rows.map((r) => String(r['c'])));
      this.floats.set(table, floats);
    }
    const widen = floats;
    if (!columns.some((c) => widen.has(c))) return sql;
    const prefix = `SELECT ${columns.map(backtickQuote).join(', ')} FROM `;
    if (!sql.startsWith(prefix)) throw new EnclaveError('internal', 'a MySQL source read does not select its columns as expected');
    return `SELECT ${columns.map((c) => (widen.has(c) ? `${backtickQuote(c)} * 1e0 AS ${backtickQuote(c)}` : backtickQuote(c))).join(', ')} FROM ${sql.slice(prefix.length)}`;
  }

  async read(r: ReadRequest): Promise<SourceRow[]> {
    const f = keysetSelect(MYSQL, r.table, r.columns, r.key, r.after, r.upTo, r.limit);
    return (await this.q(await this.exactSelect(r.table, r.columns, f.sql), f.params)) as Record<string, SourceValue>[];
  }

  async lookup(r: LookupRequest): Promise<SourceRow[]> {
    const out: SourceRow[] = [];
    for (const part of chunks(r.values, IN_CHUNK)) {
      const f = lookupSelect(MYSQL, r.table, r.columns, r.by, part);
      out.push(...((await this.q(await this.exactSelect(r.table, r.columns, f.sql), f.params)) as Record<string, SourceValue>[]));
    }
    return out;
  }
}

class MysqlTransaction extends MysqlReader implements SourceTransaction {
  readonly readsOwnDeletes = true;

  async delete(table: string, key: readonly string[], keys: readonly KeyTuple[]): Promise<number> {
    let n = 0;
    for (const part of chunks(keys, IN_CHUNK)) {
      const f = deleteByKeys(MYSQL, table, key, part);
      try {
        const [result] = await this.conn.query(f.sql, bind(f.params));
        n += (result as mysql.ResultSetHeader).affectedRows;
      } catch (cause) {
        throw unavailable(this.location, cause);
      }
    }
    return n;
  }
}

async function connect(url: string, location: string): Promise<mysql.Connection> {
  try {
    const conn = await mysql.createConnection({ uri: url.replace(/^mariadb:/, 'mysql:'), supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, timezone: 'Z' });
    await conn.query("SET time_zone = '+00:00'");
    return conn;
  } catch (cause) {
    throw new EnclaveError('source_unavailable', `cannot connect to the MySQL source ${location}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Privileges on a table's rows or definition: held on a whole database, they show it all its tables. */
const TABLE_PRIVILEGES: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', 'SHOW VIEW', 'TRIGGER']);

export class MysqlSource extends MysqlReader implements MigrationSource {
  readonly kind = 'mysql';
  private readonly url: string;

  private constructor(conn: mysql.Connection, url: string) {
    super(conn, redactUrl(url));
    this.url = url;
  }

  static async open(url: string): Promise<MysqlSource> {
    return new MysqlSource(await connect(url, redactUrl(url)), url);
  }

  async tables(): Promise<SourceTable[]> {
    const cols = await this.q(
      `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c, c.DATA_TYPE AS dt, c.COLUMN_TYPE AS ct, c.IS_NULLABLE AS n
       FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
       WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
    );
    const idx = await this.q(
      `SELECT TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c, SUB_PART AS p FROM information_schema.STATISTICS
       WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    );
    const tables = new Map<string, { columns: SourceColumn[]; primaryKey: string[]; uniqueKeys: string[][] }>();
    for (const r of cols) {
      const name = String(r['t']);
      let t = tables.get(name);
      if (!t) tables.set(name, (t = { columns: [], primaryKey: [], uniqueKeys: [] }));
      t.columns.push({ name: String(r['c']), kind: mysqlKind(String(r['dt'])), nativeType: String(r['ct']), nullable: r['n'] === 'YES' });
    }
    const byIndex = new Map<string, string[]>();
    // An index on a column's prefix (or an expression) makes the rows unique only with that part cut
    // short: the columns are not a key, and the index counts as no unique key at all.
    const partial = new Set<string>();
    for (const r of idx) {
      const id = `${String(r['t'])}\u0000${String(r['i'])}`;
      if (r['p'] !== null || r['c'] === null) partial.add(id);
      byIndex.set(id, [...(byIndex.get(id) ?? []), String(r['c'])]);
    }
    for (const [id, list] of byIndex) {
      const [table, index] = id.split('\u0000');
      const t = tables.get(table ?? '');
      if (!t || partial.has(id)) continue;
      if (index === 'PRIMARY') t.primaryKey = list;
      t.uniqueKeys.push(list);
    }
    return [...tables].map(([name, t]) => ({ name, ...t })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async foreignKeys(): Promise<SourceForeignKey[]> {
    const rows = await this.q(
      `SELECT k.TABLE_SCHEMA = DATABASE() AS here, k.TABLE_SCHEMA AS s, k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_NAME AS ref, r.DELETE_RULE AS del
       FROM information_schema.KEY_COLUMN_USAGE k LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS r
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
       WHERE k.REFERENCED_TABLE_SCHEMA = DATABASE() ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    );
    const keys = new Map<string, SourceForeignKey & { columns: string[] }>();
    for (const r of rows) {
      const table = Number(r['here']) === 1 ? String(r['t']) : `${String(r['s'])}.${String(r['t'])}`;
      const id = `${table}\u0000${String(r['name'])}`;
      const k = keys.get(id);
      if (k) k.columns.push(String(r['c']));
      else keys.set(id, { table, name: String(r['name']), columns: [String(r['c'])], references: String(r['ref']), onDelete: typeof r['del'] === 'string' ? (r['del'].toLowerCase() as DeleteAction) : 'unknown' });
    }
    return [...keys.values()];
  }

  async deleteHazards(tables: readonly string[]): Promise<string[]> {
    if (tables.length === 0) return [];
    const list = tables.map(() => '?').join(', ');
    // Engines with transactions; any other (MyISAM, Aria, MEMORY, …) keeps a delete that a refused purge
    // "rolls back", and the next run then sweeps the vault's copies of rows that are gone at the source.
    const rows = await this.q(
      `SELECT EVENT_OBJECT_TABLE AS tbl, CONCAT('trigger ', TRIGGER_NAME, ', which runs on DELETE') AS what
         FROM information_schema.TRIGGERS
        WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND FIND_IN_SET('DELETE', EVENT_MANIPULATION) > 0 AND EVENT_OBJECT_TABLE IN (${list})
       UNION ALL
       SELECT TABLE_NAME, CONCAT('the ', ENGINE, ' engine, which cannot roll back a refused purge')
         FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND UPPER(ENGINE) NOT IN ('INNODB', 'ROCKSDB', 'TOKUDB') AND TABLE_NAME IN (${list})
       ORDER BY 1, 2`,
      [...tables, ...tables],
    );
    return [...rows.map((r) => `table ${String(r['tbl'])} has ${String(r['what'])}`), ...(await this.unseen(tables))];
  }

  /**
   * What this account may not be shown, for which the checks above would find nothing whatever there is:
   *   - a purged table's triggers: MySQL lists them in information_schema.TRIGGERS only to an account with
   *     the TRIGGER privilege on the table (MariaDB 10.11 lists them, without their body, either way);
   *   - a foreign key into a purged table: both list a foreign key only to an account with a privilege on
   *     its own table, and InnoDB cascades a DELETE into a table the account cannot see. A privilege on the
   *     whole database (or all of them) shows every table of it; keys from other databases are not checked.
   * A privilege counts where the account holds it itself (globally, on this database, or on the table);
   * one held through a role is not listed to it and counts as missing (fail closed).
   */
  private async unseen(tables: readonly string[]): Promise<string[]> {
    const [who] = (await this.q('SELECT CURRENT_USER() AS account, DATABASE() AS db')) as { account?: string; db?: string | null }[];
    const current = who?.account ?? '';
    const at = current.lastIndexOf('@');
    const grantee = `'${current.slice(0, at)}'@'${current.slice(at + 1)}'`;
    // An account that may read the grant tables is shown every account's rows: only its own count, compared
    // exactly here (the catalog compares without regard to case, and user names are case-sensitive).
    const rows = await this.q(
      `SELECT GRANTEE AS g, PRIVILEGE_TYPE AS p, '' AS tbl FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?
       UNION ALL
       SELECT GRANTEE, PRIVILEGE_TYPE, '' FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND DATABASE() LIKE TABLE_SCHEMA
       UNION ALL
       SELECT GRANTEE, PRIVILEGE_TYPE, TABLE_NAME FROM information_schema.TABLE_PRIVILEGES WHERE PRIVILEGE_TYPE = 'TRIGGER' AND GRANTEE = ? AND TABLE_SCHEMA = DATABASE()`,
      [grantee, grantee, grantee],
    );
    const own = rows.filter((r) => String(r['g']) === grantee);
    const db = backtickQuote(who?.db ?? '');
    const hazards: string[] = [];
    if (!own.some((r) => String(r['tbl']) === '' && TABLE_PRIVILEGES.has(String(r['p'])))) {
      hazards.push(
        `the account ${current} holds privileges on single tables only, and MySQL shows a foreign key only to an account with a privilege on its table, so one that cascades a DELETE from a table it cannot see would go unseen; ` +
          `grant it for the purge with GRANT SELECT ON ${db}.* TO ${grantee}`,
      );
    }
    const triggers = own.filter((r) => String(r['p']) === 'TRIGGER').map((r) => String(r['tbl']));
    const missing = triggers.includes('') ? [] : [...tables].filter((t) => !triggers.includes(t)).sort();
    if (missing.length > 0) {
      hazards.push(
        `the account ${current} lacks the TRIGGER privilege (held itself, not through a role) on ${missing.length === 1 ? 'table' : 'tables'} ${missing.join(', ')}, and MySQL shows a table's triggers only to an account that has it, so one that runs on DELETE would go unseen; ` +
          `grant it for the purge with ${missing.map((t) => `GRANT TRIGGER ON ${db}.${backtickQuote(t)} TO ${grantee}`).join(' and ')}`,
      );
    }
    return hazards;
  }

  async count(table: string): Promise<number> {
    return Number((await this.q(`SELECT count(*) AS n FROM ${backtickQuote(table)}`))[0]?.['n'] ?? 0);
  }

  async transaction<T>(_tables: readonly string[], work: (tx: SourceTransaction) => Promise<T>): Promise<T> {
    const conn = await connect(this.url, this.location);
    try {
      await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      await conn.beginTransaction();
      const out = await work(new MysqlTransaction(conn, this.location));
      await conn.commit();
      return out;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err instanceof EnclaveError ? err : unavailable(this.location, err);
    } finally {
      await conn.end().catch(() => undefined);
    }
  }

  /** A purge changes no setting of this engine. */
  settingsBefore(): Readonly<Record<string, string>> {
    return {};
  }

  async scrub(tables: readonly string[]): Promise<ScrubReport> {
    const steps = ['DELETE in one SERIALIZABLE transaction (locking reads: writers into the scanned ranges wait)'];
    for (const t of tables) {
      const rows = await this.q(`OPTIMIZE TABLE ${backtickQuote(t)}`);
      const error = rows.find((r) => String(r['Msg_type']).toLowerCase() === 'error');
      if (error) throw new EnclaveError('source_unavailable', `OPTIMIZE TABLE ${t} failed: ${String(error['Msg_text'])}`);
    }
    steps.push(`OPTIMIZE TABLE ${tables.join(', ')}: InnoDB rebuilds each table and its indexes without the deleted rows`);
    const settings: Record<string, string> = {};
    const vars = await this.q(
      `SHOW VARIABLES WHERE Variable_name IN ('version', 'version_comment', 'innodb_file_per_table', 'log_bin', 'binlog_format', 'binlog_row_image', 'innodb_immediate_scrub_data_uncompressed', 'innodb_undo_log_truncate', 'innodb_undo_tablespaces')`,
    );
    for (const v of vars) settings[String(v['Variable_name'])] = String(v['Value']);
    return {
      engine: `${settings['version_comment'] ?? 'MySQL'} ${settings['version'] ?? ''}`.trim(),
      steps,
      settings,
      limits: [
        'with log_bin ON the binary log keeps the DELETE (and, with binlog_format ROW, the deleted rows\' images) until it is purged; replicas and point-in-time backups keep theirs',
        'the redo log (ib_logfile*) and the undo logs may hold the deleted rows until InnoDB overwrites them; with innodb_undo_tablespaces 0 the undo logs are in the system tablespace (ibdata1), with the values of the deleted rows\' indexed columns',
        'with innodb_file_per_table OFF the rebuild happens inside the shared system tablespace, which never shrinks; old tablespace files are unlinked, not overwritten',
        'on MariaDB, innodb_immediate_scrub_data_uncompressed = ON zeroes freed record space at once; it is a server setting this purge reports but does not change',
      ],
    };
  }

  async close(): Promise<void> {
    await this.conn.end().catch(() => undefined);
  }
}
