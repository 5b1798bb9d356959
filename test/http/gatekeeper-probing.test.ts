// Whoever may not review or read the gatekeeper's requests and proposals learns nothing from an id: the
// permission is checked before the lookup, so an id that exists and one that does not get the same 403.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RoleName } from '../helpers/fixture.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

interface Created {
  id: string;
  digest: string;
  grant?: string;
}

/** Well-formed ids no store holds. */
const MISSING = { proposal: 'prop_AAAAAAAAAAAA', request: 'req_AAAAAAAAAAAA', breakglass: 'bg_AAAAAAAAAAAA', grant: 'gr_AAAAAAAAAAAA' };
const DIGEST = `sha256:${'0'.repeat(64)}`;

describe('probing gatekeeper ids without the permission', () => {
  let h: HttpFixture;
  let policy: Created;
  let token: Created;
  let request: Created;
  let breakglass: Created;

  /** Status and body of the same call on an id that exists and on one that does not. */
  const both = async (as: RoleName, method: 'GET' | 'POST', path: (id: string) => string, ids: [string, string], payload?: unknown) => {
    const [a, b] = [await h.call(as, method, path(ids[0]), payload), await h.call(as, method, path(ids[1]), payload)];
    return { existing: { status: a.statusCode, body: a.body }, missing: { status: b.statusCode, body: b.body } };
  };

  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    policy = json<Created>(await h.call('officer', 'POST', '/v1/policies/proposals', { text: '@id("x") permit (principal, action == Enclave::Action::"policy.read", resource);' }));
    token = json<{ proposal: Created }>(await h.call('officer', 'POST', '/v1/tokens', { principal: 'temp', org: 'platform', role: 'service' })).proposal;
    const justification = { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' };
    request = json<Created>(await h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification, duration_seconds: 600 }));
    breakglass = json<Created>(await h.call('officer', 'POST', '/v1/break-glass', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'security', justification, duration_seconds: 600 }));
    assert.ok(policy.id && token.id && request.id && breakglass.grant);
  });
  after(async () => h.close());

  it('a principal who may review no proposal gets 403 on approve and reject, whether the id exists or not', async () => {
    for (const as of ['parent', 'service', 'regulator', 'provider'] as const) {
      for (const verdict of ['approve', 'reject']) {
        for (const target of [policy, token]) {
          const r = await both(as, 'POST', (id) => `/v1/proposals/${id}/${verdict}`, [target.id, MISSING.proposal], { digest: target.digest });
          assert.equal(r.existing.status, 403, `${as} ${verdict} ${target.id}: ${r.existing.body}`);
          assert.deepEqual(r.missing, r.existing, `${as} ${verdict}: an unknown id answers as a known one`);
        }
      }
    }
    // An approver still hears that an id does not exist; the check decides who may ask, not what.
    const missing = await h.call('approver', 'POST', `/v1/proposals/${MISSING.proposal}/approve`, { digest: policy.digest });
    assert.equal(missing.statusCode, 404, missing.body);
    assert.equal(errorCode(missing), 'proposal_not_found');
  });

  it('a principal who may read no proposal gets 403 on reading one, whether the id exists or not', async () => {
    for (const target of [policy, token]) {
      const r = await both('parent', 'GET', (id) => `/v1/proposals/${id}`, [target.id, MISSING.proposal]);
      assert.equal(r.existing.status, 403, r.existing.body);
      assert.deepEqual(r.missing, r.existing);
    }
    assert.equal((await h.call('officer', 'GET', `/v1/proposals/${MISSING.proposal}`)).statusCode, 404);
  });

  it('access requests, break-glass reviews and grants: the same 403 for an id that exists and one that does not', async () => {
    for (const as of ['parent', 'service', 'regulator'] as const) {
      const checks = [
        await both(as, 'POST', (id) => `/v1/access/requests/${id}/approve`, [request.id, MISSING.request], { digest: request.digest }),
        await both(as, 'POST', (id) => `/v1/access/requests/${id}/deny`, [request.id, MISSING.request], { digest: request.digest }),
        await both(as, 'GET', (id) => `/v1/access/requests/${id}`, [request.id, MISSING.request]),
        await both(as, 'POST', (id) => `/v1/break-glass/${id}/review`, [breakglass.id, MISSING.breakglass], { digest: DIGEST, verdict: 'justified' }),
        await both(as, 'POST', (id) => `/v1/access/grants/${id}/revoke`, [breakglass.grant ?? '', MISSING.grant]),
      ];
      for (const r of checks) {
        assert.equal(r.existing.status, 403, `${as}: ${r.existing.body}`);
        assert.deepEqual(r.missing, r.existing);
      }
    }
  });
});
