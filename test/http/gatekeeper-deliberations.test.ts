// The gatekeeper's deliberations (policy versions and proposals, who approved them, their comments) are
// the local team's, out of the parent company's reach like the transparency log: the invariant
// parent-no-governance forbids the parent policy.read, whatever a policy version permits. The regulator and
// the trusted provider keep reading them (oversight).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_POLICIES } from '../../src/core/default-policies.ts';
import type { RoleName } from '../helpers/fixture.ts';
import { json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';

const COMMENT = 'Checked with counsel on 2026-05-28; fine by me';

interface ProposalBody {
  id: string;
  digest: string;
  status: string;
  approvals: { approver: string; comment: string }[];
}

describe('who reads the gatekeeper\'s deliberations', () => {
  let h: HttpFixture;
  let proposal: ProposalBody;
  /** A second officer: policy_approval needs two gatekeepers besides the proposer. */
  let bob: string;
  const READS = ['/v1/policies', '/v1/policies/schema', '/v1/policies/versions/1', '/v1/proposals', '/v1/proposals?kind=policy'];

  before(async () => {
    h = await makeHttpFixture();
    bob = (await h.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    // A proposal that would let the parent read policy: even activated, the invariant holds.
    const text = `${DEFAULT_POLICIES}\n@id("parent-reads-policy")\n@reason("test")\npermit (principal is Enclave::Parent, action == Enclave::Action::"policy.read", resource);\n`;
    proposal = json<ProposalBody>(await h.call('officer', 'POST', '/v1/policies/proposals', { text, description: 'let the parent read policy' }));
    const first = await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest, comment: COMMENT });
    assert.equal(first.statusCode, 200, first.body);
  });
  after(async () => h.close());

  it('the parent company reads no policy version, proposal, approver or comment', async () => {
    for (const url of [...READS, `/v1/proposals/${proposal.id}`]) {
      const res = await h.call('parent', 'GET', url);
      assert.equal(res.statusCode, 403, `${url}: ${res.body}`);
      const error = json<{ error: { code: string; details: { policies: string[] } } }>(res).error;
      assert.equal(error.code, 'forbidden');
      assert.deepEqual(error.details.policies, ['invariant/parent-no-governance']);
      assert.ok(!res.body.includes(COMMENT) && !res.body.includes(h.principals.approver.id), `${url} named the deliberation to the parent`);
    }
  });

  it('the regulator and the trusted provider read them, comments and approvers included', async () => {
    for (const as of ['regulator', 'provider', 'officer'] as const satisfies readonly RoleName[]) {
      for (const url of READS) assert.equal((await h.call(as, 'GET', url)).statusCode, 200, `${as} ${url}`);
      const res = await h.call(as, 'GET', `/v1/proposals/${proposal.id}`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        json<ProposalBody>(res).approvals.map((a) => [a.approver, a.comment]),
        [[h.principals.approver.id, COMMENT]],
      );
    }
  });

  it('a policy version permitting the parent policy.read changes nothing: the invariant forbids it', async () => {
    const res = await h.app.inject({ method: 'POST', url: `/v1/proposals/${proposal.id}/approve`, headers: { authorization: `Bearer ${bob}` }, payload: { digest: proposal.digest } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(json<ProposalBody>(res).status, 'applied');
    const policies = await h.call('parent', 'GET', '/v1/policies');
    assert.equal(policies.statusCode, 403, policies.body);
    assert.equal((await h.call('parent', 'GET', `/v1/proposals/${proposal.id}`)).statusCode, 403);
    assert.equal((await h.call('regulator', 'GET', '/v1/policies/versions/2')).statusCode, 200);
  });
});
