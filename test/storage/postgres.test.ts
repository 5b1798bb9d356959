// The PostgreSQL adapter against the shared conformance suite, in a schema of this file's own, plus what
// only a server shows: several instances on one database, schemas kept apart, connections that break,
// errors that name the server but never the password, and the VACUUM behind erasure.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type pg from 'pg';
import { EnclaveError } from '../../src/core/errors.ts';
import type { SubjectRow } from '../../src/core/store.ts';
import { UNMARKED } from '../../src/core/store.ts';
import { openStore } from '../../src/storage/open-store.ts';
import { PostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { admin, dropSchemas, freshSchema, pgUrl, postgresSkip, schemaMaker, TEST_POSTGRES_URL } from '../helpers/postgres.ts';
import { storeConformance } from './conformance.ts';

const skip = await postgresSkip();
const shared = freshSchema('conformance');
storeConformance('postgres', () => PostgresStore.open(pgUrl(shared)), () => dropSchemas(shared), { skip });

const subject = (id: string, over: Partial<SubjectRow> = {}): SubjectRow => ({
  id,
  country: 'US',
  jurisdiction: 'us',
  wrappedKey: Buffer.from([7, 0, 7, 0, 255]),
  keyId: 'k1',
  createdAt: 1,
  erasedAt: null,
  ...UNMARKED,
  ...over,
});

/** Asserts a rejection with `code` whose message names every one of `words` and none of `never`. */
async function rejectsWith(p: Promise<unknown>, code: string, words: readonly string[], never: readonly string[] = []): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EnclaveError, `expected an EnclaveError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const w of words) assert.ok(err.message.includes(w), `${JSON.stringify(err.message)} names ${w}`);
    for (const w of never) assert.ok(!JSON.stringify({ m: err.message, d: err.details }).includes(w), `${JSON.stringify(err.message)} must not contain ${w}`);
    return true;
  });
}

void describe('PostgresStore', { skip }, () => {
  const schema = schemaMaker();

  void it('keeps its data across close and reopen; a second instance sees every write at once', async () => {
    const url = pgUrl(schema('reopen'));
    const first = await PostgresStore.open(url);
    const second = await PostgresStore.open(url);
    try {
      await first.subjects.insert(subject('s1'));
      await first.tokens.create({ id: 'p1', org: 'o', role: 'r', createdAt: 1 }, { id: 't1', hash: 'h1', principalId: 'p1', label: '', createdAt: 1, expiresAt: null, revokedAt: null, replaces: null, lineage: 't1' });
      assert.equal((await second.tokens.findByHash('h1'))?.token.revokedAt, null);
      assert.deepEqual(await first.tokens.revoke('t1', 5), ['t1']);
      assert.equal((await second.tokens.findByHash('h1'))?.token.revokedAt, 5, 'a revocation is seen by the other instance at once');
      assert.equal(await first.subjects.erase('s1', 6), 0);
      assert.deepEqual([(await second.subjects.get('s1'))?.wrappedKey, (await second.subjects.get('s1'))?.erasedAt], [null, 6]);
      await first.meta.put('k', 'v');
    } finally {
      await first.close();
      await second.close();
    }
    const again = await PostgresStore.open(url);
    try {
      assert.equal(await again.meta.get('k'), 'v');
      assert.equal((await again.subjects.get('s1'))?.erasedAt, 6);
    } finally {
      await again.close();
    }
  });

  void it('two schemas of one database are two separate stores', async () => {
    const a = await PostgresStore.open(pgUrl(schema('site_a')));
    const b = await PostgresStore.open(pgUrl(schema('site_b')));
    try {
      await a.subjects.insert(subject('only-in-a'));
      await a.records.insert({ collection: 'users', id: 'r1', subject: 'only-in-a', version: 1, publicJson: '{}', sealed: null, createdAt: 1, updatedAt: 1, createdBy: null });
      assert.equal(await b.subjects.get('only-in-a'), undefined);
      assert.equal(await b.records.get('users', 'r1'), undefined);
      assert.deepEqual([await a.records.count(), await b.records.count()], [1, 0]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  void it('openStore selects PostgreSQL for postgres:// and postgresql:// URLs', async () => {
    const s = schema('scheme');
    for (const url of [pgUrl(s), pgUrl(s).replace(/^postgres:/, 'postgresql:')]) {
      const store = await openStore(url, '/nonexistent-data-dir');
      assert.equal(store.driver, 'postgres');
      await store.close();
    }
  });

  void it('an idle connection the server terminates is replaced: the next call works and nothing crashes', async () => {
    const app = `enclave_test_${process.pid}_idle`;
    const store = await PostgresStore.open(pgUrl(schema('idle'), { application_name: app }));
    try {
      await store.subjects.insert(subject('s1'));
      const killed = await admin(async (c) => (await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app])).rowCount);
      assert.ok((killed ?? 0) >= 1, 'the store had a connection to terminate');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await store.subjects.get('s1'))?.id, 's1');
    } finally {
      await store.close();
    }
  });

  void it('a connection lost during a call fails it with storage_unavailable naming the server, and changes nothing', async () => {
    const app = `enclave_test_${process.pid}_lost`;
    const s = schema('lost');
    const store = await PostgresStore.open(pgUrl(s, { application_name: app }));
    try {
      await store.subjects.insert(subject('held'));
      await admin(async (c) => {
        // Hold the subject's row so the erasure waits on it, then cut the store's connection.
        await c.query('BEGIN');
        await c.query(`SELECT 1 FROM ${s}.subjects WHERE id = 'held' FOR UPDATE`);
        // The assertion is attached at once: the erasure may reject before the terminate query returns.
        const erasing = rejectsWith(store.subjects.erase('held', 9), 'storage_unavailable', ['PostgreSQL', '127.0.0.1', `schema ${s}`]);
        for (let i = 0; i < 100; i++) {
          const waiting = await c.query("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [app]);
          if (waiting.rowCount === 1) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [app]);
        await erasing;
        await c.query('ROLLBACK');
      });
      const held = await store.subjects.get('held');
      assert.deepEqual([held?.erasedAt, held?.wrappedKey === null], [null, false], 'the interrupted erasure left nothing half done');
    } finally {
      await store.close();
    }
  });

  void it('erasure vacuums the subjects table, where the wrapped keys live', async () => {
    const s = schema('vacuum');
    const store = await PostgresStore.open(pgUrl(s));
    const lastVacuum = async () =>
      admin(async (c) => (await c.query<{ v: Date | null }>('SELECT last_vacuum AS v FROM pg_stat_all_tables WHERE schemaname = $1 AND relname = $2', [s, 'subjects'])).rows[0]?.v ?? null);
    try {
      await store.subjects.insert(subject('v'));
      assert.equal(await lastVacuum(), null);
      await store.subjects.erase('v', 5);
      assert.ok((await lastVacuum()) instanceof Date, 'VACUUM ran on subjects');
      // Concurrent scrubs share runs and all complete.
      await Promise.all([store.scrub(), store.scrub(), store.scrub()]);
    } finally {
      await store.close();
    }
  });

  void it('listings are in byte order, as on SQLite, even where the database orders text otherwise', async (t) => {
    // A database whose default collation is ICU en-US ("a" < "A" < "b"): only the keys' own COLLATE "C"
    // keeps the order (and so keyset paging) identical to SQLite's.
    const db = freshSchema('icu');
    try {
      await admin(async (c) => c.query(`CREATE DATABASE ${db} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`));
    } catch (err) {
      t.skip(`this server cannot create an ICU database (${err instanceof Error ? err.message : String(err)})`);
      return;
    }
    const u = new URL(TEST_POSTGRES_URL);
    u.pathname = `/${db}`;
    u.searchParams.set('schema', 'site');
    const ids = ['a', 'B', 'A', 'b', '0', '_z'];
    const plain = new URL(u);
    plain.search = '';
    const store = await PostgresStore.open(u.toString());
    try {
      const defaultOrder = await admin(async (c) => (await c.query<{ o: string[] }>('SELECT array_agg(x ORDER BY x) AS o FROM unnest($1::text[]) x', [ids])).rows[0]?.o, plain.toString());
      assert.notDeepEqual(defaultOrder, [...ids].sort(), 'the database itself does not order text by bytes');
      await store.subjects.insert(subject('s'));
      await store.records.insertMany(ids.map((id) => ({ collection: 'users', id, subject: 's', version: 1, publicJson: '{}', sealed: null, createdAt: 1, updatedAt: 1, createdBy: null })));
      const listed = (await store.records.listBySubject('s')).map((r) => r.id);
      assert.deepEqual(listed, [...ids].sort(), 'byte order: digits, upper case, underscore, lower case');
      const paged = [
        ...(await store.records.listBySubject('s', { limit: 3 })),
        ...(await store.records.listBySubject('s', { limit: 3, after: { collection: 'users', id: listed[2] ?? '' } })),
      ].map((r) => r.id);
      assert.deepEqual(paged, listed);
    } finally {
      await store.close();
      await admin(async (c) => c.query(`DROP DATABASE ${db} WITH (FORCE)`));
    }
  });

  void it('close is idempotent', async () => {
    const store = await PostgresStore.open(pgUrl(schema('close')));
    await store.close();
    await store.close();
    await rejectsWith(store.subjects.get('x'), 'storage_unavailable', ['PostgreSQL']);
  });

  void it('when close resolves, none of its connections is left on the server', async () => {
    const app = `close-${randomBytes(6).toString('hex')}`;
    const store = await PostgresStore.open(pgUrl(schema('close_all'), { application_name: app, pool_size: '4' }));
    const sessions = async (c: pg.Client) => (await c.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])).rowCount;
    // Four calls at once fill the pool with four connections.
    await Promise.all(Array.from({ length: 4 }, (_, i) => store.subjects.get(`s${i}`)));
    // Asked on a connection opened beforehand, so the question follows close at once.
    const [before, after] = await admin(async (c) => [await sessions(c), await store.close().then(() => sessions(c))]);
    assert.equal(before, 4);
    assert.equal(after, 0, 'a process that closes its store and exits leaves nothing behind');
  });
});

void describe('opening a PostgreSQL store that cannot be reached', { skip }, () => {
  const password = 'pw-Secret-0420';
  const base = new URL(TEST_POSTGRES_URL);

  void it('a port nobody listens on: storage_unavailable naming host, port and database, never the password', async () => {
    const u = new URL(base);
    u.port = '1';
    u.username = 'enclave';
    u.password = password;
    u.searchParams.set('connect_timeout', '2');
    await rejectsWith(PostgresStore.open(u.toString()), 'storage_unavailable', ['127.0.0.1:1', base.pathname.slice(1)], [password]);
  });

  void it('a database that does not exist: storage_unavailable naming it', async () => {
    const u = new URL(base);
    u.pathname = '/enclave_no_such_database';
    u.password = password;
    await rejectsWith(PostgresStore.open(u.toString()), 'storage_unavailable', ['enclave_no_such_database', 'does not exist'], [password]);
  });

  void it('a malformed URL: invalid_config, never repeating the password', async () => {
    await rejectsWith(openStore(`postgres://u:${password}@127.0.0.1:5432/test?schema=Bad-Name`, '.'), 'invalid_config', ['schema'], [password]);
    await rejectsWith(openStore(`postgres://u:${password}@127.0.0.1:99999/test`, '.'), 'invalid_config', ['not a valid URL'], [password]);
    await rejectsWith(openStore(`mysql://u:${password}@h/db`, '.'), 'invalid_config', ['"mysql"'], [password]);
  });
});
