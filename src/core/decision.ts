// The decision point: one function rules on every action. This file holds its contract; the Cedar
// gatekeeper (src/services/cedar-decision-point.ts) implements it.
import type { Action } from './config-schema.ts';
import type { CollectionDef } from './config.ts';
import { EnclaveError, type ErrorDetails } from './errors.ts';
import type { Principal } from './principal.ts';

export interface DecisionRequest {
  readonly principal: Principal;
  readonly action: Action;
  /** Present for record actions. */
  readonly collection?: CollectionDef;
  readonly subject?: string;
  /** For reads: the fields asked for (default: all). For writes: the fields set. For deletes: every field of the record. */
  readonly fields?: readonly string[];
  /** For actions other than record actions: whether they reach protected data (an access request for protected fields). */
  readonly protected?: boolean;
  readonly now: Date;
}

export type Release = 'protected' | 'public';

export interface GrantRef {
  readonly id: string;
  /** Opened by break-glass, without prior approval: flagged everywhere. */
  readonly breakglass: boolean;
}

export interface Decision {
  readonly allow: boolean;
  /** For reads: which classes of field may leave. `public` means protected fields are withheld. */
  readonly release: Release;
  /** With release `protected`: the protected fields that may leave, when fewer than all (a grant's fields). */
  readonly fields?: readonly string[];
  /** Ids of the policies that decided, allow and deny alike (for the log and the dashboard). */
  readonly policies: readonly string[];
  /** The policy version that decided. */
  readonly policyVersion: number;
  /** The grant a read of protected fields happens under: every such read names it. */
  readonly grant?: GrantRef;
  /** One sentence a user can act on. */
  readonly reason: string;
}

export interface DecisionPoint {
  decide(request: DecisionRequest): Promise<Decision>;
}

/** The error a denial is reported with: the deciding policies in its details (never a field value). */
export function forbidden(decision: Decision, action: Action, extra: ErrorDetails = {}): EnclaveError {
  return new EnclaveError('forbidden', decision.reason, { details: { action, policies: decision.policies, ...extra } });
}
