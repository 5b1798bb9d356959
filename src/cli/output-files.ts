// Files and directories the CLI writes where the person at the terminal said (--out, --save, --dir). A
// path that cannot be written there is theirs to fix: one usage line naming it and why, not `internal`
// with Node's own text; and a temporary file of a failed write does not stay behind.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { pathProblem } from '../core/path-problem.ts';
import { usageError } from './fail.ts';

/** A usage error naming `what` (the option and its path) for a path mistake; any other error as it is. */
export function pathError(err: unknown, what: string): unknown {
  const why = pathProblem(err);
  return why === undefined ? err : usageError(`${what}: ${why}`);
}

/** Runs `step` on a path the user gave; a path mistake becomes pathError's one usage line. */
export function atUserPath<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw pathError(err, what);
  }
}

/** Writes `text` to `path` whole or not at all (a temporary file renamed over it); `option` names where the path came from. */
export function writeFileAtomic(path: string, text: string, option: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created, or already renamed.
    }
    throw pathError(err, `${option} ${path}`);
  }
}
