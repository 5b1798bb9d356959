// The real SQLite log store, whose appends fail while `broken` is set (a full disk, a lost volume): for
// the fail-closed tests, passed to the enclave as its `logStoreFactory`.
import type { LogStore } from '../../src/core/log-store.ts';
import { sqlitePathOf } from '../../src/storage/open-store.ts';
import { SqliteLogStore } from '../../src/storage/sqlite/sqlite-log-store.ts';

export class BreakableLog {
  broken = false;
  /** Commits are never confirmed while set (a stuck fsync, a lock never let go). */
  hung = false;
  /** Entry types refused while `broken` is not set (the log failing at one particular append). */
  readonly refuse = new Set<string>();

  private fails(items: readonly { readonly type: string }[]): boolean {
    return this.broken || items.some((r) => this.refuse.has(r.type));
  }

  private write<T>(items: readonly { readonly type: string }[], real: () => Promise<T>): Promise<T> {
    if (this.hung) return new Promise<T>(() => undefined);
    return this.fails(items) ? Promise.reject(new Error('disk I/O error')) : real();
  }

  readonly factory = (url: string, dataDir: string): LogStore => {
    const real = new SqliteLogStore({ path: sqlitePathOf(url, dataDir) ?? '' });
    return Object.assign(Object.create(real) as SqliteLogStore, {
      append: (rows: Parameters<LogStore['append']>[0]) => this.write(rows, () => real.append(rows)),
      appendEntries: (...args: Parameters<SqliteLogStore['appendEntries']>) => this.write(args[0], () => real.appendEntries(...args)),
    });
  };
}
