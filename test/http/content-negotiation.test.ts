// Content codings and media types over HTTP: an entry bundle is gzipped only when the client's
// Accept-Encoding finds gzip acceptable (RFC 9110 §12.5.3: q=0 means "not acceptable"), and a JSON body
// declared in a charset other than UTF-8 is refused as an unsupported media type (RFC 8259 §8.1).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { errorCode, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

let h: HttpFixture;
let bundle: string;

before(async () => {
  h = await makeHttpFixture();
  assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  await h.enclave.log.sync();
  const cp = await h.call('regulator', 'GET', '/log/checkpoint');
  assert.equal(cp.statusCode, 200, cp.body);
  const size = Number(cp.body.split('\n')[1]);
  assert.ok(size > 0 && size < 256);
  bundle = `/log/tile/entries/000.p/${size}`;
});
after(async () => h.close());

describe('Accept-Encoding on entry bundles', () => {
  it('gzip only when gzip is acceptable: never for q=0, whether said of gzip or of "*"', async () => {
    const plain = await h.call('regulator', 'GET', bundle);
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    const cases: [string, boolean][] = [
      ['gzip', true],
      ['GZIP;Q=0.5', true],
      ['x-gzip', true],
      ['*', true],
      ['br, *;q=0.1', true],
      ['gzip;q=1.0, identity; q=0.5, *;q=0', true],
      ['gzip;q=0', false],
      ['gzip; q=0.000', false],
      ['gzip;q=0, deflate', false],
      ['*;q=0', false],
      ['*;q=0, identity', false],
      ['deflate, *;q=0', false],
      ['identity', false],
      ['gzip;q=0.5, identity', false],
      ['gzip;q=0.5, *', false],
      ['br', false],
      ['', false],
      ['gzip;q=2', false],
      ['agzip', false],
    ];
    const wrong: string[] = [];
    for (const [accept, gzipped] of cases) {
      const res = await h.call('regulator', 'GET', bundle, undefined, { 'accept-encoding': accept });
      assert.equal(res.statusCode, 200, accept);
      if (res.headers['content-encoding'] !== (gzipped ? 'gzip' : undefined)) wrong.push(`${accept} -> ${String(res.headers['content-encoding'] ?? 'identity')}`);
      else assert.deepEqual(gzipped ? gunzipSync(res.rawPayload) : res.rawPayload, plain.rawPayload, accept);
      if (!/accept-encoding/i.test(String(res.headers['vary']))) wrong.push(`${accept}: no Vary: accept-encoding, so a cache could hand it to a client that asked otherwise`);
    }
    assert.deepEqual(wrong, []);
  });
});

describe('the charset of a JSON body', () => {
  const post = (contentType: string, payload: string | Buffer) =>
    h.app.inject({ method: 'POST', url: '/v1/subjects', headers: { authorization: `Bearer ${h.tokens.service}`, 'enclave-purpose': 'account', 'content-type': contentType }, payload });

  it('a charset other than UTF-8 is 415 unsupported_media_type, whatever the body, and nothing is written', async () => {
    const cases: [string, string | Buffer][] = [
      ['application/json; charset=utf-16', Buffer.from('\ufeff{"id":"u16","country":"US"}', 'utf16le')],
      ['application/json; charset=UTF-16LE', Buffer.from('{"id":"u16","country":"US"}', 'utf16le')],
      ['application/json; charset=utf-16', '{"id":"u16","country":"US"}'],
      ['application/json;charset="iso-8859-1"', '{"id":"u16","country":"US"}'],
    ];
    for (const [contentType, payload] of cases) {
      const res = await post(contentType, payload);
      assert.equal(res.statusCode, 415, `${contentType}: ${res.body}`);
      assert.equal(errorCode(res), 'unsupported_media_type');
    }
    assert.equal(await h.enclave.router.findSubject('u16'), undefined);
  });

  it('UTF-8, said in any case, quoted or not, or not said at all, is accepted', async () => {
    const cases = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"'];
    for (const [i, contentType] of cases.entries()) {
      const res = await post(contentType, JSON.stringify({ id: `u8-${i}`, country: 'US' }));
      assert.equal(res.statusCode, 201, `${contentType}: ${res.body}`);
    }
  });
});
