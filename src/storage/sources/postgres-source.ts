// A legacy PostgreSQL database as a migration source (node-postgres). Values are read in a fixed form:
// the session runs in UTC with ISO dates, timestamps become RFC 3339 strings, dates stay text, bigint
// stays exact, json stays text. The purge runs in one transaction holding EXCLUSIVE locks on the mapped
// tables (reads go on, writes wait), then VACUUM FULL rewrites each table into a new file without the
// deleted rows (postgresql.org/docs/current/sql-vacuum.html) and CHECKPOINT lets old WAL be recycled.
import pg from 'pg';
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
import { ansiQuote, chunks, deleteByKeys, keysetSelect, lookupSelect, type Dialect } from './sql-text.ts';

const PG: Dialect = { quote: ansiQuote, param: (n) => `$${n}`, rowValues: true, rowList: 'parens' };
const IN_CHUNK = 1000;

const OID = { int8: 20, date: 1082, timestamp: 1114, timestamptz: 1184, json: 114, jsonb: 3802 } as const;

/**
 * Types whose parser gives back exactly what the server holds: bool, int2, int4, oid, float4 and float8
 * (printed exactly: extra_float_digits = 3), bytea, and those parsed below. In rows, every other type is
 * handed over as the server's own text (the catalog queries keep node-postgres' parsers): node-postgres
 * parses some into values that lose what they held (an interval into an object JSON writes as {}, a
 * timestamptz[] into Dates of milliseconds, json[] and numeric[] into doubles). Copied so, verify (which
 * compares converted records) could not tell, and the purge would delete the only exact value.
 */
const EXACT_PARSERS: ReadonlySet<number> = new Set([16, 21, 23, 26, 700, 701, 17, ...Object.values(OID)]);

function timestampText(s: string): string {
  // "2024-05-01 10:00:00.25+00" (UTC session, ISO DateStyle) → "2024-05-01T10:00:00.25Z"
  const m = /^(\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:\+00)?$/.exec(s);
  return m ? `${m[1] ?? ''}T${m[2] ?? ''}Z` : s;
}

const TYPES = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    switch (oid) {
      case OID.int8:
        return (v: string) => {
          const n = Number(v);
          return Number.isSafeInteger(n) ? n : BigInt(v);
        };
      case OID.date:
      case OID.json:
      case OID.jsonb:
        return (v: string) => v;
      case OID.timestamp:
      case OID.timestamptz:
        return timestampText;
      default:
        return pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown;
    }
  },
};

/** The rows' values (reads and lookups): types without an exact parser as the server's text. */
const ROW_TYPES = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    return EXACT_PARSERS.has(oid) ? TYPES.getTypeParser(oid, format) : (v: string) => v;
  },
};

export function pgKind(dataType: string, udt: string): ColumnKind {
  switch (dataType) {
    case 'smallint':
    case 'integer':
    case 'bigint':
      return 'integer';
    case 'numeric':
      return 'decimal';
    case 'real':
    case 'double precision':
      return 'real';
    case 'boolean':
      return 'boolean';
    case 'text':
    case 'character varying':
    case 'character':
    case 'uuid':
      return 'text';
    case 'timestamp with time zone':
    case 'timestamp without time zone':
      return 'timestamp';
    case 'date':
      return 'date';
    case 'json':
    case 'jsonb':
      return 'json';
    case 'bytea':
      return 'blob';
    default:
      return udt === 'citext' ? 'text' : 'other';
  }
}

function normalize(row: Record<string, unknown>): SourceRow {
  for (const k in row) {
    const v = row[k];
    if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) row[k] = JSON.stringify(v);
  }
  return row as Record<string, SourceValue>;
}

/** The URL without its password, for messages and certificates. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    // Both drivers also take a password as a query parameter (?password=, ?sslpassword=).
    for (const name of [...u.searchParams.keys()]) if (/pass|secret|token/i.test(name)) u.searchParams.set(name, '***');
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

async function query(client: pg.Client, location: string, sql: string, params: readonly unknown[] = [], types?: typeof ROW_TYPES): Promise<Record<string, unknown>[]> {
  try {
    return (await client.query({ text: sql, values: params as unknown[], ...(types ? { types } : {}) })).rows as Record<string, unknown>[];
  } catch (cause) {
    throw new EnclaveError('source_unavailable', `PostgreSQL source ${location}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

class PgReader {
  protected readonly client: pg.Client;
  protected readonly schema: string;
  readonly location: string;

  constructor(client: pg.Client, schema: string, location: string) {
    this.client = client;
    this.schema = schema;
    this.location = location;
  }

  protected qualified(table: string): string {
    return `${ansiQuote(this.schema)}.${ansiQuote(table)}`;
  }

  protected async q(sql: string, params: readonly unknown[] = [], types?: typeof ROW_TYPES): Promise<Record<string, unknown>[]> {
    return query(this.client, this.location, sql, params, types);
  }

  async read(r: ReadRequest): Promise<SourceRow[]> {
    const f = keysetSelect(PG, r.table, r.columns, r.key, r.after, r.upTo, r.limit, this.qualified(r.table));
    return (await this.q(f.sql, f.params, ROW_TYPES)).map(normalize);
  }

  async lookup(r: LookupRequest): Promise<SourceRow[]> {
    const out: SourceRow[] = [];
    for (const part of chunks(r.values, IN_CHUNK)) {
      const f = lookupSelect(PG, r.table, r.columns, r.by, part.map(String), this.qualified(r.table));
      out.push(...(await this.q(f.sql, f.params, ROW_TYPES)).map(normalize));
    }
    return out;
  }
}

class PgTransaction extends PgReader implements SourceTransaction {
  readonly readsOwnDeletes = true;

  async delete(table: string, key: readonly string[], keys: readonly KeyTuple[]): Promise<number> {
    let n = 0;
    for (const part of chunks(keys, IN_CHUNK)) {
      const f = deleteByKeys(PG, table, key, part, this.qualified(table));
      try {
        n += (await this.client.query({ text: f.sql, values: f.params })).rowCount ?? 0;
      } catch (cause) {
        throw new EnclaveError('source_unavailable', `PostgreSQL source ${this.location}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
      }
    }
    return n;
  }
}

async function connect(url: string, location: string): Promise<pg.Client> {
  let client: pg.Client | undefined;
  try {
    // Constructed in here: the driver parses the URL (and reads its ssl files) already in the constructor.
    client = new pg.Client({ connectionString: url, types: TYPES, application_name: 'enclave-migrate' });
    await client.connect();
    await client.query("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3");
  } catch (cause) {
    await client?.end().catch(() => undefined);
    throw new EnclaveError('source_unavailable', `cannot connect to the PostgreSQL source ${location}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return client;
}

export class PostgresSource extends PgReader implements MigrationSource {
  readonly kind = 'postgres';
  private readonly url: string;

  private constructor(client: pg.Client, url: string, schema: string) {
    super(client, schema, `${redactUrl(url)} schema ${schema}`);
    this.url = url;
  }

  static async open(url: string, schema = 'public'): Promise<PostgresSource> {
    return new PostgresSource(await connect(url, redactUrl(url)), url, schema);
  }

  async tables(): Promise<SourceTable[]> {
    const cols = await this.q(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
       WHERE table_schema = $1 AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE')
       ORDER BY table_name, ordinal_position`,
      [this.schema],
    );
    const keys = await this.q(
      `SELECT t.relname AS table_name, i.indisprimary AS is_primary, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
       WHERE n.nspname = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
       GROUP BY t.relname, i.indexrelid, i.indisprimary`,
      [this.schema],
    );
    const tables = new Map<string, { columns: SourceColumn[]; primaryKey: string[]; uniqueKeys: string[][] }>();
    for (const c of cols) {
      const name = String(c['table_name']);
      let t = tables.get(name);
      if (!t) tables.set(name, (t = { columns: [], primaryKey: [], uniqueKeys: [] }));
      t.columns.push({ name: String(c['column_name']), kind: pgKind(String(c['data_type']), String(c['udt_name'])), nativeType: String(c['data_type']), nullable: c['is_nullable'] === 'YES' });
    }
    for (const k of keys) {
      const t = tables.get(String(k['table_name']));
      const list = (k['cols'] as string[]).map(String);
      if (!t) continue;
      if (k['is_primary'] === true) t.primaryKey = list;
      t.uniqueKeys.push(list);
    }
    return [...tables].map(([name, t]) => ({ name, ...t })).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async foreignKeys(): Promise<SourceForeignKey[]> {
    // pg_constraint, not information_schema: the latter shows only constraints on tables the role owns
    // or has a privilege on. Partitions' copies of a partitioned table's key (conparentid) are skipped.
    const rows = await this.q(
      `SELECT sn.nspname AS table_schema, s.relname AS table_name, c.conname AS name, d.relname AS ref, c.confdeltype AS action,
         ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS cols
       FROM pg_constraint c JOIN pg_class s ON s.oid = c.conrelid JOIN pg_namespace sn ON sn.oid = s.relnamespace
       JOIN pg_class d ON d.oid = c.confrelid JOIN pg_namespace dn ON dn.oid = d.relnamespace
       WHERE c.contype = 'f' AND c.conparentid = 0 AND dn.nspname = $1
       ORDER BY sn.nspname, s.relname, c.conname`,
      [this.schema],
    );
    const actions: Readonly<Record<string, DeleteAction>> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };
    return rows.map((r) => ({
      table: r['table_schema'] === this.schema ? String(r['table_name']) : `${String(r['table_schema'])}.${String(r['table_name'])}`,
      name: String(r['name']),
      columns: (r['cols'] as string[]).map(String),
      references: String(r['ref']),
      onDelete: actions[String(r['action'])] ?? 'no action',
    }));
  }

  async deleteHazards(tables: readonly string[]): Promise<string[]> {
    // pg_trigger, not information_schema (which shows only tables the role has a privilege on); internal
    // triggers (those enforcing foreign keys) are foreignKeys()' business. tgtype bit 3 is DELETE.
    const rows = await this.q(
      `SELECT c.relname AS tbl, 'trigger ' || t.tgname || ', which runs on DELETE' AS what
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = ANY($2) AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND (t.tgtype & 8) <> 0
       UNION ALL
       SELECT r.tablename, 'rule ' || r.rulename || ', which rewrites DELETE'
         FROM pg_rules r WHERE r.schemaname = $1 AND r.tablename = ANY($2) AND r.definition ~* '\\mAS\\s+ON\\s+DELETE\\M'
       ORDER BY 1, 2`,
      [this.schema, [...tables]],
    );
    return rows.map((r) => `table ${String(r['tbl'])} has ${String(r['what'])}`);
  }

  async count(table: string): Promise<number> {
    return Number((await this.q(`SELECT count(*) AS n FROM ${this.qualified(table)}`))[0]?.['n'] ?? 0);
  }

  async transaction<T>(tables: readonly string[], work: (tx: SourceTransaction) => Promise<T>): Promise<T> {
    const client = await connect(this.url, this.location);
    try {
      await query(client, this.location, 'BEGIN');
      // EXCLUSIVE: plain reads continue, every write to these tables waits until the purge commits.
      if (tables.length > 0) await query(client, this.location, `LOCK TABLE ${tables.map((t) => this.qualified(t)).join(', ')} IN EXCLUSIVE MODE`);
      const out = await work(new PgTransaction(client, this.schema, this.location));
      await query(client, this.location, 'COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** A purge changes no setting of this engine. */
  settingsBefore(): Readonly<Record<string, string>> {
    return {};
  }

  async scrub(tables: readonly string[]): Promise<ScrubReport> {
    const steps = ['DELETE in one transaction holding EXCLUSIVE locks on the mapped tables'];
    for (const t of tables) await this.q(`VACUUM (FULL, ANALYZE) ${this.qualified(t)}`);
    steps.push(`VACUUM (FULL, ANALYZE) of ${tables.join(', ')}: each table and its indexes and TOAST data are rewritten into new files without the deleted rows, and the old files are removed`);
    try {
      await this.client.query('CHECKPOINT');
      steps.push('CHECKPOINT: WAL segments written before it can be recycled');
    } catch (cause) {
      steps.push(`CHECKPOINT refused (${cause instanceof Error ? cause.message : 'error'}): old WAL is recycled at the next scheduled checkpoint`);
    }
    const settings: Record<string, string> = {};
    for (const name of ['server_version', 'wal_level', 'full_page_writes', 'archive_mode', 'wal_keep_size', 'max_wal_senders']) {
      const r = await this.q('SELECT current_setting($1, true) AS v', [name]);
      const v = r[0]?.['v'];
      settings[name] = typeof v === 'string' ? v : 'unknown';
    }
    return {
      engine: `PostgreSQL ${settings['server_version'] ?? ''}`.trim(),
      steps,
      settings,
      limits: [
        'WAL segments may hold full-page images of pages that held the deleted rows until they are recycled; archived WAL (archive_mode on) and base backups keep them for as long as they are kept',
        'streaming replicas and logical subscribers apply the same deletes, but their own WAL and backups are outside this purge',
        'the files VACUUM FULL replaced are unlinked, not overwritten: the file system may keep their blocks',
      ],
    };
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
