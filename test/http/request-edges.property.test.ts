// Property, for what bad-input.property.test.ts does not send: any method (OPTIONS, HEAD, TRACE, PATCH…)
// on every route, raw path segments (encoded slashes and dots, NUL, overlong UTF-8, ids past the length
// limit), tile paths of the log, query strings with repeated, array-shaped and prototype keys, odd and
// repeated headers (Accept, Accept-Encoding, If-Match lists, Enclave-Purpose, Content-Type), and JSON with
// duplicate keys, deep nesting, huge numbers and lone surrogates. Whatever arrives: never a 5xx but
// `sealed`, never a stack trace, a token or a protected value where it should not be; every error is JSON
// with a documented code; a refused request changes nothing in any store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { apiRoutes, type RouteRef } from '../helpers/routes.ts';

const CANARY = 'canary-edge-5b1c@example.test';
let h: HttpFixture;
let templates: string[];
let etag = '';

async function storeCounts(): Promise<string> {
  const parts: string[] = [];
  for (const [id, s] of h.enclave.sites) parts.push(`${id}:${await s.subjects.count()}/${await s.records.count()}`);
  const c = h.enclave.control;
  parts.push(`tokens:${(await c.tokens.list()).length}`);
  parts.push(`requests:${(await c.accessRequests.list({ limit: 1000 })).length} grants:${(await c.grants.list({ limit: 1000 })).length} proposals:${(await c.proposals.list({ limit: 1000 })).length}`);
  parts.push(`policy:${(await c.policyVersions.latest())?.version ?? 0}`);
  return parts.join(' ');
}

before(async () => {
  h = await makeHttpFixture({});
  const routes: RouteRef[] = await apiRoutes(h.app);
  // Rotating the caller's own token would only make the rest of the run unauthenticated.
  templates = [...new Set(routes.map((r) => r.template))].filter((t) => t !== '/v1/tokens/rotate');
  templates.push('/healthz', '/metrics', '/openapi.json');
  await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' });
  const r = await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: CANARY } });
  assert.equal(r.statusCode, 201);
  etag = String(r.headers.etag);
});
after(async () => h.close());

const method = fc.constantFrom<InjectOptions['method']>('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE');

/** A path segment as sent on the wire (not encoded again). */
const rawSegment = fc.oneof(
  fc.constantFrom('ann', 'ann-p', 'users', 'messages', '1', '%2F', '%2f..%2f', '..', '.', '%2e%2e', '%00', '%C0%AF', '%C0%80', '%E0%80%AF', '%ED%A0%80', '%F4%90%80%80', '%FF', '%', '%zz', '%u0041', '__proto__', 'constructor', '%20', ';x', '*'),
  fc.integer({ min: 100, max: 400 }).map((n) => 'a'.repeat(n)),
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
);

const tileRest = fc.oneof(
  fc.tuple(fc.oneof(fc.constantFrom('0', '1', '63', '64', '00', '-1', 'entries', 'x'), fc.nat().map(String)), fc.array(fc.constantFrom('x000', 'x001', 'x999', '000', '001', '255', '1', 'abc', '', '..'), { minLength: 0, maxLength: 7 }), fc.option(fc.constantFrom('.p/1', '.p/255', '.p/256', '.p/0', '.p/01', '.p/999999999999999999'), { nil: '' })).map(
    ([level, groups, partial]) => `${level}/${groups.join('/')}${partial}`,
  ),
  rawSegment,
);

const queryKey = fc.constantFrom('limit', 'cursor', 'collection', 'index', 'size', 'from', 'to', 'after', 'subject', 'subject_hash', 'type', 'principal', 'status', 'kind', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'limit[]', 'collection[0]', '__proto__[x]', 'constructor[prototype][x]');
const queryValue = fc.oneof(fc.constantFrom('1', '0', '5', '1000', '1001', '-1', '1e3', '99999999999999999', 'users', 'ann', 'pending', 'access.decision', '2026-01-01T00:00:00Z', '', '%00', '%zz'), fc.string({ maxLength: 8 }).map(encodeURIComponent));
const query = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

const jsonEdge = fc.constantFrom(
  '{"id":"e1","data":{"user_id":"ann","user_id":"bob","username":"x"}}',
  '{"id":"e2","id":"e3","data":{}}',
  '{"data":{"user_id":"ann","user\\u005fid":"bob"}}',
  `{"data":{"user_id":"ann","username":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
  `{"data":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
  '{"id":"e4","data":{"user_id":"ann","username":1e400,"email":"a@b.c"}}',
  '{"id":"e5","data":{"user_id":"ann","username":123456789012345678901234567890}}',
  '{"country":"US","id":"\\ud800"}',
  '{"id":"e6","data":{"user_id":"ann\\udc00","username":"x","email":"a@b.c"}}',
  '{"share":"enclave-share-v1-\\ud800"}',
  '{"recipient":"regulator","reason":"because \\ud800 of reasons"}',
  '{"__proto__":{"admin":true}}',
  '{"constructor":{"prototype":{"admin":true}}}',
  '{"data":{"toString":"x","hasOwnProperty":"y","valueOf":1}}',
  '{"reset":true}',
  '[]',
  'null',
  '"x"',
  '1',
  '',
  '{',
  '\ufeff{}',
);

const header = fc.record(
  {
    accept: fc.constantFrom('*/*', 'text/html', 'application/json;q=0', '*/*;q=0', '', ',,,', 'x'.repeat(5000), 'application/octet-stream'),
    'accept-encoding': fc.constantFrom('gzip', 'gzip;q=0', '*;q=0', 'identity;q=0', 'gzip;q=2', 'br, *;q=0', ',,;', 'x-gzip;q=0.001'),
    'if-match': fc.oneof(
      fc.constantFrom('*', '*, "1.a"', '""', 'W/"1.a"', ', , ,', '"1.a" "2.b"'),
      fc.integer({ min: 1, max: 3000 }).map((n) => Array.from({ length: n }, (_, i) => `"${i + 1}.abc"`).join(', ')),
      fc.constant('').map(() => etag),
    ),
    'enclave-purpose': fc.oneof(fc.constantFrom('account', 'support', 'nope', ''), fc.constant(['account', 'support'])),
    'content-type': fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset="utf-8"; x=y'), fc.constant(['application/json', 'text/plain'])),
  },
  { requiredKeys: [] },
);

const auth = fc.constantFrom<string | undefined>(undefined, 'service', 'parent', 'officer', 'regulator', 'two');

function authHeader(a: string | undefined): Record<string, string | string[]> {
  if (a === undefined) return {};
  if (a === 'two') return { authorization: [`Bearer ${h.tokens.parent}`, `Bearer ${h.tokens.service}`] };
  return { authorization: `Bearer ${h.tokens[a as 'service']}` };
}

function fillRaw(template: string, segment: string, tile: string): string {
  return template.replace('{*}', tile).replace(/\{(\w+)\}/g, () => segment);
}

test('odd methods, paths, queries, headers and JSON never yield a 5xx, a stack trace, a leak or a partial write', async () => {
  const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
  const tokens = Object.values(h.tokens);
  const property = fc.asyncProperty(
    fc.record({ template: fc.constantFrom(...templates), method, segment: rawSegment, tile: tileRest, query, headers: header, body: fc.option(jsonEdge, { nil: undefined }), auth }),
    async (r) => {
      const url = fillRaw(r.template, r.segment, r.tile) + (r.query ? `?${r.query}` : '');
      const headers = { ...r.headers, ...authHeader(r.auth) } as Record<string, string>;
      const before = await storeCounts();
      const res = await h.app.inject({ method: r.method, url, headers, ...(r.body === undefined ? {} : { payload: r.body }) });
      const ctx = `${r.method} ${url.slice(0, 200)} ${JSON.stringify(r.headers).slice(0, 200)} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
      assert.ok(res.statusCode < 500 || res.body.includes('"sealed"'), ctx);
      assert.doesNotMatch(res.body, /\n\s+at |node:internal|\.ts:\d+/, `stack trace in ${ctx}`);
      if (r.auth !== 'service') assert.ok(!res.body.includes(CANARY), `protected value leaked: ${ctx}`);
      for (const t of tokens) assert.ok(!res.body.includes(t), `a bearer token in the body: ${ctx}`);
      if (res.statusCode >= 400) {
        if (r.method !== 'HEAD') {
          const body = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
          assert.ok(body.error?.code !== undefined && Object.hasOwn(ERROR_CODES, body.error.code), `undocumented error code: ${ctx}`);
          assert.equal(typeof body.error.message, 'string', ctx);
        }
        assert.equal(await storeCounts(), before, `a refused request changed the stores: ${ctx}`);
      }
      // An officer may seal the enclave; unseal again so later runs reach the data.
      if (h.enclave.keyring.sealed) for (const share of h.shares.slice(0, 2)) await h.enclave.seal.submit(share);
    },
  );
  try {
    await fc.assert(property, { numRuns: 500, seed });
  } catch (err) {
    const text = String((err as Error).message);
    throw new Error(`property failed (FC_SEED=${seed}): ${text.length > 4000 ? `${text.slice(0, 2000)} … ${text.slice(-2000)}` : text}`);
  }
});
