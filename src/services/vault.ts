// The vault: residency, classification, per-subject envelope encryption and erasure. Every operation goes
// through the decision point first; protected fields are decrypted only when the decision releases them.
//
// The transparency log (issue 4, docs/transparency-log.md "Fail closed"): every decision is logged, allow
// and deny; a read answers only after its access.decision entry is durable, and a change is made only
// after its entry (record.*, subject.*) is durable. If the log cannot accept the entry the operation
// fails with log_unavailable and reveals or changes nothing.
import { randomUUID } from 'node:crypto';
import { canonicalJson, type JsonValue } from '../core/canonical-json.ts';
import type { CollectionDef, EnclaveConfig } from '../core/config.ts';
import type { Action } from '../core/config-schema.ts';
import { forbidden, type Decision, type DecisionPoint, type GrantRef } from '../core/decision.ts';
import { KeyedGate } from '../core/keyed-gate.ts';
import { KeyedMutex } from '../core/keyed-mutex.ts';
import { EnclaveError, type ErrorCode } from '../core/errors.ts';
import type { EventLog, LogEventType, LogValue } from '../core/event-log.ts';
import type { Principal } from '../core/principal.ts';
import { recordAad, splitRecord, validateRecordData, validateRecordId, type RecordData } from '../core/record-model.ts';
import { resolveResidence } from '../core/residency.ts';
import { formatRfc3339 } from '../core/rfc3339.ts';
import { revisionOf, sameRevision, UNMARKED, type MoveMark, type RecordRevision, type RecordRow, type Store, type SubjectClaimStore, type SubjectRow } from '../core/store.ts';
import { open, seal, type AeadKey } from '../crypto/aead.ts';
import { holderGone, newHolderId } from '../storage/process-alive.ts';
import { KEY_ID, type Keyring } from './keyring.ts';
import type { Located, SiteRouter } from './site-router.ts';
import { RECORD_CLAIM_LABEL, SubjectClaims, type Claimed } from './subject-claims.ts';

export interface SubjectView {
  readonly id: string;
  readonly country: string;
  readonly jurisdiction: string;
  readonly site: string;
  readonly erased: boolean;
  readonly created_at: string;
  readonly erased_at: string | null;
}

export interface RecordView {
  readonly collection: string;
  readonly id: string;
  readonly subject: string;
  readonly version: number;
  readonly data: RecordData;
  /** Protected fields the decision withheld from this principal (redaction, not an error). */
  readonly withheld: readonly string[];
  /** The grant this read of protected fields happened under (issue 3: every read under a grant names it). */
  readonly grant?: GrantRef;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface RecordPage {
  readonly subject: string;
  readonly records: readonly RecordView[];
  readonly next: string | null;
}

export interface ImportResult {
  readonly created: number;
  /** Existing records replaced by a new version (only with the `replace` option). */
  readonly replaced: number;
  readonly existing: number;
  /** Items refused with the reason's code (no jurisdiction, unknown or erased subject). */
  readonly refused: readonly { readonly id: string; readonly code: ErrorCode }[];
}

export interface RehomeResult {
  readonly subject: string;
  readonly from: { readonly jurisdiction: string; readonly site: string };
  readonly to: { readonly jurisdiction: string; readonly site: string };
  readonly records: number;
}

const encoder = new TextEncoder();
type LogDetails = { readonly [key: string]: LogValue };
/** The withheld list of a view that withholds nothing. */
const NONE: readonly string[] = Object.freeze([]);

/** An allowed read's access.decision details: what the decision released and why. */
function readDetails(action: Action, decision: Decision, facts: LogDetails): LogDetails {
  return {
    action,
    allow: true,
    release: decision.release,
    policies: [...decision.policies],
    policy_version: decision.policyVersion,
    // Every read under a grant names it (issue 3), flagged when break-glass opened it.
    ...(decision.grant ? { grant: decision.grant.id, breakglass: decision.grant.breakglass } : {}),
    ...(decision.fields ? { fields: [...decision.fields] } : {}),
    ...facts,
  };
}

/** Frozen all the way down: a shared details object must not change under a later reader. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const sameBytes = (a: Uint8Array | null, b: Uint8Array | null) => (a === null || b === null ? a === b : Buffer.from(a).equals(b));

/**
 * The conflict, if the record is not at the revision a condition names. A record deleted and created
 * again is another incarnation, at whatever version (RFC 9110 §8.8.1), so both parts must match.
 */
function notAt(id: string, row: RecordRow, expected: RecordRevision | undefined): EnclaveError | undefined {
  if (expected === undefined || sameRevision(expected, revisionOf(row))) return undefined;
  return new EnclaveError(
    'version_conflict',
    expected.createdAt === row.createdAt ? `record "${id}" is at version ${row.version}, not ${expected.version}` : `record "${id}" was deleted and created again since that version; read it again`,
  );
}

export class Vault {
  private readonly config: EnclaveConfig;
  private readonly router: SiteRouter;
  private readonly keyring: Keyring;
  private readonly decisions: DecisionPoint;
  private readonly log: EventLog;
  private readonly clock: () => number;
  /**
   * Per subject, in this process: record writes hold it shared, registrations, erasures and re-homes
   * exclusively (docs/architecture.md). A write checks the subject's row, waits for its log entry, then
   * writes at that site; a move or an erasure in that wait let it land at the site left, be lost after
   * the copy, or restore an erased subject's public fields, and two registrations at once stored one id at
   * two sites. Across instances the store refuses such a write (`subject_unavailable`, see writeRefused),
   * and the move marks (compare-and-set) order erasures and re-homes.
   */
  private readonly subjects = new KeyedGate();
  /** oneReadDetails: per decision and collection, the details of a read withholding nothing, or all its protected fields. */
  private readonly sharedDetails = new WeakMap<Decision, Map<CollectionDef, { none?: LogDetails; all?: LogDetails }>>();
  /** The holder this vault names in the move marks it sets (`host:pid:random`). */
  private readonly mover = newHolderId();

  /** Subject ids claimed across instances, in the control store (services/subject-claims.ts). */
  private readonly claims: SubjectClaims;
  /** Record ids claimed across instances while they are created (claimingRecordIds), in a table of their own (Store.recordClaims). */
  private readonly recordClaims: SubjectClaims;
  /** Per record id (collection and id), in this process: its creates run one at a time (a claim's holder is the vault, not the request). */
  private readonly recordIds = new KeyedMutex();
  /** How many home sites records can be stored at: with one, no record id needs a claim. */
  private readonly homeSites: number;

  constructor(deps: { config: EnclaveConfig; router: SiteRouter; claims: SubjectClaimStore; recordClaims: SubjectClaimStore; keyring: Keyring; decisions: DecisionPoint; log: EventLog; clock?: () => number }) {
    this.config = deps.config;
    this.router = deps.router;
    this.keyring = deps.keyring;
    this.decisions = deps.decisions;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.claims = new SubjectClaims({ store: deps.claims, keyring: deps.keyring, holder: this.mover, clock: this.clock });
    this.homeSites = [...deps.config.sites.values()].filter((s) => s.role === 'home').length;
    this.recordClaims = new SubjectClaims({ store: deps.recordClaims, keyring: deps.keyring, holder: this.mover, clock: this.clock, label: RECORD_CLAIM_LABEL, transient: true });
  }

  // ---- decisions -------------------------------------------------------------------------------

  /** The decision point's ruling; a denial is durably logged before it is reported (allow and deny are both logged). */
  private async decideLogged(principal: Principal, action: Action, extra: { collection?: CollectionDef; subject?: string; fields?: readonly string[] } = {}): Promise<Decision> {
    const decision = await this.decisions.decide({ principal, action, ...extra, now: new Date(this.clock()) });
    if (decision.allow) return decision;
    const version = decision.policyVersion;
    await this.record('access.decision', principal, extra.subject, { action, allow: false, policies: [...decision.policies], policy_version: version, ...(extra.collection ? { collection: extra.collection.name } : {}) });
    throw forbidden(decision, action, { policy_version: version });
  }

  /** Appends an event for `principal` and waits until it is durable (log_unavailable otherwise). */
  private async record(type: LogEventType, principal: Principal, subject: string | undefined, details: LogDetails): Promise<void> {
    // The log copies the actor's id, org and role (EventLog.append), nothing else of the principal.
    await this.log.append({ type, principal, ...(subject === undefined ? {} : { subject }), details });
  }

  /** The access.decision entry of an allowed read: what the decision released, before it leaves. */
  private recordRead(principal: Principal, action: Action, decision: Decision, subject: string, facts: LogDetails): Promise<void> {
    return this.record('access.decision', principal, subject, readDetails(action, decision, facts));
  }

  /**
   * The details of one record's read, the same object for every read under one decision (decisions are
   * cached) of one collection withholding the same list (`open` shares its lists): the log's writer
   * thread then gets them once per batch, as structured clone keeps a shared object shared.
   */
  private oneReadDetails(decision: Decision, c: CollectionDef, withheld: readonly string[]): LogDetails {
    const build = () => readDetails('record.read', decision, { collection: c.name, records: 1, withheld: [...withheld] });
    // Only `open`'s shared lists recur; a grant's partial list is new each read, and so are its details.
    if (withheld !== NONE && withheld !== c.protectedFields) return build();
    let byCollection = this.sharedDetails.get(decision);
    if (!byCollection) {
      byCollection = new Map<CollectionDef, { none?: LogDetails; all?: LogDetails }>();
      this.sharedDetails.set(decision, byCollection);
    }
    let kept = byCollection.get(c);
    if (!kept) {
      kept = {};
      byCollection.set(c, kept);
    }
    return withheld === NONE ? (kept.none ??= deepFreeze(build())) : (kept.all ??= deepFreeze(build()));
  }

  collection(name: string): CollectionDef {
    const c = this.config.collections.get(name);
    if (!c) {
      throw new EnclaveError('unknown_collection', `unknown collection "${name}" (expected one of: ${[...this.config.collections.keys()].join(', ')})`, {
        details: { key: name },
      });
    }
    return c;
  }

  // ---- subjects --------------------------------------------------------------------------------

  private view(s: SubjectRow, site: string): SubjectView {
    return {
      id: s.id,
      country: s.country,
      jurisdiction: s.jurisdiction,
      site,
      erased: s.erasedAt !== null,
      created_at: formatRfc3339(s.createdAt),
      erased_at: s.erasedAt === null ? null : formatRfc3339(s.erasedAt),
    };
  }

  private async locateSubject(id: string): Promise<Located<SubjectRow>> {
    const found = await this.router.findSubject(id);
    if (!found) throw this.noSubject(id);
    return found;
  }

  private noSubject(id: string): EnclaveError {
    return new EnclaveError('subject_not_found', `no subject "${id}"`, { details: { key: id } });
  }

  /** Registers a subject at the home site of their residence country (invariant 1); no site is chosen by the caller. */
  async registerSubject(principal: Principal, input: { id: string; country: string }): Promise<SubjectView> {
    const decision = await this.decideLogged(principal, 'subject.register', { subject: input.id });
    validateRecordId(input.id);
    const residence = resolveResidence(this.config, input.country);
    // One at a time per id: two registrations at once both found no subject and each stored theirs, at
    // the home sites of two countries.
    return this.subjects.exclusive([input.id], () => this.registerNow(principal, decision, input.id, residence));
  }

  private async registerNow(principal: Principal, decision: Decision, id: string, residence: ReturnType<typeof resolveResidence>): Promise<SubjectView> {
    if (await this.router.findSubject(id)) throw this.exists(id);
    // Across instances, the claim in the control store decides (services/subject-claims.ts).
    const claimed = await this.claims.claim([id]);
    if (!claimed.held.has(id)) throw this.exists(id, (await this.router.findSubject(id)) ? undefined : 'is being registered by another request');
    const site = residence.site.id;
    let row: SubjectRow;
    try {
      if (claimed.tookOver.has(id) && (await this.router.findSubject(id))) {
        await this.claims.complete([id]);
        throw this.exists(id);
      }
      const { wrapped } = this.keyring.newSubjectKey(site, id);
      row = { id, country: residence.country, jurisdiction: residence.jurisdiction.id, wrappedKey: wrapped, keyId: KEY_ID, createdAt: this.clock(), erasedAt: null, ...UNMARKED };
      await this.record('subject.registered', principal, id, { jurisdiction: row.jurisdiction, site, policies: [...decision.policies] });
      if ((await this.router.store(site).subjects.insert(row)) === 'exists') {
        await this.claims.complete([id]);
        throw this.exists(id);
      }
    } catch (err) {
      await this.claims.release([id]);
      throw err;
    }
    if ((await this.completeClaims(site, [id])).length > 0) throw this.exists(id, 'was registered at another home site by another instance meanwhile; not registered here');
    this.router.remember(id, site);
    return this.view(row, site);
  }

  private exists(id: string, why = 'is already registered'): EnclaveError {
    return new EnclaveError('subject_exists', `subject "${id}" ${why}`);
  }

  /**
   * Completes the claims of subjects stored at `site`. A claim lost meanwhile (this instance was taken for
   * dead: it stalled past another host's lease, or its clock is that far behind) went to an instance that
   * then looked the id up again: if it found the row stored here, it completed the claim and that row
   * stands; if it looked before, it stores its own, at the home site of its country. So once that claim
   * has settled, the row here is removed only where the id is stored at another home site as well. Returns
   * the ids removed here.
   */
  private async completeClaims(site: string, ids: readonly string[]): Promise<string[]> {
    const lost = await this.claims.complete(ids);
    if (lost.length === 0) return [];
    await this.claims.settled(lost);
    const twice = new Set<string>();
    for (const other of this.router.homeSites) {
      if (other !== site) for (const id of (await this.router.store(other).subjects.getMany(lost)).keys()) twice.add(id);
    }
    for (const id of twice) await this.router.store(site).purgeSubject(id);
    return [...twice];
  }

  async getSubject(principal: Principal, id: string): Promise<SubjectView> {
    const decision = await this.decideLogged(principal, 'subject.read', { subject: id });
    const s = await this.locateSubject(id);
    await this.recordRead(principal, 'subject.read', decision, id, {});
    return this.view(s.row, s.site);
  }

  /**
   * Erasure by crypto-shredding: the subject's data key is destroyed, so every sealed field is gone for
   * good; the rows stay as unreadable ciphertext and the API answers 410 for them.
   */
  async eraseSubject(principal: Principal, id: string): Promise<{ subject: string; records: number; erased_at: string }> {
    return this.subjects.exclusive([id], () => this.eraseNow(principal, id));
  }

  private async eraseNow(principal: Principal, id: string): Promise<{ subject: string; records: number; erased_at: string }> {
    const decision = await this.decideLogged(principal, 'subject.erase', { subject: id });
    const s = await this.locateSubject(id);
    if (s.row.erasedAt !== null) {
      // An erasure stopped before its purge below is completed by asking again.
      await this.purgeStaleCopies(id, s.site);
      throw this.gone(id);
    }
    await this.record('subject.erased', principal, id, { jurisdiction: s.row.jurisdiction, site: s.site, policies: [...decision.policies] });
    const at = this.clock();
    const to = s.row.movedTo;
    if (to !== null) {
      // A re-home marked from here, running or dead, is taken over: it may still copy the key it read,
      // so its destination gets an erased row first, which no copy replaces (importSubject).
      if (!(await s.store.subjects.setMovedTo(id, this.mark(to), s.row.moveOwner))) throw await this.changedUnder(id, s, 'erased');
      const dest = this.router.store(to);
      await this.shreddingFirst(to, dest, id, () => dest.importSubject({ ...s.row, wrappedKey: null, erasedAt: at, ...UNMARKED }, []));
      // A copy that reached the destination since this erasure read the subject (whole: its wrapped key
      // too) was just replaced; its bytes leave the destination's files as an erasure's do.
      await dest.scrub();
    }
    // Refused by the store if a re-home marked the row meanwhile: the move copies the key it read.
    const n = await this.shreddingFirst(s.site, s.store, id, () => s.store.subjects.erase(id, at, to === null ? null : this.mover));
    if (n === undefined) {
      await this.unshredUnlessErased(s.site, s.store, id);
      throw await this.changedUnder(id, s, 'erased');
    }
    // A re-home interrupted after its copy left the source holding the data key too.
    await this.purgeStaleCopies(id, s.site);
    return { subject: id, records: n, erased_at: formatRfc3339(at) };
  }

  /**
   * Runs an erasure's `write` at `site` with the subject's key shredded first, not after it returns: the
   * store scrubs once it has committed (a WAL checkpoint; a VACUUM on PostgreSQL), and a read of this
   * instance that loaded the subject's row before could meanwhile still open the key from the cache. A
   * write that fails is undone in the cache too (unshredUnlessErased).
   */
  private async shreddingFirst<T>(site: string, store: Store, id: string, write: () => Promise<T>): Promise<T> {
    this.keyring.shred(site, id);
    try {
      return await write();
    } catch (err) {
      await this.unshredUnlessErased(site, store, id);
      throw err;
    }
  }

  /**
   * Undoes the shred of an erasure that did not take effect at `site` (refused, or failed before it
   * committed): the subject's row there is not erased, so its key must open again. Kept destroyed when the
   * row cannot be read: whether the erasure committed is then not known.
   */
  private async unshredUnlessErased(site: string, store: Store, id: string): Promise<void> {
    const row = await store.subjects.get(id).catch(() => null);
    if (row !== null && (row === undefined || row.erasedAt === null)) this.keyring.unshred(site, id);
  }

  /**
   * Explicit re-homing after a change of residence: copies the subject and their records to the new home
   * site (the data key re-wrapped under that site's key), then purges them from the old one. Re-running
   * after an interruption completes the move.
   */
  async rehomeSubject(principal: Principal, id: string, country: string): Promise<RehomeResult> {
    return this.subjects.exclusive([id], () => this.rehomeNow(principal, id, country));
  }

  private async rehomeNow(principal: Principal, id: string, country: string): Promise<RehomeResult> {
    const decision = await this.decideLogged(principal, 'subject.rehome', { subject: id });
    const src = await this.locateSubject(id);
    if (src.row.erasedAt !== null || src.row.wrappedKey === null) throw this.gone(id);
    const dest = resolveResidence(this.config, country);
    // Another re-home of theirs still runs (through another instance): this one changes nothing.
    if (this.moveLive(src.row)) throw this.moving(id, src.row);
    const from = { jurisdiction: src.row.jurisdiction, site: src.site };
    const to = { jurisdiction: dest.jurisdiction.id, site: dest.site.id };
    // A subject registered before the claims has none: while it moves, a registration looking at one
    // site after the other may find it at neither, and would then claim the id afresh.
    await this.claims.adopt(id);
    await this.record('subject.rehomed', principal, id, { from, to, policies: [...decision.policies] });
    if (dest.site.id === src.site) {
      // Same site: only the recorded residence changes; a move here that was interrupted is completed.
      if (src.row.movedTo !== null && !(await src.store.subjects.setMovedTo(id, null, src.row.moveOwner))) throw await this.changedUnder(id, src, 're-homed');
      await src.store.subjects.setResidence(id, dest.country, dest.jurisdiction.id);
      await this.purgeStaleCopies(id, src.site);
      return { subject: id, from, to, records: 0 };
    }
    // 1. Mark the source: from now on writes there are refused (subject_moving), so nothing written
    //    after the copy can be lost. 2. Copy to the destination in one transaction. 3. Purge the source.
    //    Interrupted anywhere, running the same command again completes the move.
    // The mark is a compare-and-set on the row as read (unmarked, or marked by a holder now gone): of two
    // re-homes through two instances one wins, and the other copies nothing. Refused once the subject is
    // erased: a copy made after that would bring them back.
    if (!(await src.store.subjects.setMovedTo(id, this.mark(dest.site.id), src.row.moveOwner))) throw await this.changedUnder(id, src, 're-homed');
    const records: RecordRow[] = [];
    let after: { collection: string; id: string } | undefined;
    for (;;) {
      const page = await src.store.records.listBySubject(id, { limit: 1000, ...(after ? { after } : {}) });
      records.push(...page);
      const last = page.at(-1);
      if (page.length < 1000 || !last) break;
      after = { collection: last.collection, id: last.id };
    }
    const moved: SubjectRow = {
      ...src.row,
      country: dest.country,
      jurisdiction: dest.jurisdiction.id,
      wrappedKey: this.keyring.rewrap(src.site, dest.site.id, id, src.row.wrappedKey),
      ...UNMARKED,
    };
    // Refused (subject_erased) if an erasure took the mark over meanwhile and fenced the destination.
    await this.router.store(dest.site.id).importSubject(moved, records);
    this.router.remember(id, dest.site.id);
    await this.purgeStaleCopies(id, dest.site.id);
    return { subject: id, from, to, records: records.length };
  }

  /** A mark naming this vault as the holder, from now. */
  private mark(site: string): MoveMark {
    return { site, owner: this.mover, startedAt: this.clock() };
  }

  /**
   * Whether a re-home may still run under the row's mark: its holder's process lives (this host), or its
   * lease has not run out (another host). This vault's own marks are over: it changes a subject only
   * under its exclusive gate, so the operation that set one has ended (it failed or was interrupted).
   */
  private moveLive(row: SubjectRow): boolean {
    if (row.movedTo === null || row.moveOwner === this.mover) return false;
    return !holderGone(row.moveOwner ?? '', this.clock(), row.moveStartedAt ?? 0);
  }

  /**
   * Why a change of the subject's row at `at` was refused: another instance changed the row between this
   * operation's read and its write. Only a subject erased for good answers subject_erased (410).
   */
  private async changedUnder(id: string, at: Located<SubjectRow>, doing: 'erased' | 're-homed'): Promise<EnclaveError> {
    const again = `${doing === 'erased' ? 'erase' : 're-home'} them again`;
    const here = await at.store.subjects.get(id);
    if (here?.erasedAt != null) return this.gone(id);
    if (here) {
      if (doing === 're-homed' && this.moveLive(here)) return this.moving(id, here);
      return new EnclaveError('subject_moving', `subject "${id}" was changed through another instance while being ${doing}; ${again}`);
    }
    // Gone from this site meanwhile: moved by another instance, not erased. Only an erased row is 410.
    const moved = await this.router.findSubject(id);
    if (!moved) return this.noSubject(id);
    if (moved.row.erasedAt !== null) return this.gone(id);
    return new EnclaveError('subject_moving', `subject "${id}" moved to site "${moved.site}" while being ${doing}; ${again}`);
  }

  /**
   * Why the store refused a record write at `at` (`subject_unavailable`): the subject's row there, checked
   * with the write, is erased, marked as moving, or gone. Another instance re-homed or erased them after
   * this write read their row (within one process the gate keeps those out). Only an erased subject is
   * subject_erased (410); a move (under way, or done: the row left this site) is subject_moving (409),
   * which a retry completes at the subject's new home.
   */
  private async writeRefused(id: string, at: Pick<Located<SubjectRow>, 'store'>): Promise<EnclaveError> {
    const here = await at.store.subjects.get(id);
    if (here?.erasedAt != null) return this.gone(id);
    if (here?.movedTo != null) return new EnclaveError('subject_moving', `subject "${id}" is being re-homed to site "${here.movedTo}"; nothing was written: retry once the move completes`);
    const found = await this.router.findSubject(id);
    if (!found) return this.noSubject(id);
    if (found.row.erasedAt !== null) return this.gone(id);
    return new EnclaveError('subject_moving', `subject "${id}" moved to site "${found.site}" while this write ran; nothing was written: retry`);
  }

  /** writeRefused's code, for a bulk load's refusals. */
  private async writeRefusedCode(id: string, store: Store): Promise<ErrorCode> {
    return (await this.writeRefused(id, { store })).code;
  }

  /**
   * Removes the subject from every other home site that holds a copy marked as moving, `site` holding
   * the one that counts: marked to `site`, or to a site an interrupted move left behind on the way.
   */
  private async purgeStaleCopies(id: string, site: string): Promise<void> {
    for (const other of this.router.homeSites) {
      if (other === site) continue;
      const store = this.router.store(other);
      if (((await store.subjects.get(id))?.movedTo ?? null) === null) continue;
      await store.purgeSubject(id);
      this.keyring.forget(other, id);
    }
  }

  private moving(id: string, row: SubjectRow): EnclaveError {
    return new EnclaveError('subject_moving', `subject "${id}" is being re-homed to site "${String(row.movedTo)}" by another instance; try again once that move completes`);
  }

  private gone(id: string): EnclaveError {
    return new EnclaveError('subject_erased', `subject "${id}" was erased; their records can never be read again`, { details: { key: id } });
  }

  /**
   * Registers many subjects, one transaction per site. Subjects whose country has no lawful home are
   * refused (and reported), never stored by default; already registered ones are counted as existing.
   */
  async importSubjects(principal: Principal, items: readonly { id: string; country: string }[]): Promise<ImportResult> {
    const decision = await this.decideLogged(principal, 'subject.register');
    const refused: { id: string; code: ErrorCode }[] = [];
    const now = this.clock();
    const lawful: { id: string; residence: ReturnType<typeof resolveResidence> }[] = [];
    // An id given twice is registered once, by its first item: two items with countries of two
    // jurisdictions were stored at both home sites. A later one for another site is refused.
    const firstSite = new Map<string, string>();
    for (const item of items) {
      try {
        validateRecordId(item.id);
        const residence = resolveResidence(this.config, item.country);
        const first = firstSite.get(item.id);
        if (first !== undefined) {
          if (first !== residence.site.id) refused.push({ id: item.id, code: 'subject_exists' });
          continue;
        }
        firstSite.set(item.id, residence.site.id);
        lawful.push({ id: item.id, residence });
      } catch (err) {
        if (!(err instanceof EnclaveError)) throw err;
        refused.push({ id: item.id, code: err.code });
      }
    }
    // Under the gate of every id, as registerSubject: an import and a registration of one id at once
    // registered it twice.
    return this.subjects.exclusive(
      lawful.map((x) => x.id),
      () => this.importSubjectsNow(principal, decision, items.length, lawful, refused, now),
    );
  }

  private async importSubjectsNow(
    principal: Principal,
    decision: Decision,
    submitted: number,
    lawful: readonly { id: string; residence: ReturnType<typeof resolveResidence> }[],
    refused: readonly { id: string; code: ErrorCode }[],
    now: number,
  ): Promise<ImportResult> {
    const bySite = new Map<string, SubjectRow[]>();
    // Registered anywhere already (possibly at another site): leave it, count it as existing.
    const known = await this.router.findSubjects(lawful.map((x) => x.id));
    const fresh = lawful.filter((x) => !known.has(x.id));
    // Across instances, the claims in the control store decide (services/subject-claims.ts).
    const { held: heldIds, tookOver } = await this.claimForImport(fresh.map((x) => x.id));
    const refusedNow = [...refused];
    let held: typeof fresh;
    try {
      // Taken over from a holder that died: it may have stored the row first.
      const existing = tookOver.size > 0 ? await this.router.findSubjects([...tookOver]) : new Map<string, unknown>();
      await this.claims.complete([...existing.keys()]);
      held = fresh.filter((x) => heldIds.has(x.id) && !existing.has(x.id));
      const elsewhere = fresh.filter((x) => !heldIds.has(x.id)).map((x) => x.id);
      // Registered meanwhile through another instance (existing), or still being registered (refused: retry later).
      const since = elsewhere.length > 0 ? await this.router.findSubjects(elsewhere) : new Map<string, unknown>();
      for (const id of elsewhere) if (!since.has(id)) refusedNow.push({ id, code: 'subject_exists' });
      for (const { id, residence } of held) {
        const site = residence.site.id;
        const { wrapped } = this.keyring.newSubjectKey(site, id);
        const rows = bySite.get(site) ?? [];
        rows.push({ id, country: residence.country, jurisdiction: residence.jurisdiction.id, wrappedKey: wrapped, keyId: KEY_ID, createdAt: now, erasedAt: null, ...UNMARKED });
        bySite.set(site, rows);
      }
    } catch (err) {
      await this.claims.release([...heldIds]);
      throw err;
    }
    let created = 0;
    const pending = new Set(held.map((x) => x.id));
    try {
      for (const [site, rows] of bySite) {
        await Promise.all(rows.map((r) => this.record('subject.registered', principal, r.id, { jurisdiction: r.jurisdiction, site, policies: [...decision.policies], import: true })));
        created += await this.router.store(site).subjects.insertMany(rows);
        for (const r of rows) pending.delete(r.id);
        // Inserted or found already stored at this site: either way the subject exists.
        const removed = new Set(await this.completeClaims(site, rows.map((r) => r.id)));
        for (const r of rows) {
          if (removed.has(r.id)) refusedNow.push({ id: r.id, code: 'subject_exists' });
          else this.router.remember(r.id, site);
        }
        created -= removed.size;
      }
    } catch (err) {
      await this.claims.release([...pending]);
      throw err;
    }
    return { created, replaced: 0, existing: submitted - refusedNow.length - created, refused: refusedNow };
  }

  /**
   * Claims ids for a bulk import. An id another instance is registering at this moment is waited for
   * (briefly: services/subject-claims.ts settled) and claimed again if that registration let go of it, so a
   * migration's page and the application registering one of its subjects do not refuse its rows.
   */
  private async claimForImport(ids: readonly string[]): Promise<Claimed> {
    const first = await this.claims.claim(ids);
    const busy = ids.filter((id) => !first.held.has(id));
    if (busy.length === 0) return first;
    try {
      await this.claims.settled(busy);
      const registered = await this.router.findSubjects(busy);
      const again = await this.claims.claim(busy.filter((id) => !registered.has(id)));
      return { held: new Set([...first.held, ...again.held]), tookOver: new Set([...first.tookOver, ...again.tookOver]), keys: [...first.keys, ...again.keys] };
    } catch (err) {
      // Sealed or a store failing meanwhile: the claims already taken are let go, as a failed import's are.
      await this.claims.release([...first.held]);
      throw err;
    }
  }

  /**
   * Creates many records of one collection, one transaction per site: the same validation, decision,
   * residency and sealing as createRecord, for bulk loads (the demo, migration). Ids that already exist
   * are left untouched and counted as existing, so a re-run is idempotent. With `replace` (a migration
   * re-copying rows that changed at their source), an existing record of the same subject whose content
   * differs is replaced by a new version, sealed like any update; identical ones are left as they are.
   * Which ids a migration may replace (the records it wrote itself) is its own check, before this call.
   */
  async importRecords(principal: Principal, collectionName: string, items: readonly { id: string; data: unknown }[], options: { replace?: boolean } = {}): Promise<ImportResult> {
    const c = this.collection(collectionName);
    const refused: { id: string; code: ErrorCode }[] = [];
    const now = this.clock();
    // Validated and decided in item order (the first invalid or denied item fails the call). A bulk load
    // repeats the same request for many records of one subject: each distinct one is decided once.
    const checked: { id: string; data: RecordData; subject: string; decision: Decision }[] = [];
    const decided = new Map<string, Decision>();
    for (const item of items) {
      const id = validateRecordId(item.id);
      const data = validateRecordData(c, item.data);
      const subject = data[c.subjectField] as string;
      const fields = Object.keys(data);
      const key = `${subject}\u0000${fields.join('\u0000')}`;
      let decision = decided.get(key);
      if (!decision) {
        decision = await this.decideLogged(principal, 'record.write', { collection: c, subject, fields });
        decided.set(key, decision);
      }
      checked.push({ id, data, subject, decision });
    }
    // Under the shared gate of every subject written, as createRecord.
    return this.subjects.shared(
      checked.map((x) => x.subject),
      () => this.importRecordsNow(principal, c, checked, items.length, refused, now, options),
    );
  }

  private async importRecordsNow(
    principal: Principal,
    c: CollectionDef,
    checked: readonly { id: string; data: RecordData; subject: string; decision: Decision }[],
    submitted: number,
    refused: { id: string; code: ErrorCode }[],
    now: number,
    options: { replace?: boolean },
  ): Promise<ImportResult> {
    // Each subject looked up once (one query per site for the page), then each target site asks the
    // other home sites at once which of its ids they hold.
    const located = await this.router.findSubjects([...new Set(checked.map((x) => x.subject))]);
    const targets = new Map<string, { located: Located<SubjectRow>; dek: AeadKey } | ErrorCode>();
    for (const { subject } of checked) {
      if (targets.has(subject)) continue;
      try {
        targets.set(subject, this.writable(subject, located.get(subject)));
      } catch (err) {
        if (!(err instanceof EnclaveError) || err.code === 'sealed') throw err;
        targets.set(subject, err.code);
      }
    }
    const idsBySite = new Map<string, string[]>();
    for (const x of checked) {
      const t = targets.get(x.subject);
      if (t === undefined || typeof t === 'string') continue;
      const ids = idsBySite.get(t.located.site) ?? [];
      ids.push(x.id);
      idsBySite.set(t.located.site, ids);
    }
    // Claimed while they are looked up at the other home sites and stored (claimingRecordIds), as a create's id.
    return this.claimingRecordIds(c.name, [...idsBySite.values()].flat(), true, (claimed) =>
      this.storeImport({ principal, c, checked, targets, idsBySite, claimed, submitted, refused, now, replace: options.replace === true }),
    );
  }

  /** The store part of a bulk load, its record ids claimed (`claimed`: those held): importRecords. */
  private async storeImport(w: {
    readonly principal: Principal;
    readonly c: CollectionDef;
    readonly checked: readonly { id: string; data: RecordData; subject: string; decision: Decision }[];
    readonly targets: ReadonlyMap<string, { located: Located<SubjectRow>; dek: AeadKey } | ErrorCode>;
    readonly idsBySite: ReadonlyMap<string, string[]>;
    readonly claimed: ReadonlySet<string>;
    readonly submitted: number;
    readonly refused: { id: string; code: ErrorCode }[];
    readonly now: number;
    readonly replace: boolean;
  }): Promise<ImportResult> {
    const { principal, c, checked, targets, idsBySite, claimed, submitted, refused, now } = w;
    const heldElsewhere = await this.heldElsewhere(c.name, idsBySite);
    const bySite = new Map<Store, { row: RecordRow; data: RecordData; dek: AeadKey }[]>();
    // One record.created entry per subject and batch, with the number of records submitted for them.
    const perSubject = new Map<string, { count: number; policies: readonly string[] }>();
    /** Record id → the subject of the first item of this batch written under it. */
    const inBatch = new Map<string, string>();
    for (const { id, data, subject, decision } of checked) {
      const target = targets.get(subject);
      if (target === undefined) continue;
      if (typeof target === 'string') {
        refused.push({ id, code: target });
        continue;
      }
      // Ids are unique across the enclave: one held at another home site is this subject's already, or refused.
      const holder = heldElsewhere.get(id);
      if (holder !== undefined) {
        if (holder !== subject) refused.push({ id, code: 'subject_mismatch' });
        continue;
      }
      // Still being created by another request (for the next pass): it may go to another home site.
      if (!claimed.has(id)) {
        refused.push({ id, code: 'record_exists' });
        continue;
      }
      // Nor may one batch give an id to two subjects: at two home sites, both rows were stored.
      const first = inBatch.get(id);
      if (first !== undefined && first !== subject) {
        refused.push({ id, code: 'subject_mismatch' });
        continue;
      }
      inBatch.set(id, subject);
      const rows = bySite.get(target.located.store) ?? [];
      rows.push({ row: this.sealRow(c, id, subject, 1, data, target.dek, now, { createdAt: now, createdBy: principal.id }), data, dek: target.dek });
      bySite.set(target.located.store, rows);
      perSubject.set(subject, { count: (perSubject.get(subject)?.count ?? 0) + 1, policies: decision.policies });
    }
    await Promise.all(
      [...perSubject].map(([subject, { count, policies }]) =>
        this.record('record.created', principal, subject, { collection: c.name, records: count, policies: [...policies], import: true }),
      ),
    );
    let created = 0;
    let replaced = 0;
    for (const [store, rows] of bySite) {
      const { inserted, unavailable } = await store.records.insertMany(rows.map((r) => r.row));
      created += inserted;
      if (inserted === rows.length) continue;
      // Subjects re-homed or erased (through another instance) since they were looked up: their rows
      // were not written, and are refused with what the subject's row says now.
      const why = new Map<string, ErrorCode>();
      for (const subject of unavailable) why.set(subject, await this.writeRefusedCode(subject, store));
      const stored = await store.records.getMany(c.name, rows.map((r) => r.row.id));
      for (const { row, data, dek } of rows) {
        const refusal = why.get(row.subject);
        if (refusal !== undefined) {
          refused.push({ id: row.id, code: refusal });
          continue;
        }
        const existing = stored.get(row.id);
        // Just inserted (the same bytes): nothing to do.
        if (!existing || (existing.version === 1 && existing.publicJson === row.publicJson && sameBytes(existing.sealed, row.sealed))) continue;
        // A record another principal created (through the API, or another migration) is never replaced,
        // whatever it holds: the id is theirs. Only a creator not known (a record older than the column) is
        // taken at the caller's word.
        if (w.replace && existing.createdBy !== null && existing.createdBy !== principal.id) {
          refused.push({ id: row.id, code: 'record_exists' });
          continue;
        }
        // An id another subject's record has is refused, never counted as already there.
        if (existing.subject !== row.subject) {
          refused.push({ id: row.id, code: 'subject_mismatch' });
          continue;
        }
        if (!w.replace || this.holds(c, existing, data, dek)) continue;
        const next = this.sealRow(c, row.id, row.subject, existing.version + 1, data, dek, now, existing);
        await this.record('record.updated', principal, row.subject, { collection: c.name, version: next.version, fields: Object.keys(data), policies: [...(perSubject.get(row.subject)?.policies ?? [])], import: true });
        const outcome = await store.records.update(next, revisionOf(existing));
        if (outcome === 'updated') replaced += 1;
        else refused.push({ id: row.id, code: outcome === 'subject_unavailable' ? await this.writeRefusedCode(row.subject, store) : 'version_conflict' });
      }
    }
    return { created, replaced, existing: submitted - refused.length - created - replaced, refused };
  }

  /** Whether a stored row holds exactly `data` (compared as canonical JSON, protected fields decrypted). */
  private holds(c: CollectionDef, row: RecordRow, data: RecordData, dek: AeadKey): boolean {
    const { publicData, protectedData } = splitRecord(c, data);
    if (canonicalJson(JSON.parse(row.publicJson) as JsonValue) !== canonicalJson(publicData)) return false;
    if (row.sealed === null || protectedData === null) return row.sealed === null && protectedData === null;
    const stored = JSON.parse(open(dek, row.sealed, recordAad(c.name, row.id, row.subject, row.version)).toString('utf8')) as JsonValue;
    return canonicalJson(stored) === canonicalJson(protectedData);
  }

  /** Of the ids, by the site they are to be written at, those another home site holds, with their subject (ids are unique across the enclave). */
  private async heldElsewhere(collection: string, idsBySite: ReadonlyMap<string, readonly string[]>): Promise<Map<string, string>> {
    const held = new Map<string, string>();
    for (const [site, ids] of idsBySite) {
      for (const [id, subject] of await this.router.recordHolders(collection, ids, this.router.homeSites.filter((other) => other !== site))) held.set(id, subject);
    }
    return held;
  }

  // ---- records ---------------------------------------------------------------------------------

  /** The subject's site and data key, refusing erased subjects and sites residency no longer allows. */
  private async subjectForWrite(subjectId: string): Promise<{ located: Located<SubjectRow>; dek: AeadKey }> {
    return this.writable(subjectId, await this.locateSubject(subjectId));
  }

  /** subjectForWrite on a subject already looked up (undefined: not found). */
  private writable(subjectId: string, located: Located<SubjectRow> | undefined): { located: Located<SubjectRow>; dek: AeadKey } {
    if (!located) throw this.noSubject(subjectId);
    const row = located.row;
    if (row.erasedAt !== null || row.wrappedKey === null) throw this.gone(subjectId);
    if (row.movedTo !== null) {
      throw new EnclaveError('subject_moving', `subject "${subjectId}" is being re-homed to site "${row.movedTo}"; writes resume when the move completes (run the re-home again if it was interrupted)`);
    }
    const lawful = resolveResidence(this.config, row.country);
    if (lawful.site.id !== located.site) {
      throw new EnclaveError('no_home_site', `subject "${subjectId}" is stored at site "${located.site}" but residency now requires "${lawful.site.id}"; re-home them first`);
    }
    return { located, dek: this.keyring.unwrap(located.site, subjectId, row.wrappedKey) };
  }

  /**
   * Finds a record and its subject. During a re-home the source still holds a copy; once the
   * destination has the subject, the destination's copy is the record.
   */
  private async locateRecord(c: CollectionDef, id: string): Promise<Located<RecordRow> & { subject: SubjectRow | undefined }> {
    const found = await this.router.findRecordWithSubject(c.name, id);
    if (!found) throw new EnclaveError('record_not_found', `no record "${id}" in "${c.name}"`);
    const subject = found.subject;
    if (subject?.movedTo != null && subject.movedTo !== found.site) {
      const dest = this.router.store(subject.movedTo);
      const destSubject = await dest.subjects.get(found.row.subject);
      if (destSubject) {
        const row = await dest.records.get(c.name, id);
        if (!row) throw new EnclaveError('record_not_found', `no record "${id}" in "${c.name}"`);
        return { site: subject.movedTo, store: dest, row, subject: destSubject };
      }
    }
    return found;
  }

  /**
   * locateRecord for a read or a delete by `principal`. A missing record is 404 only to a principal the
   * decision lets take that action in the collection (asked without a subject, for its public fields):
   * one it refuses gets the 403 (logged) an existing record would give them, so a principal who may not
   * read or delete a record cannot learn by asking whether its id exists.
   */
  private async locateFor(principal: Principal, action: 'record.read' | 'record.delete', c: CollectionDef, id: string): Promise<Located<RecordRow> & { subject: SubjectRow | undefined }> {
    try {
      return await this.locateRecord(c, id);
    } catch (err) {
      if (err instanceof EnclaveError && err.code === 'record_not_found') {
        await this.decideLogged(principal, action, { collection: c, fields: c.publicFields });
      }
      throw err;
    }
  }

  /** A record row, sealed; `origin` is its creation (the stored row's, for a new version of it). */
  private sealRow(c: CollectionDef, id: string, subject: string, version: number, data: RecordData, dek: AeadKey, now: number, origin: Pick<RecordRow, 'createdAt' | 'createdBy'>): RecordRow {
    const { publicData, protectedData } = splitRecord(c, data);
    const sealed = protectedData === null ? null : seal(dek, encoder.encode(JSON.stringify(protectedData)), recordAad(c.name, id, subject, version));
    return { collection: c.name, id, subject, version, publicJson: JSON.stringify(publicData), sealed, createdAt: origin.createdAt, updatedAt: now, createdBy: origin.createdBy };
  }

  async createRecord(principal: Principal, collectionName: string, input: { id?: string; data: unknown }): Promise<RecordView> {
    const c = this.collection(collectionName);
    const data = validateRecordData(c, input.data);
    const subject = data[c.subjectField] as string;
    const decision = await this.decideLogged(principal, 'record.write', { collection: c, subject, fields: Object.keys(data) });
    const id = input.id === undefined ? randomUUID() : validateRecordId(input.id);
    return this.subjects.shared([subject], () => this.createNow(principal, c, id, subject, data, decision));
  }

  private async createNow(principal: Principal, c: CollectionDef, id: string, subject: string, data: RecordData, decision: Decision): Promise<RecordView> {
    const { located, dek } = await this.subjectForWrite(subject);
    return this.claimingRecordIds(c.name, [id], false, async (held) => {
      if (await this.router.findRecord(c.name, id)) throw new EnclaveError('record_exists', `record "${id}" already exists in "${c.name}"`);
      if (!held.has(id)) throw new EnclaveError('record_exists', `record "${id}" of "${c.name}" is being created by another request; retry if that one fails`);
      const now = this.clock();
      const row = this.sealRow(c, id, subject, 1, data, dek, now, { createdAt: now, createdBy: principal.id });
      await this.record('record.created', principal, subject, { collection: c.name, version: 1, fields: Object.keys(data), policies: [...decision.policies] });
      const outcome = await located.store.records.insert(row);
      if (outcome === 'subject_unavailable') throw await this.writeRefused(subject, located);
      if (outcome === 'exists') throw new EnclaveError('record_exists', `record "${id}" already exists in "${c.name}"`);
      return this.recordView(c, row, data, []);
    });
  }

  /**
   * Runs `work` (which looks the ids up at every home site and stores those it creates) holding the
   * claims of these record ids of `collection`, and lets them go after it. Home sites share no unique
   * key: two creates of one id for subjects at two sites each found it nowhere and stored it, through two
   * instances or one. `work` gets the ids held; an id another create holds is not, unless `wait` and that
   * create settles within about two seconds (a bulk load's: its rows are then refused only if still busy).
   * With one home site its primary key alone keeps an id to one record, so no claim is taken (a claim
   * costs about 5 µs of CPU an id in a bulk load: an HMAC, and a control-store insert and delete).
   */
  private async claimingRecordIds<T>(collection: string, ids: readonly string[], wait: boolean, work: (held: ReadonlySet<string>) => Promise<T>): Promise<T> {
    if (this.homeSites <= 1) return work(new Set(ids));
    const byName = new Map(ids.map((id) => [`${collection}\u0000${id}`, id]));
    const names = [...byName.keys()];
    return this.recordIds.run(names, async () => {
      const first = await this.recordClaims.claim(names);
      const held = new Set(first.held);
      const keys = [...first.keys];
      try {
        const busy = names.filter((n) => !held.has(n));
        if (wait && busy.length > 0) {
          await this.recordClaims.settled(busy);
          const again = await this.recordClaims.claim(busy);
          for (const n of again.held) held.add(n);
          keys.push(...again.keys);
        }
        return await work(new Set([...held].map((n) => byName.get(n) ?? '')));
      } finally {
        // Once stored, an id is found at its site by every later create; a release lost is taken over once this process is gone.
        await this.recordClaims.releaseKeys(keys);
      }
    });
  }

  /** Replaces a record; with `ifMatch` only at that revision (version and incarnation). */
  async replaceRecord(principal: Principal, collectionName: string, id: string, input: { data: unknown; ifMatch?: RecordRevision }): Promise<RecordView> {
    const c = this.collection(collectionName);
    const data = validateRecordData(c, input.data);
    const subject = data[c.subjectField] as string;
    const decision = await this.decideLogged(principal, 'record.write', { collection: c, subject, fields: Object.keys(data) });
    return this.subjects.shared([subject], () => this.replaceNow(principal, c, id, subject, data, decision, input.ifMatch));
  }

  private async replaceNow(principal: Principal, c: CollectionDef, id: string, subject: string, data: RecordData, decision: Decision, ifMatch: RecordRevision | undefined): Promise<RecordView> {
    const existing = await this.locateRecord(c, id);
    if (existing.row.subject !== subject) {
      throw new EnclaveError('subject_mismatch', `record "${id}" belongs to another subject; delete it and create a new one instead`, { details: { field: c.subjectField } });
    }
    const conflict = notAt(id, existing.row, ifMatch);
    if (conflict) throw conflict;
    const { located, dek } = await this.subjectForWrite(subject);
    if (located.site !== existing.site) throw new EnclaveError('subject_moving', `subject "${subject}" is being re-homed; retry`);
    const now = this.clock();
    const row = this.sealRow(c, id, subject, existing.row.version + 1, data, dek, now, existing.row);
    await this.record('record.updated', principal, subject, { collection: c.name, version: row.version, fields: Object.keys(data), policies: [...decision.policies] });
    const outcome = await located.store.records.update(row, revisionOf(existing.row));
    if (outcome === 'subject_unavailable') throw await this.writeRefused(subject, located);
    if (outcome === 'not_found') throw new EnclaveError('record_not_found', `no record "${id}" in "${c.name}"`);
    if (outcome === 'version_conflict') throw new EnclaveError('version_conflict', `record "${id}" changed concurrently; read it again`);
    return this.recordView(c, row, data, []);
  }

  /**
   * Deletes a record; with `ifMatch` only at that revision (version and incarnation). With `onlyOwn` (a
   * migration removing what it wrote) only a record this principal created, or one whose creator is not
   * known: another's is refused with `record_exists` and left as it is.
   */
  async deleteRecord(principal: Principal, collectionName: string, id: string, ifMatch?: RecordRevision, onlyOwn = false): Promise<void> {
    const c = this.collection(collectionName);
    // The id deleted and created again for another subject before the gate opened, or the record changed
    // after its decision (deleteNow): what is there now is decided on and deleted, under its own subject's
    // gate; a record that keeps changing is left to the caller to retry.
    for (let attempt = 0; attempt < 2; attempt++) {
      const subject = (await this.locateFor(principal, 'record.delete', c, id)).row.subject;
      if (await this.subjects.shared([subject], () => this.deleteNow(principal, c, id, subject, ifMatch, onlyOwn))) return;
    }
    throw new EnclaveError('version_conflict', `record "${id}" of "${c.name}" changed while it was being deleted; read it again`);
  }

  /**
   * deleteRecord under the gate of `subject`; false, changing nothing, if the record is now another
   * subject's, or (without `ifMatch`) no longer the revision decided on.
   */
  private async deleteNow(principal: Principal, c: CollectionDef, id: string, subject: string, ifMatch: RecordRevision | undefined, onlyOwn: boolean): Promise<boolean> {
    const existing = await this.locateRecord(c, id);
    if (existing.row.subject !== subject) return false;
    if (onlyOwn && existing.row.createdBy !== null && existing.row.createdBy !== principal.id) {
      throw new EnclaveError('record_exists', `record "${id}" of "${c.name}" was created by another principal: it is left as it is`);
    }
    const fields = existing.row.sealed === null ? Object.keys(JSON.parse(existing.row.publicJson) as object) : [...c.fields.keys()];
    const decision = await this.decideLogged(principal, 'record.delete', { collection: c, subject: existing.row.subject, fields });
    // After the decision: the answer names the record's subject.
    if (existing.subject?.movedTo != null) throw new EnclaveError('subject_moving', `subject "${existing.row.subject}" is being re-homed; retry`);
    // Refused before it is logged when the revision is already known to differ (the store re-checks).
    const conflict = notAt(id, existing.row, ifMatch);
    if (conflict) throw conflict;
    await this.record('record.deleted', principal, existing.row.subject, { collection: c.name, version: existing.row.version, policies: [...decision.policies] });
    // Always at the revision decided on and logged: a record deleted and created again since (perhaps for
    // another subject, under another gate) is another's decision, not this one's.
    const outcome = await existing.store.records.delete(c.name, id, revisionOf(existing.row), onlyOwn ? principal.id : undefined);
    if (outcome === 'subject_unavailable') throw await this.writeRefused(subject, existing);
    if (outcome === 'not_found') throw new EnclaveError('record_not_found', `no record "${id}" in "${c.name}"`);
    if (outcome === 'version_conflict') {
      if (ifMatch !== undefined) throw new EnclaveError('version_conflict', `record "${id}" changed concurrently; read it again`);
      // Unconditional: deleteRecord decides again on the record there now (a creator's check included).
      return false;
    }
    return true;
  }

  async getRecord(principal: Principal, collectionName: string, id: string): Promise<RecordView> {
    const c = this.collection(collectionName);
    const found = await this.locateFor(principal, 'record.read', c, id);
    const decision = await this.decideLogged(principal, 'record.read', { collection: c, subject: found.row.subject, fields: [...c.fields.keys()] });
    const view = this.open(c, found.site, found.row, found.subject, decision);
    // Fail closed: the view (perhaps decrypted) leaves only once its decision is durably logged.
    await this.record('access.decision', principal, found.row.subject, this.oneReadDetails(decision, c, view.withheld));
    return view;
  }

  async listSubjectRecords(principal: Principal, subjectId: string, options: { collection?: string; limit?: number; cursor?: string } = {}): Promise<RecordPage> {
    const only = options.collection === undefined ? undefined : this.collection(options.collection);
    // Decisions are per collection (a grant may open one collection and not another); this first one
    // refuses a principal who may read nothing of this subject before anything is looked up.
    const first = only ?? this.config.collections.values().next().value;
    const decisions = new Map<string, Decision>();
    if (first) decisions.set(first.name, await this.decideLogged(principal, 'record.read', { collection: first, subject: subjectId, fields: [...first.fields.keys()] }));
    const s = await this.locateSubject(subjectId);
    if (s.row.erasedAt !== null) throw this.gone(subjectId);
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1000);
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    const rows = await s.store.records.listBySubject(subjectId, { limit, ...(only ? { collection: only.name } : {}), ...(after ? { after } : {}) });
    const records: RecordView[] = [];
    for (const row of rows) {
      const c = this.config.collections.get(row.collection);
      if (!c) continue;
      let decision = decisions.get(c.name);
      if (!decision) {
        decision = await this.decideLogged(principal, 'record.read', { collection: c, subject: subjectId, fields: [...c.fields.keys()] });
        decisions.set(c.name, decision);
      }
      records.push(this.open(c, s.site, row, s.row, decision));
    }
    // Fail closed: one entry per collection decision (each names its policies and grant), before any leaves.
    for (const [name, decision] of decisions) {
      const count = records.filter((r) => r.collection === name).length;
      if (count > 0 || decisions.size === 1) await this.recordRead(principal, 'record.read', decision, subjectId, { collection: name, records: count });
    }
    const last = rows.at(-1);
    return { subject: subjectId, records, next: rows.length === limit && last ? encodeCursor(last) : null };
  }

  /** Decrypts only what the decision releases; a public-only release never touches the key. */
  private open(c: CollectionDef, site: string, row: RecordRow, subject: SubjectRow | undefined, decision: Decision): RecordView {
    if (!subject || subject.erasedAt !== null || subject.wrappedKey === null) throw this.gone(row.subject);
    const data = JSON.parse(row.publicJson) as RecordData;
    // Withhold every protected field of the collection, present or not, also from a record that stores
    // none (sealed is null): presence itself is information.
    if (decision.release !== 'protected') return this.recordView(c, row, data, c.protectedFields.length === 0 ? NONE : c.protectedFields);
    const released = decision.fields;
    // A grant for some fields only: the others are withheld like any protected field.
    const withheld = released === undefined ? NONE : c.protectedFields.filter((f) => !released.includes(f));
    if (row.sealed === null) return this.recordView(c, row, data, withheld, decision.grant);
    const dek = this.keyring.unwrap(site, row.subject, subject.wrappedKey);
    const plain = JSON.parse(open(dek, row.sealed, recordAad(c.name, row.id, row.subject, row.version)).toString('utf8')) as RecordData;
    return this.recordView(c, row, { ...data, ...plain }, withheld, decision.grant);
  }

  /**
   * A withheld field is never in the view's data, wherever the row holds it: a field the configuration
   * classifies protected since the record was written is still in its public JSON, in the clear.
   */
  private recordView(c: CollectionDef, row: RecordRow, data: RecordData, withheld: readonly string[], grant?: GrantRef): RecordView {
    // Present fields in schema order so responses are stable.
    const ordered: RecordData = {};
    for (const f of c.fields.keys()) if (Object.hasOwn(data, f) && (withheld.length === 0 || !withheld.includes(f))) ordered[f] = data[f] ?? null;
    return {
      collection: c.name,
      id: row.id,
      subject: row.subject,
      version: row.version,
      data: ordered,
      withheld,
      ...(grant ? { grant } : {}),
      created_at: formatRfc3339(row.createdAt),
      updated_at: formatRfc3339(row.updatedAt),
    };
  }
}

function encodeCursor(row: RecordRow): string {
  return Buffer.from(JSON.stringify([row.collection, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { collection: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return { collection: v[0], id: v[1] };
  } catch {
    // fall through to the typed error
  }
  throw new EnclaveError('invalid_request', 'cursor is not one this API returned', { details: { field: 'cursor' } });
}
