// Tokens that authenticated recently, by hash, so that a request does not cost a control-store query
// for its token. An entry is trusted for at most `ttlMs` after it was read from the store (the
// shared-state refresh interval): a token revoked through another instance, or by any other process
// writing the control store, stops working here within that window. A revocation made through this
// instance clears the cache at once. Expiry is checked on every use (the row carries it); unknown
// tokens are never cached, so a token issued elsewhere works here on its first request.
import { Lru } from '../core/lru.ts';
import type { TokenWithPrincipal } from '../core/store.ts';

interface Entry {
  readonly found: TokenWithPrincipal;
  readonly loadedAt: number;
}

export class TokenCache {
  private readonly entries: Lru<string, Entry>;
  private readonly ttlMs: number;
  /** Bumped by clear(): a store read that began before a revocation must not repopulate the cache after it. */
  private generation = 0;

  constructor(options: { ttlMs: number; capacity?: number }) {
    this.ttlMs = options.ttlMs;
    this.entries = new Lru(options.capacity ?? 10_000);
  }

  /** The token as read at most `ttlMs` before `now`, if cached. */
  get(hash: string, now: number): TokenWithPrincipal | undefined {
    const e = this.entries.get(hash);
    if (e === undefined) return undefined;
    const age = now - e.loadedAt;
    if (age >= 0 && age < this.ttlMs) return e.found;
    this.entries.delete(hash);
    return undefined;
  }

  /** A token for the next `ttlMs`, unless the cache was cleared since `generation` was taken (before the read). */
  set(hash: string, found: TokenWithPrincipal, loadedAt: number, generation: number): void {
    if (generation === this.generation) this.entries.set(hash, { found, loadedAt });
  }

  get currentGeneration(): number {
    return this.generation;
  }

  /** After a revocation through this instance: every token is read from the store again. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
