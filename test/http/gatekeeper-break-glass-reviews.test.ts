// Break-glass is reviewed afterwards, and revoking or letting a grant expire never stands in for that
// review: one principal's uses awaiting review are capped (gatekeeper.break_glass.max_unreviewed, default
// 3), counted from the control store, so a restarted or another instance counts them too.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/core/config.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { buildServer } from '../../src/http/server.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import { openEnclave, type Enclave } from '../../src/services/enclave.ts';
import { starterConfig } from '../../src/services/starter-config.ts';
import type { RoleName } from '../helpers/fixture.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { loggedEvents } from '../helpers/log.ts';

const MINUTE = 60_000;

interface BreakGlassBody {
  id: string;
  grant: string;
  digest: string;
  review: string;
}

const emergency = (subject: string, duration_seconds = 600) => ({
  scope: { subjects: [subject], collections: ['messages'] },
  purpose: 'security',
  justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' },
  duration_seconds,
});

describe('break-glass uses awaiting review are capped (gatekeeper.break_glass.max_unreviewed)', () => {
  let now = Date.parse('2026-06-01T09:00:00Z');
  let h: HttpFixture;
  /** A second officer, whose own uses are counted apart. */
  let other: string;
  const uses: BreakGlassBody[] = [];

  const open = async (subject: string, duration?: number, token?: string): Promise<LightMyRequestResponse> =>
    token === undefined
      ? h.call('officer', 'POST', '/v1/break-glass', emergency(subject, duration))
      : h.app.inject({ method: 'POST', url: '/v1/break-glass', headers: { authorization: `Bearer ${token}` }, payload: emergency(subject, duration) });
  const opened = async (subject: string, duration?: number): Promise<BreakGlassBody> => {
    const res = await open(subject, duration);
    assert.equal(res.statusCode, 201, res.body);
    const body = json<BreakGlassBody>(res);
    uses.push(body);
    return body;
  };
  const revoke = async (use: BreakGlassBody) => assert.equal((await h.call('officer', 'POST', `/v1/access/grants/${use.grant}/revoke`)).statusCode, 200);
  const review = async (as: RoleName, use: BreakGlassBody, verdict: 'justified' | 'unjustified') => {
    const res = await h.call(as, 'POST', `/v1/break-glass/${use.id}/review`, { digest: use.digest, verdict });
    assert.equal(res.statusCode, 200, res.body);
    return json<BreakGlassBody>(res);
  };
  /** Everything a break-glass writes: log entries, requests and grants. */
  const written = async () =>
    JSON.stringify({
      log: (await loggedEvents(h.enclave)).length,
      requests: (await h.enclave.control.accessRequests.list({ limit: 1000 })).map((r) => r.id),
      grants: (await h.enclave.control.grants.list({ limit: 1000 })).map((g) => g.id),
    });

  before(async () => {
    h = await makeHttpFixture({ open: { clock: () => now } });
    for (const id of ['ann', 'bo', 'cy', 'di']) assert.equal((await h.call('service', 'POST', '/v1/subjects', { id, country: 'US' })).statusCode, 201);
    other = (await h.enclave.tokens.issue({ principal: 'officer-2', org: 'gatekeeper', role: 'officer' })).secret;
  });
  after(async () => h.close());

  it('revoking or waiting out each grant does not reopen break-glass past three unreviewed uses; the refusal says a review clears it', async () => {
    await revoke(await opened('ann'));
    now += MINUTE;
    await opened('bo', 60);
    now += 2 * MINUTE; // the second one's grant expired
    await revoke(await opened('cy'));
    // None open now (max_open 1 is not what refuses), but three await review.
    const before = await written();
    const refused = await open('di');
    assert.equal(refused.statusCode, 409, refused.body);
    assert.equal(errorCode(refused), 'breakglass_limit');
    const error = json<{ error: { message: string; details: { key: string } } }>(refused).error;
    assert.equal(error.details.key, 'gatekeeper.break_glass.max_unreviewed');
    assert.equal(
      error.message,
      `3 break-glass uses of yours await review (${uses.map((u) => u.id).join(', ')}), as many as gatekeeper.break_glass.max_unreviewed (3) allows, whether their grants are open, revoked or expired: no more break-glass until the approvers of gatekeeper.break_glass.review review one (enclave break-glass review ${uses[0]?.id}); for access meanwhile, file an access request (enclave access request)`,
    );
    // A refusal leaves no trace but the response.
    assert.equal(await written(), before);
    // Another principal's uses are counted apart.
    assert.equal((await open('di', 60, other)).statusCode, 201);
  });

  it('the count is read from the store: an instance opened afterwards refuses the same', async () => {
    // A second instance on the same stores: nothing of the first's memory.
    let second: Enclave | undefined;
    let app: FastifyInstance | undefined;
    try {
      second = await openEnclave(loadConfig(h.configPath), { clock: () => now, instance: 'second' });
      for (const share of readDevShares(h.dataDir) ?? []) await second.seal.submit(share);
      app = await buildServer(second);
      const res = await app.inject({ method: 'POST', url: '/v1/break-glass', headers: { authorization: `Bearer ${h.tokens.officer}` }, payload: emergency('di') });
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(json<{ error: { details: { key: string } } }>(res).error.details.key, 'gatekeeper.break_glass.max_unreviewed');
    } finally {
      await app?.close();
      await second?.close();
    }
  });

  it('a review in progress does not clear a use; a completed review does, and so does one finding it unjustified', async () => {
    const [first, second] = uses;
    assert.ok(first && second);
    // One of the k = 2 reviewers: still awaiting review.
    assert.equal((await review('approver', first, 'justified')).review, 'awaiting-review');
    assert.equal((await open('di')).statusCode, 409);
    // The trusted provider's monitor completes it: one place frees.
    assert.equal((await review('provider', first, 'justified')).review, 'reviewed');
    const fourth = await opened('di');
    await revoke(fourth);
    assert.equal(errorCode(await open('ann')), 'breakglass_limit');
    // One reviewer finding a use unjustified ends its review as well.
    assert.equal((await review('approver', second, 'unjustified')).review, 'unjustified');
    assert.equal((await open('ann')).statusCode, 201);
  });
});

describe('gatekeeper.break_glass.max_unreviewed in the configuration', () => {
  const breakGlass = (edit: (bg: Record<string, unknown>) => void) => {
    const doc = parse(starterConfig()) as { gatekeeper: { break_glass: Record<string, unknown> } };
    edit(doc.gatekeeper.break_glass);
    return parseConfig(parse(stringify(doc))).gatekeeper.breakGlass;
  };
  const refused = (edit: (bg: Record<string, unknown>) => void): string => {
    try {
      breakGlass(edit);
    } catch (err) {
      assert.ok(err instanceof EnclaveError && err.code === 'invalid_config', String(err));
      return err.message;
    }
    assert.fail('the configuration loaded');
  };

  it('defaults to 3, or to max_open when that is higher, and takes the value the file sets', () => {
    assert.equal(breakGlass(() => undefined).maxUnreviewed, 3);
    assert.equal(breakGlass((b) => Object.assign(b, { max_open: 5 })).maxUnreviewed, 5);
    assert.equal(breakGlass((b) => Object.assign(b, { max_unreviewed: 1 })).maxUnreviewed, 1);
  });

  it('is refused at load below max_open, below 1, above 100, or not a whole number, naming the key', () => {
    assert.match(refused((b) => Object.assign(b, { max_open: 3, max_unreviewed: 2 })), /gatekeeper\.break_glass\.max_unreviewed \(2\) must be at least gatekeeper\.break_glass\.max_open \(3\): every open break-glass awaits its review/);
    assert.match(refused((b) => Object.assign(b, { max_unreviewed: 0 })), /gatekeeper\.break_glass\.max_unreviewed must be >= 1/);
    assert.match(refused((b) => Object.assign(b, { max_unreviewed: 101 })), /gatekeeper\.break_glass\.max_unreviewed must be <= 100/);
    assert.match(refused((b) => Object.assign(b, { max_unreviewed: 'three' })), /gatekeeper\.break_glass\.max_unreviewed must be an integer/);
  });
});
