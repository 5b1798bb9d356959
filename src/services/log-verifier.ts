// The outside verifier (issue 4, point 4): from a log's checkpoint and C2SP tiles alone, as anyone
// holding the log's public key would, it checks
//   1. the checkpoint's signature by the pinned log key (C2SP signed-note, tlog-checkpoint),
//   2. the whole tree: every entry bundle hashes to its level-0 tile, every tile above holds the hashes
//      of the full tiles below it, and the entries fold into the checkpoint's root (RFC 9162 §2.1.1),
//   3. the inclusion of chosen entries (RFC 9162 §2.1.3, proofs computed from the tiles),
//   4. consistency with a checkpoint saved earlier (no rollback, no split view, no rewritten history),
//   5. optionally, a quorum of witness cosignatures (C2SP tlog-cosignature).
// Every failure is a typed EnclaveError whose message names the resource, the index and the check.
// It is HTTP-agnostic: the caller supplies `fetch(path)` over the log's URL prefix.
import { EnclaveError } from '../core/errors.ts';
import { openCheckpoint, parseCheckpoint, type Checkpoint, type OpenedCheckpoint } from '../core/tlog/checkpoint.ts';
import { cosignatureVerifierFromKey, repeatedWitnessKeys } from '../core/tlog/cosignature.ts';
import { bytesEqual, decodeUtf8, toHex } from '../core/tlog/encoding.ts';
import { EMPTY_FRONTIER, EMPTY_TREE_HASH, HASH_SIZE, appendToFrontier, checkRecord, checkTree, frontierRoot, leafHash, proveRecord, proveTree, type Frontier, type HashReader } from '../core/tlog/merkle.ts';
import { keyIdHex, noteVerifier, splitNote, type NoteVerifier } from '../core/tlog/note.ts';
import type { TlogProof } from '../core/tlog/proof-format.ts';
import {
  TILE_WIDTH,
  decodeEntryBundle,
  entriesPath,
  fullTileHash,
  tileHashReader,
  tilePath,
  tileWidth,
  type TileCoords,
} from '../core/tlog/tiles.ts';

/** Fetches a resource by its path under the log's prefix (`checkpoint`, `tile/0/000`, …); undefined when it does not exist. */
export type LogFetch = (path: string) => Promise<Uint8Array | undefined>;

export interface VerifyLogOptions {
  readonly fetch: LogFetch;
  /** The log's pinned verifier key (signed-note vkey, Ed25519). */
  readonly vkey: string;
  /** The expected checkpoint origin (default: the vkey's name). */
  readonly origin?: string;
  /** Recompute the whole tree from every entry and tile (default true). */
  readonly full?: boolean;
  /** Entries whose inclusion in the checkpoint to prove and check. */
  readonly entries?: readonly number[];
  /** A signed checkpoint of this log saved earlier: the current one must extend it. */
  readonly since?: string;
  /** Witness verifier keys (cosignature/v1, type 0x04) and how many of them must have cosigned. */
  readonly witnesses?: readonly string[];
  readonly quorum?: number;
  /** Resources fetched at once (default 8). */
  readonly concurrency?: number;
  readonly onProgress?: (entriesDone: number, size: number) => void;
}

export interface VerifiedEntry {
  readonly index: number;
  readonly entry: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

export interface LogVerification {
  /** The signed checkpoint exactly as fetched: save it to check the next run's consistency. */
  readonly note: string;
  readonly checkpoint: Checkpoint;
  /** Entries rehashed and tiles checked (0 when `full` is false). */
  readonly entriesChecked: number;
  readonly tilesChecked: number;
  readonly entries: readonly VerifiedEntry[];
  /** The saved checkpoint's size, when `since` was given. */
  readonly consistentWith: number | undefined;
  /** Names of the trusted witnesses whose cosignature verified. */
  readonly cosigners: readonly string[];
}

function mismatch(message: string): never {
  throw new EnclaveError('log_mismatch', message);
}

function short(hash: Uint8Array): string {
  return `${toHex(hash).slice(0, 16)}…`;
}

/** Re-labels a typed error with where it happened, keeping its code. */
function within<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof EnclaveError) throw new EnclaveError(err.code, `${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

async function fetchRequired(fetch: LogFetch, path: string, size: number): Promise<Uint8Array> {
  const data = await fetch(path);
  if (data === undefined) mismatch(`${path} is missing, but the checkpoint of size ${size} requires it`);
  return data;
}

/**
 * Runs `fn` over tiles 0 .. count-1 of a level, at most `limit` in flight, and hands each batch's results
 * to `check` in index order (the first failure, too, in index order). Coordinates are made per batch: a
 * signed size of 2^50 must fail at its first missing tile, not while listing 2^42 of them.
 */
async function inBatches<R>(count: number, limit: number, fn: (index: number) => Promise<R>, check: (result: R) => void): Promise<void> {
  for (let first = 0; first < count; first += limit) {
    const batch = Array.from({ length: Math.min(limit, count - first) }, (_, i) => fn(first + i));
    for (const r of await Promise.allSettled(batch)) {
      if (r.status === 'rejected') throw r.reason;
      check(r.value);
    }
  }
}

function tileHashesOf(data: Uint8Array, t: TileCoords, path: string, size: number): Uint8Array[] {
  if (data.byteLength !== t.width * HASH_SIZE) {
    mismatch(`${path} is ${data.byteLength} bytes, but the checkpoint of size ${size} requires ${t.width} hashes (${t.width * HASH_SIZE} bytes)`);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < t.width; i++) out.push(data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  return out;
}

/** Opens the fetched checkpoint against the pinned key and the witnesses, and checks the quorum. */
function openVerified(
  note: Uint8Array,
  log: NoteVerifier,
  options: { readonly origin?: string; readonly quorum?: number },
  witnesses: readonly NoteVerifier[],
): { text: string; opened: OpenedCheckpoint } {
  const text = within('checkpoint', () => decodeUtf8(note, 'it'));
  const opened = within('checkpoint', () => openCheckpoint(text, log, { ...(options.origin === undefined ? {} : { origin: options.origin }), witnesses }));
  const quorum = options.quorum ?? witnesses.length;
  if (opened.cosigners.length < quorum) {
    const have = opened.cosigners.map((w) => w.name);
    throw new EnclaveError(
      'log_quorum_not_met',
      `checkpoint of size ${opened.checkpoint.size}: ${quorum} of the ${witnesses.length} trusted witnesses must cosign it, but ${have.length === 0 ? 'none did' : `only ${have.join(', ')} did`}`,
    );
  }
  return { text, opened };
}

/**
 * Recomputes the tree of `size` from every entry bundle and tile: each entry must hash to its level-0
 * tile hash, each tile above must hold the hashes of the full tiles below, and the root must be `root`.
 */
async function verifyTree(fetch: LogFetch, size: number, root: Uint8Array, concurrency: number, onProgress?: (done: number, size: number) => void): Promise<number> {
  let frontier: Frontier = EMPTY_FRONTIER;
  let tiles = 0;
  // Hashes the next level's tiles must hold: the hashes of this level's full tiles, in order.
  let expected: Uint8Array[] = [];
  // Fetched in parallel, checked in order: the failure reported is always the first in index order.
  await inBatches(
    Math.ceil(size / TILE_WIDTH),
    concurrency,
    async (n) => {
      const t: TileCoords = { level: 0, index: n, width: tileWidth(0, n, size) };
      const bundlePath = entriesPath(t.index, t.width);
      const hashPath = tilePath(0, t.index, t.width);
      const [bundle, tile] = await Promise.all([fetchRequired(fetch, bundlePath, size), fetchRequired(fetch, hashPath, size)]);
      return { t, bundlePath, hashPath, bundle, tile };
    },
    ({ t, bundlePath, hashPath, bundle, tile }) => {
      const entries = within(bundlePath, () => decodeEntryBundle(bundle));
      if (entries.length !== t.width) mismatch(`${bundlePath} holds ${entries.length} entries, but the checkpoint of size ${size} requires ${t.width}`);
      const hashes = tileHashesOf(tile, t, hashPath, size);
      const leaves = entries.map(leafHash);
      for (const [j, leaf] of leaves.entries()) {
        const first = t.index * TILE_WIDTH;
        if (!bytesEqual(leaf, hashes[j] as Uint8Array)) {
          mismatch(`entry ${first + j} (${bundlePath}, position ${j}) hashes to ${short(leaf)}, but ${hashPath} holds ${short(hashes[j] as Uint8Array)} for it`);
        }
      }
      frontier = appendToFrontier(frontier, leaves).frontier;
      if (t.width === TILE_WIDTH) expected.push(fullTileHash(hashes));
      tiles++;
      onProgress?.(frontier.size, size);
    },
  );
  // The tiles above level 0 hold nothing that is not derived from level 0, but they are what proofs are
  // computed from: each must agree with the level below.
  for (let level = 1; Math.floor(size / TILE_WIDTH ** level) > 0; level++) {
    const next: Uint8Array[] = [];
    await inBatches(
      Math.ceil(Math.floor(size / TILE_WIDTH ** level) / TILE_WIDTH),
      concurrency,
      async (n) => {
        const t: TileCoords = { level, index: n, width: tileWidth(level, n, size) };
        const path = tilePath(t.level, t.index, t.width);
        return { t, path, data: await fetchRequired(fetch, path, size) };
      },
      ({ t, path, data }) => {
        const hashes = tileHashesOf(data, t, path, size);
        for (const [j, h] of hashes.entries()) {
          const below = expected[t.index * TILE_WIDTH + j] as Uint8Array;
          if (!bytesEqual(h, below)) {
            mismatch(`${path} holds ${short(h)} at position ${j}, but the full tile below (${tilePath(level - 1, t.index * TILE_WIDTH + j)}) hashes to ${short(below)}`);
          }
        }
        if (t.width === TILE_WIDTH) next.push(fullTileHash(hashes));
        tiles++;
      },
    );
    expected = next;
  }
  const computed = frontierRoot(frontier);
  if (!bytesEqual(computed, root)) mismatch(`the ${size} entries hash to root ${short(computed)}, but the checkpoint's root is ${short(root)}`);
  return tiles;
}

/** Verifies the log; throws the first failure found as a typed EnclaveError. */
export async function verifyLog(options: VerifyLogOptions): Promise<LogVerification> {
  const log = within('--vkey', () => noteVerifier(options.vkey));
  const witnesses = (options.witnesses ?? []).map((w) => within('witness key', () => cosignatureVerifierFromKey(w)));
  // A key listed twice, under one name or two, would count its one cosignature twice towards the quorum.
  const [repeat] = repeatedWitnessKeys(options.witnesses ?? []);
  if (repeat !== undefined) {
    const idOf = (i: number) => `${witnesses[i]?.name ?? ''}+${keyIdHex(witnesses[i]?.keyId ?? 0)}`;
    const [first, id] = [idOf(repeat.first), idOf(repeat.index)];
    throw new EnclaveError('invalid_argument', first === id ? `witness key ${id} is given twice` : `witness keys ${first} and ${id} are the same key given twice`);
  }
  // The log's own key as a witness's: the log operator would cosign its own checkpoints, and the quorum
  // would hold whatever the log showed (tlog-witness: a witness is a party other than the log).
  // Found as a repeat of the log's key put first (repeats among the witnesses were refused above).
  const own = repeatedWitnessKeys([options.vkey, ...(options.witnesses ?? [])]).find((r) => r.first === 0);
  if (own !== undefined) throw new EnclaveError('invalid_argument', `witness key ${witnesses[own.index - 1]?.name ?? ''} is the log's own key (--vkey): a witness must hold a key of its own`);
  if (options.quorum !== undefined && (!Number.isInteger(options.quorum) || options.quorum < 0 || options.quorum > witnesses.length)) {
    throw new EnclaveError('invalid_argument', `the quorum must be from 0 to the number of witness keys (${witnesses.length})`);
  }
  const concurrency = options.concurrency ?? 8;
  // Batches advance by `concurrency`: 0 (or less) would never advance.
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new EnclaveError('invalid_argument', `the concurrency must be a positive integer, got ${String(concurrency)}`);
  const raw = await options.fetch('checkpoint');
  if (raw === undefined) mismatch('the log serves no checkpoint');
  const { text, opened } = openVerified(raw, log, options, witnesses);
  const { size, root } = opened.checkpoint;
  // MTH({}) = SHA-256() (RFC 9162 §2.1.1): a checkpoint of size 0 has one possible root, checked even
  // without the full recomputation (which would find the same), so a bogus one is never saved for --since.
  if (size === 0 && !bytesEqual(root, EMPTY_TREE_HASH)) {
    mismatch(`the checkpoint has size 0, so its root must be the empty tree's ${short(EMPTY_TREE_HASH)}, not ${short(root)}`);
  }

  // A saved checkpoint: same log, and the new one must not be smaller nor differ at the same size.
  let saved: Checkpoint | undefined;
  if (options.since !== undefined) {
    const since = options.since;
    saved = within('saved checkpoint', () => openCheckpoint(since, log, options.origin === undefined ? {} : { origin: options.origin }).checkpoint);
    if (saved.size > size) {
      throw new EnclaveError('log_rollback', `the log's checkpoint has size ${size}, smaller than the saved checkpoint's ${saved.size}: the log was rolled back or truncated`);
    }
    if (saved.size === size && !bytesEqual(saved.root, root)) {
      throw new EnclaveError('log_rollback', `the log's checkpoint and the saved one both have size ${size} but different roots (${short(root)} and ${short(saved.root)}): a split view`);
    }
  }

  let entriesChecked = 0;
  let tilesChecked = 0;
  if (options.full !== false) {
    tilesChecked = await verifyTree(options.fetch, size, root, concurrency, options.onProgress);
    entriesChecked = size;
  }

  // Proofs computed from the tiles, as anyone would, and checked against the signed root.
  const reader = tilesReader(options.fetch, size);
  let consistentWith: number | undefined;
  if (saved !== undefined) {
    const old = saved;
    const proof = await proveTree(size, old.size, reader);
    within(`the log is not consistent with the saved checkpoint of size ${old.size} (its history was rewritten)`, () => checkTree(proof, size, root, old.size, old.root));
    consistentWith = old.size;
  }

  const entries: VerifiedEntry[] = [];
  for (const index of options.entries ?? []) entries.push(await proveFromTiles(options.fetch, opened.checkpoint, index, reader));
  return { note: text, checkpoint: opened.checkpoint, entriesChecked, tilesChecked, entries, consistentWith, cosigners: opened.cosigners.map((w) => w.name) };
}

function tilesReader(fetch: LogFetch, size: number): HashReader {
  return tileHashReader(size, async (t) => {
    const path = tilePath(t.level, t.index, t.width);
    return tileHashesOf(await fetchRequired(fetch, path, size), t, path, size);
  });
}

/** Entry `index` from its bundle, with its inclusion proof computed from the tiles and checked against the root. */
async function proveFromTiles(fetch: LogFetch, checkpoint: Checkpoint, index: number, reader: HashReader): Promise<VerifiedEntry> {
  const { size, root } = checkpoint;
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new EnclaveError('invalid_argument', `entry ${index} is not in the log: the checkpoint has ${size} entries`);
  }
  const bundleIndex = Math.floor(index / TILE_WIDTH);
  const width = tileWidth(0, bundleIndex, size);
  const path = entriesPath(bundleIndex, width);
  const bundle = await fetchRequired(fetch, path, size);
  const entries = within(path, () => decodeEntryBundle(bundle));
  // tlog-tiles: a bundle holds exactly its width's entries, as verifyTree requires of every bundle.
  if (entries.length !== width) mismatch(`${path} holds ${entries.length} entries, but the checkpoint of size ${size} requires ${width}`);
  const entry = entries[index - bundleIndex * TILE_WIDTH] as Uint8Array;
  const proof = await proveRecord(size, index, reader);
  within(`entry ${index}`, () => checkRecord(proof, size, root, index, leafHash(entry)));
  return { index, entry, proof };
}

export interface ProvenEntry extends TlogProof {
  readonly size: number;
  readonly entry: Uint8Array;
}

/**
 * The C2SP tlog-proof of entry `index` in the log's current checkpoint, computed from the tiles and
 * checked against the checkpoint's root; with `vkey`, the checkpoint's signature is checked too.
 */
export async function proveEntry(options: { readonly fetch: LogFetch; readonly index: number; readonly vkey?: string; readonly origin?: string }): Promise<ProvenEntry> {
  const raw = await options.fetch('checkpoint');
  if (raw === undefined) mismatch('the log serves no checkpoint');
  const note = within('checkpoint', () => decodeUtf8(raw, 'it'));
  const checkpoint =
    options.vkey === undefined
      ? within('checkpoint', () => parseCheckpoint(splitNote(note).text))
      : openVerified(raw, within('--vkey', () => noteVerifier(options.vkey as string)), options.origin === undefined ? {} : { origin: options.origin }, []).opened.checkpoint;
  const { entry, proof } = await proveFromTiles(options.fetch, checkpoint, options.index, tilesReader(options.fetch, checkpoint.size));
  return { index: options.index, proof, checkpoint: note, size: checkpoint.size, entry };
}
