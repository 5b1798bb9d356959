// Typed errors with a closed union of codes. HTTP statuses live in src/http/error-status.ts (the one
// place codes map to HTTP); docs/errors.md lists every code, and a test checks that docs and code agree.

export const ERROR_CODES = {
  // request shape
  invalid_json: 'The request body is not valid JSON in UTF-8, or gives one member name twice in one object.',
  invalid_request: 'The request does not match the expected shape (a field is missing, unknown or of the wrong type), gives a header that is no list more than once (Content-Type, Host), lacks Host in HTTP/1.1 or gives an invalid one, or is not well-formed HTTP/1.1 (its request line, a header field or its body framing).',
  unsupported_media_type: 'The request body must be application/json.',
  payload_too_large: 'The request body exceeds the size the server accepts (for the API, server.max_body_bytes; for a witness, its fixed add-checkpoint limit).',
  not_found: 'No such route.',
  uri_too_long: 'A path parameter is longer than the server accepts.',
  headers_too_large: 'The request line and header fields together are larger than the server accepts; the connection is closed.',
  request_timeout: 'The request did not arrive whole in time; the connection is closed.',
  expectation_failed: 'The request has an Expect header with an expectation other than 100-continue, which the server cannot meet.',
  method_not_allowed: 'The path exists but not with this method; the `Allow` header lists the methods it takes.',
  shutting_down: 'The server is shutting down and takes no new requests; retry on another instance or once it is back.',
  // authentication and authorization
  unauthenticated: 'A bearer token is missing, malformed, unknown, expired or revoked.',
  forbidden: 'The decision point denied this action for this principal.',
  // domain
  unknown_collection: 'The collection is not defined in the configuration.',
  unknown_field: 'The record names a field that its collection does not define.',
  invalid_field: 'A field value does not match its declared type or limits (a string holding a lone UTF-16 surrogate included).',
  record_not_found: 'No record with that id exists in that collection (a principal refused that action gets 403 `forbidden` instead).',
  record_exists: 'A record with that id already exists, or another request is creating it at this moment.',
  version_conflict: 'No entity-tag in If-Match matches the record as it is now (it changed, or was deleted and created again, since; or the tag is weak, a bare version, or not one this server issues); or, for a delete without If-Match, the record changed twice while it was being deleted.',
  subject_not_found: 'The subject is not registered.',
  subject_exists: 'The subject is already registered, or another request is registering it at this moment.',
  subject_erased: 'The subject was erased: their data key is destroyed and their records can never be read again.',
  subject_moving: 'The subject is being re-homed (writes and other re-homes resume when the move completes), or they were re-homed or erased (through this instance or another) while this request ran: retry.',
  subject_mismatch: 'A record cannot change the subject it belongs to.',
  no_jurisdiction: 'The country maps to no configured jurisdiction, so the data has no lawful home.',
  no_home_site: 'The jurisdiction has no home site configured.',
  // the gatekeeper
  unknown_purpose: 'The purpose is not one of the configured purposes, or not one this principal may act for.',
  invalid_scope: 'The access scope is empty, too wide (break-glass names its subjects, at most gatekeeper.break_glass.max_subjects), or names an unknown or erased subject, or an unknown collection or protected field.',
  invalid_justification: 'The justification code is not configured, or its free text is too short or says nothing.',
  invalid_duration: 'The requested duration is not a positive number of seconds within the configured maximum.',
  breakglass_limit: 'The principal already holds as many open break-glass grants as gatekeeper.break_glass.max_open allows (revoke one, or wait until one expires), or has as many break-glass uses awaiting review as gatekeeper.break_glass.max_unreviewed allows (until one is reviewed), or an opening made at the same moment as another took the uses awaiting review past max_unreviewed (its grant is revoked at once); or file an access request.',
  request_not_found: 'No access request or break-glass grant with that id exists.',
  grant_not_found: 'No grant with that id exists.',
  proposal_not_found: 'No change proposal with that id exists.',
  policy_version_not_found: 'No policy version with that number exists.',
  token_not_found: 'No token with that id exists, or it and every token rotated from it are revoked already.',
  revocation_pending: 'A proposal to revoke this token (or a token it was rotated from) awaits approval: the token cannot be rotated until it is decided.',
  not_pending: 'The request or proposal was already decided, or it expired.',
  digest_mismatch: 'The approval names a content digest other than the request\'s or proposal\'s: approve what you reviewed, by its digest.',
  self_approval: 'The requester or proposer can never review their own request or proposal, nor the holder of a token a proposal revokes.',
  not_an_approver: 'The principal is not a member of the approver groups of this kind of request or proposal.',
  already_reviewed: 'This approver already gave a verdict on this request or proposal (the same verdict again is accepted only to complete what it decided, when the log refused the entry of the grant or change).',
  stale_proposal: 'The policy set changed since this proposal was made; propose again against the active version.',
  policy_engine_failed: 'The policy engine failed (its WebAssembly module trapped) and refuses every decision until the server restarts, except sealing by a gatekeeper officer whose role allows it; the server log has the cause.',
  policy_invalid: 'The proposed policy set does not parse or does not validate against the generated Cedar schema, or holds a character that hides or reorders text (zero-width, bidirectional, a lone carriage return).',
  // seal and keys
  sealed: 'The enclave is sealed: officers must enter their unseal shares (as many as the threshold) with `enclave unseal` before protected data can be served.',
  invalid_share: 'The unseal share is malformed or is not one of this enclave\'s current shares (one from before a rekey, or from a rekey that did not complete), or an encrypted share does not open with the given identity or holds no Enclave share.',
  duplicate_share: 'That unseal share was already entered.',
  unseal_failed: 'The entered shares do not reconstruct the root key, or a rekey was given fewer shares than the threshold of the current split.',
  rekey_conflict: 'The seal changed while a rekey ran (another rekey completed first): nothing was replaced, and the shares that rekey showed are void.',
  integrity_error: 'A ciphertext failed authentication: it was tampered with or moved to another row; or the seal record in the control store is malformed.',
  // transparency log: its data formats, proofs, signatures and witnesses (C2SP tlog-*, RFC 9162)
  invalid_log_data: 'Transparency-log data or parameters are malformed or out of range (a tile, entry bundle, note, checkpoint, proof, verifier key, tree size or index).',
  log_signature_invalid: 'A signed note carries no valid signature from a trusted key, or a trusted key\'s signature does not verify.',
  log_proof_invalid: 'A Merkle inclusion or consistency proof does not verify against the tree it claims.',
  log_mismatch: 'Log data differs from what a signed checkpoint commits to (an entry, a tile hash or the recomputed root).',
  log_rollback: 'A checkpoint is smaller than one already seen for the same log, or differs from it at the same size (a split view).',
  log_quorum_not_met: 'Fewer trusted witnesses cosigned the checkpoint than the required quorum.',
  unknown_log: 'The witness is not configured for the checkpoint\'s origin.',
  log_size_conflict: 'The old size does not match the size of the latest checkpoint the witness cosigned for this log.',
  witness_unavailable: 'A witness did not answer in time or answered with something that is not a cosignature.',
  // configuration and CLI
  invalid_config: 'The configuration file is invalid.',
  invalid_argument: 'A command-line argument is invalid.',
  not_initialized: 'The data directory has not been initialized (run `enclave init`).',
  already_initialized: 'The data directory is already initialized.',
  data_dir_insecure: 'The data directory, or a file the enclave creates in it, cannot be made private to its user (directory 0700, files 0600): another user owns it, or its file system ignores permissions.',
  // migration of legacy data (issue 5)
  invalid_mapping: 'The migration mapping file is invalid.',
  mapping_mismatch: 'The migration mapping does not fit the live source schema or the configuration (a table, column or collection is missing, or a column type does not fit its field).',
  invalid_source_data: 'The migration source holds data the migration cannot read as mapped (a JSON Lines line that is not an object, rows out of key order, a duplicate key).',
  source_unavailable: 'The migration source could not be opened or queried.',
  migration_not_found: 'No migration of that name has been started.',
  migration_changed: 'The mapping changed since this migration started; start a migration under a new name.',
  migration_incomplete: 'The migration has not finished copying: run it to the end first.',
  not_verified: 'Purge refused: no successful verification covers the migration as it stands.',
  purge_refused: 'Purge refused: the source no longer matches the verified set, rows of the purged subjects would remain, the vault no longer holds the copy of a row to be purged (deleted since the verification), or a foreign key (ON DELETE CASCADE, SET NULL, SET DEFAULT) would delete or change rows of a table the purge does not verify, or (SQLite) leave rows referring to deleted ones; nothing was deleted.',
  purge_pending: 'A purge of this migration was interrupted, or its scrub of the source files did not complete, after the source had committed it; no certificate was issued; run `enclave migrate purge` again to finish it (nothing else may run before).',
  purge_partial: 'A purge of this migration was interrupted before it was recorded as committed, and the source matches neither its state before nor after it: nothing is run, swept, purged or certified until it does.',
  certificate_not_found: 'No deletion certificate with that id.',
  certificate_invalid: 'The deletion certificate is malformed or its signature does not verify with the given key.',
  // storage
  migration_refused: 'The stored schema history does not match this build (a migration is modified, unknown or out of order), or a migration failed to apply; or the seal record was written by a newer Enclave (a seal record version this build does not read).',
  storage_unavailable: 'The store could not be reached.',
  log_unavailable: 'The transparency log could not durably accept the entry, so nothing was revealed or changed.',
  internal: 'An unexpected internal error. Nothing was written; details are in the server log.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

/** Optional structured detail. It never carries a field value: values may be protected. */
export interface ErrorDetails {
  readonly field?: string;
  readonly key?: string;
  readonly expected?: string;
  readonly [extra: string]: string | number | boolean | readonly string[] | undefined;
}

export class EnclaveError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: ErrorDetails }) {
    super(message ?? ERROR_CODES[code], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EnclaveError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isEnclaveError(err: unknown, code?: ErrorCode): err is EnclaveError {
  return err instanceof EnclaveError && (code === undefined || err.code === code);
}
