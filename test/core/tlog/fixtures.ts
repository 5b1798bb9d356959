// Shared by the tlog tests: a naive recursive RFC 9162 implementation to compare against, an in-memory
// stored-hash tree, and short fast-check failure reports.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isEnclaveError, type ErrorCode } from '../../../src/core/errors.ts';
import { EMPTY_FRONTIER, EMPTY_TREE_HASH, appendToFrontier, leafHash, nodeHash, type Frontier, type HashReader } from '../../../src/core/tlog/index.ts';

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function unhex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** Largest power of two strictly below n (RFC 9162 §2.1.1's k). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over leaf hashes, straight from RFC 9162 §2.1.1. */
export function naiveRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_TREE_HASH;
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  const k = split(leaves.length);
  return nodeHash(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1. */
export function naivePath(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  if (m < k) return [...naivePath(m, leaves.slice(0, k)), naiveRoot(leaves.slice(k))];
  return [...naivePath(m - k, leaves.slice(k)), naiveRoot(leaves.slice(0, k))];
}

/** SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1. */
export function naiveSubproof(m: number, leaves: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [naiveRoot(leaves)];
  const k = split(n);
  if (m <= k) return [...naiveSubproof(m, leaves.slice(0, k), b), naiveRoot(leaves.slice(k))];
  return [...naiveSubproof(m - k, leaves.slice(k), false), naiveRoot(leaves.slice(0, k))];
}

/** An append-only tree kept as stored hashes in memory. */
export class MemoryTree implements HashReader {
  readonly stored: Uint8Array[] = [];
  readonly leaves: Uint8Array[] = [];
  readonly entries: Uint8Array[] = [];
  frontier: Frontier = EMPTY_FRONTIER;

  appendEntries(entries: readonly Uint8Array[]): Uint8Array {
    const hashes = entries.map(leafHash);
    // One push per item: spreading tens of thousands of arguments overflows the stack.
    for (const e of entries) this.entries.push(e);
    for (const h of hashes) this.leaves.push(h);
    const r = appendToFrontier(this.frontier, hashes);
    for (const h of r.storedHashes) this.stored.push(h);
    this.frontier = r.frontier;
    return r.root;
  }

  get size(): number {
    return this.leaves.length;
  }

  readHashes(indexes: readonly number[]): Promise<readonly Uint8Array[]> {
    return Promise.resolve(
      indexes.map((i) => {
        const h = this.stored[i];
        if (h === undefined) throw new Error(`stored hash ${i} does not exist (tree has ${this.stored.length})`);
        return h;
      }),
    );
  }
}

export function entry(i: number): Uint8Array {
  return new TextEncoder().encode(`{"i":${i}}`);
}

export function treeOf(size: number): MemoryTree {
  const t = new MemoryTree();
  t.appendEntries(Array.from({ length: size }, (_, i) => entry(i)));
  return t;
}

/** Runs a property with a seed from FC_SEED (or the clock) and a short report on failure. */
export function assertProperty<T>(property: fc.IProperty<T>, params: fc.Parameters<T> = {}): void {
  const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
  try {
    fc.assert(property, { ...params, seed });
  } catch (err) {
    const text = String((err as Error).message);
    throw new Error(`property failed (FC_SEED=${seed}): ${text.length > 1500 ? `${text.slice(0, 1500)} …` : text}`);
  }
}

export async function assertAsyncProperty<T>(property: fc.IAsyncProperty<T>, params: fc.Parameters<T> = {}): Promise<void> {
  const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
  try {
    await fc.assert(property, { ...params, seed });
  } catch (err) {
    const text = String((err as Error).message);
    throw new Error(`property failed (FC_SEED=${seed}): ${text.length > 1500 ? `${text.slice(0, 1500)} …` : text}`);
  }
}

/** Asserts that `fn` throws the EnclaveError `code`, with a message matching `pattern` if given. */
export function throwsCode(fn: () => unknown, code: ErrorCode, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isEnclaveError(err, code), `expected ${code}, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}
