// Policy by quorum and tokens by quorum (issue 3 point 6, invariant 6): every path by which one person
// could change the policy set or another principal's tokens alone is tried, and refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DEFAULT_POLICIES } from '../../src/core/default-policies.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import type { RoleName } from '../helpers/fixture.ts';
import { loggedEvents } from '../helpers/log.ts';

interface ProposalBody {
  id: string;
  digest: string;
  status: string;
  outcome: string | null;
  quorum: { met: boolean; missing: string };
  policy?: { diff: { base_version: number; added: string[]; removed: string[]; changed: string[]; text: string } };
}

const SECRET = 'secret-email@example.test';

describe('policy by quorum', () => {
  let h: HttpFixture;
  /** A second gatekeeper officer, so that two people other than the proposer exist. */
  let bob: string;
  const raw = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const propose = (text: string, role: RoleName = 'officer') => h.call(role, 'POST', '/v1/policies/proposals', { text, description: 'test' });
  const approve = (role: RoleName, p: ProposalBody, digest = p.digest) => h.call(role, 'POST', `/v1/proposals/${p.id}/approve`, { digest });

  before(async () => {
    h = await makeHttpFixture();
    bob = (await h.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    await h.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' });
    await h.call('service', 'POST', '/v1/collections/users/records', { id: 'ann-u', data: { user_id: 'ann', username: 'ann', email: SECRET } });
  });
  after(async () => h.close());

  test('the active set, the invariants, the versions and the generated schema are readable', async () => {
    const res = await h.call('regulator', 'GET', '/v1/policies');
    assert.equal(res.statusCode, 200);
    const body = json<{ active: { version: number; text: string }; invariants: string; versions: unknown[] }>(res);
    assert.equal(body.active.version, 1);
    assert.equal(body.active.text, DEFAULT_POLICIES);
    assert.match(body.invariants, /invariant\/parent-never-protected/);
    const schema = json<{ schema: string }>(await h.call('officer', 'GET', '/v1/policies/schema')).schema;
    assert.match(schema, /entity Collection enum \["users", "messages"/);
    assert.match(schema, /entity Role enum \[.*"parent\/engineer"/);
  });

  test('a set that does not parse or validate is refused at once, with Cedar\'s diagnostics', async () => {
    const cases: [string, RegExp][] = [
      ['permit (principal, action, resource', /unexpected end of input/],
      ['@id("x") permit (principal, action == Enclave::Action::"record.reaad", resource);', /unrecognized action `Enclave::Action::"record\.reaad"`; did you mean/],
      ['@id("x") permit (principal, action, resource == Enclave::Collection::"userz");', /"userz"` is not declared/],
      ['@id("x") permit (principal, action, resource) when { context.nonsense };', /attribute `nonsense`/],
      ['permit (principal, action, resource);', /needs an @id/],
      ['@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);', /used twice/],
      ['@id("invariant/parent-never-protected") permit (principal, action, resource);', /reserved for the built-in invariants/],
      ['@id("t") permit (principal == ?principal, action, resource);', /templates/],
      // Deep enough to overflow the Cedar engine's stack, which then broke every later decision until a restart.
      [`@id("deep") permit (principal, action, resource) when { ${'('.repeat(200)}true${')'.repeat(200)} };`, /brackets nest more than 24 deep \(at 1:/],
    ];
    for (const [text, message] of cases) {
      const res = await propose(text);
      assert.equal(res.statusCode, 422, text);
      assert.equal(errorCode(res), 'policy_invalid');
      const err = json<{ error: { message: string; details: { problems: string[] } } }>(res).error;
      assert.match(err.details.problems.join(' | '), message, text);
    }
    assert.deepEqual(json<{ proposals: unknown[] }>(await h.call('officer', 'GET', '/v1/proposals?kind=policy')).proposals, [], 'nothing refused was stored');
    // The engine still decides: a read, and another proposal.
    assert.equal((await h.call('service', 'GET', '/v1/collections/users/records/ann-u')).statusCode, 200);
    assert.equal((await h.call('officer', 'GET', '/v1/policies')).statusCode, 200);
  });

  test('a proposal shows its diff and activates only after k approvals, never the proposer\'s', async () => {
    const text = DEFAULT_POLICIES.replace(/@id\("public-fields"\)[\s\S]*?;\n/, '');
    const p = json<ProposalBody>(await propose(text));
    assert.equal(p.status, 'pending');
    assert.deepEqual(p.policy?.diff.removed, ['public-fields']);
    assert.match(p.policy?.diff.text ?? '', /^-@id\("public-fields"\)$/m);

    assert.equal(errorCode(await approve('officer', p)), 'self_approval');
    assert.equal(errorCode(await approve('provider', p)), 'forbidden', 'the trusted provider is not in policy_approval');
    assert.equal(errorCode(await approve('parent', p)), 'forbidden');
    assert.equal(errorCode(await approve('approver', p, `sha256:${'0'.repeat(64)}`)), 'digest_mismatch');
    const one = json<ProposalBody>(await approve('approver', p));
    assert.equal(one.status, 'pending');
    assert.equal((await h.call('parent', 'GET', '/v1/collections/users/records/ann-u')).statusCode, 200, 'not active before the quorum');

    const two = await raw(bob, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest });
    assert.equal(json<ProposalBody>(two).status, 'applied', two.body);
    assert.match(json<ProposalBody>(two).outcome ?? '', /version 2/);
    // In force at once: without public-fields nobody reads public fields.
    assert.equal((await h.call('parent', 'GET', '/v1/collections/users/records/ann-u')).statusCode, 403);
    const policies = json<{ active: { version: number; approvers: string[] }; versions: { version: number }[] }>(await h.call('officer', 'GET', '/v1/policies'));
    assert.equal(policies.active.version, 2);
    assert.deepEqual(policies.active.approvers.sort(), ['approver-1', 'bob']);
    assert.deepEqual(policies.versions.map((v) => v.version), [1, 2], 'versions are kept');
    assert.equal(json<{ text: string }>(await h.call('officer', 'GET', '/v1/policies/versions/1')).text, DEFAULT_POLICIES);
    const types = (await loggedEvents(h.enclave)).map((e) => e.type);
    for (const t of ['policy.proposed', 'policy.approved', 'policy.activated'] as const) assert.ok(types.includes(t), t);

    // Back to the default, by quorum again.
    const back = json<ProposalBody>(await propose(DEFAULT_POLICIES));
    await approve('approver', back);
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${back.id}/approve`, { digest: back.digest })).status, 'applied');
    assert.equal((await h.call('parent', 'GET', '/v1/collections/users/records/ann-u')).statusCode, 200);
  });

  test('no later permit overrides the parent invariant, whatever the quorum approves', async () => {
    const permitAll = '@id("everything") permit (principal, action, resource);';
    const p = json<ProposalBody>(await propose(permitAll));
    await approve('approver', p);
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest })).status, 'applied');
    const read = await h.call('parent', 'GET', '/v1/collections/users/records/ann-u');
    assert.equal(read.statusCode, 200);
    assert.ok(!read.body.includes(SECRET));
    assert.equal((await h.call('parent', 'POST', '/v1/collections/users/records', { id: 'p-1', data: { user_id: 'ann', username: 'x', email: 'x@x.test' } })).statusCode, 403);
    assert.equal((await h.call('parent', 'DELETE', '/v1/subjects/ann')).statusCode, 403);
    assert.equal((await h.call('parent', 'POST', '/v1/policies/proposals', { text: permitAll })).statusCode, 403);
    // The officer reads everything now: that is what the quorum decided, and it is logged.
    assert.ok((await h.call('officer', 'GET', '/v1/collections/users/records/ann-u')).body.includes(SECRET));
    const restore = json<ProposalBody>(await propose(DEFAULT_POLICIES));
    await approve('approver', restore);
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${restore.id}/approve`, { digest: restore.digest })).status, 'applied');
  });

  test('a proposal made against a version no longer active cannot be applied', async () => {
    const a = json<ProposalBody>(await propose(`${DEFAULT_POLICIES}\n// a\n`));
    const b = json<ProposalBody>(await propose(`${DEFAULT_POLICIES}\n// b\n`));
    await approve('approver', a);
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${a.id}/approve`, { digest: a.digest })).status, 'applied');
    await approve('approver', b);
    const stale = await raw(bob, 'POST', `/v1/proposals/${b.id}/approve`, { digest: b.digest });
    assert.equal(stale.statusCode, 409);
    assert.equal(errorCode(stale), 'stale_proposal');
    const after = json<ProposalBody>(await h.call('officer', 'GET', `/v1/proposals/${b.id}`));
    assert.equal(after.status, 'failed');
    assert.match(after.outcome ?? '', /changed since it was proposed/);
  });

  test('one rejection ends a proposal', async () => {
    const p = json<ProposalBody>(await propose(`${DEFAULT_POLICIES}\n// rejected\n`));
    assert.equal(json<ProposalBody>(await h.call('approver', 'POST', `/v1/proposals/${p.id}/reject`, { digest: p.digest })).status, 'rejected');
    assert.equal(errorCode(await raw(bob, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest })), 'not_pending');
  });

  test('a set holding a character that hides or reorders text is refused: approvers would not read what Cedar runs', async () => {
    const cases: [string, string][] = [
      // Reads as a forbid protecting ann; the zero-width space in the string means it matches no subject.
      [`${DEFAULT_POLICIES}\n@id("protect-ann") forbid (principal, action, resource) when { context has subject && context.subject == "ann\u200b" };\n`, 'U+200B'],
      // A lone carriage return ends a Cedar comment: what reads as a note is a permit.
      [`${DEFAULT_POLICIES}\n// a note on the change\r@id("open") permit (principal, action, resource);\n`, 'U+000D'],
      // A right-to-left override makes the comment's text show where the code is.
      [`${DEFAULT_POLICIES}\n// \u202e; } eslaf { nehw\n`, 'U+202E'],
    ];
    for (const [text, code] of cases) {
      const res = await propose(text);
      assert.equal(res.statusCode, 422, `${code}: ${res.body}`);
      assert.equal(errorCode(res), 'policy_invalid');
      assert.match(json<{ error: { message: string } }>(res).error.message, new RegExp(`character ${code.replace('+', '\\+')} \\(at \\d+:\\d+\\) is invisible or reorders`));
    }
    // Line ends written CR LF, and the escape Cedar reads in a string, pass.
    const crlf = await propose(`${DEFAULT_POLICIES.replace(/\n/g, '\r\n')}@id("escaped") forbid (principal, action, resource) when { context has subject && context.subject == "x\\u{200b}" };\r\n`);
    assert.equal(crlf.statusCode, 201, crlf.body);
    assert.equal(json<ProposalBody>(await h.call('approver', 'POST', `/v1/proposals/${json<ProposalBody>(crlf).id}/reject`, { digest: json<ProposalBody>(crlf).digest })).status, 'rejected');
  });
});

describe('tokens by quorum', () => {
  let h: HttpFixture;
  let bob: string;
  const raw = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  before(async () => {
    h = await makeHttpFixture();
    bob = (await h.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
  });
  after(async () => h.close());

  test('a proposed token works only after k approvers other than the proposer approve it', async () => {
    const res = await h.call('officer', 'POST', '/v1/tokens', { principal: 'new-app', org: 'platform', role: 'service', label: 'ci' });
    assert.equal(res.statusCode, 202, res.body);
    const { proposal, secret } = json<{ proposal: ProposalBody & { token: { token_id: string } }; secret: string }>(res);
    assert.match(secret, /^enc_/);
    assert.ok(!JSON.stringify(proposal).includes(secret.slice(4)), 'the proposal never shows the secret');
    assert.equal((await raw(secret, 'GET', '/v1/whoami')).statusCode, 401, 'dormant until approved');

    assert.equal(errorCode(await h.call('officer', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })), 'self_approval');
    assert.equal(errorCode(await h.call('service', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })), 'forbidden');
    assert.equal(json<ProposalBody>(await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'pending');
    assert.equal((await raw(secret, 'GET', '/v1/whoami')).statusCode, 401, 'one approval is not enough');
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'applied');
    const who = await raw(secret, 'GET', '/v1/whoami');
    assert.equal(who.statusCode, 200);
    assert.equal(json<{ principal: string }>(who).principal, 'new-app');
    const listed = json<{ tokens: { id: string; state: string; principal: string }[] }>(await h.call('officer', 'GET', '/v1/tokens')).tokens;
    assert.ok(listed.some((t) => t.id === proposal.token.token_id && t.state === 'active'));
    assert.ok(!JSON.stringify(listed).includes(secret.slice(4)));
    const types = (await loggedEvents(h.enclave)).map((e) => e.type);
    for (const t of ['token.proposed', 'token.approved', 'token.issued'] as const) assert.ok(types.includes(t), t);
  });

  test('the holder of a token its proposer saw rotates it: the proposer\'s copy stops working, nothing else changes, one entry logs both', async () => {
    const res = await h.call('officer', 'POST', '/v1/tokens', { principal: 'dana', org: 'gatekeeper', role: 'approver', label: 'on call', ttl_seconds: 3600 });
    const { proposal, secret } = json<{ proposal: ProposalBody & { token: { token_id: string } }; secret: string }>(res);
    await h.call('approver', 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest });
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'applied');
    const before = (json<{ tokens: { id: string; expires_at: string | null }[] }>(await h.call('officer', 'GET', '/v1/tokens')).tokens).find((t) => t.id === proposal.token.token_id);
    assert.ok(before?.expires_at);

    const rotated = await raw(secret, 'POST', '/v1/tokens/rotate');
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.equal(rotated.headers['cache-control'], 'no-store');
    const out = json<{ token: { id: string; principal: string; org: string; role: string; label: string; expires_at: string | null; state: string }; secret: string; replaced: string }>(rotated);
    assert.equal(out.replaced, proposal.token.token_id);
    assert.notEqual(out.secret, secret);
    assert.deepEqual([out.token.principal, out.token.org, out.token.role, out.token.label, out.token.state], ['dana', 'gatekeeper', 'approver', 'on call', 'active']);
    assert.equal(out.token.expires_at, before.expires_at, 'never a later expiry than the token it replaces');
    assert.equal((await raw(secret, 'GET', '/v1/whoami')).statusCode, 401, 'the copy the proposer saw is revoked');
    assert.equal(json<{ principal: string }>(await raw(out.secret, 'GET', '/v1/whoami')).principal, 'dana');
    const tokens = json<{ tokens: { id: string; state: string }[] }>(await h.call('officer', 'GET', '/v1/tokens')).tokens;
    assert.equal(tokens.find((t) => t.id === proposal.token.token_id)?.state, 'revoked');
    assert.equal(tokens.find((t) => t.id === out.token.id)?.state, 'active');
    const entry = (await loggedEvents(h.enclave)).find((e) => e.type === 'token.issued' && e.details['replaces'] === proposal.token.token_id);
    assert.equal(entry?.details['token'], out.token.id);
    assert.equal(entry?.principal?.id, 'dana');
    assert.ok(!JSON.stringify(await loggedEvents(h.enclave)).includes(out.secret.slice(4)), 'the log never holds a secret');
  });

  test('rotation races: of two rotations of one token at once one wins, a principal already authenticated cannot rotate a revoked token, and a pending revocation blocks it', async () => {
    const carl = await h.enclave.tokens.issue({ principal: 'carl', org: 'gatekeeper', role: 'approver' });
    const both = await Promise.all([raw(carl.secret, 'POST', '/v1/tokens/rotate'), raw(carl.secret, 'POST', '/v1/tokens/rotate')]);
    assert.deepEqual(both.map((r) => r.statusCode).sort(), [200, 401], both.map((r) => r.body).join(' | '));
    const active = json<{ tokens: { principal: string; state: string }[] }>(await h.call('officer', 'GET', '/v1/tokens')).tokens.filter((t) => t.principal === 'carl' && t.state === 'active');
    assert.equal(active.length, 1, 'one token of carl is active, not two');

    // The service's own check, past the auth layer: a principal resolved before its token was revoked.
    const dora = await h.enclave.tokens.issue({ principal: 'dora', org: 'gatekeeper', role: 'approver' });
    const asDora = await h.enclave.tokens.authenticate(dora.secret);
    assert.equal(json<{ revoked: boolean }>(await raw(dora.secret, 'POST', `/v1/tokens/${dora.id}/revoke`)).revoked, true);
    await assert.rejects(h.enclave.changes.rotateOwnToken(asDora), (err: Error & { code?: string }) => err.code === 'unauthenticated');

    const eve = await h.enclave.tokens.issue({ principal: 'eve', org: 'gatekeeper', role: 'approver' });
    const proposed = await h.call('officer', 'POST', `/v1/tokens/${eve.id}/revoke`);
    assert.equal(proposed.statusCode, 202);
    const refused = await raw(eve.secret, 'POST', '/v1/tokens/rotate');
    assert.equal(refused.statusCode, 409);
    assert.equal(errorCode(refused), 'revocation_pending');
    assert.equal((await raw(eve.secret, 'GET', '/v1/whoami')).statusCode, 200, 'nothing changed: the token awaits its revocation');
  });

  test('single-person paths are refused: the parent, services and the regulator cannot propose tokens; unknown tokens are 404', async () => {
    for (const role of ['parent', 'service', 'regulator', 'provider'] as const) {
      const res = await h.call(role, 'POST', '/v1/tokens', { principal: 'sneaky', org: 'gatekeeper', role: 'officer' });
      assert.equal(res.statusCode, 403, `${role}: ${res.body}`);
    }
    assert.equal(errorCode(await h.call('officer', 'POST', '/v1/tokens', { principal: 'x', org: 'nasa', role: 'officer' })), 'invalid_argument');
    assert.equal(errorCode(await h.call('officer', 'POST', '/v1/tokens/tok_AAAAAAAAAAAA/revoke')), 'token_not_found');
    assert.equal(errorCode(await h.call('officer', 'POST', '/v1/tokens', { principal: 'bob', org: 'platform', role: 'service' })), 'invalid_argument', 'bob is an officer');
  });
  test('one\'s own token is revoked at once; someone else\'s only by quorum', async () => {
    const own = await h.call('approver', 'POST', `/v1/tokens/${h.principals.approver.tokenId}/revoke`);
    assert.equal(own.statusCode, 200);
    assert.equal((await h.call('approver', 'GET', '/v1/whoami')).statusCode, 401);

    const other = await h.call('officer', 'POST', `/v1/tokens/${h.principals.service.tokenId}/revoke`);
    assert.equal(other.statusCode, 202);
    const { proposal } = json<{ proposal: ProposalBody }>(other);
    assert.equal((await h.call('service', 'GET', '/v1/whoami')).statusCode, 200, 'still valid: one officer cannot revoke it alone');
    // The approver's token is revoked; bob and a third officer approve.
    const carol = (await h.enclave.tokens.issue({ principal: 'carol', org: 'gatekeeper', role: 'officer' })).secret;
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'pending');
    assert.equal(json<ProposalBody>(await raw(carol, 'POST', `/v1/proposals/${proposal.id}/approve`, { digest: proposal.digest })).status, 'applied');
    assert.equal((await h.call('service', 'GET', '/v1/whoami')).statusCode, 401);
  });

});

describe('an approver of tokens from outside the gatekeeper team', () => {
  let h: HttpFixture;
  before(async () => {
    // The trusted provider's monitors approve tokens here; by default only the gatekeeper team lists them.
    h = await makeHttpFixture({ config: (c) => c.replace('token_approval: { k: 2, from: [gatekeepers] }', 'token_approval: { k: 2, from: [gatekeepers, monitors] }') });
  });
  after(async () => h.close());

  test('sees the token proposals and the tokens it is asked to approve, and rejects one', async () => {
    const { proposal } = json<{ proposal: ProposalBody }>(await h.call('officer', 'POST', '/v1/tokens', { principal: 'new-app', org: 'platform', role: 'service' }));
    const shown = await h.call('provider', 'GET', `/v1/proposals/${proposal.id}`);
    assert.equal(shown.statusCode, 200, shown.body);
    assert.equal(json<ProposalBody>(shown).digest, proposal.digest);
    const listed = json<{ proposals: ProposalBody[] }>(await h.call('provider', 'GET', '/v1/proposals?kind=token.issue')).proposals;
    assert.deepEqual(listed.map((p) => p.id), [proposal.id]);
    assert.equal((await h.call('provider', 'GET', '/v1/tokens')).statusCode, 200);
    const res = await h.call('provider', 'POST', `/v1/proposals/${proposal.id}/reject`, { digest: proposal.digest });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(json<ProposalBody>(res).status, 'rejected');
    assert.equal(json<ProposalBody>(await h.call('officer', 'GET', `/v1/proposals/${proposal.id}`)).status, 'rejected');
  });

  test('the regulator, no approver, still cannot list tokens or read token proposals', async () => {
    const { proposal } = json<{ proposal: ProposalBody }>(await h.call('officer', 'POST', '/v1/tokens', { principal: 'other-app', org: 'platform', role: 'service' }));
    assert.equal(errorCode(await h.call('regulator', 'GET', `/v1/proposals/${proposal.id}`)), 'forbidden');
    assert.equal(errorCode(await h.call('regulator', 'GET', '/v1/tokens')), 'forbidden');
  });
});

test('with the starter configuration the provider, who approves only its own org\'s tokens, lists only those', async () => {
  const h = await makeHttpFixture();
  try {
    const res = await h.call('provider', 'GET', '/v1/tokens');
    assert.equal(res.statusCode, 200, res.body);
    const orgs = json<{ tokens: { org: string; principal: string }[] }>(res).tokens.map((t) => t.org);
    assert.deepEqual([...new Set(orgs)], ['trusted-provider']);
    assert.equal(errorCode(await h.call('regulator', 'GET', '/v1/tokens')), 'forbidden');
  } finally {
    await h.close();
  }
});
