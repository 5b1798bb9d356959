// The storage port of the transparency log. The embedded adapter is SQLite
// (src/storage/sqlite/sqlite-log-store.ts); a PostgreSQL adapter implements the same port and runs the
// same conformance suite (test/storage/log-store-conformance.ts).
//
// The port is shaped for several gateway instances on one database (issue 6): the STORE assigns entry
// indexes, densely and atomically, in the transaction that makes the entries durable, so any instance
// can append (its entries are handed to the log by being written), while exactly one integrator at a
// time extends the Merkle tree; `integrate` is a compare-and-set on the tree size, so a second
// integrator can never overwrite tiles with a different tree. The sequencer lease says which instance
// integrates and signs: one holder at a time, released when its holder closes the store or dies, so the
// others (which keep appending) take over; the compare-and-set stays the safety net.

import type { EnclaveError } from './errors.ts';
import type { LogEntryDraft } from './log-entry.ts';

export interface LogEntryRow {
  /** Milliseconds since the epoch (search column). */
  readonly time: number;
  readonly type: string;
  /** The acting principal's id (search column), null when the enclave itself acted. */
  readonly principal: string | null;
  /** The subject's keyed hash, hex (search column). */
  readonly subject: string | null;
  /** The entry: canonical JSON bytes, the Merkle leaf. */
  readonly body: Uint8Array;
}

export interface StoredLogEntry extends LogEntryRow {
  readonly index: number;
}

/** What `appendEntries` stored. */
export interface AppendedEntries {
  /** One per item, in order: its index, or the error that refused it alone. */
  readonly outcomes: readonly (number | EnclaveError)[];
  /**
   * The RFC 9162 leaf hash (§2.1.1) of each entry stored, 32 bytes each, in index order: hashed by the
   * store from the bytes it stored, so the integrator need not read the entries back.
   */
  readonly leafHashes: Uint8Array;
}

export interface LogQuery {
  /** time >= from (ms). */
  readonly from?: number;
  /** time < to (ms). */
  readonly to?: number;
  readonly principal?: string;
  readonly type?: string;
  /**
   * The subject's keyed hash. Only integrated entries (index < treeSize) are found by subject: adapters
   * may index subjects as the tree is extended rather than on every append (their hashes are random, so
   * an append-time index costs a random page write per entry).
   */
  readonly subject?: string;
  /** Only entries with index > after (the cursor of the previous page). */
  readonly after?: number;
  /** Only entries with index < before (e.g. the size of the published checkpoint). */
  readonly before?: number;
  /** At most this many, in index order. */
  readonly limit: number;
}

/** A hash tile as stored: the widest version written so far (narrower versions are its prefixes). */
export interface LogTile {
  readonly level: number;
  readonly index: number;
  readonly width: number;
  /** width × 32 bytes. */
  readonly data: Uint8Array;
}

/**
 * Whether two checkpoint texts state the same root hash: their third lines (C2SP tlog-checkpoint: origin,
 * tree size, base64 root hash, each ending in a newline), present and equal. Stores compare this line
 * as text, without opening the signed note (the log service signed both); a PostgreSQL store compares
 * split_part(text, E'\n', 3) the same way.
 */
export function sameCheckpointRoot(stored: string, next: string): boolean {
  const root = (text: string) => text.split('\n', 3)[2] ?? '';
  const a = root(stored);
  return a !== '' && a === root(next);
}

export interface StoredCheckpoint {
  readonly size: number;
  /** When it was stored, ms since the epoch. */
  readonly time: number;
  /** The signed note, with whatever cosignatures it gathered. */
  readonly text: string;
}

/** Who holds the sequencer lease (the instance that integrates and signs), as the store recorded it. */
export interface SequencerLease {
  /** The holder's instance name. */
  readonly instance: string;
  /** When it took the lease, ms since the epoch (the store's clock). */
  readonly since: number;
  /** Milliseconds since the holder last confirmed it (the store's clock). */
  readonly heartbeatAgeMs: number;
  /** Whether the lease is held now; false: the recorded holder let it go or died, and nobody took it yet. */
  readonly held: boolean;
}

export interface LogStore {
  readonly driver: string;
  /**
   * Appends entries in one transaction and resolves once they are durable. The store assigns them the
   * next indexes, densely, in order; resolves with the first one.
   */
  append(entries: readonly LogEntryRow[]): Promise<number>;
  /**
   * Optional, for a store that writes on a thread of its own: appends like `append`, but finishes drafts
   * there (finishLogEntry: the subject's HMAC under `subjectKey`, the canonical bytes), so the caller's
   * thread does not. Items already rows are stored as they are. Resolves with one outcome per item, in
   * order: its index, or the error that refused it alone (an entry that cannot be encoded); the others
   * get dense indexes in their order, and their leaf hashes come along. Rejects, storing nothing, when
   * the commit fails.
   */
  appendEntries?(items: readonly (LogEntryRow | LogEntryDraft)[], subjectKey: Uint8Array | null): Promise<AppendedEntries>;
  /** Number of entries appended (the next index). */
  size(): Promise<number>;
  /** Entry bodies with indexes in [from, to), in order (fewer if the log is shorter). */
  readEntries(from: number, to: number): Promise<Uint8Array[]>;
  /** Entries matching every given filter, in index order. */
  search(query: LogQuery): Promise<StoredLogEntry[]>;
  /** Size of the tree the stored tiles describe (entries [0, treeSize) are integrated). */
  treeSize(): Promise<number>;
  /**
   * Stores the tiles of the tree grown from `fromSize` to `toSize`, and the new size, in one transaction
   * — only if the stored tree size is still `fromSize` (compare-and-set); returns whether it wrote. The
   * entries [fromSize, toSize) become searchable by subject.
   */
  integrate(fromSize: number, toSize: number, tiles: readonly LogTile[]): Promise<boolean>;
  readTile(level: number, index: number): Promise<LogTile | undefined>;
  /**
   * Publishes a checkpoint. Refused (false) if a checkpoint of a larger size is already stored. One of
   * the same size replaces the stored one only if both have the same root (`sameCheckpointRoot`: the same
   * tree with more cosignatures); another root at that size is a fork (RFC 9162 §2.1.4) and is refused,
   * the stored one kept. Compared in the store's transaction, so concurrent publishers cannot race it.
   */
  putCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** Small settings of the log (its origin and verifier key): written once, then read. */
  getMeta(key: string): Promise<string | undefined>;
  putMetaIfAbsent(key: string, value: string): Promise<boolean>;
  /**
   * Takes the sequencer lease for `instance`, or confirms that this store handle still holds it (a
   * heartbeat); false while another handle holds it. At most one handle holds it at a time; it is let
   * go by `releaseSequencer`, by `close`, or when the holder's process or connection dies.
   */
  leadSequencer(instance: string): Promise<boolean>;
  releaseSequencer(): Promise<void>;
  /** The recorded holder of the lease; undefined if no handle ever took it. */
  sequencer(): Promise<SequencerLease | undefined>;
  /** Closes the store (and lets the lease go). */
  close(): Promise<void>;
}
