// The storage port. Every site (and the control store) is one Store; adapters (SQLite now, PostgreSQL
// later) implement it identically and run one conformance suite (test/storage/conformance.ts).
// Each method is atomic on its own, so no caller ever holds a transaction open across an await.
import type { ProposalState, RequestState } from './api-ids.ts';

export interface SubjectRow {
  readonly id: string;
  readonly country: string;
  readonly jurisdiction: string;
  /** The subject's data key wrapped under the site's key-encryption key; null once erased. */
  readonly wrappedKey: Uint8Array | null;
  readonly keyId: string;
  readonly createdAt: number;
  readonly erasedAt: number | null;
  /** Set while a re-home is in flight: the site the subject is moving to. */
  readonly movedTo: string | null;
  /** Who set the mark (`host:pid:random`, see storage/process-alive.ts) and when: null when unmarked. */
  readonly moveOwner: string | null;
  readonly moveStartedAt: number | null;
}

/** A move mark: where the subject is going, who is moving them, since when. */
export interface MoveMark {
  readonly site: string;
  readonly owner: string;
  readonly startedAt: number;
}

/** The mark fields of a row that is not moving, to spread into new rows. */
export const UNMARKED = { movedTo: null, moveOwner: null, moveStartedAt: null } as const;

export interface RecordRow {
  readonly collection: string;
  readonly id: string;
  readonly subject: string;
  readonly version: number;
  /** JSON object of the public fields, stored in the clear. */
  readonly publicJson: string;
  /** AEAD ciphertext of the protected fields; null when the record has none. */
  readonly sealed: Uint8Array | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /**
   * The principal that created the record (an API caller, `migration:<name>`), kept by every update;
   * null for records created before it was kept. A migration replaces or deletes only records it created.
   */
  readonly createdBy: string | null;
}

/**
 * One state of a record, as a conditional write expects to find it: its version, and the creation time
 * of its incarnation. A record deleted and created again under its key starts again at version 1, so the
 * version alone does not tell the two apart (RFC 9110 §8.8.1: a strong validator changes whenever the
 * representation does).
 */
export interface RecordRevision {
  readonly version: number;
  readonly createdAt: number;
}

/** The revision a row is at: its version, and its incarnation's creation time. */
export function revisionOf(row: Pick<RecordRow, 'version' | 'createdAt'>): RecordRevision {
  return { version: row.version, createdAt: row.createdAt };
}

/** Whether two revisions are the same: both parts, since a record created again restarts its versions. */
export function sameRevision(a: RecordRevision, b: RecordRevision): boolean {
  return a.version === b.version && a.createdAt === b.createdAt;
}

/** A record with its subject's row, as one read returns them; `subject` is undefined when this store holds no such subject. */
export interface RecordWithSubject {
  readonly record: RecordRow;
  readonly subject: SubjectRow | undefined;
}

export interface PrincipalRow {
  readonly id: string;
  readonly org: string;
  readonly role: string;
  readonly createdAt: number;
}

export interface TokenRow {
  readonly id: string;
  /** SHA-256 of the bearer secret, hex. The secret itself is never stored. */
  readonly hash: string;
  readonly principalId: string;
  readonly label: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  /** The token this one replaced by rotation; null for a token issued by proposal or bootstrap. */
  readonly replaces: string | null;
  /**
   * The first token of its rotation chain (its own id when it replaces none). A rotation revokes the
   * token it replaces as it creates its successor, so at most one token of a lineage is ever in force.
   */
  readonly lineage: string;
}

export interface TokenWithPrincipal {
  readonly token: TokenRow;
  readonly principal: PrincipalRow;
}

export type InsertResult = 'inserted' | 'exists';
/**
 * A record write refused because its subject's row at this store is missing, erased (`erased_at` set) or
 * marked as moving (`moved_to` set): checked atomically with the write (see RecordStore), so nothing was
 * written. The caller re-reads the subject to say why (moving, moved away, erased).
 */
export type SubjectUnavailable = 'subject_unavailable';
export type RecordInsertResult = InsertResult | SubjectUnavailable;
export type UpdateResult = 'updated' | 'not_found' | 'version_conflict' | SubjectUnavailable;
export type DeleteResult = 'deleted' | 'not_found' | 'version_conflict' | SubjectUnavailable;

/** What a bulk record load did. */
export interface InsertManyResult {
  /** How many rows were inserted. */
  readonly inserted: number;
  /** The subjects (each once, in no particular order) whose rows were not inserted because the subject is unavailable here. */
  readonly unavailable: readonly string[];
}

export interface SubjectStore {
  insert(row: SubjectRow): Promise<InsertResult>;
  /** Bulk registration in one transaction; existing subjects are left as they are. Returns how many were inserted. */
  insertMany(rows: readonly SubjectRow[]): Promise<number>;
  get(id: string): Promise<SubjectRow | undefined>;
  /** The rows of those of `ids` stored here, by id, in one round trip (bulk loads look a page up at once). */
  getMany(ids: readonly string[]): Promise<Map<string, SubjectRow>>;
  /**
   * Erasure in one transaction: destroys the wrapped key (crypto-shredding: the sealed protected fields
   * stay but can never be opened), blanks the public fields of the subject's records, marks the subject
   * erased and clears any move mark. Returns the number of records affected, or undefined if the subject
   * is unknown, already erased, or marked as moving by anyone but `owner` (null: unmarked only; a re-home
   * copies the key it read, so an erasure first takes its mark over and fences its destination). It
   * waits for a record write that checked the subject before it (RecordStore), so that write is blanked
   * too; a record write after it is refused.
   */
  erase(id: string, at: number, owner?: string | null): Promise<number | undefined>;
  /**
   * Compare-and-set of the move mark, in one conditional statement: sets `mark` (or clears it, null) only
   * if the row is unmarked (`expectedOwner` null) or marked by `expectedOwner`, and, when marking, not
   * erased. False otherwise, or if unknown: of two re-homes that read the same row, one wins. A mark
   * waits for a record write that checked the subject before it (RecordStore), so a copy read after the
   * mark includes that write; record writes after it are refused until the mark is cleared.
   */
  setMovedTo(id: string, mark: MoveMark | null, expectedOwner: string | null): Promise<boolean>;
  /** Records a new residence that keeps the subject at this site (a move within one jurisdiction's home). */
  setResidence(id: string, country: string, jurisdiction: string): Promise<boolean>;
  count(): Promise<number>;
}

/**
 * Records. Every write (insert, insertMany, update, delete) is refused, atomically with it, when the
 * record's subject has no row at this store, or an erased one, or one marked as moving: a write that
 * checked the subject, then waited for its log entry, can then never land at a site the subject left, be
 * copied by a re-home before it landed and purged after, nor put an erased subject's public fields back,
 * whichever instance re-homed or erased them meanwhile. The check holds the subject's row until the write
 * commits (SQLite: one writer at a time; PostgreSQL: the row locked FOR SHARE, before the record's), so a
 * mark (SubjectStore.setMovedTo) or an erasure waits for a write that checked first, and a re-home's copy,
 * read after its mark, includes it. Only importSubject and purgeSubject, which hold the subject's row
 * themselves, write records of another state.
 */
export interface RecordStore {
  /** Inserts a new record: `exists` if the key is taken; `subject_unavailable` (checked first) if the subject is not writable here. */
  insert(row: RecordRow): Promise<RecordInsertResult>;
  /**
   * Bulk load in one transaction; rows that already exist are left as they are, and rows of subjects not
   * writable here (as insert) are not inserted: their subjects are listed in `unavailable`, the other rows
   * are inserted all the same. One lookup of the subject's row per row; on PostgreSQL one statement.
   */
  insertMany(rows: readonly RecordRow[]): Promise<InsertManyResult>;
  get(collection: string, id: string): Promise<RecordRow | undefined>;
  /** The record and its subject (erasure mark, wrapped key) in one statement: what every read needs. */
  getWithSubject(collection: string, id: string): Promise<RecordWithSubject | undefined>;
  /** The rows of those of `ids` stored here in `collection`, by id, in one round trip. */
  getMany(collection: string, ids: readonly string[]): Promise<Map<string, RecordRow>>;
  /**
   * Replaces the row if it is at `expected` (its version and the creation time of its incarnation: a
   * record deleted and created again meanwhile is not it) and its subject and creator are `row`'s;
   * `row.version` must be expected.version + 1 and `row.createdAt` expected.createdAt (created_at is never
   * rewritten). `subject_unavailable` (checked first, on `row.subject`) if that subject is not writable
   * here; then `not_found` if no record has the key, `version_conflict` if it differs.
   */
  update(row: RecordRow, expected: RecordRevision): Promise<UpdateResult>;
  /**
   * Deletes the row, with `expected` only at that revision (version and incarnation), with `creator` only
   * if that principal created it (or its creator is not known). `not_found` if no record has the key;
   * else `subject_unavailable` if the stored record's subject is not writable here; else a row that
   * differs is `version_conflict`.
   */
  delete(collection: string, id: string, expected?: RecordRevision, creator?: string): Promise<DeleteResult>;
  listBySubject(subject: string, options?: { collection?: string; limit?: number; after?: { collection: string; id: string } }): Promise<RecordRow[]>;
  count(): Promise<number>;
}

export interface TokenStore {
  /** Creates the principal if new (its org and role must then match) and the token, atomically. */
  create(principal: PrincipalRow, token: TokenRow): Promise<'created' | 'principal_mismatch'>;
  findByHash(hash: string): Promise<TokenWithPrincipal | undefined>;
  /**
   * Revokes the token and every token rotated from it: each token of its lineage not revoked yet, in one
   * statement ordered against `rotate` (a rotation of the lineage committed before it is revoked with it;
   * one after it finds its token revoked). Returns the ids it revoked: none for an unknown id or a lineage
   * revoked already.
   */
  revoke(id: string, at: number): Promise<string[]>;
  /**
   * Rotation, in one transaction: revokes `replaced` (only while it is not revoked, and only if `token`
   * continues its lineage for the same principal) and creates `token`. `not_active` changes nothing.
   */
  rotate(replaced: string, token: TokenRow, at: number): Promise<'rotated' | 'not_active'>;
  get(id: string): Promise<TokenWithPrincipal | undefined>;
  /** The tokens of one lineage, oldest first. */
  lineage(lineage: string): Promise<TokenWithPrincipal[]>;
  list(): Promise<TokenWithPrincipal[]>;
}

// ---- the gatekeeper (issue 3): requests, approvals, grants, policy versions, change proposals ----------
// They live in the control store. Times are milliseconds since the epoch; JSON columns hold what the
// services wrote, never a protected value.

export type AccessKind = 'access' | 'breakglass';
/** What a request's row stores (expired is derived from its deadline). */
export type RequestStatus = Exclude<RequestState, 'expired'>;

export interface AccessRequestRow {
  readonly id: string;
  readonly kind: AccessKind;
  readonly requester: string;
  readonly requesterOrg: string;
  readonly requesterRole: string;
  /** JSON of the normalized scope: {subjects, collections, fields}. */
  readonly scope: string;
  readonly purpose: string;
  readonly justificationCode: string;
  readonly justification: string;
  readonly durationMs: number;
  /** The content digest approvals bind to. */
  readonly digest: string;
  readonly createdAt: number;
  /** A pending request expires at this time; for break-glass, the review deadline. */
  readonly expiresAt: number;
  readonly status: RequestStatus;
  readonly decidedAt: number | null;
  readonly grantId: string | null;
}

export type Verdict = 'approve' | 'deny';

export interface ApprovalRow {
  /** The request or proposal id. */
  readonly target: string;
  readonly approver: string;
  readonly approverOrg: string;
  readonly approverRole: string;
  /** The digest of the content the approver reviewed. */
  readonly digest: string;
  readonly verdict: Verdict;
  readonly comment: string;
  readonly at: number;
}

export interface GrantRow {
  readonly id: string;
  readonly requestId: string;
  readonly principal: string;
  /** JSON of the scope, as in the request. */
  readonly scope: string;
  readonly purpose: string;
  readonly breakglass: boolean;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
}

export interface PolicyVersionRow {
  readonly version: number;
  readonly text: string;
  readonly digest: string;
  /** The proposal that activated it; null for the shipped default (version 1). */
  readonly proposalId: string | null;
  /** JSON array of the principal ids whose approvals activated it. */
  readonly approvers: string;
  readonly activatedAt: number;
}

export type ProposalKind = 'policy' | 'token.issue' | 'token.revoke';
/** What a proposal's row stores (expired is derived from its deadline). */
export type ProposalStatus = Exclude<ProposalState, 'expired'>;

export interface ProposalRow {
  readonly id: string;
  readonly kind: ProposalKind;
  readonly proposer: string;
  readonly proposerOrg: string;
  readonly proposerRole: string;
  /** JSON of what is proposed (a policy text and its base version; a token's principal and hash; a token id). */
  readonly payload: string;
  readonly digest: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly status: ProposalStatus;
  readonly decidedAt: number | null;
  /** What happened: the version activated, the token issued, why it failed or was rejected. */
  readonly outcome: string | null;
}

export interface ListOptions {
  readonly limit?: number;
}

export interface AccessRequestStore {
  /**
   * Inserts a request; a break-glass request comes with its grant, inserted in the same transaction.
   * With `maxOpen`, only while the grantee holds fewer break-glass grants open at the grant's creation
   * (counted in that transaction, so simultaneous openings cannot both pass); else `limit`, nothing stored.
   */
  insert(row: AccessRequestRow, grant?: GrantRow, maxOpen?: number): Promise<InsertResult | 'limit'>;
  get(id: string): Promise<AccessRequestRow | undefined>;
  /** Newest first. */
  list(options?: ListOptions & { kind?: AccessKind; status?: RequestStatus; requester?: string }): Promise<AccessRequestRow[]>;
  /**
   * Decides a request in one transaction, only while it is pending: denied; or approved, with its grant
   * inserted, and only if it has not expired at `at` and no approver has denied it (a denial whose verdict is
   * stored but whose request is not yet marked denied). Anything else answers `not_pending` and changes nothing.
   */
  decide(id: string, decision: { readonly status: 'denied'; readonly at: number } | { readonly status: 'approved'; readonly at: number; readonly grant: GrantRow }): Promise<'decided' | 'not_pending'>;
}

export interface ApprovalStore {
  /** One verdict per approver and target: a second one answers `exists` and changes nothing. */
  add(row: ApprovalRow): Promise<InsertResult>;
  /** In the order they were given. */
  list(target: string): Promise<ApprovalRow[]>;
  /** `list` of each target, in one read (a page of requests or proposals); every target has an entry. */
  listMany(targets: readonly string[]): Promise<Map<string, ApprovalRow[]>>;
}

export interface GrantStore {
  get(id: string): Promise<GrantRow | undefined>;
  /** Grants neither revoked nor expired at `at`. */
  listActive(at: number): Promise<GrantRow[]>;
  /** The break-glass grants of one principal neither revoked nor expired at `at`, soonest expiry first. */
  openBreakGlass(principal: string, at: number): Promise<GrantRow[]>;
  /** Newest first. */
  list(options?: ListOptions & { principal?: string }): Promise<GrantRow[]>;
  /** Revokes a grant not revoked yet; answers whether it did. */
  revoke(id: string, at: number, by: string): Promise<boolean>;
}

export interface PolicyVersionStore {
  /** Appends version n only if the latest stored version is n - 1 (or none, for n = 1); else `stale`. */
  append(row: PolicyVersionRow): Promise<'inserted' | 'stale'>;
  latest(): Promise<PolicyVersionRow | undefined>;
  get(version: number): Promise<PolicyVersionRow | undefined>;
  /** Oldest first. */
  list(): Promise<PolicyVersionRow[]>;
}

/** What applying a proposal does, in the transaction that marks it applied. */
export type ProposalEffect =
  | { readonly kind: 'policy'; readonly version: PolicyVersionRow }
  | { readonly kind: 'token.issue'; readonly principal: PrincipalRow; readonly token: TokenRow; readonly bootstrap?: OrgBootstrap }
  /** Revokes the token and every token rotated from it, as `TokenStore.revoke`. */
  | { readonly kind: 'token.revoke'; readonly tokenId: string };

/**
 * A token issued as its org's first (first_of_org, by token_approval alone) applies only while no
 * principal of `org` with one of `roles`, or one of `principals`, holds or held a token created at or
 * after `since`, or holds one still valid at `at`: of two such proposals applied at once, one is issued.
 */
export interface OrgBootstrap {
  readonly org: string;
  /** Revoked or expired tokens created before this (ms) do not count (gatekeeper.rebootstrap; 0 without one). */
  readonly since: number;
  /** When the token is issued (ms): an approver token neither revoked nor expired then counts, however old. */
  readonly at: number;
  readonly roles: readonly string[];
  readonly principals: readonly string[];
}

/** Why an approved proposal's effect could not be performed. */
export type ProposalAbortReason = 'stale' | 'principal_mismatch' | 'token_not_found' | 'org_bootstrapped';

export type ProposalDecision =
  | { readonly status: 'applied'; readonly at: number; readonly outcome: string; readonly effect: ProposalEffect }
  | { readonly status: 'rejected' | 'failed'; readonly at: number; readonly outcome: string };

export interface ProposalStore {
  insert(row: ProposalRow): Promise<InsertResult>;
  get(id: string): Promise<ProposalRow | undefined>;
  /** Newest first. */
  list(options?: ListOptions & { kind?: ProposalKind; status?: ProposalStatus }): Promise<ProposalRow[]>;
  /**
   * Decides a pending proposal in one transaction. `applied` also performs the effect and needs the
   * proposal unexpired at `at` and rejected by no approver (else `not_pending`); if the effect cannot be
   * performed (a policy version appended meanwhile, a principal that exists with another org or role, a
   * token whose lineage is revoked already, a bootstrap token whose org has an approver with a token)
   * nothing changes and the answer names why.
   */
  decide(id: string, decision: ProposalDecision): Promise<'decided' | 'not_pending' | ProposalAbortReason>;
}

/** A subject id's claim: who is registering it, since when, and whether its row is stored. */
export interface SubjectClaim {
  /** A keyed hash of the subject id (never the id: the control store serves every jurisdiction). */
  readonly key: string;
  /** Who claimed it (`host:pid:random`, see storage/process-alive.ts). */
  readonly holder: string;
  readonly claimedAt: number;
  /** The subject's row is stored at a home site: the claim is never taken over. */
  readonly completed: boolean;
}

/**
 * One subject id, one home site, across instances. Home sites are separate stores sharing no unique key,
 * so two instances registering one id at once at the home sites of two countries both succeeded; the
 * control store's claim taken first decides. Only the control store's is used.
 */
export interface SubjectClaimStore {
  /**
   * Claims for `holder` those of `keys` no one has claimed yet, in one transaction; returns the keys it
   * claimed. `transient`: claims let go once their work is done (a record id while it is created, see
   * services/vault.ts), whose loss in a crash changes nothing: the write is not flushed to disk first.
   */
  claim(keys: readonly string[], holder: string, at: number, transient?: boolean): Promise<Set<string>>;
  getMany(keys: readonly string[]): Promise<Map<string, SubjectClaim>>;
  /**
   * Compare-and-set: gives `holder` a claim whose holder died before completing it, only if the claim is
   * still exactly as read (`claim`) and not completed. Of two that read it, one wins.
   */
  takeOver(claim: SubjectClaim, holder: string, at: number): Promise<boolean>;
  /** Marks those of `keys` that `holder` still holds as completed; returns the keys it marked. */
  complete(keys: readonly string[], holder: string): Promise<Set<string>>;
  /** Deletes those of `keys` that `holder` holds and has not completed (a registration that failed); `transient` as for claim. */
  release(keys: readonly string[], holder: string, transient?: boolean): Promise<void>;
}

export interface MetaStore {
  get(key: string): Promise<string | undefined>;
  /** Writes only if the key is absent; returns whether it wrote. */
  putIfAbsent(key: string, value: string): Promise<boolean>;
  /** Writes only if the key holds `expected` now (compare-and-set); returns whether it wrote. */
  replace(key: string, expected: string, value: string): Promise<boolean>;
  put(key: string, value: string): Promise<void>;
}

export interface Store {
  readonly driver: string;
  readonly subjects: SubjectStore;
  readonly subjectClaims: SubjectClaimStore;
  /**
   * Record ids claimed while they are created (transient claims, services/vault.ts), in a table of their
   * own that holds only the claims in flight: among every subject's completed claim, a bulk load's
   * thousands of random keys were inserted and deleted across the whole table, each page writing most of
   * its pages (a migration of 1,000,000 rows spent 18 % of its time there).
   */
  readonly recordClaims: SubjectClaimStore;
  readonly records: RecordStore;
  readonly tokens: TokenStore;
  readonly meta: MetaStore;
  readonly accessRequests: AccessRequestStore;
  readonly approvals: ApprovalStore;
  readonly grants: GrantStore;
  readonly policyVersions: PolicyVersionStore;
  readonly proposals: ProposalStore;
  /**
   * Re-homing: in one transaction, makes this store hold exactly this subject and these records,
   * replacing whatever it held for the subject before (a stale copy from an earlier, interrupted move),
   * but never an erased subject with a live one (subject_erased, nothing changed): an erasure leaves an
   * erased row where a move was going, so a copy that arrives later cannot undo it.
   */
  importSubject(subject: SubjectRow, records: readonly RecordRow[]): Promise<void>;
  /** Deletes a subject and all their records in one transaction, then scrubs freed space. */
  purgeSubject(id: string): Promise<number>;
  /**
   * Makes deleted or overwritten bytes unrecoverable from the store's own files (WAL checkpoint,
   * zeroed free pages). Called after erasure so a destroyed key leaves no copy behind.
   */
  scrub(): Promise<void>;
  close(): Promise<void>;
}
