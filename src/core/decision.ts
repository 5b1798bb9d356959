// The decision point: one function rules on every read and write. This file holds its contract; the
// role-based rules of role-decision-point.ts fill it until the Cedar gatekeeper replaces them.
import type { Action } from './config-schema.ts';
import type { CollectionDef } from './config.ts';
import type { Principal } from './principal.ts';

export interface DecisionRequest {
  readonly principal: Principal;
  readonly action: Action;
  /** Present for record actions. */
  readonly collection?: CollectionDef;
  readonly subject?: string;
  /** For writes: the fields the request sets. For deletes: every field of the record. */
  readonly fields?: readonly string[];
  readonly now: Date;
}

export type Release = 'protected' | 'public';

export interface Decision {
  readonly allow: boolean;
  /** For reads: which classes of field may leave. `public` means protected fields are withheld. */
  readonly release: Release;
  /** Ids of the policies that decided, allow and deny alike (for the log and the dashboard). */
  readonly policies: readonly string[];
  /** One sentence a user can act on. */
  readonly reason: string;
}

export interface DecisionPoint {
  decide(request: DecisionRequest): Decision;
}
