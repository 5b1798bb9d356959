// Shamir sealing (as in HashiCorp Vault): the root key exists only as n shares held by the gatekeeper
// officers; k of them reconstruct it in memory. The seal record keeps a fingerprint per share and a check
// value of the root key, never the key. Creating the root key, unsealing and sealing are logged in the
// transparency log; an unseal that cannot be logged is undone (fail closed).
import { randomBytes } from 'node:crypto';
import { GOVERNED_SECTIONS, changedSections, type ConfigDigests, type GovernedSection } from '../core/config-digest.ts';
import { EnclaveError } from '../core/errors.ts';
import type { EventLog, LogActor } from '../core/event-log.ts';
import type { MetaStore } from '../core/store.ts';
import { rootCheck, rootCheckMatches } from '../crypto/key-derivation.ts';
import { combineShares, shareFingerprint, splitSecret } from '../crypto/shamir-shares.ts';
import type { Keyring } from './keyring.ts';

const META_KEY = 'seal';
/** The configuration's digests as of the last unseal (or init): what the next one is compared with. */
const CONFIG_KEY = 'seal.configuration';

export interface SealRecord {
  readonly version: 1;
  readonly threshold: number;
  readonly officers: readonly { readonly name: string; readonly fingerprint: string }[];
  readonly rootCheck: string;
  readonly createdAt: string;
  /**
   * Written with the root key and cleared once init has handed out its shares and tokens: a record
   * still marked was left by an init that failed or was killed on the way (on PostgreSQL, nothing init
   * wrote is removed again), whose shares nobody holds. Such an enclave is not initialized: init may
   * create its root key again.
   */
  readonly initializing?: true;
}

export interface SealStatus {
  readonly initialized: boolean;
  readonly sealed: boolean;
  readonly threshold: number;
  readonly shares: number;
  /** Shares entered toward the current unseal attempt. */
  readonly progress: number;
  /** Officers whose shares were entered in the current attempt. */
  readonly entered: readonly string[];
  /**
   * The governed sections of the configuration that changed since the last unseal (or init), which the
   * next unseal logs; null when none was recorded (an enclave initialized before unseals logged it).
   */
  readonly configuration_changed: readonly GovernedSection[] | null;
}

export interface OfficerShare {
  readonly officer: string;
  readonly share: string;
}

/** Something else that holds keys derived from the root key (the log's signing and subject keys). */
export interface RootKeyHolder {
  unsealed(root: Uint8Array): Promise<void>;
  sealedNow(): void;
}

export interface SealOptions {
  /** Where key.created, enclave.unsealed and enclave.sealed are logged. */
  readonly log?: EventLog;
  readonly holders?: readonly RootKeyHolder[];
  /** The running configuration's digests (config-digest.ts): logged by each unseal, compared with the last. */
  readonly configuration?: ConfigDigests;
}

export class SealService {
  private record: SealRecord | undefined;
  private readonly pending = new Map<string, { officer: string; share: string }>();
  /** Counts seals: an unseal begun before a seal must not complete after it. */
  private seals = 0;
  /** The unseal under way, loading the holders' keys and logging before it opens the keyring: one at a time. */
  private unsealing: object | null = null;
  private readonly meta: MetaStore;
  private readonly keyring: Keyring;
  private readonly log: EventLog | undefined;
  private readonly holders: readonly RootKeyHolder[];
  private readonly configuration: ConfigDigests | undefined;
  /** The digests recorded by the last unseal or init. */
  private lastConfiguration: ConfigDigests | undefined;

  constructor(meta: MetaStore, keyring: Keyring, options: SealOptions = {}) {
    this.meta = meta;
    this.keyring = keyring;
    this.log = options.log;
    this.holders = options.holders ?? [];
    this.configuration = options.configuration;
  }

  /** A seal service loaded from the control store and checked against the configured split (checkConfigured). */
  static async open(meta: MetaStore, keyring: Keyring, configured: { readonly threshold: number; readonly officers: readonly string[] }, options: SealOptions = {}): Promise<SealService> {
    const seal = new SealService(meta, keyring, options);
    await seal.load();
    seal.checkConfigured(configured);
    return seal;
  }

  async load(): Promise<void> {
    const raw = await this.meta.get(META_KEY);
    this.record = raw === undefined ? undefined : (JSON.parse(raw) as SealRecord);
    this.lastConfiguration = recordedDigests(await this.meta.get(CONFIG_KEY));
  }

  /** The sections changed since the last unseal; null when nothing was recorded or no configuration is known. */
  private configurationChanged(): GovernedSection[] | null {
    return this.configuration === undefined || this.lastConfiguration === undefined ? null : changedSections(this.lastConfiguration, this.configuration);
  }

  /**
   * Records the running configuration's digests as the ones the next unseal is compared with. Best
   * effort, after the entry that is the record: a store that refuses them only makes the next unseal
   * report the same sections again, which must not undo a logged unseal nor lose the shares of init.
   */
  private async recordConfiguration(): Promise<void> {
    if (this.configuration === undefined) return;
    try {
      await this.meta.put(CONFIG_KEY, JSON.stringify(this.configuration));
      this.lastConfiguration = this.configuration;
    } catch {
      // The last recorded digests stay the ones compared with.
    }
  }

  /** Re-reads the digests of the last unseal: another instance on this control store may have unsealed since this one opened. */
  private async reloadConfiguration(): Promise<void> {
    if (this.configuration === undefined) return;
    try {
      this.lastConfiguration = recordedDigests(await this.meta.get(CONFIG_KEY));
    } catch {
      // The store did not answer: compared with what was read at open, as before.
    }
  }

  /**
   * Refuses a configuration whose seal section differs from the split made at init: the shares already
   * handed out decide how the enclave unseals, and a file saying otherwise would mislead its operators.
   */
  checkConfigured(configured: { readonly threshold: number; readonly officers: readonly string[] }): void {
    const r = this.record;
    if (!r || r.initializing) return;
    const split = r.officers.map((o) => o.name);
    // The order of the names does not matter: each share is recognized by its fingerprint.
    if (r.threshold === configured.threshold && [...split].sort().join('\u0000') === [...configured.officers].sort().join('\u0000')) return;
    const show = (k: number, names: readonly string[]) => `${k} of ${names.join(', ')}`;
    throw new EnclaveError(
      'invalid_config',
      `seal says ${show(configured.threshold, configured.officers)}, but the root key was split at init for ${show(r.threshold, split)}; the shares handed out cannot change without splitting a new key, so put the seal section back as it was`,
    );
  }

  /**
   * Creates the root key and splits it, one share per officer. The shares are shown once. `pending`
   * (init): the enclave counts as initialized only after completeInitialization, once the shares can be
   * handed out; until then a new init may replace the key.
   */
  async initialize(officers: readonly string[], threshold: number, options: { pending?: boolean } = {}): Promise<OfficerShare[]> {
    if (threshold < 2 || threshold > officers.length) {
      throw new EnclaveError('invalid_config', `seal threshold must be between 2 and the number of officers (${officers.length})`);
    }
    const root = randomBytes(32);
    const shares = await splitSecret(root, officers.length, threshold);
    const record: SealRecord = {
      version: 1,
      threshold,
      officers: officers.map((name, i) => ({ name, fingerprint: shareFingerprint(shares[i] ?? '') })),
      rootCheck: rootCheck(root),
      createdAt: new Date().toISOString(),
      ...(options.pending === true ? { initializing: true as const } : {}),
    };
    // Not needed past here, also when refused below.
    root.fill(0);
    const text = JSON.stringify(record);
    if (!(await this.meta.putIfAbsent(META_KEY, text))) {
      // The root key of an init that never completed is replaced: no one was handed its shares.
      const current = await this.meta.get(META_KEY);
      if (current === undefined || (JSON.parse(current) as SealRecord).initializing !== true) {
        throw new EnclaveError('already_initialized', 'this enclave already has a root key; refusing to create another');
      }
      // Only the record read: of two inits replacing it at once, one writes its key.
      if (!(await this.meta.replace(META_KEY, current, text))) {
        throw new EnclaveError('already_initialized', 'another init created this enclave\'s root key meanwhile; refusing to create another');
      }
    }
    this.record = record;
    await this.log?.append({ type: 'key.created', details: { key: 'root', threshold, officers: [...officers], ...this.configurationDetails() } });
    await this.recordConfiguration();
    return officers.map((officer, i) => ({ officer, share: shares[i] ?? '' }));
  }

  /** Marks init complete, once its shares and tokens are ready to be handed out (SealRecord.initializing). */
  async completeInitialization(): Promise<void> {
    const r = this.record;
    if (!r?.initializing) return;
    const complete: SealRecord = { version: r.version, threshold: r.threshold, officers: r.officers, rootCheck: r.rootCheck, createdAt: r.createdAt };
    // Only over this init's own record: another init may have replaced it (taking it for a stranded one),
    // and its key is the one stored; this init's shares unseal nothing and must not be handed out.
    if (!(await this.meta.replace(META_KEY, JSON.stringify(r), JSON.stringify(complete)))) {
      throw new EnclaveError('already_initialized', 'another init replaced the root key this init created, before it completed; its shares are not handed out');
    }
    this.record = complete;
  }

  status(): SealStatus {
    const r = this.record?.initializing ? undefined : this.record;
    return {
      initialized: r !== undefined,
      sealed: this.keyring.sealed,
      threshold: r?.threshold ?? 0,
      shares: r?.officers.length ?? 0,
      progress: this.pending.size,
      entered: [...this.pending.values()].map((p) => p.officer),
      configuration_changed: this.configurationChanged(),
    };
  }

  /** Enters one share. Unseals when the threshold is reached. */
  async submit(share: string): Promise<SealStatus> {
    await this.enter(share, true);
    return this.status();
  }

  /**
   * Enters one share as `submit` does, but a complete set is only checked against the root key, never
   * loaded, logged or handed to the holders: for a process that passes the shares on to the one that
   * unseals (a migration thread unseals its own copy, and that unseal is the one logged). True once the
   * entered shares are complete and reconstruct the root key.
   */
  async check(share: string): Promise<boolean> {
    return this.enter(share, false);
  }

  /** Whether this share completed a set that reconstructs the root key (false while more are needed, or once unsealed). */
  private async enter(share: string, load: boolean): Promise<boolean> {
    const r = this.record;
    if (!r || r.initializing) throw new EnclaveError('not_initialized', r ? 'enclave init did not complete (it failed or was stopped): run it again' : undefined);
    const fp = shareFingerprint(share);
    const officer = r.officers.find((o) => o.fingerprint === fp);
    // Checked unsealed too: a wrong share is refused whenever it is entered, not answered "unsealed".
    if (!officer) throw new EnclaveError('invalid_share', 'that share is not one of this enclave\'s unseal shares');
    if (!this.keyring.sealed) return false;
    if (this.pending.has(fp)) throw new EnclaveError('duplicate_share', `the share of officer ${officer.name} was already entered`);
    this.pending.set(fp, { officer: officer.name, share: share.trim() });
    if (this.pending.size < r.threshold) return false;
    const shares = [...this.pending.values()].map((p) => p.share);
    const officers = [...this.pending.values()].map((p) => p.officer);
    this.pending.clear();
    const seals = this.seals;
    const root = await combineShares(shares);
    try {
      if (!rootCheckMatches(root, r.rootCheck)) {
        throw new EnclaveError('unseal_failed', 'the entered shares do not reconstruct this enclave\'s root key; start again');
      }
      if (!load) return true;
      this.sealedSince(seals);
      // Another set completed, or is being completed, while this one was combined.
      if (!this.keyring.sealed || this.unsealing !== null) return false;
      const mine = {};
      this.unsealing = mine;
      // Shares entered meanwhile belong to no attempt now.
      this.pending.clear();
      try {
        for (const h of this.holders) {
          await h.unsealed(root);
          this.sealedSince(seals);
        }
        await this.reloadConfiguration();
        this.sealedSince(seals);
        const changed = this.configurationChanged();
        await this.log?.append({ type: 'enclave.unsealed', details: { officers, ...this.configurationDetails(), ...(changed === null ? {} : { configuration_changed: changed }) } });
        this.sealedSince(seals);
        await this.recordConfiguration();
        // Again: a seal given while the digests were written must not be followed by loading the keyring.
        this.sealedSince(seals);
        // Last: until now nothing could be decrypted. A read in the window before would have been logged
        // as decided while sealed, naming no subject, while it served protected data (invariant 4).
        this.keyring.load(root);
        // Shares entered while it ran belong to no attempt either.
        this.pending.clear();
      } catch (err) {
        // The holders' keys are this attempt's (the keyring was not loaded): a seal meanwhile already
        // dropped them, but a holder may have taken its own since. Unless a later unseal is under way or
        // done: the keys are then its own. Shares entered since a seal are the next attempt's.
        if (this.keyring.sealed && (this.unsealing === mine || this.unsealing === null)) for (const h of this.holders) h.sealedNow();
        throw err;
      } finally {
        if (this.unsealing === mine) this.unsealing = null;
      }
    } finally {
      root.fill(0);
    }
    return true;
  }

  /** The digests an entry names, when the configuration is known. */
  private configurationDetails(): { configuration?: Record<string, string> } {
    return this.configuration === undefined ? {} : { configuration: { ...this.configuration } };
  }

  /** Refuses to go on with an unseal once a seal was given after it began. */
  private sealedSince(seals: number): void {
    if (this.seals !== seals) throw new EnclaveError('sealed', 'the enclave was sealed while these shares were being entered; it stays sealed until they are entered again');
  }

  /** Abandons a partial unseal attempt. */
  reset(): void {
    this.pending.clear();
  }

  private dropKeys(): void {
    this.pending.clear();
    this.keyring.drop();
    for (const h of this.holders) h.sealedNow();
    // An unseal under way finds the seal (sealedSince) and gives up; the next may start at once.
    this.unsealing = null;
  }

  /**
   * Seals now: every key leaves memory at once, whatever the log does. The enclave.sealed entry is
   * appended without waiting; `sealLogged` waits for it.
   */
  seal(actor?: LogActor): SealStatus {
    this.seals += 1;
    this.dropKeys();
    this.appendSealed(actor).catch(() => {});
    return this.status();
  }

  /** Seals now, then waits until enclave.sealed is durable (log_unavailable if not; the enclave stays sealed). */
  async sealLogged(actor?: LogActor): Promise<SealStatus> {
    this.seals += 1;
    this.dropKeys();
    await this.appendSealed(actor);
    return this.status();
  }

  private async appendSealed(actor: LogActor | undefined): Promise<void> {
    await this.log?.append({ type: 'enclave.sealed', ...(actor ? { principal: actor } : {}), details: {} });
  }
}

/**
 * The digests recorded in the control store, or undefined when there are none or they cannot be read
 * (not JSON, not a section → digest object): taken as never recorded rather than failing the enclave's
 * start, since the log's entries, not this copy, are the record; the next unseal writes it again.
 */
function recordedDigests(text: string | undefined): ConfigDigests | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const digests = value as Record<string, unknown>;
  return GOVERNED_SECTIONS.every((s) => digests[s] === undefined || typeof digests[s] === 'string') ? digests : undefined;
}
