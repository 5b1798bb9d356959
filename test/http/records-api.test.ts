import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

interface RecordBody {
  id: string;
  version: number;
  subject: string;
  data: Record<string, unknown>;
  withheld: string[];
}

describe('records over HTTP', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'jonas', country: 'de' })).statusCode, 201);
  });
  after(async () => h.close());

  test('create returns 201 with Location and ETag, and the record reads back whole for a service', async () => {
    const res = await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-profile', data: { user_id: 'ann', username: 'ann', email: 'ann@example.test' } });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers.location, '/v1/collections/users/records/ann-profile');
    // The version and the incarnation (its creation time, base 36): RFC 9110 §8.8.1.
    assert.match(String(res.headers.etag), /^"1\.[0-9a-z]+"$/);
    const got = await h.call('service', 'GET', '/v1/collections/users/records/ann-profile');
    assert.equal(got.statusCode, 200);
    assert.deepEqual(json<RecordBody>(got).data, { user_id: 'ann', username: 'ann', email: 'ann@example.test' });
    assert.equal(got.headers['cache-control'], 'no-store');
  });

  test('one token\'s requests are each decided for the purpose they state, whatever the one before stated', async () => {
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-purposes', data: { user_id: 'ann', username: 'ann', email: 'ann-p@example.test' } })).statusCode, 201);
    const read = (purpose: string | undefined) =>
      h.app.inject({ method: 'GET', url: '/v1/collections/users/records/ann-purposes', headers: { authorization: `Bearer ${h.tokens.service}`, ...(purpose === undefined ? {} : { 'enclave-purpose': purpose }) } });
    const outcome = async (purpose: string | undefined) => {
      const res = await read(purpose);
      return res.statusCode === 200 ? `200 ${JSON.stringify(json<RecordBody>(res).data['email'] ?? 'withheld')}` : `${res.statusCode} ${errorCode(res)}`;
    };
    const first = [await outcome('account'), await outcome('support'), await outcome(undefined)];
    // The same requests again, in another order: each answer is its own purpose's.
    const again = [await outcome(undefined), await outcome('support'), await outcome('account')];
    // Support is not a purpose this service acts for, and a service must state one.
    assert.deepEqual(first, ['200 "ann-p@example.test"', '403 forbidden', '403 forbidden']);
    assert.deepEqual(again, [first[2], first[1], first[0]]);
  });

  test('a body with a __proto__ key is refused as such, not only called invalid JSON, and nothing is written', async () => {
    const payload = '{"id":"ann-proto","data":{"user_id":"ann","username":"ann","email":"p@example.test","__proto__":{"admin":true}}}';
    const res = await h.app.inject({ method: 'POST', url: '/v1/collections/users/records', headers: { authorization: `Bearer ${h.tokens.service}`, 'enclave-purpose': 'account', 'content-type': 'application/json' }, payload });
    assert.equal(res.statusCode, 400);
    assert.equal(errorCode(res), 'invalid_json');
    assert.match(json<{ error: { message: string } }>(res).error.message, /__proto__/);
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/collections/users/records/ann-proto')), 'record_not_found');
  });

  test('a record without an id gets a generated one', async () => {
    const res = await h.call('service', 'POST', '/v1/collections/videos/records', {
      data: { owner_id: 'ann', title: 'cats', views: 3, published_at: '2026-01-01T00:00:00Z' },
    });
    assert.equal(res.statusCode, 201);
    assert.match(json<RecordBody>(res).id, /^[0-9a-f-]{36}$/);
  });

  test('the parent company gets public fields and the list of withheld protected fields, not an error', async () => {
    const res = await h.call('parent', 'GET', '/v1/collections/users/records/ann-profile');
    assert.equal(res.statusCode, 200);
    const body = json<RecordBody>(res);
    assert.deepEqual(body.data, { user_id: 'ann', username: 'ann' });
    assert.deepEqual(body.withheld, ['email', 'phone', 'birthdate']);
    assert.ok(!res.body.includes('ann@example.test'));
  });

  test('replace bumps the version; a stale If-Match is refused with 412 and changes nothing', async () => {
    const read = await h.call('service', 'GET', '/v1/collections/users/records/ann-profile');
    const v1 = String(read.headers.etag);
    const put = await h.call('service', 'PUT', '/v1/collections/users/records/ann-profile', { data: { user_id: 'ann', username: 'ann2', email: 'new@example.test' } }, { 'if-match': v1 });
    assert.equal(put.statusCode, 200);
    assert.equal(put.headers.etag, v1.replace(/^"1\./, '"2.'), 'the next version of the same incarnation');
    const stale = await h.call('service', 'PUT', '/v1/collections/users/records/ann-profile', { data: { user_id: 'ann', username: 'x', email: 'x@example.test' } }, { 'if-match': v1 });
    assert.equal(stale.statusCode, 412);
    assert.equal(errorCode(stale), 'version_conflict');
    const now = json<RecordBody>(await h.call('service', 'GET', '/v1/collections/users/records/ann-profile'));
    assert.equal(now.version, 2);
    assert.equal(now.data['username'], 'ann2');
  });

  test('a record cannot be moved to another subject by replacing it', async () => {
    const res = await h.call('service', 'PUT', '/v1/collections/users/records/ann-profile', { data: { user_id: 'jonas', username: 'j', email: 'j@example.test' } });
    assert.equal(res.statusCode, 422);
    assert.equal(errorCode(res), 'subject_mismatch');
  });

  test('duplicate ids conflict; unknown ids are 404; deletion is honoured', async () => {
    const dup = await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-profile', data: { user_id: 'ann', username: 'a', email: 'a@example.test' } });
    assert.equal(dup.statusCode, 409);
    assert.equal(errorCode(dup), 'record_exists');
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/collections/users/records/nope')), 'record_not_found');
    const mk = await h.call('service', 'POST', '/v1/collections/comments/records', { id: 'c1', data: { author_id: 'ann', video_id: 'v', text: 'hi', posted_at: '2026-01-01T00:00:00Z' } });
    assert.equal(mk.statusCode, 201);
    assert.equal((await h.call('service', 'DELETE', '/v1/collections/comments/records/c1', undefined, { 'if-match': String(mk.headers.etag).replace(/^"1\./, '"9.') })).statusCode, 412);
    assert.equal((await h.call('service', 'DELETE', '/v1/collections/comments/records/c1')).statusCode, 204);
    assert.equal((await h.call('service', 'GET', '/v1/collections/comments/records/c1')).statusCode, 404);
  });

  test('one id POSTed at once for subjects of two home sites is stored once: the other request is 409 record_exists', async () => {
    const post = (subject: string) => h.call('service', 'POST', '/v1/collections/users/records', { id: 'twice-at-once', data: { user_id: subject, username: subject, email: `${subject}-t@example.test` } });
    const [ann, jonas] = await Promise.all([post('ann'), post('jonas')]);
    assert.deepEqual([ann.statusCode, jonas.statusCode].sort(), [201, 409]);
    const [won, lost] = ann.statusCode === 201 ? ['ann', jonas] : ['jonas', ann];
    assert.equal(errorCode(lost), 'record_exists');
    // The id names one record: it reads as the winner's, and once deleted it is gone.
    assert.equal(json<RecordBody>(await h.call('service', 'GET', '/v1/collections/users/records/twice-at-once')).subject, won);
    assert.equal((await h.call('service', 'DELETE', '/v1/collections/users/records/twice-at-once')).statusCode, 204);
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/collections/users/records/twice-at-once')), 'record_not_found');
  });

  test('a subject\'s records are listed page by page with a cursor', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await h.call('service', 'POST', '/v1/collections/messages/records', {
        id: `jm-${i}`,
        data: { sender_id: 'jonas', recipient_id: 'ann', body: `hallo ${i}`, sent_at: '2026-02-01T10:00:00Z' },
      });
      assert.equal(r.statusCode, 201);
    }
    const seen: string[] = [];
    let url = '/v1/subjects/jonas/records?collection=messages&limit=2';
    for (let guard = 0; guard < 10; guard++) {
      const page = json<{ records: RecordBody[]; next: string | null }>(await h.call('service', 'GET', url));
      seen.push(...page.records.map((r) => r.id));
      if (page.next === null) break;
      url = `/v1/subjects/jonas/records?collection=messages&limit=2&cursor=${page.next}`;
    }
    assert.deepEqual(seen, ['jm-0', 'jm-1', 'jm-2', 'jm-3', 'jm-4']);
    const parentView = json<{ records: RecordBody[] }>(await h.call('parent', 'GET', '/v1/subjects/jonas/records?collection=messages'));
    assert.ok(parentView.records.every((r) => !('body' in r.data) && r.withheld.includes('body')));
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/subjects/jonas/records?cursor=garbage')), 'invalid_request');
  });

  test('erasure answers 410 for the subject afterwards, for every principal', async () => {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'eve', country: 'FR' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'eve-p', data: { user_id: 'eve', username: 'eve', email: 'eve@example.test' } })).statusCode, 201);
    assert.equal(errorCode(await h.call('service', 'DELETE', '/v1/subjects/eve')), 'forbidden', 'a platform service may not erase');
    const erased = await h.call('officer', 'DELETE', '/v1/subjects/eve');
    assert.equal(erased.statusCode, 200);
    assert.equal(json<{ records: number }>(erased).records, 1);
    for (const role of ['service', 'officer', 'parent'] as const) {
      const r = await h.call(role, 'GET', '/v1/collections/users/records/eve-p');
      assert.equal(r.statusCode, 410, role);
      assert.equal(errorCode(r), 'subject_erased');
    }
    assert.equal((await h.call('officer', 'GET', '/v1/subjects/eve/records')).statusCode, 410);
    assert.equal((await h.call('officer', 'DELETE', '/v1/subjects/eve')).statusCode, 410);
  });

  test('re-homing is explicit and moves the subject to the new jurisdiction\'s home site', async () => {
    const res = await h.call('officer', 'POST', '/v1/subjects/ann/rehome', { country: 'IE' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(json(res)['to'], { jurisdiction: 'eu', site: 'eu-central' });
    const s = json(await h.call('service', 'GET', '/v1/subjects/ann'));
    assert.equal(s['site'], 'eu-central');
    assert.equal(json<RecordBody>(await h.call('service', 'GET', '/v1/collections/users/records/ann-profile')).data['email'], 'new@example.test');
    assert.equal(errorCode(await h.call('officer', 'POST', '/v1/subjects/ann/rehome', { country: 'JP' })), 'no_jurisdiction');
  });

  test('whoami and collections describe the caller and the classification', async () => {
    assert.deepEqual(json(await h.call('parent', 'GET', '/v1/whoami')), { principal: 'parent-1', org: 'parent', org_kind: 'parent', role: 'engineer', token: h.principals.parent.tokenId });
    const cols = json<{ collections: { name: string; protected: string[] }[] }>(await h.call('parent', 'GET', '/v1/collections'));
    assert.deepEqual(cols.collections.find((c) => c.name === 'users')?.protected, ['email', 'phone', 'birthdate']);
  });
});

describe('authentication', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
  });
  after(async () => h.close());

  test('missing, malformed, unknown and revoked tokens get 401 with WWW-Authenticate', async () => {
    const url = '/v1/whoami';
    const cases: Record<string, string>[] = [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer nope' }, { authorization: `Bearer enc_${'A'.repeat(43)}` }];
    for (const headers of cases) {
      const r = await h.app.inject({ method: 'GET', url, headers });
      assert.equal(r.statusCode, 401, JSON.stringify(headers));
      assert.equal(errorCode(r), 'unauthenticated');
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
    }
    assert.equal((await h.call('regulator', 'GET', url)).statusCode, 200);
    assert.equal((await h.call('regulator', 'POST', `/v1/tokens/${h.principals.regulator.tokenId}/revoke`)).statusCode, 200);
    assert.equal((await h.call('regulator', 'GET', url)).statusCode, 401);
  });

  test('an expired token is refused', async () => {
    const t = await h.enclave.tokens.issue({ principal: 'temp', org: 'platform', role: 'service', ttlSeconds: 1 }, Date.now() - 2000);
    const r = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: { authorization: `Bearer ${t.secret}` } });
    assert.equal(r.statusCode, 401);
  });

  test('seal-status, unseal, healthz, metrics and openapi.json need no token', async () => {
    for (const url of ['/v1/sys/seal-status', '/healthz', '/metrics', '/openapi.json']) {
      assert.equal((await h.app.inject({ method: 'GET', url })).statusCode, 200, url);
    }
  });
});

describe('sealing over HTTP', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture({ sealed: true });
  });
  after(async () => h.close());

  test('a sealed enclave serves no protected data and unseals with k distinct shares', async () => {
    // Registering needs a data key, so it fails closed while sealed.
    const reg = await h.call('service', 'POST', '/v1/subjects', { id: 'zoe', country: 'US' });
    assert.equal(reg.statusCode, 503);
    assert.equal(errorCode(reg), 'sealed');
    assert.equal(json(await h.app.inject({ method: 'GET', url: '/healthz' }))['sealed'], true);

    const [a, b] = h.shares;
    assert.ok(a && b);
    const wrong = await h.app.inject({ method: 'POST', url: '/v1/sys/unseal', payload: { share: `enclave-share-v1-${'A'.repeat(44)}` } });
    assert.equal(wrong.statusCode, 400);
    assert.equal(errorCode(wrong), 'invalid_share');
    const first = await h.app.inject({ method: 'POST', url: '/v1/sys/unseal', payload: { share: a } });
    assert.deepEqual({ sealed: json(first)['sealed'], progress: json(first)['progress'] }, { sealed: true, progress: 1 });
    const dup = await h.app.inject({ method: 'POST', url: '/v1/sys/unseal', payload: { share: a } });
    assert.equal(dup.statusCode, 409);
    assert.equal(errorCode(dup), 'duplicate_share');
    const second = await h.app.inject({ method: 'POST', url: '/v1/sys/unseal', payload: { share: b } });
    assert.equal(json(second)['sealed'], false);
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'zoe', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'zoe-p', data: { user_id: 'zoe', username: 'zoe', email: 'zoe@example.test' } })).statusCode, 201);

    // Only a principal allowed enclave.seal may seal; the parent may not.
    assert.equal(errorCode(await h.call('parent', 'POST', '/v1/sys/seal')), 'forbidden');
    assert.equal(json(await h.call('officer', 'POST', '/v1/sys/seal'))['sealed'], true);
    const protectedRead = await h.call('service', 'GET', '/v1/collections/users/records/zoe-p');
    assert.equal(protectedRead.statusCode, 503);
    assert.ok(!protectedRead.body.includes('zoe@example.test'));
    // Public fields need no key: the global app keeps working while sealed.
    const publicRead = await h.call('parent', 'GET', '/v1/collections/users/records/zoe-p');
    assert.equal(publicRead.statusCode, 200);
    assert.deepEqual(json<RecordBody>(publicRead).data, { user_id: 'zoe', username: 'zoe' });
  });
});
