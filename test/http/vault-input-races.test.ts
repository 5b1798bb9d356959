// Over HTTP: a body naming a member twice is refused (never read as whichever copy the parser kept), and
// two registrations of one subject at once leave the subject at one home site.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

describe('the vault\'s HTTP surface', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
    for (const id of ['ann', 'bob']) assert.equal((await h.call('service', 'POST', '/v1/subjects', { id, country: 'US' })).statusCode, 201);
  });
  after(async () => h.close());

  const post = (url: string, payload: string) =>
    h.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${h.tokens.service}`, 'enclave-purpose': 'account', 'content-type': 'application/json' }, payload });

  test('a record naming its subject twice is refused with invalid_json, and nothing is written', async () => {
    for (const payload of [
      '{"id":"dup-1","data":{"user_id":"bob","username":"a","email":"e@x.test","user_id":"ann"}}',
      // The same name written with an escape is the same name.
      '{"id":"dup-1","data":{"user_id":"bob","username":"a","email":"e@x.test","user\\u005fid":"ann"}}',
      '{"id":"dup-1","id":"dup-2","data":{"user_id":"bob","username":"a","email":"e@x.test"}}',
    ]) {
      const res = await post('/v1/collections/users/records', payload);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(errorCode(res), 'invalid_json');
      assert.ok(!res.body.includes('e@x.test'));
    }
    for (const id of ['dup-1', 'dup-2']) assert.equal(errorCode(await h.call('service', 'GET', `/v1/collections/users/records/${id}`)), 'record_not_found');
  });

  test('names repeated in different objects, and a name repeated as a value, are fine', async () => {
    const res = await post('/v1/collections/users/records', '{"id":"dup-ok","data":{"user_id":"ann","username":"user_id","email":"id@x.test"}}');
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(json<{ subject: string }>(res).subject, 'ann');
  });

  test('a body whose bytes are not UTF-8 is refused (invalid_json), never stored with U+FFFD in their place', async () => {
    const latin1 = Buffer.concat([Buffer.from('{"id":"latin-1","data":{"user_id":"ann","username":"M'), Buffer.from([0xfc]), Buffer.from('ller","email":"m@x.test"}}')]);
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/collections/users/records',
      headers: { authorization: `Bearer ${h.tokens.service}`, 'enclave-purpose': 'account', 'content-type': 'application/json' },
      payload: latin1,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(errorCode(res), 'invalid_json');
    assert.equal(errorCode(await h.call('service', 'GET', '/v1/collections/users/records/latin-1')), 'record_not_found');
    // Real UTF-8, a byte order mark included, is fine.
    const ok = await post('/v1/collections/users/records', '\ufeff{"id":"utf-8","data":{"user_id":"ann","username":"Müller","email":"m@x.test"}}');
    assert.equal(ok.statusCode, 201, ok.body);
  });

  test('a body that is not JSON, or empty, keeps its own codes', async () => {
    assert.equal(errorCode(await post('/v1/collections/users/records', '{"data":')), 'invalid_json');
    assert.equal(errorCode(await post('/v1/collections/users/records', '')), 'invalid_json');
    const proto = await post('/v1/collections/users/records', '{"data":{"user_id":"ann","__proto__":{"x":1}}}');
    assert.equal(proto.statusCode, 400);
    assert.equal(errorCode(proto), 'invalid_json');
  });

  test('two registrations of one subject at once: one 201, one 409, and the subject at one site', async () => {
    const [a, b] = await Promise.all([
      h.call('service', 'POST', '/v1/subjects', { id: 'twin', country: 'US' }),
      h.call('service', 'POST', '/v1/subjects', { id: 'twin', country: 'DE' }),
    ]);
    assert.deepEqual([a.statusCode, b.statusCode].sort(), [201, 409]);
    assert.equal(errorCode(a.statusCode === 409 ? a : b), 'subject_exists');
    const at = [];
    for (const site of h.enclave.router.homeSites) if (await h.enclave.router.store(site).subjects.get('twin')) at.push(site);
    assert.equal(at.length, 1, `registered at ${at.join(', ')}`);
  });
});
