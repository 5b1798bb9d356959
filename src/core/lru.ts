/**
 * A bounded least-recently-used map. The Map only finds an entry's slot; recency is a doubly linked list
 * threaded through slot-indexed arrays, so a hit moves two links and leaves the Map's table as it is
 * (re-inserting the key on every hit left a deleted slot behind each time, and the table was rebuilt).
 */
export class Lru<K, V> {
  private readonly slots = new Map<K, number>();
  private readonly keys: (K | undefined)[] = [];
  private readonly values: (V | undefined)[] = [];
  /** The next older slot, or -1 for the least recently used. */
  private readonly older: number[] = [];
  /** The next newer slot, or -1 for the most recently used. */
  private readonly newer: number[] = [];
  /** Slots freed by delete and shift, reused before the arrays grow. */
  private readonly free: number[] = [];
  private oldest = -1;
  private newest = -1;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get(key: K): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.touch(slot);
    return this.values[slot];
  }

  set(key: K, value: V): void {
    const own = this.slots.get(key);
    if (own !== undefined) {
      this.values[own] = value;
      this.touch(own);
      return;
    }
    const slot = this.free.pop() ?? this.keys.length;
    this.keys[slot] = key;
    this.values[slot] = value;
    this.slots.set(key, slot);
    this.link(slot);
    if (this.slots.size > this.capacity) this.shift();
  }

  /** Removes the least recently used entry and returns it (undefined when empty). */
  shift(): [K, V] | undefined {
    const slot = this.oldest;
    if (slot === -1) return undefined;
    const entry: [K, V] = [this.keys[slot] as K, this.values[slot] as V];
    this.remove(slot);
    return entry;
  }

  /** Whether the map holds `capacity` entries: the next new key evicts one. */
  get full(): boolean {
    return this.slots.size >= this.capacity;
  }

  delete(key: K): void {
    const slot = this.slots.get(key);
    if (slot !== undefined) this.remove(slot);
  }

  clear(): void {
    this.slots.clear();
    for (const a of [this.keys, this.values, this.older, this.newer, this.free]) a.length = 0;
    this.oldest = this.newest = -1;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Makes `slot` the most recently used. */
  private touch(slot: number): void {
    if (slot === this.newest) return;
    this.unlink(slot);
    this.link(slot);
  }

  private remove(slot: number): void {
    this.unlink(slot);
    this.slots.delete(this.keys[slot] as K);
    // Drop the references, so that evicted values can be collected.
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.free.push(slot);
  }

  /** Appends `slot` as the most recently used. */
  private link(slot: number): void {
    this.older[slot] = this.newest;
    this.newer[slot] = -1;
    if (this.newest === -1) this.oldest = slot;
    else this.newer[this.newest] = slot;
    this.newest = slot;
  }

  private unlink(slot: number): void {
    const before = this.older[slot] ?? -1;
    const after = this.newer[slot] ?? -1;
    if (before === -1) this.oldest = after;
    else this.newer[before] = after;
    if (after === -1) this.newest = before;
    else this.older[after] = before;
  }
}
