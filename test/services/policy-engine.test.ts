// The Cedar engine: the schema follows the configuration; any text proposed is either a valid policy
// set or refused with policy_invalid (never a crash); the invariants are in force with every version.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseConfig } from '../../src/core/config.ts';
import { DEFAULT_POLICIES } from '../../src/core/default-policies.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import { ChangeService } from '../../src/services/change-service.ts';
import { CedarDecisionPoint } from '../../src/services/cedar-decision-point.ts';
import { GrantIndex } from '../../src/services/grant-index.ts';
import { PolicyEngine } from '../../src/services/policy-engine.ts';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const doc = () => parse(starterConfig()) as { collections: Record<string, unknown>; orgs: { id: string; roles: { id: string }[] }[] };
const params = { numRuns: 200, seed: Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31) };

void describe('the policy engine', () => {
  void it('generates its schema from the configuration: a new collection or role is there, a removed one is gone', () => {
    const d = doc();
    d.collections['payments'] = { subject: 'owner_id', fields: { owner_id: { type: 'string', class: 'public' }, iban: { type: 'string', class: 'protected' } } };
    delete d.collections['comments'];
    const engine = new PolicyEngine(parseConfig(d));
    assert.match(engine.schema, /entity Collection enum \[[^\]]*"payments"/);
    assert.doesNotMatch(engine.schema, /"comments"/);
    assert.throws(() => engine.parse('@id("c") forbid (principal, action, resource == Enclave::Collection::"comments");'), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid');
    engine.parse('@id("p") forbid (principal, action, resource == Enclave::Collection::"payments");');
  });

  void it('the shipped default set validates against the starter configuration\'s schema', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    const set = engine.parse(DEFAULT_POLICIES);
    assert.ok(set.policies.size >= 10);
    for (const p of set.policies.values()) assert.ok(p.reason, `${p.id} has a @reason`);
  });

  void it('property: any text is a valid set or refused with policy_invalid, never a crash', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    const mutated = fc.tuple(fc.nat({ max: DEFAULT_POLICIES.length }), fc.nat({ max: 40 }), fc.string({ maxLength: 20 })).map(([at, cut, insert]) => DEFAULT_POLICIES.slice(0, at) + insert + DEFAULT_POLICIES.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutated), (text) => {
        try {
          const set = engine.parse(text);
          assert.ok(set.policies.size > 0);
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'policy_invalid', String(err));
          assert.ok(err.message.length < 20_000);
        }
      }),
      params,
    );
  });

  void it('the invariants are evaluated with whatever set is active', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    engine.activate(7, '@id("everything") permit (principal, action, resource);');
    const answer = engine.evaluate({
      principal: { type: 'Enclave::Parent', id: 'p' },
      action: 'record.read',
      resource: { type: 'Enclave::Collection', id: 'users' },
      context: { protected: true },
    });
    assert.deepEqual(answer, { allow: false, policies: ['invariant/parent-never-protected'], errors: [] });
    assert.equal(engine.version, 7);
  });

  void it('a policy that cannot be evaluated makes a deny, never an allow', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    engine.activate(1, '@id("all") permit (principal, action, resource);\n@id("strict") forbid (principal, action, resource) when { context.protected };');
    // `protected` missing from the context: the forbid errors, and Cedar alone would skip it.
    const answer = engine.evaluate({ principal: { type: 'Enclave::Service', id: 's' }, action: 'record.read', resource: { type: 'Enclave::Collection', id: 'users' }, context: {} });
    assert.equal(answer.allow, false);
    assert.ok(answer.errors.length > 0);
  });

  void it('a store whose active policies no longer validate against the configuration refuses to open (fail closed)', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      const text = `${DEFAULT_POLICIES}\n@id("no-comments") forbid (principal, action, resource == Enclave::Collection::"comments");\n`;
      await store.policyVersions.append({ version: 1, text, digest: 'd', proposalId: null, approvers: '[]', activatedAt: 1 });
      const d = doc();
      delete d.collections['comments'];
      const config = parseConfig(d);
      const engine = new PolicyEngine(config);
      const changes = new ChangeService({ config, store, engine, log: { append: () => Promise.reject(new Error('nothing is logged while loading')) }, decisions: new CedarDecisionPoint({ config, engine, grants: new GrantIndex() }) });
      await assert.rejects(changes.load(), (e: unknown) => e instanceof EnclaveError && e.code === 'invalid_config' && /policy version 1 no longer validates/.test(e.message) && /comments/.test(e.message));
    } finally {
      await store.close();
    }
  });
});
