// PostgreSQL for tests: the server .ci/run starts (127.0.0.1:5432, trust auth, database `test`), or the
// one ENCLAVE_TEST_POSTGRES_URL names (without a schema parameter). Every test file works in schemas of
// its own, made fresh and dropped afterwards, so files running at once never meet. Without a server the
// PostgreSQL cases are skipped with the reason printed; ENCLAVE_REQUIRE_POSTGRES=1 (CI) fails instead.
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import { describeLocation, parsePostgresUrl } from '../../src/storage/postgres/postgres-url.ts';

export const TEST_POSTGRES_URL = process.env['ENCLAVE_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const location = parsePostgresUrl(TEST_POSTGRES_URL);
/** host:port/database, for messages. */
export const TEST_POSTGRES_WHERE = describeLocation(location).replace(/^PostgreSQL /, '').replace(/ \(schema [^)]*\)$/, '');

function client(url = TEST_POSTGRES_URL): pg.Client {
  return new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
}

let probed: Promise<string | false> | undefined;

/** `false` when the server answers, else the reason to skip (printed once). Throws when CI requires it. */
export async function postgresSkip(): Promise<string | false> {
  probed ??= (async () => {
    const c = client();
    try {
      await c.connect();
      await c.query('SELECT 1');
      return false;
    } catch (err) {
      const why = err instanceof Error ? ((err as { code?: string }).code ?? err.message) : String(err);
      const reason = `PostgreSQL not reachable at ${TEST_POSTGRES_WHERE} (${why})`;
      if (process.env['ENCLAVE_REQUIRE_POSTGRES'] === '1') throw new Error(`${reason}, and ENCLAVE_REQUIRE_POSTGRES=1 requires it`);
      console.log(`# skip: ${reason}; its cases are skipped`);
      return reason;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return probed;
}

/** A schema name no other test (or test run) uses. */
export function freshSchema(label: string): string {
  return `enclave_test_${label}_${randomBytes(5).toString('hex')}`;
}

/** Called inside a describe: makes fresh schemas (by label), every one dropped after that suite. */
export function schemaMaker(): (label: string) => string {
  const made: string[] = [];
  after(() => dropSchemas(...made));
  return (label) => {
    const s = freshSchema(label);
    made.push(s);
    return s;
  };
}

/** The test server's URL with these parameters (schema first). */
export function pgUrl(schema: string, params: Record<string, string> = {}): string {
  const u = new URL(TEST_POSTGRES_URL);
  u.searchParams.set('schema', schema);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Runs `fn` on a connection of its own, outside any store (to inspect or tamper with tables). */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>, url?: string): Promise<T> {
  const c = client(url);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function dropSchemas(...schemas: readonly string[]): Promise<void> {
  if ((await postgresSkip()) !== false) return;
  await admin(async (c) => {
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`);
  });
}

/** The tables of a schema (and its indexes), sorted; empty if the schema does not exist. */
export async function relationsIn(schema: string): Promise<string[]> {
  return admin(async (c) => {
    const r = await c.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'i') ORDER BY c.relname`,
      [schema],
    );
    return r.rows.map((x) => x.relname);
  });
}

export async function schemaExists(schema: string): Promise<boolean> {
  return admin(async (c) => (await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1);
}

/** Schemas for an enclave whose every store is in PostgreSQL: control, both home sites and the log. */
export interface EnclaveSchemas {
  readonly control: string;
  readonly us: string;
  readonly eu: string;
  readonly log: string;
}

/** The starter configuration with every store in PostgreSQL, one schema each (`params`: extra URL parameters). */
export function postgresConfig(starter: string, schemas: EnclaveSchemas, params: Record<string, string> = {}): string {
  const url = (schema: string) => JSON.stringify(pgUrl(schema, params));
  return starter
    .replace('storage: sqlite:control.db', `storage: ${url(schemas.control)}`)
    .replace('storage: sqlite:sites/trusted-us.db', `storage: ${url(schemas.us)}`)
    .replace('storage: sqlite:sites/eu-central.db', `storage: ${url(schemas.eu)}`)
    .replace('storage: sqlite:log.db', `storage: ${url(schemas.log)}`);
}
