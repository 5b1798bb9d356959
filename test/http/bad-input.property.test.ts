// Property: whatever arrives at any endpoint, the answer is never a 5xx, a stack trace or a leak; every
// error is JSON with a documented code; a refused request changes nothing in any store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { apiRoutes, fill, type RouteRef } from '../helpers/routes.ts';

const CANARY = 'canary-protected-7f3a@example.test';
let h: HttpFixture;
let routes: RouteRef[];

async function storeCounts(): Promise<string> {
  const parts: string[] = [];
  for (const [id, s] of h.enclave.sites) parts.push(`${id}:${await s.subjects.count()}/${await s.records.count()}`);
  const tokens = await h.enclave.control.tokens.list();
  parts.push(`tokens:${tokens.length}`);
  const c = h.enclave.control;
  parts.push(`requests:${(await c.accessRequests.list({ limit: 1000 })).length} grants:${(await c.grants.list({ limit: 1000 })).length} proposals:${(await c.proposals.list({ limit: 1000 })).length}`);
  parts.push(`policy:${(await c.policyVersions.latest())?.version ?? 0}`);
  return parts.join(' ');
}

before(async () => {
  h = await makeHttpFixture({});
  routes = await apiRoutes(h.app);
  assert.ok(routes.length >= 12, 'expected the whole API in openapi.json');
  await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' });
  const r = await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-p', data: { user_id: 'ann', username: 'ann', email: CANARY } });
  assert.equal(r.statusCode, 201);
});
after(async () => h.close());

const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', ' ', '..', '%00', '../../etc/passwd', 'users', 'ann', 'ann-p', '__proto__', 'constructor', 'a'.repeat(300), '\u0000', 'DROP TABLE records;--'),
);

const jsonBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  // The gatekeeper's bodies: access requests, verdicts, reviews, policy and token proposals.
  fc.record(
    {
      scope: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ subjects: fc.array(weirdString, { maxLength: 3 }), collections: fc.array(fc.oneof(weirdString, fc.constantFrom('users', 'messages')), { maxLength: 3 }), fields: fc.array(fc.oneof(weirdString, fc.constantFrom('users.email', 'messages.body')), { maxLength: 3 }) }, { requiredKeys: [] })),
      purpose: fc.oneof(weirdString, fc.constantFrom('support', 'account', 'security')),
      justification: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.record({ code: fc.oneof(weirdString, fc.constant('support-ticket')), text: weirdString })),
      duration_seconds: fc.oneof(fc.integer(), fc.double(), weirdString),
      digest: fc.oneof(weirdString, fc.constant(`sha256:${'a'.repeat(64)}`)),
      verdict: fc.oneof(weirdString, fc.constantFrom('justified', 'unjustified')),
      text: fc.oneof(weirdString, fc.constantFrom('@id("x") permit (principal, action, resource);', 'permit (')),
      principal: weirdString,
      org: fc.oneof(weirdString, fc.constant('platform')),
      role: fc.oneof(weirdString, fc.constant('service')),
    },
    { requiredKeys: [] },
  ),
  fc.record({ id: fc.oneof(weirdString, fc.integer()), country: fc.oneof(weirdString, fc.constantFrom('US', 'DE', 'BR', 'us')) }, { requiredKeys: [] }),
  fc.record(
    {
      id: fc.oneof(weirdString, fc.constant('new-id')),
      data: fc.oneof(
        fc.dictionary(weirdString, fc.jsonValue({ maxDepth: 2 })),
        fc.record({ user_id: fc.oneof(fc.constant('ann'), weirdString), username: fc.jsonValue({ maxDepth: 1 }), email: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
      ),
      share: weirdString,
      reset: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
);

const rawBody = fc.oneof(
  jsonBody.map((v) => ({ payload: JSON.stringify(v), type: 'application/json' })),
  fc.string().map((s) => ({ payload: s, type: 'application/json' })),
  fc.string().map((s) => ({ payload: s, type: 'text/plain' })),
  fc.uint8Array({ maxLength: 64 }).map((b) => ({ payload: Buffer.from(b).toString('latin1'), type: 'application/octet-stream' })),
  fc.constant({ payload: '{"__proto__": {"admin": true}, "data": {}}', type: 'application/json' }),
  fc.constant({ payload: '{"constructor": {"prototype": {"x": 1}}}', type: 'application/json' }),
  fc.constant({ payload: `{"data": {"user_id": "ann", "username": "${'x'.repeat(300_000)}"}}`, type: 'application/json' }),
  fc.constant(undefined),
);

const auth = fc.constantFrom<string | undefined>(undefined, 'service', 'parent', 'officer', 'approver', 'garbage', 'Bearer ', 'Basic Zm9vOmJhcg==');

function authHeader(a: string | undefined): Record<string, string> {
  if (a === undefined) return {};
  if (a === 'service' || a === 'parent' || a === 'officer' || a === 'approver') return { authorization: `Bearer ${h.tokens[a]}` };
  if (a === 'garbage') return { authorization: `Bearer enc_${'Z'.repeat(43)}` };
  return { authorization: a };
}

function errorCodeOf(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
}

/** fast-check's report quotes the whole counterexample; payloads here can be 300 kB. */
async function assertProperty<T>(property: fc.IAsyncPropertyWithHooks<T>, params: fc.Parameters<T>): Promise<void> {
  const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
  try {
    await fc.assert(property, { ...params, seed });
  } catch (err) {
    const text = String((err as Error).message);
    throw new Error(`property failed (FC_SEED=${seed}): ${text.length > 3000 ? `${text.slice(0, 1500)} … ${text.slice(-1500)}` : text}`);
  }
}

test('random requests to every endpoint never yield a 5xx, a stack trace, a leak or a partial write', async () => {
  const request = fc.record({
    route: fc.constantFrom(...routes),
    params: fc.record({ id: weirdString, collection: fc.oneof(weirdString, fc.constantFrom('users', 'messages')), version: fc.oneof(weirdString, fc.constantFrom('1', '2', '0', '99999999999')), '*': fc.oneof(weirdString, fc.constantFrom('checkpoint', 'tile/0/000', 'tile/0/x001/002.p/7', 'tile/entries/000', 'tile/9/000', 'tile/0/000.p/0', 'tile/0/000.p/256', '../checkpoint')) }),
    query: fc.dictionary(fc.constantFrom('limit', 'cursor', 'collection', 'x', 'status', 'kind', 'review', 'principal'), fc.oneof(weirdString, fc.constantFrom('pending', 'expired', 'overdue', 'policy', '5')), { maxKeys: 3 }),
    body: rawBody,
    auth,
    ifMatch: fc.option(weirdString, { nil: undefined }),
    purpose: fc.option(fc.oneof(weirdString, fc.constantFrom('account', 'support', 'legal')), { nil: undefined }),
  });
  await assertProperty(
    fc.asyncProperty(request, async (r) => {
      const qs = new URLSearchParams(r.query).toString();
      const url = fill(r.route.template, r.params) + (qs ? `?${qs}` : '');
      const headers: Record<string, string> = { ...authHeader(r.auth) };
      if (r.body) headers['content-type'] = r.body.type;
      if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch.replace(/[^\x20-\x7e]/g, '');
      if (r.purpose !== undefined) headers['enclave-purpose'] = r.purpose.replace(/[^\x20-\x7e]/g, '');
      const before = await storeCounts();
      const opts: InjectOptions = { method: r.route.method, url, headers, ...(r.body ? { payload: r.body.payload } : {}) };
      const res = await h.app.inject(opts);
      if (res.statusCode === 503) assert.equal(errorCodeOf(res.body), 'sealed', `only sealing may make the API unavailable: ${res.body.slice(0, 200)}`);
      const ctx = `${r.route.method} ${url} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
      assert.ok(res.statusCode < 500 || res.statusCode === 503, ctx);
      assert.doesNotMatch(res.body, /\n\s+at |node:internal|\.ts:\d+/, `stack trace in ${ctx}`);
      if (r.auth !== 'service') assert.ok(!res.body.includes(CANARY), `protected value leaked: ${ctx}`);
      if (res.statusCode >= 400) {
        const body = JSON.parse(res.body) as { error?: { code?: string; message?: string } };
        assert.ok(body.error?.code !== undefined && Object.hasOwn(ERROR_CODES, body.error.code), `undocumented error code: ${ctx}`);
        assert.equal(typeof body.error.message, 'string', ctx);
        assert.equal(await storeCounts(), before, `a refused request changed the stores: ${ctx}`);
      }
      // An officer's token may legitimately seal the enclave; unseal again so later runs reach the data.
      if (h.enclave.keyring.sealed) for (const share of h.shares.slice(0, 2)) await h.enclave.seal.submit(share);
    }),
    { numRuns: 600 },
  );
});
