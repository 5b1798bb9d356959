// What a principal who may read public fields only is shown of a record: every protected field of the
// collection is withheld, whether the record stores any protected value or none, and a value stored in
// the clear under a field since classified protected never leaves with the public fields.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { json, makeHttpFixture, restartEdited, type HttpFixture } from '../helpers/http.ts';

interface RecordBody {
  id: string;
  data: Record<string, unknown>;
  withheld: string[];
}

/** A collection whose one protected field is optional, so a record may store no protected value at all. */
const NOTES = ['  notes:', '    subject: user_id', '    fields:', '      user_id: { type: string, class: public, max_length: 64 }', '      title: { type: string, class: public, max_length: 64 }', '      secret: { type: string, class: protected, max_length: 64, required: false }', ''].join('\n');

describe('withheld fields of a record that stores no protected value', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture({ config: (starter) => `${starter}${NOTES}` });
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/notes/records', { id: 'n-plain', data: { user_id: 'ann', title: 'a' } })).statusCode, 201);
    assert.equal((await h.call('service', 'POST', '/v1/collections/notes/records', { id: 'n-secret', data: { user_id: 'ann', title: 'b', secret: 's3cret' } })).statusCode, 201);
  });
  after(async () => h.close());

  test('the parent company is told the same withheld list whether the record holds a protected value or not', async () => {
    const plain = json<RecordBody>(await h.call('parent', 'GET', '/v1/collections/notes/records/n-plain'));
    const secret = json<RecordBody>(await h.call('parent', 'GET', '/v1/collections/notes/records/n-secret'));
    assert.deepEqual(secret.withheld, ['secret']);
    assert.deepEqual(plain.withheld, ['secret']);
    assert.deepEqual(plain.data, { user_id: 'ann', title: 'a' });
    assert.deepEqual(secret.data, { user_id: 'ann', title: 'b' });
  });

  test('so is every record of a list', async () => {
    const page = json<{ records: RecordBody[] }>(await h.call('parent', 'GET', '/v1/subjects/ann/records?collection=notes'));
    assert.deepEqual(
      page.records.map((r) => [r.id, r.withheld]),
      [
        ['n-plain', ['secret']],
        ['n-secret', ['secret']],
      ],
    );
  });

  test('a reader of protected fields has nothing withheld', async () => {
    const plain = json<RecordBody>(await h.call('service', 'GET', '/v1/collections/notes/records/n-plain'));
    assert.deepEqual(plain.withheld, []);
    assert.deepEqual(plain.data, { user_id: 'ann', title: 'a' });
  });
});

describe('a field classified protected after records were written with it', () => {
  let h: HttpFixture;
  const call = (token: string, url: string, purpose?: string) =>
    h.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}`, ...(purpose === undefined ? {} : { 'enclave-purpose': purpose }) } });

  before(async () => {
    const before = await makeHttpFixture({ config: (starter) => `${starter}${NOTES}` });
    assert.equal((await before.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    assert.equal((await before.call('service', 'POST', '/v1/collections/notes/records', { id: 'n1', data: { user_id: 'ann', title: 'diagnosis: flu', secret: 's' } })).statusCode, 201);
    assert.equal((await before.call('service', 'POST', '/v1/collections/notes/records', { id: 'n2', data: { user_id: 'ann', title: 'diagnosis: cold' } })).statusCode, 201);
    // The operator finds that titles say too much: `title` becomes protected, and the enclave restarts.
    h = await restartEdited(before, (yaml) => yaml.replace('title: { type: string, class: public, max_length: 64 }', 'title: { type: string, class: protected, max_length: 64 }'));
  });
  after(async () => h.close());

  test('the parent company never receives its value, in a read or a list', async () => {
    for (const id of ['n1', 'n2']) {
      const res = await call(h.tokens.parent, `/v1/collections/notes/records/${id}`);
      assert.equal(res.statusCode, 200);
      assert.doesNotMatch(res.body, /diagnosis/);
      const body = json<RecordBody>(res);
      assert.deepEqual(body.data, { user_id: 'ann' });
      assert.deepEqual(body.withheld, ['title', 'secret']);
    }
    const list = await call(h.tokens.parent, '/v1/subjects/ann/records?collection=notes');
    assert.equal(list.statusCode, 200);
    assert.doesNotMatch(list.body, /diagnosis/);
  });

  test('a reader of protected fields still reads it', async () => {
    const body = json<RecordBody>(await call(h.tokens.service, '/v1/collections/notes/records/n1', 'account'));
    assert.deepEqual(body.data, { user_id: 'ann', title: 'diagnosis: flu', secret: 's' });
    assert.deepEqual(body.withheld, []);
  });
});
