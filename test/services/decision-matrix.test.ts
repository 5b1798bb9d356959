// The decision matrix (issue 3 point 9): every demo principal × every action × protected and public data
// × no grant, an active grant, an expired grant and a revoked grant, against the decision the seeds'
// rules call for. It runs against the Cedar decision point with the shipped policies, with and without
// the decision cache (which must never change an outcome), and checks that every decision names the
// policies that made it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ACTIONS, GATEKEEPER_ACTIONS, type Action } from '../../src/core/config-schema.ts';
import { parseConfig } from '../../src/core/config.ts';
import type { Decision } from '../../src/core/decision.ts';
import type { Principal } from '../../src/core/principal.ts';
import type { GrantRow } from '../../src/core/store.ts';
import { DEMO_PRINCIPALS } from '../../src/cli/demo/principals.ts';
import { CedarDecisionPoint } from '../../src/services/cedar-decision-point.ts';
import { GrantIndex } from '../../src/services/grant-index.ts';
import { PolicyEngine } from '../../src/services/policy-engine.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const config = parseConfig(parse(starterConfig()));
const NOW = Date.parse('2026-05-01T12:00:00Z');
const HOUR = 3_600_000;

type Outcome = 'deny' | 'allow' | 'redacted' | 'full';
type GrantState = 'none' | 'active' | 'expired' | 'revoked';
type Data = 'protected' | 'public';

/** The demo principals as the server sees them; the app states its purpose (and once more without one). */
const PRINCIPALS: readonly Principal[] = [
  ...DEMO_PRINCIPALS.map((p): Principal => {
    const kind = config.orgs.get(p.org)?.kind;
    assert.ok(kind, p.org);
    // Reads under a grant state the grant's purpose; the app states one of its own.
    return { id: p.principal, org: p.org, orgKind: kind, role: p.role, tokenId: `tok_${p.principal}`, purpose: kind === 'service' ? 'account' : 'support' };
  }),
  { id: 'app-without-purpose', org: 'platform', orgKind: 'service', role: 'service', tokenId: 'tok_x' },
];

const officers = new Set(['alice', 'bob', 'carol']);
const gatekeepers = new Set([...officers, 'dana']);

/** What the seeds' rules (issue 3 point 1) call for. */
function expected(p: Principal, action: Action, data: Data, grant: GrantState): Outcome {
  if (p.id === 'app-without-purpose') return 'deny'; // services act only for configured purposes
  const who = p.id;
  switch (action) {
    case 'record.read':
      if (data === 'public') return 'allow'; // public fields: every authenticated principal
      if (who === 'app') return 'full'; // a service reading for its purpose
      if (officers.has(who)) return grant === 'active' ? 'full' : 'redacted'; // only through an active grant
      return 'redacted'; // the parent, the provider, the regulator, and dana (reads: public) never
    case 'record.write':
    case 'record.delete':
      if (officers.has(who) || who === 'app') return 'allow';
      return 'deny';
    case 'subject.register':
      return officers.has(who) || who === 'app' ? 'allow' : 'deny';
    case 'subject.read':
      return 'allow';
    case 'subject.erase':
    case 'subject.rehome':
    case 'enclave.seal':
    case 'access.request':
    case 'breakglass.open':
      return officers.has(who) ? 'allow' : 'deny';
    case 'access.review':
    case 'access.list':
    case 'access.revoke':
    case 'breakglass.review':
      return gatekeepers.has(who) || who === 'provider' ? 'allow' : 'deny';
    case 'policy.read':
      return who === 'parent' ? 'deny' : 'allow'; // invariant/parent-no-governance
    case 'policy.propose':
    case 'policy.approve':
    case 'token.propose':
      return gatekeepers.has(who) ? 'allow' : 'deny';
    case 'token.list':
    case 'token.approve':
      // The provider's monitors, the access rules' independent check, see and approve the tokens of
      // their own org (the change service narrows them to it).
      return gatekeepers.has(who) || who === 'provider' ? 'allow' : 'deny';
    case 'token.revoke':
      return 'allow'; // one's own; someone else's is a proposal (token.propose)
    case 'log.read':
    case 'log.search':
      return gatekeepers.has(who) || who === 'provider' || who === 'regulator' ? 'allow' : 'deny'; // the log: by role; never the parent
    case 'log.disclose_key':
      return officers.has(who) ? 'allow' : 'deny';
  }
}

function outcome(d: Decision, action: Action, data: Data): Outcome {
  if (!d.allow) return 'deny';
  if (action !== 'record.read' || data === 'public') return 'allow';
  return d.release === 'protected' ? 'full' : 'redacted';
}

function setup(cacheSize: number) {
  const engine = new PolicyEngine(config);
  engine.activate(1, PolicyEngine.defaultText());
  const grants = new GrantIndex();
  return { engine, grants, dp: new CedarDecisionPoint({ config, engine, grants, cacheSize }) };
}

function grantFor(principal: string, state: GrantState, i: number): GrantRow | undefined {
  if (state === 'none') return undefined;
  return {
    id: `gr_${principal}${i}`,
    requestId: `req_${principal}${i}`,
    principal,
    scope: JSON.stringify({ subjects: ['ann'], collections: [], fields: [] }),
    purpose: 'support',
    breakglass: false,
    createdAt: NOW - 2 * HOUR,
    expiresAt: state === 'expired' ? NOW : NOW + HOUR,
    revokedAt: null,
    revokedBy: null,
  };
}

const users = config.collections.get('users');
const videos = config.collections.get('videos');
assert.ok(users && videos);
const ALL_ACTIONS: readonly Action[] = [...ACTIONS, ...GATEKEEPER_ACTIONS];

interface Cell {
  readonly principal: Principal;
  readonly action: Action;
  readonly data: Data;
}

function cells(): Cell[] {
  const out: Cell[] = [];
  for (const principal of PRINCIPALS) {
    for (const action of ALL_ACTIONS) {
      for (const data of action.startsWith('record.') ? (['protected', 'public'] as const) : (['protected'] as const)) out.push({ principal, action, data });
    }
  }
  return out;
}

function decideCell(s: ReturnType<typeof setup>, cell: Cell): Decision {
  const record = cell.action.startsWith('record.');
  // Protected data: the users collection with all its fields. Public data: a video (no protected field).
  const c = cell.data === 'protected' ? users : videos;
  const fields = cell.action === 'record.write' && cell.data === 'protected' ? ['user_id', 'username', 'email'] : c ? [...c.fields.keys()] : [];
  const protectedAccess = cell.action === 'access.request' || cell.action === 'breakglass.open';
  return s.dp.decideNow({ principal: cell.principal, action: cell.action, ...(record ? { collection: c, subject: 'ann', fields } : {}), protected: protectedAccess, now: new Date(NOW) });
}

void describe('the decision matrix', () => {
  for (const cacheSize of [0, 10_000]) {
    void it(`every demo principal × every action × data × grant state decides as the rules say (cache ${cacheSize === 0 ? 'off' : 'on'})`, () => {
      const s = setup(cacheSize);
      const wrong: string[] = [];
      const all = cells();
      let checked = 0;
      for (const state of ['none', 'active', 'expired', 'revoked'] as const) {
        // Every principal holds a grant in this state (a grant forced on the parent, the provider and the
        // regulator too: no grant may open protected data to them).
        const added = PRINCIPALS.map((p, i) => grantFor(p.id, state, i)).filter((g): g is GrantRow => g !== undefined);
        for (const g of added) s.grants.add(g);
        if (state === 'revoked') for (const g of added) s.grants.remove(g.id);
        // Twice: with the cache on, the second pass is answered from it and must agree.
        for (const pass of [1, 2]) {
          for (const cell of all) {
            const d = decideCell(s, cell);
            const got = outcome(d, cell.action, cell.data);
            const want = expected(cell.principal, cell.action, cell.data, state);
            checked++;
            if (got !== want) wrong.push(`pass ${pass}: ${cell.principal.id} ${cell.action} ${cell.data} grant=${state}: ${got}, expected ${want} (${d.policies.join(', ')}: ${d.reason})`);
            if (d.policies.length === 0) wrong.push(`${cell.principal.id} ${cell.action}: no policy named`);
            if (d.policyVersion !== 1) wrong.push(`${cell.principal.id} ${cell.action}: version ${d.policyVersion}`);
          }
        }
        for (const g of added) s.grants.remove(g.id);
      }
      assert.equal(checked, 2 * 4 * PRINCIPALS.length * (3 * 2 + (ALL_ACTIONS.length - 3)));
      assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} cells differ`);
    });
  }

  void it('decisions name their policies: the invariant for the parent, the grant for a read under it, default-deny when nothing permits', () => {
    const { dp, grants } = setup(0);
    const p = (id: string) => PRINCIPALS.find((x) => x.id === id) as Principal;
    const read = (who: string) => dp.decideNow({ principal: p(who), action: 'record.read', collection: users, subject: 'ann', now: new Date(NOW) });
    const parent = read('parent');
    assert.deepEqual(parent.policies, ['invariant/parent-never-protected', 'public-fields']);
    assert.match(parent.reason, /protected fields of users withheld: the parent company may never act on protected data/);
    const g = grantFor('alice', 'active', 0);
    assert.ok(g);
    grants.add(g);
    const alice = read('alice');
    assert.deepEqual(alice.policies, ['gatekeeper-grant-reads']);
    assert.deepEqual(alice.grant, { id: g.id, breakglass: false });
    assert.match(alice.reason, /allowed under grant gr_alice0/);
    const seal = dp.decideNow({ principal: p('regulator'), action: 'enclave.seal', now: new Date(NOW) });
    assert.deepEqual(seal.policies, ['provider-regulator-no-data']);
    const dana = dp.decideNow({ principal: p('dana'), action: 'record.write', collection: videos, fields: ['owner_id'], now: new Date(NOW) });
    assert.deepEqual(dana.policies, ['default-deny']);
    assert.match(dana.reason, /no policy permits record.write for role gatekeeper\/approver/);
  });

  void it('a cached decision never outlives a grant change, a grant expiry or a policy change', () => {
    const { dp, grants, engine } = setup(10_000);
    const alice = PRINCIPALS.find((x) => x.id === 'alice') as Principal;
    const read = (now: number) => dp.decideNow({ principal: alice, action: 'record.read', collection: users, subject: 'ann', now: new Date(now) }).release;
    assert.equal(read(NOW), 'public');
    const g = grantFor('alice', 'active', 7);
    assert.ok(g);
    grants.add(g);
    assert.equal(read(NOW), 'protected', 'a new grant is seen at once');
    assert.equal(read(NOW + HOUR - 1), 'protected');
    assert.equal(read(NOW + HOUR), 'public', 'the cached allow ends exactly at the grant\'s expiry');
    assert.equal(read(NOW), 'protected', 'the same instant as before, recomputed');
    grants.remove(g.id);
    assert.equal(read(NOW), 'public', 'revocation is seen at once');
    grants.add(g);
    assert.equal(read(NOW), 'protected');
    engine.activate(2, PolicyEngine.defaultText().replace('when { context has grant && context.role_reads_protected }', 'when { false }'));
    assert.equal(read(NOW), 'public', 'a new policy version is seen at once');
  });

  void it('a cached decision under a grant that names subjects is never reused for another subject', () => {
    const { dp, grants } = setup(10_000);
    const alice = PRINCIPALS.find((x) => x.id === 'alice') as Principal;
    const read = (subject: string) => dp.decideNow({ principal: alice, action: 'record.read', collection: users, subject, now: new Date(NOW) }).release;
    const g = grantFor('alice', 'active', 8);
    assert.ok(g);
    grants.add(g);
    for (let pass = 0; pass < 2; pass++) assert.deepEqual([read('ann'), read('bob'), read('ann')], ['protected', 'public', 'protected'], `pass ${pass}`);
    grants.add({ ...g, id: 'gr_every', scope: JSON.stringify({ subjects: [], collections: ['users'], fields: [] }) });
    assert.deepEqual([read('bob'), read('cyd'), read('ann')], ['protected', 'protected', 'protected'], 'a grant for every subject covers each');
  });
  void it('a policy that reads the context other than by attribute name (an if over context) gets every attribute: its decision depends on the subject, per subject', () => {
    const { dp, engine } = setup(10_000);
    engine.activate(2, `${PolicyEngine.defaultText()}\n@id("no-bob") @reason("bob's records are closed") forbid (principal, action, resource) when { (if true then context else context) has subject && (if true then context else context).subject == "bob" };`);
    const app = PRINCIPALS.find((x) => x.orgKind === 'service' && x.purpose !== undefined) as Principal;
    const read = (subject: string) => dp.decideNow({ principal: app, action: 'record.read', collection: users, subject, now: new Date(NOW) });
    for (let pass = 0; pass < 2; pass++) {
      const [ann, bob] = [read('ann'), read('bob')];
      assert.equal(ann.allow, true, `pass ${pass}: ${ann.reason}`);
      assert.equal(bob.allow, false, `pass ${pass}`);
      assert.deepEqual(bob.policies, ['no-bob']);
    }
  });
});
