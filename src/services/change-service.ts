// Changes no one person may make alone (issue 3 point 6, invariant 6): a new policy set, a token for a
// principal, the revocation of someone else's token. Each is a proposal that k approvers from the
// configured groups approve by its content digest (the proposer never counts); the approval that
// completes the quorum applies it, in the same transaction that marks it applied. Policy versions are
// kept; a proposal made against a version that is no longer active cannot be applied.
import { randomBytes } from 'node:crypto';
import type { Action } from '../core/config-schema.ts';
import type { EnclaveConfig } from '../core/config.ts';
import { contentDigest, type Canonical } from '../core/content-digest.ts';
import { forbidden, type Decision, type DecisionPoint } from '../core/decision.ts';
import { EnclaveError } from '../core/errors.ts';
import type { EventLog, LogEventType, LogValue } from '../core/event-log.ts';
import type { QuorumRule } from '../core/gatekeeper-config.ts';
import type { Principal } from '../core/principal.ts';
import { evaluateQuorum, independentMembers, independentOrgOf, isEligible, isIndependent, type Approver } from '../core/quorum.ts';
import type { ProposalState } from '../core/api-ids.ts';
import { formatRfc3339 } from '../core/rfc3339.ts';
import type { ApprovalRow, PolicyVersionRow, ProposalEffect, ProposalKind, ProposalRow, Store, TokenRow, TokenWithPrincipal } from '../core/store.ts';
import { unifiedDiff } from '../core/text-diff.ts';
import { Lru } from '../core/lru.ts';
import { hashToken, newTokenSecret } from '../crypto/token-secret.ts';
import { PolicyEngine, type ParsedPolicySet } from './policy-engine.ts';
import type { TokenCache } from './token-cache.ts';
import { checkTokenRequest, newTokenId, type TokenRequest } from './token-service.ts';
import { admitVerdict, alreadyReviewed, approversOf, recordVerdict, verdictViews, type VerdictInput, type VerdictView } from './verdicts.ts';

export const MAX_DESCRIPTION = 2000;

interface PolicyPayload {
  readonly text: string;
  readonly base_version: number;
  readonly description: string;
}
interface TokenIssuePayload {
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly label: string;
  readonly ttl_seconds: number | null;
  readonly token_id: string;
  /** SHA-256 of the secret the proposer holds; the token works only once the proposal is applied. */
  readonly hash: string;
}
interface TokenRevokePayload {
  readonly token_id: string;
  readonly principal: string;
}

/**
 * The approval a token for a principal of an independent org (the trusted provider's, whose monitors the
 * access rules require) needs from that org, besides token_approval: else a gatekeeper quorum could mint
 * itself monitors. The org's first token, before any of its approvers ever held one, is the bootstrap.
 */
export interface OrgApproval {
  readonly org: string;
  /** No independent approver of the org had ever held a token (when the proposal was decided): token_approval alone. */
  readonly first_of_org: boolean;
  /** The principal of the org whose approval gave it, if any. */
  readonly approved_by: string | null;
}

/** What `anyOf` found: the actions allowed, and the refusal of the first one denied. */
interface Access {
  readonly allowed: ReadonlySet<Action>;
  readonly denial?: EnclaveError;
}

const orgMet = (o: OrgApproval | undefined): boolean => o === undefined || o.first_of_org || o.approved_by !== null;

export interface PolicyDiff {
  readonly base_version: number;
  readonly active_version: number;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
  /** Unified line diff of the base version's text against the proposed text. */
  readonly text: string;
}


export interface ProposalView {
  readonly id: string;
  readonly kind: ProposalKind;
  readonly proposer: { readonly id: string; readonly org: string; readonly role: string };
  readonly policy?: { readonly text: string; readonly description: string; readonly diff: PolicyDiff };
  readonly token?: Omit<TokenIssuePayload, 'hash'>;
  readonly revoke?: TokenRevokePayload;
  readonly digest: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly status: ProposalState;
  readonly decided_at: string | null;
  readonly outcome: string | null;
  readonly approvals: readonly VerdictView[];
  readonly quorum: { readonly k: number; readonly met: boolean; readonly missing: string };
  readonly org_approval?: OrgApproval;
}

export interface PolicyVersionView {
  readonly version: number;
  readonly digest: string;
  readonly proposal: string | null;
  readonly approvers: readonly string[];
  readonly activated_at: string;
  readonly text?: string;
}

export interface TokenView {
  readonly id: string;
  readonly principal: string;
  readonly org: string;
  readonly role: string;
  readonly label: string;
  readonly state: 'active' | 'revoked' | 'expired';
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  /** The token this one replaced by rotation. */
  readonly replaces: string | null;
}

const isoOrNull = (ms: number | null) => (ms === null ? null : formatRfc3339(ms));

function proposalDigest(p: Omit<ProposalRow, 'digest' | 'status' | 'decidedAt' | 'outcome'>): string {
  return contentDigest({
    id: p.id,
    kind: p.kind,
    proposer: p.proposer,
    proposer_org: p.proposerOrg,
    proposer_role: p.proposerRole,
    payload: JSON.parse(p.payload) as Canonical,
    created_at: p.createdAt,
    expires_at: p.expiresAt,
  });
}

/** Who a proposal is about besides its proposer: the holder of the token it revokes (see Reviewable.party). */
function partyOf(row: ProposalRow): string | undefined {
  return row.kind === 'token.revoke' ? (JSON.parse(row.payload) as TokenRevokePayload).principal : undefined;
}

type PolicyChanges = Pick<PolicyDiff, 'added' | 'removed' | 'changed'>;
const NO_CHANGES: PolicyChanges = { added: [], removed: [], changed: [] };
/** Proposals whose policy changes are kept (a few ids each): the open ones of any real team fit. */
const DIFF_CACHE = 256;

/** The ids of policies whose text differs, appears or disappears between two sets. */
function policyChanges(a: ParsedPolicySet['policies'], b: ParsedPolicySet['policies']): PolicyChanges {
  return {
    added: [...b.keys()].filter((id) => !a.has(id)).sort(),
    removed: [...a.keys()].filter((id) => !b.has(id)).sort(),
    changed: [...b.keys()].filter((id) => a.has(id) && a.get(id)?.text !== b.get(id)?.text).sort(),
  };
}

function tokenView(t: TokenWithPrincipal, now: number): TokenView {
  return {
    id: t.token.id,
    principal: t.principal.id,
    org: t.principal.org,
    role: t.principal.role,
    label: t.token.label,
    state: tokenState(t, now),
    created_at: formatRfc3339(t.token.createdAt),
    expires_at: isoOrNull(t.token.expiresAt),
    revoked_at: isoOrNull(t.token.revokedAt),
    replaces: t.token.replaces,
  };
}

function tokenState(t: TokenWithPrincipal, now: number): TokenView['state'] {
  if (t.token.revokedAt !== null) return 'revoked';
  if (t.token.expiresAt !== null && t.token.expiresAt <= now) return 'expired';
  return 'active';
}

export class ChangeService {
  private readonly config: EnclaveConfig;
  private readonly store: Store;
  private readonly decisions: DecisionPoint;
  private readonly engine: PolicyEngine;
  private readonly log: EventLog;
  private readonly clock: () => number;
  /**
   * Policy changes by proposal digest. A proposal's text and its base version never change, nor does the
   * schema within a process, so the two Cedar parses a diff needs (milliseconds each) are done once,
   * not on every view and every listing.
   */
  private readonly changesOf = new Lru<string, PolicyChanges>(DIFF_CACHE);
  /** Cleared when a token is revoked here, so the revocation holds on this instance at once. */
  private readonly tokenCache: TokenCache | undefined;

  constructor(deps: { config: EnclaveConfig; store: Store; decisions: DecisionPoint; engine: PolicyEngine; log: EventLog; clock?: () => number; tokenCache?: TokenCache }) {
    this.config = deps.config;
    this.store = deps.store;
    this.decisions = deps.decisions;
    this.engine = deps.engine;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.tokenCache = deps.tokenCache;
  }

  /**
   * Activates a policy version another instance activated since (shared-state.ts); returns whether it
   * did. A version this configuration cannot validate is refused (invalid_config) and the active one kept.
   */
  async refresh(): Promise<boolean> {
    const latest = await this.store.policyVersions.latest();
    // Versions only grow: an older one read while this instance activated a newer one is not a change.
    if (!latest || latest.version <= this.engine.version) return false;
    this.activateStored(latest);
    return true;
  }

  /**
   * Activates the latest stored policy version; on a new store, stores the shipped default as version 1
   * first (the one change that needs no quorum: it is the build's, not a person's).
   */
  async load(): Promise<void> {
    let latest = await this.store.policyVersions.latest();
    if (!latest) {
      const text = PolicyEngine.defaultText();
      await this.store.policyVersions.append({ version: 1, text, digest: contentDigest(text), proposalId: null, approvers: '[]', activatedAt: this.clock() });
      latest = await this.store.policyVersions.latest();
    }
    if (!latest) throw new EnclaveError('storage_unavailable', 'the control store kept no policy version');
    this.activateStored(latest);
  }

  private activateStored(latest: { version: number; text: string }): void {
    try {
      this.engine.activate(latest.version, latest.text);
    } catch (err) {
      if (!(err instanceof EnclaveError) || err.code !== 'policy_invalid') throw err;
      // The configuration changed under the stored policies (a collection, org or role they name is gone).
      throw new EnclaveError('invalid_config', `policy version ${latest.version} no longer validates against the schema this configuration generates: ${err.message}`, { cause: err });
    }
  }

  private async authorize(principal: Principal, action: Action): Promise<void> {
    const d = await this.decisions.decide({ principal, action, now: new Date(this.clock()) });
    if (!d.allow) throw forbidden(d, action);
  }

  private async append(type: LogEventType, principal: Principal | undefined, details: Record<string, LogValue>): Promise<void> {
    await this.log.append({ type, ...(principal ? { principal: { id: principal.id, org: principal.org, role: principal.role } } : {}), details });
  }

  private ruleOf(kind: ProposalKind): QuorumRule {
    return kind === 'policy' ? this.config.gatekeeper.policyApproval : this.config.gatekeeper.tokenApproval;
  }

  private async create(principal: Principal, kind: ProposalKind, payload: Canonical, event: LogEventType, details: Record<string, LogValue>): Promise<ProposalRow> {
    const now = this.clock();
    const base = {
      id: `prop_${randomBytes(9).toString('base64url')}`,
      kind,
      proposer: principal.id,
      proposerOrg: principal.org,
      proposerRole: principal.role,
      payload: JSON.stringify(payload),
      createdAt: now,
      expiresAt: now + this.config.gatekeeper.requestExpiryMs,
    };
    const row: ProposalRow = { ...base, digest: proposalDigest(base), status: 'pending', decidedAt: null, outcome: null };
    await this.append(event, principal, { proposal: row.id, kind, digest: row.digest, ...details });
    await this.store.proposals.insert(row);
    return row;
  }

  // ---- policies ----------------------------------------------------------------------------------

  /** Proposes a new policy set; one that does not parse or validate is refused at once with Cedar's diagnostics. */
  async proposePolicy(principal: Principal, input: { text: string; description?: string }): Promise<ProposalView> {
    await this.authorize(principal, 'policy.propose');
    const description = (input.description ?? '').trim();
    if (description.length > MAX_DESCRIPTION) throw new EnclaveError('invalid_request', `a description has at most ${MAX_DESCRIPTION} characters`, { details: { field: 'description' } });
    const proposed = this.engine.parse(input.text);
    const base = this.engine.version;
    const active = this.engine.activeSet;
    const row = await this.create(principal, 'policy', { text: input.text, base_version: base, description }, 'policy.proposed', { base_version: base, text_digest: contentDigest(input.text) });
    if (active) this.changesOf.set(row.digest, policyChanges(active.policies, proposed.policies));
    return await this.view(row, []);
  }

  async policy(principal: Principal): Promise<{ active: PolicyVersionView & { text: string }; invariants: string; versions: PolicyVersionView[] }> {
    await this.authorize(principal, 'policy.read');
    const versions = await this.store.policyVersions.list();
    const active = versions.find((v) => v.version === this.engine.version);
    if (!active) throw new EnclaveError('storage_unavailable', 'the active policy version is not in the control store');
    return { active: { ...this.versionView(active), text: active.text }, invariants: this.engine.invariants.text, versions: versions.map((v) => this.versionView(v)) };
  }

  async policyVersion(principal: Principal, version: number): Promise<PolicyVersionView & { text: string }> {
    await this.authorize(principal, 'policy.read');
    const v = await this.store.policyVersions.get(version);
    if (!v) throw new EnclaveError('policy_version_not_found', `no policy version ${version} (the active one is ${this.engine.version})`);
    return { ...this.versionView(v), text: v.text };
  }

  async schema(principal: Principal): Promise<string> {
    await this.authorize(principal, 'policy.read');
    return this.engine.schema;
  }

  private versionView(v: PolicyVersionRow): PolicyVersionView {
    return { version: v.version, digest: v.digest, proposal: v.proposalId, approvers: JSON.parse(v.approvers) as string[], activated_at: formatRfc3339(v.activatedAt) };
  }

  // ---- tokens ------------------------------------------------------------------------------------

  /**
   * Proposes a token for a principal. The secret is returned to the proposer now, once, and works only
   * after k approvers have approved the proposal; only its hash is stored.
   */
  async proposeToken(principal: Principal, req: TokenRequest): Promise<{ proposal: ProposalView; secret: string }> {
    await this.authorize(principal, 'token.propose');
    checkTokenRequest(this.config, req);
    const tokens = await this.store.tokens.list();
    const existing = tokens.find((t) => t.principal.id === req.principal);
    if (existing && (existing.principal.org !== req.org || existing.principal.role !== req.role)) {
      throw new EnclaveError('invalid_argument', `principal "${req.principal}" already exists with another org or role`);
    }
    const secret = newTokenSecret();
    const payload: TokenIssuePayload = {
      principal: req.principal,
      org: req.org,
      role: req.role,
      label: req.label ?? '',
      ttl_seconds: req.ttlSeconds ?? null,
      token_id: newTokenId(),
      hash: hashToken(secret),
    };
    const g = this.config.gatekeeper;
    const org = independentOrgOf(g.independent, g.groups, { id: req.principal, org: req.org, role: req.role });
    // Present when the org must approve too; true, the bootstrap, flags what the gatekeepers alone may issue.
    const first = org !== undefined && this.firstOfOrg(tokens, org, Infinity);
    const check: Record<string, LogValue> = org === undefined ? {} : { first_of_org: first, ...(first ? this.rebootstrapDetails(org, this.clock()) : {}) };
    const row = await this.create(principal, 'token.issue', { ...payload }, 'token.proposed', { token: payload.token_id, for: payload.principal, org: payload.org, role: payload.role, ...check });
    return { proposal: await this.view(row, [], tokens), secret };
  }

  async tokens(principal: Principal): Promise<TokenView[]> {
    await this.authorize(principal, 'token.list');
    const now = this.clock();
    const own = this.ownOrgOnly(principal);
    return (await this.store.tokens.list()).filter((t) => !own || t.principal.org === principal.org).map((t) => tokenView(t, now));
  }

  /**
   * Replaces the token the caller used with a new one of the same principal, label and expiry, and
   * revokes the old one. Whoever proposed a token for someone else has seen its secret; its holder ends
   * that copy this way, without approvals, since the new token can do nothing the old one could not.
   * One entry logs both (`token.issued` naming the token it `replaces`) before either happens; the store
   * then revokes the old token and creates the new one in one transaction, in the old one's lineage, so a
   * revocation of any token of the lineage, before or after, ends the new one too. Refused while a
   * proposal to revoke a token of the lineage is pending.
   */
  async rotateOwnToken(principal: Principal): Promise<{ token: TokenView; secret: string; replaced: string }> {
    await this.authorize(principal, 'token.revoke');
    const now = this.clock();
    const old = await this.store.tokens.get(principal.tokenId);
    if (!old || old.principal.id !== principal.id || tokenState(old, now) !== 'active') {
      throw new EnclaveError('unauthenticated', 'the bearer token is unknown, expired or revoked');
    }
    // A token whose revocation awaits approval cannot slip out of it under a new id (nor can a token
    // rotated from it: the revocation would end it anyway).
    const against = await this.pendingRevocation(old.token.lineage, now);
    if (against) throw new EnclaveError('revocation_pending', `revoking ${against.token} was proposed (${against.proposal}) and awaits approval; ${old.token.id} cannot be rotated meanwhile`);
    const secret = newTokenSecret();
    const token: TokenRow = {
      id: newTokenId(),
      hash: hashToken(secret),
      principalId: principal.id,
      label: old.token.label,
      createdAt: now,
      expiresAt: old.token.expiresAt,
      revokedAt: null,
      replaces: old.token.id,
      lineage: old.token.lineage,
    };
    // Logged before it is applied, as every change by quorum: a log that cannot accept changes nothing.
    await this.append('token.issued', principal, { token: token.id, principal: principal.id, org: old.principal.org, role: old.principal.role, expires_at: isoOrNull(token.expiresAt), replaces: old.token.id });
    // The old token is revoked only while it is not (revoked_at IS NULL), with the new one created in the
    // same transaction: of two rotations, or a rotation and a revocation, at the same moment, one wins
    // and a rotation that loses creates nothing.
    let rotated: 'rotated' | 'not_active';
    try {
      rotated = await this.store.tokens.rotate(old.token.id, token, now);
    } finally {
      this.tokenCache?.clear();
    }
    if (rotated !== 'rotated') throw new EnclaveError('unauthenticated', 'the bearer token is unknown, expired or revoked');
    return { token: tokenView({ token, principal: old.principal }, now), secret, replaced: old.token.id };
  }

  /**
   * Revokes one's own token at once; another principal's token only through a proposal. Either way the
   * revocation ends the token and every token rotated from it (its lineage): a token listed before its
   * holder rotated it still names the token its holder uses now.
   */
  async revokeToken(principal: Principal, id: string): Promise<{ revoked: true; token: string } | { revoked: false; proposal: ProposalView }> {
    const t = await this.store.tokens.get(id);
    if (t && t.principal.id === principal.id) {
      await this.authorize(principal, 'token.revoke');
      // Taking one's own access away is never held up by the log: revoked first, then logged.
      const revoked = await this.store.tokens.revoke(id, this.clock());
      if (revoked.length === 0) return { revoked: true, token: id };
      this.tokenCache?.clear();
      await this.appendRevocation(principal, { token: id, of: principal.id, own: true, tokens: revoked });
      return { revoked: true, token: id };
    }
    await this.authorize(principal, 'token.propose');
    const live = t ? await this.unrevoked(t.token.lineage) : [];
    if (!t || live.length === 0) throw new EnclaveError('token_not_found', `no active token "${id}"`, { details: { key: id } });
    const payload: TokenRevokePayload = { token_id: id, principal: t.principal.id };
    const row = await this.create(principal, 'token.revoke', { ...payload }, 'token.proposed', { token: id, of: t.principal.id, revoke: true, tokens: live });
    return { revoked: false, proposal: await this.view(row, []) };
  }

  /** The ids of the tokens of a lineage not revoked yet (at most one): what revoking any of its tokens ends. */
  private async unrevoked(lineage: string): Promise<string[]> {
    return (await this.store.tokens.lineage(lineage)).filter((t) => t.token.revokedAt === null).map((t) => t.token.id);
  }

  /** An unexpired pending proposal to revoke a token of this lineage, if any. */
  private async pendingRevocation(lineage: string, now: number): Promise<{ proposal: string; token: string } | undefined> {
    const pending = (await this.store.proposals.list({ kind: 'token.revoke', status: 'pending', limit: 1000 })).filter((p) => p.expiresAt > now);
    if (pending.length === 0) return undefined;
    const ids = new Set((await this.store.tokens.lineage(lineage)).map((t) => t.token.id));
    for (const p of pending) {
      const token = (JSON.parse(p.payload) as TokenRevokePayload).token_id;
      if (ids.has(token)) return { proposal: p.id, token };
    }
    return undefined;
  }

  /** Logs a revocation already made; if the log cannot take it, the revocation stands, unrecorded, and the caller hears so. */
  private async appendRevocation(principal: Principal | undefined, details: Record<string, LogValue> & { tokens: readonly string[] }): Promise<void> {
    try {
      await this.append('token.revoked', principal, details);
    } catch (err) {
      throw new EnclaveError('log_unavailable', `${details.tokens.join(', ')} revoked, but the transparency log could not record it yet`, { cause: err });
    }
  }

  // ---- proposals ---------------------------------------------------------------------------------

  private readAction(kind: ProposalKind): Action {
    return kind === 'policy' ? 'policy.read' : 'token.list';
  }

  /**
   * An independent approver in none of token_approval's groups (a monitor) is one only for the tokens of
   * its own org: it sees, approves or rejects those token proposals and tokens, and no others.
   */
  private ownOrgOnly(principal: Principal): boolean {
    const g = this.config.gatekeeper;
    return !isEligible(g.tokenApproval, g.groups, principal) && isIndependent(g.independent, g.groups, principal);
  }

  /** Whether a principal confined to its own org's token proposals (ownOrgOnly) may act on this one. */
  private ownOrgMay(principal: Principal, row: ProposalRow): boolean {
    return row.kind === 'policy' || (row.kind === 'token.issue' && (JSON.parse(row.payload) as TokenIssuePayload).org === principal.org);
  }

  /**
   * The proposal, for a principal `anyOf` let through. One confined to its own org's token proposals is
   * refused any other token proposal, and, when it may act on no policy proposal either, an unknown id
   * alike (the same 403), so it cannot probe the ids of proposals it may not see.
   */
  private async rowFor(principal: Principal, id: string, access: Access, policyAction: Action): Promise<ProposalRow> {
    const row = await this.store.proposals.get(id);
    if (this.ownOrgOnly(principal) && (row ? !this.ownOrgMay(principal, row) : !access.allowed.has(policyAction))) {
      throw access.denial ?? new EnclaveError('forbidden', `${principal.id} sees and reviews only the token proposals for principals of ${principal.org}`, { details: { action: policyAction } });
    }
    if (!row) throw new EnclaveError('proposal_not_found', `no proposal "${id}"`, { details: { key: id } });
    return row;
  }

  /**
   * Whether no independent approver of `org` held a token created before `before` (revoked or expired ones
   * included). A gatekeeper.rebootstrap in effect then forgets the ones created before its time, unless
   * still valid: it recovers an org none of whose approvers holds a token, and while one does (rotated
   * since or not), that approver's org approves its own.
   */
  private firstOfOrg(tokens: readonly TokenWithPrincipal[], org: string, before: number): boolean {
    const g = this.config.gatekeeper;
    const at = Math.min(before, this.clock());
    const rebootstrap = this.rebootstrapSince(org, at);
    // An org counted only through a principal a group names (it has no role there) has no bootstrap of its
    // own: else the gatekeepers could propose that principal into any org that never had an approver, such
    // as the regulator's, and issue it a monitor's token alone. The operator opens it with a rebootstrap.
    if (!g.independent.orgs.has(org) && rebootstrap === undefined) return false;
    const since = rebootstrap ?? 0;
    const valid = (t: TokenRow) => (t.revokedAt === null || t.revokedAt > at) && (t.expiresAt === null || t.expiresAt > at);
    return !tokens.some((t) => t.principal.org === org && t.token.createdAt < before && (t.token.createdAt >= since || valid(t.token)) && isIndependent(g.independent, g.groups, t.principal));
  }

  /**
   * The org's gatekeeper.rebootstrap time if it is in effect at `at`: not before it (a later time would
   * forget tokens not yet issued), nor for a proposal decided before it (shown as it was decided).
   */
  private rebootstrapSince(org: string, at: number): number | undefined {
    const since = this.config.gatekeeper.independent.rebootstrap.get(org);
    return since !== undefined && since <= at ? since : undefined;
  }

  /** Said when no approver of `org` holds a valid token, so the approval a proposal waits for cannot come. */
  private noApproverNote(org: string, tokens: readonly TokenWithPrincipal[]): string {
    const g = this.config.gatekeeper;
    const now = this.clock();
    const holds = tokens.some(
      (t) => t.principal.org === org && tokenState(t, now) === 'active' && isIndependent(g.independent, g.groups, t.principal),
    );
    return holds ? '' : `; no approver of ${org} holds a valid token to give it: the operator opens ${org} with gatekeeper.rebootstrap`;
  }

  /** The tokens an org approval is judged on: read for a token proposal only (the one kind that has one). */
  private async tokensFor(row: ProposalRow): Promise<readonly TokenWithPrincipal[]> {
    return row.kind === 'token.issue' ? await this.store.tokens.list() : [];
  }

  /** What a first-of-org token's entries say of a rebootstrap (the configuration's recovery of the org). */
  private rebootstrapDetails(org: string, at: number): Record<string, LogValue> {
    const since = this.rebootstrapSince(org, at);
    return since === undefined ? {} : { rebootstrap_since: formatRfc3339(since) };
  }

  /**
   * The org approval a token proposal needs, if any. An org stays bootstrapped once one of its approvers
   * ever held a token: a gatekeeper quorum that revokes every monitor cannot then mint new ones as "first".
   */
  private orgApproval(row: ProposalRow, approvers: readonly Approver[], tokens: readonly TokenWithPrincipal[]): OrgApproval | undefined {
    if (row.kind !== 'token.issue') return undefined;
    const p = JSON.parse(row.payload) as TokenIssuePayload;
    const g = this.config.gatekeeper;
    const org = independentOrgOf(g.independent, g.groups, { id: p.principal, org: p.org, role: p.role });
    if (org === undefined) return undefined;
    // A decided proposal is shown as it was decided: its own token does not make it a later one.
    if (this.firstOfOrg(tokens, org, row.decidedAt ?? Infinity)) return { org, first_of_org: true, approved_by: null };
    const by = approvers.find((a) => a.org === org && a.id !== row.proposer && isIndependent(g.independent, g.groups, a));
    return { org, first_of_org: false, approved_by: by?.id ?? null };
  }

  /**
   * Decides each action for the principal, and refuses (403, naming the first action's reason) one who is
   * allowed none: checked before a proposal is looked up, so whoever may not act on proposals at all
   * cannot tell which ids exist. Answers the actions allowed, and the refusal of the first one denied.
   */
  private async anyOf(principal: Principal, actions: readonly Action[]): Promise<Access> {
    const allowed = new Set<Action>();
    let denied: { decision: Decision; action: Action } | undefined;
    for (const action of actions) {
      const d = await this.decisions.decide({ principal, action, now: new Date(this.clock()) });
      if (d.allow) allowed.add(action);
      else denied ??= { decision: d, action };
    }
    const denial = denied && forbidden(denied.decision, denied.action);
    if (allowed.size === 0 && denial) throw denial;
    return { allowed, ...(denial ? { denial } : {}) };
  }

  async get(principal: Principal, id: string): Promise<ProposalView> {
    const access = await this.anyOf(principal, ['policy.read', 'token.list']);
    const allowed = access.allowed;
    const row = await this.rowFor(principal, id, access, 'policy.read');
    const action = this.readAction(row.kind);
    if (!allowed.has(action)) await this.authorize(principal, action);
    return await this.view(row, await this.store.approvals.list(id));
  }

  async list(principal: Principal, options: { kind?: ProposalKind; status?: ProposalState; limit?: number } = {}): Promise<ProposalView[]> {
    const kinds: ProposalKind[] = options.kind ? [options.kind] : ['policy', 'token.issue', 'token.revoke'];
    // Who may read no kind asked for is refused, not shown an empty list.
    const { allowed } = await this.anyOf(principal, [...new Set(kinds.map((k) => this.readAction(k)))]);
    const readable = kinds.filter((k) => allowed.has(this.readAction(k)));
    const now = this.clock();
    const stored = options.status === 'expired' ? 'pending' : options.status;
    const rows = await this.store.proposals.list({ ...(options.kind ? { kind: options.kind } : {}), ...(stored ? { status: stored } : {}), ...(options.limit ? { limit: options.limit } : {}) });
    const own = this.ownOrgOnly(principal);
    const visible = rows.filter((row) => readable.includes(row.kind) && (options.status === undefined || this.state(row, now) === options.status) && (!own || this.ownOrgMay(principal, row)));
    // Read once for every token proposal listed, not once each.
    const tokens = visible.some((row) => row.kind === 'token.issue') ? await this.store.tokens.list() : undefined;
    const approvals = await this.store.approvals.listMany(visible.map((row) => row.id));
    const views: ProposalView[] = [];
    for (const row of visible) views.push(await this.view(row, approvals.get(row.id) ?? [], tokens));
    return views;
  }

  /** Approves or rejects a pending proposal; the approval that completes the quorum applies it. */
  async review(principal: Principal, id: string, input: VerdictInput): Promise<ProposalView> {
    const access = await this.anyOf(principal, ['policy.approve', 'token.approve']);
    const allowed = access.allowed;
    const row = await this.rowFor(principal, id, access, 'policy.approve');
    const action: Action = row.kind === 'policy' ? 'policy.approve' : 'token.approve';
    if (!allowed.has(action)) await this.authorize(principal, action);
    const rule = this.ruleOf(row.kind);
    const now = this.clock();
    const party = partyOf(row);
    const target = { id: row.id, digest: row.digest, recomputed: proposalDigest(row), author: row.proposer, ...(party === undefined ? {} : { party }), noun: 'proposal' };
    // An approver of its own org's tokens reviews them (checked above) without counting toward token_approval.
    const eligible = isEligible(rule, this.config.gatekeeper.groups, principal) || (row.kind === 'token.issue' && this.ownOrgOnly(principal));
    const admitted = await admitVerdict(this.store.approvals, target, principal, input, eligible, now);
    if (row.status !== 'pending' || now >= row.expiresAt) throw new EnclaveError('not_pending', `proposal ${id} is ${this.state(row, now)}; nothing more can be decided on it`);
    if (input.verdict === 'deny') {
      // A repeated rejection (stored, its proposal not marked) only completes what it decided.
      await recordVerdict(this.store.approvals, admitted, 'proposal', () => this.append('proposal.rejected', principal, { proposal: id, kind: row.kind, digest: row.digest }));
      if ((await this.store.proposals.decide(id, { status: 'rejected', at: now, outcome: `rejected by ${principal.id}` })) === 'not_pending') {
        // The approval that completed the quorum applied it between this rejection's check and its store:
        // an applied change is not undone, so the rejection is said to have decided nothing.
        const decided = (await this.store.proposals.get(id)) ?? row;
        throw new EnclaveError('not_pending', `proposal ${id} was ${this.state(decided, now)} before this rejection was stored; the rejection is recorded but decides nothing`);
      }
    } else {
      await recordVerdict(this.store.approvals, admitted, 'proposal', () =>
        this.append(row.kind === 'policy' ? 'policy.approved' : 'token.approved', principal, { proposal: id, kind: row.kind, digest: row.digest }),
      );
      const approvals = await this.store.approvals.list(id);
      const approvers = approversOf(approvals, row.digest, party);
      const quorum = evaluateQuorum(rule, this.config.gatekeeper.groups, approvers, row.proposer);
      const org = this.orgApproval(row, approvers, await this.tokensFor(row));
      // A rejection stored meanwhile, its proposal not yet marked rejected, ends it all the same (the store
      // checks again as it applies).
      const applies = quorum.met && orgMet(org) && !approvals.some((a) => a.verdict === 'deny');
      // A repeated approval applies what its quorum met when the log refused the change's entry; else it
      // is one approver speaking twice.
      if (admitted.repeat && !applies) throw alreadyReviewed(principal.id, 'proposal', id);
      if (applies) await this.apply(row, quorum.counted, now, org);
    }
    // The reviewer was authorized to decide this proposal, so sees it as decided, without a second check
    // (an approver who may not list tokens would otherwise get 403 after their verdict was saved).
    return await this.view((await this.store.proposals.get(id)) ?? row, await this.store.approvals.list(id));
  }

  private async apply(row: ProposalRow, approvers: readonly string[], now: number, org?: OrgApproval): Promise<void> {
    const planned = await this.effectOf(row, approvers, now);
    const { outcome, event, details, revoking } = planned;
    // A bootstrap applies only while the org still has no approver with a token, checked in the store's transaction.
    const g = this.config.gatekeeper;
    const effect: ProposalEffect =
      planned.effect.kind === 'token.issue' && org?.first_of_org
        ? { ...planned.effect, bootstrap: { org: org.org, since: this.rebootstrapSince(org.org, now) ?? 0, at: now, ...independentMembers(g.independent, g.groups, org.org) } }
        : planned.effect;
    if (effect.kind === 'policy') {
      // Validated when proposed; a restart with another configuration since then may have changed the schema.
      try {
        this.engine.parse(effect.version.text);
      } catch (err) {
        if (!(err instanceof EnclaveError)) throw err;
        await this.store.proposals.decide(row.id, { status: 'failed', at: now, outcome: `not applied: it no longer passes the checks made of a proposal (the configuration's schema may have changed, or a check was added since it was made): ${err.message}` });
        throw err;
      }
    }
    const check: Record<string, LogValue> = org === undefined ? {} : org.first_of_org ? { first_of_org: true, ...this.rebootstrapDetails(org.org, now) } : { org_approver: org.approved_by };
    const entry = { proposal: row.id, approvers: [...approvers], ...details, ...check };
    await this.append(event, undefined, entry);
    const answer = await this.store.proposals.decide(row.id, { status: 'applied', at: now, outcome, effect });
    if (answer === 'decided') {
      if (effect.kind === 'policy') this.engine.activate(effect.version.version, effect.version.text);
      if (revoking) {
        this.tokenCache?.clear();
        // A rotation that passed its check before this revocation was proposed and committed after the
        // entry above was revoked with its lineage: it is logged now, after the fact, as one's own revocations are.
        const late = (await this.store.tokens.lineage(revoking.lineage)).filter((t) => t.token.revokedAt === now && !revoking.tokens.includes(t.token.id)).map((t) => t.token.id);
        if (late.length > 0) await this.appendRevocation(undefined, { ...entry, tokens: late });
      }
      return;
    }
    if (answer === 'not_pending') return;
    const why =
      answer === 'stale'
        ? `the policy set changed since it was proposed (version ${this.engine.version} is active now)`
        : answer === 'principal_mismatch'
          ? 'the principal exists with another org or role'
          : answer === 'org_bootstrapped'
            ? `an approver of ${org?.org ?? 'its org'} holds a token now (issued meanwhile as its first), so the org's own approval is needed; propose again`
            : 'the token is no longer active';
    await this.store.proposals.decide(row.id, { status: 'failed', at: now, outcome: `not applied: ${why}` });
    if (answer === 'stale') throw new EnclaveError('stale_proposal', `proposal ${row.id} was approved but not applied: ${why}; propose again against the active version`);
  }

  private async effectOf(
    row: ProposalRow,
    approvers: readonly string[],
    now: number,
  ): Promise<{ effect: ProposalEffect; outcome: string; event: LogEventType; details: Record<string, LogValue>; revoking?: { lineage: string; tokens: readonly string[] } }> {
    switch (row.kind) {
      case 'policy': {
        const p = JSON.parse(row.payload) as PolicyPayload;
        const version = p.base_version + 1;
        const digest = contentDigest(p.text);
        return {
          effect: { kind: 'policy', version: { version, text: p.text, digest, proposalId: row.id, approvers: JSON.stringify(approvers), activatedAt: now } },
          outcome: `activated as policy version ${version}`,
          event: 'policy.activated',
          details: { version, text_digest: digest },
        };
      }
      case 'token.issue': {
        const p = JSON.parse(row.payload) as TokenIssuePayload;
        return {
          effect: {
            kind: 'token.issue',
            principal: { id: p.principal, org: p.org, role: p.role, createdAt: now },
            token: {
              id: p.token_id,
              hash: p.hash,
              principalId: p.principal,
              label: p.label,
              createdAt: now,
              expiresAt: p.ttl_seconds === null ? null : now + p.ttl_seconds * 1000,
              revokedAt: null,
              replaces: null,
              lineage: p.token_id,
            },
          },
          outcome: `token ${p.token_id} issued to ${p.principal}`,
          event: 'token.issued',
          details: { token: p.token_id, for: p.principal, org: p.org, role: p.role },
        };
      }
      case 'token.revoke': {
        const p = JSON.parse(row.payload) as TokenRevokePayload;
        // It ends the token proposed, or the one it has been rotated into since: the entry names them.
        const lineage = (await this.store.tokens.get(p.token_id))?.token.lineage ?? p.token_id;
        const tokens = await this.unrevoked(lineage);
        const successors = tokens.filter((id) => id !== p.token_id);
        return {
          effect: { kind: 'token.revoke', tokenId: p.token_id },
          outcome: `token ${p.token_id} revoked${successors.length === 0 ? '' : `, with ${successors.join(', ')} it was rotated into`}`,
          event: 'token.revoked',
          details: { token: p.token_id, of: p.principal, tokens },
          revoking: { lineage, tokens },
        };
      }
    }
  }

  private state(row: ProposalRow, now: number): ProposalState {
    return row.status === 'pending' && now >= row.expiresAt ? 'expired' : row.status;
  }

  private async view(row: ProposalRow, approvals: readonly ApprovalRow[], tokens?: readonly TokenWithPrincipal[]): Promise<ProposalView> {
    const rule = this.ruleOf(row.kind);
    const approvers = approversOf(approvals, row.digest, partyOf(row));
    const quorum = evaluateQuorum(rule, this.config.gatekeeper.groups, approvers, row.proposer);
    const all = tokens ?? (await this.tokensFor(row));
    const org = this.orgApproval(row, approvers, all);
    const orgMissing = orgMet(org) || !org ? [] : [`1 approval from a principal of ${org.org} (its own check on tokens of its principals)${this.noApproverNote(org.org, all)}`];
    const base = {
      id: row.id,
      kind: row.kind,
      proposer: { id: row.proposer, org: row.proposerOrg, role: row.proposerRole },
      digest: row.digest,
      created_at: formatRfc3339(row.createdAt),
      expires_at: formatRfc3339(row.expiresAt),
      status: this.state(row, this.clock()),
      decided_at: isoOrNull(row.decidedAt),
      outcome: row.outcome,
      approvals: verdictViews(approvals, org?.approved_by ? [...quorum.counted, org.approved_by] : quorum.counted),
      quorum: { k: rule.k, met: quorum.met && orgMet(org), missing: [quorum.missing, ...orgMissing].filter((m) => m !== '').join('; ') },
      ...(org === undefined ? {} : { org_approval: org }),
    };
    switch (row.kind) {
      case 'policy': {
        const p = JSON.parse(row.payload) as PolicyPayload;
        return { ...base, policy: { text: p.text, description: p.description, diff: await this.diff(row.digest, p) } };
      }
      case 'token.issue': {
        const p = JSON.parse(row.payload) as TokenIssuePayload;
        return { ...base, token: { principal: p.principal, org: p.org, role: p.role, label: p.label, ttl_seconds: p.ttl_seconds, token_id: p.token_id } };
      }
      case 'token.revoke':
        return { ...base, revoke: JSON.parse(row.payload) as TokenRevokePayload };
    }
  }

  private async diff(digest: string, p: PolicyPayload): Promise<PolicyDiff> {
    const active = p.base_version === this.engine.version ? this.engine.activeSet : undefined;
    const before = (active?.text ?? (await this.store.policyVersions.get(p.base_version))?.text) ?? '';
    let changes = this.changesOf.get(digest);
    if (!changes) {
      try {
        changes = policyChanges((active ?? this.engine.parse(before, { stored: true })).policies, this.engine.parse(p.text, { stored: true }).policies);
      } catch {
        // A base that no longer validates (the configuration changed): the line diff still shows the change.
        changes = NO_CHANGES;
      }
      this.changesOf.set(digest, changes);
    }
    return { base_version: p.base_version, active_version: this.engine.version, ...changes, text: unifiedDiff(before, p.text, { from: `policy version ${p.base_version}`, to: 'proposed' }) };
  }
}
