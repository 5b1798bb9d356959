// The `gatekeeper:` section of the configuration, cross-checked against the orgs and roles it names.
// Schema errors are reported by config.ts; this file adds the references and limits a schema cannot say.
import type { RawGatekeeper } from './config-schema.ts';
import { parseDuration } from './duration.ts';
import { parseRfc3339 } from './rfc3339.ts';

/** k distinct approvers from the `from` groups, with at least n from each group of `require` (AND). */
export interface QuorumRule {
  readonly k: number;
  readonly from: readonly string[];
  readonly require: ReadonlyMap<string, number>;
}

/**
 * Who belongs to an approver group: holders of these roles (org/role), and these named principals,
 * except members of the `barred` orgs (the parent company's).
 */
export interface ApproverGroup {
  readonly id: string;
  readonly roles: ReadonlySet<string>;
  readonly principals: ReadonlySet<string>;
  /**
   * Orgs none of whose principals belong, even by name. A parent role is refused at load, but a named
   * principal's org is known only when it approves (invariant 2: the parent company never approves).
   * A group a `require` names that has no gatekeeper role bars the gatekeeper orgs too (the check from
   * outside the gatekeeper team), unless it names principals only and policy or token approvals draw from it.
   */
  readonly barred: ReadonlySet<string>;
}

export interface BreakGlassConfig {
  /** Roles (org/role) that may open an emergency grant without prior approval. */
  readonly roles: ReadonlySet<string>;
  readonly maxMs: number;
  /** A break-glass scope names its subjects, at most this many (never whole collections). */
  readonly maxSubjects: number;
  /** How many break-glass grants one principal may hold open (neither expired nor revoked) at once. */
  readonly maxOpen: number;
  /**
   * How many of one principal's break-glass uses may await their review (open, revoked or expired alike)
   * before the next is refused: revoking and reopening never escapes the review.
   */
  readonly maxUnreviewed: number;
  readonly review: QuorumRule;
  /** Every break-glass grant must be reviewed within this time of its opening, or it is overdue. */
  readonly reviewWithinMs: number;
}

/**
 * The check on the gatekeeper team from outside it ("one gatekeeper and one monitor"): the groups a
 * `require` of access_approval or break_glass.review names, and the orgs other than gatekeeper orgs
 * with a role in them. A token for a principal of such an org needs that org's own approval too
 * (change-service.ts): else a gatekeeper quorum could mint itself the monitors its rules require.
 */
export interface IndependentApprovers {
  readonly groups: readonly string[];
  readonly orgs: ReadonlySet<string>;
  /** Never independent, even by a principal named in one of the groups. */
  readonly gatekeeperOrgs: ReadonlySet<string>;
  /**
   * Org → a time (ms) before which its approvers' revoked or expired tokens do not bootstrap it
   * (gatekeeper.rebootstrap): the recovery of an org none of whose approvers holds a token any more.
   */
  readonly rebootstrap: ReadonlyMap<string, number>;
}

export interface GatekeeperConfig {
  readonly purposes: readonly string[];
  /** Service role (org/role) → the purposes it may act for. Every role of a service org has an entry. */
  readonly servicePurposes: ReadonlyMap<string, ReadonlySet<string>>;
  readonly justificationCodes: readonly string[];
  readonly minJustificationLength: number;
  readonly maxGrantMs: number;
  readonly requestExpiryMs: number;
  readonly groups: ReadonlyMap<string, ApproverGroup>;
  readonly accessApproval: QuorumRule;
  readonly policyApproval: QuorumRule;
  readonly tokenApproval: QuorumRule;
  readonly breakGlass: BreakGlassConfig;
  readonly independent: IndependentApprovers;
  /** The role `enclave init` gives each seal officer's bootstrap token. */
  readonly bootstrap: { readonly org: string; readonly role: string };
}

/** The org kinds and roles the section may refer to, as config.ts has indexed them. */
export interface RoleIndex {
  /** org id → kind, and its role ids */
  readonly orgs: ReadonlyMap<string, { readonly kind: string; readonly roles: ReadonlyMap<string, unknown> }>;
}

const MAX_GRANT_MS = 90 * 86_400_000;
const MAX_BREAK_GLASS_MS = 86_400_000;
const MAX_EXPIRY_MS = 30 * 86_400_000;
export const BREAK_GLASS_DEFAULTS = { maxSubjects: 10, maxOpen: 1, maxUnreviewed: 3 } as const;

export function roleRef(org: string, role: string): string {
  return `${org}/${role}`;
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('/');
  return [ref.slice(0, i), ref.slice(i + 1)];
}

export function parseGatekeeper(raw: RawGatekeeper, index: RoleIndex, problems: string[]): GatekeeperConfig {
  const at = (key: string) => `gatekeeper.${key}`;
  const kindOf = (ref: string, key: string): string | undefined => {
    const [org, role] = splitRef(ref);
    const o = index.orgs.get(org);
    if (!o) {
      problems.push(`${at(key)}: "${ref}" names no org "${org}" (expected one of: ${[...index.orgs.keys()].join(', ')})`);
      return undefined;
    }
    if (!o.roles.has(role)) {
      problems.push(`${at(key)}: "${ref}" names no role "${role}" of org "${org}" (expected one of: ${[...o.roles.keys()].join(', ')})`);
      return undefined;
    }
    return o.kind;
  };
  const ms = (text: string) => parseDuration(text) ?? 0;

  const purposes = new Set(raw.purposes);
  const servicePurposes = new Map<string, ReadonlySet<string>>();
  for (const [ref, list] of Object.entries(raw.service_purposes)) {
    const kind = kindOf(ref, `service_purposes.${ref}`);
    if (kind !== undefined && kind !== 'service') problems.push(`${at(`service_purposes.${ref}`)}: "${ref}" is not a role of a service org (its org is of kind ${kind})`);
    for (const p of list) if (!purposes.has(p)) problems.push(`${at(`service_purposes.${ref}`)}: purpose "${p}" is not in gatekeeper.purposes`);
    servicePurposes.set(ref, new Set(list));
  }
  for (const [orgId, org] of index.orgs) {
    if (org.kind !== 'service') continue;
    for (const role of org.roles.keys()) {
      const ref = roleRef(orgId, role);
      if (!servicePurposes.has(ref)) problems.push(`${at('service_purposes')} lacks "${ref}": every role of a service org must list the purposes it may act for`);
    }
  }

  const groups = new Map<string, ApproverGroup>();
  const barred = new Set([...index.orgs].filter(([, org]) => org.kind === 'parent').map(([orgId]) => orgId));
  for (const [id, g] of Object.entries(raw.groups)) {
    const roles = g.roles ?? [];
    const principals = g.principals ?? [];
    if (roles.length === 0 && principals.length === 0) problems.push(`${at(`groups.${id}`)} has no members: list roles and/or principals`);
    roles.forEach((ref, i) => {
      // Invariant 2: the parent company never approves anything that releases protected data.
      if (kindOf(ref, `groups.${id}.roles[${i}]`) === 'parent') problems.push(`${at(`groups.${id}.roles[${i}]`)}: "${ref}" belongs to the parent company, which may never approve access`);
    });
    groups.set(id, { id, roles: new Set(roles), principals: new Set(principals), barred });
  }

  const quorum = (q: { k: number; from: string[]; require?: Record<string, number> }, key: string): QuorumRule => {
    for (const g of q.from) if (!groups.has(g)) problems.push(`${at(`${key}.from`)}: "${g}" is not a group in gatekeeper.groups (expected one of: ${[...groups.keys()].join(', ')})`);
    const require = new Map(Object.entries(q.require ?? {}));
    let sum = 0;
    for (const [g, n] of require) {
      if (!q.from.includes(g)) problems.push(`${at(`${key}.require`)}: "${g}" must also be listed in ${at(`${key}.from`)}`);
      sum += n;
    }
    if (sum > q.k) problems.push(`${at(`${key}.require`)} asks for ${sum} approvers in all, more than ${at(`${key}.k`)} (${q.k})`);
    return { k: q.k, from: q.from, require };
  };

  const maxGrantMs = ms(raw.max_grant_duration);
  if (maxGrantMs > MAX_GRANT_MS) problems.push(`${at('max_grant_duration')} must be at most 90d`);
  const requestExpiryMs = ms(raw.request_expiry);
  if (requestExpiryMs > MAX_EXPIRY_MS) problems.push(`${at('request_expiry')} must be at most 30d`);

  const bg = raw.break_glass;
  bg.roles.forEach((ref, i) => {
    if (kindOf(ref, `break_glass.roles[${i}]`) === 'parent') problems.push(`${at(`break_glass.roles[${i}]`)}: "${ref}" belongs to the parent company, which may never open protected data`);
  });
  const bgMax = ms(bg.max_duration);
  if (bgMax > MAX_BREAK_GLASS_MS) problems.push(`${at('break_glass.max_duration')} must be at most 24h: break-glass access is short by design`);
  if (bgMax > maxGrantMs) problems.push(`${at('break_glass.max_duration')} (${bg.max_duration}) must not exceed ${at('max_grant_duration')} (${raw.max_grant_duration})`);

  // Every open use awaits its review too: a lower cap would lower max_open unsaid. Unset, it follows max_open.
  const maxOpen = bg.max_open ?? BREAK_GLASS_DEFAULTS.maxOpen;
  const maxUnreviewed = bg.max_unreviewed ?? Math.max(BREAK_GLASS_DEFAULTS.maxUnreviewed, maxOpen);
  if (maxUnreviewed < maxOpen) {
    problems.push(`${at('break_glass.max_unreviewed')} (${maxUnreviewed}) must be at least ${at('break_glass.max_open')} (${maxOpen}): every open break-glass awaits its review`);
  }

  const bootKind = kindOf(raw.bootstrap.role, 'bootstrap.role');
  if (bootKind !== undefined && bootKind !== 'gatekeeper') problems.push(`${at('bootstrap.role')}: "${raw.bootstrap.role}" must be a role of a gatekeeper org`);
  const [bootOrg, bootRole] = splitRef(raw.bootstrap.role);

  // In the order their problems have always been reported.
  const accessApproval = quorum(raw.access_approval, 'access_approval');
  const policyApproval = quorum(raw.policy_approval, 'policy_approval');
  const tokenApproval = quorum(raw.token_approval, 'token_approval');
  const review = quorum(bg.review, 'break_glass.review');
  const gatekeeperOrgs = new Set([...index.orgs].filter(([, org]) => org.kind === 'gatekeeper').map(([orgId]) => orgId));
  const independentGroups = [...new Set([...accessApproval.require.keys(), ...review.require.keys()])];
  // A required group none of whose roles is a gatekeeper org's is the check from outside the gatekeeper
  // team (the monitors): no gatekeeper counts in it, even named by id, whenever that principal was made.
  // A group of names only is the gatekeepers' own when the policy or token approvals draw from it: else
  // gatekeepers named there would be barred from approving anything.
  const gatekeepersOwn = new Set([...policyApproval.from, ...tokenApproval.from]);
  for (const g of independentGroups) {
    const group = groups.get(g);
    if (!group || [...group.roles].some((ref) => gatekeeperOrgs.has(splitRef(ref)[0])) || (group.roles.size === 0 && gatekeepersOwn.has(g))) continue;
    groups.set(g, { ...group, barred: new Set([...group.barred, ...gatekeeperOrgs]) });
  }
  const independentOrgs = new Set<string>();
  for (const g of independentGroups) {
    for (const ref of groups.get(g)?.roles ?? []) {
      const [org] = splitRef(ref);
      if (index.orgs.has(org) && !gatekeeperOrgs.has(org) && !barred.has(org)) independentOrgs.add(org);
    }
  }

  // An org is also independent through a principal a required group names (quorum.ts independentOrgOf):
  // such an org, left with no approver token, is recovered the same way.
  const byName = (org: string) => independentGroups.some((g) => (groups.get(g)?.principals.size ?? 0) > 0 && groups.get(g)?.barred.has(org) === false);
  const recoverable = [...index.orgs.keys()].filter((org) => !gatekeeperOrgs.has(org) && (independentOrgs.has(org) || byName(org)));
  const rebootstrap = new Map<string, number>();
  for (const [org, text] of Object.entries(raw.rebootstrap ?? {})) {
    const since = parseRfc3339(text);
    if (!recoverable.includes(org)) {
      problems.push(
        `${at(`rebootstrap.${org}`)}: "${org}" is not an independent approver org (an org, not a gatekeeper org, with a role in a group a require names, or any such org when the group names principals; expected one of: ${recoverable.join(', ') || 'none'})`,
      );
    } else if (since === undefined) {
      problems.push(`${at(`rebootstrap.${org}`)} must be an RFC 3339 date-time, e.g. 2026-11-25T12:00:00Z`);
    } else if (since > Date.now()) {
      // It would forget the tokens issued from now until then, once they are revoked (a typo's year, say).
      problems.push(`${at(`rebootstrap.${org}`)} (${text}) is in the future: name the time from which the org's approver tokens count again, now or earlier`);
    } else rebootstrap.set(org, since);
  }

  return {
    purposes: raw.purposes,
    servicePurposes,
    justificationCodes: raw.justification_codes,
    minJustificationLength: raw.min_justification_length,
    maxGrantMs,
    requestExpiryMs,
    groups,
    accessApproval,
    policyApproval,
    tokenApproval,
    breakGlass: {
      roles: new Set(bg.roles),
      maxMs: bgMax,
      maxSubjects: bg.max_subjects ?? BREAK_GLASS_DEFAULTS.maxSubjects,
      maxOpen,
      maxUnreviewed,
      review,
      reviewWithinMs: ms(bg.review.within),
    },
    independent: { groups: independentGroups, orgs: independentOrgs, gatekeeperOrgs, rebootstrap },
    bootstrap: { org: bootOrg, role: bootRole },
  };
}
