// The transparency log as the rest of the enclave sees it: a port that accepts events and answers, once
// an event is durably stored, with its index (the receipt). The log service (src/services) implements it;
// the vault, the gatekeeper, the seal and the token service only ever see this interface.
//
// Entries carry no protected value and no raw subject identifier: callers hand the raw subject id to
// `append`, and the log stores only its keyed hash (issue 4, point 1).

/** Every kind of event the log accepts. Closed: a new kind is added here, with its issue. */
export const LOG_EVENT_TYPES = [
  // decisions on protected data, allow and deny alike
  'access.decision',
  // changes to data
  'record.created',
  'record.updated',
  'record.deleted',
  'subject.registered',
  'subject.rehomed',
  'subject.erased',
  // the gatekeeper
  'access.requested',
  'access.approved',
  'access.denied',
  'grant.created',
  'grant.revoked',
  'breakglass.opened',
  'breakglass.reviewed',
  'policy.proposed',
  'policy.approved',
  'policy.activated',
  'proposal.rejected',
  // credentials, seal and keys
  'token.proposed',
  'token.approved',
  'token.issued',
  'token.revoked',
  'enclave.sealed',
  'enclave.unsealed',
  'key.created',
  'key.rekeyed',
  // the log subject key handed to someone (a regulator) so they can link entries to subjects
  'key.disclosed',
  // migration out of legacy sites (issue 5)
  'migration.run',
  'migration.verified',
  'migration.purged',
  'certificate.issued',
] as const;

export type LogEventType = (typeof LOG_EVENT_TYPES)[number];

/** A JSON value as it may appear in an entry (RFC 8785 canonical JSON: finite numbers only). */
export type LogValue = string | number | boolean | null | readonly LogValue[] | { readonly [key: string]: LogValue };

export interface LogActor {
  readonly id: string;
  readonly org: string;
  readonly role: string;
}

export interface LogEventInput {
  readonly type: LogEventType;
  /**
   * Who acted: the log keeps its id, org and role, nothing else (a principal may be passed as it is).
   * Absent when the enclave itself acts (for example an unseal by shares).
   */
  readonly principal?: LogActor;
  /** The raw subject id; the log keeps only its keyed hash. */
  readonly subject?: string;
  /** Event-specific facts. Never a protected field value, never a raw subject id. */
  readonly details: { readonly [key: string]: LogValue };
}

export interface LogReceipt {
  /** The entry's index in the log: the receipt a response carries. */
  readonly index: number;
}

export interface EventLog {
  /**
   * Resolves once the entry is durably stored. Rejects with EnclaveError `log_unavailable` when the log
   * cannot accept it; the caller must then reveal nothing (fail closed, issue 4 point 2). The event's
   * `details` may be read until the promise settles (the log may encode it later, on another thread):
   * the caller does not change them meanwhile.
   */
  append(event: LogEventInput): Promise<LogReceipt>;
}
