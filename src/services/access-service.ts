// Access requests, approvals, grants and break-glass (issue 3 points 2–4). A request names its scope,
// purpose, justification and duration; k distinct approvers from the configured groups approve it, each
// by its content digest; the last approval creates the grant, which expires by the clock alone. Break-
// glass opens a short grant at once, flagged everywhere, and must be reviewed by k approvers in time.
//
// Every change is appended to the event log before it is committed, so none exists unlogged (invariant
// 6); a refusal from the store after that leaves an entry naming an id no store holds.
import { randomBytes } from 'node:crypto';
import { checkBreakGlassScope, checkJustification, normalizeScope, scopeFields, type AccessScope } from '../core/access-scope.ts';
import type { Action } from '../core/config-schema.ts';
import type { EnclaveConfig } from '../core/config.ts';
import { contentDigest } from '../core/content-digest.ts';
import { forbidden, type DecisionPoint } from '../core/decision.ts';
import { formatDuration } from '../core/duration.ts';
import { EnclaveError } from '../core/errors.ts';
import type { EventLog, LogEventInput, LogEventType, LogValue } from '../core/event-log.ts';
import { roleRef, type QuorumRule } from '../core/gatekeeper-config.ts';
import type { Principal } from '../core/principal.ts';
import { evaluateQuorum, isEligible } from '../core/quorum.ts';
import { formatRfc3339 } from '../core/rfc3339.ts';
import type { AccessKind, AccessRequestRow, ApprovalRow, GrantRow, Store } from '../core/store.ts';
import type { RequestState } from '../core/api-ids.ts';
import type { GrantIndex } from './grant-index.ts';
import { admitVerdict, alreadyReviewed, approversOf, recordVerdict, verdictViews, type VerdictInput, type VerdictView } from './verdicts.ts';

export interface AccessInput {
  readonly scope: { readonly subjects?: readonly string[]; readonly collections?: readonly string[]; readonly fields?: readonly string[] };
  readonly purpose: string;
  readonly justification: { readonly code: string; readonly text: string };
  readonly durationSeconds: number;
}

export type ReviewState = 'awaiting-review' | 'reviewed' | 'overdue' | 'unjustified';

export interface AccessRequestView {
  readonly id: string;
  readonly kind: AccessKind;
  readonly requester: { readonly id: string; readonly org: string; readonly role: string };
  readonly scope: AccessScope;
  /** Every protected field (collection.field) the scope reaches. */
  readonly reaches: readonly string[];
  readonly purpose: string;
  readonly justification: { readonly code: string; readonly text: string };
  readonly duration_seconds: number;
  /** Approve by this digest: it covers the id and the whole content. */
  readonly digest: string;
  readonly created_at: string;
  /** When a pending request expires; for break-glass, the review deadline. */
  readonly expires_at: string;
  readonly status: RequestState;
  readonly decided_at: string | null;
  readonly grant: string | null;
  readonly approvals: readonly VerdictView[];
  readonly quorum: { readonly k: number; readonly met: boolean; readonly missing: string };
  /** Break-glass only: where its review stands. */
  readonly review?: ReviewState;
}

export interface GrantView {
  readonly id: string;
  readonly request: string;
  readonly principal: string;
  readonly scope: AccessScope;
  readonly purpose: string;
  readonly breakglass: boolean;
  readonly created_at: string;
  readonly expires_at: string;
  readonly revoked_at: string | null;
  readonly revoked_by: string | null;
  readonly state: 'active' | 'expired' | 'revoked';
}

const isoOrNull = (ms: number | null) => (ms === null ? null : formatRfc3339(ms));
const token = () => randomBytes(9).toString('base64url');

/** The content a request's digest covers: its id and everything it asks for. */
function requestDigest(r: Omit<AccessRequestRow, 'digest' | 'status' | 'decidedAt' | 'grantId'>): string {
  return contentDigest({
    id: r.id,
    kind: r.kind,
    requester: r.requester,
    requester_org: r.requesterOrg,
    requester_role: r.requesterRole,
    scope: r.scope,
    purpose: r.purpose,
    justification_code: r.justificationCode,
    justification: r.justification,
    duration_ms: r.durationMs,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
  });
}

/** Subjects found by id, with what the check needs of each. */
type FoundSubjects = ReadonlyMap<string, { readonly row: { readonly erasedAt: number | null } }>;

export interface SubjectFinder {
  findSubjects(ids: readonly string[]): Promise<FoundSubjects>;
}

export class AccessService {
  private readonly config: EnclaveConfig;
  private readonly store: Store;
  private readonly decisions: DecisionPoint;
  private readonly index: GrantIndex;
  private readonly log: EventLog;
  private readonly clock: () => number;
  /** Where the subjects a scope names are looked up (the home sites). */
  private readonly subjects: SubjectFinder;

  constructor(deps: { config: EnclaveConfig; store: Store; decisions: DecisionPoint; grants: GrantIndex; log: EventLog; subjects: SubjectFinder; clock?: () => number }) {
    this.config = deps.config;
    this.subjects = deps.subjects;
    this.store = deps.store;
    this.decisions = deps.decisions;
    this.index = deps.grants;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
  }

  /** Loads the grants active now into the decision point's index. */
  async load(): Promise<void> {
    this.index.load(await this.store.grants.listActive(this.clock()));
  }

  /**
   * Brings the index up to date with grants other instances created or revoked (shared-state.ts);
   * returns whether anything changed.
   */
  async refresh(): Promise<boolean> {
    const epoch = this.index.epoch;
    return this.index.replace(await this.store.grants.listActive(this.clock()), epoch);
  }

  private async authorize(principal: Principal, action: Action, protectedData = false): Promise<void> {
    const d = await this.decisions.decide({ principal, action, protected: protectedData, now: new Date(this.clock()) });
    if (!d.allow) throw forbidden(d, action);
  }

  private async append(type: LogEventType, principal: Principal | undefined, details: Record<string, LogValue>, scope?: AccessScope): Promise<void> {
    const event: LogEventInput = {
      type,
      ...(principal ? { principal: { id: principal.id, org: principal.org, role: principal.role } } : {}),
      // The log keeps a keyed hash of one subject; a wider scope is logged by its size, never by raw ids.
      ...(scope?.subjects.length === 1 && scope.subjects[0] !== undefined ? { subject: scope.subjects[0] } : {}),
      details,
    };
    await this.log.append(event);
  }

  private scopeDetails(scope: AccessScope): Record<string, LogValue> {
    return { subjects: scope.subjects.length, collections: [...scope.collections], fields: [...scope.fields] };
  }

  /**
   * A scope naming subjects the enclave does not hold, or erased ones, would open nothing: refused, naming
   * a few. Who may name subjects learns whether they exist, so naming them takes `subject.read` too. The
   * check catches mistakes, it guards nothing (a grant opens only what exists): a home site that cannot
   * be asked now does not hold up a request, least of all a break-glass.
   */
  private async checkSubjects(principal: Principal, scope: AccessScope): Promise<void> {
    if (scope.subjects.length === 0) return;
    await this.authorize(principal, 'subject.read');
    let found: FoundSubjects;
    try {
      found = await this.subjects.findSubjects(scope.subjects);
    } catch (err) {
      if (err instanceof EnclaveError && err.code === 'storage_unavailable') return;
      throw err;
    }
    const few = (ids: readonly string[]) => `${ids.slice(0, 3).map((s) => `"${s}"`).join(', ')}${ids.length > 3 ? ` and ${ids.length - 3} more` : ''}`;
    const unknown = scope.subjects.filter((s) => !found.has(s));
    if (unknown.length > 0) {
      throw new EnclaveError('invalid_scope', `unknown subject id${unknown.length > 1 ? 's' : ''} ${few(unknown)}: register a subject before access to it is requested`, { details: { field: 'subjects' } });
    }
    const erased = scope.subjects.filter((s) => found.get(s)?.row.erasedAt != null);
    if (erased.length > 0) throw new EnclaveError('invalid_scope', `erased subject${erased.length > 1 ? 's' : ''} ${few(erased)}: nothing of theirs can be opened`, { details: { field: 'subjects' } });
  }

  private validate(input: AccessInput, maxMs: number, what: string): { scope: AccessScope; text: string; durationMs: number } {
    const scope = normalizeScope(this.config, input.scope);
    if (!this.config.gatekeeper.purposes.includes(input.purpose)) {
      throw new EnclaveError('unknown_purpose', `unknown purpose "${input.purpose}" (expected one of: ${this.config.gatekeeper.purposes.join(', ')})`, { details: { field: 'purpose' } });
    }
    const text = checkJustification(this.config, input.justification.code, input.justification.text);
    const s = input.durationSeconds;
    if (!Number.isSafeInteger(s) || s < 1 || s * 1000 > maxMs) {
      throw new EnclaveError('invalid_duration', `the duration must be a whole number of seconds from 1 to ${maxMs / 1000} (${formatDuration(maxMs)}, the configured maximum for ${what})`, { details: { field: 'duration_seconds' } });
    }
    return { scope, text, durationMs: s * 1000 };
  }

  private newRow(principal: Principal, kind: AccessKind, input: AccessInput, v: { scope: AccessScope; text: string; durationMs: number }, now: number, expiresAt: number): AccessRequestRow {
    const base = {
      id: `${kind === 'access' ? 'req' : 'bg'}_${token()}`,
      kind,
      requester: principal.id,
      requesterOrg: principal.org,
      requesterRole: principal.role,
      scope: JSON.stringify(v.scope),
      purpose: input.purpose,
      justificationCode: input.justification.code,
      justification: v.text,
      durationMs: v.durationMs,
      createdAt: now,
      expiresAt,
    };
    return { ...base, digest: requestDigest(base), status: kind === 'access' ? 'pending' : 'approved', decidedAt: kind === 'access' ? null : now, grantId: null };
  }

  private grantFor(row: AccessRequestRow, at: number): GrantRow {
    return {
      id: `gr_${row.id.slice(row.id.indexOf('_') + 1)}`,
      requestId: row.id,
      principal: row.requester,
      scope: row.scope,
      purpose: row.purpose,
      breakglass: row.kind === 'breakglass',
      createdAt: at,
      expiresAt: at + row.durationMs,
      revokedAt: null,
      revokedBy: null,
    };
  }

  // ---- requests --------------------------------------------------------------------------------

  async request(principal: Principal, input: AccessInput): Promise<AccessRequestView> {
    await this.authorize(principal, 'access.request', true);
    const g = this.config.gatekeeper;
    const v = this.validate(input, g.maxGrantMs, 'grants (gatekeeper.max_grant_duration)');
    await this.checkSubjects(principal, v.scope);
    const now = this.clock();
    const row = this.newRow(principal, 'access', input, v, now, now + g.requestExpiryMs);
    await this.append('access.requested', principal, { request: row.id, digest: row.digest, purpose: row.purpose, justification_code: row.justificationCode, duration_ms: row.durationMs, ...this.scopeDetails(v.scope) }, v.scope);
    await this.store.accessRequests.insert(row);
    return this.view(row, []);
  }

  private async row(id: string, kind: AccessKind): Promise<AccessRequestRow> {
    const row = await this.store.accessRequests.get(id);
    if (!row || row.kind !== kind) throw new EnclaveError('request_not_found', `no ${kind === 'access' ? 'access request' : 'break-glass grant'} "${id}"`, { details: { key: id } });
    return row;
  }

  /** Approves or denies a pending request; the approval that completes the quorum creates the grant. */
  async review(principal: Principal, id: string, input: VerdictInput): Promise<AccessRequestView> {
    await this.authorize(principal, 'access.review');
    const g = this.config.gatekeeper;
    const row = await this.row(id, 'access');
    const now = this.clock();
    const admitted = await admitVerdict(this.store.approvals, this.reviewable(row, 'access request'), principal, input, isEligible(g.accessApproval, g.groups, principal), now);
    if (row.status !== 'pending' || now >= row.expiresAt) {
      throw new EnclaveError('not_pending', `access request ${id} is ${this.state(row, now)}; nothing more can be decided on it`);
    }
    const scope = JSON.parse(row.scope) as AccessScope;
    if (input.verdict === 'deny') {
      // A repeated denial (stored, its request not marked) only completes what it decided.
      await recordVerdict(this.store.approvals, admitted, 'access request', () =>
        this.append('access.denied', principal, { request: id, digest: row.digest, comment: admitted.row.comment.length > 0 }, scope),
      );
      if ((await this.store.accessRequests.decide(id, { status: 'denied', at: now })) === 'not_pending') await this.endGrantOfDenied(principal, id);
      return this.get(principal, id, true);
    }
    await recordVerdict(this.store.approvals, admitted, 'access request', () => this.append('access.approved', principal, { request: id, digest: row.digest }, scope));
    const approvals = await this.store.approvals.list(id);
    const quorum = evaluateQuorum(g.accessApproval, g.groups, approversOf(approvals, row.digest), row.requester);
    // A denial stored meanwhile, its request not yet marked denied, ends the request all the same (the
    // store checks again as it decides).
    const grants = quorum.met && !approvals.some((a) => a.verdict === 'deny');
    // A repeated approval creates the grant its quorum met when the log refused grant.created; else it is
    // one approver speaking twice.
    if (admitted.repeat && !grants) throw alreadyReviewed(principal.id, 'access request', id);
    if (grants) {
      const grant = this.grantFor(row, now);
      await this.append('grant.created', undefined, { grant: grant.id, request: id, grantee: grant.principal, purpose: grant.purpose, breakglass: false, expires_at: formatRfc3339(grant.expiresAt), approvers: quorum.counted, ...this.scopeDetails(scope) }, scope);
      if ((await this.store.accessRequests.decide(id, { status: 'approved', at: now, grant })) === 'decided') this.index.add(grant);
    }
    return this.get(principal, id, true);
  }

  /**
   * A denial checked while its request was pending, and stored just after the approval that completed the
   * quorum created the grant (the store refuses a grant only over a denial stored before it): one denial
   * still ends the request, so it revokes that grant at once, as any one person may.
   */
  private async endGrantOfDenied(principal: Principal, id: string): Promise<void> {
    const row = await this.store.accessRequests.get(id);
    if (row?.status !== 'approved' || row.grantId === null) return;
    const grant = await this.store.grants.get(row.grantId);
    if (grant && grant.revokedAt === null) await this.revokeFirst(grant, principal, false);
  }

  async get(principal: Principal, id: string, authorized = false): Promise<AccessRequestView> {
    if (!authorized) await this.authorize(principal, 'access.list');
    const row = await this.store.accessRequests.get(id);
    if (!row) throw new EnclaveError('request_not_found', `no access request or break-glass grant "${id}"`, { details: { key: id } });
    return this.view(row, await this.store.approvals.list(id));
  }

  async list(principal: Principal, options: { kind?: AccessKind; status?: RequestState; limit?: number } = {}): Promise<AccessRequestView[]> {
    await this.authorize(principal, 'access.list');
    const now = this.clock();
    // `expired` is a pending request past its time: ask the store for pending ones and filter by the clock.
    const stored = options.status === 'expired' ? 'pending' : options.status;
    const rows = await this.store.accessRequests.list({ ...(options.kind ? { kind: options.kind } : {}), ...(stored ? { status: stored } : {}), ...(options.limit ? { limit: options.limit } : {}) });
    const listed = rows.filter((row) => options.status === undefined || this.state(row, now) === options.status);
    const approvals = await this.store.approvals.listMany(listed.map((row) => row.id));
    return listed.map((row) => this.view(row, approvals.get(row.id) ?? []));
  }

  // ---- grants ----------------------------------------------------------------------------------

  async grants(principal: Principal, options: { principal?: string; limit?: number } = {}): Promise<GrantView[]> {
    await this.authorize(principal, 'access.list');
    return (await this.store.grants.list(options)).map((g) => this.grantView(g));
  }

  /**
   * Revokes a grant at once. Taking access away needs one person, like sealing; granting it needs k.
   * Like sealing, it is never held up by the log: the grant is revoked first, then logged.
   */
  async revoke(principal: Principal, id: string): Promise<GrantView> {
    await this.authorize(principal, 'access.revoke');
    const grant = await this.store.grants.get(id);
    if (!grant) throw new EnclaveError('grant_not_found', `no grant "${id}"`, { details: { key: id } });
    if (grant.revokedAt !== null) return this.grantView(grant);
    await this.revokeFirst(grant, principal, false);
    const after = await this.store.grants.get(id);
    return this.grantView(after ?? grant);
  }

  /** Revokes, then logs grant.revoked; a log that cannot accept is reported, the grant stays revoked. */
  private async revokeFirst(grant: GrantRow, principal: Principal, unjustified: boolean): Promise<void> {
    await this.store.grants.revoke(grant.id, this.clock(), principal.id);
    this.index.remove(grant.id);
    try {
      await this.append('grant.revoked', principal, { grant: grant.id, request: grant.requestId, grantee: grant.principal, breakglass: grant.breakglass, ...(unjustified ? { unjustified } : {}) });
    } catch (err) {
      throw new EnclaveError('log_unavailable', `grant ${grant.id} is revoked, but the transparency log could not record it yet`, { cause: err });
    }
  }

  // ---- break-glass -------------------------------------------------------------------------------

  /** Opens an emergency grant at once; it must be reviewed by k approvers within the configured time. */
  async breakGlass(principal: Principal, input: AccessInput): Promise<AccessRequestView> {
    await this.authorize(principal, 'breakglass.open', true);
    const bg = this.config.gatekeeper.breakGlass;
    // Who may open it is the configuration's alone (no API writes it), whatever a policy version permits:
    // checked here too, as approvers are checked against their groups besides Cedar's answer.
    if (!bg.roles.has(roleRef(principal.org, principal.role))) {
      throw new EnclaveError('forbidden', `only the roles of gatekeeper.break_glass.roles open break-glass; ${principal.org}/${principal.role} is not one of them`, {
        details: { action: 'breakglass.open', key: 'gatekeeper.break_glass.roles' },
      });
    }
    const v = this.validate(input, bg.maxMs, 'break-glass (gatekeeper.break_glass.max_duration)');
    checkBreakGlassScope(v.scope, bg.maxSubjects);
    await this.checkSubjects(principal, v.scope);
    const now = this.clock();
    // Checked before anything is logged. Reviews first: revoking or waiting never clears that limit.
    const unreviewed = await this.unreviewedBreakGlass(principal.id);
    if (unreviewed.length >= bg.maxUnreviewed) throw this.tooManyUnreviewed(unreviewed);
    // The store checks the open ones again as it inserts (two openings at once, on any instance).
    const open = await this.store.grants.openBreakGlass(principal.id, now);
    if (open.length >= bg.maxOpen) throw this.tooManyOpen(open);
    const row = this.newRow(principal, 'breakglass', input, v, now, now + bg.reviewWithinMs);
    const grant = this.grantFor(row, now);
    const opened = { ...row, grantId: grant.id };
    const details = { request: row.id, grant: grant.id, digest: row.digest, purpose: row.purpose, justification_code: row.justificationCode, expires_at: formatRfc3339(grant.expiresAt), review_by: formatRfc3339(row.expiresAt), ...this.scopeDetails(v.scope) };
    await this.append('breakglass.opened', principal, details, v.scope);
    await this.append('grant.created', principal, { ...details, grantee: principal.id, breakglass: true }, v.scope);
    if ((await this.store.accessRequests.insert(opened, grant, bg.maxOpen)) === 'limit') {
      // Another opening passed the check above meanwhile: these entries name ids no store holds.
      throw this.tooManyOpen(await this.store.grants.openBreakGlass(principal.id, now));
    }
    await this.recountUnreviewed(principal, opened, grant);
    this.index.add(grant);
    return this.view(opened, []);
  }

  /**
   * The store re-checks only max_open as it inserts. Openings that passed the unreviewed count at the same
   * moment (on any instance) would all be stored, each one's predecessor revoked just before its insert:
   * max_unreviewed, unbounded. So the count is taken again once stored, before this instance honours the
   * grant: a use beyond the limit (or one that cannot be counted) has its grant revoked at once and is refused.
   */
  private async recountUnreviewed(principal: Principal, opened: AccessRequestRow, grant: GrantRow): Promise<void> {
    let unreviewed: AccessRequestRow[];
    try {
      unreviewed = await this.unreviewedBreakGlass(principal.id);
    } catch (err) {
      await this.revokeFirst(grant, principal, false).catch(() => undefined);
      throw err;
    }
    const max = this.config.gatekeeper.breakGlass.maxUnreviewed;
    if (unreviewed.length <= max) return;
    await this.revokeFirst(grant, principal, false);
    throw new EnclaveError(
      'breakglass_limit',
      `break-glass ${opened.id} was stored at the same moment as another opening of yours: ${unreviewed.length} of your uses now await review (${unreviewed.map((r) => r.id).join(', ')}), more than gatekeeper.break_glass.max_unreviewed (${max}) allows, so its grant ${grant.id} is revoked; it awaits review like the others`,
      { details: { key: 'gatekeeper.break_glass.max_unreviewed' } },
    );
  }

  private tooManyOpen(open: readonly GrantRow[]): EnclaveError {
    const max = this.config.gatekeeper.breakGlass.maxOpen;
    const first = open[0];
    const held = `${open.length} break-glass grant${open.length === 1 ? ' is' : 's are'} open for you${open.length > 0 ? ` (${open.map((g) => g.id).join(', ')})` : ''}`;
    const [one, it] = open.length > 1 ? ['one', 'the first'] : ['it', 'it'];
    const way = first ? `revoke ${one} (enclave access revoke ${first.id}) or wait until ${it} expires at ${formatRfc3339(first.expiresAt)}` : 'revoke one or wait until it expires';
    return new EnclaveError('breakglass_limit', `${held}, as many as gatekeeper.break_glass.max_open (${max}) allows: ${way}; for more, file an access request (enclave access request)`, { details: { key: 'gatekeeper.break_glass.max_open' } });
  }

  /**
   * A principal's break-glass uses whose review is not complete (awaiting review or overdue), oldest
   * first, read from the control store, so uses opened through any instance count. Bounds: the store
   * answers the newest 1000 uses, so an unreviewed one behind 1000 newer is not seen; and the count is not
   * repeated in the insert's transaction, but after it (recountUnreviewed).
   */
  private async unreviewedBreakGlass(principal: string): Promise<AccessRequestRow[]> {
    const rows = await this.store.accessRequests.list({ kind: 'breakglass', requester: principal, limit: 1000 });
    const approvals = await this.store.approvals.listMany(rows.map((row) => row.id));
    return rows.filter((row) => !this.reviewed(row, approvals.get(row.id) ?? [])).reverse();
  }

  private tooManyUnreviewed(unreviewed: readonly AccessRequestRow[]): EnclaveError {
    const max = this.config.gatekeeper.breakGlass.maxUnreviewed;
    const first = unreviewed[0];
    const ids = unreviewed.map((r) => r.id).join(', ');
    const held = `${unreviewed.length} break-glass use${unreviewed.length === 1 ? '' : 's'} of yours await${unreviewed.length === 1 ? 's' : ''} review (${ids})`;
    const way = first ? `enclave break-glass review ${first.id}` : 'enclave break-glass review';
    return new EnclaveError(
      'breakglass_limit',
      `${held}, as many as gatekeeper.break_glass.max_unreviewed (${max}) allows, whether their grants are open, revoked or expired: no more break-glass until the approvers of gatekeeper.break_glass.review review one (${way}); for access meanwhile, file an access request (enclave access request)`,
      { details: { key: 'gatekeeper.break_glass.max_unreviewed' } },
    );
  }

  /**
   * A review of a break-glass use: `approve` finds it justified; `deny` finds it unjustified and revokes
   * its grant at once. Reviews after the deadline still count, and the use stays reported as late.
   */
  async reviewBreakGlass(principal: Principal, id: string, input: VerdictInput): Promise<AccessRequestView> {
    await this.authorize(principal, 'breakglass.review');
    const rule = this.config.gatekeeper.breakGlass.review;
    const row = await this.row(id, 'breakglass');
    const now = this.clock();
    const admitted = await admitVerdict(this.store.approvals, this.reviewable(row, 'break-glass grant'), principal, input, isEligible(rule, this.config.gatekeeper.groups, principal), now);
    const scope = JSON.parse(row.scope) as AccessScope;
    await recordVerdict(this.store.approvals, admitted, 'break-glass grant', () =>
      this.append('breakglass.reviewed', principal, { request: id, grant: row.grantId, digest: row.digest, verdict: input.verdict, late: now > row.expiresAt }, scope),
    );
    const grant = input.verdict === 'deny' && row.grantId !== null ? await this.store.grants.get(row.grantId) : undefined;
    const open = grant !== undefined && grant.revokedAt === null && grant.expiresAt > now;
    // A repeated `unjustified` revokes the grant its first could not; anything else repeated is refused.
    if (admitted.repeat && !open) throw alreadyReviewed(principal.id, 'break-glass grant', id);
    if (open) await this.revokeFirst(grant, principal, true);
    return this.get(principal, id, true);
  }

  // ---- views -------------------------------------------------------------------------------------

  private reviewable(row: AccessRequestRow, noun: string) {
    return { id: row.id, digest: row.digest, recomputed: requestDigest(row), author: row.requester, noun };
  }

  private state(row: AccessRequestRow, now: number): RequestState {
    return row.status === 'pending' && now >= row.expiresAt ? 'expired' : row.status;
  }

  private ruleOf(row: AccessRequestRow): QuorumRule {
    return row.kind === 'access' ? this.config.gatekeeper.accessApproval : this.config.gatekeeper.breakGlass.review;
  }

  /** How many break-glass uses nobody reviewed by their deadline (for /metrics): approvals are read only past it. */
  async overdueBreakGlass(): Promise<number> {
    const now = this.clock();
    // Before its deadline a use is never overdue, whatever its approvals say (see view()).
    const due = (await this.store.accessRequests.list({ kind: 'breakglass', limit: 1000 })).filter((r) => now > r.expiresAt);
    const approvals = await this.store.approvals.listMany(due.map((r) => r.id));
    return due.filter((r) => this.view(r, approvals.get(r.id) ?? []).review === 'overdue').length;
  }

  view(row: AccessRequestRow, approvals: readonly ApprovalRow[]): AccessRequestView {
    const now = this.clock();
    const scope = JSON.parse(row.scope) as AccessScope;
    const rule = this.ruleOf(row);
    const quorum = evaluateQuorum(rule, this.config.gatekeeper.groups, approversOf(approvals, row.digest), row.requester);
    const view: AccessRequestView = {
      id: row.id,
      kind: row.kind,
      requester: { id: row.requester, org: row.requesterOrg, role: row.requesterRole },
      scope,
      reaches: scopeFields(this.config, scope),
      purpose: row.purpose,
      justification: { code: row.justificationCode, text: row.justification },
      duration_seconds: row.durationMs / 1000,
      digest: row.digest,
      created_at: formatRfc3339(row.createdAt),
      expires_at: formatRfc3339(row.expiresAt),
      status: this.state(row, now),
      decided_at: isoOrNull(row.decidedAt),
      grant: row.grantId,
      approvals: verdictViews(approvals, quorum.counted),
      quorum: { k: rule.k, met: quorum.met, missing: quorum.missing },
    };
    if (row.kind === 'access') return view;
    const review: ReviewState = approvals.some((a) => a.verdict === 'deny') ? 'unjustified' : quorum.met ? 'reviewed' : now > row.expiresAt ? 'overdue' : 'awaiting-review';
    return { ...view, review };
  }

  /** A break-glass use's review is complete: one finding it unjustified, or the review quorum met (as view() says). */
  private reviewed(row: AccessRequestRow, approvals: readonly ApprovalRow[]): boolean {
    if (approvals.some((a) => a.verdict === 'deny')) return true;
    return evaluateQuorum(this.ruleOf(row), this.config.gatekeeper.groups, approversOf(approvals, row.digest), row.requester).met;
  }

  grantView(g: GrantRow): GrantView {
    const now = this.clock();
    return {
      id: g.id,
      request: g.requestId,
      principal: g.principal,
      scope: JSON.parse(g.scope) as AccessScope,
      purpose: g.purpose,
      breakglass: g.breakglass,
      created_at: formatRfc3339(g.createdAt),
      expires_at: formatRfc3339(g.expiresAt),
      revoked_at: isoOrNull(g.revokedAt),
      revoked_by: g.revokedBy,
      state: g.revokedAt !== null ? 'revoked' : now >= g.expiresAt ? 'expired' : 'active',
    };
  }
}
