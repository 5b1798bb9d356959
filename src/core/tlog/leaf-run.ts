// The leaf hashes of the entries this process appended and the integrator has not yet taken in: one
// contiguous run of log indexes, packed in one buffer of at most `max` hashes (32 bytes each). The
// integrator reads the entries back from the store only for indexes the run does not hold (appended by
// another process, or before a gap or an overflow started the run over).
import { HASH_SIZE } from './merkle.ts';

export class LeafRun {
  /** Hashes of [start, end), in order, from offset 0. */
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private readonly max: number;

  /** `max`: the most hashes held (its buffer never exceeds `max` × 32 bytes); beyond, the run starts over. */
  constructor(max: number) {
    this.max = Math.max(1, Math.trunc(max));
  }

  /** Keeps the hashes of entries `first`, `first + 1`, … (32 bytes each); a gap starts the run over. */
  add(first: number, packed: Uint8Array): void {
    const count = packed.length / HASH_SIZE;
    if (!Number.isSafeInteger(first) || first < 0 || !Number.isInteger(count) || count === 0) return;
    if (first !== this.end || this.size + count > this.max) this.clear(first);
    if (count > this.max) return this.clear(first + count);
    const need = (this.size + count) * HASH_SIZE;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.max * HASH_SIZE, Math.max(need, this.buf.length * 2, 1024 * HASH_SIZE)));
      grown.set(this.buf.subarray(0, this.size * HASH_SIZE));
      this.buf = grown;
    }
    this.buf.set(packed, this.size * HASH_SIZE);
    this.end = first + count;
  }

  /** Copies of the hashes of [from, to), if the run holds all of them (the buffer is reused). */
  take(from: number, to: number): Uint8Array[] | undefined {
    if (from < this.start || to > this.end || from >= to) return undefined;
    const out: Uint8Array[] = [];
    for (let i = from - this.start; i < to - this.start; i++) out.push(this.buf.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
    return out;
  }

  /** Forgets the hashes below `to` (integrated). */
  drop(to: number): void {
    if (to >= this.end) return this.clear(this.end);
    if (to <= this.start) return;
    this.buf.copyWithin(0, (to - this.start) * HASH_SIZE, this.size * HASH_SIZE);
    this.start = to;
  }

  /** How many hashes are held. */
  get size(): number {
    return this.end - this.start;
  }

  private clear(at: number): void {
    this.start = this.end = at;
  }
}
