// Break-glass limits at the service: a scope names its subjects, at most gatekeeper.break_glass.max_subjects,
// and one principal holds at most max_open break-glass grants open. A refusal logs and stores nothing.
// Openings raced past the count of uses awaiting review (max_unreviewed) are refused once stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import type { Principal } from '../../src/core/principal.ts';
import type { AccessInput } from '../../src/services/access-service.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';
import { hold, whileHeld } from '../helpers/hold.ts';
import { loggedEvents } from '../helpers/log.ts';

const MINUTE = 60_000;
const SUBJECTS = ['ann', 'bo', 'cy'];
const emergency = (subjects: readonly string[] | undefined, durationSeconds = 600): AccessInput => ({
  scope: { ...(subjects ? { subjects } : {}), collections: ['messages'] },
  purpose: 'security',
  justification: { code: 'security-incident', text: 'account takeover in progress, tracing the attacker' },
  durationSeconds,
});

async function rejected(p: Promise<unknown>, code: ErrorCode): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof EnclaveError, String(err));
    assert.equal(err.code, code, err.message);
    return err.message;
  }
  assert.fail(`expected ${code}, the break-glass opened`);
}

/** Everything a break-glass writes: log entries, requests, grants, and the in-memory index. */
async function written(f: Fixture): Promise<string> {
  const c = f.enclave.control;
  return JSON.stringify({
    log: (await loggedEvents(f.enclave)).length,
    requests: (await c.accessRequests.list({ limit: 1000 })).map((r) => r.id),
    grants: (await c.grants.list({ limit: 1000 })).map((g) => g.id),
    index: f.enclave.grants.epoch,
  });
}

/** A fixture with a second officer and three subjects; `limits` replace the starter's break-glass limits. */
async function fixture(clock: () => number, limits?: string): Promise<{ f: Fixture; second: Principal }> {
  const f = await makeFixture({ open: { clock }, ...(limits === undefined ? {} : { config: (s: string) => s.replace('    max_subjects: 10\n    max_open: 1\n', limits) }) });
  for (const id of SUBJECTS) await f.enclave.vault.registerSubject(f.principals.service, { id, country: 'US' });
  const issued = await f.enclave.tokens.issue({ principal: 'officer-2', org: 'gatekeeper', role: 'officer' });
  return { f, second: await f.enclave.tokens.authenticate(issued.secret) };
}

describe('break-glass limits (the service)', () => {
  let now = Date.parse('2026-06-01T09:00:00Z');
  let f: Fixture;
  let second: Principal;
  const open = (input: AccessInput, who: Principal = f.principals.officer) => f.enclave.access.breakGlass(who, input);

  before(async () => {
    // The starter's limits: max_subjects 10, max_open 1.
    ({ f, second } = await fixture(() => now));
  });
  after(async () => f.close());

  it('a scope over max_subjects, or naming no subject, is refused as invalid_scope, with nothing logged or stored', async () => {
    const before = await written(f);
    const over = await rejected(open(emergency(Array.from({ length: 11 }, (_, i) => `s-${i}`))), 'invalid_scope');
    assert.match(over, /break-glass names at most 10 \(gatekeeper\.break_glass\.max_subjects\) subjects, this scope names 11: file an access request/);
    const whole = await rejected(open(emergency(undefined)), 'invalid_scope');
    assert.match(whole, /must name its subjects, at most 10 \(gatekeeper\.break_glass\.max_subjects\), and never opens whole collections/);
    assert.equal(await written(f), before);
    // The same wide scopes remain open to an access request (k approvals first).
    const asked = await f.enclave.access.request(f.principals.officer, { ...emergency(undefined), purpose: 'support' });
    assert.equal(asked.status, 'pending');
  });

  it('one open at a time (max_open 1): a second is refused, naming the open grant and its expiry, with nothing logged or stored', async () => {
    const first = await open(emergency(['ann', 'bo']));
    assert.equal(first.status, 'approved');
    const before = await written(f);
    const msg = await rejected(open(emergency(['cy'])), 'breakglass_limit');
    const expiry = new Date(now + 10 * MINUTE).toISOString();
    assert.equal(msg, `1 break-glass grant is open for you (${first.grant}), as many as gatekeeper.break_glass.max_open (1) allows: revoke it (enclave access revoke ${first.grant}) or wait until it expires at ${expiry}; for more, file an access request (enclave access request)`);
    assert.equal(await written(f), before);

    // Another principal holds none: not affected.
    const theirs = await open(emergency(['cy']), second);
    assert.match(theirs.grant ?? '', /^gr_/);

    // Revoked, the first no longer counts.
    await f.enclave.access.revoke(f.principals.officer, first.grant ?? '');
    const again = await open(emergency(['cy'], 60));
    // Expired (at its expires_at), neither does this one.
    await rejected(open(emergency(['ann'])), 'breakglass_limit');
    now += MINUTE;
    const third = await open(emergency(['ann']));
    assert.notEqual(third.grant, again.grant);
  });

  it('two openings at once: the store lets one through, whatever the check before the log said', async () => {
    now += 11 * MINUTE; // past every grant opened above
    // The uses above are reviewed, so that max_unreviewed (default 3) is not what refuses here.
    for (const use of await f.enclave.access.list(f.principals.officer, { kind: 'breakglass' })) {
      if (use.requester.id !== f.principals.officer.id) continue;
      for (const reviewer of [f.principals.approver, f.principals.provider]) await f.enclave.access.reviewBreakGlass(reviewer, use.id, { verdict: 'approve', digest: use.digest });
    }
    const results = await Promise.allSettled([open(emergency(['ann'])), open(emergency(['bo']))]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected');
    assert.ok(refused?.reason instanceof EnclaveError && refused.reason.code === 'breakglass_limit', String(refused?.reason));
    const mine = (await f.enclave.control.grants.list({ principal: f.principals.officer.id })).filter((g) => g.breakglass && g.revokedAt === null && g.expiresAt > now);
    assert.equal(mine.length, 1, 'one grant stored');
    assert.equal(f.enclave.grants.active(f.principals.officer.id, now).filter((g) => g.breakglass).length, 1, 'and one in the index');
  });
});

describe('break-glass limits as configured: max_subjects 2, max_open 2', () => {
  const now = Date.parse('2026-06-01T09:00:00Z');
  let f: Fixture;
  before(async () => {
    ({ f } = await fixture(() => now, '    max_subjects: 2\n    max_open: 2\n'));
  });
  after(async () => f.close());

  it('allows that many open at once, each of that many subjects, and names them all when refusing one more', async () => {
    const a = await f.enclave.access.breakGlass(f.principals.officer, emergency(['ann', 'bo'], 1200));
    const b = await f.enclave.access.breakGlass(f.principals.officer, emergency(['bo'], 600));
    const msg = await rejected(f.enclave.access.breakGlass(f.principals.officer, emergency(['cy'])), 'breakglass_limit');
    // Soonest expiry first: b's.
    assert.match(msg, new RegExp(`^2 break-glass grants are open for you \\(${b.grant}, ${a.grant}\\), as many as gatekeeper\\.break_glass\\.max_open \\(2\\) allows: revoke one \\(enclave access revoke ${b.grant}\\) or wait until the first expires at ${new Date(now + 10 * MINUTE).toISOString()}`));
  });

  it('one subject more than max_subjects is refused; who may not open break-glass is refused first', async () => {
    assert.match(await rejected(f.enclave.access.breakGlass(f.principals.officer, emergency(SUBJECTS)), 'invalid_scope'), /at most 2 \(gatekeeper\.break_glass\.max_subjects\) subjects, this scope names 3/);
    assert.doesNotMatch(await rejected(f.enclave.access.breakGlass(f.principals.approver, emergency(SUBJECTS)), 'forbidden'), /max_subjects/);
  });
});

describe('break-glass limits raced: max_open 1, max_unreviewed 1', () => {
  const now = Date.parse('2026-06-01T09:00:00Z');
  let f: Fixture;
  before(async () => {
    ({ f } = await fixture(() => now, '    max_subjects: 10\n    max_open: 1\n    max_unreviewed: 1\n'));
  });
  after(async () => f.close());

  it('an opening that passed the count while another was stored and revoked is refused, its grant revoked: max_unreviewed holds', async () => {
    const officer = f.principals.officer;
    // The first opening has passed both counts (nothing open, nothing awaiting review) and waits on the log.
    const held = hold(f.enclave.log, 'append', (e) => e.type === 'breakglass.opened', { once: true });
    const first = f.enclave.access.breakGlass(officer, emergency(['ann'])).then(
      () => undefined,
      (err: unknown) => err,
    );
    await whileHeld(held, async () => {
      assert.equal(await Promise.race([held.reached.then(() => 'held'), first]), 'held', 'the first opening waits on the log');
      // Meanwhile a second opening is stored, and its grant revoked: nothing is open when the first inserts.
      const second = await f.enclave.access.breakGlass(officer, emergency(['bo']));
      await f.enclave.access.revoke(officer, second.grant ?? '');
    });
    const late = await first;
    assert.ok(late instanceof EnclaveError, `the opening was honoured past max_unreviewed: ${String(late)}`);
    assert.equal(late.code, 'breakglass_limit', late.message);
    assert.match(late.message, /more than gatekeeper\.break_glass\.max_unreviewed \(1\) allows, so its grant gr_\S+ is revoked/);
    const stillOpen = (await f.enclave.control.grants.list({ principal: officer.id })).filter((g) => g.breakglass && g.revokedAt === null && g.expiresAt > now);
    assert.deepEqual(stillOpen, [], 'no break-glass grant stays open');
    assert.equal(f.enclave.grants.active(officer.id, now).length, 0, 'nor does this instance honour one');
    const grantsRevoked = (await loggedEvents(f.enclave)).filter((e) => e.type === 'grant.revoked').length;
    assert.equal(grantsRevoked, 2, 'the revocation is logged');
  });
});
