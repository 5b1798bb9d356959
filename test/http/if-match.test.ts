// If-Match on record replace and delete, as RFC 9110 §13.1.1 defines it: the strong comparison (a weak
// entity-tag never matches), "*" for "the record exists", and a list of entity-tags of which any may match.
// A record's ETag names its incarnation as well as its version (RFC 9110 §8.8.1): a record deleted and
// created again never takes its predecessor's tag, so a write conditional on that tag is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { etagOf, parseIfMatch } from '../../src/http/if-match.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const url = (id: string) => `/v1/collections/users/records/${id}`;
const data = (username: string) => ({ data: { user_id: 'ann', username, email: `${username}@example.test` } });
/** A strong entity-tag as this server issues them: "<version>.<created_at in base 36>". */
const ISSUED = /^"[1-9][0-9]*\.[0-9a-z]+"$/;

/** Returns once the clock has moved past the current millisecond, so the next record created is another incarnation. */
async function nextMillisecond(): Promise<void> {
  const now = Date.now();
  while (Date.now() === now) await sleep(1);
}

describe('If-Match on records', () => {
  let h: HttpFixture;
  const put = (id: string, ifMatch: string, username = 'next') => h.call('service', 'PUT', url(id), data(username), { 'if-match': ifMatch });
  const del = (id: string, ifMatch: string) => h.call('service', 'DELETE', url(id), undefined, { 'if-match': ifMatch });
  const read = async (id: string) => {
    const res = await h.call('service', 'GET', url(id));
    return res.statusCode === 200 ? { ...json<{ version: number; data: { username: string } }>(res), etag: String(res.headers.etag) } : res.statusCode;
  };
  const version = async (id: string) => {
    const r = await read(id);
    return typeof r === 'number' ? r : r.version;
  };
  /** Creates the record and returns its ETag. */
  const create = async (id: string, username = 'first') => {
    const res = await h.call('service', 'POST', '/v1/collections/users/records', { id, ...data(username) });
    assert.equal(res.statusCode, 201, res.body);
    const etag = String(res.headers.etag);
    assert.match(etag, ISSUED);
    return etag;
  };
  /** The ETag a successful write answered. */
  const etag = (res: Awaited<ReturnType<typeof put>>) => {
    assert.equal(res.statusCode, 200, res.body);
    return String(res.headers.etag);
  };

  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  });
  after(async () => h.close());

  it('the body and each record of a subject\'s list carry the ETag, so a list serves a conditional change', async () => {
    const tag = await create('listed');
    const got = await h.call('service', 'GET', url('listed'));
    assert.equal(json<{ etag: string }>(got).etag, String(got.headers.etag));
    const list = json<{ records: { id: string; etag: string }[] }>(await h.call('service', 'GET', '/v1/subjects/ann/records?collection=users'));
    const listed = list.records.find((r) => r.id === 'listed');
    assert.equal(listed?.etag, tag);
    const next = etag(await put('listed', listed.etag));
    assert.equal(json<{ etag: string }>(await h.call('service', 'GET', url('listed'))).etag, next);
    assert.equal((await put('listed', listed.etag)).statusCode, 412, 'the listed tag is stale once the record changed');
  });

  it('a weak entity-tag never matches (strong comparison): 412 version_conflict and nothing changes', async () => {
    const tag = await create('weak');
    const replaced = await put('weak', `W/${tag}`);
    assert.equal(replaced.statusCode, 412, replaced.body);
    assert.equal(errorCode(replaced), 'version_conflict');
    const deleted = await del('weak', `W/${tag}`);
    assert.equal(deleted.statusCode, 412, deleted.body);
    assert.equal(errorCode(deleted), 'version_conflict');
    assert.equal(await version('weak'), 1);
  });

  it('"*" matches a record that exists: replace and delete go ahead', async () => {
    const first = await create('star');
    const second = etag(await put('star', '*'));
    assert.match(second, ISSUED);
    assert.notEqual(second, first);
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

  it('an entity-tag on a record that does not exist answers 404, whatever it names (RFC 9110 §13.2.1)', async () => {
    for (const tag of ['"1.mww7j89t"', '"1"', '1', 'W/"1.mww7j89t"']) {
      for (const res of [await put('never', tag), await del('never', tag)]) {
        assert.equal(res.statusCode, 404, `${tag}: ${res.body}`);
        assert.equal(errorCode(res), 'record_not_found');
      }
    }
  });

  it('a list of entity-tags matches when any of them is the current one, and only its strong members count', async () => {
    const e1 = await create('list');
    const e2 = etag(await put('list', `"7.mww7j89t", ${e1}`));
    const e3 = etag(await put('list', `"3.a",${e2} ,"9"`));
    assert.equal(new Set([e1, e2, e3]).size, 3);
    for (const stale of [`${e1}, ${e2}`, `W/${e3}, "8"`, `W/${e3}`]) {
      const res = await put('list', stale);
      assert.equal(res.statusCode, 412, `${stale}: ${res.body}`);
      assert.equal(errorCode(res), 'version_conflict');
    }
    assert.equal((await del('list', `${e1}, ${e3}`)).statusCode, 204);
    assert.equal(await version('list'), 404);
  });

  it('an entity-tag this server never issued is a mismatch (412); a field that is not an entity-tag list is 400', async () => {
    const tag = await create('opaque');
    const opaque = tag.slice(1, -1);
    const [v, t = ''] = opaque.split('.');
    // Other spellings of the same version and time are other tags (the comparison is of the characters).
    const respelt = [`"0${v}.${t}"`, `"${v}.0${t}"`, `"${v}.${t.toUpperCase()}"`, `"${opaque}x"`].filter((other) => other !== tag);
    for (const foreign of ['"abc", "x,y"', ...respelt]) {
      const res = await put('opaque', foreign);
      assert.equal(res.statusCode, 412, `${foreign}: ${res.body}`);
      assert.equal(errorCode(res), 'version_conflict');
    }
    for (const bad of ['"1', '*, "1"', 'W/1', 'abc', '', opaque, `${tag}x`]) {
      const res = await put('opaque', bad);
      assert.equal(res.statusCode, 400, `${JSON.stringify(bad)}: ${res.body}`);
      assert.equal(errorCode(res), 'invalid_request');
    }
    assert.equal(await version('opaque'), 1);
    // The 412 says why: a strong tag this server never issued is not called weak, and a weak one is.
    const message = (res: Awaited<ReturnType<typeof put>>) => json<{ error: { message: string } }>(res).error.message;
    for (const foreign of [`"${v}.${t.toUpperCase()}"`, '"abc"'].filter((other) => other !== tag)) {
      const res = await put('opaque', foreign);
      assert.match(message(res), /none is one this server issued/, foreign);
      assert.doesNotMatch(message(res), /weak/, foreign);
    }
    assert.match(message(await put('opaque', `W/${tag}`)), /weak/);
    // The exact tag an ETag gave still matches.
    assert.equal((await put('opaque', tag)).statusCode, 200);
  });

  it('a bare version (3 or "3"), the form this API took before, still parses but never matches: 412 saying to send the ETag as returned', async () => {
    await create('bare');
    for (const bare of ['1', '"1"', '1, "1"', 'W/"1", 1']) {
      for (const res of [await put('bare', bare), await del('bare', bare)]) {
        assert.equal(res.statusCode, 412, `${bare}: ${res.body}`);
        assert.equal(errorCode(res), 'version_conflict');
        assert.match(json<{ error: { message: string } }>(res).error.message, /send the ETag as returned/);
      }
    }
    const now = await read('bare');
    assert.ok(typeof now !== 'number');
    assert.deepEqual([now.version, now.data.username], [1, 'first']);
  });

  it('a record deleted and created again has another ETag: a write conditional on the old one is refused (412) and changes nothing', async () => {
    const old = await create('again', 'first');
    assert.equal((await del('again', old)).statusCode, 204);
    await nextMillisecond();
    const renewed = await create('again', 'second');
    assert.notEqual(renewed, old, 'two incarnations, both at version 1, never share a strong entity-tag (RFC 9110 §8.8.1)');
    const fresh = await read('again');
    assert.ok(typeof fresh !== 'number');
    assert.deepEqual([fresh.version, fresh.etag], [1, renewed]);

    // The lost update: a client that read the first record writes over the second one.
    for (const stale of [old, `${old}, "9.a"`]) {
      const replaced = await put('again', stale, 'lost');
      assert.equal(replaced.statusCode, 412, `${stale}: ${replaced.body}`);
      assert.equal(errorCode(replaced), 'version_conflict');
      const deleted = await del('again', stale);
      assert.equal(deleted.statusCode, 412, `${stale}: ${deleted.body}`);
      assert.equal(errorCode(deleted), 'version_conflict');
    }
    const kept = await read('again');
    assert.ok(typeof kept !== 'number', 'the record is still there');
    assert.deepEqual([kept.version, kept.data.username, kept.etag], [1, 'second', renewed]);

    // With the new record's own tag both go ahead.
    const next = etag(await put('again', renewed, 'third'));
    assert.notEqual(next, renewed);
    assert.equal((await del('again', next)).statusCode, 204);
    assert.equal(await version('again'), 404);
  });
});

describe('parseIfMatch and etagOf', () => {
  const revision = fc.record({ version: fc.integer({ min: 1, max: 999_999_999_999_999 }), createdAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }).map((r) => ({ ...r }));

  it('every tag etagOf gives parses back to its revision, alone or in a list with weak, bare and foreign members', () => {
    fc.assert(
      fc.property(fc.array(revision, { minLength: 1, maxLength: 4 }), fc.constantFrom('', 'W/"1.a", ', '7, ', '"x", '), (revisions, noise) => {
        const parsed = parseIfMatch(noise + revisions.map(etagOf).join(' ,'));
        assert.ok(parsed !== undefined && parsed !== '*');
        assert.deepEqual(parsed.revisions, revisions);
        assert.equal(parsed.bareVersion, noise === '7, ');
        assert.equal(parsed.weak, noise === 'W/"1.a", ');
      }),
    );
  });

  it('a tag differs whenever the version or the incarnation does', () => {
    fc.assert(
      fc.property(revision, revision, (a, b) => {
        assert.equal(etagOf(a) === etagOf(b), a.version === b.version && a.createdAt === b.createdAt);
      }),
    );
  });

  it('no other spelling of an issued tag parses to a revision', () => {
    fc.assert(
      fc.property(revision, fc.constantFrom((s: string) => s.toUpperCase(), (s: string) => s.replace('.', '.0'), (s: string) => `0${s}`, (s: string) => s.replace('.', '.-')), (r, respell) => {
        const opaque = etagOf(r).slice(1, -1);
        const other = respell(opaque);
        fc.pre(other !== opaque);
        const parsed = parseIfMatch(`"${other}"`);
        assert.ok(parsed !== undefined && parsed !== '*');
        assert.deepEqual(parsed.revisions, []);
      }),
    );
  });
});
