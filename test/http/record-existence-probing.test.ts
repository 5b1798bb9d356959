// A principal refused a record's read or delete cannot tell by asking whether the record exists: a
// missing id gets the same 403 as an existing one, not a 404; and a refused delete never names the
// record's subject (as a 409 subject_moving did, before the decision).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

describe('record existence is not revealed to a principal refused the record', () => {
  let h: HttpFixture;
  // A platform service that states no purpose is refused everything (policy service-purposes).
  const unpurposed = (method: 'GET' | 'DELETE', url: string) => h.app.inject({ method, url, headers: { authorization: `Bearer ${h.tokens.service}` } });
  const outcome = (res: LightMyRequestResponse) => `${res.statusCode} ${errorCode(res) ?? ''}`;
  const errorOf = (res: LightMyRequestResponse) => json<{ error: unknown }>(res).error;

  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'bob', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-profile', data: { user_id: 'ann', username: 'ann', email: 'ann@example.test' } })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id: 'bob-profile', data: { user_id: 'bob', username: 'bob', email: 'bob@example.test' } })).statusCode, 201);
  });
  after(async () => h.close());

  test('a read of a missing id and of an existing one answer alike', async () => {
    const there = await unpurposed('GET', '/v1/collections/users/records/ann-profile');
    const missing = await unpurposed('GET', '/v1/collections/users/records/no-such-record');
    assert.equal(outcome(there), '403 forbidden');
    assert.equal(outcome(missing), '403 forbidden');
    assert.deepEqual(errorOf(missing), errorOf(there));
  });

  test('so does a delete, for the service and for a role that may not delete', async () => {
    const there = await unpurposed('DELETE', '/v1/collections/users/records/ann-profile');
    const missing = await unpurposed('DELETE', '/v1/collections/users/records/no-such-record');
    assert.equal(outcome(there), '403 forbidden');
    assert.deepEqual(errorOf(missing), errorOf(there));
    const regulatorThere = await h.call('regulator', 'DELETE', '/v1/collections/users/records/ann-profile');
    const regulatorMissing = await h.call('regulator', 'DELETE', '/v1/collections/users/records/no-such-record');
    assert.equal(outcome(regulatorThere), '403 forbidden');
    // (The regulator may read the record's public fields, so its existence is no secret to them; the policy
    // that refuses their delete differs with what the record holds.)
    assert.equal(outcome(regulatorMissing), '403 forbidden');
    assert.equal((await h.call('service', 'GET', '/v1/collections/users/records/ann-profile')).statusCode, 200);
  });

  test('a refused delete of a record whose subject is moving is the 403, naming no subject', async () => {
    const site = json<{ site: string }>(await h.call('service', 'GET', '/v1/subjects/bob')).site;
    const store = h.enclave.router.store(site);
    assert.equal(await store.subjects.setMovedTo('bob', { site: 'eu-central', owner: 'review:1:test', startedAt: Date.now() }, null), true);
    try {
      const res = await unpurposed('DELETE', '/v1/collections/users/records/bob-profile');
      assert.equal(outcome(res), '403 forbidden');
      assert.doesNotMatch(res.body, /bob/);
      // A principal who may delete it still learns the move.
      assert.equal(outcome(await h.call('service', 'DELETE', '/v1/collections/users/records/bob-profile')), '409 subject_moving');
    } finally {
      assert.equal(await store.subjects.setMovedTo('bob', null, 'review:1:test'), true);
    }
  });

  test('to a principal who may read it, a missing record is still 404', async () => {
    assert.equal(outcome(await h.call('service', 'GET', '/v1/collections/users/records/no-such-record')), '404 record_not_found');
    assert.equal(outcome(await h.call('service', 'DELETE', '/v1/collections/users/records/no-such-record')), '404 record_not_found');
    assert.equal(outcome(await h.call('parent', 'GET', '/v1/collections/users/records/no-such-record')), '404 record_not_found');
    assert.equal(outcome(await h.call('regulator', 'GET', '/v1/collections/users/records/no-such-record')), '404 record_not_found');
  });
});
