// The role decision point. Invariant 2: the parent company never gets a protected value, even from a
// role that says otherwise (here built by hand, bypassing the configuration check that refuses it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ACTIONS, type Action, type OrgKind } from '../../src/core/config-schema.ts';
import { parseConfig, type CollectionDef, type EnclaveConfig, type OrgDef, type RoleDef } from '../../src/core/config.ts';
import type { Decision, DecisionRequest } from '../../src/core/decision.ts';
import type { Principal } from '../../src/core/principal.ts';
import { createRoleDecisionPoint, POLICY_PARENT_NEVER_PROTECTED, POLICY_ROLE_ACTIONS, POLICY_ROLE_READS } from '../../src/core/role-decision-point.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const STARTER = parseConfig(parse(starterConfig()));

/** The starter configuration with roles added by hand: validation would refuse the parent's. */
function withRoles(extra: Record<string, RoleDef[]>): EnclaveConfig {
  const orgs = new Map<string, OrgDef>();
  for (const [id, org] of STARTER.orgs) {
    const roles = new Map(org.roles);
    for (const r of extra[id] ?? []) roles.set(r.id, r);
    orgs.set(id, { ...org, roles });
  }
  return { ...STARTER, orgs };
}

const ALL: ReadonlySet<Action> = new Set(ACTIONS);
const CONFIG = withRoles({
  parent: [{ id: 'rogue', actions: ALL, reads: 'protected' }],
  platform: [{ id: 'writer', actions: new Set<Action>(['record.read', 'record.write', 'record.delete']), reads: 'public' }],
});
const dp = createRoleDecisionPoint(CONFIG);

function coll(name: string): CollectionDef {
  const c = CONFIG.collections.get(name);
  assert.ok(c);
  return c;
}
const USERS = coll('users');
const VIDEOS = coll('videos');

function principal(org: string, role: string, orgKind?: OrgKind): Principal {
  const kind = orgKind ?? CONFIG.orgs.get(org)?.kind;
  assert.ok(kind, org);
  return { id: `${org}-${role}-1`, org, orgKind: kind, role, tokenId: 'tok_test' };
}
const now = new Date('2026-01-01T00:00:00Z');
function decide(p: Principal, action: Action, extra: Partial<DecisionRequest> = {}): Decision {
  return dp.decide({ principal: p, action, now, ...extra });
}

const rogue = principal('parent', 'rogue');
const engineer = principal('parent', 'engineer');
const officer = principal('gatekeeper', 'officer');
const service = principal('platform', 'service');

void describe('invariant 2: the parent company never receives a protected value', () => {
  void it('a hand-built parent role with reads: protected still only gets release public', () => {
    const d = decide(rogue, 'record.read', { collection: USERS, subject: 's1', fields: [...USERS.fields.keys()] });
    assert.equal(d.allow, true);
    assert.equal(d.release, 'public');
    assert.ok(d.policies.includes(POLICY_PARENT_NEVER_PROTECTED), d.policies.join(','));
    assert.match(d.reason, /withheld/);
  });

  void it('no action by any parent role ever releases protected fields', () => {
    for (const p of [rogue, engineer]) {
      for (const action of ACTIONS) {
        for (const collection of [undefined, USERS, VIDEOS]) {
          const d = decide(p, action, { ...(collection ? { collection, fields: [...collection.fields.keys()] } : {}), subject: 's1' });
          assert.equal(d.release, 'public', `${p.role} ${action} ${collection?.name ?? '-'}`);
        }
      }
    }
  });

  void it('parent writes or deletes touching a protected field are denied by builtin/parent-never-protected', () => {
    for (const action of ['record.write', 'record.delete'] as const) {
      const d = decide(rogue, action, { collection: USERS, subject: 's1', fields: ['user_id', 'username', 'email'] });
      assert.equal(d.allow, false, action);
      assert.deepEqual(d.policies, [POLICY_PARENT_NEVER_PROTECTED]);
      assert.equal(d.release, 'public');
      assert.match(d.reason, /parent/);
    }
  });

  void it('a parent write of public fields only is allowed when its role has the action', () => {
    const d = decide(rogue, 'record.write', { collection: VIDEOS, subject: 's1', fields: ['owner_id', 'title'] });
    assert.equal(d.allow, true);
    assert.equal(d.release, 'public');
    const users = decide(rogue, 'record.write', { collection: USERS, subject: 's1', fields: ['user_id', 'username'] });
    assert.equal(users.allow, true, 'only the fields set count');
  });

  void it('a parent erasure, re-home or seal is denied even when a hand-built role grants it', () => {
    for (const action of ['subject.erase', 'subject.rehome', 'enclave.seal'] as const) {
      const d = decide(rogue, action, { subject: 's1' });
      assert.equal(d.allow, false, action);
      assert.deepEqual(d.policies, [POLICY_PARENT_NEVER_PROTECTED], action);
    }
  });

  void it('a principal claiming another org kind than its org has is denied', () => {
    // A parent principal presenting itself as the gatekeeper kind gets nothing.
    const spoof = principal('parent', 'rogue', 'gatekeeper');
    const d = decide(spoof, 'record.read', { collection: USERS, subject: 's1' });
    assert.equal(d.allow, false);
    assert.equal(d.release, 'public');
    assert.deepEqual(d.policies, [POLICY_ROLE_ACTIONS]);
  });
});

void describe('role rules', () => {
  void it('actions not in the role are denied by builtin/role-actions, naming role and action', () => {
    const cases: [Principal, Action][] = [
      [engineer, 'record.write'],
      [engineer, 'subject.register'],
      [service, 'subject.erase'],
      [service, 'subject.rehome'],
      [principal('gatekeeper', 'approver'), 'record.delete'],
      [principal('trusted-provider', 'monitor'), 'record.read'],
      [principal('regulator', 'auditor'), 'record.read'],
    ];
    for (const [p, action] of cases) {
      const d = decide(p, action, { subject: 's1' });
      assert.equal(d.allow, false, `${p.org}/${p.role} ${action}`);
      assert.deepEqual(d.policies, [POLICY_ROLE_ACTIONS]);
      assert.ok(d.reason.includes(action) && d.reason.includes(`${p.org}/${p.role}`), d.reason);
    }
  });

  void it('an unknown org or role is denied', () => {
    for (const p of [principal('nobody', 'x', 'service'), principal('platform', 'ghost')]) {
      const d = decide(p, 'record.read', { subject: 's1' });
      assert.equal(d.allow, false);
      assert.deepEqual(d.policies, [POLICY_ROLE_ACTIONS]);
    }
  });

  void it('a role with reads: protected gets release protected, naming the policies that decided', () => {
    for (const p of [officer, service]) {
      const d = decide(p, 'record.read', { collection: USERS, subject: 's1', fields: [...USERS.fields.keys()] });
      assert.deepEqual(d, { allow: true, release: 'protected', policies: [POLICY_ROLE_ACTIONS, POLICY_ROLE_READS], reason: 'allowed' });
    }
  });

  void it('a role with reads: public gets release public', () => {
    const d = decide(principal('gatekeeper', 'approver'), 'record.read', { collection: USERS, subject: 's1' });
    assert.equal(d.allow, true);
    assert.equal(d.release, 'public');
    assert.deepEqual(d.policies, [POLICY_ROLE_ACTIONS, POLICY_ROLE_READS]);
  });

  void it('a non-parent role with reads: public may not write or delete protected fields (builtin/role-reads)', () => {
    const writer = principal('platform', 'writer');
    for (const action of ['record.write', 'record.delete'] as const) {
      const d = decide(writer, action, { collection: USERS, subject: 's1', fields: ['user_id', 'email'] });
      assert.equal(d.allow, false);
      assert.deepEqual(d.policies, [POLICY_ROLE_READS]);
    }
    assert.equal(decide(writer, 'record.write', { collection: VIDEOS, subject: 's1', fields: ['owner_id', 'title'] }).allow, true);
  });

  void it('every decision names at least one policy and gives a reason', () => {
    const principals = [rogue, engineer, officer, service, principal('gatekeeper', 'approver'), principal('regulator', 'auditor'), principal('platform', 'writer')];
    for (const p of principals) {
      for (const action of ACTIONS) {
        const d = decide(p, action, { collection: USERS, subject: 's1', fields: ['email'] });
        assert.ok(d.policies.length > 0, `${p.role} ${action}`);
        assert.ok(d.reason.length > 0);
        assert.ok(d.policies.every((x) => x.startsWith('builtin/')));
      }
    }
  });
});
