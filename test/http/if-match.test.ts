// If-Match on record replace and delete, as RFC 9110 §13.1.1 defines it: the strong comparison (a weak
// entity-tag never matches), "*" for "the record exists", and a list of entity-tags of which any may match.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const url = (id: string) => `/v1/collections/users/records/${id}`;
const data = (username: string) => ({ data: { user_id: 'ann', username, email: `${username}@example.test` } });

describe('If-Match on records', () => {
  let h: HttpFixture;
  const put = (id: string, ifMatch: string, username = 'next') => h.call('service', 'PUT', url(id), data(username), { 'if-match': ifMatch });
  const del = (id: string, ifMatch: string) => h.call('service', 'DELETE', url(id), undefined, { 'if-match': ifMatch });
  const version = async (id: string) => {
    const res = await h.call('service', 'GET', url(id));
    return res.statusCode === 200 ? json<{ version: number }>(res).version : res.statusCode;
  };
  const create = async (id: string) => assert.equal((await h.call('service', 'POST', '/v1/collections/users/records', { id, ...data('first') })).statusCode, 201);

  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  });
  after(async () => h.close());

  it('a weak entity-tag never matches (strong comparison): 412 version_conflict and nothing changes', async () => {
    await create('weak');
    const replaced = await put('weak', 'W/"1"');
    assert.equal(replaced.statusCode, 412, replaced.body);
    assert.equal(errorCode(replaced), 'version_conflict');
    const deleted = await del('weak', 'W/"1"');
    assert.equal(deleted.statusCode, 412, deleted.body);
    assert.equal(errorCode(deleted), 'version_conflict');
    assert.equal(await version('weak'), 1);
  });

  it('"*" matches a record that exists: replace and delete go ahead', async () => {
    await create('star');
    const replaced = await put('star', '*');
    assert.equal(replaced.statusCode, 200, replaced.body);
    assert.equal(replaced.headers.etag, '"2"');
    assert.equal((await del('star', '*')).statusCode, 204);
    assert.equal(await version('star'), 404);
  });

  it('"*" on a record that does not exist changes nothing and answers 404, as the same request without it would (RFC 9110 §13.2.1)', async () => {
    for (const res of [await put('never', '*'), await del('never', '*')]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(errorCode(res), 'record_not_found');
    }
    assert.equal(await version('never'), 404);
  });

  it('a list of entity-tags matches when any of them is the current version, and only its strong members count', async () => {
    await create('list');
    const first = await put('list', '"7", "1"');
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.headers.etag, '"2"');
    const second = await put('list', '"3","2" ,"9"');
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(second.headers.etag, '"3"');
    for (const stale of ['"1", "2"', 'W/"3", "8"', 'W/"3"']) {
      const res = await put('list', stale);
      assert.equal(res.statusCode, 412, `${stale}: ${res.body}`);
      assert.equal(errorCode(res), 'version_conflict');
    }
    assert.equal((await del('list', '"1", "3"')).statusCode, 204);
    assert.equal(await version('list'), 404);
  });

  it('an entity-tag this server never issued is a mismatch (412); a field that is not an entity-tag list is 400', async () => {
    await create('opaque');
    const foreign = await put('opaque', '"abc", "x,y"');
    assert.equal(foreign.statusCode, 412, foreign.body);
    assert.equal(errorCode(foreign), 'version_conflict');
    for (const bad of ['"1', '*, "1"', 'W/1', 'abc', '']) {
      const res = await put('opaque', bad);
      assert.equal(res.statusCode, 400, `${JSON.stringify(bad)}: ${res.body}`);
      assert.equal(errorCode(res), 'invalid_request');
    }
    assert.equal(await version('opaque'), 1);
    // The exact tag an ETag gave still matches.
    assert.equal((await put('opaque', '"1"')).statusCode, 200);
  });
});
