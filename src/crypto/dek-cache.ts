// The unwrapped data keys of the most recently used subjects, in one buffer that sealing zeroes.
//
// A KeyObject per cached subject, with a copy of its wrapped key to check hits against, cost about
// 1.2 KiB of native memory each (120 MiB for 100,000 subjects). Here a subject costs a 96-byte slot
// and an LRU entry, and the keys sit in memory the keyring can wipe (a KeyObject's copy is only freed
// by the GC). Each use builds a short-lived KeyObject from its slot, under a microsecond: Node's
// AES-GCM with a raw Buffer key costs several times more than with a KeyObject.
import { createSecretKey } from 'node:crypto';
import { Lru } from '../core/lru.ts';
import { KEY_BYTES, type AeadKey } from './aead.ts';

/** Room for a wrapped key: version (1) + nonce (12) + key (32) + tag (16) = 61 bytes; longer ones are not cached. */
const WRAPPED_MAX = 64;
const SLOT = WRAPPED_MAX + KEY_BYTES;

export class DekCache {
  /** Cache key → slot number, in recency order. */
  private readonly slots: Lru<string, number>;
  private readonly bytes: Buffer;
  private readonly wrappedLength: Uint8Array;
  /** Slots below `used` that `delete` freed. */
  private readonly free: number[] = [];
  private used = 0;

  constructor(capacity: number) {
    const n = Math.max(1, Math.trunc(capacity));
    this.slots = new Lru(n);
    // Pages never written are never resident: a cache that stays small costs what it holds.
    this.bytes = Buffer.alloc(n * SLOT);
    this.wrappedLength = new Uint8Array(n);
  }

  /** The data key cached for `key`, if it was unwrapped from exactly `wrapped`. */
  get(key: string, wrapped: Uint8Array): AeadKey | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    const at = slot * SLOT;
    const length = this.wrappedLength[slot];
    if (length !== wrapped.length || this.bytes.compare(wrapped, 0, length, at, at + length) !== 0) return undefined;
    return createSecretKey(this.bytes.subarray(at + WRAPPED_MAX, at + SLOT));
  }

  /** Keeps `raw` (copied) as the data key unwrapped from `wrapped`, evicting the least recently used. */
  put(key: string, wrapped: Uint8Array, raw: Uint8Array): void {
    if (wrapped.length > WRAPPED_MAX || raw.length !== KEY_BYTES) return;
    const slot = this.slotFor(key);
    this.slots.set(key, slot);
    const at = this.wipe(slot);
    this.bytes.set(wrapped, at);
    this.bytes.set(raw, at + WRAPPED_MAX);
    this.wrappedLength[slot] = wrapped.length;
  }

  /** The key's own slot, else a freed one, else the least recently used one's when full, else a new one. */
  private slotFor(key: string): number {
    const own = this.slots.get(key) ?? this.free.pop();
    if (own !== undefined) return own;
    if (this.slots.full) return this.slots.shift()?.[1] ?? 0;
    return this.used++;
  }

  /** Forgets and wipes the key cached for `key`. */
  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.wipe(slot);
    this.free.push(slot);
  }

  private wipe(slot: number): number {
    const at = slot * SLOT;
    this.bytes.fill(0, at, at + SLOT);
    this.wrappedLength[slot] = 0;
    return at;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Forgets and wipes every key. */
  clear(): void {
    this.slots.clear();
    // Slots at or past `used` were never written; wiping them would only make their pages resident.
    this.bytes.fill(0, 0, this.used * SLOT);
    this.wrappedLength.fill(0, 0, this.used);
    this.free.length = 0;
    this.used = 0;
  }
}
