// A Merkle Tree Hash (RFC 9162 section 2.1.1, SHA-256) over a stream of leaves, in constant memory: the
// transparency log's own tree code (tlog/merkle.ts) keeps the right frontier (one hash per set bit of
// the size); leaves are handed to it a page at a time.
import { appendToFrontier, EMPTY_FRONTIER, frontierRoot, leafHash, type Frontier } from './tlog/merkle.ts';

const PAGE = 1024;

export class MerkleBuilder {
  private frontier: Frontier = EMPTY_FRONTIER;
  private pending: Uint8Array[] = [];

  get size(): number {
    return this.frontier.size + this.pending.length;
  }

  /** Adds the next leaf, given as its leaf input (its leaf hash SHA-256(0x00 || data) is taken here). */
  add(data: Uint8Array): void {
    this.pending.push(leafHash(data));
    if (this.pending.length >= PAGE) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.frontier = appendToFrontier(this.frontier, this.pending).frontier;
    this.pending = [];
  }

  root(): Buffer {
    this.flush();
    return Buffer.from(frontierRoot(this.frontier));
  }
}

/** The root of a whole list of leaf inputs. */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  const b = new MerkleBuilder();
  for (const l of leaves) b.add(l);
  return b.root();
}
