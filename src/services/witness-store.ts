// What a witness keeps (C2SP tlog-witness): per log origin, the latest checkpoint it cosigned, and the
// refused submissions whose signature was valid (evidence of a misbehaving log). The SQLite adapter is
// src/storage/sqlite/sqlite-witness-store.ts.

export interface WitnessRecord {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** The signed checkpoint note as submitted. */
  readonly note: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
}

export interface WitnessEvidence {
  readonly origin: string;
  /** The refused checkpoint, `<size> <root in hex>`: evidence is kept once per signed checkpoint. */
  readonly checkpoint: string;
  readonly reason: string;
  /** The add-checkpoint request body as received, less the signature lines no trusted key made. */
  readonly body: string;
  readonly time: number;
}

export interface WitnessStore {
  latest(origin: string): Promise<WitnessRecord | undefined>;
  /**
   * Replaces the origin's record with `record` only if the stored size is still `oldSize` (0 when
   * there is none), atomically; false when another submission moved it first (tlog-witness requires
   * the check and the update to be atomic).
   */
  advance(oldSize: number, record: WitnessRecord): Promise<boolean>;
  /** Keeps the first evidence of each checkpoint of an origin; a later one of the same checkpoint is dropped. */
  addEvidence(evidence: WitnessEvidence): Promise<void>;
  evidence(origin: string): Promise<WitnessEvidence[]>;
  close(): Promise<void>;
}
