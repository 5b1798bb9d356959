// The benchmark's legacy source: a platform database with one `accounts` row and nine `messages` per
// user (the read benchmark's shape, bench/synthetic.ts), 80 % of the users in the US and 20 % in
// Germany, so every row moves and both home sites are written. Generated deterministically into SQLite
// or PostgreSQL, and the mapping that migrates it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { messageData, userData } from '../synthetic.ts';

export const MESSAGES_PER_USER = 9;

export function usersFor(rows: number): number {
  return Math.max(1, Math.round(rows / (1 + MESSAGES_PER_USER)));
}

const uid = (i: number) => `s${i}`;
const country = (i: number) => (i % 5 === 4 ? 'DE' : 'US');

interface Row {
  readonly table: 'accounts' | 'messages';
  readonly values: readonly (string | number | null)[];
}

/** The rows of user i: their account, then their messages. */
function* rowsOf(i: number, users: number): Generator<Row> {
  const u = userData(i, uid(i));
  yield { table: 'accounts', values: [i + 1, uid(i), u['username'] ?? '', u['email'] ?? '', u['phone'] ?? null, u['birthdate'] ?? null, country(i)] };
  for (let k = 1; k <= MESSAGES_PER_USER; k++) {
    const m = messageData(i, k, uid(i), users);
    yield { table: 'messages', values: [i * MESSAGES_PER_USER + k, i + 1, m['recipient_id'] ?? '', m['body'] ?? '', m['sent_at'] ?? ''] };
  }
}

const DDL = {
  sqlite: [
    'CREATE TABLE accounts (id INTEGER PRIMARY KEY, uid TEXT NOT NULL UNIQUE, handle TEXT NOT NULL, email TEXT NOT NULL, phone TEXT, birthdate TEXT, country TEXT NOT NULL)',
    'CREATE TABLE messages (id INTEGER PRIMARY KEY, sender_account INTEGER NOT NULL, recipient_uid TEXT NOT NULL, body TEXT NOT NULL, sent_at TEXT NOT NULL)',
  ],
  postgres: [
    'CREATE TABLE accounts (id bigint PRIMARY KEY, uid text NOT NULL UNIQUE, handle text NOT NULL, email text NOT NULL, phone text, birthdate text, country text NOT NULL)',
    'CREATE TABLE messages (id bigint PRIMARY KEY, sender_account bigint NOT NULL, recipient_uid text NOT NULL, body text NOT NULL, sent_at text NOT NULL)',
  ],
};

export function writeSqliteSource(path: string, users: number): void {
  rmSync(path, { force: true });
  mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = OFF');
  for (const d of DDL.sqlite) db.exec(d);
  const insert = { accounts: db.prepare('INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?, ?)'), messages: db.prepare('INSERT INTO messages VALUES (?, ?, ?, ?, ?)') };
  db.exec('BEGIN');
  for (let i = 0; i < users; i++) {
    for (const r of rowsOf(i, users)) insert[r.table].run(...r.values);
    if (i % 10_000 === 9_999) db.exec('COMMIT; BEGIN');
  }
  db.exec('COMMIT');
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.exec('PRAGMA journal_mode = DELETE');
  db.close();
}

/** Loads the same rows into a fresh PostgreSQL schema, in multi-row inserts. */
export async function writePostgresSource(url: string, schema: string, users: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`SET search_path TO "${schema}"`);
    for (const d of DDL.postgres) await client.query(d);
    const pending: Record<Row['table'], (string | number | null)[][]> = { accounts: [], messages: [] };
    const flush = async (table: Row['table']) => {
      const rows = pending[table];
      if (rows.length === 0) return;
      const width = rows[0]?.length ?? 0;
      const params = rows.flat();
      const tuples = rows.map((_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`);
      await client.query(`INSERT INTO ${table} VALUES ${tuples.join(', ')}`, params);
      pending[table] = [];
    };
    for (let i = 0; i < users; i++) {
      for (const r of rowsOf(i, users)) {
        pending[r.table].push([...r.values]);
        if (pending[r.table].length >= 1000) await flush(r.table);
      }
    }
    await flush('accounts');
    await flush('messages');
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** Drops the scratch schema a run loaded. */
export async function dropPostgresSource(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export function mappingFor(source: string): string {
  return `version: 1
name: bench
source: ${source}
subjects: { table: accounts, id: uid, key: id, country: country }
tables:
  - table: accounts
    collection: users
    key: [uid]
    fields: { user_id: uid, username: handle, email: email, phone: phone, birthdate: birthdate }
  - table: messages
    collection: messages
    subject: { join: sender_account }
    fields: { recipient_id: recipient_uid, body: body, sent_at: sent_at }
`;
}

export function writeMapping(path: string, source: string): void {
  writeFileSync(path, mappingFor(source));
}
