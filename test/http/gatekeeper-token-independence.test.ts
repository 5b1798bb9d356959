// The access rules require "one gatekeeper and one monitor": the monitors (the trusted provider's
// principals) are the check from outside the gatekeeper team. A token for a principal of such an org
// therefore needs, besides token_approval (gatekeepers only), an approval from that org once it has had
// an approver: else two gatekeepers could mint themselves a monitor token and satisfy that check alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { errorCode, json, makeHttpFixture, restartEdited, type HttpFixture } from '../helpers/http.ts';
import { loggedEvents } from '../helpers/log.ts';
import { hashToken, newTokenSecret } from '../../src/crypto/token-secret.ts';

interface ProposalBody {
  id: string;
  kind: string;
  digest: string;
  status: string;
  quorum: { met: boolean; missing: string };
  token?: { token_id: string; principal: string; org: string };
  org_approval?: { org: string; first_of_org: boolean; approved_by: string | null };
  approvals: { approver: string; counts: boolean }[];
}
interface Proposed {
  proposal: ProposalBody;
  secret: string;
}

/** Two more trusted providers whose monitors are in the `monitors` group and who hold no token yet. */
const provider = (id: string): string => `  - id: ${id}\n    kind: provider\n    roles:\n      - id: monitor\n        actions: [subject.read, log.read]\n        reads: public\n`;
const withSecondProvider = (c: string): string =>
  c
    .replace('  - id: regulator\n    kind: regulator', `${provider('second-provider')}${provider('third-provider')}  - id: regulator\n    kind: regulator`)
    .replace('monitors: { roles: [trusted-provider/monitor] }', 'monitors: { roles: [trusted-provider/monitor, second-provider/monitor, third-provider/monitor] }');

function harness(get: () => HttpFixture) {
  const send = (secret: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    get().app.inject({ method, url, headers: { authorization: `Bearer ${secret}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return {
    send,
    propose: async (principal: string, org: string, role = 'monitor'): Promise<Proposed> => {
      const res = await get().call('officer', 'POST', '/v1/tokens', { principal, org, role });
      assert.equal(res.statusCode, 202, res.body);
      return json<Proposed>(res);
    },
    verdict: (secret: string, p: { id: string; digest: string }, path: 'approve' | 'reject' = 'approve') => send(secret, 'POST', `/v1/proposals/${p.id}/${path}`, { digest: p.digest }),
    whoami: async (secret: string) => (await send(secret, 'GET', '/v1/whoami')).statusCode,
  };
}

/** The suite's fixture, with a second gatekeeper officer (bob) so that two gatekeepers can meet token_approval. */
function withBob(config: ((c: string) => string) | undefined, set: (h: HttpFixture, bob: string) => void): void {
  let fixture: HttpFixture | undefined;
  before(async () => {
    fixture = await makeHttpFixture(config ? { config } : {});
    set(fixture, (await fixture.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret);
  });
  after(async () => fixture?.close());
}

describe('tokens for an independent approver org', () => {
  let h: HttpFixture;
  let bob: string;
  const t = harness(() => h);
  withBob(withSecondProvider, (f, b) => {
    h = f;
    bob = b;
  });

  test('two gatekeepers cannot issue a monitor token alone once the provider has a monitor: the provider approves it too', async () => {
    const { proposal, secret } = await t.propose('mon-2', 'trusted-provider');
    assert.equal(json<ProposalBody>(await t.verdict(h.tokens.approver, proposal)).status, 'pending');
    const two = json<ProposalBody>(await t.verdict(bob, proposal));
    assert.equal(two.status, 'pending', 'token_approval is met, the provider has not approved');
    assert.equal(await t.whoami(secret), 401, 'the gatekeepers hold no monitor token');
    assert.equal(two.quorum.met, false);
    assert.match(two.quorum.missing, /1 approval from a principal of trusted-provider/);
    assert.doesNotMatch(two.quorum.missing, /rebootstrap/, 'its monitor can give it');
    assert.deepEqual(two.org_approval, { org: 'trusted-provider', first_of_org: false, approved_by: null });

    const three = json<ProposalBody>(await t.verdict(h.tokens.provider, proposal));
    assert.equal(three.status, 'applied');
    assert.equal(three.org_approval?.approved_by, 'provider-1');
    assert.equal(await t.whoami(secret), 200);
    const events = await loggedEvents(h.enclave);
    const proposed = events.find((e) => e.type === 'token.proposed' && e.details['token'] === proposal.token?.token_id);
    assert.equal(proposed?.details['first_of_org'], false);
    const issued = events.find((e) => e.type === 'token.issued' && e.details['token'] === proposal.token?.token_id);
    assert.equal(issued?.details['org_approver'], 'provider-1');
    assert.equal(issued?.details['first_of_org'], undefined);
  });

  test('the provider\'s approval never counts toward token_approval\'s k', async () => {
    const { proposal } = await t.propose('mon-3', 'trusted-provider');
    const first = await t.verdict(h.tokens.provider, proposal);
    assert.equal(first.statusCode, 200, first.body);
    const second = json<ProposalBody>(await t.verdict(h.tokens.approver, proposal));
    assert.equal(second.status, 'pending', 'one gatekeeper and the provider are not token_approval');
    assert.match(second.quorum.missing, /1 more approval from gatekeepers/);
    assert.doesNotMatch(second.quorum.missing, /trusted-provider/);
    assert.equal(json<ProposalBody>(await t.verdict(bob, proposal)).status, 'applied');
  });

  test('a monitor sees, approves and rejects the token proposals of its own org, and no others', async () => {
    const own = (await t.propose('mon-4', 'trusted-provider')).proposal;
    const app = (await t.propose('app-2', 'platform', 'service')).proposal;
    assert.equal(app.org_approval, undefined, 'a platform token needs token_approval only');
    const revoke = json<{ proposal: ProposalBody }>(await h.call('officer', 'POST', `/v1/tokens/${h.principals.service.tokenId}/revoke`)).proposal;

    const shown = await h.call('provider', 'GET', `/v1/proposals/${own.id}`);
    assert.equal(shown.statusCode, 200, shown.body);
    assert.equal(json<ProposalBody>(shown).digest, own.digest);
    for (const p of [app, revoke]) {
      assert.equal(errorCode(await h.call('provider', 'GET', `/v1/proposals/${p.id}`)), 'forbidden', p.kind);
      assert.equal(errorCode(await t.verdict(h.tokens.provider, p)), 'forbidden', p.kind);
      assert.equal(errorCode(await t.verdict(h.tokens.provider, p, 'reject')), 'forbidden', p.kind);
    }
    const listed = json<{ proposals: ProposalBody[] }>(await h.call('provider', 'GET', '/v1/proposals')).proposals;
    assert.ok(listed.some((p) => p.id === own.id));
    assert.ok(listed.every((p) => p.kind === 'policy' || p.token?.org === 'trusted-provider'), JSON.stringify(listed.map((p) => [p.kind, p.token?.org])));
    const tokens = json<{ tokens: { org: string }[] }>(await h.call('provider', 'GET', '/v1/tokens')).tokens;
    assert.deepEqual([...new Set(tokens.map((x) => x.org))], ['trusted-provider']);
    assert.equal(errorCode(await h.call('regulator', 'GET', `/v1/proposals/${own.id}`)), 'forbidden');

    const rejected = await t.verdict(h.tokens.provider, own, 'reject');
    assert.equal(json<ProposalBody>(rejected).status, 'rejected', rejected.body);
    // The platform's token is none of the provider's business: the gatekeepers issue it alone.
    await t.verdict(h.tokens.approver, app);
    assert.equal(json<ProposalBody>(await t.verdict(bob, app)).status, 'applied');
  });

  test('the first token of an independent org is the bootstrap: token_approval alone, flagged first_of_org in the view and the log', async () => {
    const first = await t.propose('sp-1', 'second-provider');
    assert.deepEqual(first.proposal.org_approval, { org: 'second-provider', first_of_org: true, approved_by: null });
    await t.verdict(h.tokens.approver, first.proposal);
    const applied = json<ProposalBody>(await t.verdict(bob, first.proposal));
    assert.equal(applied.status, 'applied');
    assert.equal(applied.org_approval?.first_of_org, true, 'shown as it was decided');
    assert.equal(await t.whoami(first.secret), 200);
    const events = await loggedEvents(h.enclave);
    assert.equal(events.find((e) => e.type === 'token.proposed' && e.details['token'] === first.proposal.token?.token_id)?.details['first_of_org'], true);
    assert.equal(events.find((e) => e.type === 'token.issued' && e.details['token'] === first.proposal.token?.token_id)?.details['first_of_org'], true);

    // From now on the org approves its own: the second provider's monitor, not the first provider's.
    const next = (await t.propose('sp-2', 'second-provider')).proposal;
    assert.equal(next.org_approval?.first_of_org, false);
    await t.verdict(h.tokens.approver, next);
    assert.equal(json<ProposalBody>(await t.verdict(bob, next)).status, 'pending');
    assert.equal(errorCode(await t.verdict(h.tokens.provider, next)), 'forbidden', 'another org\'s monitor');
    const done = json<ProposalBody>(await t.verdict(first.secret, next));
    assert.equal(done.status, 'applied');
    assert.equal(done.org_approval?.approved_by, 'sp-1');
    // sp-1 (a monitor of another org) never sees the first provider's token proposals.
    const other = (await t.propose('mon-5', 'trusted-provider')).proposal;
    assert.equal(errorCode(await t.send(first.secret, 'GET', `/v1/proposals/${other.id}`)), 'forbidden');
  });

  test('two first-of-org proposals approved at once issue one token: the other, approved by the gatekeepers alone, fails instead of minting a second monitor', async () => {
    const a = await t.propose('sp-a', 'third-provider');
    const b = await t.propose('sp-b', 'third-provider');
    assert.equal(a.proposal.org_approval?.first_of_org, true);
    assert.equal(b.proposal.org_approval?.first_of_org, true);
    await t.verdict(h.tokens.approver, a.proposal);
    await t.verdict(h.tokens.approver, b.proposal);
    // The quorum-completing approvals race: each saw no token of the org when it checked.
    const [ra, rb] = await Promise.all([t.verdict(bob, a.proposal), t.verdict(bob, b.proposal)]);
    const statuses = [json<ProposalBody>(ra).status, json<ProposalBody>(rb).status].sort();
    assert.deepEqual(statuses, ['applied', 'failed'], `${ra.body}\n${rb.body}`);
    const live = [await t.whoami(a.secret), await t.whoami(b.secret)].sort();
    assert.deepEqual(live, [200, 401], 'one bootstrap token, not two');
    const failed = [ra, rb].map((r) => json<ProposalBody & { outcome: string }>(r)).find((p) => p.status === 'failed');
    assert.match(failed?.outcome ?? '', /an approver of third-provider holds a token now/);
  });
});

describe('revoking every monitor of an org', () => {
  let h: HttpFixture;
  let bob: string;
  const t = harness(() => h);
  withBob(undefined, (f, b) => {
    h = f;
    bob = b;
  });

  test('does not reopen the bootstrap: a gatekeeper quorum that revoked them still cannot mint a monitor alone', async () => {
    // The gatekeepers revoke the provider's only monitor by quorum (as they may: no one vetoes their own removal).
    const revoke = json<{ proposal: ProposalBody }>(await h.call('officer', 'POST', `/v1/tokens/${h.principals.provider.tokenId}/revoke`)).proposal;
    await t.verdict(h.tokens.approver, revoke);
    assert.equal(json<ProposalBody>(await t.verdict(bob, revoke)).status, 'applied');
    assert.equal(await t.whoami(h.tokens.provider), 401);

    const { proposal, secret } = await t.propose('fake-monitor', 'trusted-provider');
    await t.verdict(h.tokens.approver, proposal);
    const after = json<ProposalBody>(await t.verdict(bob, proposal));
    assert.equal(after.status, 'pending');
    assert.equal(await t.whoami(secret), 401, 'no monitor token minted by the gatekeepers alone');
    assert.equal(after.quorum.met, false);
    assert.deepEqual(after.org_approval, { org: 'trusted-provider', first_of_org: false, approved_by: null }, 'the org stays bootstrapped');
    assert.match(after.quorum.missing, /no approver of trusted-provider holds a valid token to give it: the operator opens trusted-provider with gatekeeper\.rebootstrap/);
  });
});

describe('an org left with no approver token', () => {
  let h: HttpFixture;
  let bob: string;
  const t = harness(() => h);
  let since: string;

  before(async () => {
    const first = await makeHttpFixture();
    bob = (await first.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    const revoke = json<{ proposal: ProposalBody }>(await first.call('officer', 'POST', `/v1/tokens/${first.principals.provider.tokenId}/revoke`)).proposal;
    for (const secret of [first.tokens.approver, bob]) await first.app.inject({ method: 'POST', url: `/v1/proposals/${revoke.id}/approve`, headers: { authorization: `Bearer ${secret}` }, payload: { digest: revoke.digest } });
    // The recovery is the operator's: a configuration edit, which the unseal shows and logs. Tokens
    // created before `since` (the provider's, now revoked) no longer bootstrap the org.
    since = new Date(Date.now() + 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    h = await restartEdited(first, (yaml) => yaml.replace('  bootstrap: { role: gatekeeper/officer }', `  bootstrap: { role: gatekeeper/officer }\n  rebootstrap: { trusted-provider: "${since}" }`));
  });
  after(async () => h.close());

  test('is bootstrapped again by a configuration\'s rebootstrap, once, flagged in the proposal and the log', async () => {
    assert.equal(await t.whoami(h.tokens.provider), 401, 'the provider holds no token');
    const { proposal, secret } = await t.propose('mon-new', 'trusted-provider');
    assert.deepEqual(proposal.org_approval, { org: 'trusted-provider', first_of_org: true, approved_by: null });
    await t.verdict(h.tokens.approver, proposal);
    assert.equal(json<ProposalBody>(await t.verdict(bob, proposal)).status, 'applied');
    assert.equal(await t.whoami(secret), 200);
    const events = await loggedEvents(h.enclave);
    const issued = events.find((e) => e.type === 'token.issued' && e.details['token'] === proposal.token?.token_id);
    assert.deepEqual([issued?.details['first_of_org'], issued?.details['rebootstrap_since']], [true, since]);
    const unsealed = events.filter((e) => e.type === 'enclave.unsealed').at(-1);
    assert.deepEqual(unsealed?.details['configuration_changed'], ['gatekeeper'], 'the edit that allowed it is in the log');
    // Once: the org has an approver token created since, so its next one needs the org again.
    const next = (await t.propose('mon-next', 'trusted-provider')).proposal;
    assert.equal(next.org_approval?.first_of_org, false);
    await t.verdict(h.tokens.approver, next);
    assert.equal(json<ProposalBody>(await t.verdict(bob, next)).status, 'pending');
  });
});

describe('a rebootstrap while an approver of the org still holds a valid token', () => {
  let h: HttpFixture;
  let bob: string;
  const t = harness(() => h);
  let approved: ProposalBody;
  let monitor: string;

  before(async () => {
    const first = await makeHttpFixture();
    bob = (await first.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    // A monitor token the provider approved, decided before the rebootstrap's time.
    const res = await first.call('officer', 'POST', '/v1/tokens', { principal: 'mon-0', org: 'trusted-provider', role: 'monitor' });
    const proposed = json<Proposed>(res);
    monitor = proposed.secret;
    for (const secret of [first.tokens.approver, bob, first.tokens.provider]) {
      await first.app.inject({ method: 'POST', url: `/v1/proposals/${proposed.proposal.id}/approve`, headers: { authorization: `Bearer ${secret}` }, payload: { digest: proposed.proposal.digest } });
    }
    approved = proposed.proposal;
    const since = new Date(Date.now() + 1).toISOString();
    await new Promise((r) => setTimeout(r, 5));
    h = await restartEdited(first, (yaml) => yaml.replace('  bootstrap: { role: gatekeeper/officer }', `  bootstrap: { role: gatekeeper/officer }\n  rebootstrap: { trusted-provider: "${since}" }`));
  });
  after(async () => h.close());

  test('shows a proposal decided before its time as it was decided', async () => {
    const shown = json<ProposalBody>(await h.call('officer', 'GET', `/v1/proposals/${approved.id}`));
    assert.equal(shown.status, 'applied');
    assert.deepEqual(shown.org_approval, { org: 'trusted-provider', first_of_org: false, approved_by: 'provider-1' }, 'not a bootstrap: the provider approved it');
  });

  test('is no bootstrap while one holds a token: that org approves its own; once none does, it is', async () => {
    assert.equal(await t.whoami(h.tokens.provider), 200);
    const { proposal, secret } = await t.propose('mon-x', 'trusted-provider');
    assert.deepEqual(proposal.org_approval, { org: 'trusted-provider', first_of_org: false, approved_by: null }, 'provider-1 and mon-0 hold valid tokens, older than the time');
    await t.verdict(h.tokens.approver, proposal);
    assert.equal(json<ProposalBody>(await t.verdict(bob, proposal)).status, 'pending');
    assert.equal(await t.whoami(secret), 401, 'no monitor minted by the gatekeepers alone');

    assert.equal(await t.whoami(monitor), 200);
    for (const token of [h.principals.provider.tokenId, approved.token?.token_id]) {
      const revoke = json<{ proposal: ProposalBody }>(await h.call('officer', 'POST', `/v1/tokens/${token}/revoke`)).proposal;
      await t.verdict(h.tokens.approver, revoke);
      assert.equal(json<ProposalBody>(await t.verdict(bob, revoke)).status, 'applied', String(token));
    }
    const recovered = (await t.propose('mon-y', 'trusted-provider')).proposal;
    assert.equal(recovered.org_approval?.first_of_org, true, 'the recovery the rebootstrap is for');
  });
});

describe('a principal named in an independent approver group', () => {
  let h: HttpFixture;
  before(async () => {
    h = await makeHttpFixture({
      config: (c) =>
        c
          .replace('monitors: { roles: [trusted-provider/monitor] }', 'monitors: { roles: [trusted-provider/monitor], principals: [pat] }')
          .replace('gatekeepers: { roles: [gatekeeper/officer, gatekeeper/approver] }', 'gatekeepers: { roles: [gatekeeper/officer, gatekeeper/approver], principals: [gina] }'),
    });
  });
  after(async () => h.close());

  test('in an org with no role in that group has no bootstrap: the gatekeepers cannot issue its token alone', async () => {
    const bob = (await h.enclave.tokens.issue({ principal: 'bob-2', org: 'gatekeeper', role: 'officer' })).secret;
    const t = harness(() => h);
    // pat as the regulator's: an org that never had an approver, and counts only through pat's name.
    const { proposal, secret } = await t.propose('pat', 'regulator', 'auditor');
    assert.deepEqual(proposal.org_approval, { org: 'regulator', first_of_org: false, approved_by: null });
    await t.verdict(h.tokens.approver, proposal);
    const after = json<ProposalBody>(await t.verdict(bob, proposal));
    assert.equal(after.status, 'pending', 'token_approval met, the org\'s own approval missing');
    assert.match(after.quorum.missing, /no approver of regulator holds a valid token to give it: the operator opens regulator with gatekeeper\.rebootstrap/);
    assert.equal(await t.whoami(secret), 401, 'no monitor minted by the gatekeepers');
  });

  test('cannot be given a gatekeeper role: a gatekeeper quorum would mint itself the monitor it needs', async () => {
    const res = await h.call('officer', 'POST', '/v1/tokens', { principal: 'pat', org: 'gatekeeper', role: 'officer' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(errorCode(res), 'invalid_argument');
    assert.match(res.body, /named in approver group \\"monitors\\"/);
    // Nor by the bootstrap path.
    await assert.rejects(h.enclave.tokens.issue({ principal: 'pat', org: 'gatekeeper', role: 'approver' }), /named in approver group "monitors"/);
    // Named in the gatekeepers' own group (required too, but not a check from outside): a gatekeeper role is hers to hold.
    const gina = await h.call('officer', 'POST', '/v1/tokens', { principal: 'gina', org: 'gatekeeper', role: 'officer' });
    assert.equal(gina.statusCode, 202, gina.body);
    // As the provider's, it is proposed like any monitor's token.
    const ok = await h.call('officer', 'POST', '/v1/tokens', { principal: 'pat', org: 'trusted-provider', role: 'monitor' });
    assert.equal(ok.statusCode, 202, ok.body);
  });

  test('who is already a gatekeeper when the configuration names them there never counts as the monitor', async () => {
    // Made before the configuration named pat (here straight into the control store, as an older store holds it).
    const secret = newTokenSecret();
    await h.enclave.control.tokens.create(
      { id: 'pat', org: 'gatekeeper', role: 'approver', createdAt: Date.now() },
      { id: 'tok-pat', hash: hashToken(secret), principalId: 'pat', label: '', createdAt: Date.now(), expiresAt: null, revokedAt: null, replaces: null, lineage: 'tok-pat' },
    );
    assert.equal((await h.call('service', 'POST', '/v1/subjects', { id: 'pia', country: 'US' })).statusCode, 201);
    const justification = { code: 'support-ticket', text: 'ticket 4712: messages missing from the inbox' };
    const request = json<{ id: string; digest: string }>(await h.call('officer', 'POST', '/v1/access/requests', { scope: { subjects: ['pia'] }, purpose: 'support', justification, duration_seconds: 600 }));
    assert.equal((await h.call('approver', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest })).statusCode, 200);
    const byPat = await h.app.inject({ method: 'POST', url: `/v1/access/requests/${request.id}/approve`, headers: { authorization: `Bearer ${secret}` }, payload: { digest: request.digest } });
    assert.equal(byPat.statusCode, 200, byPat.body);
    const state = json<{ status: string; quorum: { met: boolean; missing: string } }>(byPat);
    assert.equal(state.status, 'pending', 'a gatekeeper and a gatekeeper are not a gatekeeper and a monitor');
    assert.match(state.quorum.missing, /monitors/);
    // Positive control: the provider's monitor completes it.
    assert.equal(json<{ status: string }>(await h.call('provider', 'POST', `/v1/access/requests/${request.id}/approve`, { digest: request.digest })).status, 'approved');
  });
});
