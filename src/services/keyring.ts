// Holds the root key while unsealed, derives the sites' key-encryption keys, and wraps and unwraps the
// per-subject data keys. Sealing drops every key from memory.
import { EnclaveError } from '../core/errors.ts';
import { Lru } from '../core/lru.ts';
import { subjectKeyAad } from '../core/record-model.ts';
import { open, randomKey, seal } from '../crypto/aead.ts';
import { siteKek } from '../crypto/key-derivation.ts';

export const KEY_ID = 'k1';

export class Keyring {
  private root: Buffer | null = null;
  private readonly keks = new Map<string, Buffer>();
  private readonly deks: Lru<string, Buffer>;

  constructor(dekCacheSize = 50_000) {
    this.deks = new Lru(dekCacheSize);
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
    for (const k of this.keks.values()) k.fill(0);
    this.keks.clear();
    this.deks.clear();
  }

  private kek(site: string): Buffer {
    if (this.root === null) throw new EnclaveError('sealed');
    let k = this.keks.get(site);
    if (!k) {
      k = siteKek(this.root, site);
      this.keks.set(site, k);
    }
    return k;
  }

  /** A fresh data key for a new subject, returned with its wrapped form for storage. */
  newSubjectKey(site: string, subject: string): { dek: Buffer; wrapped: Uint8Array } {
    const dek = randomKey();
    const wrapped = this.wrap(site, subject, dek);
    this.deks.set(`${site}\u0000${subject}`, dek);
    return { dek, wrapped };
  }

  wrap(site: string, subject: string, dek: Uint8Array): Uint8Array {
    return seal(this.kek(site), dek, subjectKeyAad(site, subject, KEY_ID));
  }

  unwrap(site: string, subject: string, wrapped: Uint8Array): Buffer {
    const cacheKey = `${site}\u0000${subject}`;
    const hit = this.deks.get(cacheKey);
    if (hit) return hit;
    const dek = open(this.kek(site), wrapped, subjectKeyAad(site, subject, KEY_ID));
    this.deks.set(cacheKey, dek);
    return dek;
  }

  forget(site: string, subject: string): void {
    const cacheKey = `${site}\u0000${subject}`;
    this.deks.get(cacheKey)?.fill(0);
    this.deks.delete(cacheKey);
  }
}
