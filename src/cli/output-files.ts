// Files and directories the CLI writes where the person at the terminal said (--out, --save, --dir). A
// path that cannot be written there is theirs to fix: one usage line naming it and why, not `internal`
// with Node's own text; and a temporary file of a failed write does not stay behind. Files it reads
// (--file) are read no further than a limit: a huge file or /dev/zero is refused, not read until
// memory runs out.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { pathProblem } from '../core/path-problem.ts';
import { readFileLimited } from '../services/read-limited.ts';
import { usageError } from './fail.ts';
import type { Io } from './io.ts';
import { readStdin } from './prompt.ts';

/** The largest file a command sends as a request (--file): no server takes a body larger (server.max_body_bytes). */
export const MAX_INPUT_FILE_BYTES = 64 * 1024 * 1024;

/**
 * The text given with --file: standard input for `-`, else the file; one that cannot be read, or is larger
 * than MAX_INPUT_FILE_BYTES, is a usage error naming it (standard input has its own limit, readStdin).
 */
export async function readInput(io: Io, path: string): Promise<string> {
  if (path === '-') return readStdin(io);
  return readBoundedText(path, MAX_INPUT_FILE_BYTES, { unreadable: (code) => `cannot read ${path}: ${code}`, tooLarge: `cannot read ${path}: it is larger than ${MAX_INPUT_FILE_BYTES / 1024 / 1024} MiB` });
}

/**
 * A file the user named, as text, read no further than `maxBytes` (a key, a checkpoint, a certificate,
 * an input): larger, it is a usage error (`tooLarge`); one that cannot be read is a usage error from
 * `unreadable` (given the error's code), or, without it, the file system's error as it is.
 */
export function readBoundedText(path: string, maxBytes: number, say: { readonly unreadable?: (code: string) => string; readonly tooLarge: string }): string {
  let bytes: Buffer | undefined;
  try {
    bytes = readFileLimited(path, maxBytes);
  } catch (err) {
    if (say.unreadable === undefined) throw err;
    throw usageError(say.unreadable((err as NodeJS.ErrnoException).code ?? 'error'));
  }
  if (bytes === undefined) throw usageError(say.tooLarge);
  return bytes.toString('utf8');
}

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
