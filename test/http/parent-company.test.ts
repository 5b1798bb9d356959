// Invariant 2: the parent company's principals never receive a protected value. The parent's engineer
// calls every endpoint of the API (read from openapi.json, so new endpoints are covered automatically)
// with real ids and well-formed bodies, and no response may contain any protected value of the data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { apiRoutes, fill } from '../helpers/routes.ts';

let h: HttpFixture;
const secrets: string[] = [];
/** Real ids of the gatekeeper's objects, so the parent's calls reach them rather than failing on shape. */
const ids: Record<string, string> = {};

function secret(label: string): string {
  const v = `${label}-${Math.random().toString(36).slice(2, 10)}`;
  secrets.push(v);
  return v;
}

before(async () => {
  h = await makeHttpFixture();
  for (const [id, country] of [['ann', 'US'], ['jonas', 'DE']] as const) {
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id, country })).statusCode, 201);
    const writes: [string, string, Record<string, unknown>][] = [
      ['users', `${id}-profile`, { user_id: id, username: id, email: `${secret('email')}@example.test`, phone: secret('phone'), birthdate: '1990-01-01' }],
      ['messages', `${id}-msg`, { sender_id: id, recipient_id: secret('recipient'), body: secret('body'), sent_at: '2026-03-01T12:00:00Z' }],
      ['devices', `${id}-dev`, { user_id: id, model: secret('model'), os: secret('os'), ip_address: secret('ip'), location: secret('location') }],
      ['watch_history', `${id}-wh`, { user_id: id, video_id: secret('video'), watched_at: '2026-03-02T12:00:00Z', seconds: 4242 }],
      ['videos', `${id}-vid`, { owner_id: id, title: 'public title', views: 1, published_at: '2026-03-03T12:00:00Z' }],
    ];
    for (const [collection, rid, data] of writes) {
      assert.equal((await h.call('service', 'POST', `/v1/collections/${collection}/records`, { id: rid, data })).statusCode, 201, `${collection}`);
    }
  }
  // The gatekeeper's objects exist and protected data is open to an officer under a grant and a
  // break-glass grant: the parent must still get nothing of it.
  const justification = { code: 'support-ticket', text: 'ticket 4711: messages missing from the inbox' };
  const req = await h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'] }, purpose: 'support', justification, duration_seconds: 3600 });
  const request = JSON.parse(req.body) as { id: string; digest: string };
  await h.call('approver', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest });
  const approved = JSON.parse((await h.call('provider', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest })).body) as { grant: string };
  const bg = JSON.parse((await h.call('officer', 'POST', '/v1/break-glass', { scope: { subjects: ['jonas'] }, purpose: 'security', justification, duration_seconds: 600 })).body) as { id: string; digest: string };
  const proposal = JSON.parse((await h.call('officer', 'POST', '/v1/tokens', { principal: 'temp', org: 'platform', role: 'service' })).body) as { proposal: { id: string; digest: string } };
  Object.assign(ids, { request: request.id, grant: approved.grant, bg: bg.id, proposal: proposal.proposal.id, token: h.principals.officer.tokenId, digest: request.digest, bgDigest: bg.digest, proposalDigest: proposal.proposal.digest });
  assert.match(ids['grant'] ?? '', /^gr_/);
  // The birthdate is protected too. (Protected integers are not scanned for: short digit runs occur in
  // unrelated figures such as /metrics.)
  secrets.push('1990-01-01');
});
after(async () => h.close());

const access = { scope: { subjects: ['ann'] }, purpose: 'support', justification: { code: 'support-ticket', text: 'the parent company would like to read this' }, duration_seconds: 60 };
const bodies = (): Record<string, unknown> => ({
  'POST /v1/subjects': { id: 'parent-made', country: 'US' },
  'POST /v1/subjects/{id}/rehome': { country: 'DE' },
  'POST /v1/collections/{collection}/records': { id: 'parent-rec', data: { user_id: 'ann', username: 'p', email: 'p@example.test' } },
  'PUT /v1/collections/{collection}/records/{id}': { data: { user_id: 'ann', username: 'p', email: 'p@example.test' } },
  'POST /v1/sys/unseal': { reset: true },
  'POST /v1/access/requests': access,
  'POST /v1/access/requests/{id}/approve': { digest: ids['digest'] },
  'POST /v1/access/requests/{id}/deny': { digest: ids['digest'] },
  'POST /v1/break-glass': access,
  'POST /v1/break-glass/{id}/review': { digest: ids['bgDigest'], verdict: 'unjustified' },
  'POST /v1/policies/proposals': { text: '@id("parent-reads") permit (principal, action, resource);' },
  'POST /v1/proposals/{id}/approve': { digest: ids['proposalDigest'] },
  'POST /v1/proposals/{id}/reject': { digest: ids['proposalDigest'] },
  'POST /v1/tokens': { principal: 'parent-2', org: 'gatekeeper', role: 'officer' },
});

/** The id a route's {id} names: a subject, a record, or one of the gatekeeper's objects. */
function idFor(template: string, subject: string, record: string): string {
  if (template.startsWith('/v1/subjects')) return subject;
  if (template.startsWith('/v1/access/requests/')) return ids['request'] ?? 'x';
  if (template.startsWith('/v1/access/grants/')) return ids['grant'] ?? 'x';
  if (template.startsWith('/v1/break-glass/')) return ids['bg'] ?? 'x';
  if (template.startsWith('/v1/proposals/')) return ids['proposal'] ?? 'x';
  if (template.startsWith('/v1/tokens/')) return ids['token'] ?? 'x';
  return record;
}

test('the parent company calls every endpoint and never receives a protected value', async () => {
  const routes = await apiRoutes(h.app);
  const seen: string[] = [];
  for (const r of routes) {
    for (const collection of ['users', 'messages', 'devices', 'watch_history']) {
      for (const subject of ['ann', 'jonas']) {
        const suffix = collection === 'users' ? 'profile' : collection === 'messages' ? 'msg' : collection === 'devices' ? 'dev' : 'wh';
        const id = idFor(r.template, subject, `${subject}-${suffix}`);
        const url = fill(r.template, { collection, id, version: '1' });
        const key = `${r.method} ${r.template}`;
        const res = await h.call('parent', r.method, url, bodies()[key]);
        seen.push(`${key} ${res.statusCode}`);
        // Rotating one's own token is open to every principal (it gains nothing); the parent goes on with the new one.
        if (key === 'POST /v1/tokens/rotate' && res.statusCode === 200) h.tokens.parent = (JSON.parse(res.body) as { secret: string }).secret;
        assert.ok(res.statusCode < 500, `${key} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
        for (const s of secrets) assert.ok(!res.body.includes(s), `${r.method} ${url} leaked a protected value to the parent company`);
        for (const v of Object.values(res.headers)) for (const s of secrets) assert.ok(!String(v).includes(s), `${url} leaked in a header`);
      }
    }
  }
  // The parent really reached the data paths: public reads succeed (redacted), protected writes are refused.
  assert.ok(seen.includes('GET /v1/collections/{collection}/records/{id} 200'));
  assert.ok(seen.includes('GET /v1/subjects/{id}/records 200'));
  assert.ok(seen.some((s) => s.startsWith('POST /v1/collections/{collection}/records 403')));
  assert.ok(seen.some((s) => s.startsWith('PUT /v1/collections/{collection}/records/{id} 403')));
  assert.ok(seen.some((s) => s.startsWith('DELETE /v1/collections/{collection}/records/{id} 403')));
  assert.ok(seen.some((s) => s.startsWith('DELETE /v1/subjects/{id} 403')));
  // The gatekeeper's routes: the parent takes no part in access, approvals, break-glass, policy or tokens.
  for (const route of [
    'POST /v1/access/requests 403',
    'GET /v1/access/requests 403',
    'GET /v1/access/requests/{id} 403',
    'POST /v1/access/requests/{id}/approve 403',
    'POST /v1/access/requests/{id}/deny 403',
    'GET /v1/access/grants 403',
    'POST /v1/access/grants/{id}/revoke 403',
    'POST /v1/break-glass 403',
    'GET /v1/break-glass 403',
    'POST /v1/break-glass/{id}/review 403',
    'POST /v1/policies/proposals 403',
    'GET /v1/proposals/{id} 403',
    'POST /v1/proposals/{id}/approve 403',
    'POST /v1/tokens 403',
    'GET /v1/tokens 403',
    'POST /v1/tokens/{id}/revoke 403',
    'POST /v1/tokens/rotate 200',
    'GET /v1/policies 403',
  ]) {
    assert.ok(seen.includes(route), `the parent reached ${route} (seen: ${[...new Set(seen.filter((x) => x.startsWith(route.split(' ').slice(0, 2).join(' '))))].join(', ')})`);
  }
  // The grants are intact, and the protected data they open is still there for the officer.
  const grant = JSON.parse((await h.call('officer', 'GET', '/v1/access/grants')).body) as { grants: { id: string; state: string }[] };
  assert.ok(grant.grants.every((g) => g.state === 'active'));
  const underGrant = await h.call('officer', 'GET', '/v1/collections/users/records/ann-profile', undefined, { 'enclave-purpose': 'support' });
  assert.ok(secrets.some((s) => underGrant.body.includes(s)), 'positive control: the grant does open the record');
  // Nothing the parent did changed the data: every record still reads back whole for the service.
  const back = await h.call('service', 'GET', '/v1/collections/users/records/ann-profile');
  assert.equal(back.statusCode, 200);
  assert.ok(secrets.some((s) => back.body.includes(s)));
  assert.equal((await h.call('service', 'GET', '/v1/subjects/ann')).statusCode, 200);
});

test('a configuration cannot give the parent company protected reads', async () => {
  const { parseConfigText } = await import('../../src/services/config-loader.ts');
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(h.configPath, 'utf8').replace(/(id: engineer\n\s+actions: \[[^\]]*\]\n\s+reads: )public/, '$1protected');
  assert.notEqual(text, readFileSync(h.configPath, 'utf8'), 'the test must actually change the parent role');
  assert.throws(() => parseConfigText(text, 'enclave.yaml', h.dir), (err: Error & { code?: string }) => err.code === 'invalid_config' && /parent company/.test(err.message));
});

test('a principal of the parent company named in an approver group approves nothing', async () => {
  // A group may name principals, whose org is known only when they act, so the config cannot refuse it.
  // The invariant policy forbids the parent every review, and the quorum never counts a parent's
  // approval either (test/core/gatekeeper-core.test.ts): neither alone is relied on.
  const named = await makeHttpFixture({
    config: (starter) => {
      const text = starter
        .replace('gatekeepers: { roles: [gatekeeper/officer, gatekeeper/approver] }', 'gatekeepers: { roles: [gatekeeper/officer, gatekeeper/approver], principals: [parent-1] }')
        .replace('monitors: { roles: [trusted-provider/monitor] }', 'monitors: { roles: [trusted-provider/monitor], principals: [parent-1] }');
      assert.notEqual(text, starter, 'the test must actually name the parent principal');
      return text;
    },
  });
  try {
    assert.equal((await named.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    const justification = { code: 'support-ticket', text: 'ticket 4711: messages missing from the inbox' };
    const made = await named.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'] }, purpose: 'support', justification, duration_seconds: 600 });
    assert.equal(made.statusCode, 201, made.body);
    const request = JSON.parse(made.body) as { id: string; digest: string };
    const first = await named.call('approver', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest });
    assert.equal(first.statusCode, 200, first.body);
    const byParent = await named.call('parent', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest });
    assert.equal(byParent.statusCode, 403, byParent.body);
    const state = JSON.parse((await named.call('officer', 'GET', `/v1/access/requests/${request.id}`)).body) as { status: string; approvals: { approver: string }[] };
    assert.deepEqual([state.status, state.approvals.map((a) => a.approver)], ['pending', ['approver-1']], 'no grant, and no approval of the parent stored');
    // Positive control: the monitor the rule asks for does complete it.
    assert.equal((await named.call('provider', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest })).statusCode, 200);

    const proposal = JSON.parse((await named.call('officer', 'POST', '/v1/policies/proposals', { text: '@id("parent-reads") permit (principal, action, resource);' })).body) as { id: string; digest: string };
    const policyByParent = await named.call('parent', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest });
    assert.equal(policyByParent.statusCode, 403, policyByParent.body);
    const after = JSON.parse((await named.call('officer', 'GET', `/v1/proposals/${proposal.id}`)).body) as { status: string };
    assert.equal(after.status, 'pending');
  } finally {
    await named.close();
  }
});
