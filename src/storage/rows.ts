// Row mapping shared by every SQL adapter: both schemas use the same snake_case columns, so a driver's
// row object (SQLite values, or PostgreSQL's with int8 as numbers and bytea as Buffer) maps the same way.
import { EnclaveError } from '../core/errors.ts';
import type { AccessRequestRow, ApprovalRow, GrantRow, PolicyVersionRow, ProposalAbortReason, ProposalRow, RecordRow, RecordWithSubject, SubjectClaim, SubjectRow, TokenRow, TokenWithPrincipal } from '../core/store.ts';

export type SqlRow = Readonly<Record<string, unknown>>;
/** A parameter value both drivers bind as is. */
type SqlValue = string | number | Uint8Array | null;

// Column orders of the subject and record rows: the object mappers read a driver's named row in this
// order, the joined read (below) selects its columns in it and reads them by position.
const SUBJECT_NAMES = ['id', 'country', 'jurisdiction', 'wrapped_key', 'key_id', 'created_at', 'erased_at', 'moved_to', 'move_owner', 'move_started_at'] as const;
const RECORD_NAMES = ['collection', 'id', 'subject', 'version', 'public_json', 'sealed', 'created_at', 'updated_at', 'created_by'] as const;

// Column lists and the matching parameter values, in one order, for the adapters' INSERT statements.
export const SUBJECT_COLUMNS = SUBJECT_NAMES.join(', ');
/** `SET` of every subject column but the key from the row proposed for insertion (an upsert's `excluded`). */
export const SUBJECT_UPSERT_SET = SUBJECT_NAMES.filter((c) => c !== 'id')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');
export function subjectValues(r: SubjectRow): SqlValue[] {
  return [r.id, r.country, r.jurisdiction, r.wrappedKey, r.keyId, r.createdAt, r.erasedAt, r.movedTo, r.moveOwner, r.moveStartedAt];
}
/** Why importSubject refuses: a live copy never replaces an erased subject (an erasure fenced this site). */
export function erasedHere(id: string): EnclaveError {
  return new EnclaveError('subject_erased', `subject "${id}" is erased at this site; a copy cannot bring them back`, { details: { key: id } });
}
/**
 * The subject row `id` (an SQL expression: a parameter, or an outer column) as it must be for a record write
 * of theirs: present, not erased, not marked as moving (RecordStore). A subquery for EXISTS (PostgreSQL
 * appends FOR SHARE to hold the row until the write commits).
 */
export function writableSubjectSql(id: string): string {
  return `SELECT 1 FROM subjects WHERE id = ${id} AND erased_at IS NULL AND moved_to IS NULL`;
}
/** Clears a subject's move mark (an UPDATE's SET list). */
export const UNMARK_SQL = 'moved_to = NULL, move_owner = NULL, move_started_at = NULL';
/** The condition of a compare-and-set on the move mark; `owner` (a parameter, used twice) is the expected holder, null for unmarked. */
export function markedBySql(owner: string): string {
  return `((${owner} IS NULL AND moved_to IS NULL) OR move_owner = ${owner})`;
}
/** No approver denied the request or proposal `target` (a denial stored, but not yet marked, vetoes an approval racing it). */
export function noDenialSql(target: string): string {
  return `NOT EXISTS (SELECT 1 FROM approvals WHERE target = ${target} AND verdict = 'deny')`;
}
export const RECORD_COLUMNS = RECORD_NAMES.join(', ');
export function recordValues(r: RecordRow): SqlValue[] {
  return [r.collection, r.id, r.subject, r.version, r.publicJson, r.sealed, r.createdAt, r.updatedAt, r.createdBy];
}
export const TOKEN_COLUMNS = 'id, hash, principal_id, label, created_at, expires_at, revoked_at, replaces, lineage';
export function tokenValues(t: TokenRow): SqlValue[] {
  return [t.id, t.hash, t.principalId, t.label, t.createdAt, t.expiresAt, t.revokedAt, t.replaces, t.lineage];
}

// The gatekeeper's tables (control store).
export const ACCESS_REQUEST_COLUMNS =
  'id, kind, requester, requester_org, requester_role, scope, purpose, justification_code, justification, duration_ms, digest, created_at, expires_at, status, decided_at, grant_id';
export function accessRequestValues(r: AccessRequestRow): SqlValue[] {
  return [r.id, r.kind, r.requester, r.requesterOrg, r.requesterRole, r.scope, r.purpose, r.justificationCode, r.justification, r.durationMs, r.digest, r.createdAt, r.expiresAt, r.status, r.decidedAt, r.grantId];
}
export const APPROVAL_COLUMNS = 'target, approver, approver_org, approver_role, digest, verdict, comment, at';
export function approvalValues(a: ApprovalRow): SqlValue[] {
  return [a.target, a.approver, a.approverOrg, a.approverRole, a.digest, a.verdict, a.comment, a.at];
}
export const GRANT_COLUMNS = 'id, request_id, principal, scope, purpose, breakglass, created_at, expires_at, revoked_at, revoked_by';
export function grantValues(g: GrantRow): SqlValue[] {
  return [g.id, g.requestId, g.principal, g.scope, g.purpose, g.breakglass ? 1 : 0, g.createdAt, g.expiresAt, g.revokedAt, g.revokedBy];
}
export const POLICY_VERSION_COLUMNS = 'version, text, digest, proposal_id, approvers, activated_at';
export function policyVersionValues(v: PolicyVersionRow): SqlValue[] {
  return [v.version, v.text, v.digest, v.proposalId, v.approvers, v.activatedAt];
}
export const PROPOSAL_COLUMNS = 'id, kind, proposer, proposer_org, proposer_role, payload, digest, created_at, expires_at, status, decided_at, outcome';
export function proposalValues(p: ProposalRow): SqlValue[] {
  return [p.id, p.kind, p.proposer, p.proposerOrg, p.proposerRole, p.payload, p.digest, p.createdAt, p.expiresAt, p.status, p.decidedAt, p.outcome];
}

function str(v: unknown): string {
  return v as string;
}
function num(v: unknown): number {
  return Number(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
function bytesOrNull(v: unknown): Uint8Array | null {
  return v === null || v === undefined ? null : (v as Uint8Array);
}

const SUBJECT_AT = RECORD_NAMES.length;

export function toSubject(r: SqlRow): SubjectRow {
  return subjectAt(SUBJECT_NAMES.map((c) => r[c]), 0);
}

export function toRecord(r: SqlRow): RecordRow {
  return recordAt(RECORD_NAMES.map((c) => r[c]));
}

function subjectAt(v: readonly unknown[], at: number): SubjectRow {
  return {
    id: str(v[at]),
    country: str(v[at + 1]),
    jurisdiction: str(v[at + 2]),
    wrappedKey: bytesOrNull(v[at + 3]),
    keyId: str(v[at + 4]),
    createdAt: num(v[at + 5]),
    erasedAt: numOrNull(v[at + 6]),
    movedTo: strOrNull(v[at + 7]),
    moveOwner: strOrNull(v[at + 8]),
    moveStartedAt: numOrNull(v[at + 9]),
  };
}

function recordAt(v: readonly unknown[]): RecordRow {
  return {
    collection: str(v[0]),
    id: str(v[1]),
    subject: str(v[2]),
    version: num(v[3]),
    publicJson: str(v[4]),
    sealed: bytesOrNull(v[5]),
    createdAt: num(v[6]),
    updatedAt: num(v[7]),
    createdBy: strOrNull(v[8]),
  };
}

/**
 * One record by (collection, id) with its subject, `records r LEFT JOIN subjects s`: the record's columns,
 * then its subject's. Built once per adapter (a statement's text is its cache key, on every read). The
 * adapters return its row as an array (`setReturnArrays`, `rowMode: 'array'`), read by position: no
 * object with 19 named keys built and looked up again on every gated read.
 */
export function recordWithSubjectSql(collection: string, id: string): string {
  return `SELECT ${RECORD_NAMES.map((c) => `r.${c}`).join(', ')}, ${SUBJECT_NAMES.map((c) => `s.${c}`).join(', ')}
          FROM records r LEFT JOIN subjects s ON s.id = r.subject WHERE r.collection = ${collection} AND r.id = ${id}`;
}

/** A row of `recordWithSubjectSql`, as an array in its column order. */
export function toRecordWithSubject(v: readonly unknown[]): RecordWithSubject {
  return { record: recordAt(v), subject: v[SUBJECT_AT] === null || v[SUBJECT_AT] === undefined ? undefined : subjectAt(v, SUBJECT_AT) };
}

/** Rows of a bulk lookup (subjects.getMany, records.getMany), mapped and keyed by id. */
export function byId<T extends { readonly id: string }>(rows: readonly SqlRow[], to: (r: SqlRow) => T): Map<string, T> {
  const out = new Map<string, T>();
  for (const r of rows) {
    const row = to(r);
    out.set(row.id, row);
  }
  return out;
}

/** Columns of `tokens t JOIN principals p` as both adapters select them. */
export const TOKEN_SELECT = `SELECT t.*, p.org AS p_org, p.role AS p_role, p.created_at AS p_created_at
                    FROM tokens t JOIN principals p ON p.id = t.principal_id`;

export function toTokenWithPrincipal(r: SqlRow): TokenWithPrincipal {
  return {
    token: {
      id: str(r['id']),
      hash: str(r['hash']),
      principalId: str(r['principal_id']),
      label: str(r['label']),
      createdAt: num(r['created_at']),
      expiresAt: numOrNull(r['expires_at']),
      revokedAt: numOrNull(r['revoked_at']),
      replaces: strOrNull(r['replaces']),
      lineage: str(r['lineage']),
    },
    principal: { id: str(r['principal_id']), org: str(r['p_org']), role: str(r['p_role']), createdAt: num(r['p_created_at']) },
  };
}

/** The page size `listBySubject` uses: 1000 by default, at least 1, at most 10,000. */
export function listLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(limit ?? 1000, 10_000));
}

/** The value a row count query returned, as a number. */
export function countOf(r: SqlRow | undefined): number {
  return num(r?.['n']);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : (v as string);
}

export function toAccessRequest(r: SqlRow): AccessRequestRow {
  return {
    id: str(r['id']),
    kind: str(r['kind']) as AccessRequestRow['kind'],
    requester: str(r['requester']),
    requesterOrg: str(r['requester_org']),
    requesterRole: str(r['requester_role']),
    scope: str(r['scope']),
    purpose: str(r['purpose']),
    justificationCode: str(r['justification_code']),
    justification: str(r['justification']),
    durationMs: num(r['duration_ms']),
    digest: str(r['digest']),
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
    status: str(r['status']) as AccessRequestRow['status'],
    decidedAt: numOrNull(r['decided_at']),
    grantId: strOrNull(r['grant_id']),
  };
}

/** Approval rows read for many targets, by target, each in the order read; every target has an entry. */
export function approvalsByTarget(targets: readonly string[], rows: readonly SqlRow[]): Map<string, ApprovalRow[]> {
  const out = new Map<string, ApprovalRow[]>(targets.map((t) => [t, []]));
  for (const r of rows) out.get(str(r['target']))?.push(toApproval(r));
  return out;
}

export function toApproval(r: SqlRow): ApprovalRow {
  return {
    target: str(r['target']),
    approver: str(r['approver']),
    approverOrg: str(r['approver_org']),
    approverRole: str(r['approver_role']),
    digest: str(r['digest']),
    verdict: str(r['verdict']) as ApprovalRow['verdict'],
    comment: str(r['comment']),
    at: num(r['at']),
  };
}

export function toGrant(r: SqlRow): GrantRow {
  return {
    id: str(r['id']),
    requestId: str(r['request_id']),
    principal: str(r['principal']),
    scope: str(r['scope']),
    purpose: str(r['purpose']),
    breakglass: num(r['breakglass']) === 1,
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
    revokedAt: numOrNull(r['revoked_at']),
    revokedBy: strOrNull(r['revoked_by']),
  };
}

export function toPolicyVersion(r: SqlRow): PolicyVersionRow {
  return {
    version: num(r['version']),
    text: str(r['text']),
    digest: str(r['digest']),
    proposalId: strOrNull(r['proposal_id']),
    approvers: str(r['approvers']),
    activatedAt: num(r['activated_at']),
  };
}

export function toProposal(r: SqlRow): ProposalRow {
  return {
    id: str(r['id']),
    kind: str(r['kind']) as ProposalRow['kind'],
    proposer: str(r['proposer']),
    proposerOrg: str(r['proposer_org']),
    proposerRole: str(r['proposer_role']),
    payload: str(r['payload']),
    digest: str(r['digest']),
    createdAt: num(r['created_at']),
    expiresAt: num(r['expires_at']),
    status: str(r['status']) as ProposalRow['status'],
    decidedAt: numOrNull(r['decided_at']),
    outcome: strOrNull(r['outcome']),
  };
}

/** The page size of the gatekeeper's lists: 100 by default, at least 1, at most 1000. */
export function pageLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(Math.trunc(limit ?? 100), 1000));
}

/** A change proposal's decision cannot apply: thrown inside its transaction to roll it back, naming why. */
export class ProposalAbort extends Error {
  readonly why: ProposalAbortReason;
  constructor(why: ProposalAbortReason) {
    super(why);
    this.why = why;
  }
}

/** A subject_claims or record_claims row (both adapters). */
export function toSubjectClaim(r: SqlRow): SubjectClaim {
  return { key: str(r['key']), holder: str(r['holder']), claimedAt: Number(r['claimed_at']), completed: Boolean(Number(r['completed'])) };
}

