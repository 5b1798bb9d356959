// A mutex per key, in process, for work that takes many keys at once and never shares them (the vault's
// record-id claims: a migration's page takes thousands). KeyedGate takes its keys one at a time, each an
// async step of its own, which it needs so that its shared holders cannot wait in a cycle; here every key
// is taken in one synchronous step, so a holder waits only for holders that arrived before it (no cycle),
// at the cost of one promise per holder rather than several per key.
export class KeyedMutex {
  /** Key → the release of its newest holder (running or waiting). */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `work` once every holder of any of `keys` that arrived before it is done. */
  async run<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const held: string[] = [];
    let before: Set<Promise<void>> | undefined;
    for (const key of keys) {
      const tail = this.tails.get(key);
      if (tail === done) continue; // a key given twice
      if (tail !== undefined) (before ??= new Set()).add(tail);
      this.tails.set(key, done);
      held.push(key);
    }
    try {
      if (before) await Promise.all(before);
      return await work();
    } finally {
      release();
      for (const key of held) if (this.tails.get(key) === done) this.tails.delete(key);
    }
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
