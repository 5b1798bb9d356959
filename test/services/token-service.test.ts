// Principals and bearer tokens: every failed authentication is `unauthenticated` without saying which
// check failed; bad issue requests are `invalid_argument`; secrets are never stored.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { EnclaveConfig } from '../../src/core/config.ts';
import { EnclaveError, type ErrorCode } from '../../src/core/errors.ts';
import { newTokenSecret } from '../../src/crypto/token-secret.ts';
import { SHARED_STATE_REFRESH_MS } from '../../src/services/shared-state.ts';
import { TokenService } from '../../src/services/token-service.ts';
import { makeFixture, type Fixture } from '../helpers/fixture.ts';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<string> {
  let msg = '';
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof EnclaveError, inspect(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    msg = err.message;
    return true;
  });
  return msg;
}

void describe('token service', () => {
  let fx: Fixture;
  let tokens: TokenService;
  before(async () => {
    fx = await makeFixture();
    tokens = fx.enclave.tokens;
  });
  after(async () => {
    await fx.close();
  });

  void it('issues a token that authenticates as its principal, org kind and role', async () => {
    const issued = await tokens.issue({ principal: 'svc-a', org: 'platform', role: 'service', label: 'ci' });
    assert.match(issued.secret, /^enc_[A-Za-z0-9_-]{43}$/);
    assert.equal(issued.expiresAt, null);
    const p = await tokens.authenticate(issued.secret);
    assert.deepEqual(p, { id: 'svc-a', org: 'platform', orgKind: 'service', role: 'service', tokenId: issued.id });
    const parent = await tokens.authenticate(fx.tokens.parent);
    assert.equal(parent.orgKind, 'parent');
    // While the token is cached, every request gets the one principal object (what is kept per principal
    // object, e.g. the log's copy of the actor, is then kept once), and it cannot be changed under them.
    assert.equal(await tokens.authenticate(issued.secret), p);
    assert.ok(Object.isFrozen(p));
  });

  void it('unknown, expired, revoked and malformed tokens are all unauthenticated', async () => {
    const t0 = Date.parse('2026-03-01T00:00:00Z');
    const expiring = await tokens.issue({ principal: 'svc-exp', org: 'platform', role: 'service', ttlSeconds: 60 }, t0);
    assert.equal(expiring.expiresAt, '2026-03-01T00:01:00.000Z');
    assert.equal((await tokens.authenticate(expiring.secret, t0 + 59_999)).id, 'svc-exp');
    const expired = await rejectsWith(tokens.authenticate(expiring.secret, t0 + 60_000), 'unauthenticated');

    const revokedToken = await tokens.issue({ principal: 'svc-rev', org: 'platform', role: 'service' });
    await tokens.authenticate(revokedToken.secret);
    await fx.enclave.control.tokens.revoke(revokedToken.id, Date.now());
    // Revoked in the store, as another instance would: refused once the cached answer is a refresh old.
    const revoked = await rejectsWith(tokens.authenticate(revokedToken.secret, Date.now() + SHARED_STATE_REFRESH_MS), 'unauthenticated');
    const unknown = await rejectsWith(tokens.authenticate(newTokenSecret()), 'unauthenticated');
    assert.equal(expired, unknown, 'the message does not say which check failed');
    assert.equal(revoked, unknown);

    for (const bad of ['', 'Bearer x', 'enc_short', `${fx.tokens.service}x`, fx.tokens.service.toUpperCase(), ` ${fx.tokens.service}`]) {
      await rejectsWith(tokens.authenticate(bad), 'unauthenticated');
    }
  });

  void it('a token revoked elsewhere stops working within the refresh interval; one revoked here, at once', async () => {
    const elsewhere = await tokens.issue({ principal: 'svc-far', org: 'platform', role: 'service' });
    const t0 = Date.now();
    assert.equal((await tokens.authenticate(elsewhere.secret, t0)).id, 'svc-far');
    await fx.enclave.control.tokens.revoke(elsewhere.id, t0);
    // This instance read the token at t0 and may trust that read for one refresh interval, no longer.
    await rejectsWith(tokens.authenticate(elsewhere.secret, t0 + SHARED_STATE_REFRESH_MS), 'unauthenticated');

    const here = await tokens.issue({ principal: 'officer-near', org: 'gatekeeper', role: 'officer' });
    const principal = await tokens.authenticate(here.secret, t0);
    assert.deepEqual(await fx.enclave.changes.revokeToken(principal, here.id), { revoked: true, token: here.id });
    await rejectsWith(tokens.authenticate(here.secret, t0), 'unauthenticated');
  });

  void it('an expiring token is refused from its expiry on, however recently it was read', async () => {
    const t0 = Date.parse('2026-03-01T00:00:00Z');
    const expiring = await tokens.issue({ principal: 'svc-exp2', org: 'platform', role: 'service', ttlSeconds: 60 }, t0);
    assert.equal((await tokens.authenticate(expiring.secret, t0 + 59_999)).id, 'svc-exp2');
    await rejectsWith(tokens.authenticate(expiring.secret, t0 + 60_000), 'unauthenticated');
  });

  void it('the service offers no way to revoke or list tokens alone: that goes through ChangeService and the policies', () => {
    assert.equal('revoke' in tokens, false);
    assert.equal('list' in tokens, false);
  });

  void it('refuses unknown orgs and roles, bad principal ids, bad lifetimes and principal clashes with invalid_argument', async () => {
    await rejectsWith(tokens.issue({ principal: 'x1', org: 'acme', role: 'service' }), 'invalid_argument', /unknown org "acme"/);
    await rejectsWith(tokens.issue({ principal: 'x2', org: 'parent', role: 'officer' }), 'invalid_argument', /org "parent" has no role "officer"/);
    for (const principal of ['', 'Alice', 'a b', '-x', 'x'.repeat(64)]) await rejectsWith(tokens.issue({ principal, org: 'platform', role: 'service' }), 'invalid_argument');
    for (const ttlSeconds of [0, -1, 1.5, Number.NaN]) await rejectsWith(tokens.issue({ principal: 'x3', org: 'platform', role: 'service', ttlSeconds }), 'invalid_argument');
    // The fixture's parent principal exists: it cannot be re-issued as a gatekeeper officer.
    await rejectsWith(tokens.issue({ principal: 'parent-1', org: 'gatekeeper', role: 'officer' }), 'invalid_argument', /another org or role/);
    const stillParent = await tokens.authenticate(fx.tokens.parent);
    assert.deepEqual([stillParent.org, stillParent.role], ['parent', 'engineer']);
  });

  void it('a token whose role is no longer configured no longer authenticates', async () => {
    const issued = await tokens.issue({ principal: 'svc-old', org: 'platform', role: 'service' });
    const config = fx.enclave.config;
    const platform = config.orgs.get('platform');
    assert.ok(platform);
    const orgs = new Map(config.orgs);
    orgs.set('platform', { ...platform, roles: new Map() });
    const narrowed: EnclaveConfig = { ...config, orgs };
    const other = new TokenService(fx.enclave.control.tokens, narrowed);
    await rejectsWith(other.authenticate(issued.secret), 'unauthenticated');
  });

  void it('stores only hashes: no token secret is in any file of the data directory', async () => {
    const list = await fx.enclave.control.tokens.list();
    assert.ok(list.length >= 6);
    for (const t of list) assert.match(t.token.hash, /^[0-9a-f]{64}$/);
    await fx.enclave.control.scrub();
    const files = readdirSync(fx.dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    for (const secret of Object.values(fx.tokens)) {
      for (const f of files) assert.equal(readFileSync(f).includes(Buffer.from(secret)), false, `${f} holds a token secret`);
    }
  });
});
