// The data directory and the files the enclave writes in it are its own user's alone: the directory
// 0700, each file 0600, whatever the umask (SQLite creates its files 0644 less the umask: readable by
// every local user) and whatever mode a directory made beforehand has. The values in the stores are
// sealed, but the rest is nobody else's business (who is a subject where, token hashes, the log), and a
// directory others may write to lets them swap a store file for their own.
// SQLite creates a store's -wal and -shm files with the mode of the store file itself, so creating that
// file 0600 before SQLite opens it covers all three.
// POSIX only: on Windows a file's access is decided by its ACL, which chmod does not set (Node maps it
// to the read-only attribute), so nothing is changed or checked there.
import { chmodSync, closeSync, fchmodSync, fstatSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { EnclaveError } from '../core/errors.ts';

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

/** Creates the directory if need be and makes it 0700 (an existing one too); refuses if it cannot. */
export function makePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: DIR_MODE });
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

/** Writes `text` to `path`, 0600 (an existing file's mode is tightened before anything is written). */
export function writePrivateFile(path: string, text: string): void {
  const fd = openSync(path, 'w', FILE_MODE);
  try {
    makePrivate(fd, path);
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
