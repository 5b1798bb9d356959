import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_POLICY_NESTING, MAX_POLICY_OPERATORS, policyComplexityProblem } from '../../src/core/cedar-complexity.ts';
import { DEFAULT_POLICIES, INVARIANT_POLICIES } from '../../src/core/default-policies.ts';

const policy = (condition: string) => `@id("p") permit (principal, action, resource) when { ${condition} };`;
const params = { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31) };

void describe('the policy complexity limits', () => {
  void it('pass the shipped policies', () => {
    assert.equal(policyComplexityProblem(DEFAULT_POLICIES), undefined);
    assert.equal(policyComplexityProblem(INVARIANT_POLICIES), undefined);
  });

  void it('refuse brackets nested deeper than the limit, of every kind, and say where', () => {
    // `when { … }` and the condition's own brackets count: the body is one level already.
    for (const [open, close] of [['(', ')'], ['[', ']'], ['{a: ', '}']] as const) {
      const ok = policy(`${open.repeat(MAX_POLICY_NESTING - 1)}true${close.repeat(MAX_POLICY_NESTING - 1)}`);
      assert.equal(policyComplexityProblem(ok), undefined, open);
      const deep = policy(`${open.repeat(MAX_POLICY_NESTING)}true${close.repeat(MAX_POLICY_NESTING)}`);
      const problem = policyComplexityProblem(deep);
      assert.match(problem?.message ?? '', new RegExp(`nest more than ${MAX_POLICY_NESTING} deep`), open);
      assert.equal(problem?.line, 1);
      assert.equal(deep[(problem?.column ?? 0) - 1], open[0], 'the column points at the bracket that goes too deep');
    }
  });

  void it('refuse more operators in one policy than the limit, counted per policy', () => {
    const chain = (n: number) => Array.from({ length: n + 1 }, () => '1').join(' + ') + ' > 0';
    // `>` is one operator too.
    assert.equal(policyComplexityProblem(policy(chain(MAX_POLICY_OPERATORS - 1))), undefined);
    assert.match(policyComplexityProblem(policy(chain(MAX_POLICY_OPERATORS)))?.message ?? '', /more than 128 operators/);
    // Two policies of 100 operators each are two policies, not one of 200.
    assert.equal(policyComplexityProblem(`${policy(chain(99))}\n${policy(chain(99))}`), undefined);
    for (const op of ['if true then ', '!', 'context.', 'context has a && ']) {
      assert.ok(policyComplexityProblem(policy(`${op.repeat(MAX_POLICY_OPERATORS + 1)}true`)), op);
    }
    // Every `when`/`unless` clause after the first joins the condition with one more `&&`: an operator too.
    const clauses = (n: number, clause = ' unless { false }') => `@id("p") forbid (principal, action, resource)${clause.repeat(n)};`;
    assert.equal(policyComplexityProblem(clauses(MAX_POLICY_OPERATORS + 1)), undefined);
    assert.match(policyComplexityProblem(clauses(MAX_POLICY_OPERATORS + 2))?.message ?? '', /more than 128 operators/);
    assert.ok(policyComplexityProblem(clauses(MAX_POLICY_OPERATORS + 2, ' when { true }')));
    assert.equal(policyComplexityProblem(`${clauses(MAX_POLICY_OPERATORS + 1)}\n${clauses(MAX_POLICY_OPERATORS + 1)}`), undefined, 'counted per policy');
    // An index deepens the tree as `.a` does, with no bracket nested: `context["a"]["a"]…` counts each.
    const indexes = (n: number) => policy(`context${'["a"]'.repeat(n)} == 1`);
    assert.equal(policyComplexityProblem(indexes(MAX_POLICY_OPERATORS - 1)), undefined);
    assert.match(policyComplexityProblem(indexes(MAX_POLICY_OPERATORS))?.message ?? '', /more than 128 operators/);
    assert.ok(policyComplexityProblem(policy(`context ${'[ "a" ]\n'.repeat(MAX_POLICY_OPERATORS)} == 1`)), 'spaced and on lines of their own');
    assert.ok(policyComplexityProblem(policy(`context${'\f["a"]\v'.repeat(MAX_POLICY_OPERATORS)} == 1`)), 'apart by a form feed or vertical tab, which Cedar skips as white space');
    // A set literal is not an index: `[` after an operator, a bracket or `in` opens a value.
    assert.equal(policyComplexityProblem(policy(`[1] == [${'['.repeat(MAX_POLICY_NESTING - 3)}1${']'.repeat(MAX_POLICY_NESTING - 3)}]`)), undefined);
  });

  void it('ignore brackets and operators inside strings and comments, and report the line', () => {
    const text = `// ((((( ${'+'.repeat(500)}\n@id("p") @reason("${'('.repeat(100)} \\" ${'+'.repeat(500)}")\npermit (principal, action, resource == Enclave::Collection::"a.b.c");`;
    assert.equal(policyComplexityProblem(text), undefined);
    const problem = policyComplexityProblem(`// line 1\n"((("\n${'('.repeat(MAX_POLICY_NESTING + 1)}`);
    assert.equal(problem?.line, 3);
    assert.equal(problem?.column, MAX_POLICY_NESTING + 1);
  });

  void it('property: any text gets an answer, never an exception, and appending text never clears a problem', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: fc.constantFrom('(', ')', '[', '{', '}', '"', '\\', '/', '\n', '\r', ';', '+', '&', '.', 'i', 'f', ' ', 'x') }), fc.string({ maxLength: 50 }), (text, more) => {
        const problem = policyComplexityProblem(text);
        if (problem) {
          assert.ok(problem.line >= 1 && problem.column >= 1);
          // Unless the appended text ends a policy, the problem found in the prefix is still there.
          if (!more.includes(';')) assert.ok(policyComplexityProblem(text + more));
        }
      }),
      params,
    );
  });
});
