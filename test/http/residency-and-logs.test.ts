import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildServer } from '../../src/http/server.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { errorCode, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('residency through the API (invariant 1)', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
  });
  after(async () => h.close());

  test('no request can choose where a record is stored', async () => {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    const data = { user_id: 'ann', username: 'ann', email: 'ann@example.test' };
    const attempts = [
      { url: '/v1/collections/users/records', body: { id: 'r1', site: 'virginia', data } },
      { url: '/v1/collections/users/records', body: { id: 'r2', data: { ...data, site: 'virginia' } } },
      { url: '/v1/collections/users/records?site=virginia', body: { id: 'r3', data } },
      { url: '/v1/subjects', body: { id: 'bob', country: 'US', site: 'singapore' } },
      { url: '/v1/subjects', body: { id: 'bob', country: 'US', jurisdiction: 'eu' } },
    ];
    for (const a of attempts) {
      const res = await h.call('service', 'POST', a.url, a.body, { 'x-enclave-site': 'virginia' });
      // Either refused outright, or accepted with the site header ignored; never stored elsewhere.
      if (res.statusCode === 201) assert.equal(a.url, '/v1/collections/users/records?site=virginia', `accepted ${a.url}`);
      else assert.ok(['invalid_request', 'unknown_field'].includes(errorCode(res) ?? ''), `${a.url}: ${res.body}`);
    }
    const us = h.enclave.sites.get('trusted-us');
    const eu = h.enclave.sites.get('eu-central');
    assert.ok(us && eu);
    assert.ok(await us.records.get('users', 'r3'), 'the accepted record is at the US home site');
    assert.equal(await eu.records.get('users', 'r3'), undefined);
    assert.equal(await us.subjects.get('bob'), undefined);
    // Legacy and other sites are never opened as stores, so nothing of the vault can land there.
    assert.deepEqual([...h.enclave.sites.keys()].sort(), ['eu-central', 'trusted-us']);
    assert.ok(!existsSync(join(h.dataDir, 'legacy')), 'no file was created for a legacy site');
  });

  test('an unmapped country is refused and nothing is written anywhere', async () => {
    const before = filesUnder(h.dataDir).map((f) => `${f}:${statSync(f).size}`);
    const counts = async () => Promise.all([...h.enclave.sites.values()].map(async (s) => s.subjects.count()));
    const n = await counts();
    for (const country of ['BR', 'JP', 'SG', 'CN']) {
      const res = await h.call('service', 'POST', '/v1/subjects', { id: `x-${country}`, country });
      assert.equal(res.statusCode, 422);
      assert.equal(errorCode(res), 'no_jurisdiction');
    }
    assert.deepEqual(await counts(), n);
    assert.deepEqual(filesUnder(h.dataDir).map((f) => f.split('/').pop()).sort(), before.map((f) => f.split(':')[0]?.split('/').pop()).sort());
  });
});

describe('server logs (invariant 3)', () => {
  let f: Fixture;
  const lines: string[] = [];
  before(async () => {
    f = await makeFixture();
  });
  after(async () => f.close());

  test('no protected value and no token reaches the log, even on errors', async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const app = await buildServer(f.enclave, { logger: { level: 'trace', stream } });
    const auth = { authorization: `Bearer ${f.tokens.service}` };
    const canary = 'log-canary-9c1e@example.test';
    await app.inject({ method: 'POST', url: '/v1/subjects', headers: auth, payload: { id: 'ann', country: 'US' } });
    await app.inject({ method: 'POST', url: '/v1/collections/users/records', headers: auth, payload: { id: 'p', data: { user_id: 'ann', username: 'a', email: canary } } });
    await app.inject({ method: 'GET', url: '/v1/collections/users/records/p', headers: auth });
    // Invalid values of protected fields: the error must not echo them.
    await app.inject({ method: 'PUT', url: '/v1/collections/users/records/p', headers: auth, payload: { data: { user_id: 'ann', username: 'a', email: `${canary}${'x'.repeat(400)}` } } });
    await app.inject({ method: 'POST', url: '/v1/collections/users/records', headers: { ...auth, 'content-type': 'application/json' }, payload: `{"data": {"email": "${canary}"` });
    await app.close();
    const log = lines.join('');
    assert.ok(log.includes('"reqId"'), 'the logger captured the requests');
    assert.ok(!log.includes(canary), 'a protected value reached the log');
    assert.ok(!log.includes(f.tokens.service), 'a bearer token reached the log');
  });
});

describe('server logs of a sealed enclave', () => {
  test('a request refused because the enclave is sealed is logged as information, without a stack, and its message names no placeholder', async () => {
    const f = await makeFixture({ sealed: true });
    try {
      const lines: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString('utf8'));
          done();
        },
      });
      const app = await buildServer(f.enclave, { logger: { level: 'info', stream } });
      const res = await app.inject({ method: 'POST', url: '/v1/subjects', headers: { authorization: `Bearer ${f.tokens.service}`, 'enclave-purpose': 'account' }, payload: { id: 'ann', country: 'US' } });
      await app.close();
      assert.equal(res.statusCode, 503);
      const body = res.json<{ error: { code: string; message: string } }>();
      assert.equal(body.error.code, 'sealed');
      assert.doesNotMatch(body.error.message, /\bk\b/);
      const entries = lines.map((l) => JSON.parse(l) as { level: number; code?: string; err?: unknown; msg: string });
      const sealed = entries.filter((e) => e.code === 'sealed');
      assert.equal(sealed.length, 1, lines.join(''));
      assert.equal(sealed[0]?.level, 30);
      assert.equal(sealed[0]?.err, undefined);
      assert.ok(!lines.join('').includes('"stack"'), 'a stack trace reached the log');
    } finally {
      await f.close();
    }
  });
});
