// The gatekeeper fails closed too (invariants 4 and 6): when the transparency log cannot durably accept
// an entry, no request, approval, grant, break-glass, revocation, policy or token change is made, and the
// answer is 503 log_unavailable; once the log accepts again, the same calls go through.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BreakableLog } from '../helpers/breakable-log.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const log = new BreakableLog();
let h: HttpFixture;

async function state(): Promise<string> {
  const c = h.enclave.control;
  const requests = await c.accessRequests.list({ limit: 1000 });
  const grants = await c.grants.list({ limit: 1000 });
  const approvals = (await Promise.all(requests.map((r) => c.approvals.list(r.id)))).flat();
  const proposals = await c.proposals.list({ limit: 1000 });
  return JSON.stringify({
    requests: requests.map((r) => [r.id, r.status]),
    grants: grants.map((g) => [g.id, g.revokedAt]),
    approvals: approvals.length,
    proposals: proposals.map((p) => [p.id, p.status]),
    policy: (await c.policyVersions.latest())?.version,
    tokens: (await c.tokens.list()).map((t) => [t.token.id, t.token.revokedAt]),
    index: h.enclave.grants.epoch,
  });
}

const justification = { code: 'support-ticket', text: 'ticket 4711: the user reports missing messages' };
const ask = { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification, duration_seconds: 600 };

describe('the gatekeeper when the log cannot accept', () => {
  let pending: { id: string; digest: string };
  let grant: string;
  before(async () => {
    h = await makeHttpFixture({ open: { logStoreFactory: log.factory } });
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    pending = json(await h.call('officer', 'POST', '/v1/access/requests', ask));
    const approved = json<{ id: string; digest: string }>(await h.call('officer', 'POST', '/v1/access/requests', ask));
    await h.call('approver', 'POST', `/v1/access/requests/${approved.id}/approve`, { digest: approved.digest });
    grant = json<{ grant: string }>(await h.call('provider', 'POST', `/v1/access/requests/${approved.id}/approve`, { digest: approved.digest })).grant;
    assert.match(grant, /^gr_/);
  });
  after(async () => {
    log.broken = false;
    await h.close();
  });

  it('refuses every change with 503 log_unavailable and changes nothing', async () => {
    const before = await state();
    log.broken = true;
    try {
      const calls: [Parameters<HttpFixture['call']>[0], 'POST', string, unknown][] = [
        ['officer', 'POST', '/v1/access/requests', ask],
        ['approver', 'POST', `/v1/access/requests/${pending.id}/approve`, { digest: pending.digest }],
        ['approver', 'POST', `/v1/access/requests/${pending.id}/deny`, { digest: pending.digest }],
        ['officer', 'POST', '/v1/break-glass', { ...ask, purpose: 'security', justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' } }],
        ['officer', 'POST', '/v1/policies/proposals', { text: '@id("a") permit (principal, action == Enclave::Action::"policy.read", resource);' }],
        ['officer', 'POST', '/v1/tokens', { principal: 'newbie', org: 'platform', role: 'service' }],
        ['officer', 'POST', '/v1/tokens/rotate', {}],
      ];
      for (const [role, method, url, body] of calls) {
        const res = await h.call(role, method, url, body);
        assert.equal(res.statusCode, 503, `${url}: ${res.body}`);
        assert.equal(errorCode(res), 'log_unavailable', url);
      }
    } finally {
      log.broken = false;
    }
    assert.equal(await state(), before, 'nothing was stored, approved or granted');
    assert.equal((await h.call('officer', 'GET', '/v1/whoami')).statusCode, 200, 'a rotation that could not be logged leaves the token in use');
    // The log accepts again: the same approval goes through.
    assert.equal((await h.call('approver', 'POST', `/v1/access/requests/${pending.id}/approve`, { digest: pending.digest })).statusCode, 200);
  });

  it('taking access away is never held up by the log, like sealing: revoked at once, then reported unlogged', async () => {
    log.broken = true;
    try {
      const res = await h.call('officer', 'POST', `/v1/access/grants/${grant}/revoke`);
      assert.equal(res.statusCode, 503);
      assert.match(json<{ error: { message: string } }>(res).error.message, /is revoked, but the transparency log could not record it yet/);
      const own = await h.call('approver', 'POST', `/v1/tokens/${h.principals.approver.tokenId}/revoke`);
      assert.equal(errorCode(own), 'log_unavailable');
    } finally {
      log.broken = false;
    }
    assert.notEqual((await h.enclave.control.grants.get(grant))?.revokedAt, null);
    assert.equal(h.enclave.grants.active(h.principals.officer.id, Date.now()).some((g) => g.id === grant), false);
    assert.equal((await h.call('approver', 'GET', '/v1/whoami')).statusCode, 401);
  });
});

describe('the log refusing the entry of the change a quorum completes', () => {
  const partial = new BreakableLog();
  let f: HttpFixture;
  before(async () => {
    f = await makeHttpFixture({ open: { logStoreFactory: partial.factory } });
    assert.equal((await f.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  });
  after(async () => {
    partial.refuse.clear();
    await f.close();
  });

  it('creates no grant, and the approver who completed the quorum creates it by approving again', async () => {
    const req = json<{ id: string; digest: string }>(await f.call('officer', 'POST', '/v1/access/requests', ask));
    assert.equal((await f.call('approver', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest })).statusCode, 200);
    partial.refuse.add('grant.created');
    try {
      const res = await f.call('provider', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest });
      assert.equal(errorCode(res), 'log_unavailable');
    } finally {
      partial.refuse.clear();
    }
    assert.equal((await f.enclave.control.accessRequests.get(req.id))?.status, 'pending', 'no grant without its entry');
    const again = await f.call('provider', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest });
    assert.equal(again.statusCode, 200, again.body);
    assert.match(json<{ grant: string }>(again).grant, /^gr_/);
    assert.equal((await f.enclave.control.accessRequests.get(req.id))?.status, 'approved');
  });

  it('applies no proposal, and the approver who completed the quorum applies it by approving again', async () => {
    const { proposal } = json<{ proposal: { id: string; digest: string } }>(await f.call('officer', 'POST', '/v1/tokens', { principal: 'newbie', org: 'platform', role: 'service' }));
    const bob = (await f.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    const asBob = () => f.app.inject({ method: 'POST', url: `/v1/proposals/${proposal.id}/approve`, headers: { authorization: `Bearer ${bob}` }, payload: { digest: proposal.digest } });
    assert.equal((await f.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).statusCode, 200);
    partial.refuse.add('token.issued');
    try {
      assert.equal(errorCode(await asBob()), 'log_unavailable');
    } finally {
      partial.refuse.clear();
    }
    assert.equal((await f.enclave.control.proposals.get(proposal.id))?.status, 'pending');
    const again = await asBob();
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(json<{ status: string }>(again).status, 'applied');
  });
});
