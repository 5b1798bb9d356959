// The core's public surface: domain types and pure logic, no I/O.
export { ERROR_CODES, EnclaveError, isEnclaveError, isErrorCode, type ErrorCode, type ErrorDetails } from './errors.ts';
export {
  GRANT_ID_PATTERN,
  ID_PATTERN,
  PROPOSAL_ID_PATTERN,
  PROPOSAL_STATES,
  RECORD_ID_PATTERN,
  REQUEST_ID_PATTERN,
  REQUEST_STATES,
  TOKEN_ID_PATTERN,
  type ProposalState,
  type RequestState,
} from './api-ids.ts';
export {
  ACTIONS,
  ConfigSchema,
  GATEKEEPER_ACTIONS,
  FIELD_CLASSES,
  FIELD_TYPES,
  ORG_KINDS,
  SITE_ROLES,
  type Action,
  type GatekeeperAction,
  type RoleAction,
  type FieldClass,
  type FieldType,
  type OrgKind,
  type RawConfig,
  type SiteRole,
} from './config-schema.ts';
export {
  DEFAULTS,
  LOG_DEFAULTS,
  defaultLogOrigin,
  homeSites,
  parseConfig,
  type CollectionDef,
  type EnclaveConfig,
  type FieldDef,
  type JurisdictionDef,
  type LogConfig,
  type LogWitnessDef,
  type OrgDef,
  type RoleDef,
  type SiteDef,
} from './config.ts';
export { GOVERNED_SECTIONS, changedSections, configDigests, storageIdentity, type ConfigDigests, type GovernedSection } from './config-digest.ts';
export { normalizeCountry, permittedSites, resolveResidence, type Residence } from './residency.ts';
export type { Principal } from './principal.ts';
export type { Decision, DecisionPoint, DecisionRequest, GrantRef, Release } from './decision.ts';
export { checkJustification, coveredFields, normalizeScope, scopeFields, MAX_SCOPE_SUBJECTS, type AccessScope } from './access-scope.ts';
export { CEDAR_NAMESPACE, PRINCIPAL_TYPES, SYSTEM_RESOURCES, cedarSchemaText, systemResourceOf, type SystemResource } from './cedar-schema.ts';
export { contentDigest, type Canonical } from './content-digest.ts';
export { DEFAULT_POLICIES, INVARIANT_ID_PREFIX, INVARIANT_POLICIES } from './default-policies.ts';
export { DURATION_PATTERN, formatDuration, parseDuration } from './duration.ts';
export { parseGatekeeper, roleRef, type ApproverGroup, type BreakGlassConfig, type GatekeeperConfig, type QuorumRule } from './gatekeeper-config.ts';
export { evaluateQuorum, inGroup, isEligible, type Approver, type QuorumState } from './quorum.ts';
export {
  recordAad,
  recordDataSchema,
  splitRecord,
  subjectKeyAad,
  validateRecordData,
  validateRecordId,
  type FieldValue,
  type RecordData,
  type SplitRecord,
} from './record-model.ts';
export type {
  AccessKind,
  AccessRequestRow,
  AccessRequestStore,
  ApprovalRow,
  ApprovalStore,
  GrantRow,
  GrantStore,
  ListOptions,
  PolicyVersionRow,
  PolicyVersionStore,
  ProposalDecision,
  ProposalEffect,
  ProposalKind,
  ProposalRow,
  ProposalStatus,
  ProposalStore,
  RequestStatus,
  Verdict,
  DeleteResult,
  InsertResult,
  MetaStore,
  PrincipalRow,
  RecordRow,
  RecordStore,
  Store,
  SubjectClaim,
  SubjectClaimStore,
  SubjectRow,
  SubjectStore,
  TokenRow,
  TokenStore,
  TokenWithPrincipal,
  UpdateResult,
  OrgBootstrap,
  ProposalAbortReason,
  RecordRevision,
} from './store.ts';
export { revisionOf, sameRevision } from './store.ts';
export { planMigrations, type AppliedMigration, type Checksum, type Migration } from './migration-plan.ts';
export {
  LOG_EVENT_TYPES,
  type EventLog,
  type LogActor,
  type LogEventInput,
  type LogEventType,
  type LogReceipt,
  type LogValue,
} from './event-log.ts';
export { canonicalJson, canonicalJsonBytes, canonicalSizeAtLeast, type JsonValue } from './canonical-json.ts';
export {
  LOG_ENTRY_VERSION,
  MAX_LOG_ENTRY_BYTES,
  SUBJECT_HASH_PATTERN,
  decodeLogEntry,
  encodeLogEntry,
  isLogEventType,
  isSubjectHash,
  subjectHash,
  type LogEntry,
  type LogEntryColumns,
} from './log-entry.ts';
export type { AppendedEntries, LogEntryRow, LogQuery, LogStore, LogTile, SequencerLease, StoredCheckpoint, StoredLogEntry } from './log-store.ts';
export { KeyedGate } from './keyed-gate.ts';
export { KeyedMutex } from './keyed-mutex.ts';
export { Lru } from './lru.ts';
export { compile, compileDynamic, describeErrors, formatPath, type SchemaIssue, type Validator } from './schema-validator.ts';
// The transparency log's verifiable core (RFC 9162, C2SP tlog-*): see src/core/tlog/index.ts for all of it.
export {
  EMPTY_TREE_HASH,
  appendToFrontier,
  changedTiles,
  checkRecord,
  checkTree,
  cosignatureVerifierFromKey,
  decodeEntryBundle,
  encodeEntryBundle,
  entriesPath,
  formatCheckpoint,
  formatTlogProof,
  frontierRoot,
  leafHash,
  nodeHash,
  noteSigner,
  noteVerifier,
  openCheckpoint,
  openNote,
  parseCheckpoint,
  parseTilePath,
  parseTlogProof,
  proveRecord,
  proveTree,
  signNote,
  storedHashCount,
  storedHashIndex,
  storedHashesForRecord,
  tileHashReader,
  tilePath,
  treeHash,
  type Checkpoint,
  type Frontier,
  type HashReader,
  type NoteSigner,
  type NoteVerifier,
  type TileCoords,
  type TlogProof,
} from './tlog/index.ts';
// Migration out of legacy sites (issue 5, docs/migration.md).
export { compareKeys, SOURCE_KINDS, type ColumnKind, type KeyTuple, type KeyValue, type LookupRequest, type MigrationSource, type ReadRequest, type ScrubReport, type SourceColumn, type SourceKind, type SourceReader, type SourceRow, type SourceTable, type SourceTransaction, type SourceValue } from './migration-source.ts';
export { FIELD_ACCEPTS, MappingSchema, parseMapping, resolveMapping, type CountryRule, type MigrationMapping, type ResolvedField, type ResolvedMapping, type ResolvedTable, type SourceSpec, type SubjectLink, type TableMapping } from './migration-mapping.ts';
export { EXPR_FUNCTIONS, evaluateCountryExpr, exprColumns, formatCountryExpr, parseCountryExpr, type CountryExpr } from './country-expression.ts';
export { canonicalRecord, canonicalSourceRow, convertValue, countryOf, decodeKey, encodeKey, keyOf, mapRow, recordIdOf, rowDigest, showKey, type MappedRecord, type StayReason } from './migration-row.ts';
export { addCounters, ZERO_COUNTERS, type BatchCounters, type BatchInfo, type CertificateInfo, type LedgerEntry, type MigrationInfo, type MigrationStateStore, type Mismatch, type MismatchKind, type PassState, type PendingPurge, type PurgedTableState, type TableVerification, type VerificationInfo } from './migration-state.ts';
export { MerkleBuilder, merkleRoot } from './migration-merkle.ts';
export { CERTIFICATE_TYPE, CertificateSchema, certificateId, certificateText, formatVkey, keyName, signCertificate, verifyCertificate, type CertificateCheck, type CertificateTable, type DeletionCertificate } from './deletion-certificate.ts';
