// Fail closed (issue 4, point 2; invariant 4): when the transparency log cannot durably accept an entry,
// nothing protected leaves and nothing changes. The log store is broken on purpose (its appends fail,
// then it is closed outright); every data path answers 503 log_unavailable without a protected byte —
// public-only reads too (docs/transparency-log.md, "Fail closed") — and works again once the log does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isEnclaveError } from '../../src/core/errors.ts';
import { BreakableLog } from '../helpers/breakable-log.ts';
import { errorCode, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const SECRET = 'fail-closed-secret@example.test';
const log = new BreakableLog();
let h: HttpFixture;

async function counts(): Promise<string> {
  const parts: string[] = [];
  for (const [id, s] of h.enclave.sites) parts.push(`${id}:${await s.subjects.count()}/${await s.records.count()}`);
  return parts.join(' ');
}

before(async () => {
  h = await makeHttpFixture({ open: { logStoreFactory: log.factory } });
  assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: SECRET } })).statusCode, 201);
});
after(async () => {
  log.broken = false;
  await h.close();
});

const requests: [role: 'service' | 'parent' | 'officer', method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown][] = [
  ['service', 'GET', '/v1/collections/users/records/ann-p'],
  ['service', 'GET', '/v1/subjects/ann/records'],
  ['service', 'GET', '/v1/subjects/ann'],
  ['parent', 'GET', '/v1/collections/users/records/ann-p'],
  ['parent', 'GET', '/v1/subjects/ann/records'],
  ['parent', 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'p', email: 'p@example.test' } }],
  ['service', 'POST', '/v1/collections/users/records', { id: 'ann-q', data: { user_id: 'ann', username: 'q', email: 'q@example.test' } }],
  ['service', 'PUT', '/v1/collections/users/records/ann-p', { data: { user_id: 'ann', username: 'changed', email: 'changed@example.test' } }],
  ['service', 'DELETE', '/v1/collections/users/records/ann-p'],
  ['service', 'POST', '/v1/subjects', { id: 'bob', country: 'US' }],
  ['officer', 'POST', '/v1/subjects/ann/rehome', { country: 'DE' }],
  ['officer', 'DELETE', '/v1/subjects/ann'],
  ['officer', 'GET', '/v1/log/search?type=record.created'],
  ['officer', 'POST', '/v1/log/subject-key', { recipient: 'regulator', reason: 'must not leave while unlogged' }],
];

async function assertAllRefused(): Promise<void> {
  const before = await counts();
  for (const [role, method, url, body] of requests) {
    const res = await h.call(role, method, url, body);
    const what = `${role} ${method} ${url}`;
    assert.equal(res.statusCode, 503, `${what} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
    assert.equal(errorCode(res), 'log_unavailable', what);
    assert.ok(!res.body.includes(SECRET) && !res.body.includes('ann-p') && !/"data"/.test(res.body), `${what} revealed data: ${res.body}`);
  }
  assert.equal(await counts(), before, 'nothing was written');
  // Nothing changed: the subject is still at home, unerased, with their record intact.
  log.broken = false;
  try {
    const res = await h.call('service', 'GET', '/v1/collections/users/records/ann-p');
    assert.equal(res.statusCode, 200);
    assert.ok(res.body.includes(SECRET));
    assert.equal((await h.call('service', 'GET', '/v1/subjects/ann')).body.includes('"site":"trusted-us"'), true);
  } finally {
    log.broken = true;
  }
}

void describe('with a failing log store', () => {
  void it('every read (protected or public-only), write, registration, erasure, re-home, search and key disclosure answers 503 and reveals and changes nothing', async () => {
    log.broken = true;
    try {
      await assertAllRefused();
    } finally {
      log.broken = false;
    }
    const ok = await h.call('service', 'GET', '/v1/collections/users/records/ann-p');
    assert.equal(ok.statusCode, 200, 'the API works again as soon as the log does');
    assert.ok(ok.headers['enclave-log-index']);
  });

  void it('an unseal that cannot be logged is undone: the enclave stays sealed', async () => {
    h.enclave.seal.seal();
    log.broken = true;
    try {
      const shares = h.shares.slice(0, 2);
      assert.equal((await h.call(null, 'POST', '/v1/sys/unseal', { share: shares[0] })).statusCode, 200);
      const last = await h.call(null, 'POST', '/v1/sys/unseal', { share: shares[1] });
      assert.equal(last.statusCode, 503);
      assert.equal(errorCode(last), 'log_unavailable');
      assert.equal(h.enclave.keyring.sealed, true);
      assert.equal(h.enclave.log.sealed, true);
    } finally {
      log.broken = false;
    }
    for (const share of h.shares.slice(0, 2)) await h.enclave.seal.submit(share);
    assert.equal(h.enclave.keyring.sealed, false);
  });

  void it('a token whose issue cannot be logged is revoked before its secret is shown', async () => {
    log.broken = true;
    let err: unknown;
    try {
      await h.enclave.tokens.issue({ principal: 'late-1', org: 'platform', role: 'service' });
    } catch (e) {
      err = e;
    } finally {
      log.broken = false;
    }
    assert.ok(isEnclaveError(err, 'log_unavailable'));
    const issued = (await h.enclave.control.tokens.list()).filter((t) => t.principal.id === 'late-1');
    assert.equal(issued.length, 1);
    assert.notEqual(issued[0]?.token.revokedAt, null, 'the unlogged token is revoked');
  });

  void it('sealing is never blocked by the log: the keys leave memory, the answer says the entry is missing', async () => {
    log.broken = true;
    try {
      const res = await h.call('officer', 'POST', '/v1/sys/seal');
      assert.equal(res.statusCode, 503);
      assert.equal(errorCode(res), 'log_unavailable');
      assert.equal(h.enclave.keyring.sealed, true);
    } finally {
      log.broken = false;
    }
    for (const share of h.shares.slice(0, 2)) await h.enclave.seal.submit(share);
  });
});

void describe('with the log store closed', () => {
  void it('every request that needs the log answers 503 log_unavailable and reveals nothing', async () => {
    await h.enclave.log.store.close();
    // A closed store fails on its own: no flag needed.
    for (const [role, method, url, body] of requests.slice(0, 5)) {
      const res = await h.call(role, method, url, body);
      assert.equal(res.statusCode, 503, `${method} ${url}`);
      assert.equal(errorCode(res), 'log_unavailable');
      assert.ok(!res.body.includes(SECRET));
    }
  });
});
