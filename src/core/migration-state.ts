// The durable state of migrations (the port; the embedded adapter is src/storage/sqlite/sqlite-migration-
// state.ts). A run is a *pass* over the source: first the tables are cut into key ranges (batches), then
// workers claim batches one at a time, copy them and complete them in one transaction with their
// ledger rows. Batches are rows claimed by a conditional update, so several processes can share one
// pass; on PostgreSQL the claim is `SELECT … FOR UPDATE SKIP LOCKED` (issue 6). The ledger remembers,
// per source row, the record it became and the digest of what was written: a re-run skips unchanged
// rows, re-copies changed ones, and removes records whose source rows are gone.

export type PassState = 'planning' | 'copying' | 'sweeping' | 'done';
export type BatchState = 'pending' | 'running' | 'done';

export interface MigrationInfo {
  readonly id: string;
  readonly mappingHash: string;
  /** Source kind and location (never a password). */
  readonly source: string;
  readonly createdAt: number;
  /** The current pass; 0 before the first. */
  readonly pass: number;
  readonly passState: PassState;
  readonly passStartedAt: number | null;
  readonly passFinishedAt: number | null;
  /**
   * The latest pass in which batches held by a worker found gone were put back (null: none). Ledger rows
   * of such a pass written before they named their batch (LedgerEntry.seenBatch null) prove no copy;
   * the others are doubted by batch (MigrationStateStore.releasedBatches).
   */
  readonly interruptedPass: number | null;
}

export interface BatchInfo {
  readonly migration: string;
  readonly pass: number;
  readonly seq: number;
  readonly table: string;
  /** Encoded key (exclusive lower bound), null for the start of the table. */
  readonly after: string | null;
  /** Encoded key (inclusive upper bound), null for the end of the table (rows added later included). */
  readonly upTo: string | null;
  /** Rows in the range when it was planned. */
  readonly planned: number;
  readonly state: BatchState;
  readonly claimedBy: string | null;
  readonly claimedAt: number | null;
}

export interface BatchCounters {
  /** Rows read from the source. */
  readonly read: number;
  /** Records written for the first time. */
  readonly copied: number;
  /** Records written again because their source row changed. */
  readonly recopied: number;
  /** Migrating rows whose record already holds exactly their content. */
  readonly unchanged: number;
  /** Rows of subjects who stay (other jurisdictions, no country, no subject). */
  readonly stayed: number;
  /** Migrating rows the vault or the mapping refused (a value that does not fit, a subject elsewhere). */
  readonly refused: number;
}

export const ZERO_COUNTERS: BatchCounters = { read: 0, copied: 0, recopied: 0, unchanged: 0, stayed: 0, refused: 0 };

export function addCounters(a: BatchCounters, b: BatchCounters): BatchCounters {
  return {
    read: a.read + b.read,
    copied: a.copied + b.copied,
    recopied: a.recopied + b.recopied,
    unchanged: a.unchanged + b.unchanged,
    stayed: a.stayed + b.stayed,
    refused: a.refused + b.refused,
  };
}

export interface LedgerEntry {
  readonly table: string;
  /** Encoded key of the source row. */
  readonly key: string;
  readonly collection: string;
  readonly recordId: string;
  readonly subject: string;
  /** Digest of the record as written (keyed, see migration-row.ts). */
  readonly digest: Uint8Array;
  /** The last pass that saw this row at the source. */
  readonly seenPass: number;
  /**
   * The batch of that pass that wrote this row (null in rows written before batches were kept here): a
   * batch ever taken back from its worker may have written the row ahead of a vault write that never
   * happened, so the row proves no copy (MigrationStateStore.releasedBatches).
   */
  readonly seenBatch: number | null;
}

export interface TableVerification {
  readonly table: string;
  readonly collection: string;
  /** Migrating rows at the source. */
  readonly rows: number;
  readonly sourceRoot: string;
  /**
   * Of `rows`, those whose subject is erased in the vault: their copies were destroyed by the erasure,
   * so nothing is compared; the purge deletes them too. The destination root equals the root of the
   * other rows' digests.
   */
  readonly erased: number;
  /** Records found at the destination for this table. */
  readonly records: number;
  readonly destinationRoot: string;
  readonly mismatches: number;
}

/** `moved`: the subject's country at the source maps to another home site than the one they are registered at. */
export type MismatchKind = 'missing' | 'changed' | 'extra' | 'refused' | 'moved';

export interface Mismatch {
  readonly table: string;
  /** Encoded key. */
  readonly key: string;
  readonly kind: MismatchKind;
  /** An error code or a short reason; never a value. */
  readonly detail: string;
}

export interface VerificationInfo {
  readonly id: string;
  readonly migration: string;
  readonly pass: number;
  readonly startedAt: number;
  readonly finishedAt: number;
  readonly ok: boolean;
  readonly tables: readonly TableVerification[];
  /** Merkle root over the tables' source roots, in mapping order (hex). */
  readonly root: string;
  readonly mismatches: number;
}

/** One table of a purge as checked in its transaction (keptAfter null: read back only after the commit). */
export interface PurgedTableState {
  readonly table: string;
  readonly collection: string;
  readonly purged: number;
  readonly purgedRoot: string;
  /** Of `purged`, the rows whose subject is erased in the vault (no copy is kept: the erasure destroyed it). */
  readonly erased: number;
  readonly kept: number;
  readonly keptBefore: string;
  readonly keptAfter: string | null;
}

/** A purge whose source transaction is about to commit: what it found, kept until its certificate exists. */
export interface PendingPurge {
  readonly migration: string;
  readonly verification: string;
  readonly startedAt: number;
  readonly preparedAt: number;
  readonly tables: readonly PurgedTableState[];
  /** The source's settings before the purge (MigrationSource.settingsBefore); absent in purges recorded before they were kept. */
  readonly sourceSettings?: Readonly<Record<string, string>>;
  /**
   * When the source's commit of the purge succeeded (MigrationStateStore.markPurgeCommitted); absent
   * while it is not known to have committed (about to commit, or the process died between its commit
   * and this mark). A purge marked committed is finished (scrub, certificate) whatever the source holds
   * since: its transaction checked the rows that stay before it committed, and the source is live.
   */
  readonly committedAt?: number;
  /**
   * The index of the purge's `migration.purged` entry in the transparency log, once appended: a purge
   * finished again (its certificate failed to be issued or logged) does not append a second one.
   */
  readonly purgedLogIndex?: number;
}

export interface CertificateInfo {
  readonly id: string;
  readonly migration: string;
  readonly verification: string;
  readonly issuedAt: number;
  /** The certificate as a signed note (see core/deletion-certificate.ts). */
  readonly note: string;
  /** Index of its entry in the transparency log, when one is wired. */
  readonly logIndex: number | null;
}

export interface MigrationStateStore {
  get(id: string): Promise<MigrationInfo | undefined>;
  create(info: MigrationInfo): Promise<'created' | 'exists'>;
  /**
   * Starts pass `pass` in state planning if the migration is still at `fromPass` (so two processes
   * cannot both start one); any batches already planned for that pass are dropped. Returns whether it did.
   */
  beginPass(id: string, fromPass: number, pass: number, at: number): Promise<boolean>;
  addBatches(batches: readonly BatchInfo[]): Promise<void>;
  setPassState(id: string, pass: number, state: PassState, at: number): Promise<void>;
  /** Claims the first pending batch of the pass for `worker`; undefined when none is left. */
  claimBatch(id: string, pass: number, worker: string, at: number): Promise<BatchInfo | undefined>;
  /**
   * Runs `fn` while no other process runs an exclusive step of this migration (starting or planning a
   * pass, ending one). PostgreSQL: a session advisory lock, released if its holder dies. SQLite (one process
   * at a time) runs `fn` as is.
   */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** Workers holding running batches of the pass, with when they claimed them. */
  claims(id: string, pass: number): Promise<{ worker: string; claimedAt: number }[]>;
  /**
   * Puts the running batches of these workers back to pending (their processes are gone), marking each
   * as released (releasedBatches) in the same step, and marks the pass interrupted first
   * (MigrationInfo.interruptedPass) if there are any.
   */
  releaseClaims(id: string, pass: number, workers: readonly string[]): Promise<number>;
  /** Sequence numbers of the batches of a pass that releaseClaims ever put back, ascending. */
  releasedBatches(id: string, pass: number): Promise<number[]>;
  /** Writes ledger rows as a batch progresses (idempotent upserts). */
  putLedger(id: string, entries: readonly LedgerEntry[]): Promise<void>;
  /** Marks the batch done with its counters, only if `worker` still holds it. */
  completeBatch(batch: BatchInfo, worker: string, counters: BatchCounters, at: number): Promise<boolean>;
  /** Ledger rows of these keys of one table. */
  ledger(id: string, table: string, keys: readonly string[]): Promise<Map<string, LedgerEntry>>;
  /** Ledger rows not seen by pass `pass` (their source rows are gone or no longer migrate), a page at a time. */
  unseen(id: string, pass: number, limit: number): Promise<LedgerEntry[]>;
  removeLedger(id: string, table: string, keys: readonly string[]): Promise<void>;
  /** After a purge: the purged rows are gone from the source for good, so no later pass may sweep their records. */
  clearLedger(id: string): Promise<void>;
  ledgerCount(id: string, table?: string): Promise<number>;
  /** Totals of the pass: batches by state, rows planned, counters of the completed batches. */
  passProgress(id: string, pass: number): Promise<{ batches: number; done: number; planned: number; counters: BatchCounters }>;

  /**
   * Verification: marks ledger rows for copying again (an empty digest, which no row has), each only if
   * its row is still as it was read (same pass, batch and digest). A run that began a new pass meanwhile
   * has rewritten the row, and a sweep may have removed it: neither is put back. Returns the rows marked.
   */
  invalidateLedger(id: string, entries: readonly LedgerEntry[]): Promise<number>;
  /** Verification: ledger rows are stamped as each source row is checked, so the unstamped are extras. */
  stampLedger(id: string, table: string, keys: readonly string[], stamp: string): Promise<void>;
  unstamped(id: string, table: string, stamp: string, limit: number, afterKey: string | null): Promise<LedgerEntry[]>;
  putMismatches(verification: string, mismatches: readonly Mismatch[]): Promise<void>;
  saveVerification(v: VerificationInfo): Promise<void>;
  verification(id: string): Promise<VerificationInfo | undefined>;
  latestVerification(migration: string): Promise<VerificationInfo | undefined>;
  /** Mismatches in the order found, a page at a time (`after`: the last seq seen, 0 to start). */
  mismatches(verification: string, limit: number, after: number): Promise<(Mismatch & { readonly seq: number })[]>;

  /** Records a purge about to commit, replacing any pending purge of its migration (committedAt is saved as given: absent, not committed). */
  savePendingPurge(p: PendingPurge): Promise<void>;
  pendingPurge(migration: string): Promise<PendingPurge | undefined>;
  /**
   * Marks the pending purge of `migration` bound to `verification` as committed at the source, at `at`
   * (PendingPurge.committedAt). Returns false, changing nothing, when no such purge is pending.
   */
  markPurgeCommitted(migration: string, verification: string, at: number): Promise<boolean>;
  clearPendingPurge(migration: string): Promise<void>;

  saveCertificate(c: CertificateInfo): Promise<void>;
  setCertificateLogIndex(id: string, index: number): Promise<void>;
  certificate(id: string): Promise<CertificateInfo | undefined>;
  certificates(migration?: string): Promise<CertificateInfo[]>;
  close(): Promise<void>;
}
