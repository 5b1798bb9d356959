// Holds the root key while unsealed, derives the sites' key-encryption keys, and wraps and unwraps the
// per-subject data keys. Sealing drops every key from memory.
import { EnclaveError } from '../core/errors.ts';
import { Lru } from '../core/lru.ts';
import { subjectKeyAad } from '../core/record-model.ts';
import { aeadKey, open, randomKey, seal, type AeadKey } from '../crypto/aead.ts';
import { DekCache } from '../crypto/dek-cache.ts';
import { deriveKey, siteKek } from '../crypto/key-derivation.ts';

export const KEY_ID = 'k1';

/** How many erased subjects' keys are remembered as destroyed (see `shredded`). */
const SHREDDED = 10_000;

function cacheKeyOf(site: string, subject: string): string {
  return `${site}\u0000${subject}`;
}

export class Keyring {
  private root: Buffer | null = null;
  private readonly keks = new Map<string, AeadKey>();
  /** Unwrapped data keys, each with the wrapped form it came from: a hit must match the stored row. */
  private readonly deks: DekCache;
  /**
   * Site and subject of the keys `shred` destroyed here (erasure): a request that read the subject's row
   * before may not reach the key after, neither to open or seal with it nor to cache it again. Only
   * in-flight requests need it, so the most recent suffice.
   */
  private readonly shredded: Lru<string, true>;

  constructor(dekCacheSize = 100_000) {
    this.deks = new DekCache(dekCacheSize);
    this.shredded = new Lru(SHREDDED);
  }

  get sealed(): boolean {
    return this.root === null;
  }

  load(root: Uint8Array): void {
    this.root = Buffer.from(root);
  }

  drop(): void {
    this.root?.fill(0);
    this.root = null;
    this.keks.clear();
    this.deks.clear();
  }

  private kek(site: string): AeadKey {
    if (this.root === null) throw new EnclaveError('sealed');
    let k = this.keks.get(site);
    if (!k) {
      const raw = siteKek(this.root, site);
      k = aeadKey(raw);
      raw.fill(0);
      this.keks.set(site, k);
    }
    return k;
  }

  /**
   * A key derived from the root key for one purpose (HKDF, its own label): the migration's digest keys,
   * the certificate signing key. The caller zeroes it when done.
   */
  derive(label: string): Buffer {
    if (this.root === null) throw new EnclaveError('sealed');
    return deriveKey(this.root, label);
  }

  /**
   * A fresh data key for a new subject, wrapped for storage. Not cached: another instance may register
   * the same subject first (the insert then keeps its key), so only a key unwrapped from the stored row
   * may seal or open that subject's records.
   */
  newSubjectKey(site: string, subject: string): { wrapped: Uint8Array } {
    this.shredded.delete(cacheKeyOf(site, subject));
    const raw = randomKey();
    try {
      return { wrapped: seal(this.kek(site), raw, subjectKeyAad(site, subject, KEY_ID)) };
    } finally {
      raw.fill(0);
    }
  }

  /** Re-wraps a subject's data key for another site (re-homing). */
  rewrap(fromSite: string, toSite: string, subject: string, wrapped: Uint8Array): Uint8Array {
    const raw = open(this.kek(fromSite), wrapped, subjectKeyAad(fromSite, subject, KEY_ID));
    try {
      return seal(this.kek(toSite), raw, subjectKeyAad(toSite, subject, KEY_ID));
    } finally {
      raw.fill(0);
    }
  }

  unwrap(site: string, subject: string, wrapped: Uint8Array): AeadKey {
    const cacheKey = cacheKeyOf(site, subject);
    const hit = this.deks.get(cacheKey, wrapped);
    if (hit) return hit;
    const raw = open(this.kek(site), wrapped, subjectKeyAad(site, subject, KEY_ID));
    try {
      // A key shredded since the caller read the row: the subject was erased meanwhile.
      if (this.shredded.get(cacheKey) !== undefined) {
        throw new EnclaveError('subject_moving', `subject "${subject}" was erased while this request ran; retry`);
      }
      this.deks.put(cacheKey, wrapped, raw);
      return aeadKey(raw);
    } finally {
      raw.fill(0);
    }
  }

  /** Drops the subject's data key from the cache (its copy at `site` was purged after a re-home). */
  forget(site: string, subject: string): void {
    this.deks.delete(cacheKeyOf(site, subject));
  }

  /**
   * Destroys the erased subject's data key here: dropped from the cache and, from now on, refused even
   * to a request that read the subject's row before the erasure. Not for re-homes: a subject may come
   * back to a site (through another instance too), and a read under way during a move reveals nothing
   * the subject's records at the new site do not hold.
   */
  shred(site: string, subject: string): void {
    const cacheKey = cacheKeyOf(site, subject);
    this.shredded.set(cacheKey, true);
    this.deks.delete(cacheKey);
  }

  /**
   * Undoes `shred` for an erasure the store refused or that failed before it committed: the subject lives
   * on at `site`, and its key opens again (unwrapped afresh from the stored row). An erasure shreds before
   * it writes, so that no read of this instance opens the key once the erased row is committed.
   */
  unshred(site: string, subject: string): void {
    this.shredded.delete(cacheKeyOf(site, subject));
  }
}
