// One connection pool per store, the only place the PostgreSQL adapter touches the driver: queries
// (always parameterized), named prepared statements for the hot reads, transactions, and the mapping of
// driver failures to `storage_unavailable` with a message that names the server but never the password.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ClientConfig, PoolClient, PoolConfig } from 'pg';
import { EnclaveError } from '../../core/errors.ts';
import type { SqlRow } from '../rows.ts';
import { describeLocation, type PostgresLocation } from './postgres-url.ts';

export type Values = readonly unknown[];

/** What a sub-store needs: the pool itself, or one transaction's connection. */
export interface Sql {
  rows(text: string, values?: Values): Promise<SqlRow[]>;
  /** As `rows`, through a named prepared statement: parsed and planned once per connection. */
  prepared(text: string, values: Values): Promise<SqlRow[]>;
  /** Runs a statement and returns how many rows it affected. */
  run(text: string, values?: Values): Promise<number>;
}

// One name per statement text, the same on every connection (the driver prepares it lazily per connection).
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `enclave_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Rows of values → one array per column, for `INSERT ... SELECT * FROM unnest($1::type[], ...)`: a batch of any size is one statement with one parameter per column. */
export function columnArrays(rows: readonly (readonly unknown[])[]): unknown[][] {
  const width = rows[0]?.length ?? 0;
  return Array.from({ length: width }, (_, i) => rows.map((r) => r[i]));
}

/**
 * The rows sorted by their key's parts (any fixed order does): statements that insert or lock many rows
 * take them in this order on every instance, so two of them never wait on each other in a cycle.
 */
export function inKeyOrder<T>(rows: readonly T[], key: (row: T) => readonly string[]): T[] {
  const compare = (a: readonly string[], b: readonly string[]): number => {
    for (let i = 0; i < a.length; i++) {
      const x = a[i] ?? '';
      const y = b[i] ?? '';
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  };
  return rows
    .map((row) => ({ row, k: key(row) }))
    .sort((a, b) => compare(a.k, b.k))
    .map((x) => x.row);
}

/** A 64-bit advisory lock key for a namespaced name (pg_advisory_xact_lock(bigint)). */
export function advisoryKey(...parts: readonly string[]): string {
  return createHash('sha256').update(['enclave', ...parts].join('\u0000')).digest().readBigInt64BE(0).toString();
}

// SQLSTATE classes that mean "the server is not there for us": 08 connection exception, 28 invalid
// authorization, 3D000 no such database, 53300 too many connections, 57P01-57P03 shutdown/starting;
// or that it gave up on the statement: 57014 cancelled (statement_timeout, pg_cancel_backend), 55P03
// lock_timeout. Either way the statement (and its transaction) changed nothing.
const UNAVAILABLE_SQLSTATE = /^(08|28|3D000$|53300$|57P0[123]$|57014$|55P03$)/;
// The driver's own failures: socket errors (ECONNREFUSED, ENOTFOUND, ETIMEDOUT...) and its messages
// for a connection that dropped, timed out or a pool that was closed.
const UNAVAILABLE_MESSAGE = /connection|terminated|timeout|timed out|not queryable|after calling end/i;

// 40P01 deadlock_detected, 40001 serialization_failure: the server rolled the transaction back.
const RETRYABLE_SQLSTATE = /^40(P01|001)$/;
// 22021 character_not_in_repertoire (a NUL in text), 22P05 untranslatable_character.
const UNSTORABLE_TEXT_SQLSTATE = /^22(021|P05)$/;

function unavailable(err: unknown): boolean {
  if (err instanceof pg.DatabaseError) return UNAVAILABLE_SQLSTATE.test(err.code ?? '');
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return (typeof code === 'string' && /^E[A-Z]+$/.test(code)) || UNAVAILABLE_MESSAGE.test(err.message);
}

// int8 (counts, timestamps, versions) as numbers: every value the store writes is a safe integer.
const types = new pg.TypeOverrides();
types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

/** Server settings fixed for a connection's whole life (startup `options`): name → value, both checked identifiers. */
export type SessionSettings = Readonly<Record<string, string>>;

function clientConfig(l: PostgresLocation, ca: string | undefined, settings: SessionSettings = {}): ClientConfig {
  return {
    host: l.host,
    port: l.port,
    database: l.database,
    ...(l.user === undefined ? {} : { user: l.user }),
    ...(l.password === undefined ? {} : { password: l.password }),
    ssl: l.sslmode === 'disable' ? false : l.sslmode === 'require' ? { rejectUnauthorized: false } : { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) },
    // The schema is fixed for the connection's whole life (a startup parameter), so no statement can
    // ever run against another site's tables. The schema name is a checked identifier: no quoting needed.
    options: [`-c search_path=${l.schema}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' '),
    application_name: l.applicationName,
    connectionTimeoutMillis: l.connectTimeoutMs,
    keepAlive: true,
    types,
  };
}

function poolConfig(l: PostgresLocation, ca: string | undefined, settings: SessionSettings = {}): PoolConfig {
  return { ...clientConfig(l, ca, settings), max: l.poolSize };
}

/** How long closing waits for the server to see a connection end: a lost network never answers. */
const END_WAIT_MS = 2000;

/** `ended`, or after END_WAIT_MS, whichever comes first. */
export function endedWithin(ended: Promise<void>): Promise<void> {
  return Promise.race([ended, new Promise<void>((resolve) => setTimeout(resolve, END_WAIT_MS).unref())]);
}

export class PostgresDb implements Sql {
  readonly location: PostgresLocation;
  /** "PostgreSQL host:port/db (schema s)", for messages. */
  readonly where: string;
  private readonly pool: pg.Pool;
  private readonly ca: string | undefined;
  private readonly settings: SessionSettings;
  private ended = false;
  /** Each pool connection until its socket closes: the pool's end() resolves before they do. */
  private readonly open = new Set<Promise<void>>();

  constructor(location: PostgresLocation, ca: string | undefined, settings: SessionSettings = {}) {
    this.location = location;
    this.where = describeLocation(location);
    this.ca = ca;
    this.settings = settings;
    this.pool = new pg.Pool(poolConfig(location, ca, settings));
    // An idle connection that breaks (server restart, failover, a terminated backend) is dropped by the
    // pool and replaced on the next query; without a listener the event would crash the process.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => {
      const closed = new Promise<void>((resolve) => client.once('end', resolve));
      this.open.add(closed);
      void closed.then(() => this.open.delete(closed));
    });
  }

  /**
   * Turns a driver failure into storage_unavailable; a transaction the server aborted to break a deadlock
   * (or a serialization failure) likewise, since it changed nothing and may simply be tried again; text
   * PostgreSQL cannot store (NUL) into invalid_request. Other SQL errors (constraints, types) pass unchanged.
   */
  fail(err: unknown, doing = 'is unavailable'): unknown {
    if (err instanceof pg.DatabaseError && RETRYABLE_SQLSTATE.test(err.code ?? '')) {
      return new EnclaveError('storage_unavailable', `${this.where}: the server aborted this change to break a ${err.code === '40P01' ? 'deadlock' : 'serialization conflict'} with another instance; nothing of it was kept, try again`, { cause: err });
    }
    if (err instanceof pg.DatabaseError && UNSTORABLE_TEXT_SQLSTATE.test(err.code ?? '')) {
      // SQLite stores such text; PostgreSQL's text type cannot hold U+0000. The value is never repeated.
      return new EnclaveError('invalid_request', 'a text value contains the character U+0000 (NUL), which PostgreSQL cannot store; nothing was stored', { cause: err });
    }
    if (err instanceof EnclaveError || !unavailable(err)) return err;
    let reason = err instanceof Error ? err.message : String(err);
    const secret = this.location.password;
    if (secret !== undefined && secret.length >= 3) reason = reason.split(secret).join('***');
    return new EnclaveError('storage_unavailable', `${this.where} ${doing}: ${reason.slice(0, 200)}`, { cause: err });
  }

  async rows(text: string, values: Values = []): Promise<SqlRow[]> {
    try {
      return (await this.pool.query<SqlRow>(text, [...values])).rows;
    } catch (err) {
      throw this.fail(err);
    }
  }

  prepared(text: string, values: Values): Promise<SqlRow[]> {
    return this.preparedRows<SqlRow>(text, values, {});
  }

  /** As `prepared`, each row an array in the statement's column order (for hot reads mapped by position). */
  preparedArrays(text: string, values: Values): Promise<unknown[][]> {
    return this.preparedRows<unknown[]>(text, values, { rowMode: 'array' });
  }

  private async preparedRows<R extends SqlRow | unknown[]>(text: string, values: Values, mode: { rowMode?: 'array' }): Promise<R[]> {
    try {
      return (await this.pool.query<R>({ name: statementName(text), text, values: [...values], ...mode })).rows;
    } catch (err) {
      throw this.fail(err);
    }
  }

  async run(text: string, values: Values = []): Promise<number> {
    try {
      return (await this.pool.query(text, [...values])).rowCount ?? 0;
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Runs `fn` in one transaction on one connection: committed if it returns, rolled back if it throws. */
  async tx<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.fail(err);
    }
    // A checked-out connection has no listener of the pool's: one that breaks mid-transaction must not
    // crash the process, and must not go back into the pool.
    let broken: unknown;
    const onError = (err: unknown) => {
      broken = err;
    };
    client.on('error', onError);
    const sql: Sql = {
      rows: async (text, values = []) => (await client.query<SqlRow>(text, [...values])).rows,
      prepared: async (text, values) => (await client.query<SqlRow>({ name: statementName(text), text, values: [...values] })).rows,
      run: async (text, values = []) => (await client.query(text, [...values])).rowCount ?? 0,
    };
    try {
      await client.query('BEGIN');
      const out = await fn(sql);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken ??= e;
      });
      throw this.fail(err);
    } finally {
      client.removeListener('error', onError);
      client.release(broken === undefined ? undefined : true);
    }
  }

  /**
   * A connection of its own, outside the pool, configured as the pool's are (for state that lives as
   * long as a session, such as a session-level advisory lock). The caller ends it; a break is reported
   * to `onError` instead of crashing the process.
   */
  async session(onError: (err: unknown) => void, options: { queryTimeoutMs?: number } = {}): Promise<pg.Client> {
    const client = new pg.Client({ ...clientConfig(this.location, this.ca, this.settings), ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs }) });
    client.on('error', onError);
    try {
      await client.connect();
    } catch (err) {
      throw this.fail(err);
    }
    return client;
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.pool.end();
    // pg-pool resolves once it has asked each connection to end. The server lets a backend's socket go
    // only as the backend exits, so waiting for the sockets means the sessions are gone when this resolves.
    await endedWithin(Promise.all(this.open).then(() => undefined));
  }
}
