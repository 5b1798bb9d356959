// Adversarial cases of the gatekeeper (invariants 2 and 6) found in review: a rogue officer vetoing the
// revocation of their own token, a policy change that lets roles outside gatekeeper.break_glass.roles
// open break-glass, and a denial that loses the race with the approval completing the quorum.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DEFAULT_POLICIES } from '../../src/core/default-policies.ts';
import { hold, whileHeld } from '../helpers/hold.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { loggedEvents } from '../helpers/log.ts';

interface ProposalBody {
  id: string;
  digest: string;
  status: string;
  quorum: { met: boolean };
}
interface RequestView {
  id: string;
  digest: string;
  status: string;
  grant: string | null;
}
interface RecordBody {
  data: Record<string, unknown>;
}

const SECRET_BODY = 'secret-body-91c2';
const JUSTIFICATION = { code: 'support-ticket', text: 'ticket 4711: the user reports messages missing from their inbox' };
const EMERGENCY = { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' };

describe('the gatekeeper against one rogue insider', () => {
  let h: HttpFixture;
  let bob: string;
  let carol: string;
  let dana: string;
  const raw = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const readMessage = () => h.call('officer', 'GET', '/v1/collections/messages/records/ann-msg', undefined, { 'enclave-purpose': 'support' });

  before(async () => {
    h = await makeHttpFixture();
    bob = (await h.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    carol = (await h.enclave.tokens.issue({ principal: 'carol', org: 'gatekeeper', role: 'officer' })).secret;
    dana = (await h.enclave.tokens.issue({ principal: 'dana', org: 'gatekeeper', role: 'approver' })).secret;
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    const msg = { id: 'ann-msg', data: { sender_id: 'ann', recipient_id: 'bo', body: SECRET_BODY, sent_at: '2026-04-30T10:00:00Z' } };
    assert.equal((await h.call('service', 'POST', '/v1/collections/messages/records', msg)).statusCode, 201);
  });
  after(async () => h.close());

  test('the holder of a token cannot veto (nor count toward) the proposal to revoke it', async () => {
    // The approver (a member of the token_approval groups) is the one the team wants to remove.
    const res = await h.call('officer', 'POST', `/v1/tokens/${h.principals.approver.tokenId}/revoke`);
    assert.equal(res.statusCode, 202, res.body);
    const { proposal } = json<{ proposal: ProposalBody }>(res);

    const veto = await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/reject`, { digest: proposal.digest });
    assert.equal(veto.statusCode, 403, `the holder vetoed their own revocation: ${veto.body}`);
    assert.equal(errorCode(veto), 'self_approval');
    const consent = await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest });
    assert.equal(errorCode(consent), 'self_approval', 'nor does their approval count');
    assert.equal(json<ProposalBody>(await h.call('officer', 'GET', `/v1/proposals/${proposal.id}`)).status, 'pending');
    assert.equal((await h.call('approver', 'POST', '/v1/tokens/rotate')).statusCode, 409, 'nor can they rotate out of it meanwhile');

    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'pending');
    assert.equal(json<ProposalBody>(await raw(carol, 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'applied');
    assert.equal((await h.call('approver', 'GET', '/v1/whoami')).statusCode, 401);
  });

  test('only gatekeeper.break_glass.roles open break-glass, whatever a policy version permits', async () => {
    // A quorum activates a policy set whose break-glass rule forgets the configured roles.
    const text = DEFAULT_POLICIES.replace('when { context.breakglass_role };', ';');
    assert.notEqual(text, DEFAULT_POLICIES);
    const p = json<ProposalBody>(await h.call('officer', 'POST', '/v1/policies/proposals', { text }));
    await raw(bob, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest });
    assert.equal(json<ProposalBody>(await raw(carol, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest })).status, 'applied');

    const before = (await h.enclave.control.accessRequests.list({ kind: 'breakglass', limit: 1000 })).length;
    const body = { scope: { subjects: ['ann'] }, purpose: 'security', justification: EMERGENCY, duration_seconds: 60 };
    // dana is a gatekeeper approver: not a break-glass role in the configuration (the configuration alone says who).
    const res = await raw(dana, 'POST', '/v1/break-glass', body);
    assert.equal(res.statusCode, 403, `a role outside gatekeeper.break_glass.roles opened break-glass: ${res.body}`);
    assert.equal(errorCode(res), 'forbidden');
    assert.equal((await h.enclave.control.accessRequests.list({ kind: 'breakglass', limit: 1000 })).length, before, 'nothing stored');
    // The configured role still opens it.
    const officer = await h.call('officer', 'POST', '/v1/break-glass', body);
    assert.equal(officer.statusCode, 201, officer.body);
    const grant = json<RequestView>(officer).grant;
    assert.equal((await h.call('officer', 'POST', `/v1/access/grants/${grant}/revoke`)).statusCode, 200);
  });

  test('a denial stored just after the approval that completed the quorum still ends the access', async () => {
    const req = json<RequestView>(
      await h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 600 }),
    );
    // bob, a gatekeeper (the fixture's approver lost their token above), gives the first approval.
    assert.equal((await raw(bob, 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest })).statusCode, 200);
    // Hold dana's denial after it passed its checks and was logged, before it is stored (a slow store).
    const held = hold(h.enclave.control.approvals, 'add', (a) => a.verdict === 'deny');
    await whileHeld(held, async () => {
      const denial = raw(dana, 'POST', `/v1/access/requests/${req.id}/deny`, { digest: req.digest });
      await held.reached;
      const approval = json<RequestView>(await h.call('provider', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest }));
      assert.equal(approval.status, 'approved');
      assert.ok(approval.grant);
      held.release();
      const denied = await denial;
      assert.ok(denied.statusCode < 500, denied.body);
    });
    const stored = await h.enclave.control.accessRequests.get(req.id);
    const grant = stored?.grantId ? await h.enclave.control.grants.get(stored.grantId) : undefined;
    assert.ok(grant, 'the race created the grant');
    assert.notEqual(grant.revokedAt, null, 'a denial given while the quorum completed left the grant active');
    assert.equal(json<RecordBody>(await readMessage()).data['body'], undefined, 'nothing is released after the denial');
    const events = await loggedEvents(h.enclave);
    assert.ok(events.some((e) => e.type === 'grant.revoked' && e.details['grant'] === grant.id), 'the revocation is logged');
  });

  test('free text holding U+0000 is refused before anything is logged (PostgreSQL cannot store it; the log would show a verdict no store kept)', async () => {
    const before = (await loggedEvents(h.enclave)).length;
    const nul = 'looks fine\u0000 but is not';
    const asked = await h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification: { code: 'support-ticket', text: nul }, duration_seconds: 600 });
    assert.equal(asked.statusCode, 400, asked.body);
    const req = json<RequestView>(await h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['ann'], collections: ['messages'] }, purpose: 'support', justification: JUSTIFICATION, duration_seconds: 600 }));
    const middle = (await loggedEvents(h.enclave)).length;
    assert.equal(middle, before + 1, 'only the clean request was logged');
    const commented = await raw(dana, 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest, comment: nul });
    assert.equal(commented.statusCode, 400, commented.body);
    assert.equal(errorCode(commented), 'invalid_request');
    const labelled = await h.call('officer', 'POST', '/v1/tokens', { principal: 'nul-label', org: 'gatekeeper', role: 'approver', label: nul });
    assert.equal(labelled.statusCode, 400, labelled.body);
    assert.equal((await loggedEvents(h.enclave)).length, middle, 'nothing logged for the refused verdict or proposal');
  });
});
