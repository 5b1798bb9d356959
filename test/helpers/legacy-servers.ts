// The PostgreSQL and MariaDB servers of the test machine as legacy sources: each test file gets a fresh
// schema (PostgreSQL) or database (MariaDB) of its own and drops it afterwards.
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';

export const PG_URL = process.env['ENCLAVE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env['ENCLAVE_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/test';

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
