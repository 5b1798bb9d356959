// The PostgreSQL and MariaDB servers of the test machine as legacy sources: each test file gets a fresh
// schema (PostgreSQL) or database (MariaDB) of its own and drops it afterwards. Without a server the
// cases are skipped with the reason printed, unless CI requires it (ENCLAVE_REQUIRE_POSTGRES=1,
// ENCLAVE_REQUIRE_MARIADB=1), as test/helpers/postgres.ts does for the PostgreSQL store.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { postgresSkip, TEST_POSTGRES_URL } from './postgres.ts';

export const PG_URL = TEST_POSTGRES_URL;
export const MYSQL_URL = process.env['ENCLAVE_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test';

/** `false` when PostgreSQL answers, else the reason to skip. */
export const pgSkip = postgresSkip;

let mysqlProbe: Promise<string | false> | undefined;

/** `false` when MariaDB answers, else the reason to skip (printed once). Throws when CI requires it. */
export async function mysqlSkip(): Promise<string | false> {
  mysqlProbe ??= (async () => {
    try {
      const c = await mysql.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 });
      await c.end();
      return false;
    } catch (err) {
      const reason = `MariaDB not reachable at ${new URL(MYSQL_URL).host} (${(err as { code?: string }).code ?? String(err)})`;
      if (process.env['ENCLAVE_REQUIRE_MARIADB'] === '1') throw new Error(`${reason}, and ENCLAVE_REQUIRE_MARIADB=1 requires it`);
      console.log(`# skip: ${reason}; its cases are skipped`);
      return reason;
    }
  })();
  return mysqlProbe;
}

const suffix = () => randomBytes(5).toString('hex');

export interface PgSchema {
  readonly schema: string;
  readonly client: pg.Client;
  drop(): Promise<void>;
}

export async function freshPgSchema(prefix: string): Promise<PgSchema> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const schema = `${prefix}_${suffix()}`;
  await client.query(`CREATE SCHEMA "${schema}"`);
  await client.query(`SET search_path TO "${schema}"`);
  return {
    schema,
    client,
    async drop() {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

export interface MysqlDatabase {
  readonly database: string;
  readonly url: string;
  readonly conn: mysql.Connection;
  drop(): Promise<void>;
}

export async function freshMysqlDatabase(prefix: string): Promise<MysqlDatabase> {
  const database = `${prefix}_${suffix()}`;
  const admin = await mysql.createConnection({ uri: MYSQL_URL, multipleStatements: true });
  await admin.query(`CREATE DATABASE \`${database}\``);
  await admin.query(`USE \`${database}\``);
  const url = new URL(MYSQL_URL);
  url.pathname = `/${database}`;
  return {
    database,
    url: url.toString(),
    conn: admin,
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await admin.end();
    },
  };
}
