// Shamir sealing (as in HashiCorp Vault): the root key is sealed by an unseal key that exists only as n
// shares held by the gatekeeper officers; k of them reconstruct it in memory. The seal record keeps a
// fingerprint per share, the sealed root key and a check value of it, never a key in clear. A rekey
// splits a new unseal key among the officers then configured, so shares can be replaced (an officer
// leaves, a share is exposed) without touching the root key or any data. Creating the root key,
// unsealing, sealing and rekeying are logged in the transparency log; an unseal or a rekey that cannot be
// logged is undone (fail closed).
import { createHash, randomBytes } from 'node:crypto';
import { GOVERNED_SECTIONS, changedSections, type ConfigDigests, type GovernedSection } from '../core/config-digest.ts';
import { EnclaveError } from '../core/errors.ts';
import type { EventLog, LogActor, LogValue } from '../core/event-log.ts';
import type { MetaStore } from '../core/store.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { rekeyLogMac, rekeyLogMacMatches, rootCheck, rootCheckMatches } from '../crypto/key-derivation.ts';
import { openRoot, sealRoot } from '../crypto/sealed-root.ts';
import { combineShares, shareFingerprint, splitSecret } from '../crypto/shamir-shares.ts';
import type { Keyring } from './keyring.ts';

const META_KEY = 'seal';
/** The configuration's digests as of the last unseal (or init): what the next one is compared with. */
const CONFIG_KEY = 'seal.configuration';
/** The last rekey: its new officers' fingerprints while it is under way, so their shares are told apart if it never completes. */
const REKEY_KEY = 'seal.rekey';

interface SealRecordFields {
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

/**
 * Version 1 (enclaves initialized before rekeys existed): the shares are shares of the root key itself.
 * Version 2: shares of an unseal key, which seals the root key (`sealedRoot`, crypto/sealed-root.ts).
 */
export type SealRecord =
  | (SealRecordFields & { readonly version: 1 })
  | (SealRecordFields & {
      readonly version: 2;
      readonly sealedRoot: string;
      readonly rekeyedAt?: string;
      readonly pendingLog?: PendingRekeyLog;
      /** The receipt that this split's rekey is in the log: a MAC under the root key (loggedText). */
      readonly loggedMac?: string;
    });

/**
 * A rekey's key.rekeyed entry, in its seal record from the compare-and-set that puts the new split in
 * force until the entry is in the log: a rekey whose process dies in between is logged by the next
 * unseal or rekey. MACed under a key derived from the root key, over the entry and the split it came
 * with (rekeyLogText), so a writer of the control store cannot have the enclave log an entry of its own.
 * `claimed`: a later unseal or rekey began to log it, after which the rekey is no longer undone.
 */
interface PendingRekeyLog {
  readonly details: { readonly [key: string]: LogValue };
  readonly mac: string;
  readonly claimed?: true;
}

/** A rekey's marker (REKEY_KEY): started, and completed once its record is the enclave's. */
interface RekeyMarker {
  readonly startedAt: string;
  readonly fingerprints: readonly string[];
  readonly completedAt?: string;
}

/** A split of the root key: how many of which officers' shares open it. */
export interface SealSplit {
  readonly threshold: number;
  readonly officers: readonly string[];
}

export interface RekeyResult {
  /** The new shares, one per officer of the new split (already handed out when this returns). */
  readonly shares: readonly OfficerShare[];
  readonly threshold: number;
  readonly previous: SealSplit;
  /**
   * The previous shares were shares of the root key itself (a version 1 record): the enclave refuses
   * them from now on, but k of them still rebuild the root key outside it.
   */
  readonly previousWereRootShares: boolean;
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
  /** The record's text as stored: a rekey through another process is seen when it differs. */
  private recordText: string | undefined;
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

  /**
   * A seal service loaded from the control store and checked against the configured split
   * (checkConfigured); `configured` null: not checked (a rekey, which makes the configured split the enclave's).
   */
  static async open(meta: MetaStore, keyring: Keyring, configured: SealSplit | null, options: SealOptions = {}): Promise<SealService> {
    const seal = new SealService(meta, keyring, options);
    await seal.load();
    if (configured !== null) seal.checkConfigured(configured);
    return seal;
  }

  async load(): Promise<void> {
    this.use(await this.meta.get(META_KEY));
    this.lastConfiguration = recordedDigests(await this.meta.get(CONFIG_KEY));
  }

  private use(raw: string | undefined): void {
    this.record = raw === undefined ? undefined : parseRecord(raw);
    this.recordText = raw;
  }

  /**
   * The record as stored now. A rekey by another process (or instance) replaces it: shares entered
   * toward an attempt under the previous one are forgotten, since they open nothing the record holds.
   */
  private async current(): Promise<SealRecord | undefined> {
    const raw = await this.meta.get(META_KEY);
    if (raw !== this.recordText) {
      const was = this.record;
      this.use(raw);
      // A rekey's log entry taken out of its record changes the text, not the split.
      if (!sameRecordSplit(was, this.record)) this.pending.clear();
    }
    return this.record;
  }

  /** The status with the record read again (another process may have rekeyed); the one in memory if the store does not answer. */
  async currentStatus(): Promise<SealStatus> {
    try {
      await this.current();
    } catch {
      // Seal status is what operators and probes read while something is wrong: it still answers.
    }
    return this.status();
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
  checkConfigured(configured: SealSplit): void {
    const r = this.record;
    if (!r || r.initializing) return;
    const split = r.officers.map((o) => o.name);
    // The order of the names does not matter: each share is recognized by its fingerprint.
    if (sameSplit({ threshold: r.threshold, officers: split }, configured)) return;
    const show = (k: number, names: readonly string[]) => `${k} of ${names.join(', ')}`;
    throw new EnclaveError(
      'invalid_config',
      `seal says ${show(configured.threshold, configured.officers)}, but the shares handed out are for ${show(r.threshold, split)}; to hand out new shares for the new section, ${r.threshold} of those officers run \`enclave rekey\` with it; until then put the seal section back as it was`,
    );
  }

  /**
   * Creates the root key and splits it, one share per officer. The shares are shown once. `pending`
   * (init): the enclave counts as initialized only after completeInitialization, once the shares can be
   * handed out; until then a new init may replace the key.
   */
  async initialize(officers: readonly string[], threshold: number, options: { pending?: boolean } = {}): Promise<OfficerShare[]> {
    checkSplit({ threshold, officers });
    const root = randomBytes(32);
    const check = rootCheck(root);
    let split: Split;
    let record: SealRecord;
    try {
      split = await splitUnsealKey(root, { threshold, officers });
      const created = { version: 2, threshold, officers: split.officers, rootCheck: check, sealedRoot: split.sealedRoot, createdAt: new Date().toISOString() } as const;
      record = {
        ...created,
        ...(options.pending === true ? { initializing: true as const } : {}),
        // The receipt that this split is in the log (key.created, below, before init completes): a record
        // in force with neither it nor a rekey's entry is logged as unverified (logRekeyInForce).
        ...(this.log === undefined ? {} : { loggedMac: rekeyLogMac(root, loggedText(created)) }),
      };
    } finally {
      // Not needed past here, also when refused below.
      root.fill(0);
    }
    const shares = split.shares;
    const text = JSON.stringify(record);
    if (!(await this.meta.putIfAbsent(META_KEY, text))) {
      // The root key of an init that never completed is replaced: no one was handed its shares.
      const current = await this.meta.get(META_KEY);
      if (current === undefined || parseRecord(current).initializing !== true) {
        throw new EnclaveError('already_initialized', 'this enclave already has a root key; refusing to create another');
      }
      // Only the record read: of two inits replacing it at once, one writes its key.
      if (!(await this.meta.replace(META_KEY, current, text))) {
        throw new EnclaveError('already_initialized', 'another init created this enclave\'s root key meanwhile; refusing to create another');
      }
    }
    this.use(text);
    await this.log?.append({ type: 'key.created', details: { key: 'root', threshold, officers: [...officers], split: splitId(record), ...this.configurationDetails() } });
    await this.recordConfiguration();
    return shares;
  }

  /** Marks init complete, once its shares and tokens are ready to be handed out (SealRecord.initializing). */
  async completeInitialization(): Promise<void> {
    const r = this.record;
    if (!r?.initializing) return;
    const complete: SealRecord = { ...r };
    delete (complete as { initializing?: true }).initializing;
    const text = JSON.stringify(complete);
    // Only over this init's own record: another init may have replaced it (taking it for a stranded one),
    // and its key is the one stored; this init's shares unseal nothing and must not be handed out.
    if (!(await this.meta.replace(META_KEY, JSON.stringify(r), text))) {
      throw new EnclaveError('already_initialized', 'another init replaced the root key this init created, before it completed; its shares are not handed out');
    }
    this.use(text);
  }

  /** The split the shares handed out are for (as of the record last read); undefined before init completes. */
  split(): SealSplit | undefined {
    const r = this.record?.initializing ? undefined : this.record;
    return r && { threshold: r.threshold, officers: r.officers.map((o) => o.name) };
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
   * unseals (a migration unseals its own copy of the enclave, and that unseal is the one logged). True once the
   * entered shares are complete and reconstruct the root key.
   */
  async check(share: string): Promise<boolean> {
    return this.enter(share, false);
  }

  /** Whether this share completed a set that reconstructs the root key (false while more are needed, or once unsealed). */
  private async enter(share: string, load: boolean): Promise<boolean> {
    // Taken before the record is read again: a seal given meanwhile ends the attempt this share was for.
    const seals = this.seals;
    const r = await this.current();
    this.sealedSince(seals);
    if (!r || r.initializing) throw new EnclaveError('not_initialized', r ? 'enclave init did not complete (it failed or was stopped): run it again' : undefined);
    const fp = shareFingerprint(share);
    const officer = r.officers.find((o) => o.fingerprint === fp);
    // Checked unsealed too: a wrong share is refused whenever it is entered, not answered "unsealed".
    if (!officer) throw await this.notAShare(r, fp);
    if (!this.keyring.sealed) return false;
    if (this.pending.has(fp)) throw new EnclaveError('duplicate_share', `the share of officer ${officer.name} was already entered`);
    this.pending.set(fp, { officer: officer.name, share: share.trim() });
    if (this.pending.size < r.threshold) return false;
    const shares = [...this.pending.values()].map((p) => p.share);
    const officers = [...this.pending.values()].map((p) => p.officer);
    this.pending.clear();
    const root = await recoverRoot(r, shares);
    try {
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
        await this.logRekeyInForce(root);
        // The shares must be those of the split in force: a rekey undone while they were entered has none.
        if (!sameRecordSplit(r, await this.current())) throw new EnclaveError('invalid_share', 'the seal changed while these shares were entered (a rekey was undone or completed): enter shares of the split in force');
        this.sealedSince(seals);
        const changed = this.configurationChanged();
        await this.log?.append({ type: 'enclave.unsealed', details: { officers, split: splitId(r), ...this.configurationDetails(), ...(changed === null ? {} : { configuration_changed: changed }) } });
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

  /** Why a share that is no officer's of the record is refused, naming a rekey that made or would have made it void. */
  private async notAShare(r: SealRecord, fp: string): Promise<EnclaveError> {
    const marker = rekeyMarker(await this.meta.get(REKEY_KEY).catch(() => undefined));
    if (marker !== undefined && marker.completedAt === undefined && marker.fingerprints.includes(fp)) {
      return new EnclaveError('invalid_share', `that share was made by an \`enclave rekey\` started at ${marker.startedAt} that did not complete: the shares from before it still unseal this enclave (run the rekey again to replace them)`);
    }
    const since = r.version === 2 && r.rekeyedAt !== undefined ? ` (the shares were replaced by \`enclave rekey\` at ${r.rekeyedAt}: shares from before then are void)` : '';
    return new EnclaveError('invalid_share', `that share is not one of this enclave's unseal shares${since}`);
  }

  /**
   * Replaces the officers' shares: k shares of the current split give the root key, which a new unseal
   * key seals, split for `target` (the configured seal section: other officers, another threshold, or the
   * same ones with fresh shares). The root key, and so every data key and the log's keys, stay as they
   * are, and the server need not be sealed. `handOut` receives the new shares before they take effect: a
   * rekey stopped before it completes leaves the previous shares in force (and says so when one of the
   * new ones is entered), never a split no one holds. Then the record is replaced if no other change came
   * first (rekey_conflict), and key.rekeyed is logged; a rekey that cannot be logged is undone.
   */
  async rekey(given: readonly string[], target: SealSplit, handOut: (shares: readonly OfficerShare[]) => Promise<void> | void): Promise<RekeyResult> {
    checkSplit(target);
    const r = await this.current();
    if (!r || r.initializing) throw new EnclaveError('not_initialized', r ? 'enclave init did not complete (it failed or was stopped): run it again' : undefined);
    const entered = new Map<string, string>();
    for (const share of given) {
      const fp = shareFingerprint(share);
      const officer = r.officers.find((o) => o.fingerprint === fp);
      if (!officer) throw await this.notAShare(r, fp);
      if (entered.has(officer.name)) throw new EnclaveError('duplicate_share', `the share of officer ${officer.name} was given twice`);
      entered.set(officer.name, share.trim());
    }
    if (entered.size < r.threshold) {
      throw new EnclaveError('unseal_failed', `a rekey needs ${r.threshold} shares of the current split; ${entered.size} given`);
    }
    const root = await recoverRoot(r, [...entered.values()].slice(0, r.threshold));
    const now = new Date().toISOString();
    const previous: SealSplit = { threshold: r.threshold, officers: r.officers.map((o) => o.name) };
    const details = { key: 'root', threshold: target.threshold, officers: [...target.officers], previous: { threshold: previous.threshold, officers: [...previous.officers] }, officers_entered: [...entered.keys()].slice(0, r.threshold) };
    let next: SealRecord;
    let split: Split;
    /** The record's receipt once its entry is logged (by this rekey or an unseal meanwhile). */
    let receipt: string;
    try {
      // An earlier rekey in force but not logged yet is logged before this one replaces it; and these
      // shares must still be those of the split in force (an undone rekey's are not).
      await this.logRekeyInForce(root);
      await this.current();
      if (!sameRecordSplit(r, this.record)) throw rekeyConflict();
      split = await splitUnsealKey(root, target);
      const record = { version: 2, threshold: target.threshold, officers: split.officers, rootCheck: r.rootCheck, sealedRoot: split.sealedRoot, createdAt: r.createdAt, rekeyedAt: now } as const;
      receipt = rekeyLogMac(root, loggedText(record));
      next = this.log === undefined ? record : { ...record, pendingLog: { details, mac: rekeyLogMac(root, pendingText(record, details)) } };
    } finally {
      root.fill(0);
    }
    const before = this.recordText ?? '';
    const marker: RekeyMarker = { startedAt: now, fingerprints: split.officers.map((o) => o.fingerprint) };
    await this.meta.put(REKEY_KEY, JSON.stringify(marker));
    await handOut(split.shares);
    const text = JSON.stringify(next);
    if (!(await this.meta.replace(META_KEY, before, text))) throw rekeyConflict();
    try {
      await this.log?.append({ type: 'key.rekeyed', details: { ...details, split: splitId(next), rekeyed_at: now } });
    } catch (err) {
      // Fail closed: a change of who can unseal that the log does not show is taken back, unless an
      // unseal or rekey holding the new shares has begun to log it meanwhile (claimed), or has logged it.
      if (await this.meta.replace(META_KEY, text, before).catch(() => false)) {
        throw new EnclaveError('log_unavailable', 'the transparency log could not record the rekey, so it was undone: the previous shares still unseal this enclave and the shares shown are void', { cause: err });
      }
      const inForce = await this.current().catch(() => undefined);
      const ours = inForce?.version === 2 && inForce.sealedRoot === split.sealedRoot;
      // Logged by an unseal meanwhile, as its receipt shows (the absence of the entry proves nothing:
      // anyone who writes the control store can take it out).
      if (!(ours && inForce.loggedMac === receipt)) throw notUndone(ours ? (inForce.pendingLog === undefined ? 'removed' : 'pending') : inForce === undefined ? 'unknown' : 'replaced', err);
    }
    if (this.log !== undefined) await this.markLogged(split.sealedRoot, receipt);
    await this.current();
    this.pending.clear();
    // Best effort: the marker only words the refusal of a share (notAShare).
    await this.meta.put(REKEY_KEY, JSON.stringify({ ...marker, completedAt: new Date().toISOString() })).catch(() => {});
    return { shares: split.shares, threshold: target.threshold, previous, previousWereRootShares: r.version === 1 };
  }

  /**
   * Logs the split in force unless its record holds the receipt that it was logged (loggedMac, written by
   * init and by each rekey once logged): a change of who can unseal is never left out of the log. Its entry, if the record holds one (pendingLog: the
   * rekey's process died between the record's compare-and-set and the log, or the log failed and the
   * rekey could not be undone), is claimed in the record first, so the rekey is no longer undone, and
   * appended `late`. A record with neither (written by an earlier build, or with its entry taken out by
   * a writer of the control store) is logged from what the record says, `late` and `unverified`. Run with
   * the root key before an unseal is logged and before another rekey, which fail while the log does; two
   * processes logging one rekey at once may both append it (the same `rekeyed_at`).
   */
  private async logRekeyInForce(root: Uint8Array): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const r = this.record;
      const text = this.recordText;
      // Not rekeyedAt: a writer of the control store could take it out, and the record would pass for init's.
      if (this.log === undefined || r?.version !== 2 || r.initializing === true || text === undefined) return;
      if (r.loggedMac !== undefined) {
        if (!rekeyLogMacMatches(root, loggedText(r), r.loggedMac)) throw malformed('its receipt that its split was logged was not written by this enclave');
        return;
      }
      let details: PendingRekeyLog['details'];
      const pending = r.pendingLog;
      if (pending !== undefined) {
        if (!rekeyLogMacMatches(root, pendingTextOrNone(r, pending.details), pending.mac)) throw malformed('the rekey entry it holds for the log was not written by a rekey of this enclave');
        if (pending.claimed !== true) {
          const claimed = JSON.stringify({ ...r, pendingLog: { ...pending, claimed: true } });
          // Lost: the record changed meanwhile (the rekey logged it, or was undone); look again.
          if (!(await this.meta.replace(META_KEY, text, claimed))) {
            await this.current();
            continue;
          }
          this.use(claimed);
        }
        details = { ...pending.details, split: splitId(r), late: true, rekeyed_at: r.rekeyedAt ?? null };
      } else {
        details = { key: 'root', threshold: r.threshold, officers: r.officers.map((o) => o.name), split: splitId(r), late: true, unverified: true, rekeyed_at: r.rekeyedAt ?? null };
      }
      await this.log.append({ type: 'key.rekeyed', details });
      await this.markLogged(r.sealedRoot, rekeyLogMac(root, loggedText(r)));
      return;
    }
    throw new EnclaveError('rekey_conflict', 'the seal record kept changing while the rekey in force was being logged; try again');
  }

  /** Replaces a logged rekey's entry with its receipt while that split is in force (best effort: without it, the rekey is logged again, late). */
  private async markLogged(sealedRoot: string, receipt: string): Promise<void> {
    for (let round = 0; round < 3; round++) {
      const r = await this.current().catch(() => undefined);
      const text = this.recordText;
      if (r?.version !== 2 || r.sealedRoot !== sealedRoot || r.loggedMac === receipt || text === undefined) return;
      const logged = JSON.stringify({ ...r, pendingLog: undefined, loggedMac: receipt });
      if (await this.meta.replace(META_KEY, text, logged).catch(() => false)) {
        this.use(logged);
        return;
      }
    }
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

/** Refuses a split Shamir's scheme or the two-person rule cannot give. */
function checkSplit(split: SealSplit): void {
  const n = split.officers.length;
  if (split.threshold < 2 || split.threshold > n) {
    throw new EnclaveError('invalid_config', `seal threshold must be between 2 and the number of officers (${n})`);
  }
  if (new Set(split.officers).size !== n) throw new EnclaveError('invalid_config', 'seal officers must be distinct: each holds one share');
}

function sameSplit(a: SealSplit, b: SealSplit): boolean {
  return a.threshold === b.threshold && [...a.officers].sort().join('\u0000') === [...b.officers].sort().join('\u0000');
}

/** A new unseal key for `root`: the officers' shares, their fingerprints, and the root key sealed by it. */
interface Split {
  readonly shares: OfficerShare[];
  readonly officers: { readonly name: string; readonly fingerprint: string }[];
  readonly sealedRoot: string;
}

async function splitUnsealKey(root: Uint8Array, split: SealSplit): Promise<Split> {
  const unsealKey = randomBytes(32);
  try {
    const shares = await splitSecret(unsealKey, split.officers.length, split.threshold);
    return {
      shares: split.officers.map((officer, i) => ({ officer, share: shares[i] ?? '' })),
      officers: split.officers.map((name, i) => ({ name, fingerprint: shareFingerprint(shares[i] ?? '') })),
      sealedRoot: sealRoot(unsealKey, root),
    };
  } finally {
    unsealKey.fill(0);
  }
}

/** The root key from a complete set of shares of `r` (version 1: the shares' secret; 2: what it unseals); unseal_failed otherwise. The caller wipes it. */
async function recoverRoot(r: SealRecord, shares: readonly string[]): Promise<Uint8Array> {
  const secret = await combineShares(shares);
  let root: Uint8Array = secret;
  if (r.version === 2) {
    try {
      root = openRoot(secret, r.sealedRoot);
    } finally {
      secret.fill(0);
    }
  }
  if (!rootCheckMatches(root, r.rootCheck)) {
    root.fill(0);
    throw new EnclaveError('unseal_failed', 'the entered shares do not reconstruct this enclave\'s root key; start again');
  }
  return root;
}

/** The seal record versions this build reads. */
const RECORD_VERSIONS: readonly unknown[] = [1, 2];

/**
 * The seal record stored as `text`, checked: one of a version this build does not know (written by a
 * newer Enclave, or altered) or of another shape is refused as it is read, saying so, rather than taken
 * for a version 1 record, which would refuse every set of shares as not rebuilding the root key.
 */
function parseRecord(text: string): SealRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new EnclaveError('integrity_error', 'the seal record in the control store is not JSON: it was altered or damaged; restore the control store from a backup', { cause });
  }
  const r = value as Partial<Record<keyof SealRecordFields | 'version' | 'sealedRoot', unknown>> | null;
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw malformed('not an object');
  if (!RECORD_VERSIONS.includes(r.version)) {
    throw new EnclaveError(
      'migration_refused',
      `the seal record in the control store is version ${JSON.stringify(r.version)}, which this build of Enclave does not read (it knows versions ${RECORD_VERSIONS.join(' and ')}): a newer Enclave wrote it; run that version here too`,
    );
  }
  const officers = r.officers;
  if (!Array.isArray(officers) || !officers.every((o: unknown) => o !== null && typeof o === 'object' && typeof (o as { name?: unknown }).name === 'string' && typeof (o as { fingerprint?: unknown }).fingerprint === 'string')) {
    throw malformed('its officers are not a list of names and share fingerprints');
  }
  if (typeof r.threshold !== 'number' || !Number.isInteger(r.threshold) || r.threshold < 2 || r.threshold > officers.length) throw malformed('its threshold is not between 2 and the number of officers');
  if (typeof r.rootCheck !== 'string') throw malformed('it has no root key check value');
  if (r.version === 2 && typeof r.sealedRoot !== 'string') throw malformed('it has no sealed root key');
  if (r.version === 2) checkRekeyFields(value as Record<string, unknown>);
  return value as SealRecord;
}

function rekeyConflict(): EnclaveError {
  return new EnclaveError('rekey_conflict', 'the seal changed while this rekey ran (another rekey completed first): nothing was replaced, the shares it showed are void; run it again with the shares now in force');
}

/** Whether two records hold the same split (the same shares open them), whatever else their text holds. */
function sameRecordSplit(a: SealRecord | undefined, b: SealRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.version !== b.version || a.threshold !== b.threshold || a.rootCheck !== b.rootCheck || a.initializing !== b.initializing) return false;
  if (a.version === 2 && b.version === 2 && a.sealedRoot !== b.sealedRoot) return false;
  return a.officers.length === b.officers.length && a.officers.every((o, i) => o.name === b.officers[i]?.name && o.fingerprint === b.officers[i]?.fingerprint);
}

type RekeyedSplit = { readonly threshold: number; readonly officers: readonly { readonly name: string; readonly fingerprint: string }[]; readonly sealedRoot: string; readonly rekeyedAt?: string };

/** What a rekey's pending entry is MACed over: the entry, and the split and time it came with. */
function pendingText(r: RekeyedSplit, details: PendingRekeyLog['details']): string {
  return canonicalJson({ kind: 'enclave/rekey-entry', details, ...splitFacts(r) });
}

/** pendingText, or text no MAC matches where the details cannot be put in canonical form (a number JSON cannot hold exactly). */
function pendingTextOrNone(r: RekeyedSplit, details: PendingRekeyLog['details']): string {
  try {
    return pendingText(r, details);
  } catch {
    return '';
  }
}

/** What the receipt that a rekey was logged is MACed over: the split and time. */
function loggedText(r: RekeyedSplit): string {
  return canonicalJson({ kind: 'enclave/rekey-logged', ...splitFacts(r) });
}

function splitFacts(r: RekeyedSplit) {
  return { threshold: r.threshold, officers: r.officers.map((o) => [o.name, o.fingerprint]), sealed_root: r.sealedRoot, rekeyed_at: r.rekeyedAt ?? null };
}

/**
 * Names a split in key.created, key.rekeyed and enclave.unsealed: an auditor sees an unseal under a split
 * no entry introduced (a seal record rolled back, or changed by hand). Public: a hash of public facts.
 */
function splitId(r: SealRecord): string {
  const officers = r.officers.map((o) => [o.name, o.fingerprint]);
  return createHash('sha256').update(canonicalJson({ threshold: r.threshold, officers, sealed: r.version === 2 ? r.sealedRoot : r.rootCheck })).digest('hex').slice(0, 32);
}

/** A rekey whose append failed and that could not be undone: why, and what holds now. */
function notUndone(state: 'pending' | 'removed' | 'replaced' | 'unknown', cause: unknown): EnclaveError {
  const start = 'the transparency log could not record the rekey, and it could not be undone';
  switch (state) {
    case 'pending':
      return new EnclaveError('log_unavailable', `${start}: the new shares shown are the ones in force; the rekey is logged by the unseal logging it now, or else by the next unseal or rekey (each refused until the log answers)`, { cause });
    case 'removed':
      return new EnclaveError('log_unavailable', `${start}: the new shares shown are the ones in force, and its entry was taken out of the seal record by someone without shares; the next unseal or rekey logs it, marked unverified`, { cause });
    case 'replaced':
      return new EnclaveError('rekey_conflict', `${start}: another rekey replaced it meanwhile, logging it first; the shares it showed are void`, { cause });
    case 'unknown':
      return new EnclaveError('log_unavailable', `${start}, and the seal record cannot be read now: the new shares shown may be in force; the next unseal or rekey logs it if so`, { cause });
  }
}

/** The shapes of a version 2 record's rekey fields (their MACs are checked with the root key, later). */
function checkRekeyFields(r: Record<string, unknown>): void {
  if (r['rekeyedAt'] !== undefined && typeof r['rekeyedAt'] !== 'string') throw malformed('its rekey time is not text');
  if (r['loggedMac'] !== undefined && typeof r['loggedMac'] !== 'string') throw malformed('its receipt that its split was logged is not text');
  const p = r['pendingLog'];
  if (p === undefined) return;
  if (r['loggedMac'] !== undefined) throw malformed('it holds both a rekey entry for the log and the receipt that it was logged');
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(p) || !isObject(p['details']) || typeof p['mac'] !== 'string' || (p['claimed'] !== undefined && p['claimed'] !== true)) {
    throw malformed('its rekey entry for the log is not an entry with a MAC');
  }
}

function malformed(why: string): EnclaveError {
  return new EnclaveError('integrity_error', `the seal record in the control store is malformed (${why}): it was altered or damaged; restore the control store from a backup`);
}

/** The rekey marker, or undefined when there is none or it cannot be read (it only words a refusal). */
function rekeyMarker(text: string | undefined): RekeyMarker | undefined {
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as Partial<RekeyMarker> | null;
    if (m === null || typeof m.startedAt !== 'string' || !Array.isArray(m.fingerprints)) return undefined;
    return m as RekeyMarker;
  } catch {
    return undefined;
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
