// Verdicts that race (invariant 6): one denial ends a request or a proposal, also when it arrives while
// another approver's verdict completes the quorum. The denial's verdict is stored before the request is
// marked denied; an approval that reads the verdicts in between must not create the grant, or apply the
// change, over it. The store is held between the two steps of the denial (as a slow database would).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { Store } from '../../src/core/store.ts';
import { hold, whileHeld, type Held } from '../helpers/hold.ts';
import { json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const justification = { code: 'support-ticket', text: 'ticket 4711: the user reports missing messages' };
const ask = { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification, duration_seconds: 600 };

interface Reviewed {
  id: string;
  digest: string;
}

describe('a denial racing the approval that completes the quorum', () => {
  let h: HttpFixture;
  /** A second gatekeeper approver besides the fixture's. */
  let dana: string;
  const raw = (token: string, url: string, payload: unknown): Promise<LightMyRequestResponse> =>
    h.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: payload as Record<string, unknown> });

  /**
   * Dana rejects `proposal`, her rejection stopped where `held` holds it; meanwhile a new gatekeeper
   * officer `officer` approves it (200). Dana's answer, once her rejection is let go.
   */
  const rejectWhileApproved = (proposal: Reviewed, held: Held, officer: string): Promise<LightMyRequestResponse> =>
    whileHeld(held, async () => {
      const rejection = raw(dana, `/v1/proposals/${proposal.id}/reject`, { digest: proposal.digest });
      await held.reached;
      const token = (await h.enclave.tokens.issue({ principal: officer, org: 'gatekeeper', role: 'officer' })).secret;
      const approval = await raw(token, `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest });
      assert.equal(approval.statusCode, 200, approval.body);
      held.release();
      return rejection;
    });

  before(async () => {
    h = await makeHttpFixture();
    dana = (await h.enclave.tokens.issue({ principal: 'dana', org: 'gatekeeper', role: 'approver' })).secret;
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  });
  after(async () => h.close());

  test('an access request denied meanwhile gets no grant', async () => {
    const req = json<Reviewed>(await h.call('officer', 'POST', '/v1/access/requests', ask));
    assert.equal((await h.call('approver', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest })).statusCode, 200);
    const store: Store = h.enclave.control;
    const held = hold(store.accessRequests, 'decide', (_id, d) => d.status === 'denied');
    await whileHeld(held, async () => {
      // Dana denies: her verdict is stored, the request is not yet marked denied.
      const denial = raw(dana, `/v1/access/requests/${req.id}/deny`, { digest: req.digest });
      await held.reached;
      // The trusted provider's approval completes the quorum meanwhile.
      const approval = await h.call('provider', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest });
      assert.equal(approval.statusCode, 200, approval.body);
      held.release();
      const denied = await denial;
      assert.equal(denied.statusCode, 200, denied.body);
    });
    const after = await store.accessRequests.get(req.id);
    assert.equal(after?.status, 'denied', 'one denial ends the request');
    assert.equal(after?.grantId, null);
    assert.deepEqual((await store.grants.list({ principal: h.principals.officer.id })).map((g) => g.requestId).filter((r) => r === req.id), []);
    assert.equal(h.enclave.grants.active(h.principals.officer.id, Date.now()).length, 0);
  });

  test('a proposal rejected meanwhile is not applied', async () => {
    const { proposal } = json<{ proposal: Reviewed }>(await h.call('officer', 'POST', '/v1/tokens', { principal: 'mallory', org: 'gatekeeper', role: 'approver' }));
    assert.equal((await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).statusCode, 200);
    const store: Store = h.enclave.control;
    const rejection = await rejectWhileApproved(proposal, hold(store.proposals, 'decide', (_id, d) => d.status === 'rejected'), 'bob');
    assert.equal(rejection.statusCode, 200);
    assert.equal((await store.proposals.get(proposal.id))?.status, 'rejected', 'one rejection ends the proposal');
    assert.equal((await store.tokens.list()).some((t) => t.principal.id === 'mallory'), false, 'no token was issued');
  });

  test('a rejection stored only after the approval applied the proposal says it decided nothing (409), not 200', async () => {
    const { proposal } = json<{ proposal: Reviewed }>(await h.call('officer', 'POST', '/v1/tokens', { principal: 'trent', org: 'gatekeeper', role: 'approver' }));
    assert.equal((await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).statusCode, 200);
    const store: Store = h.enclave.control;
    // Hold the rejection's verdict before it is stored: the approval then finds no rejection and applies.
    const rejected = await rejectWhileApproved(proposal, hold(store.approvals, 'add', (a) => a.verdict === 'deny'), 'carol');
    assert.equal(rejected.statusCode, 409, `the rejection of an applied proposal answered ${rejected.statusCode}: ${rejected.body}`);
    assert.equal(json<{ error: { code: string } }>(rejected).error.code, 'not_pending');
    assert.equal((await store.proposals.get(proposal.id))?.status, 'applied');
  });
});

describe('a verdict stored whose effect failed', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture();
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
  });
  after(async () => h.close());

  test('an unjustified review repeated revokes the break-glass grant the first could not; other repeats are already_reviewed', async () => {
    const bg = json<Reviewed & { grant: string }>(
      await h.call('officer', 'POST', '/v1/break-glass', { ...ask, scope: { subjects: ['ann'] }, purpose: 'security', justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' } }),
    );
    const review = (verdict: 'justified' | 'unjustified') => h.call('provider', 'POST', `/v1/break-glass/${bg.id}/review`, { digest: bg.digest, verdict });
    const grants = h.enclave.control.grants;
    const revoke = grants.revoke.bind(grants);
    grants.revoke = () => Promise.reject(new Error('the control store went away'));
    try {
      assert.equal((await review('unjustified')).statusCode, 500);
    } finally {
      grants.revoke = revoke;
    }
    assert.equal((await grants.get(bg.grant))?.revokedAt, null, 'the verdict is stored, the grant still open');
    assert.equal((await review('justified')).statusCode, 409, 'another verdict is refused');
    const again = await review('unjustified');
    assert.equal(again.statusCode, 200, again.body);
    assert.notEqual((await grants.get(bg.grant))?.revokedAt, null);
    assert.equal((await h.enclave.control.approvals.list(bg.id)).length, 1, 'the verdict is stored once');
    const third = await review('unjustified');
    assert.equal(third.statusCode, 409, 'nothing is left to complete');
  });
});
