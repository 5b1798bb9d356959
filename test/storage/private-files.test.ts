// makeDirectories: the one place directories are created a step at a time (storage/private-files.ts),
// with the mode asked for, and a refusal whose one-line `why` names the directory that cannot be made.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeDirectories, makePrivateDir, PathStepError } from '../../src/storage/private-files.ts';

const POSIX = process.platform !== 'win32';

/** Asserts that `fn` refuses with a PathStepError whose why is `why`. */
function refuses(fn: () => void, why: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PathStepError, String(err));
    assert.equal(err.why, why);
    assert.equal(err.message, why);
    return true;
  });
}

describe('makeDirectories', () => {
  let root: string;
  let umask: number;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'enclave-private-files-'));
    umask = process.umask(0o022);
  });
  after(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it('creates the missing parents and the directory with the mode asked for (less the umask); an existing one is left as it is', { skip: !POSIX && 'POSIX modes' }, () => {
    const deep = join(root, 'a', 'b', 'c');
    makeDirectories(deep, 0o700);
    for (const d of [join(root, 'a'), join(root, 'a', 'b'), deep]) assert.equal(statSync(d).mode & 0o777, 0o700, d);
    makeDirectories(join(root, 'open', 'x'), 0o777);
    assert.equal(statSync(join(root, 'open', 'x')).mode & 0o777, 0o755);
    chmodSync(deep, 0o750);
    makeDirectories(deep, 0o700);
    assert.equal(statSync(deep).mode & 0o777, 0o750, 'an existing directory keeps its mode');
    makeDirectories(`${root}/a/./b/../b/`, 0o700);
  });

  it('refuses a file where the directory goes, or above it, naming the directory', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    refuses(() => makeDirectories(file, 0o700), `cannot create the directory ${file}: exists and is not a directory`);
    refuses(() => makeDirectories(join(file, 'x', 'y'), 0o700), `cannot create the directory ${join(file, 'x', 'y')}: a part of the path is a file, not a directory`);
  });

  // In this process: makeDirectories never calls the recursive mkdir that would hang here (the CLI's
  // tests of the same, test/cli/proc-dirs.test.ts, run in processes of their own with a time limit).
  it('under /proc, where no directory can be made, names the first directory it cannot create', { skip: !existsSync('/proc/self') && 'no /proc here' }, () => {
    refuses(() => makeDirectories('/proc/self/enclave-test/a/b', 0o700), 'cannot create the directory /proc/self/enclave-test: the file system does not allow creating it (ENOENT)');
  });

  it('makePrivateDir makes a new and an existing directory 0700', { skip: !POSIX && 'POSIX modes' }, () => {
    const made = join(root, 'private', 'data');
    makePrivateDir(made);
    assert.equal(statSync(made).mode & 0o777, 0o700);
    const existing = join(root, 'existing');
    mkdirSync(existing, { mode: 0o755 });
    makePrivateDir(existing);
    assert.equal(statSync(existing).mode & 0o777, 0o700);
  });
});
