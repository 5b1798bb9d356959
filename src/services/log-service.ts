// The transparency log service (docs/transparency-log.md): it implements the EventLog port.
//
// Appends: each caller's entry is queued; one writer takes everything queued (up to max_batch) and
// writes it in ONE transaction, so concurrent appends share one commit and one fsync (group commit).
// A caller's promise resolves with its index only once that transaction is durable; a failed commit
// rejects every caller of the batch with `log_unavailable`, and a full queue refuses at once; so does a
// commit the store has not confirmed within the commit timeout (a hung store), until the store answers.
//
// Integration: at least once per checkpoint interval, the integrator takes the leaf hashes of the
// entries appended since the last integration (those of this process's appends as a store with a writer
// thread returned them, the others hashed from entries read back from the store), extends the RFC 9162 Merkle tree (SHA-256) from its right
// frontier, stores the changed C2SP tiles with the new tree size (compare-and-set), and, when unsealed,
// signs a C2SP checkpoint with the log's Ed25519 key, has it cosigned by the configured witnesses and
// publishes it. Memory stays bounded as the log grows: the frontier (one hash per set bit of the size),
// the rightmost tile of each tile level, a bounded cache of full tiles, the bounded run of leaf hashes
// awaiting integration, and the bounded queue.
//
// Sealed: the log still appends and integrates (neither needs a key), but it cannot sign, so no new
// checkpoint is published until the enclave is unsealed; the first checkpoint after unsealing covers
// everything appended meanwhile.
//
// Several instances (PostgreSQL): every instance appends; only the holder of the store's sequencer
// lease integrates and signs. Each tick, an instance takes or confirms the lease; one that cannot is a
// follower: it keeps no tree in memory and reads the published checkpoint from the store (at most once a
// second between ticks). A sealed sequencer integrates, then lets the lease go, so that an unsealed
// instance can take it and sign; it keeps its tree, which is reused if the stored tree has not moved.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { canonicalSizeAtLeast } from '../core/canonical-json.ts';
import { EnclaveError } from '../core/errors.ts';
import { LOG_EVENT_TYPES, type EventLog, type LogActor, type LogEventInput, type LogReceipt } from '../core/event-log.ts';
import { decodeLogEntry, finishLogEntry, LOG_ENTRY_VERSION, MAX_LOG_ENTRY_BYTES, subjectHash, type LogEntry, type LogEntryDraft } from '../core/log-entry.ts';
import type { LogEntryRow, LogStore, LogTile, SequencerLease, StoredCheckpoint } from '../core/log-store.ts';
import { Lru } from '../core/lru.ts';
import { formatRfc3339 } from '../core/rfc3339.ts';
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from '../core/tlog/checkpoint.ts';
import { LeafRun } from '../core/tlog/leaf-run.ts';
import { ed25519PrivateKey, rawPublicKey } from '../core/tlog/ed25519.ts';
import { bytesEqual, encodeBase64 } from '../core/tlog/encoding.ts';
import { appendToFrontier, frontierRoot, HASH_SIZE, leafHash, proveRecord, proveTree, readFrontier, type Frontier, type HashReader } from '../core/tlog/merkle.ts';
import { ed25519NoteSigner, ed25519NoteVerifier, signNote, type NoteSigner, type NoteVerifier } from '../core/tlog/note.ts';
import { decodeTile, encodeEntryBundle, encodeTile, TILE_HEIGHT, TILE_WIDTH, tileHashReader, tileWidth } from '../core/tlog/tiles.ts';
import { logSigningSeed, logSubjectKey } from '../crypto/key-derivation.ts';
import { noteReceipt } from './log-receipts.ts';

export interface LogServiceOptions {
  readonly store: LogStore;
  /** The checkpoint origin line, also the name of the log's signing key. */
  readonly origin: string;
  /** This instance's name, recorded with the sequencer lease (default: host name and process id). */
  readonly instance?: string;
  readonly checkpointIntervalMs?: number;
  /** Most entries one commit takes from the queue. */
  readonly maxBatch?: number;
  /** Most entries waiting for a commit; beyond, appends are refused with log_unavailable. */
  readonly maxQueue?: number;
  /**
   * Longest wait for the store to confirm a commit (default 30 s). Beyond, the batch's appends and those
   * queued behind it are refused with log_unavailable, and new ones at once until the store answers:
   * a hung store (a stuck fsync, a PostgreSQL commit waiting for ever) must not hold requests for ever.
   */
  readonly commitTimeoutMs?: number;
  /** Full tiles kept in memory for serving and proofs. */
  readonly tileCache?: number;
  /** Submits a signed checkpoint to the witnesses and returns it with their cosignatures. */
  readonly cosign?: Cosign;
  /** The witnesses' cosignature verifiers and how many of them must cosign before a checkpoint is published. */
  readonly witnesses?: readonly NoteVerifier[];
  readonly witnessQuorum?: number;
  readonly clock?: () => number;
  /** Told about integration and publication failures (the service keeps running and retries). */
  readonly onError?: (err: unknown, what: string) => void;
}

/** Given the signed checkpoint, the previous published size and a consistency proof from it, returns the note with cosignatures added. */
export type Cosign = (note: string, previous: { size: number; proof: (oldSize: number) => Promise<Uint8Array[]> }) => Promise<string>;

export interface PublishedCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  /** The signed note, with its cosignatures. */
  readonly text: string;
  readonly time: number;
}

export interface LogSearchQuery {
  readonly from?: number;
  readonly to?: number;
  readonly principal?: string;
  readonly type?: string;
  /** The subject's keyed hash (hex). */
  readonly subjectHash?: string;
  /** A raw subject id, hashed here (needs the enclave unsealed). */
  readonly subject?: string;
  readonly after?: number;
  readonly limit: number;
}

export interface LogSearchResult {
  readonly index: number;
  readonly entry: LogEntry;
  /** Inclusion proof of the entry in the checkpoint of the page (base64 hashes, leaf side first). */
  readonly proof: readonly string[];
}

export interface LogSearchPage {
  /** The checkpoint the proofs are against; null before the first checkpoint (then there are no results). */
  readonly checkpoint: string | null;
  readonly size: number;
  readonly results: readonly LogSearchResult[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: number | null;
}

interface Keys {
  readonly subject: Buffer;
  readonly subjectKey: KeyObject;
  readonly signer: NoteSigner & { readonly vkey: string };
  readonly verifier: NoteVerifier;
}

interface Pending {
  /** A row, or a draft the store finishes on its writer thread (LogStore.appendEntries). */
  item: LogEntryRow | LogEntryDraft;
  /** Why the entry was refused before it reached the store (sealedNow could not finish it); rejected in its batch's turn. */
  refused?: unknown;
  resolve(index: number): void;
  reject(err: unknown): void;
}

interface EdgeTile {
  readonly index: number;
  /** The rightmost tile of a level while it is partial (fewer than 256 hashes). */
  readonly hashes: Uint8Array[];
}

const TYPES: ReadonlySet<string> = new Set(LOG_EVENT_TYPES);
/** Entries read back and hashed per step, and integrated per store transaction (bounds memory). */
const READ_CHUNK = 4096;
/** At most this many leaf hashes wait for the integrator in memory (4 MiB): a backlog beyond is read back. */
const LEAF_RUN_MAX = 131_072;
// A backlog (after a crash, a bulk import) is integrated in steps of this many entries, each one store
// transaction. Smaller steps hold fewer tiles and hashes at once, and malloc keeps what it once held: with
// a 300,000-entry backlog the server's peak RSS was 282-285 MiB at 65,536 (and 4,096 cached tiles),
// 248-267 MiB at 16,384 (and 1,024).
const INTEGRATE_STEP = 16_384;
/** Full tiles kept in memory by default: 1,024 of 8 KiB (the newest ones, which proofs and witnesses ask for). */
const TILE_CACHE = 1024;
/**
 * Longest time an instance that is not the sequencer serves the checkpoint it last read from the store,
 * instead of reading it on every request (every tile and bundle request checks it). tlog-tiles allows a
 * checkpoint to be cached for a few seconds; the route adds its own max-age of 1 s.
 */
const FOLLOWER_CHECKPOINT_MS = 1000;
const VKEY_META = 'vkey';
const ORIGIN_META = 'origin';

function trailingOnes(n: number): number {
  let count = 0;
  while (n % 2 === 1) {
    n = (n - 1) / 2;
    count++;
  }
  return count;
}

/** host:pid, which tells instances apart in /healthz and /metrics when none is configured. */
export function defaultInstanceName(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * Drafts per call of LogStore.appendEntries: the writer thread builds each entry's JSON in its own heap
 * (up to 64 KiB an entry), where rows arrived as bytes outside it.
 */
const MAX_DRAFT_BATCH = 1_000;

/** Default LogServiceOptions.commitTimeoutMs: far above a commit's fsync, SQLite's busy timeout (5 s) and a large batch. */
const COMMIT_TIMEOUT_MS = 30_000;

/** Whether `p` settles within `ms` (it is left running either way). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref(); // the commit itself keeps the process alive while it runs
  });
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}

function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Refuses, before it is queued, a draft whose entry could never be stored: more than MAX_LOG_ENTRY_BYTES
 * (an entry bundle's 16-bit length prefix, C2SP tlog-tiles) by canonicalSizeAtLeast's lower bound, or holding what the
 * encoder refuses. The writer would refuse it too, but only after the draft was copied whole into its
 * thread, whose small heap (192 MiB) an enormous one exhausts, taking the process down; on a store
 * without a writer thread it would be encoded whole on the request thread. The bound is the entry limit
 * itself, so no entry the encoder accepts is refused (the vault's and gatekeeper's entries are a few
 * hundred bytes to a few KiB).
 */
function checkDraftSize(draft: LogEntryDraft): void {
  const limit = MAX_LOG_ENTRY_BYTES;
  // The members other than details are the service's own (type, time, principal); the subject hash replaces the raw id.
  const details = canonicalSizeAtLeast(draft.details, limit);
  const principal = canonicalSizeAtLeast(draft.principal, limit);
  if (typeof details === 'string' || typeof principal === 'string') {
    const why = typeof details === 'string' ? details : String(principal);
    throw new EnclaveError('log_unavailable', `the ${draft.type} entry could not be encoded: ${why}`);
  }
  const size = details + principal + draft.type.length + draft.time.length;
  if (size > limit) {
    throw new EnclaveError('log_unavailable', `the ${draft.type} entry would be over ${limit} bytes (at least ${size}), the most a log entry may be; nothing was appended`);
  }
}

export class LogService implements EventLog {
  readonly store: LogStore;
  readonly origin: string;
  readonly instance: string;
  private readonly interval: number;
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly commitTimeout: number;
  private readonly clock: () => number;
  private readonly cosign: Cosign | undefined;
  private readonly witnesses: readonly NoteVerifier[];
  private readonly quorum: number;
  private onError: (err: unknown, what: string) => void;
  private keys: Keys | null = null;

  // group commit
  private queue: Pending[] = [];
  private writing: Promise<void> | null = null;
  /** Settles when the last entry queued so far is committed or refused (batches are written in order). */
  private lastQueued: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** A commit outlived commitTimeout and has not settled yet: appends are refused until it does. */
  private stalled = false;
  /** The batch being committed (close fails it if the store never confirms). */
  private inFlight: readonly Pending[] = [];
  /** Batches settled so far: close waits for the writer as long as it makes progress. */
  private settledBatches = 0;

  // integration
  private tree: { size: number; frontier: Frontier; edges: Map<number, EdgeTile> } | null = null;
  private readonly fullTiles: Lru<string, Uint8Array>;
  /** Leaf hashes of this process's appends not yet integrated, as the store computed them (appendEntries). */
  private readonly leaves = new LeafRun(LEAF_RUN_MAX);
  /** actor(): the copy made of each principal passed in. */
  private readonly actors = new WeakMap<LogActor, LogActor>();
  private published: PublishedCheckpoint | null = null;
  /** What a follower last read of the published checkpoint, and when (by `clock`). */
  private followed: { readonly at: number; readonly read: Promise<PublishedCheckpoint | null> } | null = null;
  private ticking: Promise<void> | null = null;
  /** Whether this instance held the sequencer lease at its last tick. */
  private leading = false;
  private readonly publishListeners = new Set<(cp: PublishedCheckpoint) => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(options: LogServiceOptions) {
    this.store = options.store;
    this.origin = options.origin;
    this.instance = options.instance ?? defaultInstanceName();
    this.interval = options.checkpointIntervalMs ?? 1000;
    this.maxBatch = options.maxBatch ?? 10_000;
    this.maxQueue = options.maxQueue ?? 100_000;
    this.commitTimeout = options.commitTimeoutMs ?? COMMIT_TIMEOUT_MS;
    this.clock = options.clock ?? Date.now;
    this.cosign = options.cosign;
    this.witnesses = options.witnesses ?? [];
    this.quorum = options.witnessQuorum ?? 0;
    this.onError = options.onError ?? (() => {});
    this.fullTiles = new Lru(options.tileCache ?? TILE_CACHE);
  }

  // ---- keys ----------------------------------------------------------------------------------------

  get sealed(): boolean {
    return this.keys === null;
  }

  /**
   * Derives the log's keys from the root key (called on unseal). The verifier key is recorded on first
   * use; a different one later means the origin or the root key changed, which would fork the log's
   * identity, so it is refused.
   */
  async unsealed(root: Uint8Array): Promise<void> {
    const seed = logSigningSeed(root);
    const privateKey = ed25519PrivateKey(seed);
    const signer = ed25519NoteSigner(this.origin, privateKey);
    seed.fill(0);
    const mismatch = (recorded: string | undefined) =>
      new EnclaveError(
        'invalid_config',
        `this log's verifier key is ${recorded}, but the configured origin and this root key give ${signer.vkey}; a log's origin (log.origin) cannot change`,
      );
    const recorded = await this.store.getMeta(VKEY_META);
    if (recorded !== undefined && recorded !== signer.vkey) throw mismatch(recorded);
    if (recorded === undefined) {
      // Another instance may have recorded its key since it was read: the key recorded is the log's.
      if (!(await this.store.putMetaIfAbsent(VKEY_META, signer.vkey))) {
        const now = await this.store.getMeta(VKEY_META);
        if (now !== signer.vkey) throw mismatch(now);
      }
      await this.store.putMetaIfAbsent(ORIGIN_META, this.origin);
    }
    const subject = logSubjectKey(root);
    this.keys = { subject, subjectKey: createSecretKey(subject), signer, verifier: ed25519NoteVerifier(this.origin, rawPublicKey(privateKey)) };
  }

  /** Drops the keys (called on seal): no signing and no subject hashing until the next unseal. */
  sealedNow(): void {
    // Drafts queued while unsealed name their subject: they are finished with the key before it goes.
    if (this.keys) {
      const key = this.keys.subjectKey;
      for (const p of this.queue) {
        if ('body' in p.item || p.item.subjectId === null) continue;
        try {
          p.item = finishLogEntry(p.item, key);
        } catch (err) {
          // Rejected in order, with its batch: a sync() waiting for the last entry must not pass earlier ones.
          p.refused = err;
        }
      }
    }
    this.keys?.subject.fill(0);
    this.keys = null;
  }

  /** The log's verifier key (C2SP signed-note vkey), once the enclave has been unsealed at least once. */
  vkey(): Promise<string | undefined> {
    return this.store.getMeta(VKEY_META);
  }

  /** The subject key a regulator needs to link entries to subjects (hex); the enclave must be unsealed. */
  subjectKey(): string {
    if (!this.keys) throw new EnclaveError('sealed', 'the enclave is sealed: the log subject key is derived from the root key');
    return this.keys.subject.toString('hex');
  }

  /** The keyed hash that stands for `subjectId` in the log; the enclave must be unsealed. */
  hashSubject(subjectId: string): string {
    if (!this.keys) throw new EnclaveError('sealed', 'the enclave is sealed: a subject id cannot be hashed without the log subject key');
    return subjectHash(this.keys.subjectKey, subjectId);
  }

  // ---- appends -------------------------------------------------------------------------------------

  /** Resolves once the entry is durable, with its index; rejects with `log_unavailable` (or `sealed`, see below). */
  async append(event: LogEventInput): Promise<LogReceipt> {
    if (this.closed) throw new EnclaveError('log_unavailable', 'the transparency log is closed');
    const draft = this.draft(event);
    checkDraftSize(draft);
    // A store with a writer thread of its own hashes and encodes there; otherwise it is done here.
    const index = await this.enqueue(this.store.appendEntries ? draft : finishLogEntry(draft, this.keys?.subjectKey ?? null));
    noteReceipt(index);
    return { index };
  }

  private draft(event: LogEventInput): LogEntryDraft {
    if (!TYPES.has(event.type)) throw new EnclaveError('log_unavailable', `unknown log event type "${String(event.type)}"`);
    let subjectId: string | null = null;
    let sealed = false;
    if (event.subject !== undefined) {
      if (this.keys) subjectId = event.subject;
      // A decision while sealed released nothing protected (nothing can be decrypted): it is logged,
      // unlinkable. A change to a subject's data must be linkable, so it waits for the unseal; and so
      // must a read that did release protected data (decrypted before a seal that came while it waited
      // for this entry): unlinkable, the log would not show whose data left (invariant 4), so it fails.
      else if (event.type === 'access.decision' && event.details['release'] !== 'protected') sealed = true;
      else throw new EnclaveError('sealed', `the enclave is sealed: a ${event.type} event must name its subject by the log subject key, which needs the root key`);
    }
    const p = event.principal;
    return {
      v: LOG_ENTRY_VERSION,
      type: event.type,
      time: formatRfc3339(this.clock()),
      principal: p ? this.actor(p) : null,
      subjectId,
      ...(sealed ? { sealed: true as const } : {}),
      details: event.details,
    };
  }

  /**
   * The actor's id, org and role, nothing else of a principal passed in, as one frozen object per
   * principal: the drafts of one principal's requests then share it, and the writer thread gets it once a
   * batch (structured clone keeps a shared object shared).
   */
  private actor(p: LogActor): LogActor {
    let a = this.actors.get(p);
    if (a?.id !== p.id || a.org !== p.org || a.role !== p.role) {
      a = Object.freeze({ id: p.id, org: p.org, role: p.role });
      this.actors.set(p, a);
    }
    return a;
  }

  private enqueue(item: LogEntryRow | LogEntryDraft): Promise<number> {
    if (this.closed) return Promise.reject(new EnclaveError('log_unavailable', 'the transparency log is closed'));
    if (this.stalled) {
      return Promise.reject(new EnclaveError('log_unavailable', `the transparency log's store has not confirmed a commit for over ${this.commitTimeout} ms; try again`));
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new EnclaveError('log_unavailable', `the transparency log has ${this.queue.length} entries waiting to be written; try again`));
    }
    const queued = new Promise<number>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.writing ??= this.drain();
    });
    this.lastQueued = queued.catch(() => {});
    return queued;
  }

  private async drain(): Promise<void> {
    try {
      // Let the appends of this turn of the event loop (and of I/O callbacks due now) join the batch.
      await yieldToIo();
      while (this.queue.length > 0) {
        // Drafts are finished by the store's writer thread, whose heap is small: its batches are capped.
        const batch = this.queue.splice(0, this.store.appendEntries ? Math.min(this.maxBatch, MAX_DRAFT_BATCH) : this.maxBatch);
        this.inFlight = batch;
        const written = this.write(batch)
          .catch((cause: unknown) => {
            const err = new EnclaveError('log_unavailable', 'the transparency log could not durably store the entry', { cause });
            for (const p of batch) p.reject(p.refused ?? err);
          })
          .finally(() => {
            this.settledBatches++;
            if (this.inFlight === batch) this.inFlight = [];
          });
        if (!(await settlesWithin(written, this.commitTimeout))) {
          // Fail closed within a bound: nobody is acknowledged, the entries waiting behind the stuck commit
          // neither, and new appends are refused until the store answers. A commit that completes after
          // all stands as an attempt (the log may over-report, never under-report); a later resolve of a
          // rejected append is a no-op.
          const err = new EnclaveError('log_unavailable', `the transparency log's store did not confirm a commit within ${this.commitTimeout} ms`);
          this.stalled = true;
          for (const p of batch) p.reject(err);
          for (const p of this.queue.splice(0)) p.reject(err);
          await written; // never rejects (its failure is handled above)
          this.stalled = false;
        }
        await yieldToIo();
      }
    } finally {
      this.writing = null;
    }
  }

  private async write(all: readonly Pending[]): Promise<void> {
    const batch = all.filter((p) => p.refused === undefined);
    if (batch.length > 0) await this.storeBatch(batch);
    for (const p of all) if (p.refused !== undefined) p.reject(p.refused);
  }

  private async storeBatch(batch: readonly Pending[]): Promise<void> {
    const items = batch.map((p) => p.item);
    if (!this.store.appendEntries) {
      // Every item is a row here (append finishes drafts itself when the store has no appendEntries).
      const first = await this.store.append(items.map((i) => ('body' in i ? i : finishLogEntry(i, this.keys?.subjectKey ?? null))));
      batch.forEach((p, i) => p.resolve(first + i));
    } else {
      // The key goes along only when a draft names a subject (such drafts exist only while unsealed:
      // sealedNow finishes the queued ones), so it is copied no more often than needed.
      const needsKey = items.some((i) => !('body' in i) && i.subjectId !== null);
      const { outcomes, leafHashes } = await this.store.appendEntries(items, needsKey ? (this.keys?.subject ?? null) : null);
      // Hashes that do not match a dense run of stored entries one for one are not used: those are read back.
      const stored = outcomes.filter((o) => typeof o === 'number');
      const first = stored[0];
      if (first !== undefined && leafHashes.length === stored.length * HASH_SIZE && stored.every((o, k) => o === first + k)) this.leaves.add(first, leafHashes);
      batch.forEach((p, i) => {
        const o = outcomes[i];
        if (typeof o === 'number') p.resolve(o);
        else p.reject(o ?? new EnclaveError('log_unavailable', 'the log store gave no outcome for an entry'));
      });
    }
  }

  // ---- integration and checkpoints -------------------------------------------------------------------

  /** Reports a failure of the log's background work (integration, witnesses) to whoever runs it. */
  report(err: unknown, what: string): void {
    this.onError(err, what);
  }

  /** Starts the periodic integrator (the process that serves the log runs it; one-shot CLI processes do not). */
  start(onError?: (err: unknown, what: string) => void): void {
    if (onError) this.onError = onError;
    if (this.timer !== null || this.closed) return;
    // Fixed rate: each tick is due one interval after the previous one began, so checkpoints are an
    // interval apart however long integrating and cosigning take (as long as they take less).
    const loop = (due: number) => {
      this.timer = setTimeout(() => {
        const began = performance.now();
        void this.integrate()
          .catch((err: unknown) => this.onError(err, 'integration'))
          .finally(() => {
            if (!this.closed) loop(Math.max(0, this.interval - (performance.now() - began)));
          });
      }, due);
      this.timer.unref();
    };
    loop(this.interval);
  }

  /**
   * Writes what is queued, integrates everything appended, and publishes a checkpoint if unsealed.
   * Resolves with the published checkpoint (null before the first). Concurrent calls share a run that
   * began after they were made.
   */
  async sync(): Promise<PublishedCheckpoint | null> {
    await this.lastQueued;
    // A run already under way may have read the store's size before what was just appended: it is
    // waited for (its failure is its caller's), then a run that starts now covers everything.
    if (this.ticking) await this.ticking.catch(() => undefined);
    return this.integrate();
  }

  /** Integrates what is committed now and publishes; concurrent calls share one run. */
  private async integrate(): Promise<PublishedCheckpoint | null> {
    if (!this.ticking) {
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
      });
    }
    await this.ticking;
    // A follower's tick reads the checkpoint afresh: sync() answers with the latest one.
    this.followed = null;
    return this.checkpoint();
  }

  private async tick(): Promise<void> {
    // Sealed and not holding the lease, this instance would take it only to integrate: not at all when
    // everything appended is integrated (it could not sign a checkpoint anyway).
    if (this.keys === null && !this.leading && (await this.store.treeSize()) >= (await this.store.size())) return;
    let lead: boolean;
    try {
      lead = await this.store.leadSequencer(this.instance);
    } catch (err) {
      this.follow();
      throw err;
    }
    if (!lead) {
      this.follow();
      return;
    }
    if (!this.leading) {
      // Taking over: another instance may have integrated and published meanwhile. The tree this one kept
      // (a sealed sequencer keeps it between ticks) is the stored one if the stored size is its size:
      // entries never change, so equal sizes are equal trees. Otherwise it is restored from the store.
      this.leading = true;
      this.published = null;
      if (this.tree && this.tree.size !== (await this.store.treeSize())) this.tree = null;
    }
    try {
      const target = await this.store.size();
      const integrated = (await this.loadTree()).size;
      if (target < integrated) {
        // Entries the tree commits to are gone from the store (the store refuses appends meanwhile): said
        // every tick, as a tree that no longer extends the last checkpoint is, rather than nothing at all.
        throw new EnclaveError('log_mismatch', `the log store holds ${target} entries but its integrated tree has ${integrated}: entries were removed from the store; nothing is appended or signed until it is restored`);
      }
      for (let size = integrated; size < target; size = (await this.loadTree()).size) {
        // False: another integrator moved the stored tree; it is reloaded and integration goes on from there.
        await this.extend(Math.min(target, size + INTEGRATE_STEP));
      }
      await this.publish();
    } finally {
      // Sealed, this instance cannot sign: it lets the lease go, so that an unsealed one takes it.
      if (this.keys === null) {
        this.leading = false;
        await this.store.releaseSequencer();
      }
    }
  }

  /** Not the sequencer: nothing of the tree is kept, since another instance extends it. */
  private follow(): void {
    this.leading = false;
    this.tree = null;
  }

  /** Whether this instance held the sequencer lease (integrated and signed) at its last tick. */
  get isSequencer(): boolean {
    return this.leading;
  }

  /** Who holds the sequencer lease, as the log store recorded it. */
  sequencer(): Promise<SequencerLease | undefined> {
    return this.store.sequencer();
  }

  /** The integrated tree: restored from the stored tiles on first use. */
  private async loadTree(): Promise<{ size: number; frontier: Frontier; edges: Map<number, EdgeTile> }> {
    if (this.tree) return this.tree;
    const size = await this.store.treeSize();
    const frontier = await readFrontier(size, this.hashReader(size));
    const edges = new Map<number, EdgeTile>();
    for (let level = 0; Math.floor(size / TILE_WIDTH ** level) > 0; level++) {
      const index = Math.floor(size / TILE_WIDTH ** (level + 1));
      const width = tileWidth(level, index, size);
      if (width === 0 || width === TILE_WIDTH) continue;
      edges.set(level, { index, hashes: await this.tileHashes(level, index, width) });
    }
    this.tree = { size, frontier, edges };
    return this.tree;
  }

  /** Integrates entries up to `to` in one store transaction; false if the stored tree moved under us. */
  private async extend(to: number): Promise<boolean> {
    const tree = await this.loadTree();
    const from = tree.size;
    let frontier = tree.frontier;
    // Work on copies: if the compare-and-set fails, the state in memory stays that of the stored tree.
    const edges = new Map([...tree.edges].map(([level, e]) => [level, { index: e.index, hashes: [...e.hashes] }]));
    const touched = new Set<number>();
    const tiles: LogTile[] = [];
    for (let at = from; at < to; at += READ_CHUNK) {
      const end = Math.min(to, at + READ_CHUNK);
      const hashes = this.leaves.take(at, end) ?? (await this.storedEntries(at, end)).map(leafHash);
      const step = appendToFrontier(frontier, hashes);
      frontier = step.frontier;
      // Appending leaf n stored the hashes of levels 0..k of the subtrees it completed (k = trailing
      // ones of n); those of levels 0, 8, 16, … are the hashes the C2SP tiles hold (tlog-tiles).
      let k = 0;
      for (let n = at; n < end; n++) {
        const levels = 1 + trailingOnes(n);
        for (let level = 0; level < levels; level++, k++) {
          if (level % TILE_HEIGHT !== 0) continue;
          const tileLevel = level / TILE_HEIGHT;
          const index = Math.floor(Math.floor(n / 2 ** level) / TILE_WIDTH);
          let edge = edges.get(tileLevel);
          if (edge?.index !== index) {
            edge = { index, hashes: [] };
            edges.set(tileLevel, edge);
          }
          edge.hashes.push(step.storedHashes[k] as Uint8Array);
          touched.add(tileLevel);
          if (edge.hashes.length === TILE_WIDTH) {
            tiles.push({ level: tileLevel, index, width: TILE_WIDTH, data: encodeTile(edge.hashes) });
            edges.delete(tileLevel);
            touched.delete(tileLevel);
          }
        }
      }
      await yieldToIo();
    }
    for (const level of touched) {
      const edge = edges.get(level);
      if (edge) tiles.push({ level, index: edge.index, width: edge.hashes.length, data: encodeTile(edge.hashes) });
    }
    if (!(await this.store.integrate(from, to, tiles))) {
      this.tree = null;
      return false;
    }
    for (const t of tiles) if (t.width === TILE_WIDTH) this.fullTiles.set(`${t.level}/${t.index}`, t.data);
    this.leaves.drop(to);
    this.tree = { size: to, frontier, edges };
    return true;
  }

  /** Signs and publishes a checkpoint of the integrated tree, if it has none yet and the log can sign. */
  private async publish(): Promise<void> {
    const tree = await this.loadTree();
    const last = this.published ?? (await this.loadPublished());
    if (last !== null && last.size >= tree.size) return;
    const keys = this.keys;
    if (!keys) return;
    if (last !== null && !(await this.extendsLast(last, keys.verifier, tree.size))) return;
    const root = frontierRoot(tree.frontier);
    let note = signNote(formatCheckpoint({ origin: this.origin, size: tree.size, root, extensions: [] }), [keys.signer]);
    if (this.cosign) {
      const previous = last?.size ?? 0;
      note = await this.cosign(note, { size: previous, proof: (oldSize) => this.consistencyHashes(oldSize, tree.size) });
      // C2SP tlog-witness: a checkpoint counts once enough witnesses vouch that they saw no other.
      const cosigned = openCheckpoint(note, keys.verifier, { witnesses: this.witnesses }).cosigners.length;
      if (cosigned < this.quorum) {
        throw new EnclaveError('log_quorum_not_met', `checkpoint ${tree.size} has ${cosigned} of the ${this.quorum} witness cosignatures it needs; not published, retrying`);
      }
    }
    const checkpoint: StoredCheckpoint = { size: tree.size, time: this.clock(), text: note };
    if (await this.store.putCheckpoint(checkpoint)) {
      const published = { ...checkpoint, root };
      this.published = published;
      for (const listener of this.publishListeners) listener(published);
    } else {
      // Refused: a larger checkpoint is stored (reloaded next time), or one of this size with another root.
      this.published = null;
      const stored = await this.loadPublished();
      if (stored?.size === tree.size && !bytesEqual(stored.root, root)) {
        // Two roots for one size are a fork (RFC 9162 §2.1.4): the stored one is kept as evidence, and no
        // larger tree is signed over it (extendsLast refuses it: unsigned, or not this tree's root).
        throw new EnclaveError('log_mismatch', `a checkpoint of size ${tree.size} with another root is already stored: two roots at one size are a fork; not replaced, and no checkpoint is signed until the store is restored`);
      }
    }
  }

  /**
   * The log key signs only trees that extend the checkpoint it published last (RFC 9162 §2.1.4: a
   * consistent append-only history). A stored tree that does not, e.g. entries deleted or rewritten in
   * the store and integrated again, is refused: otherwise the key would sign a fork of its own history.
   * The last checkpoint must carry the log's own signature, so it cannot be replaced by another one.
   * False when the tree is no larger than that checkpoint: nothing new to sign.
   */
  private async extendsLast(last: PublishedCheckpoint, verifier: NoteVerifier, size: number): Promise<boolean> {
    const altered = (at: number, why: string, cause?: unknown) =>
      new EnclaveError('log_mismatch', `the log store does not extend the last published checkpoint (size ${at}): ${why}; no checkpoint is signed until the store is restored`, { cause });
    let signed: { size: number; root: Uint8Array };
    try {
      // Its size and root as signed, not as the store's columns say.
      signed = openCheckpoint(last.text, verifier).checkpoint;
    } catch (cause) {
      throw altered(last.size, 'it is not signed by this log', cause);
    }
    if (signed.size >= size) return false;
    const root = frontierRoot(await readFrontier(signed.size, this.hashReader(size)));
    if (!bytesEqual(root, signed.root)) throw altered(signed.size, `the stored tree's root at that size differs`);
    return true;
  }

  private async loadPublished(): Promise<PublishedCheckpoint | null> {
    const stored = await this.store.latestCheckpoint();
    if (!stored) return null;
    const text = stored.text.slice(0, stored.text.indexOf('\n\n') + 1);
    this.published = { ...stored, root: parseCheckpoint(text).root };
    return this.published;
  }

  /** Calls `listener` after each checkpoint this service publishes (metrics, benchmarks); returns the unsubscribe. */
  onPublish(listener: (cp: PublishedCheckpoint) => void): () => void {
    this.publishListeners.add(listener);
    return () => this.publishListeners.delete(listener);
  }

  /**
   * The latest published checkpoint (with cosignatures), or null before the first one. The sequencer
   * knows it; any other instance reads it from the store, where the sequencer publishes it.
   */
  async checkpoint(): Promise<PublishedCheckpoint | null> {
    if (this.leading) return this.published ?? (await this.loadPublished());
    const now = this.clock();
    const last = this.followed;
    if (last && now >= last.at && now - last.at < Math.min(this.interval, FOLLOWER_CHECKPOINT_MS)) return last.read;
    // Concurrent requests share one read; a failed read is not kept, nor the absence of a checkpoint
    // (the first one is served as soon as it is published).
    const read = this.loadPublished();
    this.followed = { at: now, read };
    const forget = () => {
      if (this.followed?.read === read) this.followed = null;
    };
    read.then((cp) => {
      if (!cp) forget();
    }, forget);
    return read;
  }

  private async requireCheckpoint(): Promise<PublishedCheckpoint> {
    const cp = await this.checkpoint();
    if (!cp) throw new EnclaveError('not_found', 'the log has no checkpoint yet (it is published within a second of the first unseal)');
    return cp;
  }

  // ---- tiles and proofs ------------------------------------------------------------------------------

  private async tileHashes(level: number, index: number, width: number): Promise<Uint8Array[]> {
    return decodeTile(await this.tileBytes(level, index, width), width);
  }

  /** The first `width` hashes of a stored tile (a narrower tile is a prefix of the wider one). */
  private async tileBytes(level: number, index: number, width: number): Promise<Uint8Array> {
    const key = `${level}/${index}`;
    const cached = this.fullTiles.get(key);
    if (cached) return cached.subarray(0, width * 32);
    const tile = await this.store.readTile(level, index);
    if (!tile || tile.width < width) throw new EnclaveError('log_unavailable', `tile ${key} of width ${width} is missing from the log store`);
    if (tile.width === TILE_WIDTH) this.fullTiles.set(key, tile.data);
    return tile.data.subarray(0, width * 32);
  }

  private hashReader(size: number): HashReader {
    return tileHashReader(size, (t) => this.tileHashes(t.level, t.index, t.width));
  }

  /**
   * A hash tile as C2SP tlog-tiles serves it, within the published tree: the full tile (width 256) or
   * the partial one of width `width`; `not_found` beyond the tree.
   */
  async tile(level: number, index: number, width: number): Promise<Uint8Array> {
    const cp = await this.requireCheckpoint();
    this.checkWithin(tileWidth(level, index, cp.size), width, `tile ${level}/${index}`);
    return this.tileBytes(level, index, width);
  }

  /** An entry bundle (C2SP tlog-tiles), within the published tree. */
  async entryBundle(index: number, width: number): Promise<Uint8Array> {
    const cp = await this.requireCheckpoint();
    this.checkWithin(tileWidth(0, index, cp.size), width, `entry bundle ${index}`);
    const first = index * TILE_WIDTH;
    return encodeEntryBundle(await this.storedEntries(first, first + width));
  }

  /** Entries [from, to), all of them: one missing within the tree is the store's failure, not the caller's. */
  private async storedEntries(from: number, to: number): Promise<Uint8Array[]> {
    const bodies = await this.store.readEntries(from, to);
    if (bodies.length !== to - from) throw new EnclaveError('log_unavailable', `entries ${from} to ${to - 1} are not all in the log store (${bodies.length} of ${to - from} read)`);
    return bodies;
  }

  private checkWithin(available: number, width: number, what: string): void {
    // A full tile only once it is full; a partial one of any width up to what the tree has.
    const ok = width === TILE_WIDTH ? available === TILE_WIDTH : available >= width;
    if (!ok) throw new EnclaveError('not_found', `${what}${width === TILE_WIDTH ? '' : ` of width ${width}`} is beyond the published tree`);
  }

  private checkSize(size: number, published: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > published) {
      throw new EnclaveError('invalid_log_data', `${what} must be a tree size from 0 to ${published} (the published checkpoint's)`, { details: { field: what } });
    }
  }

  /** Inclusion proof of entry `index` in the tree of `size` (default: the published checkpoint's). */
  async inclusionProof(index: number, size?: number): Promise<{ index: number; size: number; leafHash: string; proof: string[]; checkpoint: string }> {
    const cp = await this.requireCheckpoint();
    const n = size ?? cp.size;
    this.checkSize(n, cp.size, 'size');
    if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
      throw new EnclaveError('invalid_log_data', n === 0 ? 'a tree of size 0 has no entries to prove' : `index must be from 0 to ${n - 1} for a tree of size ${n}`, { details: { field: 'index' } });
    }
    const [body] = await this.storedEntries(index, index + 1);
    if (!body) throw new EnclaveError('log_unavailable', `entry ${index} is missing from the log store`);
    const proof = await proveRecord(n, index, this.hashReader(n));
    return { index, size: n, leafHash: encodeBase64(leafHash(body)), proof: proof.map(encodeBase64), checkpoint: cp.text };
  }

  /** Consistency proof from the tree of `from` to the tree of `to` (default: the published checkpoint's). */
  async consistencyProof(from: number, to?: number): Promise<{ from: number; to: number; proof: string[]; checkpoint: string }> {
    const cp = await this.requireCheckpoint();
    const n = to ?? cp.size;
    this.checkSize(n, cp.size, 'to');
    this.checkSize(from, n, 'from');
    return { from, to: n, proof: (await this.consistencyHashes(from, n)).map(encodeBase64), checkpoint: cp.text };
  }

  private consistencyHashes(from: number, to: number): Promise<Uint8Array[]> {
    return proveTree(to, from, this.hashReader(to));
  }

  // ---- search --------------------------------------------------------------------------------------

  /** Entries matching every filter, within the published checkpoint, each with its inclusion proof. */
  async search(query: LogSearchQuery): Promise<LogSearchPage> {
    const subject = query.subject !== undefined ? this.hashSubject(query.subject) : query.subjectHash;
    const cp = await this.checkpoint();
    if (!cp) return { checkpoint: null, size: 0, results: [], next: null };
    const found = await this.store.search({
      ...(query.from === undefined ? {} : { from: query.from }),
      ...(query.to === undefined ? {} : { to: query.to }),
      ...(query.principal === undefined ? {} : { principal: query.principal }),
      ...(query.type === undefined ? {} : { type: query.type }),
      ...(subject === undefined ? {} : { subject }),
      ...(query.after === undefined ? {} : { after: query.after }),
      before: cp.size,
      limit: query.limit,
    });
    const reader = this.hashReader(cp.size);
    const results: LogSearchResult[] = [];
    for (const e of found) {
      const proof = await proveRecord(cp.size, e.index, reader);
      results.push({ index: e.index, entry: decodeLogEntry(e.body), proof: proof.map(encodeBase64) });
    }
    const last = found.at(-1);
    return { checkpoint: cp.text, size: cp.size, results, next: found.length === query.limit && last ? last.index : null };
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------

  /**
   * Stops the integrator, writes what is queued, and closes the store. Bounded: a store that confirms no
   * commit within the commit timeout (a stuck fsync, a lock never let go) is given up on: what is still
   * pending fails with log_unavailable (nobody was acknowledged; a commit that completes later stands as
   * an attempt), and so is an integration run or a store close that does not finish within it. Close
   * then returns, so that a shutdown is not held for ever.
   */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    // The queue is written as long as commits keep being confirmed: a long one is not cut short.
    for (let seen = -1; this.writing && seen !== this.settledBatches; ) {
      seen = this.settledBatches;
      if (await settlesWithin(this.writing, this.commitTimeout)) break;
    }
    if (this.writing) {
      const err = new EnclaveError('log_unavailable', `the transparency log was closed: its store did not confirm a commit within ${this.commitTimeout} ms`);
      for (const p of this.inFlight) p.reject(err);
      for (const p of this.queue.splice(0)) p.reject(err);
    }
    if (this.ticking && !(await settlesWithin(this.ticking.catch(() => {}), this.commitTimeout))) {
      this.onError(new EnclaveError('log_unavailable', `the log's integration did not finish within ${this.commitTimeout} ms of closing; not waited for`), 'close');
    }
    this.sealedNow();
    if (!(await settlesWithin(this.store.close(), this.commitTimeout))) {
      this.onError(new EnclaveError('log_unavailable', `the log store did not close within ${this.commitTimeout} ms; not waited for`), 'close');
    }
  }
}
