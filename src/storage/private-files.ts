// The data directory and the files the enclave writes in it are its own user's alone: the directory
// 0700, each file 0600, whatever the umask (SQLite creates its files 0644 less the umask: readable by
// every local user) and whatever mode a directory made beforehand has. The values in the stores are
// sealed, but the rest is nobody else's business (who is a subject where, token hashes, the log), and a
// directory others may write to lets them swap a store file for their own.
// SQLite creates a store's -wal and -shm files with the mode of the store file itself, so creating that
// file 0600 before SQLite opens it covers all three.
// POSIX only: on Windows a file's access is decided by its ACL, which chmod does not set (Node maps it
// to the read-only attribute), so nothing is changed or checked there.
// Directories are made here one at a time (makeDirectories), never with mkdirSync's `recursive`, which
// loops for ever on a file system that creates nothing (/proc); every caller of ours can rely on that.
import { chmodSync, closeSync, fchmodSync, fstatSync, mkdirSync, openSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EnclaveError } from '../core/errors.ts';
import { pathProblem } from '../core/path-problem.ts';

const POSIX = process.platform !== 'win32';
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/** Sets the mode and checks that it took: a file system may ignore it, and a path of another user refuses it. */
function enforce(path: string, want: number, chmod: () => void, current: () => number): void {
  if (!POSIX) return;
  let why: string | undefined;
  let cause: unknown;
  try {
    chmod();
    const mode = current() & 0o777;
    if (mode !== want) why = `it is still ${octal(mode)} after chmod`;
  } catch (err) {
    cause = err;
    why = (err as NodeJS.ErrnoException).code ?? String(err);
  }
  if (why !== undefined) {
    throw new EnclaveError(
      'data_dir_insecure',
      `cannot make ${path} private to this user (mode ${octal(want)}): ${why}; run as its owner, or keep the data directory on a file system that keeps permissions`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * A step on a path that failed, and why: `why` is one line for the person who chose the path, which
 * each caller puts in its own refusal (its own code and words); `cause` is the file system's error.
 */
export class PathStepError extends Error {
  readonly why: string;
  constructor(why: string, cause: unknown) {
    super(why, { cause });
    this.name = 'PathStepError';
    this.why = why;
  }
}

const errnoOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * Why creating something failed in a directory that exists: the words of core/path-problem.ts, except
 * for ENOENT, which there means a missing directory but here a file system that creates nothing (/proc).
 */
export function createProblem(err: unknown): string {
  const code = errnoOf(err);
  if (code === 'ENOENT') return 'the file system does not allow creating it (ENOENT)';
  return pathProblem(err) ?? code ?? (err instanceof Error ? err.message : String(err));
}

/** What is at `path`, or undefined if nothing is; any other failure is a PathStepError saying why. */
export function statOrAbsent(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw new PathStepError(pathProblem(err) ?? errnoOf(err) ?? String(err), err);
  }
}

/**
 * Creates `dir` and its missing parents with `mode` (less the umask, as mkdir does), one at a time; an
 * existing directory is left as it is. Not mkdirSync's `recursive`: on a file system that answers ENOENT
 * for a directory whose parent exists (/proc), Node's recursive mkdir retries the parent and the
 * directory for ever. Refuses with a PathStepError whose `why` names the directory that could not be
 * created, `dir` or a parent: `cannot create the directory <d>: <reason>`.
 */
export function makeDirectories(dir: string, mode: number): void {
  const target = resolve(dir);
  const refused = (d: string, why: string, cause: unknown) => new PathStepError(`cannot create the directory ${d}: ${why}`, cause);
  const stat = (d: string): Stats | undefined => {
    try {
      return statOrAbsent(d);
    } catch (err) {
      throw err instanceof PathStepError ? refused(target, err.why, err.cause) : err;
    }
  };
  const missing: string[] = [];
  for (let d = target; ; d = dirname(d)) {
    // A file above `dir` fails this stat (ENOTDIR), so only `dir` itself can be one below.
    const st = stat(d);
    if (st !== undefined) {
      if (!st.isDirectory()) throw refused(target, pathProblem({ code: 'EEXIST' }) ?? 'exists and is not a directory', undefined);
      break;
    }
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (err) {
      // Made by someone else meanwhile: as good as made here.
      if (errnoOf(err) === 'EEXIST' && stat(d)?.isDirectory() === true) continue;
      throw refused(d, createProblem(err), err);
    }
  }
}

/**
 * Creates the directory and its missing parents if need be (0700, makeDirectories) and makes it 0700
 * (an existing one too); refuses if it cannot: a PathStepError if it cannot be created, data_dir_insecure
 * if it cannot be made private.
 */
export function makePrivateDir(path: string): void {
  makeDirectories(path, DIR_MODE);
  enforce(path, DIR_MODE, () => chmodSync(path, DIR_MODE), () => statSync(path).mode);
}

/** Makes an open file 0600 whatever the umask gave it, and checks that it is. */
function makePrivate(fd: number, path: string): void {
  enforce(path, FILE_MODE, () => fchmodSync(fd, FILE_MODE), () => fstatSync(fd).mode);
}

/** Creates `path` empty and 0600, unless it exists (then it is left as it is). Says whether it created it. */
export function createPrivateFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    makePrivate(fd, path);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Writes `text` to `path`, 0600 (an existing file's mode is tightened before anything is written).
 * `exclusive`: only as a new file (O_EXCL: an existing one, or a symbolic link, is refused with EEXIST).
 */
export function writePrivateFile(path: string, text: string, options: { readonly exclusive?: boolean } = {}): void {
  const fd = openSync(path, options.exclusive === true ? 'wx' : 'w', FILE_MODE);
  try {
    makePrivate(fd, path);
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
