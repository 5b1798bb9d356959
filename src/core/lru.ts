/** A bounded least-recently-used map (Map keeps insertion order; a hit re-inserts the key). */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  private readonly capacity: number;
  /**
   * Eviction walks one long-lived iterator instead of a fresh `keys()` each time: a fresh iterator
   * starts at the front of the Map's table and steps over every slot that deletes left there, which
   * at capacity cost microseconds per eviction. Everything before this iterator was evicted or moved
   * to the end by a re-insertion, so the next key it yields is the least recently used one.
   */
  private oldest: MapIterator<K> = this.map.keys();
  /**
   * Map operations since the iterator was last re-aimed. V8 keeps every table a Map outgrows for as long
   * as an iterator still points into it (chained, for the iterator to catch up), so an iterator that
   * never moves (a cache below its capacity evicts nothing) would keep every table the Map ever had:
   * tens of bytes per hit, without bound. Re-aimed once per `capacity` operations, the cost of a fresh
   * iterator (stepping over deleted slots once) stays constant per operation.
   */
  private churn = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
      this.touched();
    }
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.touched();
    if (this.map.size > this.capacity) this.shift();
  }

  /** Removes the least recently used entry and returns it (undefined when empty). */
  shift(): [K, V] | undefined {
    let oldest = this.oldest.next();
    if (oldest.done) {
      this.oldest = this.map.keys();
      oldest = this.oldest.next();
    }
    if (oldest.done) return undefined;
    const value = this.map.get(oldest.value) as V;
    this.map.delete(oldest.value);
    return [oldest.value, value];
  }

  /** Whether the map holds `capacity` entries: the next new key evicts one. */
  get full(): boolean {
    return this.map.size >= this.capacity;
  }

  private touched(): void {
    if (++this.churn <= this.capacity) return;
    this.churn = 0;
    this.oldest = this.map.keys();
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.oldest = this.map.keys();
    this.churn = 0;
  }

  get size(): number {
    return this.map.size;
  }
}
