// Row mapping of the migration state shared by its two adapters (sqlite/ and postgres/ migration-state):
// both schemas use the same snake_case columns. Drivers differ only in booleans (SQLite 0/1) and byte
// strings (Uint8Array or Buffer), handled here.
import type { BatchInfo, BatchState, CertificateInfo, LedgerEntry, MigrationInfo, Mismatch, MismatchKind, PassState, PendingPurge, TableVerification, VerificationInfo } from '../core/migration-state.ts';
import type { SqlRow } from './rows.ts';

/** Columns declared text NOT NULL come back as strings. */
const str = (v: unknown): string => v as string;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const text = (v: unknown): string | null => (v === null || v === undefined ? null : str(v));

export const toMigration = (r: SqlRow): MigrationInfo => ({
  id: str(r['id']),
  mappingHash: str(r['mapping_hash']),
  source: str(r['source']),
  createdAt: Number(r['created_at']),
  pass: Number(r['pass']),
  passState: str(r['pass_state']) as PassState,
  passStartedAt: num(r['pass_started_at']),
  passFinishedAt: num(r['pass_finished_at']),
  interruptedPass: num(r['interrupted_pass']),
});

export const toBatch = (r: SqlRow): BatchInfo => ({
  migration: str(r['migration']),
  pass: Number(r['pass']),
  seq: Number(r['seq']),
  table: str(r['tbl']),
  after: text(r['after_key']),
  upTo: text(r['up_to']),
  planned: Number(r['planned']),
  state: str(r['state']) as BatchState,
  claimedBy: text(r['claimed_by']),
  claimedAt: num(r['claimed_at']),
});

export const toLedger = (r: SqlRow): LedgerEntry => ({
  table: str(r['tbl']),
  key: str(r['key']),
  collection: str(r['collection']),
  recordId: str(r['record_id']),
  subject: str(r['subject']),
  digest: r['digest'] as Uint8Array,
  seenPass: Number(r['seen_pass']),
  seenBatch: r['seen_batch'] === null || r['seen_batch'] === undefined ? null : Number(r['seen_batch']),
});

export const toVerification = (r: SqlRow): VerificationInfo => ({
  id: str(r['id']),
  migration: str(r['migration']),
  pass: Number(r['pass']),
  startedAt: Number(r['started_at']),
  finishedAt: Number(r['finished_at']),
  ok: r['ok'] === true || Number(r['ok']) === 1,
  // Verifications saved before `erased` was kept counted no row as erased.
  tables: (JSON.parse(str(r['tables_json'])) as TableVerification[]).map((t) => ({ ...t, erased: t.erased ?? 0 })),
  root: str(r['root']),
  mismatches: Number(r['mismatches']),
});

export const toMismatch = (r: SqlRow): Mismatch & { readonly seq: number } => ({
  seq: Number(r['seq']),
  table: str(r['tbl']),
  key: str(r['key']),
  kind: str(r['kind']) as MismatchKind,
  detail: str(r['detail']),
});

export const toCertificate = (r: SqlRow): CertificateInfo => ({
  id: str(r['id']),
  migration: str(r['migration']),
  verification: str(r['verification']),
  issuedAt: Number(r['issued_at']),
  note: str(r['note']),
  logIndex: num(r['log_index']),
});

/** A pending purge: its body, and whether the source's commit of it is known (committed_at). */
export const toPendingPurge = (r: SqlRow): PendingPurge => {
  const body = JSON.parse(str(r['body'])) as PendingPurge;
  // Pending purges saved before `erased` was kept counted no row as erased.
  const p = { ...body, tables: body.tables.map((t) => ({ ...t, erased: t.erased ?? 0 })) };
  const at = r['committed_at'];
  return at === null || at === undefined ? p : { ...p, committedAt: Number(at) };
};
