// One subject id, one home site, across instances (core/store.ts SubjectClaimStore). Home sites are
// separate stores sharing no unique key: two instances registering one id at once, for residents of two
// countries, each found no subject and stored theirs at the home site of their country. A registration
// now first claims the id in the control store; the claim taken first decides, and the other is told the
// subject is being registered. Claims name the id by HMAC-SHA256 under a key derived for this purpose, so
// the control store, which serves every jurisdiction, holds no directory of their subject ids.
// Record ids have the same problem when created: the vault claims them too (RECORD_CLAIM_LABEL), under a
// key of their own, in a table of their own (Store.recordClaims), only for as long as a create checks the
// other sites and stores.
import { createHmac, createSecretKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Lru } from '../core/lru.ts';
import type { SubjectClaimStore } from '../core/store.ts';
import { holderGone } from '../storage/process-alive.ts';
import type { Keyring } from './keyring.ts';

const CLAIM_KEY_LABEL = 'subject/claim/v1';
/** The key of record-id claims: (collection, id) pairs, named apart from subject ids by the key alone. */
export const RECORD_CLAIM_LABEL = 'record/claim/v1';
/** How long a registration waits for another's claim to settle: one registration is a log entry and an insert. */
const SETTLE_MS = 2_000;
const SETTLE_POLL_MS = 20;
/** Claims held and not yet completed or let go that are remembered (more are named by the key again). */
const IN_FLIGHT = 100_000;

/** What a claim of some ids gave: the ids held now, and among them those taken over from a holder that died. */
export interface Claimed {
  readonly held: ReadonlySet<string>;
  /** Their earlier holder may have stored the subject's row before it died: look again before storing. */
  readonly tookOver: ReadonlySet<string>;
  /** The claim keys of the ids held, for releaseKeys (transient claims are let go by these, sealed or not). */
  readonly keys: readonly string[];
}

export class SubjectClaims {
  private readonly store: SubjectClaimStore;
  private readonly keyring: Keyring;
  private readonly holder: string;
  private readonly clock: () => number;
  /** The keyring label of the key that names the ids. */
  private readonly label: string;
  /** Claims let go once their work is done (record ids), not flushed to disk: see SubjectClaimStore.claim. */
  private readonly transient: boolean;
  /**
   * Id → claim key of the claims this holder took and has not completed or let go yet: a seal drops the
   * key they were named with, and a registration it interrupts must still complete or let go of its
   * claim (else other instances refuse the id as being registered for as long as this process lives).
   * Keyed hashes such as the control store holds, not the key.
   */
  private readonly inFlight = new Lru<string, string>(IN_FLIGHT);

  constructor(deps: { store: SubjectClaimStore; keyring: Keyring; holder: string; clock: () => number; label?: string; transient?: boolean }) {
    this.store = deps.store;
    this.keyring = deps.keyring;
    this.holder = deps.holder;
    this.clock = deps.clock;
    this.label = deps.label ?? CLAIM_KEY_LABEL;
    this.transient = deps.transient ?? false;
  }

  /**
   * Claims the ids for this holder. An id is held when no one had claimed it, or its claim was left
   * incomplete by a holder that died (storage/process-alive.ts: its process is gone on this host, or its
   * lease ran out on another) or by this holder itself (an earlier attempt that failed: the vault runs the
   * registrations, and the creates, of one id one at a time in this process). A completed claim is never
   * held again: its subject exists.
   */
  async claim(ids: readonly string[]): Promise<Claimed> {
    // Nothing to claim (a bulk page of subjects all known): no key, no store transaction.
    if (ids.length === 0) return { held: new Set(), tookOver: new Set(), keys: [] };
    const keys = this.keysOf(ids);
    const now = this.clock();
    const inserted = await this.store.claim([...keys.keys()], this.holder, now, this.transient);
    const held = new Set<string>();
    const tookOver = new Set<string>();
    const heldKeys: string[] = [];
    const rest: string[] = [];
    for (const [key, id] of keys) {
      if (inserted.has(key)) {
        held.add(id);
        heldKeys.push(key);
        this.track(id, key);
      } else rest.push(key);
    }
    try {
      if (rest.length > 0) {
        for (const c of (await this.store.getMany(rest)).values()) {
          if (c.completed) continue;
          const stale = c.holder === this.holder || holderGone(c.holder, now, c.claimedAt);
          if (stale && (await this.store.takeOver(c, this.holder, now))) {
            const id = keys.get(c.key) ?? '';
            held.add(id);
            tookOver.add(id);
            heldKeys.push(c.key);
            this.track(id, c.key);
          }
        }
      }
    } catch (err) {
      // The caller never learns of the claims taken so far: let go of them here, or other instances
      // would refuse their ids as being registered (or created) for as long as this process lives.
      await this.releaseKeys(heldKeys);
      for (const id of held) this.inFlight.delete(id);
      throw err;
    }
    return { held, tookOver, keys: heldKeys };
  }

  /**
   * Remembers a claim not yet completed or let go by its key (see inFlight). Transient claims are not:
   * their holder keeps the keys (Claimed.keys) for releaseKeys, which spares a migration's page thousands
   * of entries kept alive through its write.
   */
  private track(id: string, key: string): void {
    if (!this.transient) this.inFlight.set(id, key);
  }

  /** Marks the claims of ids whose rows are stored as completed; returns the ids whose claim this holder had lost. */
  async complete(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const keys = this.keysOf(ids);
    const done = await this.store.complete([...keys.keys()], this.holder);
    // The claims lost meanwhile are still named: the caller waits for them to settle.
    for (const [key, id] of keys) if (done.has(key)) this.inFlight.delete(id);
    return [...keys].filter(([key]) => !done.has(key)).map(([, id]) => id);
  }

  /**
   * Waits, at most about two seconds of real time, until the claims of ids are completed or let go: a
   * registration under way through another instance is short, and the caller then finds its subject
   * instead of refusing the id. Returns the ids whose claims are still under way.
   */
  async settled(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const keys = this.keysOf(ids);
    let pending = [...keys.keys()];
    const deadline = performance.now() + SETTLE_MS;
    while (pending.length > 0) {
      const now = await this.store.getMany(pending);
      pending = pending.filter((k) => now.get(k)?.completed === false);
      if (pending.length === 0 || performance.now() >= deadline) break;
      await sleep(SETTLE_POLL_MS);
    }
    for (const id of ids) this.inFlight.delete(id);
    return pending.map((k) => keys.get(k) ?? '');
  }

  /**
   * Gives an existing subject (registered before the claims) its completed claim, if no one has
   * claimed its id: a claim left incomplete by another holder is that registration's to complete (it
   * finds the subject).
   */
  async adopt(id: string): Promise<void> {
    const { held } = await this.claim([id]);
    if (held.has(id)) await this.complete([id]);
  }

  /** Lets go of the claims of ids not registered after all. Best effort: a claim left behind is taken over once this process is gone. */
  async release(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    let keys: string[] = [];
    try {
      // Sealed since the claim, the ids this holder claimed are still named (inFlight).
      keys = [...this.keysOf(ids).keys()];
    } catch {
      // Best effort, as said.
    }
    await this.releaseKeys(keys);
    for (const id of ids) this.inFlight.delete(id);
  }

  /** Lets go of claims by their keys (Claimed.keys). Best effort, as release. */
  async releaseKeys(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.store.release(keys, this.holder, this.transient);
    } catch {
      // Best effort, as release says.
    }
  }

  /** Claim key → subject id; the root key is needed only for ids this holder holds no claim of. */
  private keysOf(ids: readonly string[]): Map<string, string> {
    const keys = new Map<string, string>();
    const unknown: string[] = [];
    for (const id of ids) {
      const known = this.inFlight.get(id);
      if (known === undefined) unknown.push(id);
      else keys.set(known, id);
    }
    if (unknown.length === 0) return keys;
    const secret = this.keyring.derive(this.label);
    // One KeyObject per call: an HMAC keyed by a raw Buffer imports the key each time (8 against 1.3 µs
    // an id here), and a migration's page claims thousands.
    const key = createSecretKey(secret);
    secret.fill(0);
    for (const id of unknown) keys.set(createHmac('sha256', key).update(id).digest('hex'), id);
    return keys;
  }
}
