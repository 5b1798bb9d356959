// The Merkle Tree Hash of RFC 9162 section 2.1.1 (SHA-256), computed over a stream of leaves in constant
// memory: only the roots of the complete subtrees seen so far are kept (at most log2(n) of them).
// Kept in one small file so it can give way to the log's own tree code (src/core/tlog) later.
import { createHash } from 'node:crypto';

const LEAF_PREFIX = Buffer.of(0x00);
const NODE_PREFIX = Buffer.of(0x01);

/** MTH({}) = SHA-256() */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** MTH({d}) = SHA-256(0x00 || d) */
export function leafHash(data: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right) */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

export class MerkleBuilder {
  /** Roots of complete subtrees, largest first; sizes are distinct powers of two. */
  private readonly stack: { size: number; hash: Buffer }[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Adds the next leaf, given as its leaf input (the hash of it is taken here). */
  add(data: Uint8Array): void {
    this.addLeafHash(leafHash(data));
  }

  addLeafHash(hash: Buffer): void {
    let node = { size: 1, hash };
    for (let top = this.stack.at(-1); top !== undefined && top.size === node.size; top = this.stack.at(-1)) {
      this.stack.pop();
      node = { size: top.size * 2, hash: nodeHash(top.hash, node.hash) };
    }
    this.stack.push(node);
    this.n += 1;
  }

  /**
   * MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest power of two below n:
   * the first complete subtree is D[0:k], and the rest folds the same way, from the right.
   */
  root(): Buffer {
    let acc: Buffer | undefined;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const h = this.stack[i]?.hash ?? EMPTY_ROOT;
      acc = acc === undefined ? h : nodeHash(h, acc);
    }
    return acc ?? EMPTY_ROOT;
  }
}

/** The root of a whole list of leaf inputs. */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  const b = new MerkleBuilder();
  for (const l of leaves) b.add(l);
  return b.root();
}
