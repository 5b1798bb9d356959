// The gatekeeper's pure parts: k-of-n quorums with group requirements, access scopes and their
// coverage, justifications, durations, canonical digests and the policy diff. Parsers get properties.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { checkBreakGlassScope, checkJustification, coveredFields, normalizeScope, scopeFields } from '../../src/core/access-scope.ts';
import { parseConfig } from '../../src/core/config.ts';
import { canonicalJson } from '../../src/core/canonical-json.ts';
import { contentDigest, type Canonical } from '../../src/core/content-digest.ts';
import { formatDuration, parseDuration } from '../../src/core/duration.ts';
import { EnclaveError } from '../../src/core/errors.ts';
import type { ApproverGroup, IndependentApprovers, QuorumRule } from '../../src/core/gatekeeper-config.ts';
import { evaluateQuorum, independentMembers, inGroup, isEligible, isIndependent, type Approver } from '../../src/core/quorum.ts';
import { diffLines, unifiedDiff } from '../../src/core/text-diff.ts';
import { starterConfig } from '../../src/services/starter-config.ts';

const config = parseConfig(parse(starterConfig()));
const params = { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31) };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof EnclaveError, String(err));
    return err.code;
  }
}

void describe('the starter configuration\'s gatekeeper section', () => {
  void it('is parsed into groups, quorums, durations and the bootstrap role', () => {
    const g = config.gatekeeper;
    assert.equal(g.maxGrantMs, 8 * 3_600_000);
    assert.equal(g.breakGlass.maxMs, 3_600_000);
    assert.equal(g.breakGlass.reviewWithinMs, 24 * 3_600_000);
    assert.equal(g.breakGlass.maxSubjects, 10);
    assert.equal(g.breakGlass.maxOpen, 1);
    assert.deepEqual([...g.accessApproval.require], [['gatekeepers', 1], ['monitors', 1]]);
    assert.deepEqual(g.bootstrap, { org: 'gatekeeper', role: 'officer' });
    assert.deepEqual([...(g.servicePurposes.get('platform/service') ?? [])], ['account', 'messaging', 'recommendations', 'migration']);
  });

  void it('bars the gatekeeper orgs from the check from outside the team (a required group with no gatekeeper role), even by name', () => {
    const named = parseConfig(parse(starterConfig().replace('monitors: { roles: [trusted-provider/monitor] }', 'monitors: { roles: [trusted-provider/monitor], principals: [bob] }'))).gatekeeper;
    const bob = { id: 'bob', org: 'gatekeeper', role: 'officer' };
    assert.equal(inGroup(named.groups.get('monitors'), bob), false);
    assert.equal(inGroup(named.groups.get('monitors'), { ...bob, org: 'trusted-provider', role: 'monitor' }), true);
    assert.equal(inGroup(named.groups.get('gatekeepers'), bob), true, 'the gatekeepers\' own group is not barred to them');
    const q = evaluateQuorum(named.accessApproval, named.groups, [{ id: 'alice', org: 'gatekeeper', role: 'officer' }, bob], 'req');
    assert.deepEqual([q.met, q.missing], [false, 'at least 1 from monitors']);
  });

  void it('does not bar the gatekeepers from their own group when it names them only by id (policy and token approvals draw from it)', () => {
    const byName = parseConfig(parse(starterConfig().replace('gatekeepers: { roles: [gatekeeper/officer, gatekeeper/approver] }', 'gatekeepers: { principals: [alice, bob] }'))).gatekeeper;
    const [alice, bob] = [{ id: 'alice', org: 'gatekeeper', role: 'officer' }, { id: 'bob', org: 'gatekeeper', role: 'approver' }];
    assert.equal(inGroup(byName.groups.get('gatekeepers'), alice), true);
    assert.equal(evaluateQuorum(byName.accessApproval, byName.groups, [alice, { id: 'mon', org: 'trusted-provider', role: 'monitor' }], 'req').met, true);
    assert.equal(evaluateQuorum(byName.tokenApproval, byName.groups, [alice, bob], 'req').met, true);
    // A monitors group of names only is still the check from outside the team.
    const monitors = parseConfig(parse(starterConfig().replace('monitors: { roles: [trusted-provider/monitor] }', 'monitors: { principals: [pat] }'))).gatekeeper;
    assert.equal(inGroup(monitors.groups.get('monitors'), { id: 'pat', org: 'gatekeeper', role: 'officer' }), false);
    assert.equal(inGroup(monitors.groups.get('monitors'), { id: 'pat', org: 'trusted-provider', role: 'monitor' }), true);
  });
});

void describe('the break-glass limits', () => {
  const breakGlass = (edit: (bg: Record<string, unknown>) => void) => {
    const doc = parse(starterConfig()) as { gatekeeper: { break_glass: Record<string, unknown> } };
    edit(doc.gatekeeper.break_glass);
    return parseConfig(doc).gatekeeper.breakGlass;
  };

  void it('default to 10 subjects and one grant open when the file does not set them', () => {
    const bg = breakGlass((b) => {
      delete b['max_subjects'];
      delete b['max_open'];
    });
    assert.deepEqual([bg.maxSubjects, bg.maxOpen], [10, 1]);
  });

  void it('take the values the file sets', () => {
    const bg = breakGlass((b) => Object.assign(b, { max_subjects: 1000, max_open: 100 }));
    assert.deepEqual([bg.maxSubjects, bg.maxOpen], [1000, 100]);
  });
});

void describe('gatekeeper.rebootstrap', () => {
  const withRebootstrap = (entries: Record<string, string>) => {
    const doc = parse(starterConfig()) as { gatekeeper: Record<string, unknown> };
    doc.gatekeeper['rebootstrap'] = entries;
    return doc;
  };

  void it('reads an independent approver org and an RFC 3339 time', () => {
    const g = parseConfig(withRebootstrap({ 'trusted-provider': '2026-11-25T12:00:00Z' })).gatekeeper;
    assert.deepEqual([...g.independent.rebootstrap], [['trusted-provider', Date.UTC(2026, 10, 25, 12)]]);
    assert.equal(config.gatekeeper.independent.rebootstrap.size, 0, 'none unless set');
  });

  void it('reads an org whose approvers a required group names only by id (any org but a gatekeeper or parent one)', () => {
    const doc = withRebootstrap({ regulator: '2026-11-25T12:00:00Z' });
    const groups = doc.gatekeeper['groups'] as Record<string, unknown>;
    groups['monitors'] = { principals: ['pat'] };
    assert.deepEqual([...parseConfig(doc).gatekeeper.independent.rebootstrap], [['regulator', Date.UTC(2026, 10, 25, 12)]]);
    doc.gatekeeper['rebootstrap'] = { parent: '2026-11-25T12:00:00Z' };
    assert.throws(() => parseConfig(doc), /gatekeeper\.rebootstrap\.parent: "parent" is not an independent approver org/);
  });

  void it('refuses a gatekeeper org, an org with no approver role, an unknown org, a time that is not RFC 3339 and a future one, naming the key', () => {
    for (const [org, at, why] of [
      ['gatekeeper', '2026-11-25T12:00:00Z', /gatekeeper\.rebootstrap\.gatekeeper: "gatekeeper" is not an independent approver org .*expected one of: trusted-provider/],
      ['regulator', '2026-11-25T12:00:00Z', /gatekeeper\.rebootstrap\.regulator: "regulator" is not an independent approver org/],
      ['nobody', '2026-11-25T12:00:00Z', /gatekeeper\.rebootstrap\.nobody: "nobody" is not an independent approver org/],
      ['trusted-provider', '2026-02-30T12:00:00Z', /gatekeeper\.rebootstrap\.trusted-provider must be an RFC 3339 date-time/],
      ['trusted-provider', 'yesterday', /gatekeeper\.rebootstrap\.trusted-provider must be an RFC 3339 date-time/],
      ['trusted-provider', '2999-01-01T00:00:00Z', /gatekeeper\.rebootstrap\.trusted-provider \(2999-01-01T00:00:00Z\) is in the future/],
    ] as const) {
      assert.throws(() => parseConfig(withRebootstrap({ [org]: at })), (err: unknown) => err instanceof EnclaveError && err.code === 'invalid_config' && why.test(err.message), `${org} ${at}`);
    }
  });
});

void describe('quorum', () => {
  const groups = new Map<string, ApproverGroup>([
    ['officers', { id: 'officers', roles: new Set(['gk/officer']), principals: new Set(), barred: new Set(['parent']) }],
    ['monitors', { id: 'monitors', roles: new Set(['prov/monitor']), principals: new Set(['zed', 'pat']), barred: new Set(['parent']) }],
  ]);
  const officer = (id: string): Approver => ({ id, org: 'gk', role: 'officer' });
  const monitor = (id: string): Approver => ({ id, org: 'prov', role: 'monitor' });
  const rule: QuorumRule = { k: 2, from: ['officers', 'monitors'], require: new Map([['officers', 1], ['monitors', 1]]) };

  void it('needs k distinct eligible approvers and one of each required group (AND, not OR)', () => {
    assert.equal(evaluateQuorum(rule, groups, [officer('a'), officer('b')], 'req').met, false, 'two officers are not an officer and a monitor');
    assert.match(evaluateQuorum(rule, groups, [officer('a'), officer('b')], 'req').missing, /at least 1 from monitors/);
    assert.equal(evaluateQuorum(rule, groups, [officer('a'), monitor('m')], 'req').met, true);
    assert.equal(evaluateQuorum(rule, groups, [officer('a'), { id: 'zed', org: 'x', role: 'y' }], 'req').met, true, 'named principals belong to their group');
  });

  void it('the requester never counts, an approver counts once, outsiders never', () => {
    assert.equal(evaluateQuorum(rule, groups, [officer('req'), monitor('m')], 'req').met, false);
    assert.equal(evaluateQuorum(rule, groups, [officer('a'), officer('a'), monitor('m')], 'req').counted.length, 2);
    assert.equal(evaluateQuorum(rule, groups, [officer('a'), { id: 'p', org: 'parent', role: 'engineer' }], 'req').met, false);
  });

  void it('a principal of the parent company never counts, even named in a group (invariant 2)', () => {
    const pat = { id: 'pat', org: 'parent', role: 'engineer' };
    assert.equal(inGroup(groups.get('monitors'), pat), false);
    assert.equal(isEligible(rule, groups, pat), false);
    const q = evaluateQuorum(rule, groups, [officer('a'), pat], 'req');
    assert.deepEqual([q.met, q.counted], [false, ['a']]);
    assert.equal(inGroup(groups.get('monitors'), { ...pat, org: 'prov' }), true, 'the same id in another org is a member by name');
  });

  void it('one approver in two groups does not stand for both requirements', () => {
    const both = new Map(groups);
    both.set('monitors', { id: 'monitors', roles: new Set(['prov/monitor', 'gk/officer']), principals: new Set(), barred: new Set() });
    const r: QuorumRule = { k: 1, from: ['officers', 'monitors'], require: new Map([['officers', 1], ['monitors', 1]]) };
    assert.equal(evaluateQuorum(r, both, [officer('a')], 'req').met, false);
    assert.equal(evaluateQuorum(r, both, [officer('a'), officer('b')], 'req').met, true);
  });

  void it('property: independentMembers(org) is what the store checks for a bootstrap: exactly the principals of org that isIndependent', () => {
    const more = new Map(groups);
    more.set('auditors', { id: 'auditors', roles: new Set(['prov/auditor', 'x/y', 'gk/monitor']), principals: new Set(['d']), barred: new Set(['x']) });
    const ind: IndependentApprovers = { groups: ['monitors', 'auditors'], orgs: new Set(['prov', 'x']), gatekeeperOrgs: new Set(['gk']), rebootstrap: new Map() };
    assert.deepEqual(independentMembers(ind, more, 'prov'), { roles: ['auditor', 'monitor'], principals: ['d', 'pat', 'zed'] });
    assert.deepEqual(independentMembers(ind, more, 'gk'), { roles: [], principals: [] }, 'a gatekeeper org has none');
    const approver = fc.record({ id: fc.constantFrom('a', 'd', 'pat', 'zed'), org: fc.constantFrom('gk', 'prov', 'x', 'parent'), role: fc.constantFrom('officer', 'monitor', 'auditor', 'y') });
    fc.assert(
      fc.property(approver, (a) => {
        const m = independentMembers(ind, more, a.org);
        assert.equal(m.roles.includes(a.role) || m.principals.includes(a.id), isIndependent(ind, more, a));
      }),
      params,
    );
  });

  void it('property: independentMembers agrees with isIndependent for any groups, bars and gatekeeper orgs', () => {
    const orgs = ['gk', 'prov', 'x', 'parent'];
    const ids = ['a', 'd', 'pat', 'zed'];
    const roles = ['officer', 'monitor', 'y'];
    const refs = orgs.flatMap((o) => roles.map((r) => `${o}/${r}`));
    const group = fc.record({ roles: fc.subarray(refs), principals: fc.subarray(ids), barred: fc.subarray(orgs) });
    const shape = fc.record({ groups: fc.array(group, { minLength: 1, maxLength: 3 }), independent: fc.array(fc.nat(3)), gatekeeperOrgs: fc.subarray(orgs) });
    const approver = fc.record({ id: fc.constantFrom(...ids), org: fc.constantFrom(...orgs), role: fc.constantFrom(...roles) });
    fc.assert(
      fc.property(shape, approver, (sh, a) => {
        const gs = new Map(sh.groups.map((g, i) => [`g${i}`, { id: `g${i}`, roles: new Set(g.roles), principals: new Set(g.principals), barred: new Set(g.barred) }] as const));
        // Indexes past the last group name a group that does not exist (skipped by both).
        const ind: IndependentApprovers = { groups: [...new Set(sh.independent.map((i) => `g${i}`))], orgs: new Set(), gatekeeperOrgs: new Set(sh.gatekeeperOrgs), rebootstrap: new Map() };
        const m = independentMembers(ind, gs, a.org);
        assert.equal(m.roles.includes(a.role) || m.principals.includes(a.id), isIndependent(ind, gs, a));
      }),
      params,
    );
  });

  void it('property: met exactly when k eligible approvers exist and the requirements can be filled by distinct ones', () => {
    const approver = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd', 'req', 'zed'), org: fc.constantFrom('gk', 'prov', 'x'), role: fc.constantFrom('officer', 'monitor', 'y') });
    const ruleArb = fc.record({ k: fc.integer({ min: 1, max: 4 }), o: fc.integer({ min: 0, max: 2 }), m: fc.integer({ min: 0, max: 2 }) }).filter((r) => r.o + r.m <= r.k);
    fc.assert(
      fc.property(ruleArb, fc.array(approver, { maxLength: 6 }), (r, approvals) => {
        const q: QuorumRule = { k: r.k, from: ['officers', 'monitors'], require: new Map([['officers', r.o], ['monitors', r.m]].filter(([, n]) => (n as number) > 0) as [string, number][]) };
        // Reference: distinct eligible approvers (first occurrence), and a brute-force search over
        // every way to give each approver at most one requirement.
        // (The store keeps one verdict per approver; here an approver's first eligible verdict counts.)
        const seen = new Set<string>();
        const eligible = approvals
          .filter((a) => a.id !== 'req' && (inGroup(groups.get('officers'), a) || inGroup(groups.get('monitors'), a)))
          .filter((a) => !seen.has(a.id) && Boolean(seen.add(a.id)));
        const fill = (i: number, o: number, m: number): boolean => {
          if (o <= 0 && m <= 0) return true;
          const a = eligible[i];
          if (!a) return false;
          return fill(i + 1, o, m) || (o > 0 && inGroup(groups.get('officers'), a) && fill(i + 1, o - 1, m)) || (m > 0 && inGroup(groups.get('monitors'), a) && fill(i + 1, o, m - 1));
        };
        const want = eligible.length >= r.k && fill(0, r.o, r.m);
        assert.equal(evaluateQuorum(q, groups, approvals, 'req').met, want);
      }),
      params,
    );
  });
});

void describe('access scopes', () => {
  void it('normalizes (sorted, unique) and says which protected fields it reaches', () => {
    const s = normalizeScope(config, { subjects: ['b', 'a', 'a'], collections: ['users'] });
    assert.deepEqual(s, { subjects: ['a', 'b'], collections: ['users'], fields: [] });
    assert.deepEqual(scopeFields(config, s), ['users.email', 'users.phone', 'users.birthdate']);
    const f = normalizeScope(config, { fields: ['messages.body'] });
    assert.deepEqual(scopeFields(config, f), ['messages.body']);
  });

  void it('coverage: the subject, the collection and the fields must all be in scope', () => {
    const users = config.collections.get('users');
    const messages = config.collections.get('messages');
    assert.ok(users && messages);
    const s = normalizeScope(config, { subjects: ['ann'], fields: ['users.email'] });
    assert.deepEqual(coveredFields(s, users, 'ann'), ['email']);
    assert.equal(coveredFields(s, users, 'bo'), undefined);
    assert.equal(coveredFields(s, messages, 'ann'), undefined);
    const all = normalizeScope(config, { collections: ['messages'] });
    assert.deepEqual(coveredFields(all, messages, 'anyone'), ['recipient_id', 'body', 'sent_at']);
  });

  void it('refuses empty, public-only, unknown and inconsistent scopes with invalid_scope', () => {
    for (const input of [
      {},
      { subjects: [] },
      { collections: ['videos'] },
      { collections: ['nope'] },
      { fields: ['users.username'] },
      { fields: ['users'] },
      { fields: ['users.nope'] },
      { collections: ['users'], fields: ['messages.body'] },
      { subjects: ['bad id'] },
      { subjects: Array.from({ length: 1001 }, (_, i) => `s${i}`) },
    ]) {
      assert.equal(code(() => normalizeScope(config, input)), 'invalid_scope', JSON.stringify(input).slice(0, 80));
    }
  });

  void it('says which part of a field is wrong: its form, its collection or the field itself', () => {
    const message = (f: string) => {
      try {
        normalizeScope(config, { fields: [f] });
      } catch (err) {
        return err instanceof EnclaveError ? err.message : String(err);
      }
      return 'accepted';
    };
    assert.match(message('users'), /not a field written as collection\.field/);
    assert.match(message('nope.email'), /unknown collection/);
    assert.match(message('users.nope'), /collection "users" has no field "nope" \(its protected fields: [a-z_, ]+\)/);
  });

  void it('break-glass: names its subjects, at most the configured number, counted once each', () => {
    const refusal = (input: { subjects?: string[]; collections?: string[] }, max: number) => {
      try {
        checkBreakGlassScope(normalizeScope(config, input), max);
      } catch (err) {
        assert.ok(err instanceof EnclaveError && err.code === 'invalid_scope', String(err));
        assert.equal(err.details?.field, 'subjects');
        return err.message;
      }
      return 'accepted';
    };
    assert.equal(refusal({ subjects: ['a', 'b', 'a'], collections: ['messages'] }, 2), 'accepted', 'a subject named twice counts once');
    assert.equal(refusal({ subjects: ['a'] }, 1), 'accepted');
    const over = refusal({ subjects: ['a', 'b', 'c'], collections: ['messages'] }, 2);
    assert.match(over, /at most 2 \(gatekeeper\.break_glass\.max_subjects\) subjects, this scope names 3: file an access request/);
    const none = refusal({ collections: ['messages'] }, 10);
    assert.match(none, /must name its subjects, at most 10 \(gatekeeper\.break_glass\.max_subjects\), and never opens whole collections: file an access request/);
  });

  void it('property: any input either normalizes to a fixed point or is refused with invalid_scope', () => {
    const names = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('users', 'messages', 'videos', 'users.email', 'messages.body', 'users.username', 'ann'));
    fc.assert(
      fc.property(fc.record({ subjects: fc.array(names, { maxLength: 4 }), collections: fc.array(names, { maxLength: 3 }), fields: fc.array(names, { maxLength: 3 }) }, { requiredKeys: [] }), (input) => {
        let s;
        try {
          s = normalizeScope(config, input);
        } catch (err) {
          assert.ok(err instanceof EnclaveError && err.code === 'invalid_scope', String(err));
          return;
        }
        assert.deepEqual(normalizeScope(config, s), s);
        assert.ok(scopeFields(config, s).length > 0);
      }),
      params,
    );
  });
});

void describe('justifications', () => {
  void it('a configured code and words that say something', () => {
    assert.equal(checkJustification(config, 'support-ticket', '  ticket 4711:\n the user   reports missing messages '), 'ticket 4711: the user reports missing messages');
    for (const [c, text] of [
      ['support-ticket', '.'],
      ['support-ticket', '....................................'],
      ['support-ticket', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
      ['support-ticket', '12345678901234567890123456'],
      ['support-ticket', 'short but real'],
      ['curiosity', 'ticket 4711: the user reports missing messages'],
    ] as const) {
      assert.equal(code(() => checkJustification(config, c, text)), 'invalid_justification', text);
    }
  });
});

void describe('durations', () => {
  void it('one whole number and one unit, nothing else', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('8h'), 8 * 3_600_000);
    for (const bad of ['', '0h', '1.5h', '1h30m', '8 h', 'h', '8', '-1h', '1w', '08h', '9999999s']) assert.equal(parseDuration(bad), undefined, bad);
  });

  void it('property: format then parse gives the same duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999 }), fc.constantFrom('s', 'm', 'h', 'd'), (n, unit) => {
        const ms = parseDuration(`${n}${unit}`);
        assert.ok(ms !== undefined);
        const again = parseDuration(formatDuration(ms));
        if (again !== undefined) assert.equal(again, ms);
      }),
      params,
    );
  });
});

void describe('canonical digests', () => {
  void it('do not depend on key order, and differ when anything differs', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'] }), '{"a":[true,null,"x"],"b":1}');
    assert.equal(contentDigest({ a: 1, b: 2 }), contentDigest({ b: 2, a: 1 }));
    assert.notEqual(contentDigest({ id: 'req_1', a: 1 }), contentDigest({ id: 'req_2', a: 1 }));
    assert.throws(() => canonicalJson(Number.NaN));
  });

  void it('property: equal for any permutation of keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string(), fc.integer(), fc.boolean())), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse()) as Canonical;
        assert.equal(canonicalJson(obj as Canonical), canonicalJson(reversed));
        // The same members, in code-unit order (RFC 8785 section 3.2.3), spelled as JSON.stringify spells
        // strings and these values. Not checked with JSON.parse: V8 (Node 24) may read an escaped key `\"`
        // back as `\\` after parsing a `\\` key at the same place (nodejs/node#63785).
        const members = Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        assert.equal(canonicalJson(obj as Canonical), `{${members.map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(',')}}`);
      }),
      params,
    );
  });
});

void describe('the policy diff', () => {
  void it('property: the edit script turns the old lines into the new ones', () => {
    const line = fc.constantFrom('permit', 'forbid', '@id("a")', '', 'when { x };');
    fc.assert(
      fc.property(fc.array(line, { maxLength: 15 }), fc.array(line, { maxLength: 15 }), (a, b) => {
        const edits = diffLines(a, b);
        assert.deepEqual(edits.filter((e) => e.op !== '+').map((e) => e.line), a);
        assert.deepEqual(edits.filter((e) => e.op !== '-').map((e) => e.line), b);
      }),
      params,
    );
  });

  void it('prints hunks with context; nothing for equal texts', () => {
    assert.equal(unifiedDiff('a\nb', 'a\nb', { from: 'x', to: 'y' }), '');
    const d = unifiedDiff('a\nb\nc', 'a\nB\nc', { from: 'v1', to: 'proposed' });
    assert.equal(d, '--- v1\n+++ proposed\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  });
});
