// The leaf hashes of the entries this process appended and the integrator has not yet taken in: one
// contiguous run of log indexes, kept as the writer returned them (32 bytes each, a packed block per
// commit). The integrator reads the entries back from the store only for indexes the run does not hold
// (appended by another process, or before a gap or an overflow reset the run).
import { HASH_SIZE } from './merkle.ts';

interface Block {
  readonly first: number;
  readonly packed: Uint8Array;
}

export class LeafRun {
  private blocks: Block[] = [];
  /** The first index held, and one past the last. */
  private start = 0;
  private end = 0;
  private readonly max: number;

  /** `max`: the most hashes held; beyond it the run starts over (the store has them all anyway). */
  constructor(max: number) {
    this.max = max;
  }

  /** Keeps the hashes of entries `first`, `first + 1`, … (32 bytes each); a gap starts the run over. */
  add(first: number, packed: Uint8Array): void {
    const count = packed.length / HASH_SIZE;
    if (!Number.isSafeInteger(first) || first < 0 || !Number.isInteger(count) || count === 0) return;
    if (first !== this.end || this.end - this.start + count > this.max) this.clear(first);
    if (count > this.max) return this.clear(first + count);
    this.blocks.push({ first, packed });
    this.end = first + count;
  }

  /** The hashes of [from, to), if the run holds all of them. */
  take(from: number, to: number): Uint8Array[] | undefined {
    if (from < this.start || to > this.end || from >= to) return undefined;
    const out: Uint8Array[] = [];
    for (const b of this.blocks) {
      const bEnd = b.first + b.packed.length / HASH_SIZE;
      if (bEnd <= from) continue;
      if (b.first >= to) break;
      for (let i = Math.max(from, b.first); i < Math.min(to, bEnd); i++) out.push(b.packed.subarray((i - b.first) * HASH_SIZE, (i - b.first + 1) * HASH_SIZE));
    }
    return out;
  }

  /** Forgets the hashes below `to` (integrated). */
  drop(to: number): void {
    if (to >= this.end) return this.clear(this.end);
    if (to <= this.start) return;
    let k = 0;
    while (k < this.blocks.length && (this.blocks[k] as Block).first + (this.blocks[k] as Block).packed.length / HASH_SIZE <= to) k++;
    this.blocks.splice(0, k);
    this.start = to;
  }

  /** How many hashes are held. */
  get size(): number {
    return this.end - this.start;
  }

  private clear(at: number): void {
    this.blocks = [];
    this.start = this.end = at;
  }
}
