// Merkle tree hashing and proofs of RFC 9162 §2.1 (identical to RFC 6962 §2.1) with SHA-256, and the
// stored-hash layout of Go's golang.org/x/mod/sumdb/tlog: every complete subtree (level L, index n)
// has one position in an append-only sequence of hashes, and appending leaf n appends exactly the
// hashes of the subtrees that leaf completes. Sizes and indexes are JavaScript numbers (safe integers),
// so no bitwise operators are used: they would truncate to 32 bits.
import { createHash } from 'node:crypto';
import { EnclaveError } from '../errors.ts';
import { bytesEqual, toHex } from './encoding.ts';

export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** MTH({}) = SHA-256() (RFC 9162 §2.1.1). */
export const EMPTY_TREE_HASH: Uint8Array = sha256();

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** MTH({d}) = SHA-256(0x00 || d). */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** Reads stored hashes by their stored-hash index; must return exactly one hash per index, in order. */
export interface HashReader {
  readHashes(indexes: readonly number[]): Promise<readonly Uint8Array[]>;
}

function fail(message: string): never {
  throw new EnclaveError('invalid_log_data', message);
}

/** Throws `invalid_log_data` unless `value` is a non-negative safe integer. */
export function checkCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) fail(`${what} must be a non-negative integer, got ${String(value)}`);
}

function shr(n: number, bits: number): number {
  return Math.floor(n / 2 ** bits);
}

/** Number of trailing zero bits of x >= 1. */
function trailingZeros(x: number): number {
  let count = 0;
  while (x % 2 === 0) {
    x /= 2;
    count++;
  }
  return count;
}

function popCount(x: number): number {
  let count = 0;
  while (x > 0) {
    count += x % 2;
    x = Math.floor(x / 2);
  }
  return count;
}

/** The largest power of two that is <= n (n >= 1), and its exponent. */
function pow2AtMost(n: number): { k: number; level: number } {
  let level = n < 2 ** 32 ? 31 - Math.clz32(n) : 32;
  while (2 ** (level + 1) <= n) level++;
  return { k: 2 ** level, level };
}

/** The largest power of two that is < n (n >= 2): RFC 9162's split point k. */
function splitPoint(n: number): number {
  return pow2AtMost(n - 1).k;
}

/**
 * Index in the stored-hash sequence of the hash of the complete subtree at `level` with index `n`
 * (covering leaves n*2^level .. (n+1)*2^level - 1).
 */
export function storedHashIndex(level: number, n: number): number {
  checkCount(level, 'level');
  checkCount(n, 'subtree index');
  // Level L's n-th hash is stored right after level L-1's (2n+1)-th hash: walk down to level 0,
  // where leaf m's hash is at m + m/2 + m/4 + ..., then add back one position per level.
  let m = n * 2 ** level + (2 ** level - 1);
  let index = 0;
  while (m > 0) {
    index += m;
    m = Math.floor(m / 2);
  }
  index += level;
  if (!Number.isSafeInteger(index)) fail(`stored hash (level ${level}, index ${n}) is beyond the supported tree size`);
  return index;
}

/** Inverse of storedHashIndex. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  checkCount(index, 'stored hash index');
  // storedHashIndex(0, n) < 2n, so the leaf whose append wrote `index` is at or after index/2.
  let n = Math.floor(index / 2);
  let indexN = storedHashIndex(0, n);
  for (;;) {
    // Appending leaf n writes 1 + trailingZeros(n + 1) hashes.
    const next = indexN + 1 + trailingZeros(n + 1);
    if (next > index) break;
    n++;
    indexN = next;
  }
  const level = index - indexN;
  return { level, n: shr(n, level) };
}

/** Number of stored hashes of a tree with `size` leaves. */
export function storedHashCount(size: number): number {
  checkCount(size, 'tree size');
  if (size === 0) return 0;
  return storedHashIndex(0, size - 1) + 1 + trailingZeros(size);
}

async function read(reader: HashReader, indexes: readonly number[]): Promise<readonly Uint8Array[]> {
  if (indexes.length === 0) return [];
  const hashes = await reader.readHashes(indexes);
  if (hashes.length !== indexes.length) {
    throw new EnclaveError('internal', `hash reader returned ${hashes.length} hashes for ${indexes.length} indexes`);
  }
  for (const h of hashes) if (h.byteLength !== HASH_SIZE) throw new EnclaveError('invalid_log_data', `a stored hash is ${h.byteLength} bytes, not ${HASH_SIZE}`);
  return hashes;
}

/**
 * The hashes to append to storage when leaf `n` with hash `leaf` is appended: the leaf hash, then the
 * hash of every subtree it completes (lowest first). They go at storedHashIndex(0, n) onward.
 */
export async function storedHashesForRecord(n: number, leaf: Uint8Array, reader: HashReader): Promise<Uint8Array[]> {
  checkCount(n, 'record index');
  const completes = trailingZeros(n + 1);
  // The left siblings, in increasing stored order (highest level first).
  const indexes: number[] = [];
  for (let i = completes - 1; i >= 0; i--) indexes.push(storedHashIndex(i, shr(n, i) - 1));
  const siblings = await read(reader, indexes);
  const out = [leaf];
  let h = leaf;
  for (let i = 0; i < completes; i++) {
    h = nodeHash(siblings[completes - 1 - i] as Uint8Array, h);
    out.push(h);
  }
  return out;
}

// Tree hash of leaves [lo, hi) as a fold of its maximal complete subtrees (RFC 9162 §2.1.1's MTH,
// computed from stored subtree hashes instead of leaves).
function subTreeIndex(lo: number, hi: number, need: number[]): void {
  while (lo < hi) {
    const { k, level } = pow2AtMost(hi - lo);
    need.push(storedHashIndex(level, lo / k));
    lo += k;
  }
}

class Cursor {
  #hashes: readonly Uint8Array[];
  #at = 0;
  constructor(hashes: readonly Uint8Array[]) {
    this.#hashes = hashes;
  }
  next(): Uint8Array {
    const h = this.#hashes[this.#at++];
    if (h === undefined) throw new EnclaveError('internal', 'Merkle index arithmetic consumed more hashes than it read');
    return h;
  }
}

function subTreeHash(lo: number, hi: number, hashes: Cursor): Uint8Array {
  const parts: Uint8Array[] = [];
  while (lo < hi) {
    parts.push(hashes.next());
    lo += pow2AtMost(hi - lo).k;
  }
  let h = parts[parts.length - 1] as Uint8Array;
  for (let i = parts.length - 2; i >= 0; i--) h = nodeHash(parts[i] as Uint8Array, h);
  return h;
}

/** Hashes of the subtrees [lo, hi) listed, in order, read with one call to the reader. */
async function rangeHashes(ranges: readonly (readonly [number, number])[], reader: HashReader): Promise<Uint8Array[]> {
  const need: number[] = [];
  for (const [lo, hi] of ranges) subTreeIndex(lo, hi, need);
  const hashes = new Cursor(await read(reader, need));
  return ranges.map(([lo, hi]) => subTreeHash(lo, hi, hashes));
}

/** The root hash of the tree with `size` leaves (EMPTY_TREE_HASH for size 0). */
export async function treeHash(size: number, reader: HashReader): Promise<Uint8Array> {
  checkCount(size, 'tree size');
  if (size === 0) return EMPTY_TREE_HASH;
  return (await rangeHashes([[0, size]], reader))[0] as Uint8Array;
}

// The subtrees whose hashes form PATH(n, D[lo:hi]) of RFC 9162 §2.1.3.1, leaf-adjacent first.
function inclusionRanges(lo: number, hi: number, n: number, out: [number, number][]): void {
  if (lo + 1 === hi) return;
  const k = splitPoint(hi - lo);
  if (n < lo + k) {
    inclusionRanges(lo, lo + k, n, out);
    out.push([lo + k, hi]);
  } else {
    inclusionRanges(lo + k, hi, n, out);
    out.push([lo, lo + k]);
  }
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1). */
export async function proveRecord(size: number, index: number, reader: HashReader): Promise<Uint8Array[]> {
  checkCount(size, 'tree size');
  checkCount(index, 'index');
  if (index >= size) fail(`index ${index} is not in a tree of size ${size}`);
  const ranges: [number, number][] = [];
  inclusionRanges(0, size, index, ranges);
  return rangeHashes(ranges, reader);
}

// The subtrees whose hashes form SUBPROOF(m, D[lo:hi], lo == 0) of RFC 9162 §2.1.4.1, deepest first.
function consistencyRanges(lo: number, hi: number, m: number, out: [number, number][]): void {
  if (m === hi) {
    // The old tree itself needs no hash: the verifier knows its root.
    if (lo !== 0) out.push([lo, hi]);
    return;
  }
  const k = splitPoint(hi - lo);
  if (m <= lo + k) {
    consistencyRanges(lo, lo + k, m, out);
    out.push([lo + k, hi]);
  } else {
    consistencyRanges(lo + k, hi, m, out);
    out.push([lo, lo + k]);
  }
}

/**
 * The consistency proof from the tree of `oldSize` leaves to the tree of `size` leaves (RFC 9162
 * §2.1.4.1). Empty when oldSize is 0 or equals size (C2SP tlog-witness requires an empty proof from 0).
 */
export async function proveTree(size: number, oldSize: number, reader: HashReader): Promise<Uint8Array[]> {
  checkCount(size, 'tree size');
  checkCount(oldSize, 'old tree size');
  if (oldSize > size) fail(`old tree size ${oldSize} is larger than tree size ${size}`);
  if (oldSize === 0 || oldSize === size) return [];
  const ranges: [number, number][] = [];
  consistencyRanges(0, size, oldSize, ranges);
  return rangeHashes(ranges, reader);
}

function short(hash: Uint8Array): string {
  return toHex(hash).slice(0, 16);
}

function proofFailure(message: string): never {
  throw new EnclaveError('log_proof_invalid', message);
}

function checkHashes(proof: readonly Uint8Array[], what: string): void {
  for (const [i, h] of proof.entries()) {
    if (h.byteLength !== HASH_SIZE) fail(`${what} hash ${i} is ${h.byteLength} bytes, not ${HASH_SIZE}`);
  }
}

/** Verifies an inclusion proof (RFC 9162 §2.1.3.2); throws `log_proof_invalid` naming what failed. */
export function checkRecord(proof: readonly Uint8Array[], size: number, root: Uint8Array, index: number, leaf: Uint8Array): void {
  checkCount(size, 'tree size');
  checkCount(index, 'index');
  checkHashes(proof, 'inclusion proof');
  if (index >= size) proofFailure(`index ${index} is not in a tree of size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) proofFailure(`inclusion proof of index ${index} in tree size ${size} has too many hashes (${proof.length})`);
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) proofFailure(`inclusion proof of index ${index} in tree size ${size} has too few hashes (${proof.length})`);
  if (!bytesEqual(r, root)) {
    proofFailure(`inclusion proof of index ${index} in tree size ${size} leads to root ${short(r)}…, not the expected ${short(root)}…`);
  }
}

/** Verifies a consistency proof (RFC 9162 §2.1.4.2); throws `log_proof_invalid` naming what failed. */
export function checkTree(proof: readonly Uint8Array[], size: number, root: Uint8Array, oldSize: number, oldRoot: Uint8Array): void {
  checkCount(size, 'tree size');
  checkCount(oldSize, 'old tree size');
  checkHashes(proof, 'consistency proof');
  const what = `consistency proof from size ${oldSize} to ${size}`;
  if (oldSize > size) proofFailure(`${what}: the old tree is larger than the new one`);
  if (oldSize === 0 || oldSize === size) {
    if (proof.length !== 0) proofFailure(`${what} must be empty, has ${proof.length} hashes`);
    // Every tree extends the empty one, whose root is fixed (RFC 9162 §2.1.1: MTH({}) = SHA-256()).
    if (oldSize === 0 && !bytesEqual(oldRoot, EMPTY_TREE_HASH)) proofFailure(`the root of the empty tree is ${short(EMPTY_TREE_HASH)}…, not ${short(oldRoot)}…`);
    if (oldSize === size && !bytesEqual(root, oldRoot)) proofFailure(`two different roots for tree size ${size}: ${short(oldRoot)}… and ${short(root)}…`);
    return;
  }
  if (proof.length === 0) proofFailure(`${what} is empty`);
  // An old size that is a power of two is itself a complete subtree: the proof omits its hash.
  const path = pow2AtMost(oldSize).k === oldSize ? [oldRoot, ...proof] : [...proof];
  let fn = oldSize - 1;
  let sn = size - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) proofFailure(`${what} has too many hashes (${proof.length})`);
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) proofFailure(`${what} has too few hashes (${proof.length})`);
  if (!bytesEqual(fr, oldRoot)) proofFailure(`${what} does not lead to the old root: computed ${short(fr)}…, expected ${short(oldRoot)}…`);
  if (!bytesEqual(sr, root)) proofFailure(`${what} does not lead to the new root: computed ${short(sr)}…, expected ${short(root)}…`);
}

/**
 * The right frontier (compact range [0, size)): the roots of the complete subtrees a tree of `size`
 * leaves decomposes into, leftmost (largest) first — one per set bit of `size`. With it a sequencer
 * appends leaves and gets the new root without reading storage.
 */
export interface Frontier {
  readonly size: number;
  readonly hashes: readonly Uint8Array[];
}

export const EMPTY_FRONTIER: Frontier = { size: 0, hashes: [] };

/** Stored-hash indexes of the frontier of a tree of `size` leaves (to load it with a HashReader). */
export function frontierIndexes(size: number): number[] {
  checkCount(size, 'tree size');
  const need: number[] = [];
  subTreeIndex(0, size, need);
  return need;
}

/** Loads the frontier of a tree of `size` leaves from stored hashes. */
export async function readFrontier(size: number, reader: HashReader): Promise<Frontier> {
  return { size, hashes: [...(await read(reader, frontierIndexes(size)))] };
}

export function frontierRoot(frontier: Frontier): Uint8Array {
  checkFrontier(frontier);
  const { hashes } = frontier;
  if (hashes.length === 0) return EMPTY_TREE_HASH;
  let h = hashes[hashes.length - 1] as Uint8Array;
  for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i] as Uint8Array, h);
  return h;
}

function checkFrontier(frontier: Frontier): void {
  checkCount(frontier.size, 'frontier size');
  if (frontier.hashes.length !== popCount(frontier.size)) {
    fail(`a frontier of size ${frontier.size} has ${popCount(frontier.size)} hashes, not ${frontier.hashes.length}`);
  }
  checkHashes(frontier.hashes, 'frontier');
}

export interface FrontierAppend {
  readonly frontier: Frontier;
  /** The new stored hashes in order; the first goes at storedHashCount(old size). */
  readonly storedHashes: Uint8Array[];
  readonly root: Uint8Array;
}

/** Appends leaf hashes in memory: the new frontier, every new stored hash and the new root. */
export function appendToFrontier(frontier: Frontier, leafHashes: readonly Uint8Array[]): FrontierAppend {
  checkFrontier(frontier);
  checkHashes(leafHashes, 'leaf');
  const stack = [...frontier.hashes];
  const stored: Uint8Array[] = [];
  let n = frontier.size;
  for (const leaf of leafHashes) {
    let h = leaf;
    stored.push(h);
    // Each trailing 1 bit of n is a complete subtree on the stack that this leaf's subtree now pairs with.
    for (let t = trailingZeros(n + 1); t > 0; t--) {
      h = nodeHash(stack.pop() as Uint8Array, h);
      stored.push(h);
    }
    stack.push(h);
    n++;
  }
  if (!Number.isSafeInteger(n)) fail('the tree would exceed the supported size');
  const next = { size: n, hashes: stack };
  return { frontier: next, storedHashes: stored, root: frontierRoot(next) };
}
