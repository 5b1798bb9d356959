// Two gateway instances in one process on one set of PostgreSQL stores: each keeps the active grants and
// the active policy version in memory, so a grant approved or revoked, or a policy activated, through one
// instance must reach the other. It does at the other's next shared-state refresh (every second when
// serving; driven by hand here, so that the stale moment in between is visible and asserted), and at once
// on the instance that made the change.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { GrantRow } from '../../src/core/store.ts';
import { buildServer } from '../../src/http/server.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import { GrantIndex } from '../../src/services/grant-index.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { PolicyEngine } from '../../src/services/policy-engine.ts';
import { SERVICE_PURPOSE, type RoleName } from '../helpers/fixture.ts';
import { json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { dropSchemas, freshSchema, postgresConfig, postgresSkip } from '../helpers/postgres.ts';

const skip = await postgresSkip();
/** Never fires during the test: every refresh below is explicit. */
const NO_TIMER = 3_600_000;
const SECRET = 'secret-body-5c2a';

interface RecordBody {
  data: Record<string, unknown>;
  withheld: string[];
}

void describe('grants and policies across two instances (PostgreSQL)', { skip }, () => {
  const schemas = { control: freshSchema('shared_control'), us: freshSchema('shared_us'), eu: freshSchema('shared_eu'), log: freshSchema('shared_log') };
  let a: HttpFixture;
  let b: Enclave;
  let appB: FastifyInstance;

  const callB = (as: RoleName, method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    appB.inject({
      method,
      url,
      headers: { authorization: `Bearer ${a.tokens[as]}`, ...(as === 'service' ? { 'enclave-purpose': SERVICE_PURPOSE } : {}), ...headers },
      ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
    });
  const support = { 'enclave-purpose': 'support' };
  const released = async (res: Promise<{ statusCode: number; body: string }>): Promise<boolean> => {
    const r = await res;
    assert.equal(r.statusCode, 200, r.body);
    return !(JSON.parse(r.body) as RecordBody).withheld.includes('body');
  };

  before(async () => {
    a = await makeHttpFixture({ config: (yaml) => postgresConfig(yaml, schemas), open: { sharedStateRefreshMs: NO_TIMER, instance: 'a' } });
    b = await openEnclave(loadConfig(a.configPath), { sharedStateRefreshMs: NO_TIMER, instance: 'b' });
    for (const share of readDevShares(a.dataDir) ?? []) await b.seal.submit(share);
    appB = await buildServer(b);
    assert.equal((await a.call('service', 'POST', '/v1/subjects', { id: 'ann', country: 'US' })).statusCode, 201);
    const w = await a.call('service', 'POST', '/v1/collections/messages/records', { id: 'ann-msg', data: { sender_id: 'ann', recipient_id: 'bo', body: SECRET, sent_at: '2026-04-30T10:00:00Z' } });
    assert.equal(w.statusCode, 201, w.body);
  });
  after(async () => {
    await appB.close();
    await b.close();
    await a.close();
    await dropSchemas(...Object.values(schemas));
  });

  test('a grant approved through one instance is honoured by the other after its refresh; a revocation likewise', async () => {
    const req = json<{ id: string; digest: string }>(
      await a.call('officer', 'POST', '/v1/access/requests', {
        scope: { subjects: ['ann'], collections: ['messages'] },
        purpose: 'support',
        justification: { code: 'support-ticket', text: 'ticket 4711: the user reports messages missing from their inbox' },
        duration_seconds: 3600,
      }),
    );
    assert.equal((await callB('approver', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest })).statusCode, 200);
    const done = json<{ status: string; grant: string }>(await callB('provider', 'POST', `/v1/access/requests/${req.id}/approve`, { digest: req.digest }));
    assert.equal(done.status, 'approved');
    const read = (via: 'a' | 'b') => released(via === 'a' ? a.call('officer', 'GET', '/v1/collections/messages/records/ann-msg', undefined, support) : callB('officer', 'GET', '/v1/collections/messages/records/ann-msg', undefined, support));

    assert.equal(await read('b'), true, 'the instance that completed the quorum honours the grant at once');
    assert.equal(await read('a'), false, 'the other does not know it yet (fails safe: redacted)');
    await a.enclave.shared.once();
    assert.equal(await read('a'), true, 'after its refresh it does');

    assert.equal((await a.call('officer', 'POST', `/v1/access/grants/${done.grant}/revoke`)).statusCode, 200);
    assert.equal(await read('a'), false, 'revoked at once where it was revoked');
    assert.equal(await read('b'), true, 'the other instance still has it until its refresh (at most one interval)');
    await b.shared.once();
    assert.equal(await read('b'), false, 'and none after');
  });

  test('two instances registering the same new subjects at once: records sealed through either open on both', async () => {
    // Both pass the "not registered yet" check before either inserts; the loser's fresh data key must
    // not be the one it seals with (it once was: 13 rows of a parallel migration could not be read).
    const ids = Array.from({ length: 8 }, (_, i) => `twin-${i}`);
    const registered = await Promise.all(ids.flatMap((id) => [a.call('service', 'POST', '/v1/subjects', { id, country: 'US' }), callB('service', 'POST', '/v1/subjects', { id, country: 'US' })]));
    for (const r of registered) assert.ok(r.statusCode === 201 || r.statusCode === 409, r.body);
    const callA: typeof callB = (...args) => a.call(...args);
    for (const id of ids) {
      for (const [via, call] of [['a', callA], ['b', callB]] as const) {
        const data = { sender_id: id, recipient_id: 'bo', body: `${SECRET}-${via}`, sent_at: '2026-04-30T10:00:00Z' };
        const w = await call('service', 'POST', '/v1/collections/messages/records', { id: `${id}-via-${via}`, data });
        assert.equal(w.statusCode, 201, w.body);
      }
      for (const reader of [callA, callB]) {
        for (const via of ['a', 'b']) {
          const r = await reader('service', 'GET', `/v1/collections/messages/records/${id}-via-${via}`);
          assert.equal(r.statusCode, 200, `${id}-via-${via}: ${r.body}`);
          assert.equal(json<RecordBody>(r).data['body'], `${SECRET}-${via}`);
        }
      }
    }
  });

  test('a policy version activated through one instance is in force on the other after its refresh', async () => {
    const bob = (await a.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    const text = PolicyEngine.defaultText().replace(/@id\("public-fields"\)[\s\S]*?;\n/, '');
    const p = json<{ id: string; digest: string }>(await a.call('officer', 'POST', '/v1/policies/proposals', { text, description: 'drop public-fields' }));
    assert.equal((await a.call('approver', 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest })).statusCode, 200);
    const applied = await appB.inject({ method: 'POST', url: `/v1/proposals/${p.id}/approve`, headers: { authorization: `Bearer ${bob}` }, payload: { digest: p.digest } });
    assert.equal(json<{ status: string }>(applied).status, 'applied', applied.body);
    assert.equal(b.policies.version, 2);
    assert.equal(a.enclave.policies.version, 1, 'not yet on the other instance');
    assert.equal((await a.call('parent', 'GET', '/v1/collections/messages/records/ann-msg')).statusCode, 200);
    await a.enclave.shared.once();
    assert.equal(a.enclave.policies.version, 2);
    assert.equal((await a.call('parent', 'GET', '/v1/collections/messages/records/ann-msg')).statusCode, 403, 'without public-fields nobody reads public fields');
    await a.enclave.shared.once();
    assert.equal(a.enclave.policies.version, 2, 'a refresh with nothing new changes nothing');
  });
});

void describe('GrantIndex.replace', () => {
  const row = (id: string, revokedAt: number | null = null): GrantRow => ({
    id,
    requestId: `req-${id}`,
    principal: 'p',
    scope: '{"subjects":["s"]}',
    purpose: 'support',
    breakglass: false,
    createdAt: 0,
    expiresAt: Number.MAX_SAFE_INTEGER,
    revokedAt,
    revokedBy: revokedAt === null ? null : 'x',
  });

  test('replaces what differs, keeps what is the same, and never undoes a change made after the read', () => {
    const index = new GrantIndex();
    index.load([row('g1')]);
    const e0 = index.epoch;
    assert.equal(index.replace([row('g1')], e0), false, 'the same grants: no change, the decision cache stays');
    assert.equal(index.epoch, e0);
    assert.equal(index.replace([row('g1'), row('g2')], e0), true);
    assert.deepEqual(index.active('p', 0).map((g) => g.id).sort(), ['g1', 'g2']);
    // A refresh read g2 as active, then this instance revoked it: the stale read must not bring it back.
    const read = index.epoch;
    index.remove('g2');
    assert.equal(index.replace([row('g1'), row('g2')], read), false);
    assert.deepEqual(index.active('p', 0).map((g) => g.id), ['g1']);
    assert.equal(index.replace([row('g1'), row('g2', 5)], index.epoch), false, 'a revoked row is not active');
  });

  test('a revocation through another instance is applied even when this instance changed its grants during the read', () => {
    const index = new GrantIndex();
    index.load([row('g1'), row('g2')]);
    // The refresh reads the store (g2 revoked elsewhere meanwhile) while this instance creates g3.
    const read = index.epoch;
    index.add(row('g3'));
    assert.equal(index.replace([row('g1')], read), true, 'a local change during the read held back the revocation of g2');
    assert.deepEqual(index.active('p', 0).map((g) => g.id).sort(), ['g1', 'g3'], 'g2 gone, the local g3 kept');
    // A stream of local changes, one per refresh, never holds a revocation back either.
    for (let i = 4; i < 8; i++) {
      const e = index.epoch;
      index.add(row(`g${i}`));
      index.replace([row('g3'), ...Array.from({ length: i - 4 }, (_, k) => row(`g${k + 4}`))], e);
    }
    assert.deepEqual(index.active('p', 0).map((g) => g.id).sort(), ['g3', 'g4', 'g5', 'g6', 'g7'], 'g1, revoked elsewhere, is gone');
  });
});
