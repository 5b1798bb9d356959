// The gatekeeper's decision point (issue 3): every action is put to the Cedar policy set as one request
// without entity data: the principal's org kind is its entity type, the collection or area is the
// resource, and the context carries what the configuration and the grants say about this request.
//
// A read asks twice when it must: first whether protected fields may leave (with the grant that covers
// them, if any), and if not, whether the public fields may (redaction, issue 3 point 5). The parent
// company's first question is answered by the invariant without asking: it always forbids.
//
// Decisions are cached under the whole Cedar input plus the policy epoch and the grant epoch, and an
// entry lives no longer than the principal's earliest grant expiry, so no decision outlives a policy
// change, a grant change or an expiry.
import { coveredFields } from '../core/access-scope.ts';
import { PRINCIPAL_TYPES, systemResourceOf } from '../core/cedar-schema.ts';
import { ACTIONS, type Action, type RoleAction } from '../core/config-schema.ts';
import type { CollectionDef, EnclaveConfig } from '../core/config.ts';
import type { Decision, DecisionPoint, DecisionRequest, GrantRef } from '../core/decision.ts';
import type { EnclaveError } from '../core/errors.ts';
import { roleRef, type QuorumRule } from '../core/gatekeeper-config.ts';
import { Lru } from '../core/lru.ts';
import type { Principal } from '../core/principal.ts';
import { isEligible, isIndependent } from '../core/quorum.ts';
import type { Context } from '@cedar-policy/cedar-wasm/nodejs';
import type { ActiveGrant, GrantIndex } from './grant-index.ts';
import { DEFAULT_DENY, ENGINE_FAILED_PREFIX, type CedarAnswer, type PolicyEngine } from './policy-engine.ts';

const PARENT_INVARIANT = 'invariant/parent-never-protected';
/** Names the decision that lets an officer seal while the engine is failed (no Cedar policy decided it). */
const SEAL_WHILE_FAILED = `${ENGINE_FAILED_PREFIX}gatekeeper-seal`;
const ROLE_ACTIONS: ReadonlySet<string> = new Set(ACTIONS);
/** Actions that reach protected data as a whole, whatever fields they name. */
const WHOLE_SUBJECT: ReadonlySet<Action> = new Set<Action>(['subject.erase', 'subject.rehome', 'enclave.seal']);
/**
 * Independent approvers (monitors) see and approve the token proposals of their own org, which need
 * their approval: the change service narrows these to that org, and never counts them toward token_approval.
 */
const OWN_ORG_TOKEN_ACTIONS: ReadonlySet<Action> = new Set<Action>(['token.approve', 'token.list']);

interface Facts {
  readonly principal: Principal;
  readonly type: string;
  readonly roleRef: string;
  readonly roleAllows: boolean;
  readonly readsProtected: boolean;
  /** The stated purpose if it is a configured one. */
  readonly purpose: string | undefined;
  readonly servicePurpose: boolean;
  readonly approver: boolean;
  readonly breakglassRole: boolean;
}

interface Covering {
  readonly grant: ActiveGrant;
  readonly fields: readonly string[];
}

interface Cached {
  readonly decision: Decision;
  readonly validUntil: number;
}

const NO_GRANTS: readonly ActiveGrant[] = [];
const entity = (type: string, id: string) => ({ __entity: { type: `Enclave::${type}`, id } });

export class CedarDecisionPoint implements DecisionPoint {
  private readonly config: EnclaveConfig;
  private readonly engine: PolicyEngine;
  private readonly grants: GrantIndex;
  private readonly cache: Lru<string, Cached> | undefined;
  private readonly purposes: ReadonlySet<string>;
  /** The approval rules whose approvers an action is for (context.approver). */
  private readonly rules: Partial<Record<Action, readonly QuorumRule[]>>;

  constructor(deps: { config: EnclaveConfig; engine: PolicyEngine; grants: GrantIndex; cacheSize?: number }) {
    this.config = deps.config;
    this.engine = deps.engine;
    this.grants = deps.grants;
    const size = deps.cacheSize ?? 10_000;
    this.cache = size > 0 ? new Lru(size) : undefined;
    this.purposes = new Set(deps.config.gatekeeper.purposes);
    const g = deps.config.gatekeeper;
    this.rules = {
      'access.review': [g.accessApproval],
      'breakglass.review': [g.breakGlass.review],
      'policy.approve': [g.policyApproval],
      'token.approve': [g.tokenApproval],
      'token.list': [g.tokenApproval],
      'access.list': [g.accessApproval, g.breakGlass.review],
      'access.revoke': [g.accessApproval, g.breakGlass.review],
    };
  }

  decide(request: DecisionRequest): Promise<Decision> {
    return Promise.resolve(this.decideNow(request));
  }

  /** The same decision, synchronously (the benchmark measures this). */
  decideNow(req: DecisionRequest): Decision {
    // Checked before the cache: a decision cached while the engine was healthy must not outlive its trap.
    const failure = this.engine.failure;
    if (failure) return this.whileFailed(req, failure);
    const facts = this.facts(req.principal, req.action);
    if (!facts) {
      return this.denial([DEFAULT_DENY], `principal ${req.principal.id} has no role "${req.principal.role}" in org "${req.principal.org}" in the configuration`);
    }
    const now = req.now.getTime();
    const c = req.collection;
    const subjectKey = this.engine.contextRead.has('subject') ? (req.subject ?? '') : '';
    if (req.action === 'record.read' && c) {
      const asked = req.fields ?? [...c.fields.keys()];
      const protectedAsked = asked.filter((f) => c.fields.get(f)?.class === 'protected');
      // The covering grant is looked for only on a miss: the key holds what it depends on. The grants are
      // fixed by the grant epoch in the prefix (an entry lives no longer than the earliest expiry), the
      // purpose, collection and fields are in the key, and so is the subject if some grant names subjects.
      const grants = protectedAsked.length > 0 && facts.principal.orgKind !== 'parent' && req.subject !== undefined && facts.purpose !== undefined ? this.grants.active(facts.principal.id, now) : NO_GRANTS;
      const coverKey = grants.length === 0 ? '-' : grants.some((g) => g.scope.subjects.length > 0) ? `s:${req.subject ?? ''}` : 'g';
      const key = this.cache && `${this.prefix(facts, req.action)}|${c.name}|${protectedAsked.join(',')}|${subjectKey}|${coverKey}`;
      return this.cached(key, facts, now, () => this.read(facts, req, c, protectedAsked, grants.length === 0 ? undefined : this.covering(facts, c, req.subject, protectedAsked, now)));
    }
    const reaches = this.reachesProtected(req);
    const key = this.cache && `${this.prefix(facts, req.action)}|${c?.name ?? ''}|${reaches ? 1 : 0}|${subjectKey}`;
    return this.cached(key, facts, now, () => {
      const answer = this.ask(facts, req, reaches, undefined);
      return answer.allow ? this.allowed(answer, 'public', 'allowed') : this.denial(answer.policies, this.reasonOf(answer, facts, req.action));
    });
  }

  /**
   * With the engine failed every decision is refused, except sealing: it reveals nothing and is the
   * emergency response ("Seal is never blocked", transparency-log.md), so it follows the configured
   * roles without Cedar, for the gatekeeper's own principals only (never the parent company's).
   */
  private whileFailed(req: DecisionRequest, failure: EnclaveError): Decision {
    if (this.cache && this.cache.size > 0) this.cache.clear();
    const facts = req.action === 'enclave.seal' ? this.facts(req.principal, req.action) : undefined;
    if (!facts?.roleAllows || facts.principal.orgKind !== 'gatekeeper') throw failure;
    return { allow: true, release: 'public', policies: [SEAL_WHILE_FAILED], policyVersion: this.engine.version, reason: 'allowed: the policy engine failed; sealing follows the configured roles of the gatekeeper' };
  }

  private prefix(facts: Facts, action: Action): string {
    const p = facts.principal;
    return `${this.engine.policyEpoch}|${this.grants.epoch}|${p.id}|${p.org}|${p.role}|${p.orgKind}|${action}|${facts.purpose ?? ''}`;
  }

  private cached(key: string | undefined, facts: Facts, now: number, compute: () => Decision): Decision {
    if (key === undefined || !this.cache) return compute();
    const hit = this.cache.get(key);
    if (hit && now < hit.validUntil) return hit.decision;
    const decision = compute();
    this.cache.set(key, { decision, validUntil: this.grants.nextExpiry(facts.principal.id, now) });
    return decision;
  }

  private read(facts: Facts, req: DecisionRequest, c: CollectionDef, protectedAsked: readonly string[], covering: Covering | undefined): Decision {
    if (protectedAsked.length === 0) {
      const only = this.ask(facts, req, false, undefined);
      return only.allow ? this.allowed(only, 'public', 'allowed') : this.denial(only.policies, this.reasonOf(only, facts, req.action));
    }
    // The parent company: the invariant forbids protected fields whatever else holds; Cedar would say so.
    const first: CedarAnswer = facts.principal.orgKind === 'parent' ? { allow: false, policies: [PARENT_INVARIANT], errors: [] } : this.ask(facts, req, true, covering);
    if (first.allow) {
      const underGrant = covering !== undefined && first.policies.every((id) => this.engine.info(id)?.reads.has('grant') === true);
      if (!underGrant) return this.allowed(first, 'protected', 'allowed');
      const g: GrantRef = { id: covering.grant.id, breakglass: covering.grant.breakglass };
      const all = covering.fields.length === protectedAsked.length;
      return {
        ...this.allowed(first, 'protected', `allowed under ${g.breakglass ? 'BREAK-GLASS ' : ''}grant ${g.id}${all ? '' : ` (fields ${covering.fields.join(', ')} only)`}`),
        grant: g,
        ...(all ? {} : { fields: covering.fields }),
      };
    }
    const second = this.ask(facts, req, false, undefined);
    if (!second.allow) return this.denial(second.policies, this.reasonOf(second, facts, req.action));
    return this.allowed({ ...second, policies: [...first.policies, ...second.policies] }, 'public', `allowed; protected fields of ${c.name} withheld: ${this.reasonOf(first, facts, req.action)}`);
  }

  private allowed(answer: CedarAnswer, release: 'protected' | 'public', reason: string): Decision {
    return { allow: true, release, policies: answer.policies, policyVersion: this.engine.version, reason };
  }

  private denial(policies: readonly string[], reason: string): Decision {
    return { allow: false, release: 'public', policies, policyVersion: this.engine.version, reason };
  }

  private reasonOf(answer: CedarAnswer, facts: Facts, action: Action): string {
    if (answer.errors.length > 0) return `denied: policy ${answer.policies.join(', ')} could not be evaluated (${answer.errors[0] ?? ''})`;
    for (const id of answer.policies) {
      const reason = this.engine.info(id)?.reason;
      if (reason !== undefined) return reason;
    }
    return `no policy permits ${action} for role ${facts.roleRef}`;
  }

  private facts(principal: Principal, action: Action): Facts | undefined {
    const org = this.config.orgs.get(principal.org);
    const role = org?.roles.get(principal.role);
    if (!org || !role || org.kind !== principal.orgKind) return undefined;
    const g = this.config.gatekeeper;
    const ref = roleRef(org.id, role.id);
    const purpose = principal.purpose !== undefined && this.purposes.has(principal.purpose) ? principal.purpose : undefined;
    return {
      principal,
      type: `Enclave::${PRINCIPAL_TYPES[org.kind]}`,
      roleRef: ref,
      roleAllows: ROLE_ACTIONS.has(action) && role.actions.has(action as RoleAction),
      readsProtected: role.reads === 'protected' && org.kind !== 'parent',
      purpose,
      servicePurpose: org.kind === 'service' && purpose !== undefined && (g.servicePurposes.get(ref)?.has(purpose) ?? false),
      approver: (this.rules[action] ?? []).some((rule) => isEligible(rule, g.groups, principal)) || (OWN_ORG_TOKEN_ACTIONS.has(action) && isIndependent(g.independent, g.groups, principal)),
      breakglassRole: g.breakGlass.roles.has(ref),
    };
  }

  private reachesProtected(req: DecisionRequest): boolean {
    if (WHOLE_SUBJECT.has(req.action)) return true;
    const c = req.collection;
    if (req.action === 'record.write' || req.action === 'record.delete') return c !== undefined && (req.fields ?? []).some((f) => c.fields.get(f)?.class === 'protected');
    return req.protected === true;
  }

  /** The grant of this principal, for the stated purpose, that opens the most of the fields asked for. */
  private covering(facts: Facts, c: CollectionDef, subject: string | undefined, asked: readonly string[], now: number): Covering | undefined {
    if (subject === undefined || facts.purpose === undefined) return undefined;
    let best: Covering | undefined;
    for (const grant of this.grants.active(facts.principal.id, now)) {
      if (grant.purpose !== facts.purpose) continue;
      const open = coveredFields(grant.scope, c, subject);
      if (!open) continue;
      const fields = asked.filter((f) => open.includes(f));
      if (fields.length === 0) continue;
      if (!best || fields.length > best.fields.length || (fields.length === best.fields.length && grant.expiresAt > best.grant.expiresAt)) best = { grant, fields };
    }
    return best;
  }

  private ask(facts: Facts, req: DecisionRequest, reaches: boolean, covering: Covering | undefined): CedarAnswer {
    const read = this.engine.contextRead;
    const context: Record<string, unknown> = {};
    if (read.has('org')) context['org'] = entity('Org', facts.principal.org);
    if (read.has('role')) context['role'] = entity('Role', facts.roleRef);
    if (read.has('role_allows')) context['role_allows'] = facts.roleAllows;
    if (read.has('role_reads_protected')) context['role_reads_protected'] = facts.readsProtected;
    if (read.has('protected')) context['protected'] = reaches;
    if (read.has('purpose') && facts.purpose !== undefined) context['purpose'] = entity('Purpose', facts.purpose);
    if (read.has('service_purpose')) context['service_purpose'] = facts.servicePurpose;
    if (read.has('approver')) context['approver'] = facts.approver;
    if (read.has('breakglass_role')) context['breakglass_role'] = facts.breakglassRole;
    if (read.has('grant') && covering) context['grant'] = { id: covering.grant.id, breakglass: covering.grant.breakglass };
    if (read.has('subject') && req.subject !== undefined) context['subject'] = req.subject;
    const c = req.collection;
    const resource = c && req.action.startsWith('record.') ? { type: 'Enclave::Collection', id: c.name } : { type: 'Enclave::System', id: systemResourceOf(req.action) ?? 'subjects' };
    return this.engine.evaluate({ principal: { type: facts.type, id: facts.principal.id }, action: req.action, resource, context: context as Context });
  }
}
