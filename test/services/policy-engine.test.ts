// The Cedar engine: the schema follows the configuration; any text proposed is either a valid policy
// set or refused with policy_invalid (never a crash); the invariants are in force with every version.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { parseConfig } from '../../src/core/config.ts';
import { MAX_POLICY_NESTING, MAX_POLICY_OPERATORS, policyComplexityProblem } from '../../src/core/cedar-complexity.ts';
import { CONTEXT_ATTRIBUTES } from '../../src/core/cedar-schema.ts';
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

  void it('a configuration named over several lines yields a schema all the same, and its name adds nothing to it', () => {
    for (const name of ['Acme US\n', 'Acme\r\nUS', 'x\n  entity Extra;']) {
      const d = doc() as ReturnType<typeof doc> & { name: string };
      d.name = name;
      const engine = new PolicyEngine(parseConfig(d));
      assert.doesNotMatch(engine.schema, /^\s*entity Extra;/m, JSON.stringify(name));
      engine.activate(1, DEFAULT_POLICIES);
    }
  });

  void it('CONTEXT_ATTRIBUTES names exactly the attributes of the schema\'s Request context', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    const body = /type Request = \{([^}]*)\}/.exec(engine.schema)?.[1] ?? '';
    const names = [...body.matchAll(/^\s*([a-z_]+)\??:/gm)].map((m) => m[1]);
    assert.deepEqual([...names].sort(), [...CONTEXT_ATTRIBUTES].sort());
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

  void it('a policy nested deep enough to overflow the engine is refused before it reaches it; the engine keeps answering', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    engine.activate(1, DEFAULT_POLICIES);
    const read = { principal: { type: 'Enclave::Service', id: 's' }, action: 'record.read', resource: { type: 'Enclave::Collection', id: 'users' }, context: { protected: false } } as const;
    const before = engine.evaluate(read);
    const policy = (condition: string) => `@id("deep") permit (principal, action, resource) when { ${condition} };`;
    // Each of these trapped the WebAssembly module (parser or evaluator) before the limits, which broke every later decision.
    for (const text of [policy(`${'('.repeat(200)}true${')'.repeat(200)}`), policy(`${'{a:'.repeat(120)}1${'}'.repeat(120)} == {a:1}`), policy(`${Array(500).fill('1').join(' + ')} > 0`), policy(`${'if true then '.repeat(500)}true${' else false'.repeat(500)}`)]) {
      assert.throws(() => engine.parse(text), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid' && /nest more than|more than 128 operators/.test(e.message));
    }
    // The worst the limits let through, in every shape, parses, activates and evaluates without a trap.
    const chain = (n: number) => `${Array(n + 1).fill('1').join(' + ')} > 0`;
    const ites = (n: number, inner: string, otherwise: string) => `${'if true then '.repeat(n)}${inner}${` else ${otherwise}`.repeat(n)}`;
    const nest = (open: string, close: string, depth: number, inner: string) => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
    const deepest = MAX_POLICY_NESTING - 1; // the `when { … }` body is the first level
    const evaluable = [
      policy(nest('(', ')', deepest, chain(MAX_POLICY_OPERATORS - 1))),
      policy(nest('(', ')', deepest, ites(MAX_POLICY_OPERATORS, 'true', 'false'))),
      policy(`${nest('[', ']', deepest, chain(MAX_POLICY_OPERATORS - 2))} == ${nest('[', ']', deepest, 'true')}`),
      policy(`${nest('{a: ', '}', deepest, ites(MAX_POLICY_OPERATORS - 1, '1', '2'))} == ${nest('{a: ', '}', deepest, '1')}`),
    ];
    for (const text of evaluable) {
      assert.equal(policyComplexityProblem(text), undefined, 'as deep as the limits allow');
      engine.parse(text);
      engine.activate(2, `${DEFAULT_POLICIES}\n${text}`);
      assert.equal(engine.evaluate(read).allow, before.allow);
    }
    // Deep but not well typed: the validator walks it and refuses it.
    assert.throws(() => engine.parse(policy(`context${'.a'.repeat(MAX_POLICY_OPERATORS - 1)} == 1`)), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid');
    engine.activate(3, DEFAULT_POLICIES);
    assert.equal(engine.evaluate(read).allow, before.allow);
  });

  void it('a trap in the WebAssembly module leaves the engine refusing every decision (fail closed, 503); an input it cannot take does not', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    engine.activate(1, DEFAULT_POLICIES);
    const read = (context: Record<string, unknown>) => ({ principal: { type: 'Enclave::Service', id: 's' }, action: 'record.read', resource: { type: 'Enclave::Collection', id: 'users' }, context }) as Parameters<PolicyEngine['evaluate']>[0];
    const healthy = engine.evaluate(read({ protected: false }));
    // Values the module's input conversion refuses (a BigInt, a lone surrogate): an internal error for
    // that call only, and the engine answers the next one as before.
    assert.throws(() => engine.evaluate(read({ protected: 1n })), (e: unknown) => e instanceof EnclaveError && e.code === 'internal');
    assert.throws(() => engine.evaluate({ ...read({}), resource: { type: 'Enclave::Collection', id: 'users\uD800' } }), (e: unknown) => e instanceof EnclaveError && e.code === 'internal');
    assert.equal(engine.evaluate(read({ protected: false })).allow, healthy.allow);
    // A trap, as a stack overflow in the module raises (the limits keep policies from causing one).
    const guard = (engine as unknown as { guard(call: () => unknown): unknown }).guard.bind(engine);
    const failed = (e: unknown) => e instanceof EnclaveError && e.code === 'policy_engine_failed' && /until the server restarts/.test(e.message);
    assert.throws(() => guard(() => {
      const { RuntimeError } = Reflect.get(globalThis, 'WebAssembly') as { RuntimeError: new (message: string) => Error };
      throw new RuntimeError('memory access out of bounds');
    }), failed);
    assert.throws(() => engine.evaluate(read({ protected: false })), failed);
    assert.throws(() => engine.parse(DEFAULT_POLICIES), failed);
  });

  void it('a comment ends at a carriage return for the limits as for Cedar, so no policy hides behind one', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    const deep = `// a note\r@id("deep") permit (principal, action, resource) when { ${'('.repeat(300)}true${')'.repeat(300)} };\n`;
    assert.throws(() => engine.parse(deep), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid' && /nest more than 24 deep \(at 2:/.test(e.message));
    engine.activate(1, DEFAULT_POLICIES);
  });

  void it('a chain of indexes long enough to overflow the module is refused before it reaches it, and the engine goes on deciding', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    engine.activate(1, DEFAULT_POLICIES);
    const read = { principal: { type: 'Enclave::Service', id: 's' }, action: 'record.read', resource: { type: 'Enclave::Collection', id: 'users' }, context: { protected: false } } as Parameters<PolicyEngine['evaluate']>[0];
    const before = engine.evaluate(read).allow;
    // 2,500 overflowed this thread's stack in the scan of context attributes (a 500); 5,000 trapped the
    // module, which then refused every decision until a restart.
    for (const n of [2_500, 5_000]) {
      const text = `@id("x") permit (principal, action, resource) when { context${'["a"]'.repeat(n)} == 1 };`;
      assert.throws(() => engine.parse(text), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid' && /more than 128 operators/.test(e.message), String(n));
      assert.equal(engine.evaluate(read).allow, before);
    }
  });

  void it('a policy of many `when`/`unless` clauses is refused before it reaches the engine (one proposer broke it for everyone); the engine keeps answering', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    engine.activate(1, DEFAULT_POLICIES);
    const read = { principal: { type: 'Enclave::Service', id: 's' }, action: 'record.read', resource: { type: 'Enclave::Collection', id: 'users' }, context: { protected: false, service_purpose: true, role_reads_protected: true } } as Parameters<PolicyEngine['evaluate']>[0];
    const before = engine.evaluate(read).allow;
    // No bracket nested and no operator between them: each clause is one more `&&` (and an `unless` one
    // more `!`) in the tree. 1,000 of them trapped the module's parser as the set was proposed, 400 its
    // evaluator once activated; either left it refusing every decision until a restart.
    for (const clauses of [' unless { false }'.repeat(400), ' unless { false }'.repeat(1_000), ' when { true } unless { false }'.repeat(300)]) {
      const text = `@id("x") forbid (principal, action, resource)${clauses};`;
      assert.throws(() => engine.parse(text), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid' && /more than 128 operators/.test(e.message));
      assert.equal(engine.failure, undefined);
      assert.equal(engine.evaluate(read).allow, before);
    }
    // As many clauses as the limit allows, each as deep as it allows, parse, activate and evaluate.
    const deep = (body: string) => `${'('.repeat(MAX_POLICY_NESTING - 2)}${body}${')'.repeat(MAX_POLICY_NESTING - 2)}`;
    const most = `@id("x") forbid (principal, action, resource)${` unless { ${deep('false')} }`.repeat(MAX_POLICY_OPERATORS + 1)};`;
    assert.equal(policyComplexityProblem(most), undefined);
    engine.activate(2, `${DEFAULT_POLICIES}\n${most}`);
    assert.equal(engine.evaluate(read).allow, false);
    assert.equal(engine.failure, undefined);
  });

  void it('the names decisions give when no policy decided are reserved: no proposal passes a policy off as one', () => {
    const engine = new PolicyEngine(parseConfig(doc()));
    for (const id of ['default-deny', 'engine-failed/gatekeeper-seal', 'engine-failed/x']) {
      // A forbid so named would be logged as "no permit applied", a permit as the failed engine's seal.
      for (const effect of ['forbid', 'permit']) {
        const text = `${DEFAULT_POLICIES}\n@id("${id}") @reason("looks like nothing decided") ${effect} (principal is Enclave::Service, action == Enclave::Action::"record.read", resource);`;
        assert.throws(() => engine.parse(text), (e: unknown) => e instanceof EnclaveError && e.code === 'policy_invalid' && new RegExp(`@id\\("${id}"\\) is reserved`).test(e.message), `${effect} ${id}`);
      }
    }
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
