// k-of-n approval with groups (issue 3 point 2): k distinct approvers, each a member of one of the rule's
// `from` groups, and at least n of them from each group named in `require`, with no approver counted
// for two requirements (one officer who is also a monitor does not stand for both). The requester or
// proposer never counts.
import type { ApproverGroup, IndependentApprovers, QuorumRule } from './gatekeeper-config.ts';
import { roleRef } from './gatekeeper-config.ts';

export interface Approver {
  readonly id: string;
  readonly org: string;
  readonly role: string;
}

export interface QuorumState {
  readonly met: boolean;
  /** Approvers that count toward the rule, in the order given. */
  readonly counted: readonly string[];
  /** What is still missing, in words (empty when met). */
  readonly missing: string;
}

export function inGroup(group: ApproverGroup | undefined, a: Approver): boolean {
  return group !== undefined && !group.barred.has(a.org) && (group.principals.has(a.id) || group.roles.has(roleRef(a.org, a.role)));
}

/** Whether `a` may approve under `rule` at all (a member of one of its groups). */
export function isEligible(rule: QuorumRule, groups: ReadonlyMap<string, ApproverGroup>, a: Approver): boolean {
  return rule.from.some((g) => inGroup(groups.get(g), a));
}

/** Whether `a` is part of the check from outside the gatekeeper team: of another org, in a group its rules require. */
export function isIndependent(ind: IndependentApprovers, groups: ReadonlyMap<string, ApproverGroup>, a: Approver): boolean {
  return !ind.gatekeeperOrgs.has(a.org) && ind.groups.some((g) => inGroup(groups.get(g), a));
}

/** The independent group (one a `require` names) that lists principal `id` by name and bars `org`, if any. */
export function namedIndependent(ind: IndependentApprovers, groups: ReadonlyMap<string, ApproverGroup>, id: string, org: string): string | undefined {
  return ind.groups.find((g) => groups.get(g)?.principals.has(id) === true && groups.get(g)?.barred.has(org) === true);
}

/**
 * Who of `org` is an independent approver (isIndependent): its roles in the independent groups that do not
 * bar it, and the principals those groups name (counted when they are of `org`).
 */
export function independentMembers(ind: IndependentApprovers, groups: ReadonlyMap<string, ApproverGroup>, org: string): { roles: string[]; principals: string[] } {
  const roles = new Set<string>();
  const principals = new Set<string>();
  if (ind.gatekeeperOrgs.has(org)) return { roles: [], principals: [] };
  for (const name of ind.groups) {
    const group = groups.get(name);
    if (group === undefined || group.barred.has(org)) continue;
    for (const ref of group.roles) if (ref.startsWith(roleRef(org, ''))) roles.add(ref.slice(roleRef(org, '').length));
    for (const id of group.principals) principals.add(id);
  }
  return { roles: [...roles].sort(), principals: [...principals].sort() };
}

/**
 * The org whose own approval a token for `p` needs besides token_approval: its org, when that org has a
 * role in an independent group, or when `p` belongs to one (a principal named there); else none.
 */
export function independentOrgOf(ind: IndependentApprovers, groups: ReadonlyMap<string, ApproverGroup>, p: Approver): string | undefined {
  return ind.orgs.has(p.org) || isIndependent(ind, groups, p) ? p.org : undefined;
}

/** Largest assignment of approvers to required slots (Kuhn's augmenting paths; sizes are tiny). */
function matchRequirements(slots: readonly string[], approvers: readonly Approver[], groups: ReadonlyMap<string, ApproverGroup>): number {
  const slotOf = new Map<number, number>(); // approver index → slot index
  const approverOf = new Map<number, number>(); // slot index → approver index
  const tryAssign = (a: number, seen: Set<number>): boolean => {
    const approver = approvers[a];
    if (!approver) return false;
    for (let s = 0; s < slots.length; s++) {
      if (seen.has(s) || !inGroup(groups.get(slots[s] ?? ''), approver)) continue;
      seen.add(s);
      const holder = approverOf.get(s);
      if (holder === undefined || tryAssign(holder, seen)) {
        approverOf.set(s, a);
        slotOf.set(a, s);
        return true;
      }
    }
    return false;
  };
  let matched = 0;
  for (let a = 0; a < approvers.length; a++) if (tryAssign(a, new Set())) matched++;
  return matched;
}

export function evaluateQuorum(rule: QuorumRule, groups: ReadonlyMap<string, ApproverGroup>, approvals: readonly Approver[], requester: string): QuorumState {
  const seen = new Set<string>();
  const eligible: Approver[] = [];
  for (const a of approvals) {
    if (a.id === requester || seen.has(a.id) || !isEligible(rule, groups, a)) continue;
    seen.add(a.id);
    eligible.push(a);
  }
  const slots: string[] = [];
  for (const [g, n] of rule.require) for (let i = 0; i < n; i++) slots.push(g);
  const matched = matchRequirements(slots, eligible, groups);
  const met = eligible.length >= rule.k && matched === slots.length;
  if (met) return { met, counted: eligible.map((a) => a.id), missing: '' };
  const needs: string[] = [];
  if (eligible.length < rule.k) needs.push(`${rule.k - eligible.length} more approval${rule.k - eligible.length === 1 ? '' : 's'} from ${rule.from.join(' or ')}`);
  if (matched < slots.length) {
    const have = new Map<string, number>();
    // Describe the shortfall per group from a greedy count; the matching above is what decides.
    for (const [g, n] of rule.require) {
      const members = eligible.filter((a) => inGroup(groups.get(g), a)).length;
      if (members < n) have.set(g, n - members);
    }
    const parts = [...have].map(([g, n]) => `${n} from ${g}`);
    needs.push(parts.length > 0 ? `at least ${parts.join(' and ')}` : `distinct approvers for each of ${[...rule.require.keys()].join(' and ')}`);
  }
  return { met, counted: eligible.map((a) => a.id), missing: needs.join('; ') };
}
