// The whole enclave on PostgreSQL, through the HTTP API: the control store, both home sites and the
// transparency log are schemas of one database. Records are written, read, listed, deleted and erased; residency holds (a
// subject's rows exist in their home site's schema and nowhere else, and re-homing moves them); no
// protected value is at rest in plaintext in any table; the log's checkpoint and tiles, read over HTTP,
// verify, and every receipt the API gave is in them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { verifyLog } from '../../src/services/log-verifier.ts';
import { admin, dropSchemas, freshSchema, postgresConfig, postgresSkip } from '../helpers/postgres.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const skip = await postgresSkip();

interface RecordBody {
  id: string;
  version: number;
  data: Record<string, unknown>;
}

void describe('the enclave on PostgreSQL, end to end', { skip }, () => {
  const schemas = { control: freshSchema('control'), us: freshSchema('site_us'), eu: freshSchema('site_eu'), log: freshSchema('log') };
  let h: HttpFixture;
  const receipts: number[] = [];
  /** A call whose receipts (Enclave-Log-Index) are kept, to find them in the log at the end. */
  const call = async (...args: Parameters<HttpFixture['call']>) => {
    const res = await h.call(...args);
    const header = res.headers['enclave-log-index'];
    if (typeof header === 'string') receipts.push(...header.split(',').map(Number));
    return res;
  };

  /** Every row of every table of a schema, as text (bytea shows as hex). */
  const dump = async (c: pg.Client, schema: string): Promise<string> => {
    const tables = await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1", [schema]);
    let out = '';
    for (const { t } of tables.rows) out += (await c.query<{ r: string }>(`SELECT x::text AS r FROM ${schema}.${t} x`)).rows.map((r) => r.r).join('\n');
    return out;
  };
  const ids = async (schema: string, table: 'subjects' | 'records'): Promise<string[]> =>
    admin(async (c) => (await c.query<{ id: string }>(`SELECT id FROM ${schema}.${table} ORDER BY id`)).rows.map((r) => r.id));

  before(async () => {
    h = await makeHttpFixture({ config: (yaml) => postgresConfig(yaml, schemas) });
  });
  after(async () => {
    await h.close();
    await dropSchemas(...Object.values(schemas));
  });

  test('the control store, both home sites and the log are PostgreSQL stores', () => {
    assert.equal(h.enclave.control.driver, 'postgres');
    assert.equal(h.enclave.log.store.driver, 'postgres');
    assert.deepEqual([...h.enclave.sites.values()].map((s) => s.driver), ['postgres', 'postgres']);
  });

  test('records are written, read, updated, listed and deleted through the API', async () => {
    assert.equal((await call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    const created = await call('service', 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: 'ann@example.test' } });
    assert.equal(created.statusCode, 201, created.body);
    const v1 = String(created.headers.etag);
    assert.equal(json<RecordBody>(await h.call('service', 'GET', '/v1/collections/users/records/ann-p')).data['email'], 'ann@example.test');
    const parent = json<RecordBody & { withheld: string[] }>(await h.call('parent', 'GET', '/v1/collections/users/records/ann-p'));
    assert.equal(parent.data['email'], undefined, 'the parent company never receives a protected value');
    const put = await h.call('service', 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'ann2', email: 'new@example.test' } }, { 'if-match': v1 });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(errorCode(await h.call('service', 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'x', email: 'x@example.test' } }, { 'if-match': v1 })), 'version_conflict');
    for (let i = 0; i < 5; i++) {
      const r = await call('service', 'POST', '/v1/collections/messages/records', { id: `ann-m${i}`, data: { sender_id: 'ann', recipient_id: 'rcpt-7q9z', body: `hello ${i}`, sent_at: '2026-01-01T00:00:00Z' } });
      assert.equal(r.statusCode, 201, r.body);
    }
    const seen: string[] = [];
    let url: string | null = '/v1/subjects/ann/records?limit=2';
    while (url !== null) {
      const page: { records: RecordBody[]; next: string | null } = json(await h.call('service', 'GET', url));
      seen.push(...page.records.map((r) => r.id));
      url = page.next === null ? null : `/v1/subjects/ann/records?limit=2&cursor=${encodeURIComponent(page.next)}`;
    }
    assert.deepEqual(seen, ['ann-m0', 'ann-m1', 'ann-m2', 'ann-m3', 'ann-m4', 'ann-p']);
    const m4 = '/v1/collections/messages/records/ann-m4';
    const old = String((await h.call('service', 'GET', m4)).headers.etag);
    assert.equal((await h.call('service', 'DELETE', m4)).statusCode, 204);
    assert.equal(errorCode(await h.call('service', 'GET', m4)), 'record_not_found');
    // Created again (in a later millisecond): another incarnation, which the old ETag never matches.
    for (const start = Date.now(); Date.now() === start; ) await new Promise((resolve) => setTimeout(resolve, 1));
    const again = await call('service', 'POST', '/v1/collections/messages/records', { id: 'ann-m4', data: { sender_id: 'ann', recipient_id: 'rcpt-7q9z', body: 'hello again', sent_at: '2026-01-01T00:00:00Z' } });
    assert.equal(again.statusCode, 201, again.body);
    assert.notEqual(String(again.headers.etag), old);
    const lost = await call('service', 'PUT', m4, { data: { sender_id: 'ann', recipient_id: 'rcpt-7q9z', body: 'lost', sent_at: '2026-01-01T00:00:00Z' } }, { 'if-match': old });
    assert.equal(lost.statusCode, 412, lost.body);
    assert.equal(errorCode(await call('service', 'DELETE', m4, undefined, { 'if-match': old })), 'version_conflict');
    assert.equal(json<RecordBody>(await h.call('service', 'GET', m4)).data['body'], 'hello again');
    assert.equal((await call('service', 'DELETE', m4, undefined, { 'if-match': String(again.headers.etag) })).statusCode, 204);
    assert.equal(errorCode(await h.call('service', 'GET', m4)), 'record_not_found');
  });

  test('residency: each subject\'s rows exist in their home site\'s schema and nowhere else', async () => {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'jonas', country: 'DE' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'jonas-p', data: { user_id: 'jonas', username: 'jonas', email: 'jonas@example.test' } })).statusCode, 201);
    assert.deepEqual(await ids(schemas.us, 'subjects'), ['ann']);
    assert.deepEqual(await ids(schemas.eu, 'subjects'), ['jonas']);
    assert.deepEqual(await ids(schemas.us, 'records'), ['ann-m0', 'ann-m1', 'ann-m2', 'ann-m3', 'ann-p']);
    assert.deepEqual(await ids(schemas.eu, 'records'), ['jonas-p']);
    assert.deepEqual(await ids(schemas.control, 'subjects'), [], 'the control store holds no subject');
    assert.deepEqual(await ids(schemas.control, 'records'), [], 'the control store holds no record');
  });

  test('no protected value is at rest in plaintext in any table of any schema', async () => {
    const secrets = ['ann@example.test', 'new@example.test', 'jonas@example.test', 'hello 0', 'rcpt-7q9z'];
    const text = await admin(async (c) => {
      let all = '';
      for (const s of Object.values(schemas)) all += `${await dump(c, s)}\n`;
      return all;
    });
    assert.ok(text.includes('ann2'), 'the dump does contain the public fields (the scan reads the data)');
    for (const s of secrets) {
      assert.ok(!text.includes(s), `${s} in plaintext`);
      assert.ok(!text.includes(Buffer.from(s).toString('hex')), `${s} as bytes`);
    }
  });

  test('re-homing moves the subject\'s rows from one site\'s schema to the other\'s', async () => {
    const res = await h.call('officer', 'POST', '/v1/subjects/ann/rehome', { country: 'IE' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(await ids(schemas.us, 'subjects'), []);
    assert.deepEqual(await ids(schemas.us, 'records'), []);
    assert.deepEqual(await ids(schemas.eu, 'subjects'), ['ann', 'jonas']);
    assert.deepEqual(await ids(schemas.eu, 'records'), ['ann-m0', 'ann-m1', 'ann-m2', 'ann-m3', 'ann-p', 'jonas-p']);
    assert.equal(json<RecordBody>(await h.call('service', 'GET', '/v1/collections/users/records/ann-p')).data['email'], 'new@example.test');
  });

  test('erasure: 410 Gone afterwards, the wrapped key destroyed in the schema, the ciphertext kept', async () => {
    assert.equal((await h.call('officer', 'DELETE', '/v1/subjects/jonas')).statusCode, 200);
    assert.equal((await h.call('service', 'GET', '/v1/collections/users/records/jonas-p')).statusCode, 410);
    const [row] = await admin(async (c) =>
      (await c.query<{ key: Buffer | null; sealed: Buffer | null; pub: string }>(
        `SELECT s.wrapped_key AS key, r.sealed, r.public_json AS pub FROM ${schemas.eu}.subjects s JOIN ${schemas.eu}.records r ON r.subject = s.id WHERE s.id = 'jonas'`,
      )).rows,
    );
    assert.ok(row);
    assert.equal(row.key, null);
    assert.ok(row.sealed && row.sealed.length > 0, 'the sealed fields stay, unreadable');
    assert.equal(row.pub, '{}');
  });

  test('the log in PostgreSQL: its checkpoint and tiles verify from outside, and hold every receipt the API gave', async () => {
    assert.ok(receipts.length >= 7, `${receipts.length} receipts`);
    const cp = await h.enclave.log.sync();
    assert.ok(cp);
    assert.equal(h.enclave.log.isSequencer, true, 'the only instance holds the sequencer lease');
    const health = json<{ instance: string; sequencer: boolean; log_sequencer: { instance: string; held: boolean } }>(await h.call(null, 'GET', '/healthz'));
    assert.deepEqual([health.sequencer, health.log_sequencer.instance, health.log_sequencer.held], [true, health.instance, true]);
    const vkey = (await h.call(null, 'GET', '/log/vkey')).body.trim();
    const fetch = async (path: string) => {
      const res = await h.call('regulator', 'GET', `/log/${path}`);
      return res.statusCode === 404 ? undefined : new Uint8Array(res.rawPayload);
    };
    const result = await verifyLog({ fetch, vkey, entries: receipts });
    assert.equal(result.entriesChecked, cp.size);
    assert.deepEqual(result.entries.map((e) => e.index), receipts);
  });
});
