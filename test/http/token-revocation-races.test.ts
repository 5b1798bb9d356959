// Revoking a token ends the token its holder uses now, however often it was rotated since (docs/gatekeeper.md,
// "Changes by quorum"): a stolen token's holder cannot escape a revocation by rotating, neither before the
// revocation is proposed (a proposer working from a stale `token list`) nor while it is being approved. The
// interleavings are forced by holding a rotation at its log entry or at its store write.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { LogEventInput, LogReceipt } from '../../src/core/event-log.ts';
import { errorCode, json, makeHttpFixture, type HttpFixture } from '../helpers/http.ts';
import { loggedEvents } from '../helpers/log.ts';

interface ProposalBody {
  id: string;
  digest: string;
  status: string;
  outcome: string | null;
  revoke?: { token_id: string; principal: string };
}
interface Rotated {
  token: { id: string; replaces: string | null };
  secret: string;
  replaced: string;
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('a revocation ends the token its holder rotated into', () => {
  let h: HttpFixture;
  let bob: string;
  let carol: string;
  const raw = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown): Promise<LightMyRequestResponse> =>
    h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const holder = (name: string) => h.enclave.tokens.issue({ principal: name, org: 'gatekeeper', role: 'approver' });
  const whoami = async (secret: string) => (await raw(secret, 'GET', '/v1/whoami')).statusCode;
  /** An officer proposes revoking the token; two other officers approve, the second approval applies it. */
  const proposeRevoke = async (id: string): Promise<ProposalBody> => {
    const res = await h.call('officer', 'POST', `/v1/tokens/${id}/revoke`);
    assert.equal(res.statusCode, 202, res.body);
    return json<{ proposal: ProposalBody }>(res).proposal;
  };
  const approve = async (p: ProposalBody): Promise<ProposalBody> => {
    assert.equal(json<ProposalBody>(await raw(bob, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest })).status, 'pending');
    const res = await raw(carol, 'POST', `/v1/proposals/${p.id}/approve`, { digest: p.digest });
    assert.equal(res.statusCode, 200, res.body);
    return json<ProposalBody>(res);
  };
  /** The token.revoked entries of a proposal, in log order: the tokens each names. */
  const revokedBy = async (proposal: string) => (await loggedEvents(h.enclave)).filter((e) => e.type === 'token.revoked' && e.details['proposal'] === proposal).map((e) => e.details['tokens']);

  /** Runs `during` once, right after the first log entry `matches` selects is durable, before its writer goes on. */
  function afterEntry(matches: (e: LogEventInput) => boolean, during: () => Promise<void>): void {
    const log = h.enclave.log;
    const append = log.append.bind(log);
    let done = false;
    log.append = async (e: LogEventInput): Promise<LogReceipt> => {
      const receipt = await append(e);
      if (!done && matches(e)) {
        done = true;
        await during();
      }
      return receipt;
    };
  }
  /** Runs `during` once, right after the control store's first write (revoke or rotate) of token `id`, before its caller goes on. */
  function afterTokenWrite(id: string, during: () => Promise<void>): void {
    const tokens = h.enclave.control.tokens as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    let done = false;
    for (const method of ['revoke', 'rotate']) {
      const original = tokens[method];
      if (original === undefined) continue;
      tokens[method] = async (...args: unknown[]) => {
        const out = await original(...args);
        if (!done && args[0] === id) {
          done = true;
          await during();
        }
        return out;
      };
      unpatch.push(() => {
        tokens[method] = original;
      });
    }
  }
  const unpatch: (() => void)[] = [];
  const restore = () => {
    // The log's append is a method of its class: deleting the instance's own property brings it back.
    delete (h.enclave.log as { append?: unknown }).append;
    for (const f of unpatch.splice(0)) f();
  };

  before(async () => {
    h = await makeHttpFixture();
    bob = (await h.enclave.tokens.issue({ principal: 'bob', org: 'gatekeeper', role: 'officer' })).secret;
    carol = (await h.enclave.tokens.issue({ principal: 'carol', org: 'gatekeeper', role: 'officer' })).secret;
  });
  after(async () => h.close());

  test('a revocation proposed from a stale token list, after the token was rotated, ends the token it was rotated into; the log names it', async () => {
    const ivy = await holder('ivy');
    const listed = json<{ tokens: { id: string; state: string }[] }>(await h.call('officer', 'GET', '/v1/tokens')).tokens;
    assert.equal(listed.find((t) => t.id === ivy.id)?.state, 'active');
    // Meanwhile the holder (or whoever stole the token) rotates it.
    const rotated = json<Rotated>(await raw(ivy.secret, 'POST', '/v1/tokens/rotate'));
    assert.equal(rotated.token.replaces, ivy.id);
    const p = await proposeRevoke(ivy.id);
    assert.deepEqual(p.revoke, { token_id: ivy.id, principal: 'ivy' });
    const blocked = await raw(rotated.secret, 'POST', '/v1/tokens/rotate');
    assert.equal(errorCode(blocked), 'revocation_pending', 'the token it was rotated into cannot slip out either');
    assert.equal(await whoami(rotated.secret), 200, 'in force until the quorum approves');

    const applied = await approve(p);
    assert.equal(applied.status, 'applied');
    assert.equal(await whoami(rotated.secret), 401);
    assert.match(applied.outcome ?? '', new RegExp(`${ivy.id} revoked, with ${rotated.token.id} it was rotated into`));
    assert.deepEqual(await revokedBy(p.id), [[rotated.token.id]]);
    const entry = (await loggedEvents(h.enclave)).find((e) => e.type === 'token.revoked' && e.details['proposal'] === p.id);
    assert.equal(entry?.details['token'], ivy.id);
  });

  test('a revocation approved while a rotation is held after its entry: the rotation then finds its token revoked and creates nothing', async () => {
    const jack = await holder('jack');
    let applied: ProposalBody | undefined;
    afterEntry(
      (e) => e.type === 'token.issued' && e.details['replaces'] === jack.id,
      async () => {
        applied = await approve(await proposeRevoke(jack.id));
      },
    );
    try {
      const rotation = await raw(jack.secret, 'POST', '/v1/tokens/rotate');
      assert.equal(applied?.status, 'applied');
      assert.equal(rotation.statusCode, 401, rotation.body);
    } finally {
      restore();
    }
    const tokens = json<{ tokens: { principal: string; state: string }[] }>(await h.call('officer', 'GET', '/v1/tokens')).tokens.filter((t) => t.principal === 'jack');
    assert.deepEqual(tokens.map((t) => t.state), ['revoked'], 'no token was created for jack');
  });

  test('a revocation approved between the rotation\'s revocation of the old token and its creation of the new one ends the new one', async () => {
    const kim = await holder('kim');
    // The rotation passed its check for pending revocations before this one was proposed.
    let proposal: ProposalBody | undefined;
    let applied: ProposalBody | undefined;
    afterEntry(
      (e) => e.type === 'token.issued' && e.details['replaces'] === kim.id,
      async () => {
        proposal = await proposeRevoke(kim.id);
      },
    );
    afterTokenWrite(kim.id, async () => {
      assert.ok(proposal);
      applied = await approve(proposal);
    });
    let rotation: LightMyRequestResponse;
    try {
      rotation = await raw(kim.secret, 'POST', '/v1/tokens/rotate');
    } finally {
      restore();
    }
    assert.ok(proposal);
    assert.equal(rotation.statusCode, 200, rotation.body);
    const rotated = json<Rotated>(rotation);
    assert.equal(await whoami(rotated.secret), 401, 'the token the rotation created is revoked with its lineage');
    assert.equal(applied?.status, 'applied', applied?.outcome ?? '');
    assert.deepEqual(await revokedBy(proposal.id), [[rotated.token.id]]);
  });

  test('a rotation that commits between the revocation\'s entry and its store change is revoked with it and logged after', async () => {
    const lou = await holder('lou');
    const proposed = deferred<ProposalBody>();
    const release = deferred();
    afterEntry(
      (e) => e.type === 'token.issued' && e.details['replaces'] === lou.id,
      async () => {
        proposed.resolve(await proposeRevoke(lou.id));
        await release.promise;
      },
    );
    const rotation = raw(lou.secret, 'POST', '/v1/tokens/rotate');
    const p = await proposed.promise;
    let rotated: Rotated | undefined;
    afterEntry(
      (e) => e.type === 'token.revoked' && e.details['proposal'] === p.id,
      async () => {
        release.resolve();
        const res = await rotation;
        assert.equal(res.statusCode, 200, res.body);
        rotated = json<Rotated>(res);
      },
    );
    let applied: ProposalBody;
    try {
      applied = await approve(p);
    } finally {
      restore();
    }
    assert.ok(rotated);
    assert.equal(await whoami(rotated.secret), 401);
    assert.equal(applied.status, 'applied', applied.outcome ?? '');
    assert.deepEqual(await revokedBy(p.id), [[lou.id], [rotated.token.id]], 'the entry before names the token in force then; the one after, what was rotated from it meanwhile');
  });

  test('revoking one\'s own old token id ends the token it was rotated into', async () => {
    const mia = await holder('mia');
    const other = await holder('mia');
    const rotated = json<Rotated>(await raw(mia.secret, 'POST', '/v1/tokens/rotate'));
    const res = await raw(other.secret, 'POST', `/v1/tokens/${mia.id}/revoke`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(await whoami(rotated.secret), 401);
    assert.equal(await whoami(other.secret), 200, 'another token of the principal is not of that lineage');
    const entry = (await loggedEvents(h.enclave)).find((e) => e.type === 'token.revoked' && e.details['token'] === mia.id && e.details['own'] === true);
    assert.deepEqual(entry?.details['tokens'], [rotated.token.id]);
  });

  test('a token whose lineage is revoked cannot be proposed for revocation again', async () => {
    const ned = await holder('ned');
    const rotated = json<Rotated>(await raw(ned.secret, 'POST', '/v1/tokens/rotate'));
    assert.equal((await raw(rotated.secret, 'POST', `/v1/tokens/${rotated.token.id}/revoke`)).statusCode, 200);
    assert.equal(errorCode(await h.call('officer', 'POST', `/v1/tokens/${ned.id}/revoke`)), 'token_not_found');
  });
});
