// A readers-writer lock per key, in process: the vault's record writes share a subject, its registrations,
// erasures and re-homes take it alone (services/vault.ts).
/** The shared holders of one key that arrived one after another, with no exclusive holder between them. */
interface SharedGroup {
  count: number;
  readonly start: Promise<void>;
  readonly end: Promise<void>;
  readonly finish: () => void;
}

/**
 * Work per key, shared or exclusive (a readers-writer lock per key): shared holders of a key run together,
 * an exclusive holder runs alone. Arrival order is kept: an exclusive holder waits for the shared ones
 * before it, and shared ones after it wait for it. Several keys are taken in sorted order, so two holders
 * never wait for each other in a cycle. A failure releases like a success; a key is forgotten once no
 * work holds or awaits it. In-process only: several processes need the store to serialize them.
 */
export class KeyedGate {
  private readonly tails = new Map<string, Promise<void>>();
  /** The shared group a shared holder arriving now joins (none once an exclusive holder queued after it). */
  private readonly open = new Map<string, SharedGroup>();

  shared<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    return this.each(keys, (key, next) => this.sharedOne(key, next), work);
  }

  exclusive<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    return this.each(keys, (key, next) => this.exclusiveOne(key, next), work);
  }

  private each<T>(keys: readonly string[], one: (key: string, next: () => Promise<T>) => Promise<T>, work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const from = (i: number): Promise<T> => (i === sorted.length ? work() : one(sorted[i] as string, () => from(i + 1)));
    return from(0);
  }

  private async sharedOne<T>(key: string, work: () => Promise<T>): Promise<T> {
    let group = this.open.get(key);
    if (!group) {
      let finish!: () => void;
      const end = new Promise<void>((resolve) => {
        finish = resolve;
      });
      group = { count: 0, start: this.tails.get(key) ?? Promise.resolve(), end, finish };
      this.open.set(key, group);
      this.tails.set(key, end);
    }
    const mine = group;
    mine.count += 1;
    await mine.start;
    try {
      return await work();
    } finally {
      mine.count -= 1;
      if (mine.count === 0) {
        if (this.open.get(key) === mine) this.open.delete(key);
        if (this.tails.get(key) === mine.end) this.tails.delete(key);
        mine.finish();
      }
    }
  }

  private async exclusiveOne<T>(key: string, work: () => Promise<T>): Promise<T> {
    // Shared holders arriving from now on wait for this one.
    this.open.delete(key);
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = before.then(() => done);
    this.tails.set(key, tail);
    await before;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
