// What every approval, denial and review goes through before it is recorded, for access requests,
// break-glass reviews and change proposals alike: it must name the digest of the content it approves
// (so it cannot be replayed onto another request: the digest covers the request's id), the content
// must still match that digest, the author never approves their own, and each approver speaks once.
import { EnclaveError } from '../core/errors.ts';
import type { Principal } from '../core/principal.ts';
import type { Approver } from '../core/quorum.ts';
import type { ApprovalRow, ApprovalStore, Verdict } from '../core/store.ts';

export interface VerdictInput {
  readonly verdict: Verdict;
  /** The digest of the content the reviewer saw (from the request's or proposal's view). */
  readonly digest: string;
  readonly comment?: string;
}

export interface Reviewable {
  readonly id: string;
  readonly digest: string;
  /** The digest recomputed from the stored content now. */
  readonly recomputed: string;
  /** The requester or proposer. */
  readonly author: string;
  /**
   * The principal the change is about, when it is not the author (the holder of a token a proposal
   * revokes): as much a party to it as the author, so never a reviewer of it either. Else one rejection
   * by them would veto their own removal.
   */
  readonly party?: string;
  readonly noun: string;
}

export const MAX_COMMENT = 1000;

export interface Admitted {
  /** The row to record. */
  readonly row: ApprovalRow;
  /**
   * This approver's same verdict on the same digest is stored already: a retry of a verdict whose
   * decision did not complete (the log refused the grant's or the change's entry). It is neither logged
   * nor stored again; the caller completes what the stored verdicts decide, or refuses it with
   * `alreadyReviewed` when there is nothing to complete.
   */
  readonly repeat: boolean;
}

export function alreadyReviewed(approver: string, noun: string, id: string): EnclaveError {
  return new EnclaveError('already_reviewed', `${approver} already gave a verdict on ${noun} ${id}`);
}

/** Checks a verdict and returns the row to record; throws the typed refusal otherwise. */
export async function admitVerdict(store: ApprovalStore, target: Reviewable, principal: Principal, input: VerdictInput, eligible: boolean, at: number): Promise<Admitted> {
  if (target.recomputed !== target.digest) {
    throw new EnclaveError('digest_mismatch', `the stored ${target.noun} ${target.id} no longer matches its digest: it was altered, and nothing can approve it`);
  }
  if (input.digest !== target.digest) {
    // Not the right digest in the answer: the digest is how a verdict shows its author saw the content,
    // and one copied from an error would approve unseen whatever the request now says.
    throw new EnclaveError('digest_mismatch', `the digest given is not the digest of ${target.noun} ${target.id}; fetch it, review it again and give the digest its view shows`, { details: { field: 'digest' } });
  }
  if (principal.id === target.author) throw new EnclaveError('self_approval', `${principal.id} made ${target.noun} ${target.id} and can never review it`);
  if (principal.id === target.party) throw new EnclaveError('self_approval', `${target.noun} ${target.id} is about ${principal.id}, who can never review it`);
  if (!eligible) throw new EnclaveError('not_an_approver', `${principal.id} (${principal.org}/${principal.role}) is in none of the approver groups for this ${target.noun}`);
  const comment = (input.comment ?? '').trim();
  if (comment.length > MAX_COMMENT) throw new EnclaveError('invalid_request', `a comment has at most ${MAX_COMMENT} characters`, { details: { field: 'comment' } });
  const row: ApprovalRow = { target: target.id, approver: principal.id, approverOrg: principal.org, approverRole: principal.role, digest: target.digest, verdict: input.verdict, comment, at };
  const prior = (await store.list(target.id)).find((a) => a.approver === principal.id);
  if (prior === undefined) return { row, repeat: false };
  if (prior.verdict === input.verdict && prior.digest === input.digest) return { row: prior, repeat: true };
  throw alreadyReviewed(principal.id, target.noun, target.id);
}

/**
 * Logs a new verdict (`log`), then records it; a concurrent second verdict by the same approver is
 * refused. A repeat, stored already, is neither logged nor recorded again: its caller only completes
 * what the stored verdicts decided.
 */
export async function recordVerdict(store: ApprovalStore, admitted: Admitted, noun: string, log: () => Promise<void>): Promise<void> {
  if (admitted.repeat) return;
  await log();
  const row = admitted.row;
  if ((await store.add(row)) === 'exists') throw alreadyReviewed(row.approver, noun, row.target);
}

/** The approvals that count: `approve` verdicts bound to this very digest, never one by the party the change is about. */
export function approversOf(rows: readonly ApprovalRow[], digest: string, party?: string): Approver[] {
  return rows.filter((a) => a.verdict === 'approve' && a.digest === digest && a.approver !== party).map((a) => ({ id: a.approver, org: a.approverOrg, role: a.approverRole }));
}

export interface VerdictView {
  readonly approver: string;
  readonly org: string;
  readonly role: string;
  readonly verdict: Verdict;
  readonly comment: string;
  readonly at: string;
  /** Whether it counts toward the quorum (right digest, eligible, not the author). */
  readonly counts: boolean;
}

export function verdictViews(rows: readonly ApprovalRow[], counted: readonly string[]): VerdictView[] {
  return rows.map((a) => ({
    approver: a.approver,
    org: a.approverOrg,
    role: a.approverRole,
    verdict: a.verdict,
    comment: a.comment,
    at: new Date(a.at).toISOString(),
    counts: a.verdict === 'approve' && counted.includes(a.approver),
  }));
}
