// A log store that counts its commits (one per group of appends): how many entries each fsync carried.
import type { LogEntryRow, LogStore } from '../src/core/log-store.ts';

export function countCommits<S extends LogStore>(store: S): { store: S; commits: () => number } {
  let commits = 0;
  // Both ways in: the log service hands a store with a writer thread its drafts through appendEntries.
  const appendEntries = store.appendEntries?.bind(store);
  const wrapped = Object.assign(Object.create(store) as S, {
    append: (rows: readonly LogEntryRow[]) => {
      commits++;
      return store.append(rows);
    },
    ...(appendEntries
      ? {
          appendEntries: (...args: Parameters<typeof appendEntries>) => {
            commits++;
            return appendEntries(...args);
          },
        }
      : {}),
  });
  return { store: wrapped, commits: () => commits };
}
