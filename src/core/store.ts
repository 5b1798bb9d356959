// The storage port. Every site (and the control store) is one Store; adapters (SQLite now, PostgreSQL
// later) implement it identically and run one conformance suite (test/storage/conformance.ts).
// Each method is atomic on its own, so no caller ever holds a transaction open across an await.

export interface SubjectRow {
  readonly id: string;
  readonly country: string;
  readonly jurisdiction: string;
  /** The subject's data key wrapped under the site's key-encryption key; null once erased. */
  readonly wrappedKey: Uint8Array | null;
  readonly keyId: string;
  readonly createdAt: number;
  readonly erasedAt: number | null;
  /** Set while a re-home is in flight: the site the subject is moving to. */
  readonly movedTo: string | null;
}

export interface RecordRow {
  readonly collection: string;
  readonly id: string;
  readonly subject: string;
  readonly version: number;
  /** JSON object of the public fields, stored in the clear. */
  readonly publicJson: string;
  /** AEAD ciphertext of the protected fields; null when the record has none. */
  readonly sealed: Uint8Array | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface PrincipalRow {
  readonly id: string;
  readonly org: string;
  readonly role: string;
  readonly createdAt: number;
}

export interface TokenRow {
  readonly id: string;
  /** SHA-256 of the bearer secret, hex. The secret itself is never stored. */
  readonly hash: string;
  readonly principalId: string;
  readonly label: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

export interface TokenWithPrincipal {
  readonly token: TokenRow;
  readonly principal: PrincipalRow;
}

export type InsertResult = 'inserted' | 'exists';
export type UpdateResult = 'updated' | 'not_found' | 'version_conflict';
export type DeleteResult = 'deleted' | 'not_found' | 'version_conflict';

export interface SubjectStore {
  insert(row: SubjectRow): Promise<InsertResult>;
  /** Bulk registration in one transaction; existing subjects are left as they are. Returns how many were inserted. */
  insertMany(rows: readonly SubjectRow[]): Promise<number>;
  get(id: string): Promise<SubjectRow | undefined>;
  /**
   * Erasure in one transaction: destroys the wrapped key (crypto-shredding: the sealed protected fields
   * stay but can never be opened), blanks the public fields of the subject's records, marks the subject
   * erased. Returns the number of records affected, or undefined if the subject is unknown or already erased.
   */
  erase(id: string, at: number): Promise<number | undefined>;
  setMovedTo(id: string, site: string | null): Promise<boolean>;
  /** Records a new residence that keeps the subject at this site (a move within one jurisdiction's home). */
  setResidence(id: string, country: string, jurisdiction: string): Promise<boolean>;
  count(): Promise<number>;
}

export interface RecordStore {
  insert(row: RecordRow): Promise<InsertResult>;
  /** Bulk load in one transaction; rows that already exist are left as they are. Returns how many were inserted. */
  insertMany(rows: readonly RecordRow[]): Promise<number>;
  get(collection: string, id: string): Promise<RecordRow | undefined>;
  /** Replaces the row if its stored version equals `expectedVersion`; `row.version` must be expectedVersion + 1. */
  update(row: RecordRow, expectedVersion: number): Promise<UpdateResult>;
  delete(collection: string, id: string, expectedVersion?: number): Promise<DeleteResult>;
  listBySubject(subject: string, options?: { collection?: string; limit?: number; after?: { collection: string; id: string } }): Promise<RecordRow[]>;
  count(): Promise<number>;
}

export interface TokenStore {
  /** Creates the principal if new (its org and role must then match) and the token, atomically. */
  create(principal: PrincipalRow, token: TokenRow): Promise<'created' | 'principal_mismatch'>;
  findByHash(hash: string): Promise<TokenWithPrincipal | undefined>;
  revoke(id: string, at: number): Promise<boolean>;
  list(): Promise<TokenWithPrincipal[]>;
}

export interface MetaStore {
  get(key: string): Promise<string | undefined>;
  /** Writes only if the key is absent; returns whether it wrote. */
  putIfAbsent(key: string, value: string): Promise<boolean>;
  put(key: string, value: string): Promise<void>;
}

export interface Store {
  readonly driver: string;
  readonly subjects: SubjectStore;
  readonly records: RecordStore;
  readonly tokens: TokenStore;
  readonly meta: MetaStore;
  /**
   * Re-homing: in one transaction, makes this store hold exactly this subject and these records,
   * replacing whatever it held for the subject before (a stale copy from an earlier, interrupted move).
   */
  importSubject(subject: SubjectRow, records: readonly RecordRow[]): Promise<void>;
  /** Deletes a subject and all their records in one transaction, then scrubs freed space. */
  purgeSubject(id: string): Promise<number>;
  /**
   * Makes deleted or overwritten bytes unrecoverable from the store's own files (WAL checkpoint,
   * zeroed free pages). Called after erasure so a destroyed key leaves no copy behind.
   */
  scrub(): Promise<void>;
  close(): Promise<void>;
}
